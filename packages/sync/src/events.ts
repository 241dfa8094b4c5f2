import { Emitter } from '@profilesync/errors';

/** Typed events of the sync service, each with durationMillis; metrics and logs subscribe. */
export interface SyncEvents {
  /** a peer session finished its handshake (durationMillis: handshake time) */
  'peer-connected': { peerId: string; fingerprint: string; direction: 'inbound' | 'outbound'; session: string; durationMillis: number };
  /** a peer session ended (durationMillis: how long it was up; 0 when it never was) */
  'peer-disconnected': { peerId: string | null; direction: 'inbound' | 'outbound'; code: number; reason: string; clean: boolean; durationMillis: number };
  /** a handshake was refused or failed (unknown key, timeout, bad message) */
  'handshake-failed': { remote: string; direction: 'inbound' | 'outbound'; code: string; peerFingerprint?: string; durationMillis: number };
  /** one digest round with a peer ended (converged: the roots matched) */
  'sync-round': { peerId: string; round: number; converged: boolean; differing: number; pulled: number; durationMillis: number };
  /** an update from a peer or a /yjs client went through store.applyRemoteUpdate */
  'update-received': { source: 'peer' | 'yjs'; from: string; id: string; bytes: number; applied: boolean; durationMillis: number };
  /** an update was refused by the store (validation) or could not be decoded */
  'update-rejected': { source: 'peer' | 'yjs'; from: string; id: string; code: string; durationMillis: number };
  /** updates for a slow peer were dropped; it will catch up through a digest round */
  'queue-overflow': { peerId: string; droppedBytes: number; bufferedBytes: number; durationMillis: number };
  'yjs-connected': { id: string; actor: string; readOnly: boolean; durationMillis: number };
  'yjs-disconnected': { id: string; actor: string; code: number; reason: string; durationMillis: number };
  /** fleet: a change (or a whole state, republished) went onto the bus */
  'fleet-published': { shard: number; bytes: number; state: boolean; durationMillis: number };
  /** fleet: a publish failed; the profile is marked and republished when the bus is back */
  'fleet-publish-failed': { id: string; code: string; durationMillis: number };
  /** fleet: an entry from another member went through store.applyRemoteUpdate (lagMillis: since the bus took it) */
  'fleet-applied': { shard: number; from: string; id: string; applied: boolean; lagMillis: number; durationMillis: number };
  /** fleet: an entry was refused by the store's validation (audited there) */
  'fleet-rejected': { shard: number; from: string; id: string; code: string; durationMillis: number };
  /** fleet: a shard could not deliver everything after this node's cursor; it reads on and a repair runs */
  'fleet-shard-reset': { shard: number; reason: 'epoch' | 'trimmed' | 'bad-entry' | 'key-mismatch' | 'apply-failed'; durationMillis: number };
  /** fleet: a digest repair over /sync with the live members ended */
  'fleet-repair': { reason: string; members: number; failed: number; durationMillis: number };
  /** fleet: the bus connection changed (durationMillis: how long it was in the other state) */
  'fleet-bus': { connected: boolean; durationMillis: number };
  /** fleet: this node caught up (once per start) */
  'fleet-ready': { durationMillis: number };
  'fleet-member': { id: string; url: string; change: 'joined' | 'left'; durationMillis: number };
  /** fleet: standing /sync sessions with seed members while the bus is away (active) or not anymore */
  'fleet-fallback': { active: boolean; seeds: string[]; durationMillis: number };
}

export type SyncEventName = keyof SyncEvents;
/** The sync service's emitter (the shared typed emitter; throwing listeners become warnings, never break sync). */
export class SyncEmitter extends Emitter<SyncEvents> {
  constructor() {
    super('@profilesync/sync');
  }
}

/** pino-compatible logger slice. */
export interface SyncLogger {
  debug?(obj: Record<string, unknown>, msg?: string): void;
  info?(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

export const silentLogger: SyncLogger = { warn: () => undefined, error: () => undefined };

export function monoMs(): number {
  return performance.now();
}
