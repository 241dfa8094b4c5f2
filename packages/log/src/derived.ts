/**
 * Builds a stream's derived records (snapshots and view) from its entries in seq order. The one
 * implementation behind rebuild() and restore, and the same steps the background worker takes,
 * so derived bytes never depend on who built them (invariant 5).
 */
import * as Y from 'yjs';
import { frame, viewHeader } from './records.js';
import { buildSnapshot, policyStep, type PolicyCounters } from './snapshots.js';
import { logError } from './errors.js';
import { isOpaqueStream } from './validate.js';
import type { LastEntryInfo, LogCodec, Materializer, SnapshotPolicy } from './types.js';

export interface DerivedEntry {
  seq: number;
  hash: Uint8Array;
  body: Uint8Array;
  /** size of the stored (encoded) payload: what the snapshot policy counts */
  storedBytes: number;
  info: LastEntryInfo;
}

function buildChecked(prev: Uint8Array | undefined, tail: Uint8Array[], seq: number): Uint8Array {
  try {
    return buildSnapshot(prev, tail);
  } catch (err) {
    throw logError('LOG_CORRUPT', `entries up to seq ${seq} are not valid Yjs updates`, { cause: err, details: { seq } });
  }
}

export class DerivedBuilder {
  readonly #policy: SnapshotPolicy;
  readonly #codec: LogCodec;
  readonly #no: number;
  readonly #counters: PolicyCounters = { lastSnapshotSeq: 0, entriesSince: 0, bytesSince: 0 };
  #prev: Uint8Array | undefined;
  #tail: Uint8Array[] = [];
  #last: LastEntryInfo | undefined;

  readonly #opaque: boolean;

  constructor(policy: SnapshotPolicy, codec: LogCodec, no: number, name: string) {
    this.#opaque = isOpaqueStream(name);
    this.#policy = policy;
    this.#codec = codec;
    this.#no = no;
  }

  get last(): LastEntryInfo | undefined {
    return this.#last;
  }

  /** Feeds the next entry; returns the stored snapshot value when its seq is a snapshot point. */
  add(e: DerivedEntry): Uint8Array | undefined {
    this.#last = e.info;
    if (this.#opaque) return undefined;
    this.#tail.push(e.body);
    if (!policyStep(this.#policy, this.#counters, e.seq, e.storedBytes)) return undefined;
    this.#prev = buildChecked(this.#prev, this.#tail, e.seq);
    this.#tail = [];
    return frame(e.hash, this.#codec.encode({ kind: 'snapshot', stream: this.#no, seq: e.seq }, this.#prev));
  }

  /** The stored view value after the last entry (undefined when the materializer gives none). */
  view(name: string, materialize: Materializer): Uint8Array | undefined {
    const last = this.#last;
    if (last === undefined || this.#opaque) return undefined;
    const parts = this.#prev === undefined ? this.#tail : [this.#prev, ...this.#tail];
    let state: Uint8Array;
    try {
      state = parts.length === 1 ? (parts[0] as Uint8Array) : Y.mergeUpdates(parts);
    } catch (err) {
      throw logError('LOG_CORRUPT', `entries of ${name} are not valid Yjs updates`, { cause: err, details: { stream: name } });
    }
    const view = materialize(name, state, last);
    if (view === undefined) return undefined;
    if (!(view instanceof Uint8Array)) throw new TypeError('materialize must return a Uint8Array or undefined');
    return frame(viewHeader(last.seq), this.#codec.encode({ kind: 'view', stream: this.#no, seq: last.seq }, view));
  }
}
