/**
 * Denials: every 401/403 is audited (auth.denied, rate-bounded by the audit sink) and then
 * thrown as a coded error.
 */
import type { FastifyRequest } from 'fastify';
import { ProfileSyncError } from '@profilesync/errors';
import { grantAllows } from './policy.js';
import type { Principal } from './tokens.js';
import type { AppContext } from '../context.js';

type DenyReason = 'missing-token' | 'bad-token' | 'role' | 'grant' | 'scope';

export async function deny(ctx: AppContext, req: FastifyRequest, reason: DenyReason, principal?: Principal, profile?: string, extra?: Record<string, unknown>): Promise<never> {
  const unauthorized = reason === 'missing-token' || reason === 'bad-token';
  const event = {
    action: 'auth.denied',
    actor: principal?.actor ?? 'anonymous',
    origin: principal?.origin ?? `http:${req.ip}`,
    outcome: 'denied' as const,
    ...(profile !== undefined ? { profile } : {}),
    details: { reason, method: req.method, route: req.routeOptions.url ?? req.url, requestId: req.id, ...extra },
  };
  try {
    await ctx.audit(event);
  } catch (err) {
    ctx.logger.warn({ err, reqId: req.id }, 'could not audit a denied request');
  }
  if (unauthorized) {
    throw new ProfileSyncError('AUTH_UNAUTHORIZED', reason === 'missing-token' ? 'missing bearer token' : 'invalid or revoked token');
  }
  const message =
    reason === 'grant'
      ? profile === undefined
        ? 'a token restricted to some profiles must give the new profile an id'
        : `this token has no grant for profile ${profile}`
      : reason === 'scope'
        ? 'this token is restricted to some profiles: it may act only within its own scope (and has no node-wide powers)'
        : `role ${principal!.role} may not do this`;
  throw new ProfileSyncError('AUTH_FORBIDDEN', message, {
    details: { reason, ...(profile === undefined ? {} : { id: profile }), ...extra },
  });
}

/** Authorization for a profile id inside a handler (POST bodies, list filtering). */
export async function requireGrant(ctx: AppContext, req: FastifyRequest, principal: Principal, id: string): Promise<void> {
  if (!grantAllows(principal.grants, id)) await deny(ctx, req, 'grant', principal, id);
}

