/**
 * Writes snapshots in the background after batches commit (never inside an append batch, never
 * delaying acks). Per stream it tracks the policy counters since the last snapshot point; a
 * stream it has not seen since open is initialized from its newest readable snapshot and the
 * entries after it. Each snapshot is built from the previous point's snapshot + the bodies in
 * between (see snapshots.ts), so missing or unreadable snapshots are rebuilt on the way.
 */
import type { Emitter } from './emitter.js';
import { decodeEntry, iterateRaw, type ReadContext } from './reader.js';
import type { SnapshotChain, SnapshotThread } from './snapshot-thread.js';
import { findSnapshot, loadState, policyStep, type PolicyCounters, writeRest, writeSnapshot } from './snapshots.js';
import type { StreamTable } from './table.js';
import type { LogEvents, OpenLogOptions, SnapshotPolicy } from './types.js';
import { isOpaqueStream } from './validate.js';
import type { CommittedStream } from './writer.js';

interface StreamState extends PolicyCounters {
  /** policy evaluated for entries up to here */
  scannedSeq: number;
  /** snapshot points found but not yet written, ascending */
  points: number[];
  /** seq of the last snapshot written or found (the base of the next one) */
  baseSeq: number;
  scanning: boolean;
  needsScan: boolean;
  /**
   * Bodies the writer committed, for seqs memFrom .. memFrom + memBodies.length - 1 (a
   * contiguous run), with their chain hashes: a snapshot whose span is in memory is built
   * without reading (verifying, decoding) its entries back from disk.
   */
  memFrom: number;
  memBodies: Uint8Array[];
  memHashes: Uint8Array[];
  memBytes: number;
}

/** Bytes of committed bodies kept in memory for the next snapshots (all streams; least recently appended dropped first). */
export const SNAPSHOT_MEMORY_BYTES = 32 * 1024 * 1024;

/**
 * Live docs kept on the snapshot thread for the streams snapshotted most recently, so the next
 * snapshot of a busy stream applies only the new bodies instead of first loading the previous
 * snapshot into a fresh doc (which dominated: ~13 ms against ~0.5 ms for a 1,000-edit profile).
 * Bounded by the encoded size of their states (a doc takes ~2.6x its encoding in memory) and a
 * count; least recently snapshotted dropped first. Same bytes either way (snapshot-thread.ts).
 */
export const SNAPSHOT_CHAIN_BYTES = 8 * 1024 * 1024;
export const SNAPSHOT_CHAINS = 256;

interface LiveChain {
  chain: SnapshotChain;
  /** the seq whose state the live doc holds */
  seq: number;
  bytes: number;
}

/**
 * A stream with a tail after its newest snapshot gets a rest state (snapshots.ts) once no batch
 * has touched it for this long, so its next cold load is one read (no tail, no merge).
 */
export const REST_QUIET_MS = 2000;
/** A clean close writes the rest states still due for at most this long (oldest commits first); the rest wait for the next run. */
export const REST_CLOSE_BUDGET_MS = 3000;

const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function newState(base: number): StreamState {
  return {
    lastSnapshotSeq: base, entriesSince: 0, bytesSince: 0, scannedSeq: base, points: [], baseSeq: base, scanning: false, needsScan: false,
    memFrom: base + 1, memBodies: [], memHashes: [], memBytes: 0,
  };
}

export class SnapshotWorker {
  readonly #ctx: ReadContext;
  readonly #table: StreamTable;
  readonly #policy: SnapshotPolicy;
  readonly #emitter: Emitter<LogEvents>;
  readonly #states = new Map<number, StreamState>();
  readonly #pending = new Set<number>();
  /** streams holding bodies in memory, least recently appended first */
  readonly #withMem = new Map<number, StreamState>();
  #memBytes = 0;
  readonly #memBudget: number;
  #running: Promise<void> | undefined;
  /** live snapshot docs by stream, least recently used first */
  readonly #chains = new Map<number, LiveChain>();
  #chainBytes = 0;
  #paused = 0;
  #stopped = false;
  /** streams whose head may be past their newest snapshot and rest state, by last commit (ms, oldest first) */
  readonly #restless = new Map<number, number>();
  #restTimer: NodeJS.Timeout | undefined;
  #settling = false;

  readonly #thread: SnapshotThread;

  /** REST_QUIET_MS unless configured; undefined: no rest states */
  readonly #restQuietMs: number | undefined;
  readonly #restCloseBudgetMs: number;

  constructor(ctx: ReadContext, table: StreamTable, policy: SnapshotPolicy, thread: SnapshotThread, rest: OpenLogOptions['restStates'] = {}, memBudget = SNAPSHOT_MEMORY_BYTES) {
    this.#restQuietMs = rest === false ? undefined : rest.quietMs ?? REST_QUIET_MS;
    this.#restCloseBudgetMs = rest === false ? 0 : rest.closeBudgetMs ?? REST_CLOSE_BUDGET_MS;
    this.#thread = thread;
    this.#ctx = ctx;
    this.#table = table;
    this.#policy = policy;
    this.#emitter = ctx.emitter;
    this.#memBudget = memBudget;
  }

  /** Called after every committed batch (synchronously, cheap). */
  notify(streams: readonly CommittedStream[]): void {
    if (this.#stopped) return;
    const now = this.#restQuietMs === undefined ? undefined : performance.now();
    for (const s of streams) {
      if (isOpaqueStream(s.name)) continue; // no snapshots of reserved streams
      if (now !== undefined) {
        this.#restless.delete(s.no); // re-inserted: the map stays ordered by last commit
        this.#restless.set(s.no, now);
      }
      let st = this.#states.get(s.no);
      if (st === undefined) {
        if (s.firstSeq !== 1) {
          // a stream not seen since open: its counters come from disk first
          this.#pending.add(s.no);
          continue;
        }
        st = newState(0);
        this.#states.set(s.no, st);
      }
      this.#remember(s.no, st, s);
      if (st.scanning || s.firstSeq !== st.scannedSeq + 1) {
        st.needsScan = true;
      } else {
        const n = s.storedBytes.length;
        for (let i = 0; i < n; i++) if (policyStep(this.#policy, st, s.firstSeq + i, s.storedBytes[i] as number)) st.points.push(s.firstSeq + i);
        st.scannedSeq = s.firstSeq + n - 1;
      }
      if (st.needsScan || st.points.length > 0) this.#pending.add(s.no);
    }
    this.#armRestTimer();
    this.#kick();
  }

  /** Wakes the worker when the oldest restless stream has been quiet for REST_QUIET_MS. */
  #armRestTimer(): void {
    if (this.#restTimer !== undefined || this.#stopped) return;
    const oldest = this.#restless.values().next();
    if (oldest.done === true) return;
    const wait = Math.max(0, oldest.value + (this.#restQuietMs ?? 0) - performance.now());
    this.#restTimer = setTimeout(() => {
      this.#restTimer = undefined;
      if (this.#paused > 0 || this.#settling || this.#stopped) return; // resume() and the close take over
      this.#kick();
      if (this.#running === undefined) this.#armRestTimer();
    }, wait + 1);
    this.#restTimer.unref();
  }

  #restsDue(): boolean {
    const oldest = this.#restless.values().next();
    return oldest.done !== true && performance.now() - oldest.value >= (this.#restQuietMs ?? 0);
  }

  /** Writes rest states of streams quiet for `quietMs`, oldest first, until `deadline` (performance.now() ms). */
  async #writeRests(quietMs: number, deadline: number): Promise<void> {
    for (const [no, at] of this.#restless) {
      if (this.#paused > 0 || this.#stopped || this.#pending.size > 0) return; // snapshot points first
      if (performance.now() - at < quietMs || performance.now() > deadline) return;
      this.#restless.delete(no);
      await this.#writeRest(no);
      await yieldToIo();
    }
  }

  async #writeRest(no: number): Promise<void> {
    const name = this.#table.nameOf(no);
    const head = this.#table.head(no);
    if (name === undefined || head === undefined || this.#table.isRetired(no)) return;
    if (this.#ctx.snapshotSeqs?.get(no) === head.seq) return; // a snapshot at the head: nothing to add
    const start = performance.now();
    try {
      const loaded = await loadState(this.#ctx, no, name, head, head.seq);
      // one part (a base at the head, or a stream of one entry): a load merges nothing already
      if (loaded.updates.length <= 1) return;
      const bytes = await writeRest(this.#ctx, no, head.seq, head.hash, loaded.state);
      this.#emitter.emit('rest-written', { stream: name, seq: head.seq, bytes, durationMillis: performance.now() - start });
    } catch {
      // derived data only: a stream that does not load (damaged, reported by the read) gets none
    }
  }

  /**
   * A clean close: after the pending snapshots, the rest states of every stream that still has
   * a tail, oldest commits first, for at most `budgetMs` (the others keep their tails).
   */
  async settle(): Promise<void> {
    await this.drain();
    this.#settling = true;
    try {
      await this.#writeRests(0, performance.now() + this.#restCloseBudgetMs);
    } finally {
      this.#settling = false;
    }
  }

  /** Keeps the batch's bodies of one stream in memory (within the budget). */
  #remember(no: number, st: StreamState, s: CommittedStream): void {
    if (st.memFrom + st.memBodies.length !== s.firstSeq) this.#dropMem(no, st, s.firstSeq);
    const n = s.payloads.length;
    for (let i = 0; i < n; i++) {
      const p = s.payloads[i] as Uint8Array;
      const body = p.subarray(s.bodyAt[i] as number);
      st.memBodies.push(body);
      st.memHashes.push(s.hashes[i] as Uint8Array);
      st.memBytes += body.byteLength;
      this.#memBytes += body.byteLength;
    }
    this.#withMem.delete(no);
    this.#withMem.set(no, st);
    if (this.#memBytes > this.#memBudget) {
      for (const [other, o] of this.#withMem) {
        if (this.#memBytes <= this.#memBudget) break;
        this.#dropMem(other, o, o.memFrom + o.memBodies.length);
      }
    }
  }

  /** Forgets the in-memory bodies of a stream; the next ones start at `from`. */
  #dropMem(no: number, st: StreamState, from: number): void {
    this.#memBytes -= st.memBytes;
    st.memBytes = 0;
    st.memBodies = [];
    st.memHashes = [];
    st.memFrom = from;
    this.#withMem.delete(no);
  }

  /** Drops in-memory bodies up to `seq` (a snapshot now covers them). */
  #trimMem(no: number, st: StreamState, seq: number): void {
    const n = Math.min(seq - st.memFrom + 1, st.memBodies.length);
    if (n <= 0) return;
    if (n === st.memBodies.length) {
      this.#dropMem(no, st, seq + 1);
      return;
    }
    let freed = 0;
    for (let i = 0; i < n; i++) freed += (st.memBodies[i] as Uint8Array).byteLength;
    st.memBodies = st.memBodies.slice(n);
    st.memHashes = st.memHashes.slice(n);
    st.memFrom += n;
    st.memBytes -= freed;
    this.#memBytes -= freed;
  }

  #dropChain(no: number): void {
    const c = this.#chains.get(no);
    if (c === undefined) return;
    this.#chains.delete(no);
    this.#chainBytes -= c.bytes;
    c.chain.end();
  }

  #keepChain(no: number, c: LiveChain): void {
    this.#chains.delete(no);
    this.#chains.set(no, c);
    this.#chainBytes += c.bytes;
    for (const [other] of this.#chains) {
      if (this.#chainBytes <= SNAPSHOT_CHAIN_BYTES && this.#chains.size <= SNAPSHOT_CHAINS) break;
      this.#dropChain(other);
    }
  }

  #forget(no: number): void {
    this.#dropChain(no);
    const st = this.#states.get(no);
    if (st !== undefined) this.#dropMem(no, st, 0);
    this.#states.delete(no);
  }

  /** Forgets what it knows of a stream, its newest snapshot seq too (after rebuild rewrote its snapshots and deleted its rest state). */
  reset(no: number): void {
    this.#forget(no);
    this.#ctx.snapshotSeqs?.delete(no);
    this.#pending.delete(no);
    this.#restless.delete(no);
    if (this.#restQuietMs !== undefined) this.#restless.set(no, performance.now());
  }

  /** Waits for the current work, then holds further work until resume(). */
  async pause(): Promise<void> {
    this.#paused++;
    await this.#running;
  }

  resume(): void {
    this.#paused = Math.max(0, this.#paused - 1);
    this.#kick();
    if (this.#running === undefined) this.#armRestTimer();
  }

  /** Finishes all pending snapshot work. */
  async drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Stops accepting work and waits for the current job. */
  async stop(): Promise<void> {
    await this.drain();
    this.#stopped = true;
    clearTimeout(this.#restTimer);
    this.#restTimer = undefined;
    this.#restless.clear();
    this.#pending.clear();
    for (const no of [...this.#chains.keys()]) this.#dropChain(no);
  }

  #kick(): void {
    if (this.#running !== undefined || this.#paused > 0 || this.#settling || (this.#pending.size === 0 && !this.#restsDue())) return;
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#pending.size > 0) this.#kick();
      else this.#armRestTimer();
    });
  }

  async #run(): Promise<void> {
    await this.#points();
    if (this.#pending.size === 0 && !this.#stopped) await this.#writeRests(this.#restQuietMs ?? 0, Number.POSITIVE_INFINITY);
  }

  async #points(): Promise<void> {
    while (this.#pending.size > 0 && this.#paused === 0) {
      const no = this.#pending.values().next().value as number;
      this.#pending.delete(no);
      try {
        await this.#process(no);
      } catch (err) {
        // derived data only: forget the stream and let the next commit retry from disk
        this.#forget(no);
        const name = this.#table.nameOf(no) ?? `#${no}`;
        this.#emitter.emit('corruption', { stream: name, seq: 0, kind: 'snapshot', message: `snapshot work failed: ${String((err as Error)?.message ?? err)}` });
      }
      await yieldToIo();
    }
  }

  async #process(no: number): Promise<void> {
    const name = this.#table.nameOf(no);
    if (name === undefined || isOpaqueStream(name) || this.#table.head(no) === undefined) return;
    let st = this.#states.get(no);
    if (st === undefined) {
      const headSeq = this.#table.head(no)?.seq ?? 0;
      const snap = await findSnapshot(this.#ctx, no, name, headSeq, undefined, headSeq);
      const base = snap?.seq ?? 0;
      st = newState(base);
      st.needsScan = true;
      this.#states.set(no, st);
    }
    while (st.needsScan) {
      st.needsScan = false;
      st.scanning = true;
      try {
        const head = this.#table.head(no);
        if (head === undefined || head.seq <= st.scannedSeq) break;
        for await (const { seq, parsed } of iterateRaw(this.#ctx, no, name, head, st.scannedSeq + 1, head.seq)) {
          // the policy counts stored payload bytes: no decoding (decrypting) just to count
          if (policyStep(this.#policy, st, seq, parsed.stored.byteLength)) st.points.push(seq);
          st.scannedSeq = seq;
        }
      } finally {
        st.scanning = false;
      }
    }
    while (st.points.length > 0 && this.#paused === 0 && !this.#stopped) {
      const target = st.points[0] as number;
      await this.#build(no, name, st, target);
      st.points.shift();
      st.baseSeq = target;
    }
    if (st.points.length > 0) this.#pending.add(no);
  }

  async #build(no: number, name: string, st: StreamState, target: number): Promise<void> {
    const start = performance.now();
    const head = this.#table.head(no);
    if (head === undefined) return;
    let bodies: Uint8Array[] = [];
    let hash: Uint8Array | undefined;
    const first = st.baseSeq + 1 - st.memFrom;
    const last = target - st.memFrom;
    if (first >= 0 && first <= last && last < st.memBodies.length) {
      // the span is still in memory: exactly the bodies the writer committed
      bodies = st.memBodies.slice(first, last + 1);
      hash = st.memHashes[last];
    } else {
      for await (const { seq, parsed } of iterateRaw(this.#ctx, no, name, head, st.baseSeq + 1, target)) {
        bodies.push(decodeEntry(this.#ctx, no, name, seq, parsed).body);
        hash = parsed.hash;
      }
    }
    if (hash === undefined) return;
    let live = this.#chains.get(no);
    if (live !== undefined && live.seq !== st.baseSeq) {
      this.#dropChain(no);
      live = undefined;
    }
    let state: Uint8Array;
    if (live !== undefined) {
      // the live doc holds the base snapshot's state: apply only the new bodies
      this.#chains.delete(no);
      this.#chainBytes -= live.bytes;
      try {
        state = await live.chain.next(bodies);
      } catch (err) {
        live.chain.end();
        throw err;
      }
    } else {
      let prev: Uint8Array | undefined;
      if (st.baseSeq > 0) {
        const snap = await findSnapshot(this.#ctx, no, name, st.baseSeq);
        if (snap === undefined || snap.seq !== st.baseSeq) throw new Error(`base snapshot ${st.baseSeq} is gone`);
        prev = snap.state;
      }
      // a fresh live doc: the previous snapshot and the bodies in one transaction, as build() does
      const chain = this.#thread.chain();
      live = { chain, seq: 0, bytes: 0 };
      try {
        state = await chain.next(prev === undefined ? bodies : [prev, ...bodies]);
      } catch (err) {
        chain.end();
        throw err;
      }
    }
    if (this.#stopped) live.chain.end();
    else this.#keepChain(no, { chain: live.chain, seq: target, bytes: state.byteLength });
    const bytes = await writeSnapshot(this.#ctx, no, target, hash, state);
    this.#trimMem(no, st, target);
    this.#emitter.emit('snapshot-written', { stream: name, seq: target, bytes, durationMillis: performance.now() - start });
  }
}
