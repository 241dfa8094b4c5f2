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
        logit_bias: fc.option(fc.dictionary(fc.constantFrom('1', '50256', '7'), fc.integer({ min: -100, max: 100 }), { maxKeys: 3 }), { nil: null }),
        tools: fc.option(
          fc.uniqueArray(
            fc.record({ type: fc.constant('function' as const), function: fc.record({ name: fc.constantFrom('a', 'b', 'c', 'd'), description: text }, { requiredKeys: ['name'] }) }),
            { selector: (t) => t.function.name, maxLength: 4 },
          ),
          { nil: null },
        ),
        extra: fc.option(fc.record({ custom_flag: fc.option(fc.boolean(), { nil: null }), top_k: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }) }, { requiredKeys: [] }), { nil: null }),
      },
      { requiredKeys: [] },
    ),
    messages: fc.option(
      fc.uniqueArray(fc.record({ id: fc.constantFrom('m1', 'm2', 'm3', 'm4', 'm5'), role: fc.constantFrom('system', 'developer', 'user', 'assistant'), content: text }), { selector: (m) => m.id, maxLength: 5 }),
      { nil: null },
    ),
    meta: fc.record({ tags: fc.option(fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }), { nil: null }), owner: fc.option(fc.string({ maxLength: 8 }), { nil: null }) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

const FIELDS = ['name', 'modelId', 'description', 'systemMessage', 'templates', 'messages', 'parameters', 'meta'] as const;

/**
 * The store's patch semantics over this model: RFC 7396, except that a parameter's value (a tool
 * list, logit_bias) is replaced whole, messages is a list (replaced, matched by id), and an
 * empty parameters.extra is not shown.
 */
function storePatch(model: Record<string, unknown>, p: Record<string, unknown>): Record<string, unknown> {
  const out = { ...model };
  for (const [k, v] of Object.entries(p)) {
    if (k === 'messages') out[k] = v === null ? [] : v;
    else if (k === 'parameters' && v !== null) {
      const params: Record<string, unknown> = { ...(out[k] as Record<string, unknown>) };
      for (const [pk, pv] of Object.entries(v as Record<string, unknown>)) {
        if (pv === null) delete params[pk];
        else if (pk === 'extra') params[pk] = mergePatch(params[pk], pv);
        else params[pk] = pv;
      }
      if (params['extra'] !== undefined && Object.keys(params['extra'] as object).length === 0) delete params['extra'];
      if (Array.isArray(params['tools']) && params['tools'].length === 0) delete params['tools'];
      out[k] = params;
    } else out[k] = mergePatch(out[k], v);
  }
  return out;
}
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
        const initial = { modelId: 'gpt-4o', name: 'start', description: '', systemMessage: 'You are helpful.', templates: {}, messages: [], parameters: {}, meta: {} };
        let model: Record<string, unknown> = initial;
        await h.store.create({ id, ...initial }, ctx);
        for (const p of patches) {
          const v = await h.store.update(id, p as never, ctx);
          model = storePatch(model, p as Record<string, unknown>);
          expect(patchable(v)).toEqual(model);
        }
        expect(patchable(await h.store.get(id))).toEqual(model);
      }),
      { numRuns: 25 },
    );
    // reopen: identical views (the open runs are closed first: closing appends the version records)
    expect(await h.store.flushVersions()).toBeGreaterThan(0);
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
