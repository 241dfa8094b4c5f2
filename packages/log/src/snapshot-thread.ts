/**
 * Builds background snapshots on a worker thread, so the Yjs work (load the previous snapshot,
 * apply the tail, encode) does not delay group commits on the main thread. The worker runs the
 * same steps as buildSnapshot() with the same yjs version (its CommonJS build, loaded by
 * absolute path so the worker needs no TypeScript loader); the bytes are identical (tested).
 * If the thread cannot start, snapshots are built in-thread.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { buildSnapshot } from './snapshots.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Y = require(workerData.yjs);
parentPort.on('message', ({ id, packed, lengths }) => {
  const doc = new Y.Doc({ gc: false });
  try {
    doc.transact(() => {
      let o = 0;
      for (let i = 0; i < lengths.length; i++) {
        const part = packed.subarray(o, o + lengths[i]);
        o += lengths[i];
        Y.applyUpdate(doc, part);
      }
    });
    const out = Y.encodeStateAsUpdate(doc);
    parentPort.postMessage({ id, out }, [out.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) });
  } finally {
    doc.destroy();
  }
});
`;

interface Pending {
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
}

export class SnapshotThread {
  #worker: Worker | undefined;
  #failed = false;
  #next = 0;
  readonly #pending = new Map<number, Pending>();

  /** Whether builds currently run on the worker thread (false before the first build or after a failure). */
  get onThread(): boolean {
    return this.#worker !== undefined;
  }

  /** Same result as buildSnapshot(prev, bodies), computed off the main thread when possible. */
  async build(prev: Uint8Array | undefined, bodies: readonly Uint8Array[]): Promise<Uint8Array> {
    const w = this.#start();
    if (w === undefined) return buildSnapshot(prev, bodies);
    const id = this.#next++;
    // one contiguous copy, transferred: posting views would clone their whole backing buffers
    const parts = prev === undefined ? bodies : [prev, ...bodies];
    const lengths = new Uint32Array(parts.length);
    let size = 0;
    for (let i = 0; i < parts.length; i++) size += lengths[i] = (parts[i] as Uint8Array).byteLength;
    const packed = new Uint8Array(size);
    let o = 0;
    for (const p of parts) {
      packed.set(p, o);
      o += p.byteLength;
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) w.ref();
      w.postMessage({ id, packed, lengths }, [packed.buffer, lengths.buffer]);
    });
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    this.#failed = true;
    if (w !== undefined) await w.terminate();
    for (const p of this.#pending.values()) p.reject(new Error('snapshot thread closed'));
    this.#pending.clear();
  }

  #start(): Worker | undefined {
    if (this.#worker !== undefined || this.#failed) return this.#worker;
    try {
      const yjs = createRequire(import.meta.url).resolve('yjs');
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { yjs } });
      w.unref();
      w.on('message', (m: { id: number; out?: Uint8Array; error?: string }) => {
        const p = this.#pending.get(m.id);
        if (p === undefined) return;
        this.#pending.delete(m.id);
        if (this.#pending.size === 0) w.unref();
        if (m.out !== undefined) p.resolve(m.out);
        else p.reject(new Error(m.error ?? 'snapshot build failed'));
      });
      w.on('error', (err) => this.#fail(err));
      w.on('exit', () => this.#fail(new Error('snapshot thread exited')));
      this.#worker = w;
      return w;
    } catch {
      this.#failed = true;
      return undefined;
    }
  }

  /** The thread died: fail what it held (the worker retries them later) and build in-thread from now on. */
  #fail(err: Error): void {
    this.#worker = undefined;
    this.#failed = true;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}
