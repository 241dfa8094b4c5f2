/**
 * Plaintexts of the fleet's sealed messages (seal.ts seals them):
 *   entry     version 1 | flags (bit 0: full state) | member id | actor | profile id | Yjs update
 *   presence  version 1 | type (1 awareness, 2 query) | member id | profile id | payload
 *   member    version 1 | u16 json length | JSON { id, url, publicKey, fingerprint, at, startedAt, ready } | Ed25519 signature (64)
 * Strings are u8 length + UTF-8. Decoders throw SYNC_FLEET_BAD_ENTRY on anything malformed.
 */
import { createHash } from 'node:crypto';
import { isProfileId } from '@profilesync/core';
import { fingerprint as fingerprintOf, parsePublicKey, verifySignature } from '@profilesync/crypto';
import { SyncErrorCode, syncError } from '../errors.js';

const VERSION = 1;
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

const bad = (what: string): Error => syncError(SyncErrorCode.FLEET_BAD_ENTRY, `malformed fleet ${what}`);

class Reader {
  #o = 0;
  constructor(
    readonly b: Uint8Array,
    readonly what: string,
  ) {}
  u8(): number {
    if (this.#o >= this.b.length) throw bad(this.what);
    return this.b[this.#o++]!;
  }
  str(): string {
    const n = this.u8();
    if (this.#o + n > this.b.length) throw bad(this.what);
    try {
      return dec.decode(this.b.subarray(this.#o, (this.#o += n)));
    } catch {
      throw bad(this.what);
    }
  }
  bytes(n: number): Uint8Array {
    if (this.#o + n > this.b.length) throw bad(this.what);
    return this.b.subarray(this.#o, (this.#o += n));
  }
  rest(): Uint8Array {
    const r = this.b.subarray(this.#o);
    this.#o = this.b.length;
    return r;
  }
}

function strBytes(s: string): Uint8Array {
  const b = enc.encode(s);
  if (b.length > 255) throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'a fleet string is at most 255 bytes');
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const withLen = (s: string): Uint8Array[] => {
  const b = strBytes(s);
  return [Uint8Array.of(b.length), b];
};

export interface EntryMessage {
  member: string;
  /** who made the change on the publishing node (its audit actor), recorded as the actor here too */
  actor: string;
  profile: string;
  update: Uint8Array;
  /** a whole state (a republish after a failed publish or a restart), not one change */
  state: boolean;
}

export function encodeEntry(m: EntryMessage): Uint8Array {
  return concat([Uint8Array.of(VERSION, m.state ? 1 : 0), ...withLen(m.member), ...withLen(m.actor), ...withLen(m.profile), m.update]);
}

export function decodeEntry(b: Uint8Array): EntryMessage {
  const r = new Reader(b, 'entry');
  if (r.u8() !== VERSION) throw bad('entry');
  const flags = r.u8();
  const member = r.str();
  const actor = r.str();
  const profile = r.str();
  const update = r.rest();
  if (!isProfileId(profile) || update.length === 0 || member.length === 0 || actor.length === 0) throw bad('entry');
  return { member, actor, profile, update, state: (flags & 1) === 1 };
}

export const PresenceType = { awareness: 1, query: 2 } as const;

export interface PresenceMessage {
  type: (typeof PresenceType)[keyof typeof PresenceType];
  member: string;
  profile: string;
  payload: Uint8Array;
}

export function encodePresence(m: PresenceMessage): Uint8Array {
  return concat([Uint8Array.of(VERSION, m.type), ...withLen(m.member), ...withLen(m.profile), m.payload]);
}

export function decodePresence(b: Uint8Array): PresenceMessage {
  const r = new Reader(b, 'presence message');
  if (r.u8() !== VERSION) throw bad('presence message');
  const type = r.u8();
  if (type !== PresenceType.awareness && type !== PresenceType.query) throw bad('presence message');
  const member = r.str();
  const profile = r.str();
  return { type, member, profile, payload: r.rest() };
}

/** What a member tells the fleet about itself (signed by its node identity, then sealed). */
export interface MemberInfo {
  /** = the first 12 hex chars of SHA-256(public key), as a peer id */
  id: string;
  /** HTTP base URL (http://HOST:PORT) */
  url: string;
  publicKey: string;
  fingerprint: string;
  /** when the record was written (the member's clock, ms) */
  at: number;
  startedAt: number;
  /** caught up (its /readyz answers 200) */
  ready: boolean;
}

const SIG_CONTEXT = enc.encode('profilesync/fleet/v1/member\0');

export function memberIdFor(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, 12);
}

export function encodeMember(info: MemberInfo, sign: (message: Uint8Array) => Uint8Array): Uint8Array {
  const json = enc.encode(JSON.stringify({ id: info.id, url: info.url, publicKey: info.publicKey, fingerprint: info.fingerprint, at: info.at, startedAt: info.startedAt, ready: info.ready }));
  if (json.length > 0xffff) throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'member record too large');
  const sig = sign(concat([SIG_CONTEXT, json]));
  return concat([Uint8Array.of(VERSION, json.length >> 8, json.length & 0xff), json, sig]);
}

/** Decodes and checks a member record: signature by its own key, id derived from that key, an http(s) URL. */
export function decodeMember(b: Uint8Array, expectedId: string): MemberInfo {
  const r = new Reader(b, 'member record');
  if (r.u8() !== VERSION) throw bad('member record');
  const len = (r.u8() << 8) | r.u8();
  const json = r.bytes(len);
  const sig = r.bytes(64);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(dec.decode(json)) as Record<string, unknown>;
  } catch {
    throw bad('member record');
  }
  let key: Uint8Array;
  try {
    key = parsePublicKey(o.publicKey);
  } catch {
    throw bad('member record');
  }
  if (!verifySignature(concat([SIG_CONTEXT, json]), sig, key)) throw syncError(SyncErrorCode.FLEET_BAD_ENTRY, 'member record signature does not verify');
  const id = memberIdFor(key);
  if (o.id !== id || id !== expectedId) throw syncError(SyncErrorCode.FLEET_BAD_ENTRY, 'member record id does not match its key');
  let url: URL;
  try {
    url = new URL(String(o.url));
  } catch {
    throw bad('member record');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || typeof o.at !== 'number' || typeof o.startedAt !== 'number' || typeof o.ready !== 'boolean') throw bad('member record');
  return { id, url: String(o.url), publicKey: String(o.publicKey), fingerprint: fingerprintOf(key), at: o.at, startedAt: o.startedAt, ready: o.ready };
}

/** The shard of a profile: SHA-256(id) as a big-endian u32, mod shards (the same on every node and version). */
export function shardOf(profileId: string, shards: number): number {
  return createHash('sha256').update(profileId).digest().readUInt32BE(0) % shards;
}

/** ws(s)://host:port/sync of a member's http(s) base URL. */
export function syncUrlOf(httpUrl: string): string {
  const u = new URL(httpUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/sync`;
  u.search = '';
  u.hash = '';
  return u.toString();
}
