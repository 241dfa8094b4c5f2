/** Peer configuration helpers: ids, URLs, validation and the duplicate-connection tie-break (pure). */
import { createHash } from 'node:crypto';
import { encodePublicKey, fingerprint, parsePublicKey } from '@profilesync/crypto';
import { SyncErrorCode, syncError } from './errors.js';

/** A configured peer: its URL (optional: it may only dial us) and its Ed25519 public key. */
export interface PeerConfig {
  /** stable id; default: first 12 hex chars of SHA-256(public key), as the server's peerIdFor */
  id?: string;
  /** ws:// or wss:// URL of the peer node; a bare origin gets the path /sync */
  url?: string | null;
  /** base64url Ed25519 public key (`profilesync keys show`); `key` is accepted too */
  publicKey?: string;
  key?: string;
  name?: string | null;
  /**
   * standing (default): dialed at once and redialed after every loss. on-demand: allowed in
   * both directions but dialed only when asked (repairWith, syncNow, connect) and never redialed;
   * a session this node dialed closes once idle (fleet members while the bus carries changes).
   */
  mode?: PeerMode;
  /** a fleet member found through the bus (not configured by the operator) */
  fleet?: boolean;
}

export type PeerMode = 'standing' | 'on-demand';

export interface PeerInfo {
  id: string;
  url: string | undefined;
  publicKey: Uint8Array;
  publicKeyText: string;
  fingerprint: string;
  name: string | null;
  mode: PeerMode;
  fleet: boolean;
}

export function peerIdFor(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, 12);
}

/** The /sync URL of a peer URL (ws/wss only); a URL with no path gets '/sync'. */
export function syncUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'a peer url must be a ws:// or wss:// URL', { field: 'url' });
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'a peer url must be a ws:// or wss:// URL', { field: 'url' });
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/sync';
  return u.toString();
}

export function validatePeer(p: PeerConfig): PeerInfo {
  if (p === null || typeof p !== 'object') throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'a peer is { url?, publicKey }', { field: 'peer' });
  const text = p.publicKey ?? p.key;
  let publicKey: Uint8Array;
  try {
    if (typeof text !== 'string') throw new Error('missing');
    publicKey = parsePublicKey(text);
  } catch (err) {
    throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'a peer needs a base64url Ed25519 public key (43 characters)', { field: 'publicKey' }, err);
  }
  const url = p.url === undefined || p.url === null || p.url === '' ? undefined : syncUrl(p.url);
  const id = p.id ?? peerIdFor(publicKey);
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'a peer id is 1..64 of [A-Za-z0-9._-]', { field: 'id' });
  const mode = p.mode ?? 'standing';
  if (mode !== 'standing' && mode !== 'on-demand') throw syncError(SyncErrorCode.INVALID_ARGUMENT, "a peer's mode is 'standing' or 'on-demand'", { field: 'mode' });
  return { id, url, publicKey, publicKeyText: encodePublicKey(publicKey), fingerprint: fingerprint(publicKey), name: p.name ?? null, mode, fleet: p.fleet === true };
}

export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/**
 * Two sessions between the same pair of nodes: keep the one dialed by the node with the
 * smaller public key (both ends compute the same answer). Two sessions dialed by the same
 * node: keep the newer one (the older is a half-dead leftover).
 */
export function keepSession(existing: { initiatorKey: Uint8Array }, incoming: { initiatorKey: Uint8Array }): 'existing' | 'incoming' {
  const c = compareKeys(existing.initiatorKey, incoming.initiatorKey);
  if (c === 0) return 'incoming';
  return c < 0 ? 'existing' : 'incoming';
}
