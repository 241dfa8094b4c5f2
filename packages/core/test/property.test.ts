import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { backupLog, restoreLog } from '@profilesync/log';
import { materializeProfile } from '../src/materialize.js';
import { openStore } from '../src/open.js';
import type { ProfileView } from '../src/types.js';
import { ctx, harness, type Harness } from './helpers.js';

/** RFC 7396 reference implementation over plain JSON. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', 'You are helpful.', 'You are very helpful. 😀', 'Hello {{name}} — ü'));
const patchArb = fc.record(
  {
    name: fc.string({ minLength: 1, maxLength: 20 }),
    modelId: fc.constantFrom('gpt-4o', 'claude', 'llama-3'),
    description: text,
    systemMessage: text,
    templates: fc.dictionary(fc.constantFrom('greet', 'bye', 'ask', 'x.1'), fc.option(text, { nil: null }), { maxKeys: 3 }),
    parameters: fc.record(
      {
        temperature: fc.option(fc.double({ min: 0, max: 2, noNaN: true }), { nil: null }),
        top_p: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
        max_tokens: fc.option(fc.integer({ min: 1, max: 4096 }), { nil: null }),
        stop: fc.option(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), { nil: null }),
        seed: fc.option(fc.integer(), { nil: null }),
        custom_flag: fc.option(fc.boolean(), { nil: null }),
      },
      { requiredKeys: [] },
    ),
    meta: fc.record({ tags: fc.option(fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }), { nil: null }), owner: fc.option(fc.string({ maxLength: 8 }), { nil: null }) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

const FIELDS = ['name', 'modelId', 'description', 'systemMessage', 'templates', 'parameters', 'meta'] as const;
const patchable = (v: ProfileView): Record<string, unknown> => Object.fromEntries(FIELDS.map((f) => [f, v[f]]));

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.close();
});

describe('property: store == RFC 7396 model; reopen and rebuild are identical', () => {
  it('random patch sequences', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(patchArb, { minLength: 1, maxLength: 12 }), async (patches) => {
        const id = `prop-${run++}`;
        const initial = { modelId: 'gpt-4o', name: 'start', description: '', systemMessage: 'You are helpful.', templates: {}, parameters: {}, meta: {} };
        let model: unknown = initial;
        await h.store.create({ id, ...initial }, ctx);
        for (const p of patches) {
          const v = await h.store.update(id, p, ctx);
          model = mergePatch(model, p);
          expect(patchable(v)).toEqual(model);
        }
        expect(patchable(await h.store.get(id))).toEqual(model);
      }),
      { numRuns: 25 },
    );
    // reopen: identical views
    const ids = (await h.store.list()).map((s) => s.id);
    const before = new Map<string, ProfileView>();
    for (const id of ids) before.set(id, await h.store.get(id));
    await h.reopen();
    for (const id of ids) expect(await h.store.get(id)).toEqual(before.get(id));
    // replay from scratch: rebuilt views are byte-identical to the persisted ones
    const log = h.store.log;
    const bytes = new Map<string, string>();
    for (const id of ids) bytes.set(id, Buffer.from((await log.getView(id))!).toString('hex'));
    await log.rebuild(materializeProfile);
    for (const id of ids) expect(Buffer.from((await log.getView(id))!).toString('hex')).toBe(bytes.get(id));
    // restore from a backup into an empty dir: views are computed from the entries alone
    const chunks: Buffer[] = [];
    await backupLog(h.store.log, new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }));
    const target = join(h.dir, 'restored');
    await restoreLog({ dir: target, input: Readable.from([Buffer.concat(chunks)]), materialize: materializeProfile });
    const restored = await openStore({ dir: target });
    try {
      for (const id of ids) expect(Buffer.from((await restored.log.getView(id))!).toString('hex')).toBe(bytes.get(id));
      for (const id of ids) expect(await restored.get(id)).toEqual(before.get(id));
    } finally {
      await restored.close();
    }
    await h.reopen();
    for (const id of ids) expect(await h.store.get(id)).toEqual(before.get(id));
  });
});
