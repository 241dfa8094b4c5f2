/**
 * Operator routes: audit, caches, tokens, peers, one-shot sync (DESIGN §6), plus extensions:
 * POST /api/peers and DELETE /api/peers/:id (`profilesync peer add|remove` while a server
 * holds the data dir) and GET /api/session (the caller's own token, for the dashboard).
 */
import type { FastifyInstance } from 'fastify';
import { ProfileSyncError } from '@profilesync/errors';
import type { AuditQuery } from '@profilesync/core';
import { principalOf, type AppContext } from '../context.js';
import { parse, schemas } from '../validation.js';
import { deny } from '../auth/guard.js';
import { grantAllows } from '../auth/policy.js';
import { scopeWithin } from '../auth/scope.js';
import type { TokenInfo } from '../auth/tokens.js';

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

export function registerAdminRoutes(app: FastifyInstance, ctx: AppContext): void {
  // extension: who am I (the dashboard adapts its UI to the role without probing, which would audit denials)
  app.get('/api/session', { config: { access: { permission: 'profile:read' } } }, async (req) => {
    parse(schemas.emptyQuery, req.query, 'query');
    const p = principalOf(req);
    const info = ctx.tokens.get(p.tokenId);
    return { tokenId: p.tokenId, name: p.name, displayName: p.displayName ?? p.name, ...(p.email !== undefined ? { email: p.email } : {}), role: p.role, profiles: info?.profiles ?? null, actor: p.actor };
  });

  app.get('/api/audit', { config: { access: { permission: 'audit:read' } } }, async (req) => {
    const p = principalOf(req);
    const q = parse(schemas.auditQuery, req.query, 'query');
    const query: AuditQuery = {};
    // a scoped admin reads the records of its profiles only (none without a profile)
    if (p.grants !== null) {
      if (q.profile !== undefined && !grantAllows(p.grants, q.profile)) await deny(ctx, req, 'grant', p, q.profile);
      const grants = p.grants;
      query.profiles = (id) => grantAllows(grants, id);
    }
    if (q.profile !== undefined) query.profile = q.profile;
    if (q.actor !== undefined) query.actor = q.actor;
    if (q.action !== undefined) query.action = q.action;
    if (q.since !== undefined) query.since = /^\d+$/.test(q.since) ? Number(q.since) : q.since;
    if (q.until !== undefined) query.until = /^\d+$/.test(q.until) ? Number(q.until) : q.until;
    if (q.limit !== undefined) query.limit = q.limit;
    return { records: await ctx.store.audit(query) };
  });

  // ---- caches -----------------------------------------------------------------------
  // damaged profiles (a token sees only those it is granted) and node-level findings (admins)
  app.get('/api/damage', { config: { access: { permission: 'profile:read' } } }, async (req) => {
    parse(schemas.emptyQuery, req.query, 'query');
    const p = principalOf(req);
    const d = ctx.store.damaged();
    return {
      profiles: p.grants === null ? d.profiles : d.profiles.filter((x) => grantAllows(p.grants, x.id)),
      node: p.role === 'admin' && p.grants === null ? d.node : [],
      repaired: p.role === 'admin' && p.grants === null ? d.repaired : [],
    };
  });

  app.get('/api/cache/stats', { config: { access: { permission: 'cache:read' } } }, async (req) => {
    parse(schemas.emptyQuery, req.query, 'query');
    return { caches: await ctx.caches.stats() };
  });

  const clear = async (name: string | undefined, actor: { actor: string; origin: string }) => {
    const cleared = await ctx.caches.clear(name);
    try {
      await ctx.audit({ action: 'cache.clear', ...actor, outcome: 'ok', details: { caches: cleared } });
    } catch (err) {
      // clearing changed no data and is done: a full disk (or another write failure) loses its
      // audit record, which the log line and the batch-failure metric report, not the clear
      const code = (err as { code?: string }).code;
      if (code !== 'LOG_DISK_FULL' && code !== 'LOG_WRITE_FAILED') throw err;
      ctx.logger.warn({ code, actor: actor.actor, caches: cleared }, 'cache cleared, but its audit record could not be written');
    }
    return { cleared };
  };
  app.post('/api/cache/clear', { config: { access: { permission: 'cache:clear' } } }, async (req) => {
    parse(schemas.emptyQuery, req.query, 'query');
    return clear(undefined, principalOf(req));
  });
  app.post('/api/cache/clear/:name', { config: { access: { permission: 'cache:clear' } } }, async (req) => {
    const { name } = parse(schemas.cacheParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    return clear(name, principalOf(req));
  });

  // ---- tokens -----------------------------------------------------------------------
  // A scoped admin (profiles: [...]) acts only within its own scope: it grants scopes within its
  // own and sees, changes and revokes only tokens whose scope lies within its own (auth/scope.ts).
  const manage = { access: { permission: 'token:manage' as const } };
  const visible = (p: { profiles: string[] | null }, t: Pick<TokenInfo, 'profiles'>): boolean => scopeWithin(t.profiles, p.profiles);
  /** The token `id` if the caller may manage it; 404 when unknown, 403 (audited) when outside its scope. */
  const target = async (req: Parameters<typeof principalOf>[0], id: string): Promise<TokenInfo> => {
    const p = principalOf(req);
    const t = ctx.tokens.get(id);
    if (!t) throw new ProfileSyncError('TOKEN_NOT_FOUND', `no token ${id}`, { details: { id } });
    if (!visible(p, t)) await deny(ctx, req, 'scope', p, undefined, { token: id });
    return t;
  };
  const grantable = async (req: Parameters<typeof principalOf>[0], profiles: string[] | null): Promise<void> => {
    const p = principalOf(req);
    if (!scopeWithin(profiles, p.profiles)) await deny(ctx, req, 'scope', p, undefined, { requested: profiles, scope: p.profiles });
  };

  app.post('/api/tokens', { config: manage }, async (req, reply) => {
    const p = principalOf(req);
    const body = parse(schemas.tokenBody, req.body, 'body');
    await grantable(req, body.profiles ?? null);
    const { info, token } = await ctx.tokens.create(
      { name: body.name, role: body.role, profiles: body.profiles ?? null, ...(body.displayName !== undefined ? { displayName: body.displayName } : {}), ...(body.email !== undefined ? { email: body.email } : {}) },
      p.actor,
    );
    await ctx.audit({ action: 'token.create', actor: p.actor, origin: p.origin, outcome: 'ok', details: { id: info.id, name: info.name, role: info.role, profiles: info.profiles, ...(info.displayName !== undefined ? { displayName: info.displayName } : {}) } });
    return reply.code(201).send({ ...info, token });
  });
  app.get('/api/tokens', { config: manage }, async (req) => {
    parse(schemas.emptyQuery, req.query, 'query');
    const p = principalOf(req);
    return { tokens: ctx.tokens.list().filter((t) => visible(p, t)) };
  });
  // role and grant changes: open connections of the token are re-checked at once (auth/live.ts)
  app.patch('/api/tokens/:id', { config: manage }, async (req) => {
    const p = principalOf(req);
    const { id } = parse(schemas.tokenParams, req.params, 'params');
    const body = parse(schemas.tokenPatchBody, req.body, 'body');
    await target(req, id);
    if (body.profiles !== undefined) await grantable(req, body.profiles);
    const live = sum(ctx.live.count(id));
    const { before, after } = await ctx.tokens.update(id, { ...(body.role !== undefined ? { role: body.role } : {}), ...(body.profiles !== undefined ? { profiles: body.profiles } : {}) });
    await ctx.audit({
      action: 'token.update',
      actor: p.actor,
      origin: p.origin,
      outcome: 'ok',
      details: { id, name: after.name, from: { role: before.role, profiles: before.profiles }, to: { role: after.role, profiles: after.profiles }, liveConnections: live },
    });
    return after;
  });
  app.delete('/api/tokens/:id', { config: manage }, async (req, reply) => {
    const p = principalOf(req);
    const { id } = parse(schemas.tokenParams, req.params, 'params');
    await target(req, id);
    const live = sum(ctx.live.count(id));
    // the token store's change event closes the token's open connections before this returns
    const info = await ctx.tokens.revoke(id);
    ctx.changes()?.closeToken(id); // (the live registry has closed them already; kept as a second net)
    await ctx.audit({ action: 'token.revoke', actor: p.actor, origin: p.origin, outcome: 'ok', details: { id, name: info.name, role: info.role, closedConnections: live } });
    return reply.code(204).send();
  });

  // ---- peers and sync ---------------------------------------------------------------
  app.get('/api/peers', { config: { access: { permission: 'peer:read' } } }, async (req) => {
    parse(schemas.emptyQuery, req.query, 'query');
    const sync = ctx.sync();
    const status = new Map((sync?.status() ?? []).map((s) => [s.id, s]));
    const peers = ctx.peers.list().map((p) => {
      const s = status.get(p.id);
      return {
        id: p.id,
        url: p.url,
        fingerprint: p.fingerprint,
        name: p.name,
        source: p.source,
        connected: s?.connected ?? false,
        lastSeen: s?.lastSeen ?? null,
        pending: s?.pending ?? 0,
        ...(s?.lagMillis !== undefined ? { lagMillis: s.lagMillis } : {}),
        // why it is not connected: the sync service's dial state, last failure code and next retry
        state: typeof s?.state === 'string' ? s.state : sync ? 'idle' : 'unavailable',
        lastError: typeof s?.lastError === 'string' ? s.lastError : null,
        lastErrno: typeof s?.lastErrno === 'string' ? s.lastErrno : null,
        nextRetryAt: typeof s?.nextRetryAt === 'string' ? s.nextRetryAt : null,
      };
    });
    return { sync: sync ? 'available' : 'unavailable', ...(ctx.self ? { self: ctx.self } : {}), peers };
  });

  app.post('/api/peers', { config: { access: { permission: 'peer:manage' } } }, async (req, reply) => {
    const p = principalOf(req);
    const body = parse(schemas.peerBody, req.body, 'body');
    const { dryRun } = parse(schemas.peerAddQuery, req.query, 'query');
    // ?dryRun=true: the same checks, nothing stored; the dashboard shows the fingerprint to confirm
    if (dryRun === true) return reply.code(200).send({ ...ctx.peers.preview(body), dryRun: true });
    const peer = await ctx.peers.add(body);
    ctx.sync()?.addPeer(peer);
    await ctx.audit({ action: 'peer.add', actor: p.actor, origin: p.origin, outcome: 'ok', details: { id: peer.id, url: peer.url, fingerprint: peer.fingerprint } });
    return reply.code(201).send(peer);
  });

  app.delete('/api/peers/:id', { config: { access: { permission: 'peer:manage' } } }, async (req, reply) => {
    const p = principalOf(req);
    const { id } = parse(schemas.peerParams, req.params, 'params');
    const peer = await ctx.peers.remove(id);
    ctx.sync()?.removePeer(id);
    await ctx.audit({ action: 'peer.remove', actor: p.actor, origin: p.origin, outcome: 'ok', details: { id, url: peer.url } });
    return reply.code(204).send();
  });

  // the fleet (bus.url): members and bus status; a node without a bus answers { bus: null, members: [] }
  app.get('/api/cluster', { config: { access: { permission: 'peer:read' } } }, async (req) => {
    parse(schemas.emptyQuery, req.query, 'query');
    const c = ctx.sync()?.cluster?.() ?? null;
    if (!c) return { bus: null, members: [] };
    return { self: c.id, ready: c.ready, bus: c.bus, members: c.members };
  });

  app.post('/api/sync', { config: { access: { permission: 'sync:run' } } }, async (req) => {
    parse(schemas.emptyQuery, req.query, 'query');
    const body = parse(schemas.syncBody, req.body, 'body');
    const sync = ctx.sync();
    if (!sync) throw new ProfileSyncError('SYNC_UNAVAILABLE', 'peer sync is not available on this node');
    return sync.syncNow({ timeoutMs: body?.timeoutMs ?? ctx.config.sync.timeoutMs });
  });
}
