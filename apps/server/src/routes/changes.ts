/**
 * GET /api/changes (Server-Sent Events; see changes/feed.ts for the stream format).
 * Resume point: the `Last-Event-ID` header (sent by EventSource clients when they reconnect),
 * else `?since=`; `0` in either means "from the beginning" (the current state of every
 * visible profile). `?ids=a,b` limits the stream to those profiles (each must be granted).
 */
import type { FastifyInstance } from 'fastify';
import { ProfileSyncError } from '@profilesync/errors';
import { requireGrant } from '../auth/guard.js';
import { grantAllows } from '../auth/policy.js';
import { principalOf, type AppContext } from '../context.js';
import { parsePosition } from '../changes/hub.js';
import { parse, PROFILE_ID_RE, schemas } from '../validation.js';

const MAX_IDS = 1000;

function badPosition(field: string): ProfileSyncError {
  return new ProfileSyncError('REQUEST_INVALID', `${field}: must be an event id of this feed (EPOCH-LSN) or 0`, { details: { field, in: field === 'since' ? 'query' : 'header' } });
}

export function registerChangeRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/api/changes', { config: { access: { permission: 'profile:read' } } }, async (req, reply) => {
    const q = parse(schemas.changesQuery, req.query, 'query');
    const p = principalOf(req);
    const feed = ctx.changes();
    if (!feed) throw new ProfileSyncError('SERVER_SHUTTING_DOWN', 'the node is shutting down');

    let ids: Set<string> | undefined;
    if (q.ids !== undefined) {
      const list = q.ids.split(',');
      if (list.length > MAX_IDS) throw new ProfileSyncError('REQUEST_INVALID', `query.ids: at most ${MAX_IDS} ids`, { details: { field: 'ids', in: 'query' } });
      for (const id of list) {
        if (!PROFILE_ID_RE.test(id)) throw new ProfileSyncError('REQUEST_INVALID', 'query.ids: a comma-separated list of profile ids', { details: { field: 'ids', in: 'query' } });
      }
      for (const id of list) await requireGrant(ctx, req, p, id);
      ids = new Set(list);
    }

    const header = req.headers['last-event-id'];
    const given = typeof header === 'string' && header !== '' ? { value: header, field: 'Last-Event-ID' } : q.since !== undefined ? { value: q.since, field: 'since' } : undefined;
    let from = feed.hub.position;
    if (given !== undefined) {
      const lsn = given.value === '0' ? 0 : parsePosition(given.value, feed.hub.epoch, feed.hub.position);
      if (lsn === undefined) throw badPosition(given.field);
      from = lsn;
    }
    if (feed.full) {
      throw new ProfileSyncError('CHANGES_TOO_MANY_CONNECTIONS', `this node serves at most ${ctx.config.changes.maxConnections} change feed connections`, { details: { limit: ctx.config.changes.maxConnections } });
    }

    // one token holds at most tokens.max_connections live connections (429 above)
    ctx.live.admit(p, 'sse');
    const grants = p.grants;
    const allows =
      ids !== undefined ? (id: string) => ids.has(id) : grants === null ? () => true : (id: string) => grantAllows(grants, id);
    reply.hijack();
    // revocation (DELETE /api/tokens/:id) and grant/role changes (PATCH) end this stream through
    // the live-connection registry (auth/live.ts); after a change the client reconnects with its
    // Last-Event-ID and is filtered by its new grants, losing nothing
    const end = feed.open(req.raw, reply.raw, { tokenId: p.tokenId, actor: p.actor, requestId: req.id, allows, from });
    const unregister = ctx.live.register(p, { kind: 'sse', close: () => end() });
    if (reply.raw.closed) unregister();
    else reply.raw.once('close', unregister);
  });
}
