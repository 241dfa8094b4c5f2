/**
 * Writes snapshots in the background after batches commit (never inside an append batch, never
 * delaying acks). Per stream it tracks the policy counters since the last snapshot point; a
 * stream it has not seen since open is initialized from its newest readable snapshot and the
 * entries after it. Each snapshot is built from the previous point's snapshot + the bodies in
 * between (see snapshots.ts), so missing or unreadable snapshots are rebuilt on the way.
 */
import type { Emitter } from './emitter.js';
import { decodeEntry, iterateRaw, type ReadContext } from './reader.js';
import type { SnapshotThread } from './snapshot-thread.js';
import { findSnapshot, policyStep, type PolicyCounters, writeSnapshot } from './snapshots.js';
import type { StreamTable } from './table.js';
import type { LogEvents, SnapshotPolicy } from './types.js';
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
}

const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SnapshotWorker {
  readonly #ctx: ReadContext;
  readonly #table: StreamTable;
  readonly #policy: SnapshotPolicy;
  readonly #emitter: Emitter<LogEvents>;
  readonly #states = new Map<number, StreamState>();
  readonly #pending = new Set<number>();
  #running: Promise<void> | undefined;
  #paused = 0;
  #stopped = false;

  readonly #thread: SnapshotThread;

  constructor(ctx: ReadContext, table: StreamTable, policy: SnapshotPolicy, thread: SnapshotThread) {
    this.#thread = thread;
    this.#ctx = ctx;
    this.#table = table;
    this.#policy = policy;
    this.#emitter = ctx.emitter;
  }

  /** Called after every committed batch (synchronously, cheap). */
  notify(streams: readonly CommittedStream[]): void {
    if (this.#stopped) return;
    for (const s of streams) {
      const st = this.#states.get(s.no);
      if (st === undefined) {
        this.#pending.add(s.no);
        continue;
      }
      const first = s.entries[0];
      if (st.scanning || first === undefined || first.seq !== st.scannedSeq + 1) {
        st.needsScan = true;
      } else {
        for (const e of s.entries) if (policyStep(this.#policy, st, e.seq, e.bytes)) st.points.push(e.seq);
        st.scannedSeq = (s.entries[s.entries.length - 1] as { seq: number }).seq;
      }
      if (st.needsScan || st.points.length > 0) this.#pending.add(s.no);
    }
    this.#kick();
  }

  /** Forgets what it knows of a stream (after rebuild rewrote its snapshots). */
  reset(no: number): void {
    this.#states.delete(no);
    this.#pending.delete(no);
  }

  /** Waits for the current work, then holds further work until resume(). */
  async pause(): Promise<void> {
    this.#paused++;
    await this.#running;
  }

  resume(): void {
    this.#paused = Math.max(0, this.#paused - 1);
    this.#kick();
  }

  /** Finishes all pending snapshot work. */
  async drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Stops accepting work and waits for the current job. */
  async stop(): Promise<void> {
    await this.drain();
    this.#stopped = true;
    this.#pending.clear();
  }

  #kick(): void {
    if (this.#running !== undefined || this.#paused > 0 || this.#pending.size === 0) return;
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      this.#kick();
    });
  }

  async #run(): Promise<void> {
    while (this.#pending.size > 0 && this.#paused === 0) {
      const no = this.#pending.values().next().value as number;
      this.#pending.delete(no);
      try {
        await this.#process(no);
      } catch (err) {
        // derived data only: forget the stream and let the next commit retry from disk
        this.#states.delete(no);
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
      const snap = await findSnapshot(this.#ctx, no, name, this.#table.head(no)?.seq ?? 0);
      const base = snap?.seq ?? 0;
      st = { lastSnapshotSeq: base, entriesSince: 0, bytesSince: 0, scannedSeq: base, points: [], baseSeq: base, scanning: false, needsScan: true };
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
    let prev: Uint8Array | undefined;
    if (st.baseSeq > 0) {
      const snap = await findSnapshot(this.#ctx, no, name, st.baseSeq);
      if (snap === undefined || snap.seq !== st.baseSeq) throw new Error(`base snapshot ${st.baseSeq} is gone`);
      prev = snap.state;
    }
    const bodies: Uint8Array[] = [];
    let hash: Uint8Array | undefined;
    for await (const { seq, parsed } of iterateRaw(this.#ctx, no, name, head, st.baseSeq + 1, target)) {
      bodies.push(decodeEntry(this.#ctx, no, name, seq, parsed).body);
      hash = parsed.hash;
    }
    if (hash === undefined) return;
    const state = await this.#thread.build(prev, bodies);
    const bytes = await writeSnapshot(this.#ctx, no, target, hash, state);
    this.#emitter.emit('snapshot-written', { stream: name, seq: target, bytes, durationMillis: performance.now() - start });
  }
}
