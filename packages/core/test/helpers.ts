import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog } from '@profilesync/log';
import { openStore, type OpenStoreOptions } from '../src/open.js';
import type { ProfileStoreImpl } from '../src/store-api.js';
import type { ProfileInput, WriteContext } from '../src/types.js';

export const ctx: WriteContext = { actor: 'alice', origin: 'local' };
export const bob: WriteContext = { actor: 'bob', origin: 'api:tok1' };

export async function tempDir(prefix = 'core-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A manual clock: tests move time explicitly. */
export function manualClock(start = Date.UTC(2026, 0, 1)): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

export interface Harness {
  dir: string;
  store: ProfileStoreImpl;
  reopen(extra?: Partial<OpenStoreOptions>): Promise<ProfileStoreImpl>;
  close(): Promise<void>;
}

export async function harness(extra: Partial<OpenStoreOptions> = {}): Promise<Harness> {
  const dir = await tempDir();
  const h: Harness = {
    dir,
    store: await openStore({ dir, ...extra }),
    async reopen(more = {}) {
      await h.store.close();
      h.store = await openStore({ dir, ...extra, ...more });
      return h.store;
    },
    async close() {
      await h.store.close();
      await removeDir(dir);
    },
  };
  return h;
}

/** Total entries across every stream of the log (to assert that a refused write changed nothing). */
export function totalEntries(log: EventLog): number {
  let n = 0;
  for (const s of log.streams()) n += log.head(s)?.seq ?? 0;
  return n;
}

export const sample = (over: Partial<ProfileInput> = {}): ProfileInput => ({
  modelId: 'gpt-4o',
  name: 'Support bot',
  description: 'Answers support questions',
  systemMessage: 'You are a helpful support agent. Answer briefly.',
  templates: { greet: 'Hello {{name}}, how can I help?', bye: 'Goodbye {{name}}' },
  parameters: { temperature: 0.7, top_p: 0.9, max_tokens: 512, stop: ['###'] },
  meta: { tags: ['support', 'en'], owner: 'team-a' },
  ...over,
});

export async function codeOf(p: unknown): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? (p as () => unknown)() : p);
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}
