/**
 * The peer protocol engine of one session (transport-agnostic: messages in, messages out).
 * Per profile it follows y-protocols sync (STEP1 state vector -> STEP2 missing update,
 * UPDATE live); the digest round (ROOT -> MATCH | BUCKETS -> ENTRIES -> STEP1/STEP2 ->
 * ROUND_END) finds what differs in O(1) messages when nothing does and O(changed) otherwise.
 * Incoming messages are handled in order; applies run concurrently (the store keeps per-profile
 * order) and control messages that read the digest wait for them (the barrier).
 * docs/protocol.md describes the state machine.
 */
import * as Y from 'yjs';
import type { MergeContext, WriteContext } from '@profilesync/core';
import { decodeMessage, encodeMessage, MessageType, STEP1_REPLY, type Message } from './codec.js';
import { bytesEqual, differingBuckets } from './digest.js';
import { codeOf, SyncErrorCode, syncError } from './errors.js';
import { monoMs } from './events.js';
import { Inbox } from './inbox.js';
import { PullTracker } from './pulls.js';
import { Rounds, type ActiveRound } from './rounds.js';
import { MAX_INBOX_BYTES, MAX_INBOX_MESSAGES, MAX_MERGE_CONTEXT_BYTES, type EngineOptions } from './link.js';

export { MAX_INBOX_BYTES, MAX_INBOX_MESSAGES, MAX_MERGE_CONTEXT_BYTES, type EngineLink, type EngineLimits, type EngineOptions } from './link.js';

const EMPTY_SV = Y.encodeStateVector(new Y.Doc());
/** store reads in flight when answering step 1s / preparing pulls and pushes */
const PARALLEL_READS = 64;
type Step1 = Extract<Message, { type: typeof MessageType.STEP1 }>;
const EMPTY = new Uint8Array(0);

export class SyncEngine {
  readonly peerId: string;
  readonly stats = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0, rounds: 0 };
  readonly #o: EngineOptions;
  readonly #ctx: WriteContext;
  readonly #inbox: Inbox;
  #running = false;
  #closed = false;
  readonly #inflight = new Set<Promise<void>>();
  /** bytes of the updates in #inflight: applies are bounded by count and by bytes (a peer's message may be 64 MiB) */
  #inflightBytes = 0;
  readonly #pulls: PullTracker;
  readonly #rounds: Rounds;
  #lastConverged: number | undefined;
  readonly #unflushed = new Map<string, number>();
  readonly #dropped = new Set<string>();
  #droppedAt = 0;
  #resyncing = false;
  /** completion of queued step 2 replies (oldest first) */
  #replies: Promise<void>[] = [];
  #replyChain: Promise<void> = Promise.resolve();
  /**
   * Merge context (issue 13): the peer's state vector from its STEP1, kept only when a STEP2 of
   * the peer is expected to follow (its pull-back REPLY, or its pull that we pull back), and
   * used by that STEP2's apply so the store can tell which side changed what.
   */
  readonly #peerSv = new Map<string, Uint8Array>();
  /**
   * Bytes held in #peerSv. A peer decides how many STEP1s announce a STEP2 and whether it ever
   * sends it, so the total is capped (limits.maxMergeContextBytes): over it a state vector is
   * not kept and its STEP2 merges without a context, like a live UPDATE (which the peer may send
   * anyway), so a peer cannot make the node hold its bytes for the life of the session.
   */
  #peerSvBytes = 0;
  #peerSvCapped = false;
  /** our pulls in flight: whether we sent the empty state vector (the answer is then the peer's whole state) */
  readonly #pulledEmpty = new Map<string, boolean>();

  constructor(opts: EngineOptions) {
    this.#o = opts;
    this.peerId = opts.peerId;
    this.#ctx = { actor: `peer:${opts.fingerprint}`, origin: `peer:${opts.peerId}` };
    this.#inbox = new Inbox(MAX_INBOX_MESSAGES, opts.link.pauseReading?.bind(opts.link), opts.link.resumeReading?.bind(opts.link), MAX_INBOX_BYTES);
    this.#pulls = new PullTracker(() => this.#inflight.size > 0);
    this.#rounds = new Rounds({ open: (round) => this.#openRound(round), ended: (a, converged, timedOut) => this.#roundEnded(a, converged, timedOut), timeoutMs: opts.limits.roundTimeoutMs });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** ms timestamp (performance.now) of the last converged round, if any */
  get lastConverged(): number | undefined {
    return this.#lastConverged;
  }

  /** Profiles with work in flight for this peer: pulls awaiting answers, unsent and dropped updates. */
  pending(): number {
    return this.pendingIds().size;
  }

  pendingIds(): Set<string> {
    return new Set<string>([...this.#pulls.ids(), ...this.#unflushed.keys(), ...this.#dropped]);
  }

  /** Starts automatic digest rounds (the accepting side calls this once a session opens; also anti-entropy). */
  start(): void {
    this.#rounds.kick(this.#o.limits.autoRounds);
  }

  receive(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.stats.messagesReceived++;
    this.stats.bytesReceived += bytes.length;
    this.#inbox.push(bytes);
    if (!this.#running) void this.#drain();
  }

  /** Forwards a durable local change (live). Never blocks: over the queue limit it is dropped and a resync is scheduled. */
  pushUpdate(id: string, update: Uint8Array): void {
    if (this.#closed) return;
    const link = this.#o.link;
    if (link.bufferedBytes() > this.#o.limits.queueBytes) {
      this.#dropped.add(id);
      this.#droppedAt = this.#rounds.current;
      if (!this.#resyncing) {
        this.#resyncing = true;
        this.#o.events.emit('queue-overflow', { peerId: this.peerId, droppedBytes: update.length, bufferedBytes: link.bufferedBytes(), durationMillis: 0 });
        void this.#resyncWhenDrained();
      }
      return;
    }
    this.#unflushed.set(id, (this.#unflushed.get(id) ?? 0) + 1);
    this.#send({ type: MessageType.UPDATE, id, update }, () => {
      const n = (this.#unflushed.get(id) ?? 1) - 1;
      if (n <= 0) this.#unflushed.delete(id);
      else this.#unflushed.set(id, n);
    });
  }

  /** Runs digest rounds until one converges (roots equal); rejects with SYNC_NOT_CONNECTED if the session ends. */
  requestSync(): { promise: Promise<void>; cancel: () => void } {
    if (this.#closed) return { promise: Promise.reject(syncError(SyncErrorCode.NOT_CONNECTED, 'peer session closed')), cancel: () => undefined };
    return this.#rounds.request();
  }

  /**
   * Resolves once one of our digest rounds that started after this call completed (converged
   * or not): every profile that differed when it began was exchanged both ways. A repair.
   */
  requestRound(): { promise: Promise<void>; cancel: () => void } {
    if (this.#closed) return { promise: Promise.reject(syncError(SyncErrorCode.NOT_CONNECTED, 'peer session closed')), cancel: () => undefined };
    return this.#rounds.request({ converged: false });
  }

  /** Called when the transport is gone. */
  stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox.clear();
    this.#rounds.stop(syncError(SyncErrorCode.NOT_CONNECTED, 'peer session closed', { peerId: this.peerId }));
    this.#pulls.releaseAll();
  }

  /** Internal state for diagnostics (tests, debugging). */
  debugState(): Record<string, unknown> {
    return { ...this.#rounds.debug(), mergeContexts: this.#peerSv.size, mergeContextBytes: this.#peerSvBytes, inflightBytes: this.#inflightBytes, outstanding: [...this.#pulls.ids()], inflight: this.#inflight.size, running: this.#running, pullWaiters: this.#pulls.waiting, closed: this.#closed };
  }

  /** Whether messages are queued or being handled, or applies are in flight. */
  get busy(): boolean {
    return !this.#closed && (this.#running || this.#inflight.size > 0 || this.#inbox.size > 0 || this.#replies.length > 0);
  }

  /** Resolves when nothing is queued, handled or applied (tests). */
  async idle(): Promise<void> {
    while (this.busy) {
      await Promise.allSettled([...this.#inflight]);
      await new Promise((r) => setImmediate(r));
    }
  }

  // --- incoming ---------------------------------------------------------------

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (!this.#closed) {
        const m = this.#next();
        if (m === undefined) {
          // nothing left to read: finish the pending replies (new messages may arrive meanwhile)
          if (this.#replies.length === 0) break;
          await this.#replies.shift();
          continue;
        }
        if (m.type === MessageType.STEP1) {
          // answered with parallel store reads (a sliding window); replies leave in STEP1 order
          if (this.#replies.length >= PARALLEL_READS) await this.#replies.shift();
          this.#replies.push(this.#queueStep1Answer(m));
          continue;
        }
        // anything else is sent after the pending step 2 replies (order on the wire)
        while (this.#replies.length > 0) await this.#replies.shift();
        await this.#handle(m);
      }
    } catch (err) {
      this.#failWith(err);
    } finally {
      this.#running = false;
    }
  }

  /** Starts the store reads for a STEP1 now; chains its sending after the previous replies. Resolves when sent. */
  #queueStep1Answer(m: Step1): Promise<void> {
    // a REPLY step 1 comes right before the peer's STEP2 for our pull; a pull we pull back is
    // followed by the peer's STEP2 answering that: either way remember its state vector
    if ((m.flags & STEP1_REPLY) !== 0 || this.#pullsBack(m)) this.#keepPeerSv(m.id, m.stateVector);
    const prepared = this.#prepareStep1(m);
    prepared.catch(() => undefined); // surfaces below, in order
    this.#replyChain = this.#replyChain.then(async () => {
      if (this.#closed) return;
      try {
        const p = await prepared;
        // the pull-back goes first: the peer then knows our state vector when our STEP2 arrives
        // (its merge context; the state vector was read before the update, so it is not newer)
        if (p.pullBack) this.#pull(p.id, p.pullBack.sv, p.pullBack.hash, STEP1_REPLY);
        await this.#sendReply({ type: MessageType.STEP2, id: p.id, update: p.update });
      } catch (err) {
        this.#failWith(err);
      }
    });
    return this.#replyChain;
  }

  /** The next inbound message (decoded), or undefined when the inbox is empty. */
  #next(): Message | undefined {
    const bytes = this.#inbox.shift();
    if (bytes === undefined) return undefined;
    return decodeMessage(bytes);
  }

  async #handle(m: Message): Promise<void> {
    switch (m.type) {
      case MessageType.UPDATE:
        return this.#apply(m.id, m.update, false);
      case MessageType.STEP2: {
        const merge = this.#mergeContext(m.id);
        if (m.update.length === 0) return this.#pulls.resolve(m.id);
        return this.#apply(m.id, m.update, true, merge);
      }
      case MessageType.STEP1:
        return this.#queueStep1Answer(m);
      case MessageType.ROOT: {
        await this.#barrier();
        const mine = this.#o.digest.root();
        if (mine.count === m.count && bytesEqual(mine.digest, m.digest)) this.#send({ type: MessageType.MATCH, round: m.round });
        else this.#send({ type: MessageType.BUCKETS, round: m.round, buckets: this.#o.digest.buckets() });
        return;
      }
      case MessageType.BUCKETS: {
        const a = this.#rounds.activeIf(m.round);
        if (!a) return; // stale or duplicated
        await this.#barrier();
        const diff = differingBuckets(this.#o.digest.buckets(), m.buckets);
        a.differing = diff.length;
        this.#send({ type: MessageType.ENTRIES, round: m.round, buckets: diff.map((bucket) => ({ bucket, entries: this.#o.digest.entries(bucket) })) });
        return;
      }
      case MessageType.ENTRIES:
        return this.#reconcile(m.round, m.buckets);
      case MessageType.ROUND_END: {
        const a = this.#rounds.activeIf(m.round);
        if (!a) return;
        // not awaited here: the answers to our pulls arrive through this same inbox
        void this.#pulls.done().then(() => this.#rounds.end(a, false));
        return;
      }
      case MessageType.MATCH: {
        const a = this.#rounds.activeIf(m.round);
        if (a) this.#rounds.end(a, true);
        return;
      }
    }
  }

  /** Peer's round: compare its entries with ours, pull what differs, push what it lacks. */
  async #reconcile(round: number, buckets: { bucket: number; entries: [string, string][] }[]): Promise<void> {
    await this.#barrier();
    const digest = this.#o.digest;
    const pulls: [string, string | undefined][] = [];
    const pushes: string[] = [];
    for (const { bucket, entries } of buckets) {
      const theirs = new Map(entries);
      const mine = new Map(digest.entries(bucket));
      for (const [id, th] of theirs) if (mine.get(id) !== th) pulls.push([id, mine.get(id)]);
      for (const [id] of mine) if (!theirs.has(id)) pushes.push(id);
    }
    for (let i = 0; i < pulls.length; i += PARALLEL_READS) {
      const chunk = pulls.slice(i, i + PARALLEL_READS);
      const svs = await Promise.all(chunk.map(([id, mh]) => (mh === undefined ? EMPTY_SV : this.#o.store.stateVector(id))));
      chunk.forEach(([id, mh], j) => this.#pull(id, svs[j] as Uint8Array, mh ?? '', 0));
    }
    for (let i = 0; i < pushes.length; i += PARALLEL_READS) {
      const chunk = pushes.slice(i, i + PARALLEL_READS);
      const states = chunk.map((id) => this.#o.store.encodeStateAsUpdate(id));
      states.forEach((p) => p.catch(() => undefined));
      for (let j = 0; j < chunk.length; j++) await this.#sendReply({ type: MessageType.STEP2, id: chunk[j] as string, update: await (states[j] as Promise<Uint8Array>) });
    }
    this.#send({ type: MessageType.ROUND_END, round });
  }

  #keepPeerSv(id: string, sv: Uint8Array): void {
    this.#dropPeerSv(id);
    if (this.#peerSvBytes + sv.length > (this.#o.limits.maxMergeContextBytes ?? MAX_MERGE_CONTEXT_BYTES)) {
      if (!this.#peerSvCapped) this.#o.logger.warn({ peerId: this.peerId, bytes: this.#peerSvBytes }, 'peer announced more step 2s than the merge context limit holds: later ones merge without a context');
      this.#peerSvCapped = true;
      return;
    }
    this.#peerSv.set(id, sv);
    this.#peerSvBytes += sv.length;
  }

  #dropPeerSv(id: string): void {
    const old = this.#peerSv.get(id);
    if (old === undefined) return;
    this.#peerSv.delete(id);
    this.#peerSvBytes -= old.length;
  }

  /** Whether answering this STEP1 also pulls back (decided from the digest when the STEP1 is dequeued). */
  #pullsBack(m: Step1): boolean {
    return (m.flags & STEP1_REPLY) === 0 && m.hash !== '' && this.#o.digest.hash(m.id) !== m.hash;
  }

  async #prepareStep1(m: Step1): Promise<{ id: string; update: Uint8Array; pullBack?: { sv: Uint8Array; hash: string } }> {
    const { id, stateVector, hash: theirHash } = m;
    const mine = this.#o.digest.hash(id);
    const wantBack = this.#pullsBack(m);
    const svP = wantBack && mine !== undefined ? this.#o.store.stateVector(id) : Promise.resolve(EMPTY_SV);
    let update: Uint8Array = EMPTY;
    if (mine !== undefined && mine !== theirHash) {
      try {
        // an empty state vector (the peer has nothing): the full state, without a diff pass
        const empty = stateVector.length === 1 && stateVector[0] === 0;
        update = await (empty ? this.#o.store.encodeStateAsUpdate(id) : this.#o.store.encodeStateAsUpdate(id, stateVector));
      } catch (err) {
        if (codeOf(err) === 'PROFILE_BAD_UPDATE') throw syncError(SyncErrorCode.BAD_UPDATE, 'peer sent a malformed state vector', { id }, err);
        if (codeOf(err) !== 'PROFILE_NOT_FOUND' && codeOf(err) !== 'PROFILE_DAMAGED') throw err;
      }
    }
    const sv = await svP;
    return wantBack ? { id, update, pullBack: { sv, hash: mine ?? '' } } : { id, update };
  }

  #pull(id: string, stateVector: Uint8Array, hash: string, flags: number): void {
    this.#pulls.add(id);
    this.#pulledEmpty.set(id, stateVector.length === 1 && stateVector[0] === 0);
    if (this.#rounds.active) this.#rounds.active.pulled++;
    this.#send({ type: MessageType.STEP1, id, stateVector, hash, flags });
  }

  /**
   * What this STEP2 merges (consumed per STEP2): the peer's state vector from the STEP1 that
   * preceded it; else, for an answer to our pull with the empty state vector or an unsolicited
   * STEP2 (a push: §6.2 sends the full state), the peer's whole state; else (an answer from a
   * node that sends its pull-back after the STEP2) nothing: not checked, as a live update.
   */
  #mergeContext(id: string): MergeContext | undefined {
    const sv = this.#peerSv.get(id);
    const empty = this.#pulledEmpty.get(id);
    this.#dropPeerSv(id);
    this.#pulledEmpty.delete(id);
    if (sv !== undefined) return { remoteStateVector: sv };
    if (empty === undefined || empty) return { remoteStateVector: EMPTY_SV };
    return undefined;
  }

  async #apply(id: string, update: Uint8Array, answersPull: boolean, merge?: MergeContext): Promise<void> {
    const t0 = monoMs();
    const p: Promise<void> = this.#o.store
      .applyRemoteUpdate(id, update, merge === undefined ? this.#ctx : { ...this.#ctx, merge })
      .then(
        (r) => this.#o.events.emit('update-received', { source: 'peer', from: this.peerId, id, bytes: update.length, applied: r.applied, durationMillis: monoMs() - t0 }),
        (err: unknown) => this.#applyFailed(id, err, t0),
      )
      .finally(() => {
        this.#inflight.delete(p);
        this.#inflightBytes -= update.length;
        if (answersPull) this.#pulls.resolve(id);
        else this.#pulls.check();
      });
    this.#inflight.add(p);
    this.#inflightBytes += update.length;
    const maxBytes = this.#o.limits.maxInflightBytes ?? MAX_INBOX_BYTES;
    while (this.#inflight.size > 0 && (this.#inflight.size >= this.#o.limits.maxInflightApplies || this.#inflightBytes >= maxBytes)) await Promise.race(this.#inflight);
  }

  #applyFailed(id: string, err: unknown, t0: number): void {
    const code = codeOf(err);
    const ms = monoMs() - t0;
    if (code === 'PROFILE_INVALID' || code === 'PROFILE_TOO_LARGE' || code === 'PROFILE_READONLY_FIELD') {
      // refused by validation (the store audited sync.rejected); the session goes on
      this.#o.events.emit('update-rejected', { source: 'peer', from: this.peerId, id, code, durationMillis: ms });
      this.#o.logger.warn({ peerId: this.peerId, profile: id, code }, 'peer update rejected by validation');
      return;
    }
    if (code === 'PROFILE_BAD_UPDATE' || code === 'PROFILE_INVALID_ID') {
      this.#o.events.emit('update-rejected', { source: 'peer', from: this.peerId, id, code, durationMillis: ms });
      this.#failWith(syncError(SyncErrorCode.BAD_UPDATE, `peer sent an update that does not decode (${code})`, { id, code }, err), id);
      return;
    }
    this.#failWith(err, id);
  }

  async #barrier(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  // --- outgoing ----------------------------------------------------------------

  #send(m: Message, onFlushed?: () => void): void {
    if (this.#closed) return;
    const bytes = encodeMessage(m);
    this.stats.messagesSent++;
    this.stats.bytesSent += bytes.length;
    this.#o.link.send(bytes, onFlushed);
  }

  /** Replies wait for the send queue to drain (this session only): a slow peer slows itself. */
  async #sendReply(m: Message): Promise<void> {
    const limit = this.#o.limits.queueBytes;
    if (this.#o.link.bufferedBytes() > limit) await this.#o.link.waitBuffered(limit / 2);
    this.#send(m);
  }

  async #resyncWhenDrained(): Promise<void> {
    await this.#o.link.waitBuffered(this.#o.limits.queueBytes / 2);
    this.#resyncing = false;
    if (!this.#closed) this.#rounds.kick(this.#o.limits.autoRounds);
  }

  // --- rounds (ours; bookkeeping in rounds.ts) -----------------------------------

  async #openRound(round: number): Promise<void> {
    this.stats.rounds++;
    try {
      await this.#barrier();
      const { digest, count } = this.#o.digest.root();
      this.#send({ type: MessageType.ROOT, round, digest, count });
    } catch (err) {
      this.#failWith(err);
    }
  }

  #roundEnded(a: ActiveRound, converged: boolean, timedOut: boolean): void {
    this.#o.events.emit('sync-round', { peerId: this.peerId, round: a.round, converged, differing: a.differing, pulled: a.pulled, durationMillis: monoMs() - a.started });
    if (timedOut) this.#o.logger.warn({ peerId: this.peerId, round: a.round }, 'sync round timed out');
    if (!converged) return;
    this.#lastConverged = monoMs();
    if (a.round > this.#droppedAt) this.#dropped.clear();
  }

  #failWith(err: unknown, profile?: string): void {
    if (this.#closed) return;
    const code = codeOf(err);
    const message = err instanceof Error ? err.message : String(err);
    if (code === SyncErrorCode.BAD_MESSAGE || code === SyncErrorCode.BAD_UPDATE) {
      // logged and audited by the service when the session closes with this code
      this.#o.logger.warn({ peerId: this.peerId, code, profile }, 'peer sent garbage: disconnecting');
    } else if (code !== 'STORE_CLOSED') {
      this.#o.logger.error({ peerId: this.peerId, code, err: message }, 'sync session failed');
    }
    const linkCode = code === SyncErrorCode.BAD_MESSAGE || code === SyncErrorCode.BAD_UPDATE ? code : SyncErrorCode.INTERNAL;
    this.#o.link.fail(linkCode, message);
    this.stop();
  }
}
