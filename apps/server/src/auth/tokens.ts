/**
 * API tokens. A token is `ps_<id>_<secret>`: a 16-hex-char id and a 256-bit random secret
 * (base64url). Only SHA-256(secret) is stored (random high-entropy secrets need no slow
 * KDF), in ONE aux record of the log ('auth/tokens'), so it is encrypted at rest whenever
 * the log is. Verification is a map lookup by id + a constant-time compare.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProfileSyncError } from '@profilesync/errors';
import { AuxTable, type AuxStore } from '../aux-table.js';
import { compileGlob, ROLES, type Role } from './policy.js';

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  /** globs on profile ids; null = every profile */
  profiles: string[] | null;
  /** hex SHA-256 of the secret */
  hash: string;
  createdAt: string;
  createdBy: string;
  /** the person behind the token, set by the admin who created it (never claimed by a client); history, audit and presence show it */
  displayName?: string;
  /** optional contact of that person */
  email?: string;
}

/** What the API shows about a token (never the secret or its hash). */
export type TokenInfo = Omit<TokenRecord, 'hash'> & { lastUsedAt: string | null };

export interface Principal {
  tokenId: string;
  name: string;
  /** who acts with this token: its display name, else its name (always set by the token store) */
  displayName?: string;
  email?: string;
  /** the person an admin named for this token (its display name, only when one was set): /yjs presence shows it instead of a name the client claims */
  person?: string;
  role: Role;
  /** the token's grant globs (null = every profile): its scope */
  profiles: string[] | null;
  grants: RegExp[] | null;
  /** actor recorded in the log and the audit */
  actor: string;
  /** origin recorded in the log */
  origin: string;
}

export const TOKENS_AUX = 'auth/tokens';
const VERIFIED_CACHE_MAX = 1024;
const TOKEN_RE = /^ps_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Preset tokens (PROFILESYNC_ADMIN_TOKEN) may take any printable form of 16..256 chars. */
export const PRESET_TOKEN_RE = /^[\x21-\x7e]{16,256}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,63}$/;

const sha256hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** The id and the hashed part of a presented token, or undefined when it cannot be ours. */
export function splitToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN_RE.exec(token);
  if (m) return { id: m[1]!, secret: m[2]! };
  if (PRESET_TOKEN_RE.test(token)) return { id: `p${sha256hex(`preset:${token}`).slice(0, 15)}`, secret: token };
  return undefined;
}

export function newTokenString(): { id: string; secret: string; token: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `ps_${id}_${secret}` };
}

/** `Authorization: Bearer TOKEN` -> TOKEN (undefined when absent or another scheme). */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1] : undefined;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function toPrincipal(r: TokenRecord): Principal {
  return {
    tokenId: r.id,
    name: r.name,
    role: r.role,
    profiles: r.profiles,
    grants: r.profiles === null ? null : r.profiles.map(compileGlob),
    displayName: r.displayName ?? r.name,
    ...(r.email !== undefined ? { email: r.email } : {}),
    ...(r.displayName !== undefined ? { person: r.displayName } : {}),
    // the log and the audit record the person (display name) when the token has one
    actor: r.displayName ?? r.name,
    origin: `api:${r.id}`,
  };
}

export interface CreateTokenInput {
  name: string;
  role: Role;
  profiles?: string[] | null;
  /** the person behind the token (1..100 characters, no control characters) */
  displayName?: string;
  /** their email address (optional) */
  email?: string;
}

/** Display names: 1..100 characters, printable (no control or bidi-format characters), not only spaces. */
export const DISPLAY_NAME_RE = /^(?=.*\S)[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,100}$/u;
/** A plain address (local@domain.tld), at most 254 characters; no display-name forms. */
export const EMAIL_RE = /^[^\s@<>()[\]\\,;:"\p{Cc}]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/u;

export interface UpdateTokenInput {
  role?: Role;
  /** null = every profile */
  profiles?: string[] | null;
}

/**
 * A durable change of the token table, reported after memory holds it (the token no longer
 * authenticates / already has its new access): `revoked` (gone) or `changed` (role or grants).
 */
export type TokenChange = { type: 'revoked'; id: string } | { type: 'changed'; id: string; principal: Principal };

const sameScope = (a: string[] | null, b: string[] | null): boolean =>
  a === b || (a !== null && b !== null && a.length === b.length && a.every((g, i) => g === b[i]));

/** Tokens that can manage everything: admins with no grant restriction. */
const isFullAdmin = (r: Pick<TokenRecord, 'role' | 'profiles'>): boolean => r.role === 'admin' && r.profiles === null;

export class TokenStore {
  #table: AuxTable<TokenRecord>;
  #clock: () => number;
  #records = new Map<string, TokenRecord>();
  #principals = new Map<string, Principal>();
  /** raw SHA-256 digests by token id (no hex decoding per request) */
  #digests = new Map<string, Buffer>();
  /**
   * Tokens verified recently -> their id: skips the hash on the hot path. Bounded, and
   * cleared whenever the table changes (a revoked token is never served from here).
   */
  #verified = new Map<string, string>();
  #lastUsed = new Map<string, number>();
  #listeners = new Set<(change: TokenChange) => void>();

  private constructor(aux: AuxStore, clock: () => number) {
    this.#table = new AuxTable(aux, TOKENS_AUX);
    this.#clock = clock;
  }

  static async open(aux: AuxStore, clock: () => number = Date.now): Promise<TokenStore> {
    const store = new TokenStore(aux, clock);
    const list = await store.#table.load((cause) => new ProfileSyncError('TOKEN_STORE_CORRUPT', 'the token record in the data dir is unreadable', { cause }));
    for (const r of list) store.#index(r);
    return store;
  }

  #index(r: TokenRecord): void {
    this.#records.set(r.id, r);
    this.#principals.set(r.id, toPrincipal(r));
    this.#digests.set(r.id, Buffer.from(r.hash, 'hex'));
  }

  /**
   * Listens to revocations and role/grant changes (the live-connection registry closes or
   * downgrades sockets with it). Called synchronously right after the change is durable and
   * in memory; a throwing listener does not stop the others.
   */
  onChange(listener: (change: TokenChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The current access of a token (undefined once revoked): live checks use this, not a copy. */
  principal(id: string): Principal | undefined {
    return this.#principals.get(id);
  }

  get size(): number {
    return this.#records.size;
  }

  /** Verifies a presented token; undefined when unknown or wrong. */
  authenticate(token: string | undefined): Principal | undefined {
    if (token === undefined) return undefined;
    const known = this.#verified.get(token);
    if (known !== undefined) {
      this.#lastUsed.set(known, this.#clock());
      return this.#principals.get(known);
    }
    const parts = splitToken(token);
    if (!parts) return undefined;
    const want = this.#digests.get(parts.id);
    if (want === undefined || want.length !== 32) return undefined;
    if (!timingSafeEqual(sha256(parts.secret), want)) return undefined;
    if (this.#verified.size >= VERIFIED_CACHE_MAX) this.#verified.clear();
    this.#verified.set(token, parts.id);
    this.#lastUsed.set(parts.id, this.#clock());
    return this.#principals.get(parts.id);
  }

  list(): TokenInfo[] {
    return [...this.#records.values()]
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
      .map(({ hash: _hash, ...rest }) => {
        const used = this.#lastUsed.get(rest.id);
        return { ...rest, lastUsedAt: used === undefined ? null : new Date(used).toISOString() };
      });
  }

  get(id: string): TokenInfo | undefined {
    return this.list().find((t) => t.id === id);
  }

  /** Creates a token; returns the only copy of its secret form. */
  async create(input: CreateTokenInput, createdBy: string, preset?: string): Promise<{ info: TokenInfo; token: string }> {
    if (!NAME_RE.test(input.name)) {
      throw new ProfileSyncError('REQUEST_INVALID', 'name: 1..64 characters, letters, digits, space and ._:@-', { details: { field: 'name' } });
    }
    if (!ROLES.includes(input.role)) {
      throw new ProfileSyncError('REQUEST_INVALID', `role: one of ${ROLES.join(', ')}`, { details: { field: 'role' } });
    }
    if (input.displayName !== undefined && !DISPLAY_NAME_RE.test(input.displayName)) {
      throw new ProfileSyncError('REQUEST_INVALID', 'displayName: 1..100 printable characters (no control characters)', { details: { field: 'displayName' } });
    }
    if (input.email !== undefined && (input.email.length > 254 || !EMAIL_RE.test(input.email))) {
      throw new ProfileSyncError('REQUEST_INVALID', 'email: an address like name@example.com (at most 254 characters)', { details: { field: 'email' } });
    }
    const profiles = input.profiles ?? null;
    if (profiles !== null) profiles.forEach(compileGlob);
    let id: string;
    let secret: string;
    let token: string;
    if (preset !== undefined) {
      const parts = splitToken(preset);
      if (!parts) throw new ProfileSyncError('TOKEN_INVALID', 'a preset token must be 16..256 printable characters without spaces');
      ({ id, secret } = parts);
      token = preset;
    } else {
      ({ id, secret, token } = newTokenString());
    }
    const rec: TokenRecord = {
      id,
      name: input.name,
      role: input.role,
      profiles,
      hash: sha256hex(secret),
      createdAt: new Date(this.#clock()).toISOString(),
      createdBy,
      ...(input.displayName !== undefined ? { displayName: input.displayName.trim() } : {}),
      ...(input.email !== undefined ? { email: input.email } : {}),
    };
    await this.#persist((m) => m.set(id, rec));
    return { info: this.get(id)!, token };
  }

  async revoke(id: string): Promise<TokenInfo> {
    const rec = this.#records.get(id);
    if (!rec) throw new ProfileSyncError('TOKEN_NOT_FOUND', `no token with id ${id} (token ids are the 16 characters after ps_; see \`profilesync token list\`)`, { details: { id } });
    this.#keepOneFullAdmin(rec, undefined);
    const info = this.get(id)!;
    await this.#persist((m) => m.delete(id));
    return info;
  }

  /** Changes a token's role and/or grants (the secret stays); returns the token before and after. */
  async update(id: string, input: UpdateTokenInput): Promise<{ before: TokenInfo; after: TokenInfo }> {
    const rec = this.#records.get(id);
    if (!rec) throw new ProfileSyncError('TOKEN_NOT_FOUND', `no token ${id}`, { details: { id } });
    if (input.role !== undefined && !ROLES.includes(input.role)) {
      throw new ProfileSyncError('REQUEST_INVALID', `role: one of ${ROLES.join(', ')}`, { details: { field: 'role' } });
    }
    if (input.profiles) input.profiles.forEach(compileGlob);
    const next: TokenRecord = { ...rec, role: input.role ?? rec.role, profiles: input.profiles === undefined ? rec.profiles : input.profiles };
    this.#keepOneFullAdmin(rec, next);
    const before = this.get(id)!;
    await this.#persist((m) => m.set(id, next));
    return { before, after: this.get(id)! };
  }

  /** The node keeps at least one admin token without grant restrictions (peers, tokens, audit of everything). */
  #keepOneFullAdmin(rec: TokenRecord, next: TokenRecord | undefined): void {
    if (!isFullAdmin(rec) || (next !== undefined && isFullAdmin(next))) return;
    if ([...this.#records.values()].filter(isFullAdmin).length > 1) return;
    throw new ProfileSyncError(
      'TOKEN_LAST_ADMIN',
      next === undefined
        ? 'cannot revoke the last unrestricted admin token; create another admin token (without profiles) first'
        : 'cannot restrict the last unrestricted admin token; create another admin token (without profiles) first',
      { details: { id: rec.id } },
    );
  }

  /** Writes the whole table (serialized writers); memory changes only after the durable write. */
  #persist(change: (m: Map<string, TokenRecord>) => void): Promise<void> {
    return this.#table.write(
      () => this.#records,
      change,
      (next) => {
        const before = new Map(this.#records);
        this.#records.clear();
        this.#principals.clear();
        this.#digests.clear();
        this.#verified.clear();
        for (const r of next.values()) this.#index(r);
        for (const [id, old] of before) {
          const now = next.get(id);
          if (now === undefined) this.#emit({ type: 'revoked', id });
          else if (now.role !== old.role || !sameScope(now.profiles, old.profiles)) this.#emit({ type: 'changed', id, principal: this.#principals.get(id)! });
        }
      },
    );
  }

  #emit(change: TokenChange): void {
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch {
        // one listener's failure must not keep the others from closing their connections
      }
    }
  }
}
