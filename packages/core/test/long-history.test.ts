import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctx, harness, sample, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.close();
});

describe('long histories', () => {
  it('a profile overwritten 600 times keeps working: versions grow with the delete set, history/getAt stay exact', async () => {
    const first = await h.store.create({ id: 'busy', ...sample() }, ctx);
    let last = first;
    for (let i = 0; i < 600; i++) {
      last = await h.store.update('busy', { parameters: { temperature: (i % 200) / 100 }, systemMessage: `${sample().systemMessage} ${i % 7}` }, ctx);
    }
    expect(last.version.length).toBeGreaterThan(first.version.length);
    const hist = await h.store.history('busy', { limit: 3 });
    expect(hist[0]!.version).toBe(last.version);
    expect(await h.store.getAt('busy', first.version)).toEqual(first);
    h.store.clearCache();
    expect(await h.store.getAt('busy', hist[2]!.version)).toMatchObject({ version: hist[2]!.version });
  });
});
