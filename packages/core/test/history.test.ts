import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentOf } from '../src/model.js';
import { bob, codeOf, ctx, harness, sample, totalEntries, type Harness } from './helpers.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

describe('history, versions, labels, revert, diff', () => {
  it('history lists every version newest first with ref, seq, time, actor, origin, summary', async () => {
    await h.store.create({ id: 'p', ...sample() }, ctx);
    await h.store.update('p', { parameters: { temperature: 0.1 }, systemMessage: 'New message.' }, bob);
    const hist = await h.store.history('p');
    expect(hist.map((v) => v.seq)).toEqual([2, 1]);
    expect(hist[0]).toMatchObject({ actor: 'bob', origin: 'api:tok1', summary: 'update: parameters.temperature, systemMessage' });
    expect(hist[1]!.summary.startsWith('create: ')).toBe(true);
    expect(hist[0]!.version).toBe((await h.store.get('p')).version);
    expect(await h.store.history('p', { limit: 1 })).toHaveLength(1);
  });

  it('getAt(every version) equals the view at that time, also after restart and cache clears', async () => {
    const views = [await h.store.create({ id: 'p', ...sample() }, ctx)];
    const patches = [{ systemMessage: 'A' }, { templates: { greet: null } }, { parameters: { seed: 42 } }, { description: 'd2', name: 'N2' }, { systemMessage: 'AB' }];
    for (const p of patches) views.push(await h.store.update('p', p, bob));
    await h.store.delete('p', ctx);
    await h.reopen();
    for (const v of views) expect(await h.store.getAt('p', v.version)).toEqual(v);
    h.store.clearCache();
    for (const v of views) expect(await h.store.getAt('p', v.version)).toEqual(v);
  });

  it('revert restores content as a new version (labels are not reverted) and diff then shows no change', async () => {
    const v1 = await h.store.create({ id: 'p', ...sample() }, ctx);
    await h.store.update('p', { systemMessage: 'Totally different', parameters: { temperature: 1.5, seed: 7 }, templates: { extra: 'x' } }, bob);
    const labelled = await h.store.setLabel('p', 'staging', v1.version, ctx);
    const reverted = await h.store.revert('p', v1.version, bob);
    expect(contentOf(reverted)).toEqual({ ...contentOf(v1), labels: labelled.labels });
    expect(reverted.version).not.toBe(v1.version);
    const d = await h.store.diff('p', v1.version, reverted.version);
    expect(d.changes.filter((c) => !c.path.startsWith('labels.'))).toEqual([]);
    expect((await h.store.history('p'))[0]!.summary.startsWith('revert: ')).toBe(true);
  });

  it('revert of a deleted profile to a live version undeletes it', async () => {
    const v1 = await h.store.create({ id: 'p', ...sample() }, ctx);
    await h.store.delete('p', ctx);
    const back = await h.store.revert('p', v1.version, ctx);
    expect(back.deleted).toBe(false);
    expect(h.store.get('p')).toBe(back);
  });

  it('diff gives field-level changes with character diffs for text', async () => {
    const v1 = await h.store.create({ id: 'p', ...sample() }, ctx);
    const v2 = await h.store.update('p', { systemMessage: 'You are a helpful support agent. Answer in detail.', parameters: { temperature: 0.3, top_p: null } }, ctx);
    const d = await h.store.diff('p', v1.version, v2.version);
    expect(d.changes.map((c) => [c.path, c.kind])).toEqual([
      ['parameters.temperature', 'changed'],
      ['parameters.top_p', 'removed'],
      ['systemMessage', 'changed'],
    ]);
    const text = d.changes.find((c) => c.path === 'systemMessage')!.text!;
    expect(text.filter((p) => p.op !== 'delete').map((p) => p.text).join('')).toBe(v2.systemMessage);
    expect(text.filter((p) => p.op !== 'insert').map((p) => p.text).join('')).toBe(v1.systemMessage);
    expect(text.some((p) => p.op === 'equal' && p.text.startsWith('You are a helpful'))).toBe(true);
  });

  it('labels: set, move, get by label, latest is automatic, remove; survive restart; versioned in history', async () => {
    const v1 = await h.store.create({ id: 'p', ...sample() }, ctx);
    const v2 = await h.store.update('p', { systemMessage: 'v2' }, ctx);
    await h.store.setLabel('p', 'production', v1.version, bob);
    await h.store.setLabel('p', 'staging', v2.version, bob);
    expect(contentOf(await h.store.getByLabel('p', 'production'))).toEqual({ ...contentOf(v1), labels: {} });
    await h.store.setLabel('p', 'production', v2.version, bob); // move
    await h.reopen();
    const cur = await h.store.get('p');
    expect(cur.labels).toEqual({ production: v2.version, staging: v2.version });
    expect((await h.store.getByLabel('p', 'production')).systemMessage).toBe('v2');
    expect(await h.store.getByLabel('p', 'latest')).toEqual(cur);
    expect((await h.store.history('p')).slice(0, 3).map((v) => v.summary)).toEqual([
      'label.set: labels.production',
      'label.set: labels.staging',
      'label.set: labels.production',
    ]);
    await h.store.removeLabel('p', 'staging', ctx);
    expect(await codeOf(h.store.getByLabel('p', 'staging'))).toBe('LABEL_NOT_FOUND');
    const audit = await h.store.audit({ profile: 'p', action: 'label.set' });
    expect(audit).toHaveLength(3);
    expect(audit[0]).toMatchObject({ actor: 'bob', action: 'label.set', fields: ['labels.production'], outcome: 'ok' });
  });

  it('label and version errors change nothing', async () => {
    const v1 = await h.store.create({ id: 'p', ...sample() }, ctx);
    await h.store.create({ id: 'q', ...sample() }, ctx);
    const q2 = await h.store.update('q', { name: 'q2' }, ctx);
    const before = totalEntries(h.store.log);
    expect(await codeOf(h.store.getByLabel('p', 'production'))).toBe('LABEL_NOT_FOUND');
    expect(await codeOf(h.store.setLabel('p', 'latest', v1.version, ctx))).toBe('LABEL_INVALID');
    expect(await codeOf(h.store.setLabel('p', 'Bad Label', v1.version, ctx))).toBe('LABEL_INVALID');
    expect(await codeOf(h.store.setLabel('p', 'prod', 'garbage', ctx))).toBe('PROFILE_BAD_VERSION');
    expect(await codeOf(h.store.setLabel('p', 'prod', 'v1.AAAA', ctx))).toBe('PROFILE_BAD_VERSION');
    // a version of another profile names structs this profile does not have
    expect(await codeOf(h.store.setLabel('p', 'prod', q2.version, ctx))).toBe('PROFILE_VERSION_UNAVAILABLE');
    expect(await codeOf(h.store.getAt('p', q2.version))).toBe('PROFILE_VERSION_UNAVAILABLE');
    expect(await codeOf(h.store.removeLabel('p', 'prod', ctx))).toBe('LABEL_NOT_FOUND');
    expect(await codeOf(h.store.revert('p', 'v1.%%%', ctx))).toBe('PROFILE_BAD_VERSION');
    expect(await codeOf(h.store.diff('p', v1.version, 'nope'))).toBe('PROFILE_BAD_VERSION');
    expect(totalEntries(h.store.log)).toBe(before);
  });
});
