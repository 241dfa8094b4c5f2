/**
 * Webhooks (admin, unscoped): list with delivery status, add (the secret is answered once),
 * remove, and the delivery log of one hook (the last attempts, newest first, with their
 * errors). Hooks from the config file are listed but removed only there.
 */
import type { FastifyInstance } from 'fastify';
import { ProfileSyncError } from '@profilesync/errors';
import { principalOf, type AppContext } from '../context.js';
import { parse, schemas } from '../validation.js';

export function registerWebhookRoutes(app: FastifyInstance, ctx: AppContext): void {
  const manage = { access: { permission: 'webhook:manage' as const } };
  const hooks = () => {
    const w = ctx.webhooks();
    if (!w) throw new ProfileSyncError('SERVER_SHUTTING_DOWN', 'the node is shutting down');
    return w;
  };

  app.get('/api/webhooks', { config: manage }, async (req) => {
    parse(schemas.emptyQuery, req.query, 'query');
    return { webhooks: hooks().list() };
  });

  app.post('/api/webhooks', { config: manage }, async (req, reply) => {
    const p = principalOf(req);
    parse(schemas.emptyQuery, req.query, 'query');
    const body = parse(schemas.webhookBody, req.body, 'body');
    const { info, secret } = await hooks().add(body);
    await ctx.audit({ action: 'webhook.add', actor: p.actor, origin: p.origin, outcome: 'ok', details: { id: info.id, url: info.url, events: info.events, profiles: info.profiles } });
    return reply.code(201).send({ ...info, secret });
  });

  app.get('/api/webhooks/:id', { config: manage }, async (req) => {
    const { id } = parse(schemas.webhookParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    return hooks().get(id);
  });

  app.delete('/api/webhooks/:id', { config: manage }, async (req, reply) => {
    const p = principalOf(req);
    const { id } = parse(schemas.webhookParams, req.params, 'params');
    parse(schemas.emptyQuery, req.query, 'query');
    const info = await hooks().remove(id);
    await ctx.audit({ action: 'webhook.remove', actor: p.actor, origin: p.origin, outcome: 'ok', details: { id, url: info.url } });
    return reply.code(204).send();
  });

  app.get('/api/webhooks/:id/deliveries', { config: manage }, async (req) => {
    const { id } = parse(schemas.webhookParams, req.params, 'params');
    const q = parse(schemas.deliveriesQuery, req.query, 'query');
    return { deliveries: hooks().deliveries(id, q.limit) };
  });
}
