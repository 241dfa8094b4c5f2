/** Pure pieces of the write hot path, pinned against their straightforward definitions. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import diff from 'fast-diff';
import * as Y from 'yjs';
import { canonicalJson, sortDeep } from '../src/canonical.js';
import { canonicalContent, encodePersisted, newProfileDoc, type ProfileContent } from '../src/model.js';
import { applyTextDiff, commonEnds, textEdits } from '../src/textdiff.js';

/** Strings over a small alphabet with surrogate pairs, lone surrogates, quotes and control characters. */
const unit = fc.constantFrom('a', 'b', ' ', '😀', '😃', '\ud83d', '\ude00', '"', '\\', '\n', '\u0001', 'é', '\u2028');
const str = fc.array(unit, { maxLength: 30 }).map((a) => a.join(''));
/** Well-formed text (no lone surrogates: Yjs itself replaces a split or lone surrogate with U+FFFD). */
const wellFormed = fc.array(fc.constantFrom('a', 'b', ' ', '😀', '😃', '👍🏽', '"', '\n', 'é'), { maxLength: 30 }).map((a) => a.join(''));

describe('textEdits', () => {
  it('turns before into after on a Y.Text', () => {
    fc.assert(
      fc.property(wellFormed, wellFormed, (before, after) => {
        const doc = newProfileDoc();
        const t = doc.getText('t');
        t.insert(0, before);
        doc.transact(() => applyTextDiff(t, before, after));
        expect(t.toString()).toBe(after);
      }),
      { numRuns: 2000, seed: 42 },
    );
  });

  it('edits reassemble both strings (fast-diff itself needs well-formed text for that)', () => {
    fc.assert(
      fc.property(wellFormed, wellFormed, (before, after) => {
        const ops = textEdits(before, after);
        expect(ops.filter(([op]) => op !== 1).map(([, s]) => s).join('')).toBe(before);
        expect(ops.filter(([op]) => op !== -1).map(([, s]) => s).join('')).toBe(after);
      }),
      { numRuns: 2000, seed: 42 },
    );
  });

  it('gives exactly the edits of fast-diff on the changed middle (the no-shared-character shortcut included)', () => {
    const short = fc.array(fc.constantFrom('a', 'b', 'c', '1', '2', '9', ' ', '😀', 'é'), { maxLength: 20 }).map((a) => a.join(''));
    fc.assert(
      fc.property(short, short, short, short, (prefix, a, b, suffix) => {
        const before = `${prefix}(rev ${a})${suffix}`;
        const after = `${prefix}(rev ${b})${suffix}`;
        if (before === after) return;
        const { prefix: p, suffix: s } = commonEnds(before, after);
        const x = before.slice(p, before.length - s);
        const y = after.slice(p, after.length - s);
        const middle = x.length === 0 ? [[1, y]] : y.length === 0 ? [[-1, x]] : diff(x, y);
        const expected = [...(p > 0 ? [[0, before.slice(0, p)]] : []), ...middle, ...(s > 0 ? [[0, before.slice(before.length - s)]] : [])];
        expect(textEdits(before, after)).toEqual(expected);
      }),
      { numRuns: 3000, seed: 7 },
    );
    expect(textEdits('x (rev 39)', 'x (rev 40)')).toEqual([[0, 'x (rev '], [-1, '39'], [1, '40'], [0, ')']]);
  });

  it('never cuts a surrogate pair at the ends', () => {
    expect(commonEnds('a😀b', 'a😃b')).toEqual({ prefix: 1, suffix: 1 });
    expect(commonEnds('😀x', '😀y')).toEqual({ prefix: 2, suffix: 0 });
  });

  it('touches only the changed run of a long text (a concurrent edit elsewhere survives)', () => {
    const base = 'x'.repeat(500) + ' (rev 19)';
    const a = newProfileDoc();
    a.getText('t').insert(0, base);
    const b = newProfileDoc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    a.transact(() => applyTextDiff(a.getText('t'), base, 'x'.repeat(500) + ' (rev 20)'));
    b.transact(() => applyTextDiff(b.getText('t'), base, 'START ' + base));
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    expect(a.getText('t').toString()).toBe('START ' + 'x'.repeat(500) + ' (rev 20)');
    expect(b.getText('t').toString()).toBe(a.getText('t').toString());
  });
});

describe('encodePersisted', () => {
  const map = fc.dictionary(fc.oneof(fc.constantFrom('b', 'a', '10', '2', 'z_1', 'Tag'), str), fc.oneof(str, fc.double(), fc.boolean(), fc.constant(null), fc.array(str, { maxLength: 3 })), { maxKeys: 5 });
  const content = fc.record({
    id: str,
    modelId: str,
    name: str,
    description: str,
    systemMessage: str,
    templates: fc.dictionary(str, str, { maxKeys: 4 }),
    messages: fc.array(fc.record({ id: str, role: fc.constantFrom('user', 'system'), content: str }), { maxLength: 3 }),
    parameters: fc.tuple(map, fc.option(map, { nil: undefined }), fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined })).map(([m, extra, json]) => ({ ...m, ...(extra ? { extra } : {}), ...(json !== undefined ? { response_format: json } : {}) })),
    labels: fc.dictionary(str, str, { maxKeys: 3 }),
    meta: map,
    deleted: fc.boolean(),
  });
  const sortKeys = (o: Record<string, unknown>, inner?: (k: string, v: unknown) => unknown): Record<string, unknown> =>
    Object.fromEntries(Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => [k, inner ? inner(k, o[k]) : o[k]]));
  /** The canonical form: top-level keys and each map's keys sorted (extra one level deeper); JSON values as written. */
  const reference = (c: Record<string, unknown>, x: Record<string, unknown>): string =>
    JSON.stringify(
      sortKeys({
        ...c,
        ...x,
        templates: sortKeys(c['templates'] as Record<string, unknown>),
        labels: sortKeys(c['labels'] as Record<string, unknown>),
        meta: sortKeys(c['meta'] as Record<string, unknown>),
        messages: (c['messages'] as { id: string; role: string; content: string }[]).map((m) => ({ content: m.content, id: m.id, role: m.role })),
        parameters: sortKeys(c['parameters'] as Record<string, unknown>, (k, v) => (k === 'extra' ? sortKeys(v as Record<string, unknown>) : v)),
      }),
    );

  it('is exactly JSON.stringify of the canonical view object', () => {
    fc.assert(
      fc.property(content, str, str, fc.nat(3), (c, by, version, conflicts) => {
        const x = { updatedBy: by, version, schema: 2 as const, conflicts };
        const ref = reference(c, x);
        expect(encodePersisted(c as unknown as ProfileContent, x)).toBe(ref);
        // again from canonical content whose maps are memoized (second call hits the caches)
        const canon = canonicalContent(c as unknown as ProfileContent);
        expect(encodePersisted(canon, x, true)).toBe(ref);
        expect(encodePersisted(canonicalContent(canon), x, true)).toBe(ref);
        // the hidden open flag sits in its sorted place
        expect(encodePersisted(canon, { ...x, open: true }, true)).toBe(reference(c, { ...x, open: true }));
      }),
      { numRuns: 1000, seed: 3 },
    );
  });

  it('falls back to JSON.stringify for content with wrong kinds (rebuild of an invalid doc)', () => {
    const odd = { id: 'p', modelId: 'm', name: 'n', description: undefined, systemMessage: Symbol('x'), templates: [], messages: [], parameters: {}, labels: {}, meta: {}, deleted: 1 } as unknown as ProfileContent;
    const x = { version: 'v2.x', updatedBy: 'a', schema: 2 as const, conflicts: 0 };
    expect(encodePersisted(odd, x)).toBe(JSON.stringify(sortDeep({ ...canonicalContent(odd), ...x })));
  });

  it('canonical maps are frozen and reused, so an untouched map is not sorted again', () => {
    const c1 = canonicalContent({ id: 'p', modelId: 'm', name: 'n', description: '', systemMessage: '', templates: { b: '1', a: '2' }, messages: [], parameters: {}, labels: {}, meta: {}, deleted: false });
    expect(Object.isFrozen(c1.templates)).toBe(true);
    expect(Object.keys(c1.templates)).toEqual(['a', 'b']);
    const c2 = canonicalContent({ ...c1, systemMessage: 'changed' });
    expect(c2.templates).toBe(c1.templates);
  });
});
