/**
 * The Fastify application: body parsing and limits, request ids, authentication and
 * authorization (one onRequest hook driven by each route's `config.access`), the error
 * handler (http-errors.ts is the only status table), request metrics and logs.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { errorBody, toHttpError } from './http-errors.js';
import { clientErrorHandler } from './client-errors.js';
import { bearerToken, type Principal } from './auth/tokens.js';
import { grantAllows, roleAllows } from './auth/policy.js';
import { principalAllows } from './auth/scope.js';
import { deny } from './auth/guard.js';
import type { AppContext } from './context.js';
import { registerProfileRoutes } from './routes/profiles.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerSystemRoutes } from './routes/system.js';
import { registerBackupRoutes } from './routes/backup.js';
import { registerTransferRoutes } from './routes/transfer.js';
import { registerChangeRoutes } from './routes/changes.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { registerWebUi, serveWebUi } from './web-ui.js';

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

function pickRequestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const h = req.headers['x-request-id'];
  return typeof h === 'string' && REQUEST_ID_RE.test(h) ? h : randomUUID();
}

export interface RouteInfo {
  method: string;
  url: string;
}

const ROUTES = new WeakMap<FastifyInstance, RouteInfo[]>();

/** Every route the app registered (method + URL pattern), e.g. to check the OpenAPI document. */
export function routesOf(app: FastifyInstance): RouteInfo[] {
  return [...(ROUTES.get(app) ?? [])];
}

export interface BuildAppOptions {
  /** the HTTP server to serve on (startServer binds its port before the node opens); default: Fastify's own */
  serverFactory?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
}

export function buildApp(ctx: AppContext, opts: BuildAppOptions = {}): FastifyInstance {
  const app = Fastify({
    ...(opts.serverFactory ? { serverFactory: opts.serverFactory } : {}),
    loggerInstance: ctx.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // one logger for all requests (no per-request child with serialized bindings); our lines carry reqId
    childLoggerFactory: (logger) => logger,
    bodyLimit: ctx.config.bodyLimit,
    genReqId: pickRequestId,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 512, ignoreTrailingSlash: false },
    // what the HTTP parser refuses (headers over the size limit, not HTTP): same body shape, coded
    clientErrorHandler: clientErrorHandler(ctx.logger),
    // errors raised before routing (e.g. a malformed %-escape): same body shape, same table
    frameworkErrors: (err, req, reply: FastifyReply) => {
      const e = toHttpError(err);
      void reply.code(e.status).header('x-request-id', req.id).type('application/json; charset=utf-8').send(errorBody(e));
    },
  });

  // JSON only (plus RFC 7396's merge-patch type); an empty body is "no body", the route decides.
  app.removeAllContentTypeParsers();
  const json = app.getDefaultJsonParser('error', 'error');
  const parser = (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    if (body.length === 0) return done(null, undefined);
    json(req, body as string, done);
  };
  app.addContentTypeParser(['application/json', 'application/merge-patch+json'], { parseAs: 'string' }, parser);

  // callback-style hooks: no promise per request on the hot path
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    const access = req.routeOptions.config.access;
    if (!access || access.permission === null) return done();
    if (access.permission === 'metrics:read' && !ctx.metricsNeedToken) return done();
    const fail = (reason: Parameters<typeof deny>[2], principal?: Principal, id?: string) => void deny(ctx, req, reason, principal, id).catch(done);
    const raw = bearerToken(req.headers.authorization);
    if (raw === undefined) return fail('missing-token');
    const principal = ctx.tokens.authenticate(raw);
    if (!principal) return fail('bad-token');
    if (!roleAllows(principal.role, access.permission)) return fail('role', principal);
    if (!principalAllows(principal, access.permission)) return fail('scope', principal);
    if (access.profileParam) {
      const id = (req.params as { id?: string }).id;
      if (id !== undefined && !grantAllows(principal.grants, id)) return fail('grant', principal, id);
    }
    req.principal = principal;
    done();
  });

  // during shutdown, responses close their connection so keep-alive sockets do not hold it open
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (ctx.isClosing()) reply.header('connection', 'close');
    done(null, payload);
  });

  const logRequests = ctx.logger.isLevelEnabled('info');
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    ctx.metrics.observeRequest(route, req.method, reply.statusCode, reply.elapsedTime / 1000);
    if (logRequests) {
      ctx.logger.info({ reqId: req.id, method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100, actor: req.principal?.actor }, 'request');
    }
    done();
  });

  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    // a body over the limit: the message and details name this route's limit
    const e = toHttpError(err, { bodyLimit: req.routeOptions.bodyLimit, bodyLimitSetting: req.routeOptions.bodyLimit === ctx.config.bodyLimit ? 'body_limit' : undefined });
    if (e.status >= 500) ctx.logger.error({ err, reqId: req.id, code: e.code }, 'request failed');
    else ctx.logger.debug({ reqId: req.id, code: e.code }, 'request rejected');
    void reply.code(e.status).type('application/json; charset=utf-8').send(errorBody(e));
  });

  registerWebUi(app);
  app.setNotFoundHandler((req, reply) => {
    if (serveWebUi(req, reply)) return;
    void reply.code(404).send(errorBody({ status: 404, code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` }));
  });

  const routes: RouteInfo[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) if (m !== 'HEAD') routes.push({ method: m, url: r.url });
  });

  registerSystemRoutes(app, ctx);
  registerProfileRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  registerBackupRoutes(app, ctx);
  registerTransferRoutes(app, ctx);
  registerChangeRoutes(app, ctx);
  registerWebhookRoutes(app, ctx);
  return app;
}
