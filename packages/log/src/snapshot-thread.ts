/**
 * Builds snapshots on a worker thread, so the Yjs work does not delay group commits (or a
 * restore's replay) on the main thread. The worker runs the same steps as buildSnapshot() with
 * the same yjs version (its ES module build, imported by URL so the worker needs no TypeScript
 * loader); the bytes are identical (tested). Two forms:
 *   build(prev, bodies)  a fresh doc from the previous snapshot's bytes (background work);
 *   chain().next(bodies) a live doc per stream kept between calls (rebuild/restore walk a
 *                        stream from seq 1): the same bytes as the build() chain (Yjs encodes
 *                        a doc the same whether it was loaded from its encoding or not; pinned
 *                        by tests comparing restored/rebuilt snapshots with the originals),
 *                        without re-loading the growing previous snapshot each time.
 * If the thread cannot start, the same work runs in-thread.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as Y from 'yjs';
import { buildSnapshot } from './snapshots.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
let Y;
const early = [];
// Yjs's ES module build: in its CommonJS build every lib0 call goes through a namespace getter
// (~14% of the thread's time when encoding snapshots). A failed import throws here, the worker
// dies, and the owner builds in-thread from then on.
import(workerData.yjs).then((m) => {
  Y = m;
  for (const msg of early.splice(0)) handle(msg);
}, (err) => setImmediate(() => { throw err; }));
const chains = new Map();
parentPort.on('message', (msg) => {
  if (Y === undefined) early.push(msg);
  else handle(msg);
});
function handle({ id, op, chain, packed, lengths }) {
  if (op === 'end') {
    chains.get(chain)?.destroy();
    chains.delete(chain);
    return;
  }
  if (chains.get(chain) === null) {
    parentPort.postMessage({ id, error: 'an earlier step of this snapshot chain failed' });
    return;
  }
  // 'chain' applies and encodes, 'apply' only applies (a chain's doc either way)
  const live = op === 'chain' || op === 'apply';
  let doc = live ? chains.get(chain) : undefined;
  if (doc === undefined) doc = new Y.Doc({ gc: false });
  if (live) chains.set(chain, doc);
  try {
    doc.transact(() => {
      let o = 0;
      for (let i = 0; i < lengths.length; i++) {
        const part = packed.subarray(o, o + lengths[i]);
        o += lengths[i];
        Y.applyUpdate(doc, part);
      }
    });
    if (op === 'apply') {
      parentPort.postMessage({ id, done: true });
      return;
    }
    const out = Y.encodeStateAsUpdate(doc);
    parentPort.postMessage({ id, out }, [out.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) });
    // a failed chain is poisoned: later messages of it fail instead of starting a fresh doc
    if (live) chains.set(chain, null);
    if (live) doc.destroy();
  } finally {
    if (!live) doc.destroy();
  }
}
`;

/**
 * Set only by the single-file CLI package build (scripts/pack-cli.mjs, esbuild `define`): the
 * path of the bundled Yjs module (with the patched lib0) relative to the bundle's own files,
 * where no `yjs` package is installed to resolve.
 */
declare const PROFILESYNC_BUNDLED_YJS: string | undefined;

/** URL of the yjs build the worker imports: the ES module one (what `import 'yjs'` resolves to). */
function yjsModuleUrl(): string {
  if (typeof PROFILESYNC_BUNDLED_YJS === 'string') return new URL(PROFILESYNC_BUNDLED_YJS, import.meta.url).href;
  try {
    return import.meta.resolve('yjs');
  } catch {
    // a loader without import.meta.resolve (e.g. a test runner's module runner): the same package's main entry
    return pathToFileURL(createRequire(import.meta.url).resolve('yjs')).href;
  }
}

/**
 * A live per-stream doc: each next() applies bodies (one transaction) and returns the encoding;
 * apply() is the same step without the encoding (a point whose snapshot is not wanted).
 */
export interface SnapshotChain {
  next(bodies: readonly Uint8Array[]): Promise<Uint8Array>;
  apply(bodies: readonly Uint8Array[]): Promise<void>;
  /** frees the doc (always call it, also after a failure) */
  end(): void;
}

/** In-thread chain (no worker). */
class LocalChain implements SnapshotChain {
  #doc: Y.Doc | undefined = new Y.Doc({ gc: false });
  #failed = false;

  async apply(bodies: readonly Uint8Array[]): Promise<void> {
    const doc = this.#doc;
    if (doc === undefined) throw new Error('snapshot chain ended');
    if (this.#failed) throw new Error('an earlier step of this snapshot chain failed');
    try {
      doc.transact(() => {
        for (const b of bodies) Y.applyUpdate(doc, b);
      });
    } catch (err) {
      this.#failed = true;
      throw err;
    }
  }

  async next(bodies: readonly Uint8Array[]): Promise<Uint8Array> {
    await this.apply(bodies);
    return Y.encodeStateAsUpdate(this.#doc as Y.Doc);
  }

  end(): void {
    this.#doc?.destroy();
    this.#doc = undefined;
  }
}

const NOTHING = new Uint8Array(0);

interface Pending {
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
}

export class SnapshotThread {
  #worker: Worker | undefined;
  #failed = false;
  #next = 0;
  readonly #pending = new Map<number, Pending>();
  /** told once when the thread cannot start or dies (builds go on in-thread) */
  readonly #onFail: ((err: Error) => void) | undefined;
  readonly #yjsUrl: string | undefined;

  /** `yjsUrl`: the Yjs module the worker imports (default: the one `import 'yjs'` resolves to). */
  constructor(onFail?: (err: Error) => void, yjsUrl?: string) {
    this.#onFail = onFail;
    this.#yjsUrl = yjsUrl;
  }

  /** Whether builds currently run on the worker thread (false before the first build or after a failure). */
  get onThread(): boolean {
    return this.#worker !== undefined;
  }

  /** Same result as buildSnapshot(prev, bodies), computed off the main thread when possible. */
  async build(prev: Uint8Array | undefined, bodies: readonly Uint8Array[]): Promise<Uint8Array> {
    const w = this.#start();
    if (w === undefined) return buildSnapshot(prev, bodies);
    return this.#post(w, { op: 'build' }, prev === undefined ? bodies : [prev, ...bodies]);
  }

  /** A live chain for one stream, starting from an empty doc. */
  chain(): SnapshotChain {
    const w = this.#start();
    if (w === undefined) return new LocalChain();
    const chain = this.#next++;
    let ended = false;
    return {
      next: (bodies) => (ended ? Promise.reject(new Error('snapshot chain ended')) : this.#post(w, { op: 'chain', chain }, bodies)),
      apply: (bodies) => (ended ? Promise.reject(new Error('snapshot chain ended')) : this.#post(w, { op: 'apply', chain }, bodies).then(() => undefined)),
      end: () => {
        if (ended) return;
        ended = true;
        if (this.#worker === w) w.postMessage({ op: 'end', chain });
      },
    };
  }

  #post(w: Worker, head: { op: string; chain?: number }, parts: readonly Uint8Array[]): Promise<Uint8Array> {
    const id = this.#next++;
    // one contiguous copy, transferred: posting views would clone their whole backing buffers
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
      w.postMessage({ id, ...head, packed, lengths }, [packed.buffer, lengths.buffer]);
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
      const yjs = this.#yjsUrl ?? yjsModuleUrl();
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { yjs } });
      w.unref();
      w.on('message', (m: { id: number; out?: Uint8Array; done?: true; error?: string }) => {
        const p = this.#pending.get(m.id);
        if (p === undefined) return;
        this.#pending.delete(m.id);
        if (this.#pending.size === 0) w.unref();
        if (m.out !== undefined) p.resolve(m.out);
        else if (m.done === true) p.resolve(NOTHING);
        else p.reject(new Error(m.error ?? 'snapshot build failed'));
      });
      w.on('error', (err) => this.#fail(err));
      w.on('exit', () => this.#fail(new Error('snapshot thread exited')));
      this.#worker = w;
      return w;
    } catch (err) {
      this.#failed = true;
      this.#onFail?.(err as Error);
      return undefined;
    }
  }

  /** The thread died: fail what it held (the worker retries them later) and build in-thread from now on. */
  #fail(err: Error): void {
    if (this.#worker === undefined) return; // closed, or already failed
    this.#worker = undefined;
    this.#failed = true;
    this.#onFail?.(err);
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}
