/**
 * Durable group commit. Appends queue up; one writer loop cuts a batch (every queued append,
 * any streams, up to maxBatchEntries; an appendMany is never split), assigns seq/lsn/ts/hash
 * from the last durable heads, writes entries + one head and one view per stream + catalog
 * records of new streams in ONE synced LevelDB batch, then resolves every append in it.
 * While a batch is in flight new appends wait for the next one. A failed batch rejects exactly
 * its appends (LOG_WRITE_FAILED; LOG_DISK_FULL when the disk is full) and leaves the in-memory
 * heads at the durable state; the DB is reopened (and heads reloaded from it) before the next
 * batch — unless the disk lacks the space a reopen needs: then the failed handle stays open for
 * reads and writes are refused (LOG_DISK_FULL) until space returns.
 *
 * Hot path (measured, see docs/storage-format.md "Group commit"): each append is encoded once
 * at submit into a buffer that already has room for the entry header, and its view is copied
 * once into a buffer with room for the view frame; with the plain codec the batch writes those
 * buffers as they are (header and crc filled in place), so a committed append costs one sha-256,
 * one crc32 per stream and three chained-batch puts per stream, and no other copies.
 */
import { Arena, asU8, ZERO_HASH, utf8 } from './bytes.js';
import { plainCodec } from './codec.js';
import { type Chained, type DbHolder, isNoSpace, noSpaceError, reopenSpace, startBatch } from './db.js';
import type { Emitter } from './emitter.js';
import { logError } from './errors.js';
import { MAX_STREAM_NO, P_CATALOG, P_CATALOG_COPY, P_ENTRY, P_HEAD, P_VIEW, putSeqKey, putStreamKey } from './keys.js';
import {
  ENTRY_HEADER_BYTES, encodeEntry, encodeHead, encodePayload, frame, frameViewInPlace, HEAD_BYTES, type HeadRecord, sealEntryInPlace,
  VIEW_FRAME_HEADROOM, viewHeader,
} from './records.js';
import type { StreamTable } from './table.js';
import type { AppendAck, AppendInput, BatchSealer, LogCodec, LogEvents, Place } from './types.js';

const EMPTY_HEADER = new Uint8Array(0);

/** One queued append, encoded at submit (a copy: callers may reuse their buffers afterwards). */
interface Item {
  stream: string;
  /** ENTRY_HEADER_BYTES of room for the entry header, then the plaintext payload */
  entry: Uint8Array;
  /** offset of the body inside `entry` */
  bodyAt: number;
  /** VIEW_FRAME_HEADROOM bytes of room for the frame, then the view bytes */
  view: Uint8Array | undefined;
}

interface Job {
  items: Item[];
  /** a single append() resolves with its ack, an appendMany with the array */
  single: boolean;
  /** replaceStream(): its streams get new chain segments (new stream numbers) */
  segment?: boolean;
  enqueuedAt: number;
  resolve: (acks: never) => void;
  reject: (err: unknown) => void;
}

interface Work {
  head: HeadRecord;
  view: Uint8Array | undefined;
  viewSeq: number;
  /** the view as stored (sealed by a batch sealer before its frame's crc is computed) */
  sealedView: Uint8Array | undefined;
  /** set with the stream's first entry in the batch */
  committed: CommittedStream | undefined;
}

/** An entry sealed by a batch sealer: its chain hash (over the stored bytes) is computed after seal(). */
interface Deferred {
  value: Uint8Array;
  key: Uint8Array;
  seq: number;
  lsn: number;
  ts: number;
  w: Work;
  /** index in w.committed.hashes */
  at: number;
  ack: AppendAck;
}

/** placeholder hash of an entry whose hash waits for the batch seal */
const NO_HASH = new Uint8Array(32);

/**
 * What the snapshot worker learns after each commit: per stream, the entries of the batch
 * (consecutive seqs from firstSeq) with their stored payload sizes (what the policy counts),
 * their plaintext bodies (`payloads[i].subarray(bodyAt[i])`, so the worker never reads them
 * back from disk) and their chain hashes.
 */
export interface CommittedStream {
  no: number;
  name: string;
  firstSeq: number;
  storedBytes: number[];
  payloads: Uint8Array[];
  bodyAt: number[];
  hashes: Uint8Array[];
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

/**
 * Views, keys and heads live only until the batch holding them is written (LevelDB copies them):
 * they are carved from an arena. Entries get their own buffers (the snapshot worker may keep
 * their bodies until the next snapshot; an arena range would keep a whole chunk alive).
 */
const transient = new Arena();

function toItem(i: AppendInput): Item {
  const entry = encodePayload(i, ENTRY_HEADER_BYTES);
  let view: Uint8Array | undefined;
  if (i.view !== undefined) {
    view = transient.take(VIEW_FRAME_HEADROOM + i.view.byteLength);
    view.set(i.view, VIEW_FRAME_HEADROOM);
  }
  return { stream: i.stream, entry, bodyAt: entry.byteLength - i.body.byteLength, view };
}

export class GroupCommitWriter {
  readonly #d: WriterDeps;
  /** the plain codec stores payloads as they are: entries and views are written in place */
  readonly #inPlace: boolean;
  /** a codec with encodeInto seals straight into the entry/view value (its fixed overhead), else undefined */
  readonly #sealInto: ((place: Place, plaintext: Uint8Array, out: Uint8Array, offset: number) => void) | undefined;
  /** a codec with batchSealer seals a whole batch's records together (one nonce, one cipher call) */
  readonly #batchSealer: (() => BatchSealer) | undefined;
  readonly #overhead: number;
  #queue: Job[] = [];
  #exclusive: { fn: () => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  #running = false;
  #needsReopen = false;
  /**
   * Committed batches whose snapshot bookkeeping (onCommitted) has not run yet: it runs while the
   * next batch's write is in flight (or when the writer goes idle), not between an ack and the
   * next batch, where every microsecond is a microsecond of every writer's round trip.
   */
  #committed: CommittedStream[][] = [];
  #idleWaiters: (() => void)[] = [];

  constructor(deps: WriterDeps) {
    this.#d = deps;
    this.#inPlace = deps.codec === plainCodec;
    const c = deps.codec;
    this.#sealInto = !this.#inPlace && c.encodeInto !== undefined ? c.encodeInto.bind(c) : undefined;
    this.#batchSealer = !this.#inPlace && c.batchSealer !== undefined && c.overhead !== undefined ? c.batchSealer.bind(c) : undefined;
    this.#overhead = c.overhead ?? 0;
  }

  /** Queues already-validated inputs as one all-or-nothing job (`segment`: as new chain segments of their streams). */
  submit(inputs: readonly AppendInput[], segment = false): Promise<AppendAck[]> {
    const items = inputs.map(toItem);
    return new Promise<AppendAck[]>((resolve, reject) => {
      this.#queue.push({ items, single: false, segment, enqueuedAt: performance.now(), resolve: resolve as (acks: never) => void, reject });
      this.#schedule();
    });
  }

  /** Queues one already-validated input (the common case: no array of acks). */
  submitOne(input: AppendInput): Promise<AppendAck> {
    const items = [toItem(input)];
    return new Promise<AppendAck>((resolve, reject) => {
      this.#queue.push({ items, single: true, enqueuedAt: performance.now(), resolve: resolve as (acks: never) => void, reject });
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
          this.#flushCommitted();
          await ex.fn().then(ex.resolve, ex.reject);
          continue;
        }
        if (this.#mustReopen && !(await this.#reopen())) continue;
        await this.#commit(this.#cut());
        // let the continuations of the acks run, so their next appends join the next batch
        await yieldToIo();
      }
    } finally {
      this.#flushCommitted();
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  get #mustReopen(): boolean {
    return this.#needsReopen || this.#d.holder.writeFailed;
  }

  /** Before a write outside the batches (aux records): reopen first when a failed write left LevelDB refusing writes. */
  ensureWritable(): Promise<void> {
    if (!this.#mustReopen) return Promise.resolve();
    return this.exclusive(async () => {
      if (this.#mustReopen) await this.#reopenNow();
    });
  }

  async #reopenNow(): Promise<void> {
    const start = performance.now();
    // Reopening writes (LevelDB turns its log into a table and starts a new manifest and log).
    // On a full disk it would fail after the close and leave no open handle, so reads would fail
    // too: keep the failed handle (it still serves reads) and refuse writes until space returns.
    const space = reopenSpace(this.#d.holder.dir);
    if (space !== undefined) throw noSpaceError(space);
    await this.#d.holder.reopen();
    // LevelDB may or may not have kept the failed batch: the disk is the truth
    await this.#d.table.load(this.#d.holder.db, this.#d.codec);
    this.#needsReopen = false;
    this.#d.emitter.emit('reopened', { durationMillis: performance.now() - start });
  }

  async #reopen(): Promise<boolean> {
    const start = performance.now();
    try {
      await this.#reopenNow();
      return true;
    } catch (err) {
      const jobs = this.#queue;
      this.#queue = [];
      this.#fail(jobs, err, start);
      return false;
    }
  }

  #cut(): Job[] {
    const queue = this.#queue;
    let n = 0;
    let i = 0;
    while (i < queue.length) {
      const size = (queue[i] as Job).items.length;
      if (i > 0 && n + size > this.#d.maxBatchEntries) break;
      n += size;
      i++;
    }
    if (i === queue.length) {
      this.#queue = [];
      return queue;
    }
    return queue.splice(0, i);
  }

  #fail(jobs: Job[], cause: unknown, start: number): void {
    const entries = jobs.reduce((n, j) => n + j.items.length, 0);
    const code = isNoSpace(cause) ? 'LOG_DISK_FULL' : 'LOG_WRITE_FAILED';
    const err = logError(code, `the batch of ${entries} append(s) was not written: ${String((cause as Error)?.message ?? cause)}`, {
      cause, details: { entries },
    });
    for (const j of jobs) j.reject(err);
    this.#d.emitter.emit('batch-failed', { entries, code: err.code, durationMillis: performance.now() - start });
  }

  async #commit(jobs: Job[]): Promise<void> {
    const start = performance.now();
    const { table, codec, holder } = this.#d;
    const inPlace = this.#inPlace;
    const sealInto = this.#sealInto;
    const overhead = this.#overhead;
    let sealer: BatchSealer | undefined;
    const deferred: Deferred[] = [];
    const work = new Map<number, Work>();
    let newStreams: Map<string, number> | undefined;
    const acks: AppendAck[] = [];
    let nextNo = table.nextNo;
    let lsn = table.lastLsn;
    let bytes = 0;
    let batch: Chained;
    try {
      batch = await startBatch(holder.db);
    } catch (err) {
      this.#needsReopen = true;
      this.#fail(jobs, err, start);
      return;
    }
    try {
      sealer = this.#batchSealer?.();
      const now = Math.floor(this.#d.clock());
      if (!Number.isSafeInteger(now) || now < 0) throw new RangeError(`clock returned ${now}`);
      for (const job of jobs) {
        const segments = job.segment === true ? new Map<string, number>() : undefined;
        for (const item of job.items) {
          let no = segments !== undefined ? segments.get(item.stream) : table.numberOf(item.stream) ?? newStreams?.get(item.stream);
          if (no === undefined) {
            if (nextNo > MAX_STREAM_NO) throw new RangeError('stream numbers exhausted');
            no = nextNo++;
            (newStreams ??= new Map()).set(item.stream, no);
            segments?.set(item.stream, no);
          }
          let w = work.get(no);
          if (w === undefined) {
            const head = table.head(no) ?? { seq: 0, lsn: 0, ts: 0, hash: ZERO_HASH };
            w = { head, view: undefined, viewSeq: 0, sealedView: undefined, committed: undefined };
            work.set(no, w);
          }
          const seq = w.head.seq + 1;
          const ts = Math.max(now, w.head.ts);
          lsn++;
          let value: Uint8Array;
          let hash: Uint8Array;
          let storedBytes: number;
          if (inPlace) {
            value = item.entry;
            hash = sealEntryInPlace(value, seq, lsn, ts, w.head.hash);
            storedBytes = value.byteLength - ENTRY_HEADER_BYTES;
          } else if (sealer !== undefined) {
            // sealed with the rest of the batch by seal(); the hash follows then (it covers the stored
            // bytes). The sealed value only lives until put() copies it: an arena range (the
            // plaintext in item.entry is what the snapshot worker keeps)
            const plain = item.entry.subarray(ENTRY_HEADER_BYTES);
            storedBytes = plain.byteLength + overhead;
            value = transient.take(ENTRY_HEADER_BYTES + storedBytes);
            sealer.add({ kind: 'entry', stream: no, seq }, plain, value, ENTRY_HEADER_BYTES);
            hash = NO_HASH;
          } else if (sealInto !== undefined) {
            // sealed straight behind the room for the entry header: no copy, no re-framing
            const plain = item.entry.subarray(ENTRY_HEADER_BYTES);
            storedBytes = plain.byteLength + overhead;
            value = new Uint8Array(ENTRY_HEADER_BYTES + storedBytes);
            sealInto({ kind: 'entry', stream: no, seq }, plain, value, ENTRY_HEADER_BYTES);
            hash = sealEntryInPlace(value, seq, lsn, ts, w.head.hash);
          } else {
            const stored = codec.encode({ kind: 'entry', stream: no, seq }, item.entry.subarray(ENTRY_HEADER_BYTES));
            ({ value, hash } = encodeEntry(seq, lsn, ts, w.head.hash, stored));
            storedBytes = stored.byteLength;
          }
          const key = putSeqKey(transient.take(13), P_ENTRY, no, seq);
          // LevelDB copies a value at put(): a sealed entry is put once its bytes are final
          if (hash !== NO_HASH) batch.put(key, value);
          bytes += value.byteLength;
          w.head = { seq, lsn, ts, hash };
          let c = w.committed;
          if (c === undefined) {
            // one-element literals: a push onto [] would reserve 17 slots per array, per stream, per batch
            c = w.committed = { no, name: item.stream, firstSeq: seq, storedBytes: [storedBytes], payloads: [item.entry], bodyAt: [item.bodyAt], hashes: [hash] };
          } else {
            c.storedBytes.push(storedBytes);
            c.payloads.push(item.entry);
            c.bodyAt.push(item.bodyAt);
            c.hashes.push(hash);
          }
          if (item.view !== undefined) {
            w.view = item.view;
            w.viewSeq = seq;
          }
          const ack: AppendAck = { stream: item.stream, seq, lsn, ts, hash: hash === NO_HASH ? hash : asU8(hash) };
          acks.push(ack);
          if (hash === NO_HASH) deferred.push({ value, key, seq, lsn, ts, w, at: c.hashes.length - 1, ack });
        }
      }
      if (sealer !== undefined) {
        for (const [no, w] of work) {
          if (w.view === undefined) continue;
          // only the stream's last view in the batch is sealed (earlier ones are never written)
          const plain = w.view.subarray(VIEW_FRAME_HEADROOM);
          const v = transient.take(VIEW_FRAME_HEADROOM + overhead + plain.byteLength);
          sealer.add({ kind: 'view', stream: no, seq: w.viewSeq }, plain, v, VIEW_FRAME_HEADROOM);
          w.sealedView = v;
        }
        sealer.seal();
        // now the chain hashes, in batch order (a stream's entries come in seq order)
        const tips = new Map<Work, Uint8Array>();
        for (const d of deferred) {
          const c = d.w.committed as CommittedStream;
          const prev = tips.get(d.w) ?? (table.head(c.no)?.hash ?? ZERO_HASH);
          const h = sealEntryInPlace(d.value, d.seq, d.lsn, d.ts, prev);
          tips.set(d.w, h);
          c.hashes[d.at] = h;
          d.ack.hash = asU8(h);
          if (d.w.head.seq === d.seq) d.w.head = { seq: d.seq, lsn: d.lsn, ts: d.ts, hash: h };
          batch.put(d.key, d.value);
        }
      }
      for (const [no, w] of work) {
        batch.put(putStreamKey(transient.take(5), P_HEAD, no), encodeHead(w.head, transient.take(HEAD_BYTES)));
        if (w.view !== undefined) {
          // only the stream's last view in the batch is sealed (earlier ones are never written)
          let v: Uint8Array;
          if (inPlace) {
            v = frameViewInPlace(w.view, w.viewSeq);
          } else if (w.sealedView !== undefined) {
            v = frameViewInPlace(w.sealedView, w.viewSeq);
          } else if (sealInto !== undefined) {
            const plain = w.view.subarray(VIEW_FRAME_HEADROOM);
            v = transient.take(VIEW_FRAME_HEADROOM + overhead + plain.byteLength);
            sealInto({ kind: 'view', stream: no, seq: w.viewSeq }, plain, v, VIEW_FRAME_HEADROOM);
            frameViewInPlace(v, w.viewSeq);
          } else {
            v = frame(viewHeader(w.viewSeq), codec.encode({ kind: 'view', stream: no, seq: w.viewSeq }, w.view.subarray(VIEW_FRAME_HEADROOM)));
          }
          batch.put(putStreamKey(transient.take(5), P_VIEW, no), v);
          bytes += v.byteLength;
        }
      }
      if (newStreams !== undefined) {
        for (const [name, no] of newStreams) {
          const stored = codec.encode({ kind: 'catalog', stream: no, seq: 0 }, utf8(name));
          const record = frame(EMPTY_HEADER, stored);
          batch.put(putStreamKey(transient.take(5), P_CATALOG, no), record);
          // and its copy at the other end of the keyspace (mirrors.ts)
          batch.put(putStreamKey(transient.take(5), P_CATALOG_COPY, no), record);
        }
      }
    } catch (err) {
      await batch.close().catch(() => undefined);
      this.#fail(jobs, err, start);
      return;
    }
    let writeMillis: number;
    try {
      const writeStart = performance.now();
      const writing = batch.write({ sync: true });
      this.#flushCommitted();
      await writing;
      writeMillis = performance.now() - writeStart;
    } catch (err) {
      this.#needsReopen = true;
      this.#fail(jobs, err, start);
      return;
    }
    const committed: CommittedStream[] = [];
    const heads: [number, HeadRecord][] = [];
    for (const [no, w] of work) {
      heads.push([no, w.head]);
      committed.push(w.committed as CommittedStream);
    }
    table.commit(heads, newStreams === undefined ? [] : [...newStreams].map(([name, no]) => [no, name] as [number, string]), lsn, nextNo);
    const end = performance.now();
    const emitter = this.#d.emitter;
    const perAppend = emitter.has('appended');
    let k = 0;
    for (const job of jobs) {
      if (job.single) {
        job.resolve(acks[k] as never);
      } else {
        job.resolve(acks.slice(k, k + job.items.length) as never);
      }
      if (perAppend) {
        for (let i = 0; i < job.items.length; i++) {
          const a = acks[k + i] as AppendAck;
          const item = job.items[i] as Item;
          emitter.emit('appended', { stream: a.stream, seq: a.seq, lsn: a.lsn, bytes: item.entry.byteLength - ENTRY_HEADER_BYTES, durationMillis: end - job.enqueuedAt });
        }
      }
      k += job.items.length;
    }
    if (emitter.has('batch-committed')) {
      emitter.emit('batch-committed', { entries: acks.length, streams: work.size, bytes, durationMillis: end - start, writeMillis });
    }
    this.#committed.push(committed);
  }

  /** Runs the snapshot bookkeeping of the batches committed so far, in commit order. */
  #flushCommitted(): void {
    if (this.#committed.length === 0) return;
    const all = this.#committed;
    this.#committed = [];
    for (const c of all) this.#d.onCommitted(c);
  }
}
