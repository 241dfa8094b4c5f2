/**
 * /healthz (no auth, minimal: the process answers), /readyz (no auth: 200 once no readiness
 * check blocks, with degraded reasons listed; 503 with the reasons before), /metrics (policy: metrics.auth), /openapi.json (no auth).
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { openApiDocument } from '../openapi.js';
import { readyzAnswer } from '../readiness.js';
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
    // a degraded node (e.g. a damaged profile) still serves: probes keep it in rotation
    const { code, body } = readyzAnswer(ctx.readiness.status());
    return reply.code(code).header('cache-control', 'no-store').send(body);
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
