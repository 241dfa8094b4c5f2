/** The port between a protocol engine and its transport, and the engine's options. */
import type { ProfileStore } from '@profilesync/core';
import type { StateDigest } from './digest.js';
import type { SyncEmitter, SyncLogger } from './events.js';

export interface EngineLink {
  /** sends one message (ordered, reliable on a real link); `onFlushed` runs once it left the process */
  send(message: Uint8Array, onFlushed?: () => void): void;
  /** bytes accepted by send() and not yet written to the network */
  bufferedBytes(): number;
  /** resolves once bufferedBytes() <= bytes, or the link closed */
  waitBuffered(bytes: number): Promise<void>;
  /** ends the session because of `code` (a stable error code; the close code follows from it) */
  fail(code: string, message: string): void;
  /** optional inbound flow control: stop / restart reading from the peer */
  pauseReading?(): void;
  resumeReading?(): void;
}

/** Inbound messages held before the engine stops reading from the socket (resumes at half). */
export const MAX_INBOX_MESSAGES = 4096;
/** ...or bytes (whichever comes first): one message of maxMessageBytes (64 MiB) still gets in whole. */
export const MAX_INBOX_BYTES = 64 * 1024 * 1024;

export interface EngineLimits {
  /** per-connection send queue limit in bytes (live updates over it are dropped -> resync) */
  queueBytes: number;
  /** concurrent store applies per connection */
  maxInflightApplies: number;
  /** a digest round that takes longer is abandoned (a new one may start) */
  roundTimeoutMs: number;
  /** rounds run automatically after connect / overflow before giving up until the next trigger */
  autoRounds: number;
  /**
   * bytes of peer state vectors held as merge context for STEP2s still to come (default
   * MAX_MERGE_CONTEXT_BYTES); over it, a STEP2 merges without one, as a live update
   */
  maxMergeContextBytes?: number;
  /** bytes of updates in concurrent store applies (default MAX_INBOX_BYTES); over it the session handles nothing more until applies finish */
  maxInflightBytes?: number;
}

/** Default of EngineLimits.maxMergeContextBytes: far above what a real round holds (a few dozen bytes per differing profile). */
export const MAX_MERGE_CONTEXT_BYTES = 64 * 1024 * 1024;

export interface EngineOptions {
  store: ProfileStore;
  digest: StateDigest;
  peerId: string;
  fingerprint: string;
  link: EngineLink;
  events: SyncEmitter;
  logger: SyncLogger;
  limits: EngineLimits;
}

