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
