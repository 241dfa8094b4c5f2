import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ContentTracker, contentSnapshotBytes } from '../src/content-state.js';
import { newProfileDoc, ROOT, skeletonUpdate } from '../src/model.js';
import { VersionTracker, versionBytes } from '../src/version.js';

type Op =
  | { kind: 'ins'; pos: number; text: string }
  | { kind: 'del'; pos: number; len: number }
  | { kind: 'set'; key: string; value: number }
  | { kind: 'rm'; key: string }
  | { kind: 'label'; key: string; value: number }
  | { kind: 'version'; key: string; value: number }
  | { kind: 'sync' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('ins' as const), pos: fc.nat(200), text: fc.string({ minLength: 1, maxLength: 5 }) }),
  fc.record({ kind: fc.constant('del' as const), pos: fc.nat(200), len: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('set' as const), key: fc.constantFrom('a', 'b', 'c'), value: fc.integer() }),
  fc.record({ kind: fc.constant('rm' as const), key: fc.constantFrom('a', 'b', 'c') }),
  // not content: a label and a version record (the content snapshot leaves them out)
  fc.record({ kind: fc.constant('label' as const), key: fc.constantFrom('prod', 'dev'), value: fc.integer() }),
  fc.record({ kind: fc.constant('version' as const), key: fc.constantFrom('k1', 'k2'), value: fc.integer() }),
  fc.record({ kind: fc.constant('sync' as const) }),
);

function apply(doc: Y.Doc, o: Op): void {
  const text = doc.getMap(ROOT).get('systemMessage') as Y.Text;
  const params = doc.getMap(ROOT).get('parameters') as Y.Map<unknown>;
  doc.transact(() => {
    if (o.kind === 'ins') text.insert(Math.min(o.pos, text.length), o.text);
    else if (o.kind === 'del' && text.length > 0) {
      const p = Math.min(o.pos, text.length - 1);
      text.delete(p, Math.min(o.len, text.length - p));
    } else if (o.kind === 'set') params.set(o.key, o.value);
    else if (o.kind === 'rm') params.delete(o.key);
    else if (o.kind === 'label') (doc.getMap(ROOT).get('labels') as Y.Map<unknown>).set(o.key, o.value);
    else if (o.kind === 'version') doc.getMap('versions').set(o.key, o.value);
  });
}

describe('VersionTracker', () => {
  it('incremental version bytes equal Y.snapshot of the doc (and content bytes the content snapshot), with local and remote changes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), op, fc.boolean()), { maxLength: 60 }), (steps) => {
        const a = newProfileDoc();
        const b = newProfileDoc();
        Y.applyUpdate(a, skeletonUpdate('x'));
        Y.applyUpdate(b, skeletonUpdate('x'));
        a.clientID = 101;
        b.clientID = 202;
        const tracker = new VersionTracker(a);
        const content = new ContentTracker(a);
        for (const [onA, o, quiet] of steps) {
          if (o.kind === 'sync') {
            Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
            Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
          } else if (onA && quiet) content.quietly(() => apply(a, o)); // a local write: nothing recorded, bytes kept current
          else apply(onA ? a : b, o);
          expect(Buffer.from(tracker.bytes()).toString('hex')).toBe(Buffer.from(versionBytes(a)).toString('hex'));
          // the content snapshot kept per transaction equals the one computed from scratch
          expect(Buffer.from(content.bytes()).toString('hex')).toBe(Buffer.from(contentSnapshotBytes(a)).toString('hex'));
        }
      }),
      { numRuns: 150 },
    );
  });
});
