/**
 * One peer WebSocket: the three handshake messages, then sealed frames (one per message
 * fragment). The accepting side is established once the dialer's finish message verifies;
 * the dialing side once the first frame from the acceptor opens (so nothing but the handshake
 * goes to a node that has not accepted us). Any crypto failure closes with its code.
 */
import type { WebSocket } from 'ws';
import {
  HandshakeInitiator,
  HandshakeResponder,
  type AllowPolicy,
  type HandshakeReplayGuard,
  type HandshakeResult,
  type NodeIdentity,
  type SecureSession,
} from '@profilesync/crypto';
import { codeOf, CloseCode, closeCodeFor, SyncErrorCode } from './errors.js';
import type { EngineLink, SyncEngine } from './engine.js';
import { fragment, Reassembler } from './fragment.js';
import { monoMs } from './events.js';

export interface ConnectionOptions {
  ws: WebSocket;
  direction: 'inbound' | 'outbound';
  remote: string;
  identity: NodeIdentity;
  isAllowed: AllowPolicy;
  networkKey?: Uint8Array;
  replayGuard?: HandshakeReplayGuard;
  maxFrameBytes: number;
  maxMessageBytes: number;
  handshakeTimeoutMs: number;
  pingIntervalMs: number;
  clock: () => number;
  /** the session is authenticated both ways; return false to refuse it (already closed) */
  onEstablished(conn: PeerConnection): void;
  onHandshakeFailed(conn: PeerConnection, code: string, peerFingerprint?: string): void;
  /**
   * The socket ended before a single handshake byte came from the other side, and without a
   * close reason: nothing answered (refused, unreachable, reset, lost). Not a handshake failure:
   * no key was checked. `errno` is the socket error (ECONNREFUSED, ECONNRESET, ...), when one.
   */
  onUnreachable(conn: PeerConnection, errno: string | undefined): void;
  /** local: this side closed it (then reason is our error code) */
  onClosed(conn: PeerConnection, info: { code: number; reason: string; clean: boolean; local: boolean }): void;
}

export type ConnectionState = 'handshake' | 'confirming' | 'open' | 'closed';

export class PeerConnection implements EngineLink {
  readonly direction: 'inbound' | 'outbound';
  readonly remote: string;
  readonly stats = { wsSent: 0, wsReceived: 0, framesSent: 0, framesReceived: 0 };
  peerPublicKey: Uint8Array | undefined;
  peerFingerprint: string | undefined;
  sessionId: string | undefined;
  establishedAt: number | undefined;
  /** monotonic time the session was established (for durations) */
  establishedMono: number | undefined;
  lastSeen: number | undefined;
  engine: SyncEngine | undefined;
  /** set by the service once the session is attached to a configured peer */
  peerId: string | undefined;
  readonly #o: ConnectionOptions;
  readonly #ws: WebSocket;
  #state: ConnectionState = 'handshake';
  #initiator: HandshakeInitiator | undefined;
  #responder: HandshakeResponder | undefined;
  #session: SecureSession | undefined;
  #handshakeMs = 0;
  readonly #reassembler: Reassembler;
  #early: Uint8Array[] = [];
  #gotGoodbye = false;
  #responderReplied = false;
  #closeCode: number | undefined;
  #closeReason = '';
  #alive = true;
  #bufferWaiters: { bytes: number; resolve: () => void }[] = [];
  readonly #timers: ReturnType<typeof setTimeout>[] = [];
  readonly #started = monoMs();
  /** the socket's error: its errno (ECONNREFUSED, ...), or HTTP_<status> for a non-WebSocket answer */
  #socketError: string | undefined;

  constructor(opts: ConnectionOptions) {
    this.#o = opts;
    this.#ws = opts.ws;
    this.direction = opts.direction;
    this.remote = opts.remote;
    this.#reassembler = new Reassembler(opts.maxMessageBytes);
    const hsOpts = { identity: opts.identity, isAllowed: opts.isAllowed, session: { maxFrameBytes: opts.maxFrameBytes }, ...(opts.networkKey ? { networkKey: opts.networkKey } : {}) };
    if (opts.direction === 'outbound') this.#initiator = new HandshakeInitiator(hsOpts);
    else this.#responder = new HandshakeResponder({ ...hsOpts, ...(opts.replayGuard ? { replayGuard: opts.replayGuard } : {}) });
    const t = setTimeout(() => this.#handshakeTimeout(), opts.handshakeTimeoutMs);
    t.unref?.();
    this.#timers.push(t);
    this.#ws.on('message', (data, isBinary) => this.#onMessage(toBytes(data), isBinary));
    this.#ws.on('close', (code, reason) => this.#onClose(code, reason.toString('utf8')));
    this.#ws.on('error', (err) => (this.#socketError ??= socketErrorOf(err))); // 'close' follows
    this.#ws.on('pong', () => {
      this.#alive = true;
      this.lastSeen = opts.clock();
    });
    if (opts.direction === 'outbound') {
      if (this.#ws.readyState === this.#ws.OPEN) this.#sendHello();
      else this.#ws.once('open', () => this.#sendHello());
    }
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  get handshakeMillis(): number {
    return this.#handshakeMs;
  }

  // --- EngineLink ----------------------------------------------------------------

  send(message: Uint8Array, onFlushed?: () => void): void {
    const s = this.#session;
    if (!s || s.isClosed || this.#ws.readyState !== this.#ws.OPEN) return;
    const parts = fragment(message, s.maxFrameBytes);
    for (let i = 0; i < parts.length; i++) {
      const frame = s.seal(parts[i] as Uint8Array);
      const last = i === parts.length - 1;
      this.stats.framesSent++;
      this.stats.wsSent++;
      this.#ws.send(frame, { binary: true }, () => {
        if (last) onFlushed?.();
        this.#wakeBufferWaiters();
      });
    }
  }

  bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  waitBuffered(bytes: number): Promise<void> {
    if (this.#state === 'closed' || this.#ws.bufferedAmount <= bytes) return Promise.resolve();
    return new Promise((resolve) => this.#bufferWaiters.push({ bytes, resolve }));
  }

  /** Stops reading from the socket (TCP backpressure on the peer); resumeReading() undoes it. */
  pauseReading(): void {
    this.#ws.pause();
  }

  resumeReading(): void {
    this.#ws.resume();
  }

    fail(code: string, _message: string): void {
    this.close(closeCodeFor(code), code);
  }

  // --- lifecycle -------------------------------------------------------------------

  /** Sends the goodbye frame (when a session exists) and closes the socket. */
  close(code: number, reason: string): void {
    if (this.#state === 'closed' || this.#closeCode !== undefined) return;
    this.#closeCode = code;
    this.#closeReason = reason;
    const s = this.#session;
    try {
      if (s && !s.isClosed && this.#ws.readyState === this.#ws.OPEN) this.#ws.send(s.goodbye(), { binary: true });
    } catch {
      /* session already failed: close without goodbye */
    }
    try {
      this.#ws.close(code, reason.slice(0, 120));
    } catch {
      this.#ws.terminate();
    }
    const t = setTimeout(() => this.#ws.terminate(), 2_000);
    t.unref?.();
    this.#timers.push(t);
  }

  /** Resolves once the socket is closed. */
  closed(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    return new Promise((resolve) => this.#ws.once('close', () => resolve()));
  }

  #sendHello(): void {
    try {
      this.#wsSend(this.#initiator!.hello());
    } catch (err) {
      this.#handshakeError(err);
    }
  }

  #wsSend(bytes: Uint8Array): void {
    this.stats.wsSent++;
    this.#ws.send(bytes, { binary: true });
  }

  #onMessage(bytes: Uint8Array, isBinary: boolean): void {
    if (this.#state === 'closed' || this.#closeCode !== undefined) return;
    this.stats.wsReceived++;
    this.lastSeen = this.#o.clock();
    if (!isBinary) return this.close(CloseCode.BAD_MESSAGE, SyncErrorCode.BAD_MESSAGE);
    if (this.#state === 'handshake') return this.#onHandshakeMessage(bytes);
    this.#onFrame(bytes);
  }

  #onHandshakeMessage(bytes: Uint8Array): void {
    try {
      if (this.#initiator) {
        const { message, result } = this.#initiator.finish(bytes);
        this.#wsSend(message);
        this.#ready(result, 'confirming');
      } else if (!this.#responderReplied) {
        this.#responderReplied = true;
        this.#wsSend(this.#responder!.reply(bytes));
      } else {
        this.#ready(this.#responder!.finish(bytes), 'open');
      }
    } catch (err) {
      this.#handshakeError(err);
    }
  }

  #ready(result: HandshakeResult, state: ConnectionState): void {
    this.#session = result.session;
    this.peerPublicKey = result.peerPublicKey;
    this.peerFingerprint = result.peerFingerprint;
    this.sessionId = result.session.id;
    this.#handshakeMs = result.durationMillis;
    this.#state = state;
    if (state === 'open') this.#established();
  }

  #established(): void {
    this.establishedAt = this.#o.clock();
    this.establishedMono = monoMs();
    for (const t of this.#timers.splice(0)) clearTimeout(t);
    const ping = setInterval(() => {
      if (!this.#alive) {
        this.#closeCode ??= CloseCode.INTERNAL;
        this.#closeReason ||= SyncErrorCode.PING_TIMEOUT;
        this.#ws.terminate();
        return;
      }
      this.#alive = false;
      try {
        this.#ws.ping();
      } catch {
        /* closing */
      }
    }, this.#o.pingIntervalMs);
    ping.unref?.();
    this.#timers.push(ping as unknown as ReturnType<typeof setTimeout>);
    this.#o.onEstablished(this);
    if (this.#state !== 'open') return;
    for (const m of this.#early.splice(0)) this.engine?.receive(m);
  }

  #onFrame(frame: Uint8Array): void {
    const s = this.#session!;
    let opened;
    try {
      opened = s.open(frame);
    } catch (err) {
      return this.close(closeCodeFor(codeOf(err)), codeOf(err));
    }
    this.stats.framesReceived++;
    if (opened.type === 'goodbye') {
      this.#gotGoodbye = true;
      return;
    }
    let message: Uint8Array | undefined;
    try {
      message = this.#reassembler.push(opened.data);
    } catch (err) {
      return this.close(closeCodeFor(codeOf(err)), codeOf(err));
    }
    if (message === undefined) return;
    if (this.#state === 'confirming') {
      // the acceptor's first frame: it verified us; now we are established
      this.#early.push(message);
      this.#state = 'open';
      this.#established();
      return;
    }
    if (this.engine) this.engine.receive(message);
    else this.#early.push(message);
  }

  #handshakeTimeout(): void {
    if (this.#state !== 'handshake' && this.#state !== 'confirming') return;
    this.#o.onHandshakeFailed(this, SyncErrorCode.HANDSHAKE_TIMEOUT, this.peerFingerprint);
    this.close(CloseCode.HANDSHAKE_TIMEOUT, SyncErrorCode.HANDSHAKE_TIMEOUT);
  }

  #handshakeError(err: unknown): void {
    const code = codeOf(err);
    const fp = (err as { details?: { peerFingerprint?: string } }).details?.peerFingerprint;
    this.#o.onHandshakeFailed(this, code, fp);
    this.close(closeCodeFor(code), code);
  }

  #wakeBufferWaiters(): void {
    if (this.#bufferWaiters.length === 0) return;
    const buffered = this.#ws.bufferedAmount;
    const ready = this.#bufferWaiters.filter((w) => buffered <= w.bytes);
    if (ready.length === 0) return;
    this.#bufferWaiters = this.#bufferWaiters.filter((w) => buffered > w.bytes);
    for (const w of ready) w.resolve();
  }

  #onClose(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    for (const t of this.#timers.splice(0)) clearTimeout(t);
    for (const w of this.#bufferWaiters.splice(0)) w.resolve();
    this.engine?.stop();
    this.#session?.destroy();
    // our own close code wins (the peer may echo it or not); else the peer's
    const finalCode = this.#closeCode ?? code;
    const finalReason = this.#closeCode !== undefined ? this.#closeReason : reason;
    if (!wasOpen && this.#closeCode === undefined) {
      // never connected, or lost before the other side said anything: nothing answered (no key
      // was checked); else closed during the handshake by the other side (e.g. it refused our key)
      if (reason === '' && this.stats.wsReceived === 0) this.#o.onUnreachable(this, this.#socketError);
      else this.#o.onHandshakeFailed(this, reason || SyncErrorCode.CONNECTION_LOST, this.peerFingerprint);
    }
    this.#o.onClosed(this, { code: finalCode, reason: finalReason, clean: this.#gotGoodbye, local: this.#closeCode !== undefined });
  }

  get sinceStartMillis(): number {
    return monoMs() - this.#started;
  }
}

/** ECONNREFUSED and the like; HTTP_404 when a web server answered instead of a /sync endpoint. */
function socketErrorOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code;
  const status = /Unexpected server response: (\d{3})/.exec(String((err as Error | undefined)?.message ?? ''));
  return status ? `HTTP_${status[1]}` : undefined;
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  return new Uint8Array(data as ArrayBuffer);
}
