/**
 * Exact per-profile moves (issue 16.2): GET /api/profiles/:id/log (the binary per-profile log
 * export: every entry, chained and checksummed) and POST /api/import/log (one such export in;
 * created / updated / unchanged). `profilesync export --format log` and `import` use them.
 */
import type { FastifyInstance } from 'fastify';
import { ProfileSyncError } from '@profilesync/errors';
import { grantAllows } from '../auth/policy.js';
import { deny } from '../auth/guard.js';
import { principalOf, type AppContext } from '../context.js';
import { importProfileLogExport } from '../transfer.js';
import { parse, parseIdParam, schemas } from '../validation.js';

/** A profile log export may be larger than a JSON body (a long history): its own bound. */
export const LOG_IMPORT_BODY_LIMIT = 64 * 1024 * 1024;
export const PROFILE_LOG_TYPE = 'application/vnd.profilesync.profile-log';

export function registerTransferRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/api/profiles/:id/log', { config: { access: { permission: 'profile:read', profileParam: true } } }, async (req, reply) => {
    const id = parseIdParam(req.params);
    parse(schemas.emptyQuery, req.query, 'query');
    const bytes = await ctx.store.exportLog(id);
    return reply
      .type(PROFILE_LOG_TYPE)
      .header('content-disposition', `attachment; filename="${id}.pslog"`)
      .header('cache-control', 'no-store')
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });

  // a binary body: its own parser, in its own encapsulated scope (the JSON-only rule stays for every other route)
  void app.register(async (scope) => {
    scope.addContentTypeParser([PROFILE_LOG_TYPE, 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: LOG_IMPORT_BODY_LIMIT }, (_req, body, done) => done(null, body));
    scope.post('/api/import/log', { bodyLimit: LOG_IMPORT_BODY_LIMIT, config: { access: { permission: 'profile:write' } } }, async (req, reply) => {
      parse(schemas.emptyQuery, req.query, 'query');
      const body = req.body;
      if (!Buffer.isBuffer(body) || body.byteLength === 0) {
        throw new ProfileSyncError('REQUEST_INVALID', `the request body must be one profile log export (content-type ${PROFILE_LOG_TYPE}), as \`profilesync export --format log\` writes`, { details: { field: 'body', in: 'body' } });
      }
      const p = principalOf(req);
      const report = await importProfileLogExport(ctx.store, new Uint8Array(body.buffer, body.byteOffset, body.byteLength), { actor: p.actor, origin: p.origin }, async (id) => {
        if (!grantAllows(p.grants, id)) await deny(ctx, req, 'grant', p, id);
      });
      await ctx.audit({ action: 'profile.import', actor: p.actor, origin: p.origin, outcome: 'ok', profile: report.id, details: { format: 'log', result: report.result, entries: report.entries } });
      ctx.logger.info({ reqId: req.id, profile: report.id, result: report.result, entries: report.entries, actor: p.actor }, 'profile imported');
      return reply.code(report.result === 'created' ? 201 : 200).send(report);
    });
  });
}

