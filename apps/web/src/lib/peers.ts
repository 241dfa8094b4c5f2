/**
 * Peers in words: why a peer is not connected (it refuses our key, nothing answers, it backs
 * off until ...), how far behind it is, when it was last seen, and what "Sync now" did.
 * Pure functions of GET /api/peers rows and POST /api/sync reports.
 */
import { humanDuration } from './list.js';
import type { PeerInfo, SyncReport } from './types.js';

export interface PeerState {
  tone: 'ok' | 'warn' | 'bad';
  /** one short phrase: "Connected", "Refused our key", "Unreachable", ... */
  label: string;
  /** a sentence: what is going on and what to do */
  detail: string;
}

/** What the socket error of an unreachable peer's last dial says, in a sentence (undefined: nothing more to say). */
function explainErrno(errno: string | null | undefined, url: string): { label: string; detail: string } | undefined {
  const http = /^HTTP_(\d{3})$/.exec(errno ?? '');
  if (http) {
    return { label: 'Not a sync endpoint', detail: `A web server at ${url} answered HTTP ${http[1]} instead of taking the connection: check the path (it ends in /sync) and that a proxy in between passes WebSockets.` };
  }
  switch (errno) {
    case 'ECONNREFUSED':
      return { label: 'Unreachable', detail: `Connection refused at ${url}: nothing listens on that port (the node is down, or the port is wrong).` };
    case 'ENOTFOUND':
      return { label: 'Unknown host', detail: `The host name of ${url} does not resolve: check its spelling or your DNS.` };
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { label: 'Unreachable', detail: `No answer from ${url} (${errno}): the host is down or a firewall drops the connection.` };
    case 'ECONNRESET':
      return { label: 'Connection reset', detail: `${url} closed the connection at once (${errno}): a proxy or firewall in between, or the node was stopping.` };
    default:
      return undefined;
  }
}

/** What a failure code (and the socket error of the last dial) means for a person, and what to do about it. */
export function explainPeerError(code: string | null | undefined, url: string, errno?: string | null): { label: string; detail: string } {
  switch (code) {
    case 'CRYPTO_PEER_UNKNOWN':
      return { label: 'Refused our key', detail: `The peer answered but does not accept this node's key. Add this node on the peer (its Peers page, or profilesync peer add) with the key shown under "This node".` };
    case 'SYNC_CONNECTION_LOST':
    case 'SYNC_PING_TIMEOUT':
      return (code === 'SYNC_CONNECTION_LOST' ? explainErrno(errno, url) : undefined) ?? { label: 'Unreachable', detail: `Nothing answered at ${url}. Check that the node runs and that the URL (host, port, /sync path) is right.` };
    case 'SYNC_HANDSHAKE_TIMEOUT':
      return { label: 'No handshake', detail: `${url} accepted the connection but did not complete the handshake in time (a proxy in between, or an overloaded node).` };
    case 'CRYPTO_NETWORK_MISMATCH':
    case 'CRYPTO_HANDSHAKE_FAILED':
    case 'CRYPTO_HANDSHAKE_REPLAY':
      return { label: 'Handshake refused', detail: 'The handshake failed: the nodes use different network keys, or the key given for the peer is not its key.' };
    case 'CRYPTO_VERSION_MISMATCH':
    case 'SYNC_PROTOCOL_UNSUPPORTED':
      return { label: 'Other version', detail: 'The peer speaks another protocol version: upgrade one of the nodes.' };
    case 'SYNC_BUSY':
      return { label: 'Peer busy', detail: 'The peer has too many handshakes in progress; this node retries.' };
    case 'SYNC_PEER_REMOVED':
      return { label: 'Removed us', detail: 'The peer removed this node from its peers.' };
    case undefined:
    case null:
      return { label: 'Not connected', detail: 'No connection yet.' };
    default:
      return { label: 'Failed', detail: `The last attempt failed with ${code}.` };
  }
}

/** The peer's state in words at time `now` (ms). */
export function peerState(p: PeerInfo, syncAvailable: boolean, now: number): PeerState {
  if (!syncAvailable || p.state === 'unavailable') return { tone: 'warn', label: 'Sync off', detail: 'Peer sync is not running on this node, so no peer is dialed.' };
  if (p.connected) {
    const behind = p.lagMillis !== undefined && p.lagMillis > 0;
    return {
      tone: 'ok',
      label: 'Connected',
      detail: p.pending === 0 && !behind ? 'Up to date.' : `${p.pending} profile${p.pending === 1 ? '' : 's'} to exchange${behind ? `; ${lagText(p.lagMillis)}` : ''}.`,
    };
  }
  if (p.state === 'connecting') return { tone: 'warn', label: 'Connecting…', detail: `Dialing ${p.url}.` };
  const why = explainPeerError(p.lastError, p.url, p.lastErrno);
  if (p.state === 'backoff' && p.nextRetryAt) {
    const at = Date.parse(p.nextRetryAt);
    const wait = Number.isNaN(at) ? '' : ` Backing off: next try at ${new Date(at).toLocaleTimeString()} (in ${humanDuration(Math.max(0, at - now))}).`;
    return { tone: 'bad', label: why.label, detail: `${why.detail}${wait}` };
  }
  if (!p.url) return { tone: 'warn', label: 'Waiting', detail: 'This peer has no URL to dial: it connects to this node.' };
  return { tone: p.lastError ? 'bad' : 'warn', label: why.label, detail: why.detail };
}

/** "1 min 15 s behind" (lag in human units), or "up to date". */
export function lagText(lagMillis: number | undefined): string {
  if (lagMillis === undefined || lagMillis <= 0) return 'up to date';
  return `${humanDuration(lagMillis)} behind`;
}

/** "never", "just now", "12 s ago", "3 min ago" (+ the clock time when older than a minute). */
export function seenText(lastSeen: string | null, now: number): string {
  if (!lastSeen) return 'never';
  const at = Date.parse(lastSeen);
  if (Number.isNaN(at)) return lastSeen;
  const ago = now - at;
  if (ago < 2000) return 'just now';
  const rel = `${humanDuration(ago)} ago`;
  return ago < 60_000 ? rel : `${rel} (${new Date(at).toLocaleString()})`;
}

/** What "Sync now" did, in one message; `peers` names and explains the ones that failed. */
export function syncMessage(r: SyncReport, peers: readonly PeerInfo[]): { kind: 'info' | 'error'; text: string } {
  if (r.peers.length === 0) return { kind: 'error', text: 'There are no peers to sync with: add one under "Add a peer".' };
  if (r.converged) return { kind: 'info', text: `In sync with ${r.peers.length} peer${r.peers.length === 1 ? '' : 's'} (${Math.round(r.durationMillis)} ms).` };
  const parts = r.peers
    .filter((x) => !x.ok)
    .map((x) => {
      const p = peers.find((q) => q.id === x.id);
      const name = p?.name ?? x.id;
      if (x.code === 'SYNC_NOT_CONNECTED') {
        const code = p?.lastError ?? /\(([A-Z0-9_]+)\)/.exec(x.message ?? '')?.[1];
        const why = explainPeerError(code, p?.url ?? 'its URL', p?.lastErrno);
        return `${name} is not connected: ${why.label.toLowerCase()}. ${why.detail}`;
      }
      if (x.code === 'SYNC_TIMEOUT') return `${name} did not finish a sync round in time; it keeps syncing in the background.`;
      return `${name}: ${x.code ?? 'failed'}${x.message ? ` (${x.message})` : ''}`;
    });
  return { kind: 'error', text: `Sync did not complete. ${parts.join(' ')}` };
}
