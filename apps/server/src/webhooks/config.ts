/**
 * Webhook definitions: what a hook is, how one is validated (config file `[[webhooks]]` and
 * POST /api/webhooks share the rules), and the pure policies (filtering, retry delay).
 */
import { createHash, randomBytes } from 'node:crypto';
import { ProfileSyncError } from '@profilesync/errors';
import { compileGlob, GLOB_RE, grantAllows } from '../auth/policy.js';
import type { ChangeKind, FeedChange } from '../changes/hub.js';

export const WEBHOOK_EVENTS: readonly ChangeKind[] = ['profile.created', 'profile.updated', 'profile.deleted', 'label.moved', 'conflict.opened', 'conflict.resolved'];

/** A hook as stored (runtime hooks in the log's aux table) or read from the config file. */
export interface WebhookRecord {
  id: string;
  name: string | null;
  url: string;
  /** the HMAC-SHA256 key; never shown by the API after creation */
  secret: string;
  /** kinds delivered; all when null */
  events: ChangeKind[] | null;
  /** profile-id globs; all when null */
  profiles: string[] | null;
  source: 'config' | 'added';
  createdAt: string | null;
}

/** A `[[webhooks]]` entry of the config file (the secret comes from an environment variable). */
export interface WebhookFileEntry {
  url: string;
  secretEnv: string;
  events: ChangeKind[] | null;
  profiles: string[] | null;
  name: string | null;
}

export interface WebhookTuning {
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,63}$/;
const SECRET_RE = /^[\x21-\x7e]{16,256}$/;
const ENV_RE = /^[A-Z_][A-Z0-9_]{0,127}$/;

function bad(field: string, message: string, code = 'WEBHOOK_INVALID'): ProfileSyncError {
  return new ProfileSyncError(code, `${field}: ${message}`, { details: { field } });
}

export function checkUrl(raw: unknown, field: string, fail = bad): string {
  if (typeof raw !== 'string' || raw.length > 2048) throw fail(field, 'must be an http:// or https:// URL');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw fail(field, 'must be an http:// or https:// URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw fail(field, 'must be an http:// or https:// URL');
  if (u.username !== '' || u.password !== '') throw fail(field, 'must not carry credentials (the signature authenticates the node)');
  return u.href;
}

export function checkEvents(raw: unknown, field: string, fail = bad): ChangeKind[] | null {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw) || raw.length === 0 || raw.some((e) => typeof e !== 'string' || !WEBHOOK_EVENTS.includes(e as ChangeKind))) {
    throw fail(field, `must be a non-empty list of ${WEBHOOK_EVENTS.join(', ')}`);
  }
  return [...new Set(raw as ChangeKind[])];
}

export function checkProfiles(raw: unknown, field: string, fail = bad): string[] | null {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 100 || raw.some((g) => typeof g !== 'string' || !GLOB_RE.test(g))) {
    throw fail(field, 'must be a list of 1..100 globs of profile-id characters, * and ?');
  }
  return raw as string[];
}

export function checkName(raw: unknown, field: string, fail = bad): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'string' || !NAME_RE.test(raw)) throw fail(field, 'must be 1..64 characters: letters, digits, space, . _ : @ -');
  return raw;
}

export function checkSecret(raw: unknown, field: string, fail = bad): string {
  if (typeof raw !== 'string' || !SECRET_RE.test(raw)) throw fail(field, 'must be 16..256 printable characters without spaces');
  return raw;
}

export function checkSecretEnv(raw: unknown, field: string, fail = bad): string {
  if (typeof raw !== 'string' || !ENV_RE.test(raw)) throw fail(field, 'must name an environment variable (A-Z, 0-9, _)');
  return raw;
}

/** A new random secret: `whsec_` + 32 random bytes, base64url. */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** Stable id of a config-file hook (the same entry keeps its id, and so its delivery position, across restarts). */
export function configHookId(url: string, name: string | null): string {
  return `c${createHash('sha256').update(`${url}\n${name ?? ''}`).digest('hex').slice(0, 15)}`;
}

export function newHookId(): string {
  return `w${randomBytes(8).toString('hex').slice(0, 15)}`;
}

/** What a hook shows over the API (never the secret). */
export type WebhookInfo = Omit<WebhookRecord, 'secret'>;

export function infoOf(r: WebhookRecord): WebhookInfo {
  const { secret: _secret, ...rest } = r;
  return rest;
}

export interface CompiledHook {
  record: WebhookRecord;
  grants: RegExp[] | null;
}

export function compileHook(record: WebhookRecord): CompiledHook {
  return { record, grants: record.profiles === null ? null : record.profiles.map(compileGlob) };
}

/**
 * The kinds of `change` this hook delivers (empty: not delivered). A catch-up change (kinds
 * unknown: the node did not see it live) counts as any kind it may have: a deletion, or for a
 * live profile an update and a label move (a hook on `profile.created` alone gets it too: the
 * profile may be new).
 */
export function deliveredKinds(hook: CompiledHook, change: FeedChange): ChangeKind[] {
  if (!grantAllows(hook.grants, change.data.id)) return [];
  const kinds: readonly ChangeKind[] = change.kinds ?? (change.data.deleted ? ['profile.deleted'] : ['profile.updated', 'label.moved', 'profile.created']);
  const want = hook.record.events;
  return want === null ? [...kinds] : kinds.filter((k) => want.includes(k));
}

/** Delay before attempt `attempt + 1` (attempt >= 1 failed ones): exponential from retryBaseMs, capped, jitter in [50%, 100%]. */
export function retryDelay(attempt: number, t: Pick<WebhookTuning, 'retryBaseMs' | 'retryMaxMs'>, random: () => number = Math.random): number {
  const exp = Math.min(t.retryMaxMs, t.retryBaseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.round(exp * (0.5 + 0.5 * random()));
}
