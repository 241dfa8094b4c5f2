/**
 * The damage registry: which streams (by stream number, i.e. chain segment) are known to be
 * damaged, and node-level findings that belong to no stream. Filled at open (table check, the
 * commit seal, heads and catalog), by reads that hit a bad record, and by verify(); emptied for
 * a stream only when that stream is replaced by a new chain segment (repair).
 *
 * A damaged stream is never read again as if it were intact: every read and append of it fails
 * with LOG_STREAM_DAMAGED (core answers PROFILE_DAMAGED), so no older or partial state is served
 * as the current one. Findings are persisted in the commit seal (seal.ts) until repaired, so a
 * damage that is no longer visible after a restart (a rolled-back WAL tail, a salvaged table
 * block) is still known.
 */
import type { DamageKind, DamageRecord, DamageReport } from './types.js';

export interface StoredDamage {
  /** stream number (0 for node-level findings) */
  no: number;
  kind: DamageKind;
  seq: number;
  message: string;
  at: number;
}

export class DamageRegistry {
  readonly #byNo = new Map<number, StoredDamage[]>();
  #node: StoredDamage[] = [];
  /** bumped on every change (the seal writer persists the ledger when it moved) */
  version = 0;
  readonly #onNew: (no: number, d: StoredDamage) => void;

  constructor(onNew: (no: number, d: StoredDamage) => void = () => undefined) {
    this.#onNew = onNew;
  }

  has(no: number): boolean {
    return this.#byNo.has(no);
  }

  get size(): number {
    return this.#byNo.size;
  }

  numbers(): number[] {
    return [...this.#byNo.keys()].sort((a, b) => a - b);
  }

  findings(no: number): readonly StoredDamage[] {
    return this.#byNo.get(no) ?? [];
  }

  nodeFindings(): readonly StoredDamage[] {
    return this.#node;
  }

  /** Records a finding; the first one of a stream (or of the node) with this kind and message counts once. */
  mark(d: StoredDamage): boolean {
    if (d.no === 0) {
      if (this.#node.some((x) => x.kind === d.kind && x.message === d.message)) return false;
      this.#node.push(d);
      this.version++;
      this.#onNew(0, d);
      return true;
    }
    const list = this.#byNo.get(d.no);
    if (list !== undefined) {
      if (list.some((x) => x.kind === d.kind && x.seq === d.seq && x.message === d.message)) return false;
      if (list.length < 32) list.push(d);
      this.version++;
      return false;
    }
    this.#byNo.set(d.no, [d]);
    this.version++;
    this.#onNew(d.no, d);
    return true;
  }

  /** The stream was replaced (repaired): its findings no longer hold for the name. */
  clear(no: number): void {
    if (this.#byNo.delete(no)) this.version++;
  }

  /** Removes node-level findings of one kind (e.g. when the condition was resolved). */
  clearNode(kind: DamageKind): void {
    const before = this.#node.length;
    this.#node = this.#node.filter((x) => x.kind !== kind);
    if (this.#node.length !== before) this.version++;
  }

  all(): StoredDamage[] {
    const out: StoredDamage[] = [...this.#node];
    for (const list of this.#byNo.values()) out.push(...list);
    return out;
  }

  report(nameOf: (no: number) => string | undefined): DamageReport {
    const toRecord = (d: StoredDamage): DamageRecord => ({ stream: d.no === 0 ? '' : nameOf(d.no) ?? `#${d.no}`, seq: d.seq, kind: d.kind, message: d.message, at: d.at });
    return {
      streams: this.numbers().map((no) => ({ stream: nameOf(no) ?? `#${no}`, named: nameOf(no) !== undefined, findings: this.findings(no).map(toRecord) })),
      node: this.#node.map(toRecord),
      repaired: [],
    };
  }
}
