/**
 * Durable group commit. Appends queue up; one writer loop cuts a batch (every queued append,
 * any streams, up to maxBatchEntries; an appendMany is never split), assigns seq/lsn/ts/hash
 * from the last durable heads, writes entries + one head and one view per stream + catalog
 * records of new streams in ONE synced LevelDB batch, then resolves every append in it.
 * While a batch is in flight new appends wait for the next one. A failed batch rejects exactly
 * its appends (LOG_WRITE_FAILED) and leaves the in-memory heads at the durable state; the DB is
 * reopened (and heads reloaded from it) before the next batch.
 */
import { asU8, ZERO_HASH, utf8 } from './bytes.js';
import { type DbHolder, type Op, writeOps } from './db.js';
import type { Emitter } from './emitter.js';
import { logError } from './errors.js';
import { MAX_STREAM_NO, P_CATALOG, P_HEAD, P_VIEW, entryKey, streamKey } from './keys.js';
import { encodeEntry, encodeHead, encodePayload, frame, type HeadRecord, viewHeader } from './records.js';
import type { StreamTable } from './table.js';
import type { AppendAck, AppendInput, LogCodec, LogEvents } from './types.js';

const EMPTY_HEADER = new Uint8Array(0);

interface Item {
  stream: string;
  /** plaintext payload (a copy: callers may reuse their buffers after append returns) */
  payload: Uint8Array;
  view: Uint8Array | undefined;
}

interface Job {
  items: Item[];
  enqueuedAt: number;
  resolve: (acks: AppendAck[]) => void;
  reject: (err: unknown) => void;
}

interface Work {
  head: HeadRecord;
  view: Uint8Array | undefined;
  viewSeq: number;
  entries: { seq: number; bytes: number }[];
}

/** What the snapshot worker learns after each commit. */
export interface CommittedStream {
  no: number;
  entries: { seq: number; bytes: number }[];
}

export interface WriterDeps {
  holder: DbHolder;
  table: StreamTable;
  codec: LogCodec;
  clock: () => number;
  emitter: Emitter<LogEvents>;
  maxBatchEntries: number;
  onCommitted: (streams: CommittedStream[]) => void;
}

const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class GroupCommitWriter {
  readonly #d: WriterDeps;
  #queue: Job[] = [];
  #exclusive: { fn: () => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  #running = false;
  #needsReopen = false;
  #idleWaiters: (() => void)[] = [];

  constructor(deps: WriterDeps) {
    this.#d = deps;
  }

  /** Queues already-validated inputs as one all-or-nothing job. */
  submit(inputs: readonly AppendInput[]): Promise<AppendAck[]> {
    const items = inputs.map((i) => ({
      stream: i.stream,
      payload: encodePayload(i),
      view: i.view === undefined ? undefined : new Uint8Array(i.view), // a copy (Buffer#slice would share)
    }));
    return new Promise<AppendAck[]>((resolve, reject) => {
      this.#queue.push({ items, enqueuedAt: performance.now(), resolve, reject });
      this.#schedule();
    });
  }

  /** Queues one already-validated input (the common case, without an array of acks). */
  submitOne(input: AppendInput): Promise<AppendAck> {
    const item: Item = { stream: input.stream, payload: encodePayload(input), view: input.view === undefined ? undefined : new Uint8Array(input.view) };
    return new Promise<AppendAck>((resolve, reject) => {
      this.#queue.push({ items: [item], enqueuedAt: performance.now(), resolve: (acks) => resolve(acks[0] as AppendAck), reject });
      this.#schedule();
    });
  }

  /** Runs `fn` between batches, with no batch in flight (rebuild uses it per stream). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#exclusive.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.#schedule();
    });
  }

  /** Resolves when the queue is empty and no batch is in flight. */
  drain(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  get pending(): number {
    let n = 0;
    for (const j of this.#queue) n += j.items.length;
    return n;
  }

  #schedule(): void {
    if (this.#running) return;
    this.#running = true;
    setImmediate(() => void this.#loop());
  }

  async #loop(): Promise<void> {
    try {
      while (this.#queue.length > 0 || this.#exclusive.length > 0) {
        const ex = this.#exclusive.shift();
        if (ex !== undefined) {
          await ex.fn().then(ex.resolve, ex.reject);
          continue;
        }
        if (this.#needsReopen && !(await this.#reopen())) continue;
        await this.#commit(this.#cut());
        // let the continuations of the acks run, so their next appends join the next batch
        await yieldToIo();
      }
    } finally {
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  async #reopen(): Promise<boolean> {
    const start = performance.now();
    try {
      await this.#d.holder.reopen();
      // LevelDB may or may not have kept the failed batch: the disk is the truth
      await this.#d.table.load(this.#d.holder.db, this.#d.codec);
      this.#needsReopen = false;
      this.#d.emitter.emit('reopened', { durationMillis: performance.now() - start });
      return true;
    } catch (err) {
      const jobs = this.#queue;
      this.#queue = [];
      this.#fail(jobs, err, start);
      return false;
    }
  }

  #cut(): Job[] {
    let n = 0;
    let i = 0;
    while (i < this.#queue.length) {
      const size = (this.#queue[i] as Job).items.length;
      if (i > 0 && n + size > this.#d.maxBatchEntries) break;
      n += size;
      i++;
    }
    return this.#queue.splice(0, i);
  }

  #fail(jobs: Job[], cause: unknown, start: number): void {
    const entries = jobs.reduce((n, j) => n + j.items.length, 0);
    const err = logError('LOG_WRITE_FAILED', `the batch of ${entries} append(s) was not written: ${String((cause as Error)?.message ?? cause)}`, {
      cause, details: { entries },
    });
    for (const j of jobs) j.reject(err);
    this.#d.emitter.emit('batch-failed', { entries, code: err.code, durationMillis: performance.now() - start });
  }

  async #commit(jobs: Job[]): Promise<void> {
    const start = performance.now();
    const { table, codec, holder } = this.#d;
    const work = new Map<number, Work>();
    const newStreams = new Map<string, number>();
    const acks: AppendAck[][] = [];
    let nextNo = table.nextNo;
    let lsn = table.lastLsn;
    let bytes = 0;
    const ops: Op[] = [];
    try {
      const now = Math.floor(this.#d.clock());
      if (!Number.isSafeInteger(now) || now < 0) throw new RangeError(`clock returned ${now}`);
      for (const job of jobs) {
        const jobAcks: AppendAck[] = [];
        for (const item of job.items) {
          let no = table.numberOf(item.stream) ?? newStreams.get(item.stream);
          if (no === undefined) {
            if (nextNo > MAX_STREAM_NO) throw new RangeError('stream numbers exhausted');
            no = nextNo++;
            newStreams.set(item.stream, no);
          }
          let w = work.get(no);
          if (w === undefined) {
            w = { head: table.head(no) ?? { seq: 0, lsn: 0, ts: 0, hash: ZERO_HASH }, view: undefined, viewSeq: 0, entries: [] };
            work.set(no, w);
          }
          const seq = w.head.seq + 1;
          const ts = Math.max(now, w.head.ts);
          lsn++;
          const stored = codec.encode({ kind: 'entry', stream: no, seq }, item.payload);
          const { value, hash } = encodeEntry(seq, lsn, ts, w.head.hash, stored);
          ops.push({ type: 'put', key: entryKey(no, seq), value });
          bytes += value.byteLength;
          w.head = { seq, lsn, ts, hash };
          w.entries.push({ seq, bytes: stored.byteLength });
          if (item.view !== undefined) {
            w.view = item.view;
            w.viewSeq = seq;
          }
          jobAcks.push({ stream: item.stream, seq, lsn, ts, hash: asU8(hash) });
        }
        acks.push(jobAcks);
      }
      for (const [no, w] of work) {
        ops.push({ type: 'put', key: streamKey(P_HEAD, no), value: encodeHead(w.head) });
        if (w.view !== undefined) {
          const stored = codec.encode({ kind: 'view', stream: no, seq: w.viewSeq }, w.view);
          const v = frame(viewHeader(w.viewSeq), stored);
          ops.push({ type: 'put', key: streamKey(P_VIEW, no), value: v });
          bytes += v.byteLength;
        }
      }
      for (const [name, no] of newStreams) {
        const stored = codec.encode({ kind: 'catalog', stream: no, seq: 0 }, utf8(name));
        ops.push({ type: 'put', key: streamKey(P_CATALOG, no), value: frame(EMPTY_HEADER, stored) });
      }
    } catch (err) {
      this.#fail(jobs, err, start);
      return;
    }
    try {
      await writeOps(holder.db, ops, true);
    } catch (err) {
      this.#needsReopen = true;
      this.#fail(jobs, err, start);
      return;
    }
    const heads: [number, HeadRecord][] = [];
    for (const [no, w] of work) heads.push([no, w.head]);
    table.commit(heads, [...newStreams].map(([name, no]) => [no, name] as [number, string]), lsn, nextNo);
    const end = performance.now();
    const emitter = this.#d.emitter;
    const perAppend = emitter.has('appended');
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i] as Job;
      const jobAcks = acks[i] as AppendAck[];
      job.resolve(jobAcks);
      if (perAppend) {
        for (let k = 0; k < jobAcks.length; k++) {
          const a = jobAcks[k] as AppendAck;
          const item = job.items[k] as Item;
          emitter.emit('appended', { stream: a.stream, seq: a.seq, lsn: a.lsn, bytes: item.payload.byteLength, durationMillis: end - job.enqueuedAt });
        }
      }
    }
    let entries = 0;
    for (const a of acks) entries += a.length;
    emitter.emit('batch-committed', { entries, streams: work.size, bytes, durationMillis: end - start });
    const committed: CommittedStream[] = [];
    for (const [no, w] of work) committed.push({ no, entries: w.entries });
    this.#d.onCommitted(committed);
  }
}
