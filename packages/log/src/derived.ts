/**
 * Builds a stream's derived records (snapshots and view) from its entries in seq order. The one
 * implementation behind rebuild() and restore, and the same steps the background worker takes,
 * so derived bytes never depend on who built them (invariant 5).
 *
 * Snapshot k is the doc after entries 1..s_k, each span between snapshot points applied in one
 * transaction (the same bytes as build(snapshot k-1, span): see snapshot-thread.ts); the state
 * handed to the materializer is the doc after the tail (or the last snapshot itself when the
 * tail is empty). The live doc may sit on a worker thread: add() never waits for it.
 *
 * With `newestOnly` (restore) only the stream's newest snapshot point is written: the spans are
 * applied in exactly the same transactions, but a span is applied only once the next point is
 * reached (without encoding the state in between), and the last span is encoded by newest().
 * That snapshot is byte-identical to the one the full chain writes at the same point.
 */
import { logError } from './errors.js';
import { frame, viewHeader } from './records.js';
import { policyStep, type PolicyCounters } from './snapshots.js';
import type { LastEntryInfo, LogCodec, Materializer, SnapshotPolicy } from './types.js';
import { isOpaqueStream } from './validate.js';

import type { SnapshotChain } from './snapshot-thread.js';

export interface DerivedEntry {
  seq: number;
  hash: Uint8Array;
  body: Uint8Array;
  /** size of the stored (encoded) payload: what the snapshot policy counts */
  storedBytes: number;
}

export class DerivedBuilder {
  readonly #policy: SnapshotPolicy;
  readonly #codec: LogCodec;
  readonly #newChain: () => SnapshotChain;
  #live: SnapshotChain | undefined;
  readonly #no: number;
  readonly #name: string;
  readonly #opaque: boolean;
  readonly #counters: PolicyCounters = { lastSnapshotSeq: 0, entriesSince: 0, bytesSince: 0 };
  #prev: Promise<Uint8Array> | undefined;
  #tail: Uint8Array[] = [];
  #lastSeq = 0;
  readonly #newestOnly: boolean;
  /** newestOnly: the span up to the last point seen, not applied yet, with that point's seq and hash */
  #span: { bodies: Uint8Array[]; seq: number; hash: Uint8Array } | undefined;

  constructor(policy: SnapshotPolicy, codec: LogCodec, newChain: () => SnapshotChain, no: number, name: string, newestOnly = false) {
    this.#newestOnly = newestOnly;
    this.#policy = policy;
    this.#codec = codec;
    this.#newChain = newChain;
    this.#no = no;
    this.#name = name;
    this.#opaque = isOpaqueStream(name);
  }

  /** Reserved '#' streams: bodies are opaque, nothing is derived (callers may skip decoding). */
  get opaque(): boolean {
    return this.#opaque;
  }

  #chain(bodies: Uint8Array[], seq: number): Promise<Uint8Array> {
    this.#live ??= this.#newChain();
    const live = this.#live;
    const p = (async () => {
      try {
        return await live.next(bodies);
      } catch (err) {
        if ((err as { code?: string }).code === 'LOG_CORRUPT') throw err;
        throw logError('LOG_CORRUPT', `entries of ${this.#name} up to seq ${seq} are not valid Yjs updates`, {
          cause: err, details: { stream: this.#name, seq },
        });
      }
    })();
    p.catch(() => undefined); // observed by whoever awaits the record or the view
    return p;
  }

  /** Frees the live doc (call when the stream is done; view() does it). */
  end(): void {
    this.#live?.end();
    this.#live = undefined;
  }

  /**
   * Feeds the next entry; returns the stored snapshot value (pending) when its seq is a snapshot
   * point. With newestOnly it returns at most a pending step (the previous span applied, nothing
   * to store) whose failure the caller observes like a snapshot's.
   */
  add(e: DerivedEntry): Promise<{ seq: number; value: Uint8Array } | undefined> | undefined {
    this.#lastSeq = e.seq;
    if (this.#opaque) return undefined;
    this.#tail.push(e.body);
    if (!policyStep(this.#policy, this.#counters, e.seq, e.storedBytes)) return undefined;
    if (this.#newestOnly) {
      const span = this.#span;
      this.#span = { bodies: this.#tail, seq: e.seq, hash: e.hash };
      this.#tail = [];
      return span === undefined ? undefined : this.#applied(span.bodies, span.seq);
    }
    const state = this.#chain(this.#tail, e.seq);
    this.#prev = state;
    this.#tail = [];
    return this.#record(state, e.seq, e.hash);
  }

  #record(state: Promise<Uint8Array>, seq: number, hash: Uint8Array): Promise<{ seq: number; value: Uint8Array }> {
    return state.then((s) => ({ seq, value: frame(hash, this.#codec.encode({ kind: 'snapshot', stream: this.#no, seq }, s)) }));
  }

  /** Applies a span without encoding it (newestOnly). */
  #applied(bodies: Uint8Array[], seq: number): Promise<undefined> {
    this.#live ??= this.#newChain();
    const p = this.#live.apply(bodies).then(
      () => undefined,
      (err: unknown) => {
        throw logError('LOG_CORRUPT', `entries of ${this.#name} up to seq ${seq} are not valid Yjs updates`, { cause: err, details: { stream: this.#name, seq } });
      },
    );
    p.catch(() => undefined);
    return p;
  }

  /** newestOnly: the stream's newest snapshot (call once, after the last add(), before view()). */
  newest(): Promise<{ seq: number; value: Uint8Array }> | undefined {
    const span = this.#span;
    if (span === undefined || this.#opaque) return undefined;
    this.#span = undefined;
    const state = this.#chain(span.bodies, span.seq);
    this.#prev = state;
    return this.#record(state, span.seq, span.hash);
  }

  /**
   * The stored view value after the last entry (undefined when the materializer gives none);
   * `last` describes that entry (actor/origin are decoded by the caller only here).
   */
  async view(materialize: Materializer, last: () => LastEntryInfo): Promise<Uint8Array | undefined> {
    if (this.#lastSeq === 0 || this.#opaque) return undefined;
    if (this.#span !== undefined) throw new Error('newest() must come before view()');
    const pending = this.#tail.length === 0 && this.#prev !== undefined ? this.#prev : this.#chain(this.#tail, this.#lastSeq);
    this.end();
    const state = await pending;
    const view = materialize(this.#name, state, last());
    if (view === undefined) return undefined;
    if (!(view instanceof Uint8Array)) throw new TypeError('materialize must return a Uint8Array or undefined');
    const seq = this.#lastSeq;
    return frame(viewHeader(seq), this.#codec.encode({ kind: 'view', stream: this.#no, seq }, view));
  }
}
