/**
 * The fast-reconnect digest of a node's state, built from store.versionHashes() (profile id ->
 * hash of its portable version). 256 buckets by SHA-256(id)[0]; each bucket digest is the XOR
 * of SHA-256(id | 0x00 | versionHash)[0..16) over its profiles, so one change costs O(1) to
 * fold in; the root is SHA-256(label | count u32 | the 256 bucket digests)[0..16).
 * Equal roots <=> (with overwhelming probability) equal id -> version maps.
 */
import { createHash } from 'node:crypto';
import { BUCKET_COUNT, DIGEST_BYTES } from './codec.js';

const ROOT_LABEL = Buffer.from('profilesync/digest/v1', 'utf8');
const SEP = Buffer.from([0]);

export function bucketOf(id: string): number {
  return createHash('sha256').update(id, 'utf8').digest()[0] as number;
}

export function contribution(id: string, hash: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(id, 'utf8').update(SEP).update(hash, 'utf8').digest().subarray(0, DIGEST_BYTES));
}

export function rootOf(buckets: Uint8Array, count: number): Uint8Array {
  const n = Buffer.alloc(4);
  n.writeUInt32BE(count >>> 0);
  return new Uint8Array(createHash('sha256').update(ROOT_LABEL).update(n).update(buckets).digest().subarray(0, DIGEST_BYTES));
}

/** Buckets whose 16-byte digests differ between two 256 x 16 byte tables. */
export function differingBuckets(a: Uint8Array, b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < BUCKET_COUNT; i++) {
    const o = i * DIGEST_BYTES;
    for (let j = 0; j < DIGEST_BYTES; j++) {
      if (a[o + j] !== b[o + j]) {
        out.push(i);
        break;
      }
    }
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Tracked {
  bucket: number;
  hash: string;
  part: Uint8Array;
}

/** Incrementally maintained digest over a live id -> versionHash map. */
export class StateDigest {
  readonly #source: () => ReadonlyMap<string, string>;
  readonly #tracked = new Map<string, Tracked>();
  readonly #members: Map<string, string>[] = Array.from({ length: BUCKET_COUNT }, () => new Map());
  readonly #buckets = new Uint8Array(BUCKET_COUNT * DIGEST_BYTES);
  readonly #dirty = new Set<string>();
  #root: Uint8Array | undefined;
  /** full rebuilds done (the first build included); for tests */
  rebuilds = 0;

  constructor(source: () => ReadonlyMap<string, string>) {
    this.#source = source;
    this.#rebuild();
  }

  /** Notes that `id`'s version may have changed (called from the store's change events). */
  markDirty(id: string): void {
    this.#dirty.add(id);
  }

  /** Root digest and profile count of the current state. */
  root(): { digest: Uint8Array; count: number } {
    this.#refresh();
    this.#root ??= rootOf(this.#buckets, this.#tracked.size);
    return { digest: this.#root, count: this.#tracked.size };
  }

  buckets(): Uint8Array {
    this.#refresh();
    return this.#buckets;
  }

  /** (id, versionHash) pairs of one bucket, sorted by id. */
  entries(bucket: number): [string, string][] {
    this.#refresh();
    const m = this.#members[bucket];
    if (!m) return [];
    return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  hash(id: string): string | undefined {
    return this.#source().get(id);
  }

  #refresh(): void {
    if (this.#dirty.size > 0) {
      const src = this.#source();
      for (const id of this.#dirty) this.#fold(id, src.get(id));
      this.#dirty.clear();
      this.#root = undefined;
    }
    if (this.#source().size !== this.#tracked.size) this.#rebuild();
  }

  #fold(id: string, hash: string | undefined): void {
    const old = this.#tracked.get(id);
    if (old !== undefined && old.hash === hash) return;
    if (old !== undefined) {
      this.#xor(old.bucket, old.part);
      this.#members[old.bucket]!.delete(id);
      this.#tracked.delete(id);
    }
    if (hash !== undefined) {
      const bucket = old?.bucket ?? bucketOf(id);
      const part = contribution(id, hash);
      this.#xor(bucket, part);
      this.#members[bucket]!.set(id, hash);
      this.#tracked.set(id, { bucket, hash, part });
    }
  }

  #xor(bucket: number, part: Uint8Array): void {
    const o = bucket * DIGEST_BYTES;
    for (let j = 0; j < DIGEST_BYTES; j++) this.#buckets[o + j]! ^= part[j]!;
  }

  #rebuild(): void {
    this.#tracked.clear();
    for (const m of this.#members) m.clear();
    this.#buckets.fill(0);
    for (const [id, hash] of this.#source()) this.#fold(id, hash);
    this.#dirty.clear();
    this.#root = undefined;
    this.rebuilds++;
  }
}
