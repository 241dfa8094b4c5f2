/**
 * Checks entry hashes on a worker thread (restore's hot path: one sha-256 per entry is its
 * largest cost). The main thread parses, chain-links and writes; chunks of entries go to the
 * worker, which recomputes each hash exactly as records.ts does:
 *   sha256(u8 version | u8 flags | u64 seq | u64 lsn | u64 ts | prevHash | stored payload)
 * and reports the first entry whose stored hash differs. Falls back to in-thread checks.
 */
import { Worker } from 'node:worker_threads';
import { verifyEntry } from './records.js';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hdr = Buffer.alloc(58);
parentPort.on('message', ({ id, buf, count }) => {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  let bad = -1;
  for (let i = 0; i < count; i++) {
    const len = b.readUInt32BE(o);
    const seqHi = b.readUInt32BE(o + 4);
    const seqLo = b.readUInt32BE(o + 8);
    const v = b.subarray(o + 12, o + 12 + len);
    o += 12 + len;
    if (len < 82) { bad = i; break; }
    hdr[0] = v[0];
    hdr[1] = v[1];
    hdr.writeUInt32BE(seqHi, 2);
    hdr.writeUInt32BE(seqLo, 6);
    v.copy(hdr, 10, 2, 50);
    const h = createHash('sha256').update(hdr).update(v.subarray(82)).digest();
    if (!h.equals(v.subarray(50, 82))) { bad = i; break; }
  }
  parentPort.postMessage({ id, bad });
});
`;

const CHUNK_BYTES = 1 << 20;

interface Chunk {
  buf: Uint8Array;
  used: number;
  /** (stream, seq) of each entry, to name a bad one */
  where: { stream: number; seq: number }[];
}

export class HashVerifier {
  #worker: Worker | undefined;
  #failed = false;
  #next = 0;
  #chunk: Chunk | undefined;
  readonly #inFlight: Promise<void>[] = [];
  readonly #pending = new Map<number, { resolve: (bad: number) => void; reject: (e: Error) => void }>();

  readonly #onBad: (where: { stream: number; seq: number }) => Error;

  /** `onBad` makes the error thrown for a bad entry. */
  constructor(onBad: (where: { stream: number; seq: number }) => Error) {
    this.#onBad = onBad;
  }

  /**
   * Queues one entry (stream number, seq, stored value) for checking. Returns a promise only
   * when the caller must wait (a full chunk went out and too many are in flight).
   */
  add(stream: number, seq: number, value: Uint8Array): Promise<void> | undefined {
    let wait: Promise<void> | undefined;
    let c = this.#chunk;
    const need = 12 + value.byteLength;
    if (c !== undefined && c.used + need > c.buf.byteLength) {
      wait = this.#send();
      c = undefined;
    }
    if (c === undefined) c = this.#chunk = { buf: new Uint8Array(Math.max(CHUNK_BYTES, need)), used: 0, where: [] };
    const b = c.buf;
    const o = c.used;
    const len = value.byteLength;
    b[o] = len >>> 24;
    b[o + 1] = (len >>> 16) & 0xff;
    b[o + 2] = (len >>> 8) & 0xff;
    b[o + 3] = len & 0xff;
    const hi = Math.floor(seq / 0x1_0000_0000);
    const lo = seq >>> 0;
    b[o + 4] = hi >>> 24;
    b[o + 5] = (hi >>> 16) & 0xff;
    b[o + 6] = (hi >>> 8) & 0xff;
    b[o + 7] = hi & 0xff;
    b[o + 8] = lo >>> 24;
    b[o + 9] = (lo >>> 16) & 0xff;
    b[o + 10] = (lo >>> 8) & 0xff;
    b[o + 11] = lo & 0xff;
    b.set(value, o + 12);
    c.used += need;
    c.where.push({ stream, seq });
    return wait;
  }

  /** Waits for every queued check; throws the error of the first bad entry. */
  async finish(): Promise<void> {
    await this.#send();
    await Promise.all(this.#inFlight.splice(0));
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    this.#failed = true;
    for (const p of this.#pending.values()) p.reject(new Error('hash thread closed'));
    this.#pending.clear();
    if (w !== undefined) await w.terminate();
  }

  #send(): Promise<void> | undefined {
    const c = this.#chunk;
    this.#chunk = undefined;
    if (c === undefined || c.where.length === 0) return undefined;
    const done = this.#check(c).then((bad) => {
      if (bad >= 0) throw this.#onBad(c.where[bad] as { stream: number; seq: number });
    });
    done.catch(() => undefined);
    this.#inFlight.push(done);
    // bounded: at most 4 chunks (4 MiB) waiting for the worker
    return this.#inFlight.length > 4 ? this.#inFlight.shift() : undefined;
  }

  #check(c: Chunk): Promise<number> {
    const w = this.#start();
    if (w === undefined) return Promise.resolve(this.#checkHere(c));
    const id = this.#next++;
    return new Promise<number>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // copied, not transferred: if the thread dies, the chunk is checked here instead
      w.postMessage({ id, buf: c.buf.subarray(0, c.used), count: c.where.length });
    }).catch(() => this.#checkHere(c));
  }

  #checkHere(c: Chunk): number {
    const b = c.buf;
    let o = 0;
    for (let i = 0; i < c.where.length; i++) {
      const len = ((b[o] as number) * 0x100_0000) + (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number));
      const v = b.subarray(o + 12, o + 12 + len);
      o += 12 + len;
      const at = c.where[i] as { stream: number; seq: number };
      try {
        verifyEntry(at.stream, at.seq, v);
      } catch {
        return i;
      }
    }
    return -1;
  }

  #start(): Worker | undefined {
    if (this.#worker !== undefined || this.#failed) return this.#worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on('message', (m: { id: number; bad: number }) => {
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        p?.resolve(m.bad);
      });
      const fail = (err: Error) => {
        this.#worker = undefined;
        this.#failed = true;
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
      };
      w.on('error', fail);
      w.on('exit', () => fail(new Error('hash thread exited')));
      this.#worker = w;
      return w;
    } catch {
      this.#failed = true;
      return undefined;
    }
  }
}
