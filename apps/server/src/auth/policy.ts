/**
 * Access policy: roles, permissions, per-profile grants (globs on profile ids) and the
 * rate policy for auditing denied requests. Small pure functions, tested alone.
 */
import { ProfileSyncError } from '@profilesync/errors';

export const ROLES = ['admin', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  | 'profile:read'
  | 'profile:write'
  | 'cache:read'
  | 'cache:clear'
  | 'audit:read'
  | 'token:manage'
  | 'peer:read'
  | 'peer:manage'
  | 'webhook:manage'
  | 'sync:run'
  | 'backup:run'
  | 'metrics:read';

const VIEWER: readonly Permission[] = ['profile:read', 'cache:read', 'metrics:read'];
const EDITOR: readonly Permission[] = [...VIEWER, 'profile:write'];
const ADMIN: readonly Permission[] = [...EDITOR, 'cache:clear', 'audit:read', 'token:manage', 'peer:read', 'peer:manage', 'sync:run', 'backup:run', 'webhook:manage'];

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  viewer: new Set(VIEWER),
  editor: new Set(EDITOR),
  admin: new Set(ADMIN),
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}

/** A grant glob: profile-id characters plus `*` (any run) and `?` (one character). */
export const GLOB_RE = /^[A-Za-z0-9._:*?-]{1,128}$/;

export function compileGlob(glob: string): RegExp {
  if (!GLOB_RE.test(glob)) {
    throw new ProfileSyncError('REQUEST_INVALID', `profiles: invalid glob ${JSON.stringify(glob)}`, { details: { field: 'profiles' } });
  }
  const body = glob.replace(/[.*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : '\\.'));
  return new RegExp(`^${body}$`);
}

/** Whether a token restricted to `grants` (null = every profile) may touch profile `id`. */
export function grantAllows(grants: readonly RegExp[] | null, id: string): boolean {
  if (grants === null) return true;
  for (const g of grants) if (g.test(id)) return true;
  return false;
}

/** Token bucket state for auditing denials: at most `burst` at once, refilled at `perSecond`. */
export interface BucketState {
  tokens: number;
  at: number;
  suppressed: number;
}

export function newBucket(burst: number, now: number): BucketState {
  return { tokens: burst, at: now, suppressed: 0 };
}

/**
 * Whether to write an audit record for this denial. Every denial is still answered 401/403;
 * this only bounds how fast a flood of bad requests can grow the log. Suppressed denials are
 * counted and reported in the next written record.
 */
export function takeAuditSlot(state: BucketState, now: number, perSecond: number, burst: number): { allowed: boolean; state: BucketState } {
  const elapsed = Math.max(0, now - state.at) / 1000;
  const tokens = Math.min(burst, state.tokens + elapsed * perSecond);
  if (tokens >= 1) return { allowed: true, state: { tokens: tokens - 1, at: now, suppressed: 0 } };
  return { allowed: false, state: { tokens, at: now, suppressed: state.suppressed + 1 } };
}
