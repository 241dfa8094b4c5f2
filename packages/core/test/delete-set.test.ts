import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { addDeleteSet, addRange, encodeSnapshot } from '../src/delete-set.js';

type DeleteSet = Y.Snapshot['ds'];
type Range = { clock: number; len: number };

const range = fc.record({ clock: fc.nat(400), len: fc.integer({ min: 1, max: 30 }) });
const client = fc.constantFrom(0, 1, 7, 128, 300, 2 ** 31 + 5, 4_294_967_295);
/** Per client ranges, in any order, overlapping, touching or apart. */
const rawSet = fc.array(fc.tuple(client, fc.array(range, { minLength: 1, maxLength: 12 })), { maxLength: 5 });

function deleteSet(entries: [number, Range[]][]): DeleteSet {
  const ds = Y.createDeleteSet();
  for (const [c, items] of entries) ds.clients.set(c, [...((ds.clients.get(c) as Range[] | undefined) ?? []), ...items.map((r) => ({ ...r }))] as never);
  return ds;
}

const plain = (ds: DeleteSet): Record<string, Range[]> =>
  Object.fromEntries([...ds.clients].sort((a, b) => a[0] - b[0]).map(([c, items]) => [String(c), items.map((r) => ({ clock: r.clock, len: r.len }))]));

describe('delete sets kept in place', () => {
  it('addDeleteSet gives the ranges Y.mergeDeleteSets gives, batch after batch, and never mutates a range', () => {
    fc.assert(
      fc.property(fc.array(rawSet, { minLength: 1, maxLength: 8 }), (batches) => {
        const mine = Y.mergeDeleteSets([deleteSet(batches[0]!)]); // normalized start, as the trackers start
        encodeSnapshot(mine, new Map(), true); // encoded once before the first change
        const frozen = new Set<Range>();
        let reference = mine;
        for (const b of batches.slice(1)) {
          for (const items of mine.clients.values()) for (const r of items) frozen.add(Object.freeze(r));
          const add = deleteSet(b);
          reference = Y.mergeDeleteSets([reference, add]);
          addDeleteSet(mine, add); // would throw on a frozen range if it mutated one
          expect(plain(mine)).toEqual(plain(reference));
          // tracked encoding (each list's ranges kept encoded, re-encoded from the first change)
          const sv = new Map([[1, 500], [300, 2]]);
          expect(Buffer.from(encodeSnapshot(mine, sv, true)).toString('hex')).toBe(Buffer.from(Y.encodeSnapshotV2(Y.createSnapshot(reference, sv))).toString('hex'));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('addRange merges overlapping and touching ranges, and leaves a covered range alone', () => {
    const list: Range[] = [{ clock: 0, len: 2 }, { clock: 5, len: 2 }, { clock: 10, len: 1 }];
    addRange(list, 2, 3); // touches both neighbours: one range 0..7
    expect(list).toEqual([{ clock: 0, len: 7 }, { clock: 10, len: 1 }]);
    const kept = list[0];
    addRange(list, 1, 3); // inside
    expect(list[0]).toBe(kept);
    addRange(list, 20, 1); // after the end
    addRange(list, 8, 1); // apart
    expect(list).toEqual([{ clock: 0, len: 7 }, { clock: 8, len: 1 }, { clock: 10, len: 1 }, { clock: 20, len: 1 }]);
  });

  it('encodeSnapshot writes exactly Y.encodeSnapshotV2 of the same delete set and state vector', () => {
    fc.assert(
      fc.property(rawSet, fc.array(fc.tuple(client, fc.integer({ min: 1, max: 2 ** 40 })), { maxLength: 6 }), (entries, svEntries) => {
        const ds = Y.mergeDeleteSets([deleteSet(entries)]);
        const sv = new Map(svEntries);
        const expected = Y.encodeSnapshotV2(Y.createSnapshot(ds, sv));
        expect(Buffer.from(encodeSnapshot(ds, sv)).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
      }),
      { numRuns: 300 },
    );
  });

  it('encodeSnapshot of a real doc equals Y.encodeSnapshotV2(Y.snapshot(doc)), also past the first scratch size', () => {
    const doc = new Y.Doc({ gc: false });
    const text = doc.getText('t');
    for (let i = 0; i < 3000; i++) {
      text.insert(text.length, 'ab');
      if (i % 2 === 0) text.delete(text.length - 2, 1); // ~1,500 separate deleted ranges
    }
    const snap = Y.snapshot(doc);
    const expected = Y.encodeSnapshotV2(snap);
    expect(expected.byteLength).toBeGreaterThan(1024);
    expect(Buffer.from(encodeSnapshot(snap.ds, snap.sv)).equals(Buffer.from(expected))).toBe(true);
    // the scratch is reused: a small one afterwards is still exact
    const small = Y.createSnapshot(Y.createDeleteSet(), new Map([[3, 9]]));
    expect(Buffer.from(encodeSnapshot(small.ds, small.sv)).equals(Buffer.from(Y.encodeSnapshotV2(small)))).toBe(true);
  });
});
