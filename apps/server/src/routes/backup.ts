/**
 * POST /api/backup (admin, not scoped): streams a consistent backup of the running node, the
 * same format as `profilesync backup FILE` (DESIGN §6). The response is
 * `application/octet-stream`; a backup that fails after the first byte aborts the connection,
 * so a client never mistakes a partial stream for a backup (and `profilesync backup --url`
 * checks the trailer before it keeps the file). One backup at a time: 503 BACKUP_IN_PROGRESS.
 */
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { principalOf, type AppContext } from '../context.js';
import { scheduledBackupName } from '../backup.js';
import { parse, schemas } from '../validation.js';

const backupBody = z.strictObject({}).optional();

export function registerBackupRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/backup', { config: { access: { permission: 'backup:run' } } }, async (req, reply) => {
    parse(schemas.emptyQuery, req.query, 'query');
    parse(backupBody, req.body, 'body');
    const p = principalOf(req);
    const body = new PassThrough({ highWaterMark: 1 << 20 });
    // throws BACKUP_IN_PROGRESS before anything is sent
    const done = ctx.backups.stream(body, { actor: p.actor, origin: p.origin });
    done.catch((err: unknown) => body.destroy(err as Error));
    // a backup is a long-lived response: revoking the token, or taking away its admin role,
    // aborts it at once like any live connection (auth/live.ts); the client never gets a trailer
    const unregister = ctx.live.register(p, {
      kind: 'backup',
      close: (code) => body.destroy(Object.assign(new Error(`the backup's token lost its access (${code})`), { code })),
    });
    // the client went away: stop reading the log (backupLog sees the failed output)
    reply.raw.once('close', () => {
      unregister();
      if (!reply.raw.writableFinished) body.destroy(new Error('the client closed the connection'));
    });
    return reply
      .code(200)
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', `attachment; filename="${scheduledBackupName(ctx.clock())}"`)
      .header('cache-control', 'no-store')
      .send(body);
  });
}
