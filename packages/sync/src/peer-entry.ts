/** A configured peer's runtime state in the service, its status view, and small helpers. */
import type { Duplex } from 'node:stream';
import { INITIAL_BACKOFF, type BackoffState } from './backoff.js';
import type { PeerConnection } from './connection.js';
import { CloseCode } from './errors.js';
import type { PeerInfo } from './peers.js';

export type PeerStatus = {
  id: string;
  url: string | null;
  name: string | null;
  publicKey: string;
  fingerprint: string;
  /** standing: kept connected; on-demand: connected only to repair (fleet members while the bus works) */
  mode: 'standing' | 'on-demand';
  /** a fleet member found through the bus */
  fleet: boolean;
  connected: boolean;
  direction: 'inbound' | 'outbound' | null;
  state: 'connected' | 'connecting' | 'backoff' | 'idle';
  /** ISO-8601 time of the last frame or pong from the peer in an established session; null when never seen (a refused handshake is not "seen") */
  lastSeen: string | null;
  /** profiles with work outstanding for this peer (changed here while it was away, pulls, queued or dropped updates) */
  pending: number;
  /**
   * How far behind this node the peer is, in ms: the age of the oldest change here that the
   * peer has not confirmed yet (by a converged digest round); 0 when none is outstanding.
   */
  lagMillis: number;
  lastError: string | null;
  /** with lastError SYNC_CONNECTION_LOST: the socket's errno (ECONNREFUSED, ECONNRESET, ...; HTTP_<status> when a web server answered), when there was one */
  lastErrno: string | null;
  nextRetryAt: string | null;
  session: string | null;
};

export interface PeerEntry extends PeerInfo {
  /** the open session (undefined while disconnected) */
  conn: PeerConnection | undefined;
  dialing: PeerConnection | undefined;
  backoff: BackoffState;
  timer: ReturnType<typeof setTimeout> | undefined;
  nextRetryAt: number | undefined;
  lastSeen: number | undefined;
  lastError: string | undefined;
  lastErrno: string | undefined;
  /** dials in a row that never became a session (reset by a session); the first one of an outage logs at warn */
  failedDials: number;
  /** lastError/lastErrno of the last backoff line logged at warn (a new reason logs at warn again) */
  warnedFor: string | undefined;
  changed: Set<string>;
  /** clock time of the oldest entry of `changed` (undefined while it is empty) */
  behindSince: number | undefined;
  waiters: (() => void)[];
  removed: boolean;
  /** repairWith calls in progress on this peer */
  repairs: number;
  /** messages seen on the session at the last idle check, and since when that count stands */
  idleMark: { count: number; since: number } | undefined;
}

export function newPeerEntry(info: PeerInfo): PeerEntry {
  return { ...info, conn: undefined, dialing: undefined, backoff: INITIAL_BACKOFF, timer: undefined, nextRetryAt: undefined, lastSeen: undefined, lastError: undefined, lastErrno: undefined, failedDials: 0, warnedFor: undefined, changed: new Set(), behindSince: undefined, waiters: [], removed: false, repairs: 0, idleMark: undefined };
}

/** Records that the peer has not seen profile `id` as it is here now. */
export function markChanged(e: PeerEntry, id: string, now: number): void {
  if (e.changed.size === 0) e.behindSince = now;
  e.changed.add(id);
}

/** A converged round: the peer holds everything this node had when the round began. */
export function markCaughtUp(e: PeerEntry): void {
  e.changed.clear();
  e.behindSince = undefined;
}

export function peerStatus(e: PeerEntry, now: number): PeerStatus {
  const c = e.conn;
  const pending = new Set<string>(e.changed);
  if (c?.engine) for (const id of c.engine.pendingIds()) pending.add(id);
  const seen = c?.lastSeen ?? e.lastSeen;
  return {
    id: e.id,
    url: e.url ?? null,
    name: e.name,
    publicKey: e.publicKeyText,
    fingerprint: e.fingerprint,
    mode: e.mode,
    fleet: e.fleet,
    connected: c !== undefined,
    direction: c?.direction ?? null,
    state: c ? 'connected' : e.dialing ? 'connecting' : e.timer ? 'backoff' : 'idle',
    lastSeen: seen === undefined ? null : new Date(seen).toISOString(),
    pending: pending.size,
    lagMillis: e.behindSince === undefined ? 0 : Math.max(0, now - e.behindSince),
    lastError: e.lastError ?? null,
    lastErrno: e.lastErrno ?? null,
    nextRetryAt: e.timer && e.nextRetryAt !== undefined ? new Date(e.nextRetryAt).toISOString() : null,
    session: c?.sessionId ?? null,
  };
}

/** Close codes that mean the peer sent a bad frame or message (not a transport or local failure). */
export function isGarbageClose(code: number): boolean {
  return code === CloseCode.BAD_MESSAGE || code === CloseCode.UNPROCESSABLE || code === CloseCode.FRAME_REJECTED || code === CloseCode.TOO_LARGE;
}

export function rejectUpgrade(socket: Duplex, status: number, code: string): void {
  const body = JSON.stringify({ error: { code, message: 'the sync service is closed' } });
  socket.end(`HTTP/1.1 ${status} Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

