/**
 * The log's durable-append workload, shared by log.bench.ts (log-append-durable) and
 * crypto.bench.ts (crypto-at-rest-overhead): realistic profile edits, 64 concurrent writers,
 * each appending its own profile's updates in order and awaiting every durable ack.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { openLog, type EventLog, type LogCodec } from '@profilesync/log';
import { concurrentRate, gc } from './harness.js';

const WORDS = 'you are a helpful assistant answer briefly cite sources when unsure say so never invent facts keep the tone friendly'.split(' ');

/** Deterministic PRNG so every run edits the same way. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

export interface Edits {
  updates: Uint8Array[];
  views: Uint8Array[];
  finalJson: unknown;
}

/**
 * A profile edited like an operator does: typing runs of words into the system message (mostly
 * at the cursor, sometimes elsewhere), backspaces, and parameter changes. `phrase` makes each
 * update carry a run of words (~50-200 bytes) instead of single keystrokes.
 */
export function editProfile(count: number, seed: number, opts: { phrase: boolean; views: boolean }): Edits {
  const random = rng(seed);
  const doc = new Y.Doc({ gc: false });
  const updates: Uint8Array[] = [];
  const views: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  const root = doc.getMap('profile');
  doc.transact(() => {
    root.set('id', `profile-${seed}`);
    root.set('name', 'Support assistant');
    root.set('systemMessage', new Y.Text());
    root.set('parameters', new Y.Map());
  });
  const text = root.get('systemMessage') as Y.Text;
  const params = root.get('parameters') as Y.Map<unknown>;
  let cursor = 0;
  const view = () => {
    const json = root.toJSON() as { systemMessage: string };
    // a realistic small view: the profile with the message trimmed as a list view would show it
    return new TextEncoder().encode(JSON.stringify({ ...json, systemMessage: json.systemMessage.slice(0, 200), version: updates.length }));
  };
  const addViews = () => {
    while (opts.views && views.length < updates.length) views.push(view());
  };
  addViews();
  while (updates.length < count) {
    const r = random();
    if (r < 0.86) {
      const n = opts.phrase ? 3 + Math.floor(random() * 15) : 1;
      let s = '';
      for (let i = 0; i < n; i++) s += (opts.phrase ? `${WORDS[Math.floor(random() * WORDS.length)]} ` : 'etaoin shrdlu '[Math.floor(random() * 14)]);
      text.insert(cursor, s);
      cursor += s.length;
    } else if (r < 0.93 && cursor > 0) {
      const n = Math.min(cursor, opts.phrase ? 1 + Math.floor(random() * 8) : 1);
      text.delete(cursor - n, n);
      cursor -= n;
    } else if (r < 0.96) {
      cursor = Math.floor(random() * (text.length + 1));
      continue;
    } else {
      params.set(['temperature', 'top_p', 'max_tokens'][Math.floor(random() * 3)] as string, Math.round(random() * 100) / 100);
    }
    addViews();
  }
  return { updates: updates.slice(0, count), views: views.slice(0, count), finalJson: root.toJSON() };
}

export interface AppendItem {
  stream: string;
  body: Uint8Array;
  view: Uint8Array;
}

export interface AppendWorkload {
  writers: number;
  perWriter: number;
  /** items[w] = the updates (with views) writer w appends to its profile, in order */
  items: AppendItem[][];
  avgBodyBytes: number;
  avgViewBytes: number;
}

/** One profile per writer; updates carry runs of words (~50-200 bytes) and a small view. */
export function makeAppendWorkload(writers = 64, perWriter = 1000, seed = 1000): AppendWorkload {
  const items = Array.from({ length: writers }, (_, w) => {
    const e = editProfile(perWriter, seed + w, { phrase: true, views: true });
    return e.updates.map((body, i) => ({ stream: `profile-${w}`, body, view: e.views[i] as Uint8Array }));
  });
  const flat = items.flat();
  return {
    writers, perWriter, items,
    avgBodyBytes: flat.reduce((n, it) => n + it.body.byteLength, 0) / flat.length,
    avgViewBytes: flat.reduce((n, it) => n + it.view.byteLength, 0) / flat.length,
  };
}

/**
 * Where a batch's round goes, averaged over the run (ms per batch): `outside` from one batch's
 * acks to the next batch being cut (the writers' continuations: validating, encoding and
 * queueing their next appends), `build` from the cut to the synced write (sequence numbers,
 * chain hashes, sealing, framing, the batch's puts), `write` the synced LevelDB write.
 */
export interface BatchPhases {
  outsideMs: number;
  buildMs: number;
  writeMs: number;
}

export type DurableAppendResult = { opsPerSec: number; elapsedMs: number; appends: number; batches: number; phases: BatchPhases };

/** Accumulates `batch-committed` events into BatchPhases (call done() with the run's elapsed ms). */
export function batchPhases(log: EventLog): { off: () => void; count: () => number; done: (elapsedMs: number) => BatchPhases } {
  let batches = 0;
  let duration = 0;
  let write = 0;
  const off = log.on('batch-committed', (e) => {
    batches++;
    duration += e.durationMillis;
    write += e.writeMillis;
  });
  const per = (x: number) => Number((x / Math.max(1, batches)).toFixed(3));
  return { off, count: () => batches, done: (elapsedMs) => ({ outsideMs: per(elapsedMs - duration), buildMs: per(duration - write), writeMs: per(write) }) };
}

/** Runs the workload against an open log: acknowledged appends/s and how they were batched. */
export async function runDurableAppends(log: EventLog, work: AppendWorkload): Promise<DurableAppendResult> {
  const phases = batchPhases(log);
  const cursor = new Array<number>(work.writers).fill(0);
  const appends = work.writers * work.perWriter;
  try {
    const r = await concurrentRate(work.writers, appends, async (w) => {
      const it = work.items[w]?.[cursor[w]!++];
      if (it !== undefined) await log.append({ stream: it.stream, body: it.body, actor: 'bench', origin: 'local', view: it.view });
    });
    return { ...r, appends, batches: phases.count(), phases: phases.done(r.elapsedMs) };
  } finally {
    phases.off();
  }
}

/** Opens a fresh log in a temp dir (with `codec` when given), runs the workload, removes it. */
export async function durableAppendRate(codec: LogCodec | undefined, work: AppendWorkload): Promise<DurableAppendResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-log-append-'));
  const log = await openLog({ dir, ...(codec ? { codec } : {}) });
  try {
    gc();
    return await runDurableAppends(log, work);
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}
