/**
 * /healthz (no auth, minimal: the process answers), /readyz (no auth: 200 once every readiness
 * check passes, 503 with the reasons before), /metrics (policy: metrics.auth), /openapi.json (no auth).
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { openApiDocument } from '../openapi.js';
import { parse, schemas } from '../validation.js';

export function registerSystemRoutes(app: FastifyInstance, ctx: AppContext): void {
  const publicRoute = { access: { permission: null } };

  app.get('/healthz', { config: publicRoute }, async (req, reply) => {
    parse(schemas.emptyQuery, req.query, 'query');
    if (ctx.isClosing()) return reply.code(503).send({ status: 'shutting-down' });
    return { status: 'ok' };
  });

  app.get('/readyz', { config: publicRoute }, async (req, reply) => {
    parse(schemas.emptyQuery, req.query, 'query');
    const status = ctx.readiness.status();
    return reply.code(status.ready ? 200 : 503).header('cache-control', 'no-store').send(status.ready ? { ready: true } : status);
  });

  app.get('/metrics', { config: { access: { permission: 'metrics:read' } } }, async (req, reply) => {
    parse(schemas.emptyQuery, req.query, 'query');
    const text = await ctx.metrics.text();
    return reply.type(ctx.metrics.contentType).send(text);
  });

  let doc: string | undefined;
  app.get('/openapi.json', { config: publicRoute }, async (_req, reply) => {
    doc ??= JSON.stringify(openApiDocument());
    return reply.type('application/json; charset=utf-8').send(doc);
  });
}
