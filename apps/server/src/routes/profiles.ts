/**
 * /api/profiles routes (DESIGN §6). Handlers validate the request shape, check per-profile
 * grants and call the ProfileStore; every failure is a coded error mapped by http-errors.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { ListQuery, ProfileInput, ProfileView, WriteContext } from '@profilesync/core';
import { grantAllows } from '../auth/policy.js';
import type { Principal } from '../auth/tokens.js';
import { principalOf, type AppContext } from '../context.js';
import { deny, requireGrant } from '../auth/guard.js';
import { parse, parseIdParam, parseQuery, schemas } from '../validation.js';

const JSON_TYPE = 'application/json; charset=utf-8';

function writeContext(p: Principal): WriteContext {
  return { actor: p.actor, origin: p.origin };
}

async function currentView(ctx: AppContext, id: string): Promise<ProfileView> {
  const v = ctx.store.get(id);
  return v instanceof Promise ? await v : v;
}

export function registerProfileRoutes(app: FastifyInstance, ctx: AppContext): void {
  const read = { access: { permission: 'profile:read' as const, profileParam: true } };
  const write = { access: { permission: 'profile:write' as const, profileParam: true } };

  app.get('/api/profiles', { config: { access: { permission: 'profile:read' } } }, async (req) => {
    parse(schemas.emptyBody, req.body, 'body');
    const q = parse(schemas.listQuery, req.query, 'query');
    const query: ListQuery = {};
    for (const k of ['modelId', 'label', 'tag', 'includeDeleted', 'q', 'sort', 'order', 'limit', 'cursor', 'facets'] as const) {
      if (q[k] !== undefined) (query as Record<string, unknown>)[k] = q[k];
    }
    if (q.conflicts === 'open') query.withConflicts = true;
    const p = principalOf(req);
    if (p.grants !== null) query.allow = (id) => grantAllows(p.grants, id);
    return ctx.store.search(query);
  });

  app.post('/api/profiles', { config: { access: { permission: 'profile:write' } } }, async (req, reply) => {
    const p = principalOf(req);
    const body = parse(schemas.createBody, req.body, 'body') as ProfileInput;
    parse(schemas.emptyQuery, req.query, 'query');
    if (p.grants !== null) {
      // a generated id could be one outside the grants: refused (and audited, like every 403)
      if (body.id === undefined) await deny(ctx, req, 'grant', p, undefined, { field: 'id' });
      else await requireGrant(ctx, req, p, body.id);
    }
    const view = await ctx.store.create(body, writeContext(p));
    const { json, etag } = ctx.viewJson.get(view);
    return reply.code(201).header('location', `/api/profiles/${encodeURIComponent(view.id)}`).header('etag', etag).type(JSON_TYPE).send(json);
  });

  app.get('/api/profiles/:id', { config: read }, async (req, reply) => {
    const id = parseIdParam(req.params);
    const q = parseQuery(schemas.getQuery, req.query, {});
    let view: ProfileView;
    if (q.version !== undefined) view = await ctx.store.getAt(id, q.version);
    else if (q.label !== undefined) view = await ctx.store.getByLabel(id, q.label);
    else view = await currentView(ctx, id);
    const { json, etag } = ctx.viewJson.get(view);
    if (req.headers['if-none-match'] === etag) return reply.code(304).header('etag', etag).send();
    return reply.header('etag', etag).type(JSON_TYPE).send(json);
  });

  app.patch('/api/profiles/:id', { config: write }, async (req, reply) => {
    const { id } = parse(schemas.idParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    const patch = parse(schemas.patchBody, req.body, 'body');
    const view = await ctx.store.update(id, patch, writeContext(principalOf(req)));
    const { json, etag } = ctx.viewJson.get(view);
    return reply.header('etag', etag).type(JSON_TYPE).send(json);
  });

  app.delete('/api/profiles/:id', { config: write }, async (req, reply) => {
    const { id } = parse(schemas.idParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    parse(schemas.emptyBody, req.body, 'body');
    await ctx.store.delete(id, writeContext(principalOf(req)));
    return reply.code(204).send();
  });

  app.get('/api/profiles/:id/history', { config: read }, async (req) => {
    const { id } = parse(schemas.idParams, req.params, 'params');
    const q = parse(schemas.historyQuery, req.query, 'query');
    const opts = q.limit === undefined ? {} : { limit: q.limit };
    // versions (runs of changes, newest first, the open run flagged open: true); ?entries=raw: the log entries
    if (q.entries === 'raw') return { entries: await ctx.store.entries(id, opts) };
    return { versions: await ctx.store.history(id, opts) };
  });

  app.post('/api/profiles/:id/versions', { config: write }, async (req, reply) => {
    const { id } = parse(schemas.idParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    const { message } = parse(schemas.checkpointBody, req.body, 'body');
    const { version, created } = await ctx.store.checkpoint(id, message, writeContext(principalOf(req)));
    // 201 with the new version; 200 with the existing one when nothing changed since it
    return reply.code(created ? 201 : 200).send({ ...version, created });
  });

  app.post('/api/profiles/:id/render', { config: read }, async (req) => {
    const { id } = parse(schemas.idParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    const body = parse(schemas.renderBody, req.body, 'body') ?? {};
    const opts: { version?: string; label?: string; template?: string } = {};
    if (body.version !== undefined) opts.version = body.version;
    if (body.label !== undefined) opts.label = body.label;
    if (body.template !== undefined) opts.template = body.template;
    return ctx.store.render(id, body.variables ?? {}, opts);
  });

  app.get('/api/profiles/:id/diff', { config: read }, async (req) => {
    const { id } = parse(schemas.idParams, req.params, 'params');
    const q = parse(schemas.diffQuery, req.query, 'query');
    return ctx.store.diff(id, q.from, q.to);
  });

  app.post('/api/profiles/:id/revert', { config: write }, async (req, reply) => {
    const { id } = parse(schemas.idParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    const { version } = parse(schemas.versionBody, req.body, 'body');
    const view = await ctx.store.revert(id, version, writeContext(principalOf(req)));
    return reply.type(JSON_TYPE).send(ctx.viewJson.get(view).json);
  });

  app.get('/api/profiles/:id/conflicts', { config: read }, async (req) => {
    const { id } = parse(schemas.idParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    return { conflicts: await ctx.store.conflicts(id) };
  });

  app.post('/api/profiles/:id/conflicts/:cid/resolve', { config: write }, async (req, reply) => {
    const { id, cid } = parse(schemas.conflictParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    const body = parse(schemas.resolveBody, req.body, 'body');
    const resolution = 'value' in body ? { keep: body.keep, value: body.value } : { keep: body.keep };
    const { view } = await ctx.store.resolveConflict(id, cid, resolution, writeContext(principalOf(req)));
    // the new version, like a revert
    return reply.type(JSON_TYPE).send(ctx.viewJson.get(view).json);
  });

  app.put('/api/profiles/:id/labels/:label', { config: write }, async (req, reply) => {
    const { id, label } = parse(schemas.labelParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    const { version } = parse(schemas.versionBody, req.body, 'body');
    const view = await ctx.store.setLabel(id, label, version, writeContext(principalOf(req)));
    return reply.type(JSON_TYPE).send(ctx.viewJson.get(view).json);
  });

  app.delete('/api/profiles/:id/labels/:label', { config: write }, async (req, reply) => {
    const { id, label } = parse(schemas.labelParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    parse(schemas.emptyBody, req.body, 'body');
    await ctx.store.removeLabel(id, label, writeContext(principalOf(req)));
    return reply.code(204).send();
  });

}
