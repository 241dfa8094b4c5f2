/** Limits and timeouts of the sync service, with defaults, plus the audit rate policy. */
import { DEFAULT_MAX_FRAME_BYTES } from '@profilesync/crypto';
import { SyncErrorCode, syncError } from './errors.js';

export interface SyncLimits {
  /** largest frame payload (plaintext); ws maxPayload is this + 25 (frame overhead) */
  maxFrameBytes: number;
  /** largest application message after reassembly of fragments */
  maxMessageBytes: number;
  /** per-connection send queue (ws.bufferedAmount) before live updates are dropped for a resync */
  queueBytes: number;
  /** concurrent store applies per peer session */
  maxInflightApplies: number;
  handshakeTimeoutMs: number;
  /** inbound sessions still in their handshake; more are refused with 4429 */
  maxPendingHandshakes: number;
  pingIntervalMs: number;
  roundTimeoutMs: number;
  /** automatic digest rounds after connect / overflow when a round does not converge */
  autoRounds: number;
  /** periodic digest round with every connected peer (0 = off) */
  antiEntropyMs: number;
  /** an on-demand session this node dialed (a repair) is closed after this long without messages */
  onDemandIdleMs: number;
  /** /yjs: largest ws message */
  yjsMaxMessageBytes: number;
  /** /yjs: per-client send buffer before the client is closed as too slow (4529) */
  yjsQueueBytes: number;
  /** /yjs: time to send the first-message auth when no ?token= is given */
  yjsAuthTimeoutMs: number;
  /** /yjs: messages held per client while it authenticates and its room loads */
  yjsMaxQueuedMessages: number;
}

export const DEFAULT_LIMITS: SyncLimits = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxMessageBytes: 64 * 1024 * 1024,
  queueBytes: 8 * 1024 * 1024,
  maxInflightApplies: 256,
  handshakeTimeoutMs: 10_000,
  maxPendingHandshakes: 64,
  pingIntervalMs: 30_000,
  roundTimeoutMs: 120_000,
  autoRounds: 3,
  antiEntropyMs: 300_000,
  onDemandIdleMs: 5_000,
  yjsMaxMessageBytes: 16 * 1024 * 1024,
  yjsQueueBytes: 16 * 1024 * 1024,
  yjsAuthTimeoutMs: 5_000,
  yjsMaxQueuedMessages: 1_000,
};

export function resolveLimits(over: Partial<SyncLimits> | undefined): SyncLimits {
  const out = { ...DEFAULT_LIMITS, ...(over ?? {}) };
  for (const [k, v] of Object.entries(out)) {
    const min = k === 'antiEntropyMs' || k === 'autoRounds' ? 0 : 1;
    if (!Number.isSafeInteger(v) || v < min) throw syncError(SyncErrorCode.INVALID_ARGUMENT, `limits.${k} must be an integer >= ${min}`, { field: `limits.${k}` });
  }
  if (out.maxFrameBytes < 64) throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'limits.maxFrameBytes must be >= 64', { field: 'limits.maxFrameBytes' });
  return out;
}

/** Token bucket for audit records of refused handshakes (an unknown node may retry forever). */
export interface AuditBucket {
  tokens: number;
  at: number;
  suppressed: number;
}

export function takeAuditToken(b: AuditBucket, now: number, perSecond: number, burst: number): { allowed: boolean; bucket: AuditBucket } {
  const tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * perSecond);
  if (tokens >= 1) return { allowed: true, bucket: { tokens: tokens - 1, at: now, suppressed: 0 } };
  return { allowed: false, bucket: { tokens, at: now, suppressed: b.suppressed + 1 } };
}
