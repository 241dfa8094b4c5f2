/**
 * createSyncService: the node's sync endpoints. /sync carries the encrypted peer protocol
 * (dialing configured peers with backoff, accepting allowed ones, one session per pair);
 * /yjs/:profileId serves stock y-websocket clients. The server calls handleUpgrade().
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { CryptoErrorCode, FRAME_OVERHEAD_BYTES, HandshakeReplayGuard, type NodeIdentity } from '@profilesync/crypto';
import type { ProfileStore } from '@profilesync/core';
import { classifyAttempt, DEFAULT_BACKOFF, nextBackoff, type BackoffPolicy } from './backoff.js';
import { PeerConnection } from './connection.js';
import { SyncEngine } from './engine.js';
import { CloseCode, codeOf, SyncErrorCode, syncError } from './errors.js';
import { monoMs, silentLogger, SyncEmitter, type SyncEventName, type SyncEvents, type SyncLogger } from './events.js';
import { originPeer, SyncHub } from './hub.js';
import { resolveLimits, takeAuditToken, type AuditBucket, type SyncLimits } from './limits.js';
import { compareKeys, keepSession, validatePeer, type PeerConfig, type PeerInfo, type PeerMode } from './peers.js';
import { isGarbageClose, markCaughtUp, markChanged, newPeerEntry, peerStatus, rejectUpgrade, type PeerEntry, type PeerStatus } from './peer-entry.js';

export type { PeerStatus } from './peer-entry.js';
import { YjsEndpoint, type AuditFn, type Authenticate } from './yjs-endpoint.js';
import type { PresenceHook } from './fleet/presence.js';
import { Fleet, type FleetLimits, type FleetStatus } from './fleet/fleet.js';
import { serviceRepairPort } from './fleet/service-port.js';
import type { FleetStorage } from './fleet/state.js';
import type { Bus } from '@profilesync/bus';

/** What a node needs to join a fleet (see Fleet). */
export interface FleetAttachOptions {
  bus: Bus;
  /** the 32-byte fleet key (parseFleetKey) */
  key: Uint8Array;
  /** the node's log: aux records for the fleet state, heads for the outbox */
  storage: FleetStorage;
  limits?: Partial<FleetLimits>;
}

export const SYNC_SUBPROTOCOL = 'profilesync-sync.v1';

export interface SyncServiceOptions {
  store: ProfileStore;
  identity: NodeIdentity;
  peers?: PeerConfig[];
  /** /yjs auth: token -> principal (undefined or a thrown coded error refuses) */
  authenticate?: Authenticate;
  /** security events; default: store.recordAudit (refused handshakes are rate limited) */
  audit?: AuditFn;
  logger?: SyncLogger;
  clock?: () => number;
  random?: () => number;
  networkKey?: Uint8Array;
  limits?: Partial<SyncLimits>;
  backoff?: Partial<BackoffPolicy>;
  /** dial configured peers that have a URL (default true) */
  dial?: boolean;
}


export type SyncReport = {
  converged: boolean;
  peers: { id: string; ok: boolean; code?: string; message?: string; durationMillis: number }[];
  durationMillis: number;
};


export class SyncService {
  readonly hub: SyncHub;
  readonly limits: SyncLimits;
  readonly #o: SyncServiceOptions;
  readonly #events = new SyncEmitter();
  readonly #logger: SyncLogger;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #backoff: BackoffPolicy;
  readonly #audit: AuditFn;
  readonly #guard = new HandshakeReplayGuard();
  readonly #wss: WebSocketServer;
  readonly #yjs: YjsEndpoint;
  readonly #peers = new Map<string, PeerEntry>();
  readonly #byKey = new Map<string, PeerEntry>();
  readonly #handshaking = new Set<PeerConnection>();
  readonly #all = new Set<PeerConnection>();
  readonly #unsubscribe: () => void;
  #auditBucket: AuditBucket;
  #antiEntropy: ReturnType<typeof setInterval> | undefined;
  #idleSweep: ReturnType<typeof setInterval> | undefined;
  #closing: Promise<void> | undefined;
  /** the fleet this node belongs to (attachFleet), if any */
  fleet: Fleet | undefined;

  constructor(opts: SyncServiceOptions) {
    if (!opts || !opts.store || !opts.identity) throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'createSyncService needs { store, identity }', { field: 'options' });
    this.#o = opts;
    this.limits = resolveLimits(opts.limits);
    this.#logger = opts.logger ?? silentLogger;
    this.#clock = opts.clock ?? Date.now;
    this.#random = opts.random ?? Math.random;
    this.#backoff = { ...DEFAULT_BACKOFF, ...(opts.backoff ?? {}) };
    this.#auditBucket = { tokens: 20, at: this.#clock(), suppressed: 0 };
    this.#audit =
      opts.audit ??
      ((r) => {
        void opts.store.recordAudit(r).catch((err: unknown) => this.#logger.warn({ err: (err as Error).message }, 'audit failed'));
      });
    for (const p of opts.peers ?? []) this.#addEntry(validatePeer(p));
    this.hub = new SyncHub(opts.store);
    this.#unsubscribe = this.hub.onChange((e) => {
      const from = originPeer(e.origin);
      for (const entry of this.#peers.values()) if (!entry.conn && entry.mode === 'standing' && entry.id !== from) markChanged(entry, e.id, this.#clock());
    });
    this.#events.on('sync-round', (r) => {
      const entry = r.converged ? this.#peers.get(r.peerId) : undefined;
      if (entry) markCaughtUp(entry);
    });
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.limits.maxFrameBytes + FRAME_OVERHEAD_BYTES,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has(SYNC_SUBPROTOCOL) ? SYNC_SUBPROTOCOL : false),
    });
    const l = this.limits;
    this.#yjs = new YjsEndpoint({
      hub: this.hub,
      store: opts.store,
      authenticate: opts.authenticate,
      audit: this.#audit,
      events: this.#events,
      logger: this.#logger,
      limits: { maxMessageBytes: l.yjsMaxMessageBytes, queueBytes: l.yjsQueueBytes, authTimeoutMs: l.yjsAuthTimeoutMs, pingIntervalMs: l.pingIntervalMs, maxQueuedMessages: l.yjsMaxQueuedMessages },
    });
    if (l.antiEntropyMs > 0) {
      this.#antiEntropy = setInterval(() => {
        for (const e of this.#peers.values()) e.conn?.engine?.start();
      }, l.antiEntropyMs);
      this.#antiEntropy.unref?.();
    }
    this.#idleSweep = setInterval(() => this.#closeIdleOnDemand(), Math.max(250, Math.min(1_000, Math.floor(l.onDemandIdleMs / 2))));
    this.#idleSweep.unref?.();
    if (opts.dial !== false) for (const e of this.#peers.values()) if (e.mode === 'standing') this.#dial(e);
  }

  get publicKey(): string {
    return this.#o.identity.publicKeyText;
  }

  on<E extends SyncEventName>(event: E, listener: (payload: SyncEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Routes an HTTP upgrade: /sync and /yjs/:profileId are ours (true); anything else is not (false). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, _path?: string): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/sync') {
      if (this.#closing) return rejectUpgrade(socket, 503, 'SYNC_CLOSED'), true;
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
      return true;
    }
    const m = /^\/yjs\/([^/]+)$/.exec(url.pathname);
    if (m) {
      if (this.#closing) return rejectUpgrade(socket, 503, 'SYNC_CLOSED'), true;
      this.#yjs.handle(req, socket, head, m[1] as string, url.searchParams.get('token') ?? undefined);
      return true;
    }
    return false;
  }

  status(): PeerStatus[] {
    const now = this.#clock();
    return [...this.#peers.values()].map((e) => peerStatus(e, now));
  }

  /** One-shot sync with every peer: dials disconnected ones, then runs digest rounds until roots match or the timeout. */
  async syncNow(opts: { timeoutMs: number }): Promise<SyncReport> {
    const timeoutMs = opts?.timeoutMs;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 3_600_000) {
      throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'timeoutMs must be an integer in 1..3600000', { field: 'timeoutMs' });
    }
    if (this.#closing) throw syncError(SyncErrorCode.CLOSED, 'the sync service is closed');
    const t0 = monoMs();
    const deadline = t0 + timeoutMs;
    const peers = await Promise.all([...this.#peers.values()].map((e) => this.#syncPeer(e, deadline)));
    return { converged: peers.every((p) => p.ok), peers, durationMillis: monoMs() - t0 };
  }

  addPeer(peer: PeerConfig): PeerStatus {
    if (this.#closing) throw syncError(SyncErrorCode.CLOSED, 'the sync service is closed');
    const info = validatePeer(peer);
    const entry = this.#addEntry(info);
    if (this.#o.dial !== false && entry.mode === 'standing') this.#dial(entry);
    return this.status().find((s) => s.id === entry.id)!;
  }

  /**
   * Joins a fleet: changes go over `bus`, members become on-demand peers of this service (repairs,
   * and standing sessions while the bus is away), /yjs awareness is relayed. Call started() once
   * the node's HTTP URL is known.
   */
  attachFleet(opts: FleetAttachOptions): Fleet {
    if (this.fleet) throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'a fleet is already attached', { field: 'fleet' });
    if (this.#closing) throw syncError(SyncErrorCode.CLOSED, 'the sync service is closed');
    const fleet = new Fleet({
      bus: opts.bus,
      key: opts.key,
      store: this.#o.store,
      identity: this.#o.identity,
      storage: opts.storage,
      repair: serviceRepairPort(this),
      events: this.#events,
      logger: this.#logger,
      clock: this.#clock,
      random: this.#random,
      ...(opts.limits ? { limits: opts.limits } : {}),
    });
    this.fleet = fleet;
    this.setPresence(fleet.presence);
    return fleet;
  }

  /** The node listens at `url` (its HTTP base URL): the fleet, if any, starts. */
  async started(info: { url: string }): Promise<void> {
    await this.fleet?.start(info.url);
  }

  /** GET /api/cluster: the fleet's view (null without a fleet). */
  cluster(): FleetStatus | null {
    return this.fleet?.status() ?? null;
  }

  /** Relays /yjs awareness to other nodes (the fleet's presence); undefined stops it for new rooms. */
  setPresence(hook: PresenceHook | undefined): void {
    this.#yjs.setPresence(hook);
  }

  /** The /yjs endpoint (tests, diagnostics). */
  get yjs(): YjsEndpoint {
    return this.#yjs;
  }

  /** Whether a peer with this id is configured. */
  hasPeer(id: string): boolean {
    return this.#peers.has(id);
  }

  /** A peer's last failure code (a refused handshake, a close reason); undefined when none or no such peer. */
  lastErrorOf(id: string): string | undefined {
    return this.#peers.get(id)?.lastError;
  }

  /**
   * standing: dial now and keep a session (redialed with backoff); on-demand: stop redialing,
   * and a session this node dialed closes once idle (sessions the peer dialed are its call).
   */
  setPeerMode(id: string, mode: PeerMode): void {
    const e = this.#peers.get(id);
    if (!e) throw syncError(SyncErrorCode.PEER_NOT_FOUND, `no peer ${id}`, { id });
    if (mode !== 'standing' && mode !== 'on-demand') throw syncError(SyncErrorCode.INVALID_ARGUMENT, "mode is 'standing' or 'on-demand'", { field: 'mode' });
    if (e.mode === mode) return;
    e.mode = mode;
    e.idleMark = undefined;
    if (mode === 'standing') {
      if (this.#o.dial !== false && !this.#closing) this.connect(id);
      return;
    }
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    e.nextRetryAt = undefined;
    markCaughtUp(e); // on-demand peers keep no backlog (a repair compares everything)
  }

  /**
   * One repair with a peer: dials it if needed, then resolves after one of our digest rounds,
   * started after the call, completed (converged or not: everything that differed when it
   * began was exchanged both ways). An on-demand session dialed for it closes once idle.
   */
  async repairWith(id: string, opts: { timeoutMs: number }): Promise<SyncReport['peers'][number]> {
    const timeoutMs = opts?.timeoutMs;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 3_600_000) {
      throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'timeoutMs must be an integer in 1..3600000', { field: 'timeoutMs' });
    }
    if (this.#closing) throw syncError(SyncErrorCode.CLOSED, 'the sync service is closed');
    const e = this.#peers.get(id);
    if (!e) throw syncError(SyncErrorCode.PEER_NOT_FOUND, `no peer ${id}`, { id });
    e.repairs++;
    try {
      return await this.#syncPeer(e, monoMs() + timeoutMs, 'completed');
    } finally {
      e.repairs--;
      e.idleMark = undefined;
    }
  }

  removePeer(id: string): void {
    const e = this.#peers.get(id);
    if (!e) throw syncError(SyncErrorCode.PEER_NOT_FOUND, `no peer ${id}`, { id });
    e.removed = true;
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    this.#peers.delete(id);
    this.#byKey.delete(e.publicKeyText);
    for (const c of this.#all) if (c.peerPublicKey && compareKeys(c.peerPublicKey, e.publicKey) === 0) c.close(CloseCode.GONE, SyncErrorCode.PEER_REMOVED);
    for (const w of e.waiters.splice(0)) w();
  }

  /** Dials a peer now (resets its backoff); used by syncNow and tests. */
  connect(id: string): void {
    const e = this.#peers.get(id);
    if (!e) throw syncError(SyncErrorCode.PEER_NOT_FOUND, `no peer ${id}`, { id });
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    this.#dial(e);
  }

  /** Closes every session (goodbye frame, close 1001) and every /yjs client; stops dialing. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.fleet?.close().catch((err: unknown) => this.#logger.warn({ err: (err as Error).message }, 'fleet close failed'));
      if (this.#antiEntropy) clearInterval(this.#antiEntropy);
      if (this.#idleSweep) clearInterval(this.#idleSweep);
      for (const e of this.#peers.values()) {
        if (e.timer) clearTimeout(e.timer);
        e.timer = undefined;
        for (const w of e.waiters.splice(0)) w();
      }
      const conns = [...this.#all];
      for (const c of conns) c.close(CloseCode.GOING_AWAY, 'SHUTDOWN');
      await Promise.all([...conns.map((c) => c.closed()), this.#yjs.close()]);
      this.#unsubscribe();
      this.hub.close();
      this.#wss.close();
    })();
    return this.#closing;
  }

  /** Engine of the open session with a peer (tests, benchmarks). */
  engineOf(id: string): SyncEngine | undefined {
    return this.#peers.get(id)?.conn?.engine;
  }

  connectionOf(id: string): PeerConnection | undefined {
    return this.#peers.get(id)?.conn;
  }

  // --- peers ---------------------------------------------------------------------

  #addEntry(info: PeerInfo): PeerEntry {
    if (this.#peers.has(info.id) || this.#byKey.has(info.publicKeyText)) throw syncError(SyncErrorCode.PEER_EXISTS, `peer ${info.id} (or its key) is already configured`, { id: info.id });
    if (compareKeys(info.publicKey, this.#o.identity.publicKey) === 0) throw syncError(SyncErrorCode.INVALID_ARGUMENT, 'a node cannot peer with itself', { field: 'publicKey' });
    const entry = newPeerEntry(info);
    this.#peers.set(info.id, entry);
    this.#byKey.set(info.publicKeyText, entry);
    return entry;
  }

  #dial(e: PeerEntry): void {
    if (this.#closing || e.removed || !e.url || e.conn || e.dialing) return;
    const ws = new WebSocket(e.url, [SYNC_SUBPROTOCOL], { perMessageDeflate: false, maxPayload: this.limits.maxFrameBytes + FRAME_OVERHEAD_BYTES, handshakeTimeout: this.limits.handshakeTimeoutMs });
    e.dialing = this.#connection(ws, 'outbound', e.url, (key) => compareKeys(key, e.publicKey) === 0);
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (ws.protocol !== SYNC_SUBPROTOCOL) return ws.close(CloseCode.VERSION, SyncErrorCode.PROTOCOL_UNSUPPORTED);
    if (this.#handshaking.size >= this.limits.maxPendingHandshakes) return ws.close(CloseCode.BUSY, SyncErrorCode.BUSY);
    this.#connection(ws, 'inbound', remote, (key) => this.#byKey.has(Buffer.from(key).toString('base64url')));
  }

  #connection(ws: WebSocket, direction: 'inbound' | 'outbound', remote: string, isAllowed: (key: Uint8Array) => boolean): PeerConnection {
    const l = this.limits;
    const conn = new PeerConnection({
      ws,
      direction,
      remote,
      identity: this.#o.identity,
      isAllowed,
      ...(this.#o.networkKey ? { networkKey: this.#o.networkKey } : {}),
      ...(direction === 'inbound' ? { replayGuard: this.#guard } : {}),
      maxFrameBytes: l.maxFrameBytes,
      maxMessageBytes: l.maxMessageBytes,
      handshakeTimeoutMs: l.handshakeTimeoutMs,
      pingIntervalMs: l.pingIntervalMs,
      clock: this.#clock,
      onEstablished: (c) => this.#established(c),
      onHandshakeFailed: (c, code, fp) => this.#handshakeFailed(c, code, fp),
      onUnreachable: (c, errno) => this.#unreachable(c, errno),
      onClosed: (c, info) => this.#closed(c, info),
    });
    this.#all.add(conn);
    this.#handshaking.add(conn);
    return conn;
  }

  #established(conn: PeerConnection): void {
    this.#handshaking.delete(conn);
    const key = conn.peerPublicKey as Uint8Array;
    const entry = this.#byKey.get(Buffer.from(key).toString('base64url'));
    if (!entry || this.#closing) return conn.close(CloseCode.GONE, SyncErrorCode.PEER_REMOVED);
    if (entry.dialing === conn) entry.dialing = undefined;
    const mine = this.#o.identity.publicKey;
    const initiatorOf = (c: PeerConnection): Uint8Array => (c.direction === 'outbound' ? mine : key);
    const existing = entry.conn;
    if (existing && existing !== conn) {
      if (keepSession({ initiatorKey: initiatorOf(existing) }, { initiatorKey: initiatorOf(conn) }) === 'existing') {
        return conn.close(CloseCode.DUPLICATE, SyncErrorCode.DUPLICATE_CONNECTION);
      }
      entry.conn = undefined;
      existing.close(CloseCode.DUPLICATE, SyncErrorCode.DUPLICATE_CONNECTION);
    }
    entry.conn = conn;
    const failedDials = entry.failedDials;
    entry.lastError = undefined;
    entry.lastErrno = undefined;
    entry.failedDials = 0;
    entry.warnedFor = undefined;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    const engine = new SyncEngine({
      store: this.#o.store,
      digest: this.hub.digest,
      peerId: entry.id,
      fingerprint: entry.fingerprint,
      link: conn,
      events: this.#events,
      logger: this.#logger,
      limits: { queueBytes: this.limits.queueBytes, maxInflightApplies: this.limits.maxInflightApplies, roundTimeoutMs: this.limits.roundTimeoutMs, autoRounds: this.limits.autoRounds },
    });
    conn.engine = engine;
    conn.peerId = entry.id;
    this.hub.attach(engine);
    this.#logger.info?.({ peerId: entry.id, fingerprint: entry.fingerprint, direction: conn.direction, session: conn.sessionId, ...(failedDials > 0 ? { failedDials } : {}) }, 'peer connected');
    this.#events.emit('peer-connected', { peerId: entry.id, fingerprint: entry.fingerprint, direction: conn.direction, session: conn.sessionId ?? '', durationMillis: conn.handshakeMillis });
    // the accepting side opens the first digest round (its first frame also confirms the dialer)
    if (conn.direction === 'inbound') engine.start();
    for (const w of entry.waiters.splice(0)) w();
  }

  #handshakeFailed(conn: PeerConnection, code: string, peerFingerprint?: string): void {
    this.#handshaking.delete(conn);
    if (code === SyncErrorCode.DUPLICATE_CONNECTION) return; // the other node kept its own session to us
    const entry = conn.peerPublicKey
      ? this.#byKey.get(Buffer.from(conn.peerPublicKey).toString('base64url'))
      : conn.direction === 'outbound' ? [...this.#peers.values()].find((e) => e.dialing === conn) : undefined;
    if (entry) {
      entry.lastError = code;
      entry.lastErrno = undefined;
    }
    this.#events.emit('handshake-failed', { remote: conn.remote, direction: conn.direction, code, ...(peerFingerprint ? { peerFingerprint } : {}), durationMillis: conn.sinceStartMillis });
    this.#logRefusal(conn, code, peerFingerprint, entry);
    if (conn.direction !== 'inbound' || code === SyncErrorCode.CONNECTION_LOST) return;
    this.#auditLimited({
      action: 'auth.denied',
      actor: peerFingerprint ? `peer:${peerFingerprint}` : 'unknown-peer',
      origin: `sync:${conn.remote}`,
      outcome: 'denied',
      details: { reason: code, endpoint: '/sync' },
    });
  }

  /**
   * Nothing answered (refused, unreachable, lost before a handshake byte): no handshake took
   * place, so none failed. A dial records SYNC_CONNECTION_LOST and the errno as the peer's last
   * error (its backoff line says so); an inbound socket that closed before saying anything is
   * only worth a debug line.
   */
  #unreachable(conn: PeerConnection, errno: string | undefined): void {
    this.#handshaking.delete(conn);
    const entry = conn.direction === 'outbound' ? [...this.#peers.values()].find((e) => e.dialing === conn) : undefined;
    if (entry) {
      entry.lastError = SyncErrorCode.CONNECTION_LOST;
      entry.lastErrno = errno;
      return;
    }
    this.#logger.debug?.({ remote: conn.remote, direction: conn.direction, ...(errno ? { errno } : {}) }, 'connection closed before its handshake began');
  }

  /**
   * Logs a failed handshake. A fleet's members learn each other at their heartbeats, so while a
   * join settles a refusal between two members is expected and retried: info, not a warning.
   * Every other refusal (an unknown key that is no member's, a member refusing us long after
   * both joined) stays a warning.
   */
  #logRefusal(conn: PeerConnection, code: string, peerFingerprint: string | undefined, entry: PeerEntry | undefined): void {
    const line = { remote: conn.remote, direction: conn.direction, code, peerFingerprint };
    const warn = (): void => this.#logger.warn(line, 'peer handshake failed');
    const fleet = this.fleet;
    if (code !== CryptoErrorCode.PEER_UNKNOWN || fleet === undefined) return warn();
    if (conn.direction === 'inbound') {
      if (peerFingerprint === undefined) return warn();
      void fleet.knowsFingerprint(peerFingerprint).then(
        (member) => (member ? this.#logger.info?.({ ...line, member: true }, 'peer handshake refused: a fleet member this node had not seen yet (allowed now; its next attempt connects)') : warn()),
        warn,
      );
      return;
    }
    if (entry?.fleet === true && fleet.notYetKnown(entry.id)) {
      this.#logger.info?.({ ...line, member: entry.id }, 'peer handshake refused: the fleet member has not seen this node yet (retrying)');
      return;
    }
    warn();
  }

  /** Audits through a token bucket (5/s, burst 20): a misbehaving node may retry forever. */
  #auditLimited(record: Parameters<AuditFn>[0]): void {
    const take = takeAuditToken(this.#auditBucket, this.#clock(), 5, 20);
    const suppressed = this.#auditBucket.suppressed;
    this.#auditBucket = take.bucket;
    if (!take.allowed) return;
    this.#audit(suppressed > 0 ? { ...record, details: { ...record.details, suppressedBefore: suppressed } } : record);
  }

  #closed(conn: PeerConnection, info: { code: number; reason: string; clean: boolean; local: boolean }): void {
    if (info.local && conn.peerPublicKey && isGarbageClose(info.code)) {
      // an authenticated peer sent something we refused: log and audit (rate limited like refused handshakes)
      this.#logger.warn({ peerId: conn.peerId, peerFingerprint: conn.peerFingerprint, code: info.reason }, 'peer session closed: bad frame or message');
      this.#auditLimited({ action: 'sync.rejected', actor: `peer:${conn.peerFingerprint}`, origin: `peer:${conn.peerId ?? conn.remote}`, outcome: 'rejected', details: { code: info.reason, closeCode: info.code } });
    }
    this.#all.delete(conn);
    this.#handshaking.delete(conn);
    if (conn.engine) this.hub.detach(conn.engine);
    const entry = conn.peerPublicKey ? this.#byKey.get(Buffer.from(conn.peerPublicKey).toString('base64url')) : [...this.#peers.values()].find((e) => e.dialing === conn);
    const wasActive = entry?.conn === conn;
    if (conn.establishedAt !== undefined && conn.peerId !== undefined) {
      this.#logger.info?.({ peerId: conn.peerId, code: info.code, reason: info.reason, clean: info.clean }, 'peer disconnected');
      this.#events.emit('peer-disconnected', { peerId: conn.peerId, direction: conn.direction, code: info.code, reason: info.reason, clean: info.clean, durationMillis: conn.establishedMono === undefined ? 0 : monoMs() - conn.establishedMono });
    }
    if (!entry) return;
    // "seen" means heard from in an authenticated session: a refused or failed handshake does not count
    if (conn.establishedAt !== undefined && conn.lastSeen !== undefined) entry.lastSeen = Math.max(entry.lastSeen ?? 0, conn.lastSeen);
    if (entry.dialing === conn) {
      entry.dialing = undefined;
      if (conn.establishedAt === undefined) for (const w of entry.waiters.splice(0)) w();
    }
    if (wasActive) {
      entry.conn = undefined;
      if (!info.clean && info.code !== CloseCode.GOING_AWAY) {
        entry.lastError = info.reason || `close ${info.code}`;
        entry.lastErrno = undefined;
      }
      // what it may have missed: pending pulls and dropped updates are redone by the next round
      for (const id of conn.engine?.pendingIds() ?? []) markChanged(entry, id, this.#clock());
    } else if (info.code === CloseCode.DUPLICATE && entry.conn) return; // lost the tie-break: the other session stays
    this.#scheduleRedial(entry, conn);
  }

  #scheduleRedial(e: PeerEntry, conn: PeerConnection): void {
    if (this.#closing || e.removed || !e.url || e.conn || e.dialing || e.timer || e.mode !== 'standing') return;
    const outcome = classifyAttempt(conn.establishedAt, this.#clock(), this.#backoff);
    const next = nextBackoff(e.backoff, outcome, this.#backoff, this.#random);
    e.backoff = next.state;
    e.nextRetryAt = this.#clock() + next.delayMs;
    // a peer that refuses or cannot be reached says so at warn once per outage (and again when
    // the reason changes); the retries after that log at debug with their count
    const failed = conn.establishedAt === undefined;
    const line = { peerId: e.id, url: e.url, lastError: e.lastError, ...(e.lastErrno ? { lastErrno: e.lastErrno } : {}), delayMs: Math.round(next.delayMs), nextRetryAt: new Date(e.nextRetryAt).toISOString() };
    if (failed) {
      e.failedDials++;
      const reason = `${e.lastError ?? ''}/${e.lastErrno ?? ''}`;
      if (e.warnedFor !== reason) {
        e.warnedFor = reason;
        this.#logger.warn({ ...line, failedDials: e.failedDials }, 'peer unreachable or refused: backing off');
      } else this.#logger.debug?.({ ...line, failedDials: e.failedDials }, 'peer unreachable or refused: backing off');
    } else this.#logger.info?.(line, 'peer session ended: redialing');
    e.timer = setTimeout(() => {
      e.timer = undefined;
      this.#dial(e);
    }, next.delayMs);
    e.timer.unref?.();
  }

  /** Closes on-demand sessions this node dialed once nothing moved on them for onDemandIdleMs. */
  #closeIdleOnDemand(): void {
    const now = monoMs();
    for (const e of this.#peers.values()) {
      const c = e.conn;
      if (!c || e.mode !== 'on-demand' || c.direction !== 'outbound' || e.repairs > 0) {
        e.idleMark = undefined;
        continue;
      }
      const engine = c.engine;
      const count = engine ? engine.stats.messagesReceived + engine.stats.messagesSent : 0;
      if (engine?.busy || e.idleMark === undefined || e.idleMark.count !== count) {
        e.idleMark = { count, since: now };
        continue;
      }
      if (now - e.idleMark.since >= this.limits.onDemandIdleMs) {
        e.idleMark = undefined;
        this.#logger.debug?.({ peerId: e.id }, 'on-demand session idle: closing');
        c.close(CloseCode.NORMAL, 'SYNC_IDLE');
      }
    }
  }

  async #syncPeer(e: PeerEntry, deadline: number, want: 'converged' | 'completed' = 'converged'): Promise<SyncReport['peers'][number]> {
    const t0 = monoMs();
    const result = (ok: boolean, code?: string, message?: string): SyncReport['peers'][number] => ({ id: e.id, ok, ...(code ? { code } : {}), ...(message ? { message } : {}), durationMillis: monoMs() - t0 });
    if (!e.conn && e.url) {
      if (!e.dialing) this.connect(e.id);
      await this.#until(deadline, new Promise<void>((r) => e.waiters.push(r)));
    }
    let engine = e.conn?.engine;
    if (!engine) return result(false, SyncErrorCode.NOT_CONNECTED, e.lastError ? `not connected (${e.lastError})${e.lastErrno ? `: ${e.lastErrno}` : ''}` : 'not connected');
    for (;;) {
      const req = want === 'converged' ? engine.requestSync() : engine.requestRound();
      try {
        const done = await this.#until(deadline, req.promise.then(() => true));
        if (done !== true) {
          req.cancel();
          return result(false, SyncErrorCode.TIMEOUT, want === 'converged' ? 'no converged digest round before the timeout' : 'no completed digest round before the timeout');
        }
        return result(true);
      } catch (err) {
        // the session closed under the round, e.g. both nodes dialed at once and the other kept
        // its own session (peers.ts keepSession): the round runs again on the session that stays
        const next = e.conn?.engine;
        if (codeOf(err) === SyncErrorCode.NOT_CONNECTED && next !== undefined && next !== engine && monoMs() < deadline) {
          engine = next;
          continue;
        }
        return result(false, codeOf(err), (err as Error).message);
      }
    }
  }

  /** Resolves with the promise's value, or undefined at the deadline (monotonic ms). */
  async #until<T>(deadline: number, p: Promise<T>): Promise<T | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), Math.max(0, deadline - monoMs()))));
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function createSyncService(opts: SyncServiceOptions): SyncService {
  return new SyncService(opts);
}
