/**
 * Sealing with the fleet key: everything a node puts on the bus (change entries, presence
 * messages, member records) is AES-256-GCM under keys derived from the 32-byte fleet key, so
 * the bus (Redis and whoever can read it) learns no profile id, content or awareness state,
 * and cannot forge or alter a message. docs/security.md §8 has the full design.
 *
 * Wire form (all kinds):
 *   magic "PSF" | version 1 | kind (1) | key id (8) | salt (16) | nonce (12) | ciphertext | tag (16)
 * - key id: HMAC-SHA-256(fleet key, "profilesync/fleet/v1/key-id")[0..8]: a message sealed under
 *   another fleet key is recognised as such (a misconfigured member) instead of as garbage.
 * - salt: 16 random bytes chosen once per Sealer (per process); the message key is
 *   HKDF-SHA-256(fleet key, salt, "profilesync/fleet/v1/<kind>"), so every process seals under
 *   its own keys and the nonce can be a counter: no nonce ever repeats under one key, however
 *   many messages a fleet sends over its life.
 * - AAD: the 41 header bytes | the context (the shard for entries, the channel for presence,
 *   the member id for records): a message moved to another shard, channel or member is refused.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { SyncErrorCode, syncError } from '../errors.js';

export const FLEET_KEY_BYTES = 32;
const MAGIC = [0x50, 0x53, 0x46]; // "PSF"
const VERSION = 1;
const HEADER_BYTES = 3 + 1 + 1 + 8 + 16 + 12;
const TAG_BYTES = 16;

export const SealKind = { entry: 1, presence: 2, member: 3 } as const;
export type SealKind = (typeof SealKind)[keyof typeof SealKind];
const LABEL: Record<SealKind, string> = { 1: 'entry', 2: 'presence', 3: 'member' };

/** Parses the configured fleet key: base64 (or base64url) of exactly 32 bytes. */
export function parseFleetKey(text: unknown): Uint8Array {
  const bytes = typeof text === 'string' && /^[A-Za-z0-9+/_-]{43}={0,1}$/.test(text.trim()) ? Buffer.from(text.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64') : undefined;
  if (!bytes || bytes.length !== FLEET_KEY_BYTES) {
    throw syncError(SyncErrorCode.FLEET_INVALID_KEY, 'a fleet key is 32 random bytes in base64 (44 characters; e.g. `openssl rand -base64 32`)', { field: 'key' });
  }
  return new Uint8Array(bytes);
}

export interface Opened {
  kind: SealKind;
  plaintext: Uint8Array;
}

export class Sealer {
  readonly keyId: Buffer;
  readonly #key: Buffer;
  readonly #salt = randomBytes(16);
  readonly #mine = new Map<SealKind, KeyObject>();
  readonly #theirs = new Map<string, KeyObject>();
  #counter = 0n;

  constructor(fleetKey: Uint8Array) {
    if (!(fleetKey instanceof Uint8Array) || fleetKey.length !== FLEET_KEY_BYTES) throw syncError(SyncErrorCode.FLEET_INVALID_KEY, 'the fleet key must be 32 bytes', { field: 'key' });
    this.#key = Buffer.from(fleetKey);
    this.keyId = createHmac('sha256', this.#key).update('profilesync/fleet/v1/key-id').digest().subarray(0, 8);
  }

  /** A short, stable, keyed name for a profile's presence channel (the bus never sees the id). */
  channelFor(profileId: string): string {
    return `p.${createHmac('sha256', this.#key).update('profilesync/fleet/v1/channel').update(profileId).digest('base64url').slice(0, 32)}`;
  }

  seal(kind: SealKind, context: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = Buffer.allocUnsafe(HEADER_BYTES + plaintext.length + TAG_BYTES);
    out.set(MAGIC, 0);
    out[3] = VERSION;
    out[4] = kind;
    this.keyId.copy(out, 5);
    this.#salt.copy(out, 13);
    out.fill(0, 29, 33);
    out.writeBigUInt64BE(this.#counter++, 33);
    let key = this.#mine.get(kind);
    if (!key) this.#mine.set(kind, (key = this.#derive(kind, this.#salt)));
    const cipher = createCipheriv('aes-256-gcm', key, out.subarray(29, HEADER_BYTES));
    cipher.setAAD(Buffer.concat([out.subarray(0, HEADER_BYTES), context]));
    const body = cipher.update(plaintext);
    body.copy(out, HEADER_BYTES);
    cipher.final();
    cipher.getAuthTag().copy(out, HEADER_BYTES + body.length);
    return out;
  }

  /**
   * Opens a sealed message of `kind` bound to `context`. Throws SYNC_FLEET_KEY_MISMATCH for a
   * message sealed under another fleet key and SYNC_FLEET_BAD_ENTRY for anything else that does
   * not open (truncated, altered, another kind or context); never returns unauthenticated bytes.
   */
  open(kind: SealKind, context: Uint8Array, sealed: Uint8Array): Uint8Array {
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (b.length < HEADER_BYTES + TAG_BYTES || b[0] !== MAGIC[0] || b[1] !== MAGIC[1] || b[2] !== MAGIC[2] || b[3] !== VERSION) {
      throw syncError(SyncErrorCode.FLEET_BAD_ENTRY, 'not a sealed fleet message (magic, version or length)');
    }
    if (!b.subarray(5, 13).equals(this.keyId)) throw syncError(SyncErrorCode.FLEET_KEY_MISMATCH, 'sealed under another fleet key (a member with a different bus.key?)');
    if (b[4] !== kind) throw syncError(SyncErrorCode.FLEET_BAD_ENTRY, `expected a ${LABEL[kind]} message`);
    const saltHex = b.subarray(13, 29).toString('hex');
    let key = this.#theirs.get(`${kind}:${saltHex}`);
    if (!key) {
      key = this.#derive(kind, b.subarray(13, 29));
      if (this.#theirs.size >= 4096) this.#theirs.clear(); // one per sending process: a flood only costs derivations
      this.#theirs.set(`${kind}:${saltHex}`, key);
    }
    try {
      const d = createDecipheriv('aes-256-gcm', key, b.subarray(29, HEADER_BYTES));
      d.setAAD(Buffer.concat([b.subarray(0, HEADER_BYTES), context]));
      d.setAuthTag(b.subarray(b.length - TAG_BYTES));
      const body = d.update(b.subarray(HEADER_BYTES, b.length - TAG_BYTES));
      d.final();
      return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    } catch (err) {
      throw syncError(SyncErrorCode.FLEET_BAD_ENTRY, 'a sealed fleet message failed authentication', undefined, err);
    }
  }

  #derive(kind: SealKind, salt: Uint8Array): KeyObject {
    return createSecretKey(Buffer.from(hkdfSync('sha256', this.#key, salt, `profilesync/fleet/v1/${LABEL[kind]}`, 32)));
  }
}

/** The AAD context of a change entry: its shard (big-endian u16). */
export function shardContext(shard: number): Uint8Array {
  return Uint8Array.of((shard >> 8) & 0xff, shard & 0xff);
}

export function textContext(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
