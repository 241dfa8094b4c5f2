/**
 * store.search(): text search over prompt text, sorts, keyset pagination, grants, on a real
 * store (LevelDB in a temp dir). A fast-check model compares every page walk with a naive
 * filter + sort of the same profiles.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ListQuery, ListSort, ProfileSummary } from '../src/types.js';
import { codeOf, ctx, harness, manualClock, sample, type Harness } from './helpers.js';

let h: Harness;
let clock: ReturnType<typeof manualClock>;

beforeEach(async () => {
  clock = manualClock();
  h = await harness({ clock: clock.now });
});
afterEach(async () => h.close());

async function walk(q: ListQuery): Promise<{ ids: string[]; totals: number[] }> {
  const ids: string[] = [];
  const totals: number[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = await h.store.search({ ...q, ...(cursor ? { cursor } : {}) });
    ids.push(...page.profiles.map((p) => p.id));
    totals.push(page.total);
    if (page.nextCursor === null) return { ids, totals };
    expect(page.profiles).toHaveLength(q.limit!);
    cursor = page.nextCursor;
  }
  throw new Error('the walk did not end');
}

describe('search', () => {
  beforeEach(async () => {
    await h.store.create({ id: 'support', ...sample({ name: 'Support bot', modelId: 'gpt-4o', systemMessage: 'You are a CAREFUL assistant for refunds.' }) }, ctx);
    clock.advance(1000);
    await h.store.create({ id: 'coder', ...sample({ name: 'code Reviewer', modelId: 'claude-3', systemMessage: 'Review diffs.', templates: { pr: 'Summarize pull request {{n}} with care' } }) }, ctx);
    clock.advance(1000);
    await h.store.create({ id: 'writer', ...sample({ name: 'Anna writer', modelId: 'gpt-4o', description: 'Writes release notes', systemMessage: 'Short sentences.', templates: {} }) }, ctx);
  });

  it('finds words in the system message, templates and description, case-insensitively, and says where', async () => {
    const r = await h.store.search({ q: 'careful' });
    expect(r.total).toBe(1);
    expect(r.profiles[0]).toMatchObject({ id: 'support', match: { field: 'systemMessage', snippet: 'You are a CAREFUL assistant for refunds.' } });
    expect((await h.store.search({ q: 'PULL REQUEST' })).profiles.map((p) => [p.id, p.match?.field])).toEqual([['coder', 'templates.pr']]);
    expect((await h.store.search({ q: 'release' })).profiles.map((p) => [p.id, p.match?.field])).toEqual([['writer', 'description']]);
    // every word must occur (in any field); the match names the first word's place
    expect((await h.store.search({ q: 'care summarize' })).profiles.map((p) => [p.id, p.match?.field])).toEqual([['coder', 'templates.pr']]);
    expect((await h.store.search({ q: 'careful summarize' })).total).toBe(0);
    expect((await h.store.search({ q: 'gpt-4o', sort: 'name' })).profiles.map((p) => [p.id, p.match?.field])).toEqual([
      ['writer', 'modelId'],
      ['support', 'modelId'],
    ]);
    expect((await h.store.search({ q: '   ' })).total).toBe(3);
  });

  it('finds words in messages (profile model v2) and names the message', async () => {
    await h.store.create({ id: 'chat', ...sample({ name: 'Chat', systemMessage: 'Be brief.', templates: {}, messages: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'How may I assist with your PARCEL today?' }] }) }, ctx);
    const r = await h.store.search({ q: 'parcel' });
    expect(r.profiles.map((p) => [p.id, p.match?.field, p.match?.snippet])).toEqual([['chat', 'messages.1', 'How may I assist with your PARCEL today?']]);
    expect(r.profiles[0]!.conflicts).toBe(0);
    expect((await h.store.search({ withConflicts: true })).total).toBe(0);
  });

  it('sees every write at once: new text is found, replaced text is not', async () => {
    await h.store.update('writer', { systemMessage: 'Use a friendly, careful tone.' }, ctx);
    expect((await h.store.search({ q: 'careful' })).profiles.map((p) => p.id).sort()).toEqual(['support', 'writer']);
    await h.store.update('support', { systemMessage: 'Be quick.' }, ctx);
    expect((await h.store.search({ q: 'careful' })).profiles.map((p) => p.id)).toEqual(['writer']);
    await h.store.delete('writer', ctx);
    expect((await h.store.search({ q: 'careful' })).total).toBe(0);
    expect((await h.store.search({ q: 'careful', includeDeleted: true })).profiles.map((p) => p.id)).toEqual(['writer']);
    await h.reopen(); // the index is rebuilt from the persisted views
    expect((await h.store.search({ q: 'quick' })).profiles.map((p) => p.id)).toEqual(['support']);
  });

  it('a snippet is one line around the match', async () => {
    const long = `${'word '.repeat(40)}\n\nthe needle is here\n${'tail '.repeat(40)}`;
    await h.store.update('writer', { systemMessage: long }, ctx);
    const m = (await h.store.search({ q: 'needle' })).profiles[0]!.match!;
    expect(m.field).toBe('systemMessage');
    expect(m.snippet.startsWith('…')).toBe(true);
    expect(m.snippet.endsWith('…')).toBe(true);
    expect(m.snippet).toContain('the needle is here');
    expect(m.snippet).not.toContain('\n');
    expect(m.snippet.length).toBeLessThan(140);
  });

  it('sorts by name, updated (newest first), model, id; order flips', async () => {
    const ids = async (sort: ListSort, order?: 'asc' | 'desc') => (await h.store.search({ sort, ...(order ? { order } : {}) })).profiles.map((p) => p.id);
    expect(await ids('name')).toEqual(['writer', 'coder', 'support']); // Anna, code, Support: case-insensitive
    expect(await ids('name', 'desc')).toEqual(['support', 'coder', 'writer']);
    expect(await ids('updated')).toEqual(['writer', 'coder', 'support']);
    clock.advance(1000);
    await h.store.update('support', { description: 'touched' }, ctx);
    expect(await ids('updated')).toEqual(['support', 'writer', 'coder']);
    expect(await ids('updated', 'asc')).toEqual(['coder', 'writer', 'support']);
    expect(await ids('model')).toEqual(['coder', 'writer', 'support']); // claude-3; gpt-4o: Anna, Support
    expect(await ids('id')).toEqual(['coder', 'support', 'writer']);
  });

  it('sorts names and models as people read them: numbers by value, case and accents aside, the same on every page', async () => {
    await h.close();
    h = await harness({ clock: clock.now });
    const names = ['Profile 70', 'Profile 0', 'profile 105', 'Profile 35', 'Profile 9', 'Éclair', 'eclair', 'Profile 35b'];
    for (const [i, name] of names.entries()) await h.store.create({ id: `n${i}`, ...sample({ name, modelId: i % 2 ? 'model-10' : 'model-9' }) }, ctx);
    const name = (id: string) => names[Number(id.slice(1))];
    const byName = ['eclair', 'Éclair', 'Profile 0', 'Profile 9', 'Profile 35', 'Profile 35b', 'Profile 70', 'profile 105'];
    // eclair / Éclair collate equal: code points of the lowercased key decide ('e' < 'é')
    expect((await h.store.search({ sort: 'name' })).profiles.map((p) => p.name)).toEqual(byName);
    expect((await h.store.search({ sort: 'name', order: 'desc' })).profiles.map((p) => p.name)).toEqual([...byName].reverse());
    for (const limit of [1, 2, 3]) {
      expect((await walk({ sort: 'name', limit })).ids.map(name)).toEqual(byName);
      expect((await walk({ sort: 'name', order: 'desc', limit })).ids.map(name)).toEqual([...byName].reverse());
    }
    // model-9 before model-10, each model's profiles by name
    const byModel = (await walk({ sort: 'model', limit: 3 })).ids;
    expect(byModel.map((id) => Number(id.slice(1)) % 2)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(byModel.slice(0, 4).map(name)).toEqual(['eclair', 'Profile 9', 'Profile 70', 'profile 105']);
    expect(byModel.slice(4).map(name)).toEqual(['Éclair', 'Profile 0', 'Profile 35', 'Profile 35b']);
  });

  it('pages with a cursor; a profile created before the cursor does not repeat or shift the next page', async () => {
    for (let i = 0; i < 7; i++) await h.store.create({ id: `p${i}`, ...sample({ name: `P ${i}` }) }, ctx);
    const first = await h.store.search({ sort: 'name', limit: 4 });
    expect(first.total).toBe(10);
    expect(first.profiles.map((p) => p.id)).toEqual(['writer', 'coder', 'p0', 'p1']);
    await h.store.create({ id: 'aaa', ...sample({ name: 'A first' }) }, ctx); // sorts before the cursor
    const second = await h.store.search({ sort: 'name', limit: 4, cursor: first.nextCursor! });
    expect(second.profiles.map((p) => p.id)).toEqual(['p2', 'p3', 'p4', 'p5']);
    expect(second.total).toBe(11);
    const third = await h.store.search({ sort: 'name', limit: 4, cursor: second.nextCursor! });
    expect(third.profiles.map((p) => p.id)).toEqual(['p6', 'support']);
    expect(third.nextCursor).toBeNull();
    // a page that ends exactly at the last match has no next cursor
    expect((await h.store.search({ sort: 'name', limit: 11 })).nextCursor).toBeNull();
  });

  it('counts and lists only what `allow` lets through (a token\'s grants)', async () => {
    const r = await h.store.search({ allow: (id) => id !== 'coder', limit: 1, sort: 'name' });
    expect(r.total).toBe(2);
    expect(r.profiles.map((p) => p.id)).toEqual(['writer']);
    const next = await h.store.search({ allow: (id) => id !== 'coder', limit: 1, sort: 'name', cursor: r.nextCursor! });
    expect(next.profiles.map((p) => p.id)).toEqual(['support']);
  });

  it('refuses a bad cursor, limit, sort or order with PROFILE_LIST_INVALID naming the field', async () => {
    const page = await h.store.search({ sort: 'name', limit: 1 });
    const fieldOf = async (q: ListQuery) => {
      try {
        await h.store.search(q);
      } catch (err) {
        return [(err as { code: string }).code, (err as { details: { field: string } }).details.field];
      }
      return undefined;
    };
    expect(await fieldOf({ sort: 'updated', cursor: page.nextCursor! })).toEqual(['PROFILE_LIST_INVALID', 'cursor']);
    expect(await fieldOf({ sort: 'name', order: 'desc', cursor: page.nextCursor! })).toEqual(['PROFILE_LIST_INVALID', 'cursor']);
    expect((await h.store.search()).profiles.map((p) => p.id)).toEqual(['coder', 'support', 'writer']); // default: by id, like list()
    expect(await fieldOf({ cursor: 'not a cursor' })).toEqual(['PROFILE_LIST_INVALID', 'cursor']);
    expect(await fieldOf({ cursor: Buffer.from('{"s":"name"}').toString('base64url') })).toEqual(['PROFILE_LIST_INVALID', 'cursor']);
    expect(await fieldOf({ limit: 0 })).toEqual(['PROFILE_LIST_INVALID', 'limit']);
    expect(await fieldOf({ limit: 1001 })).toEqual(['PROFILE_LIST_INVALID', 'limit']);
    expect(await fieldOf({ limit: 1.5 })).toEqual(['PROFILE_LIST_INVALID', 'limit']);
    expect(await fieldOf({ sort: 'size' as ListSort })).toEqual(['PROFILE_LIST_INVALID', 'sort']);
    expect(await fieldOf({ order: 'up' as 'asc' })).toEqual(['PROFILE_LIST_INVALID', 'order']);
    expect(await fieldOf({ q: Array.from({ length: 17 }, (_, i) => `w${i}`).join(' ') })).toEqual(['PROFILE_LIST_INVALID', 'q']);
    expect(await codeOf(h.store.search({ q: 'x'.repeat(10) }))).toBeUndefined();
  });
});

describe('search model (fast-check)', () => {
  const humanOrder = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
  const word = fc.constantFrom('alpha', 'Beta', 'gamma', 'delta', 'ALPHA beta', 'zeta', '');
  const profile = fc.record({
    name: fc.constantFrom('a', 'B', 'c', 'b', 'A', 'P 9', 'p 10', 'P 010', 'P 100', 'é 2', 'E 2', 'a-b', 'ab'),
    modelId: fc.constantFrom('m1', 'M2', 'm3', 'm10', 'm-2'),
    systemMessage: word,
    template: word,
    tag: fc.constantFrom('x', 'y'),
    deleted: fc.boolean(),
    tick: fc.integer({ min: 0, max: 3 }),
  });

  it('every page walk equals a naive filter + sort of the same profiles, and total counts every match', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(profile, { minLength: 0, maxLength: 14 }),
        fc.record({
          q: fc.option(fc.constantFrom('alpha', 'beta', 'ALPHA gamma', 'zeta', 'p1', 'm2'), { nil: undefined }),
          sort: fc.constantFrom<ListSort>('name', 'updated', 'model', 'id'),
          order: fc.option(fc.constantFrom<'asc' | 'desc'>('asc', 'desc'), { nil: undefined }),
          limit: fc.integer({ min: 1, max: 5 }),
          tag: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
        }),
        async (profiles, q) => {
          await h.close();
          clock = manualClock();
          h = await harness({ clock: clock.now });
          const live: { s: ProfileSummary; text: string }[] = [];
          for (const [i, p] of profiles.entries()) {
            clock.advance(p.tick);
            const v = await h.store.create({ id: `p${i}`, ...sample({ name: p.name, modelId: p.modelId, description: '', systemMessage: p.systemMessage, templates: p.template ? { t: p.template } : {}, meta: { tags: [p.tag] } }) }, ctx);
            if (p.deleted) await h.store.delete(v.id, ctx);
            else live.push({ s: (await h.store.list()).find((s) => s.id === v.id)!, text: [p.name, v.id, p.modelId, p.systemMessage, p.template].join('\u0000').toLowerCase() });
          }
          const terms = (q.q ?? '').toLowerCase().split(/\s+/).filter(Boolean);
          // names and models: numeric-aware, case- and accent-blind, then code points; then the id
          const raw = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
          const human = (a: string, b: string): number => humanOrder.compare(a, b) || raw(a, b);
          const byKey = (a: ProfileSummary, b: ProfileSummary): number =>
            q.sort === 'name'
              ? human(a.name.toLowerCase(), b.name.toLowerCase())
              : q.sort === 'model'
                ? human(a.modelId.toLowerCase(), b.modelId.toLowerCase()) || human(a.name.toLowerCase(), b.name.toLowerCase())
                : q.sort === 'updated'
                  ? raw(a.updatedAt, b.updatedAt)
                  : 0;
          const order = q.order ?? (q.sort === 'updated' ? 'desc' : 'asc');
          const expected = live
            .filter((x) => (q.tag === undefined || x.s.tags.includes(q.tag)) && terms.every((t) => x.text.includes(t)))
            .map((x) => x.s)
            .sort((a, b) => byKey(a, b) || raw(a.id, b.id));
          if (order === 'desc') expected.reverse();
          const query: ListQuery = { sort: q.sort, limit: q.limit, ...(q.q ? { q: q.q } : {}), ...(q.order ? { order: q.order } : {}), ...(q.tag ? { tag: q.tag } : {}) };
          const got = await walk(query);
          expect(got.ids).toEqual(expected.map((s) => s.id));
          expect(new Set(got.totals)).toEqual(new Set([expected.length]));
        },
      ),
      { numRuns: 40, seed: 1609 },
    );
  });
});
