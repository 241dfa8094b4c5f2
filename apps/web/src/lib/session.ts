/**
 * Sign-in state. The token lives in sessionStorage only (gone when the tab closes), never in
 * localStorage or a cookie. `resolveSession` checks the token against the node and learns its
 * role: GET /api/session when the node has it, otherwise from what the token may read.
 */
import { Api, ApiError } from './api.js';
import type { Role, SessionInfo } from './types.js';

const TOKEN_KEY = 'profilesync.token';
const NAME_KEY = 'profilesync.displayName';
const INFO_KEY = 'profilesync.session';

export function storedToken(): string | undefined {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(NAME_KEY);
  sessionStorage.removeItem(INFO_KEY);
}

export function storeSessionInfo(info: SessionInfo): void {
  sessionStorage.setItem(INFO_KEY, JSON.stringify(info));
}

/** Who this tab signed in as (kept with the token), or undefined. */
export function storedSession(): SessionInfo | undefined {
  try {
    const info = JSON.parse(sessionStorage.getItem(INFO_KEY) ?? 'null') as SessionInfo | null;
    return info && typeof info.name === 'string' ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * After a reload without the stored session info: find out who the token is again. (With the
 * info the app starts at once; the first request checks the token, and a 401 signs out.)
 */
export async function restoreSession(api: Api): Promise<SessionInfo> {
  return storedSession() ?? resolveSession(api);
}

export function storedDisplayName(): string | undefined {
  return sessionStorage.getItem(NAME_KEY) ?? undefined;
}

export function storeDisplayName(name: string): void {
  sessionStorage.setItem(NAME_KEY, name);
}

const ROLES: readonly Role[] = ['admin', 'editor', 'viewer'];

/** Validates the token (401 -> ApiError AUTH_UNAUTHORIZED) and finds out who it is. */
export async function resolveSession(api: Api): Promise<SessionInfo> {
  try {
    const s = await api.request<{ name?: string; role?: string; actor?: string; profiles?: string[] | null; tokenId?: string; displayName?: string | null }>('GET', '/api/session');
    const role = ROLES.find((r) => r === s.role);
    return { name: s.displayName || s.name || s.actor || 'me', role, actor: s.actor, profiles: s.profiles ?? null, ...(s.tokenId ? { tokenId: s.tokenId } : {}) };
  } catch (err) {
    // an older node without /api/session: fall through to probing
    if (!(err instanceof ApiError) || err.code !== 'ROUTE_NOT_FOUND') throw err;
  }
  // Probing costs at most one audited denial per sign-in (documented in apps/web/README.md):
  // an empty POST is refused by role before its body is read (viewer: 403; others: 400, nothing written).
  await api.listPage({ limit: 1 }); // throws AUTH_UNAUTHORIZED for a bad token
  try {
    await api.request('POST', '/api/profiles', { body: {} });
  } catch (err) {
    if (err instanceof ApiError && err.code === 'AUTH_FORBIDDEN') return { name: 'viewer', role: 'viewer' };
    if (!(err instanceof ApiError) || err.status !== 400) throw err;
  }
  try {
    await api.request('GET', '/api/tokens');
    return { name: 'admin', role: 'admin' };
  } catch (err) {
    if (err instanceof ApiError && err.code === 'AUTH_FORBIDDEN') return { name: 'editor', role: 'editor' };
    throw err;
  }
}

/**
 * Whether this session may write profile `id`. Known roles answer at once; an unknown role
 * (an older node) is probed with an empty merge patch, which changes nothing for an editor
 * and is refused (403) for a viewer or a token without a grant.
 */
export async function canWrite(api: Api, session: SessionInfo, id: string): Promise<boolean> {
  if (session.role === 'viewer') return false;
  if (session.role !== undefined) return session.profiles == null || session.profiles.some((g) => globMatches(g, id));
  try {
    await api.patchProfile(id, {});
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'AUTH_FORBIDDEN') return false;
    throw err;
  }
}

/** A grant glob (profile-id characters, `*` any run, `?` one character) against an id. */
export function globMatches(glob: string, id: string): boolean {
  const body = glob.replace(/[.*?+^${}()|[\]\\]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`));
  return new RegExp(`^${body}$`).test(id);
}

export function roleAllows(role: Role | undefined, what: 'write' | 'operate'): boolean {
  if (role === undefined) return true; // unknown: show the control; the node answers 403 if not
  if (what === 'write') return role !== 'viewer';
  return role === 'admin';
}
