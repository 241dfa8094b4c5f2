import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareByPosition, isPosition, newMessageId, positionBetween, positionsBetween, MESSAGE_ID_PATTERN } from '../src/index.js';

describe('positions', () => {
  it('makes message ids', () => {
    const ids = new Set(Array.from({ length: 200 }, newMessageId));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(MESSAGE_ID_PATTERN);
  });

  it('inserts strictly between neighbours, at either end, any number of times (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 60 }), (choices) => {
        const list: string[] = [];
        for (const c of choices) {
          const i = c % (list.length + 1);
          const p = positionBetween(list[i - 1] ?? null, list[i] ?? null);
          expect(isPosition(p)).toBe(true);
          if (i > 0) expect(p > list[i - 1]!).toBe(true);
          if (i < list.length) expect(p < list[i]!).toBe(true);
          list.splice(i, 0, p);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('gives two peers inserting at the same spot different positions (jitter)', () => {
    const a = positionBetween('a0', 'a1');
    const b = positionBetween('a0', 'a1');
    expect(a).not.toBe(b);
    const run = positionsBetween('a0', 'a1', 5);
    expect(run).toEqual([...run].sort());
    expect(new Set(run).size).toBe(5);
  });

  it('orders by (pos, id) with plain comparison', () => {
    const items = [
      { pos: 'a1', id: 'b' },
      { pos: 'a1', id: 'a' },
      { pos: 'a0', id: 'z' },
    ];
    expect(items.sort(compareByPosition).map((x) => x.id)).toEqual(['z', 'a', 'b']);
  });

  it('refuses malformed positions', () => {
    for (const p of ['', 'a00', '0a', 'a 1', 'a' + 'x'.repeat(200), 5]) expect(isPosition(p)).toBe(false);
  });
});
