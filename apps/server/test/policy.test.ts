import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileGlob, grantAllows, newBucket, roleAllows, takeAuditSlot } from '../src/auth/policy.js';
import { bearerToken, splitToken, newTokenString } from '../src/auth/tokens.js';
import { principalAllows, scopeWithin } from '../src/auth/scope.js';
import { LiveConnections } from '../src/auth/live.js';
import { ERROR_STATUS, errorBody, toHttpError } from '../src/http-errors.js';
import { ProfileSyncError } from '@profilesync/errors';
import { CacheErrorCode } from '@profilesync/cache';
import { readFileSync } from 'node:fs';

describe('roles', () => {
  it('viewer reads, editor writes, admin manages', () => {
    expect(roleAllows('viewer', 'profile:read')).toBe(true);
    expect(roleAllows('viewer', 'profile:write')).toBe(false);
    expect(roleAllows('editor', 'profile:write')).toBe(true);
    expect(roleAllows('editor', 'token:manage')).toBe(false);
    expect(roleAllows('editor', 'audit:read')).toBe(false);
    expect(roleAllows('admin', 'token:manage')).toBe(true);
    expect(roleAllows('admin', 'sync:run')).toBe(true);
  });
});

describe('grants', () => {
  it('globs match whole ids', () => {
    const g = ['team-a-*', 'exact', 'x?z'].map(compileGlob);
    expect(grantAllows(g, 'team-a-gpt')).toBe(true);
    expect(grantAllows(g, 'team-b-gpt')).toBe(false);
    expect(grantAllows(g, 'exact')).toBe(true);
    expect(grantAllows(g, 'exact2')).toBe(false);
    expect(grantAllows(g, 'xyz')).toBe(true);
    expect(grantAllows(g, 'xyyz')).toBe(false);
    expect(grantAllows(null, 'anything')).toBe(true);
    expect(grantAllows([], 'anything')).toBe(false);
  });

  it('dots are literal, not regex wildcards', () => {
    expect(grantAllows([compileGlob('a.b')], 'axb')).toBe(false);
    expect(grantAllows([compileGlob('a.b')], 'a.b')).toBe(true);
  });

  it('rejects globs with other characters', () => {
    for (const bad of ['', 'a/b', '(.*)', 'a b', 'x'.repeat(129)]) {
      expect(() => compileGlob(bad)).toThrowError(expect.objectContaining({ code: 'REQUEST_INVALID' }));
    }
  });

  it('a literal glob matches exactly itself (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$/), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$/), (a, b) => {
        expect(grantAllows([compileGlob(a)], b)).toBe(a === b);
        expect(grantAllows([compileGlob(`${a}*`)], `${a}${b}`)).toBe(true);
      }),
    );
  });
});

describe('audit rate policy', () => {
  it('allows a burst, then refills at the rate, and counts suppressed denials', () => {
    let s = newBucket(3, 0);
    const allowed: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const r = takeAuditSlot(s, 0, 1, 3);
      allowed.push(r.allowed);
      s = r.state;
    }
    expect(allowed).toEqual([true, true, true, false, false]);
    expect(s.suppressed).toBe(2);
    const later = takeAuditSlot(s, 1000, 1, 3);
    expect(later.allowed).toBe(true);
    expect(takeAuditSlot(later.state, 1000, 1, 3).allowed).toBe(false);
  });
});

describe('tokens', () => {
  it('generated tokens split into id and secret', () => {
    const t = newTokenString();
    expect(t.token).toMatch(/^ps_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(splitToken(t.token)).toEqual({ id: t.id, secret: t.secret });
  });

  it('preset tokens get a stable derived id; junk is refused', () => {
    const a = splitToken('my-preset-admin-token-123');
    expect(a?.id).toMatch(/^p[0-9a-f]{15}$/);
    expect(splitToken('my-preset-admin-token-123')).toEqual(a);
    expect(splitToken('short')).toBeUndefined();
    expect(splitToken('has space in it 1234567')).toBeUndefined();
  });

  it('parses bearer headers', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
  });
});

describe('error table', () => {
  it('maps codes to statuses in one place', () => {
    expect(toHttpError(new ProfileSyncError('PROFILE_NOT_FOUND', 'x')).status).toBe(404);
    expect(toHttpError(new ProfileSyncError('PROFILE_EXISTS', 'x')).status).toBe(409);
    expect(toHttpError(new ProfileSyncError('AUTH_UNAUTHORIZED', 'x')).status).toBe(401);
    expect(toHttpError(new ProfileSyncError('AUTH_FORBIDDEN', 'x')).status).toBe(403);
    expect(toHttpError(new ProfileSyncError('LOG_WRITE_FAILED', 'x')).status).toBe(503);
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      expect(toHttpError(new ProfileSyncError(code, 'm')).status).toBe(status);
    }
  });

  it('every cache code (the package enum and its README table) has a status', () => {
    const readme = readFileSync(new URL('../../../packages/cache/README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Error codes'));
    const documented = [...table.matchAll(/^\| `(CACHE_[A-Z_]+)` \|/gmu)].map((m) => m[1]!);
    const exported = Object.values(CacheErrorCode);
    expect(documented.length).toBeGreaterThanOrEqual(14);
    expect(new Set(documented)).toEqual(new Set(exported));
    for (const code of exported) expect(ERROR_STATUS[code], code).toBeTypeOf('number');
    const expected: Record<string, number> = {
      CACHE_INVALID_KEY: 400,
      CACHE_INVALID_PATTERN: 400,
      CACHE_INVALID_TTL: 400,
      CACHE_INVALID_VALUE: 400,
      CACHE_SERIALIZATION_FAILED: 400,
      CACHE_INVALID_REQUEST: 400,
      CACHE_VALUE_TOO_LARGE: 413,
      CACHE_NOT_FOUND: 404,
      CACHE_ALREADY_REGISTERED: 409,
      CACHE_UNAVAILABLE: 503,
      CACHE_COMMAND_FAILED: 503,
      CACHE_CLOSED: 503,
      CACHE_INVALID_CONFIG: 500,
      CACHE_CORRUPT_ENTRY: 500,
    };
    for (const code of exported) expect(toHttpError(new ProfileSyncError(code, 'm')).status, code).toBe(expected[code]);
  });

  it('unknown errors are 500 INTERNAL with no message or stack leak', () => {
    const e = toHttpError(new Error('secret path /etc/x at line 3'));
    expect(e).toEqual({ status: 500, code: 'INTERNAL', message: 'internal error' });
    expect(JSON.stringify(errorBody(e))).not.toContain('/etc/x');
  });

  it('maps fastify parser errors to coded 4xx', () => {
    expect(toHttpError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).code).toBe('REQUEST_TOO_LARGE');
    expect(toHttpError({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }).code).toBe('REQUEST_UNSUPPORTED_MEDIA_TYPE');
    expect(toHttpError({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }).code).toBe('REQUEST_MALFORMED_JSON');
  });

  it('passes only whitelisted, primitive details', () => {
    const e = toHttpError(new ProfileSyncError('PROFILE_INVALID', 'bad', { details: { path: 'parameters.temperature', secret: 'x', rule: { a: 1 } } }));
    expect(e.details).toEqual({ path: 'parameters.temperature' });
  });
});

describe('scopes (scoped admins grant only within their own scope)', () => {
  it('examples: narrower globs are within, wider or disjoint ones are not; null is every profile', () => {
    expect(scopeWithin(['alpha-1'], ['alpha-*'])).toBe(true);
    expect(scopeWithin(['alpha-?', 'alpha-x*'], ['alpha-*'])).toBe(true);
    expect(scopeWithin(['a?*'], ['a*'])).toBe(true);
    expect(scopeWithin(['a*?'], ['a?*'])).toBe(true);
    expect(scopeWithin(['a*'], ['a', 'a?*'])).toBe(true); // covered by the union only
    expect(scopeWithin(['alpha*'], ['alpha-*'])).toBe(false);
    expect(scopeWithin(['*'], ['alpha-*'])).toBe(false);
    expect(scopeWithin(['?lpha-1'], ['alpha-*'])).toBe(false);
    expect(scopeWithin(['alpha-1', 'beta-1'], ['alpha-*'])).toBe(false);
    expect(scopeWithin(null, ['alpha-*'])).toBe(false);
    expect(scopeWithin(null, null)).toBe(true);
    expect(scopeWithin(['x'], null)).toBe(true);
  });

  it('node-wide powers need an unrestricted token', () => {
    expect(principalAllows({ role: 'admin', profiles: null }, 'peer:manage')).toBe(true);
    expect(principalAllows({ role: 'admin', profiles: ['a*'] }, 'peer:manage')).toBe(false);
    expect(principalAllows({ role: 'admin', profiles: ['a*'] }, 'sync:run')).toBe(false);
    expect(principalAllows({ role: 'admin', profiles: ['a*'] }, 'token:manage')).toBe(true);
    expect(principalAllows({ role: 'editor', profiles: null }, 'token:manage')).toBe(false);
  });

  it('is exact: within <=> every id up to a length the inner glob matches, the outer globs match (property, small alphabet)', () => {
    const glob = fc.array(fc.constantFrom('a', 'b', '*', '?'), { minLength: 1, maxLength: 4 }).map((c) => c.join(''));
    const words: string[] = [''];
    for (let len = 1; len <= 7; len++) for (const w of words.filter((x) => x.length === len - 1)) for (const ch of 'abc') words.push(w + ch);
    const matches = (g: string, w: string) => compileGlob(g).test(w);
    fc.assert(
      fc.property(glob, fc.array(glob, { minLength: 1, maxLength: 2 }), (inner, outer) => {
        const brute = words.every((w) => !matches(inner, w) || outer.some((o) => matches(o, w)));
        expect(scopeWithin([inner], outer)).toBe(brute);
      }),
      { numRuns: 500 },
    );
  });
});

describe('live connections registry', () => {
  const principal = (tokenId: string, role: 'admin' | 'editor' | 'viewer' = 'editor') => ({ tokenId, name: tokenId, role, profiles: null, grants: null, actor: tokenId, origin: `api:${tokenId}` });

  it('revocation closes every connection of the token (AUTH_UNAUTHORIZED), and only those', () => {
    const live = new LiveConnections();
    const closed: string[] = [];
    const events: string[] = [];
    live.on((e) => events.push(`${e.type}:${e.kind}:${e.outcome}`));
    live.register(principal('t1'), { kind: 'yjs', profile: 'p', close: (c) => closed.push(`t1-yjs:${c}`) });
    live.register(principal('t1'), { kind: 'sse', close: (c) => closed.push(`t1-sse:${c}`) });
    live.register(principal('t2'), { kind: 'yjs', close: (c) => closed.push(`t2:${c}`) });
    expect(Object.fromEntries(live.count())).toEqual({ yjs: 2, sse: 1 });
    expect(live.apply({ type: 'revoked', id: 't1' })).toEqual({ closed: 2, kept: 0 });
    expect(closed).toEqual(['t1-yjs:AUTH_UNAUTHORIZED', 't1-sse:AUTH_UNAUTHORIZED']);
    expect(events).toEqual(['revoked:yjs:closed', 'revoked:sse:closed']);
    expect(Object.fromEntries(live.count())).toEqual({ yjs: 1 });
    expect(live.apply({ type: 'revoked', id: 't1' })).toEqual({ closed: 0, kept: 0 });
  });

  it('a change refreshes connections that can follow it and closes (AUTH_FORBIDDEN) those that cannot; unregister is idempotent', () => {
    const live = new LiveConnections();
    const seen: string[] = [];
    const off = live.register(principal('t'), { kind: 'yjs', close: (c) => seen.push(`yjs:${c}`), refresh: (p) => (seen.push(`refresh:${p.role}`), 'kept') });
    live.register(principal('t'), { kind: 'sse', close: (c) => seen.push(`sse:${c}`) });
    live.register(principal('t'), { kind: 'yjs', close: () => seen.push('never'), refresh: () => 'closed' });
    expect(live.apply({ type: 'changed', id: 't', principal: principal('t', 'viewer') })).toEqual({ closed: 2, kept: 1 });
    expect(seen).toEqual(['refresh:viewer', 'sse:AUTH_FORBIDDEN']);
    expect(Object.fromEntries(live.count('t'))).toEqual({ yjs: 1 });
    off();
    off();
    expect(live.count('t').size).toBe(0);
  });

  it('a connection whose close throws is dropped all the same and does not stop the others', () => {
    const live = new LiveConnections();
    const closed: string[] = [];
    live.register(principal('t'), { kind: 'yjs', close: () => { throw new Error('boom'); } });
    live.register(principal('t'), { kind: 'yjs', close: (c) => closed.push(c) });
    expect(live.apply({ type: 'revoked', id: 't' }).closed).toBe(2);
    expect(closed).toEqual(['AUTH_UNAUTHORIZED']);
    expect(live.count().size).toBe(0);
  });
});
