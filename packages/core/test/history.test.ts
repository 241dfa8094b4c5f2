import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentOf } from '../src/model.js';
import { openStore } from '../src/open.js';
import { bob, codeOf, ctx, harness, sample, tempDir, totalEntries, type Harness } from './helpers.js';

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
    expect(hist.map((v) => [v.seq, v.ref, v.open ?? false])).toEqual([
      [2, '@2', true],
      [1, '@1', false],
    ]);
    // bob's change is the open run until it closes; then it is version 2 with the fields it touched
    expect(hist[0]).toMatchObject({ actor: 'bob', actors: ['bob'], fields: ['parameters.temperature', 'systemMessage'], open: true });
    expect(hist[1]).toMatchObject({ actor: 'alice', reason: 'create', node: 'local' });
    expect(hist[1]!.summary.startsWith('create: ')).toBe(true);
    expect(hist[0]!.version).toBe((await h.store.get('p')).version);
    expect(await h.store.flushVersions()).toBe(1);
    const closed = await h.store.history('p');
    expect(closed[0]).toMatchObject({ ref: '@2', actor: 'bob', reason: 'idle', summary: 'idle: parameters.temperature, systemMessage', version: hist[0]!.version });
    expect(closed[0]!.open).toBeUndefined();
    expect(await h.store.history('p', { limit: 1 })).toHaveLength(1);
    // the raw entries stay reachable: create, bob's update, the version record
    expect((await h.store.entries('p')).map((e) => e.summary.split(':')[0])).toEqual(['version', 'update', 'create']);
  });

  it('getAt(every version) equals the view at that time, also after restart and cache clears', async () => {
    const views = [await h.store.create({ id: 'p', ...sample() }, ctx)];
    const patches = [{ systemMessage: 'A' }, { templates: { greet: null } }, { parameters: { seed: 42 } }, { description: 'd2', name: 'N2' }, { systemMessage: 'AB' }];
    for (const p of patches) views.push(await h.store.update('p', p, bob));
    await h.store.delete('p', ctx);
    await h.reopen();
    // every state: versions (@1 create, @2 bob's run) and the raw entries' states in between
    const same = (a: object, b: object) => expect({ ...a, labels: {}, updatedAt: '' }).toEqual({ ...b, labels: {}, updatedAt: '' });
    for (const v of views) same(await h.store.getAt('p', v.version), v);
    h.store.clearCache();
    for (const v of views) same(await h.store.getAt('p', v.version), v);
    expect((await h.store.getAt('p', '@2')).systemMessage).toBe('AB');
    expect((await h.store.getAt('p', '@3')).deleted).toBe(true);
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
    const labelled = await h.store.get('p');
    expect(contentOf(await h.store.getByLabel('p', 'production'))).toEqual({ ...contentOf(v1), labels: labelled.labels });
    await h.store.setLabel('p', 'production', v2.version, bob); // move
    await h.reopen();
    const cur = await h.store.get('p');
    expect(cur.labels).toEqual({ production: v2.version, staging: v2.version });
    expect(cur.version).toBe(v2.version); // label moves are not content: the version ref stays
    expect((await h.store.getByLabel('p', 'production')).systemMessage).toBe('v2');
    expect(await h.store.getByLabel('p', 'latest')).toEqual(cur);
    // labelling the open run closed it (reason label); label moves are audit records, not versions
    expect((await h.store.history('p')).map((v) => [v.ref, v.reason, v.version])).toEqual([
      ['@2', 'label', v2.version],
      ['@1', 'create', v1.version],
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
    expect(await codeOf(h.store.setLabel('p', 'prod', 'garbage', ctx))).toBe('LABEL_NOT_FOUND'); // a label name that is not set
    expect(await codeOf(h.store.setLabel('p', 'prod', 'Garbage!', ctx))).toBe('PROFILE_BAD_VERSION');
    expect(await codeOf(h.store.setLabel('p', 'prod', 'v1.AAAA', ctx))).toBe('PROFILE_BAD_VERSION');
    expect(await codeOf(h.store.setLabel('p', 'v2.x', v1.version, ctx))).toBe('LABEL_INVALID');
    expect(await codeOf(h.store.setLabel('p', 'prod', '@9', ctx))).toBe('PROFILE_VERSION_UNAVAILABLE');
    // a version of another profile: its ref names that profile
    expect(await codeOf(h.store.setLabel('p', 'prod', q2.version, ctx))).toBe('PROFILE_BAD_VERSION');
    expect(await codeOf(h.store.getAt('p', q2.version))).toBe('PROFILE_BAD_VERSION');
    expect(await codeOf(h.store.getAt('p', `v2.${q2.version.slice(3, 11)}.AAAAAAAAAAAAAAAAAAAAAA`))).toBe('PROFILE_BAD_VERSION');
    expect(await codeOf(h.store.getAt('p', `${v1.version.slice(0, 12)}AAAAAAAAAAAAAAAAAAAAAA`))).toBe('PROFILE_VERSION_UNAVAILABLE');
    expect(await codeOf(h.store.removeLabel('p', 'prod', ctx))).toBe('LABEL_NOT_FOUND');
    expect(await codeOf(h.store.revert('p', 'v1.%%%', ctx))).toBe('PROFILE_BAD_VERSION');
    expect(await codeOf(h.store.diff('p', v1.version, 'nope'))).toBe('LABEL_NOT_FOUND');
    expect(await codeOf(h.store.diff('p', v1.version, 'no pe'))).toBe('PROFILE_BAD_VERSION');
    expect(totalEntries(h.store.log)).toBe(before);
  });
});

describe('versions: idle gaps, startup, live runs', () => {
  it('a run closes after the idle gap (idle), and a run left open by a stop closes after the next open (startup)', async () => {
    const hi = await harness({ versions: { idleMs: 30 } });
    try {
      await hi.store.create({ id: 'p', ...sample() }, ctx);
      const closed: string[] = [];
      hi.store.on('version-closed', (e) => closed.push(e.reason));
      await hi.store.update('p', { description: 'a' }, bob);
      await hi.store.update('p', { description: 'ab' }, bob);
      await until(() => closed.length === 1);
      expect((await hi.store.history('p')).map((v) => [v.ref, v.reason, v.actor, v.fields])).toEqual([
        ['@2', 'idle', 'bob', ['description']],
        ['@1', 'create', 'alice', expect.any(Array)],
      ]);
      // a stop leaves a run open (nothing is appended at close); the next open closes it after the gap
      await hi.store.update('p', { name: 'renamed' }, bob);
      const before = totalEntries(hi.store.log);
      await hi.store.close();
      hi.store = await openStore({ dir: hi.dir, versions: { idleMs: 30 } });
      expect(totalEntries(hi.store.log)).toBe(before);
      const again: string[] = [];
      hi.store.on('version-closed', (e) => again.push(e.reason));
      await until(() => again.length === 1);
      expect((await hi.store.history('p'))[0]).toMatchObject({ ref: '@3', reason: 'startup', actor: 'bob', fields: ['name'] });
      expect((await hi.store.getAt('p', '@3')).name).toBe('renamed');
    } finally {
      await hi.close();
    }
  });

  it('refuses a bad idle gap', async () => {
    expect(await codeOf(openStore({ dir: await tempDir(), versions: { idleMs: 0 } }))).toBe('PROFILE_INVALID');
  });
});

async function until(fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
