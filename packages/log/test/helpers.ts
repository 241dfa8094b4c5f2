/** Shared test helpers: temp dirs, Yjs updates, append inputs. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { afterEach } from 'vitest';
import type { AppendInput, EventLog, Materializer } from '../src/index.js';

const dirs: string[] = [];
const logs: EventLog[] = [];

/** A fresh temp dir, removed after the test (logs registered with `track` are closed first). */
export async function tempDir(prefix = 'pslog-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export function track<T extends EventLog>(log: T): T {
  logs.push(log);
  return log;
}

afterEach(async () => {
  for (const l of logs.splice(0)) await l.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A doc that records every update it emits; edits are realistic small Yjs updates. */
export class DocWriter {
  readonly doc = new Y.Doc({ gc: false });
  readonly updates: Uint8Array[] = [];
  readonly #text: Y.Text;
  readonly #params: Y.Map<unknown>;
  #cursor = 0;
  #n = 0;

  constructor() {
    this.doc.on('update', (u: Uint8Array) => this.updates.push(u));
    const root = this.doc.getMap('profile');
    this.doc.transact(() => {
      root.set('systemMessage', new Y.Text());
      root.set('parameters', new Y.Map());
    });
    this.#text = root.get('systemMessage') as Y.Text;
    this.#params = root.get('parameters') as Y.Map<unknown>;
  }

  #taken = 0;

  /** Makes one edit and returns its update (the first one also carries the initial structure). */
  edit(): Uint8Array {
    this.#edit();
    const fresh = this.updates.slice(this.#taken);
    this.#taken = this.updates.length;
    return fresh.length === 1 ? (fresh[0] as Uint8Array) : Y.mergeUpdates(fresh);
  }

  #edit(): void {
    const k = this.#n++ % 10;
    if (k < 8) {
      this.#text.insert(this.#cursor, 'abcdefgh '[this.#n % 9] as string);
      this.#cursor++;
    } else if (k === 8 && this.#cursor > 0) {
      this.#text.delete(this.#cursor - 1, 1);
      this.#cursor--;
    } else {
      this.#params.set('temperature', (this.#n % 100) / 100);
    }
  }
}

export function viewOf(doc: Y.Doc): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc.getMap('profile').toJSON()));
}

/** The materializer matching `viewOf`: deterministic from the merged state. */
export const materialize: Materializer = (_stream, state) => {
  const doc = new Y.Doc({ gc: false });
  Y.applyUpdate(doc, state);
  const v = viewOf(doc);
  doc.destroy();
  return v;
};

export function input(stream: string, body: Uint8Array, extra: Partial<AppendInput> = {}): AppendInput {
  return { stream, body, actor: 'alice', origin: 'local', ...extra };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function bytes(...xs: number[]): Uint8Array {
  return Uint8Array.from(xs);
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000): { now: () => number; set(t: number): void; advance(ms: number): void } {
  let t = start;
  return { now: () => t, set: (x) => (t = x), advance: (ms) => (t += ms) };
}
