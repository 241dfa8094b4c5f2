import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentOf } from '../src/model.js';
import { codeOf, ctx, harness, sample, totalEntries, type Harness } from './helpers.js';

let a: Harness;
let b: Harness;
beforeEach(async () => {
  a = await harness();
  b = await harness();
});
afterEach(async () => {
  await a.close();
  await b.close();
});

describe('JSON import/export', () => {
  it('exports views and imports them with a report (created / updated / unchanged / rejected)', async () => {
    await a.store.create({ id: 'one', ...sample() }, ctx);
    await a.store.create({ id: 'two', ...sample({ name: 'Two' }) }, ctx);
    await a.store.create({ id: 'gone', ...sample() }, ctx);
    await a.store.delete('gone', ctx);
    const exported = await a.store.exportJson();
    expect(exported.map((v) => v.id)).toEqual(['one', 'two']);
    const r1 = await b.store.importJson(JSON.parse(JSON.stringify(exported)), ctx);
    expect(r1).toEqual({ created: ['one', 'two'], updated: [], unchanged: [], rejected: [] });
    expect(contentOf(await b.store.get('one'))).toEqual(contentOf(exported[0]!));
    const changed = [{ ...exported[0]!, systemMessage: 'imported change' }, exported[1]!, { id: 'bad', modelId: 'm', name: 'n', parameters: { temperature: 5 } }, { name: 'no id', modelId: 'm' }, 'junk'];
    const before = totalEntries(b.store.log);
    const r2 = await b.store.importJson({ profiles: changed }, ctx);
    expect(r2.updated).toEqual(['one']);
    expect(r2.unchanged).toEqual(['two']);
    expect(r2.rejected.map((r) => [r.id, r.code])).toEqual([
      ['bad', 'PROFILE_INVALID'],
      [null, 'PROFILE_INVALID_ID'],
      [null, 'PROFILE_INVALID'],
    ]);
    expect(totalEntries(b.store.log)).toBe(before + 1);
    expect((await b.store.history('one'))[0]).toMatchObject({ reason: 'import', summary: 'import: systemMessage' });
    expect(await codeOf(b.store.importJson('nope', ctx))).toBe('IMPORT_INVALID');
  });
});

describe('binary export of one profile log', () => {
  it('round-trips exactly and verifies on import; corruption is refused and changes nothing', async () => {
    await a.store.create({ id: 'p', ...sample() }, ctx);
    await a.store.update('p', { systemMessage: 'second' }, ctx);
    await a.store.setLabel('p', 'production', (await a.store.get('p')).version, ctx);
    const bin = await a.store.exportLog('p');
    const r = await b.store.importLog(bin, { actor: 'ops', origin: 'import' });
    // create, update, the version the label closed (labels point at versions), the label
    expect(r).toEqual({ id: 'p', entries: 4, applied: true });
    expect(await b.store.history('p')).toEqual(await a.store.history('p'));
    const va = await a.store.get('p');
    const vb = await b.store.get('p');
    expect({ ...contentOf(vb), version: vb.version }).toEqual({ ...contentOf(va), version: va.version });
    expect((await b.store.importLog(bin, ctx)).applied).toBe(false);
    const before = totalEntries(b.store.log);
    const flipped = bin.slice();
    flipped[20] = flipped[20]! ^ 0xff;
    expect(await codeOf(b.store.importLog(flipped, ctx))).toBe('IMPORT_INVALID');
    expect(await codeOf(b.store.importLog(bin.subarray(0, bin.length - 5), ctx))).toBe('IMPORT_INVALID');
    expect(await codeOf(b.store.importLog(new Uint8Array(10), ctx))).toBe('IMPORT_INVALID');
    expect(totalEntries(b.store.log)).toBe(before);
    expect(await codeOf(a.store.exportLog('missing'))).toBe('PROFILE_NOT_FOUND');
  });
});
