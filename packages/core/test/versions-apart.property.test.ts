/**
 * Property (docs/profile-model.md §5 "Runs and peers", invariant 6): two real stores edited by
 * several actors, sometimes apart, restarted with runs open, exchanging states as a /sync digest
 * round does. Whatever the sequence: (1) once converged, both list the same closed versions, and
 * every version reads back the same content on both; (2) whenever both nodes edited since they
 * last met, each node's state just before they meet is a version of that node, with only that
 * node's actors: no run absorbs a peer's changes, none is lost.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProfileStoreImpl } from '../src/store-api.js';
import type { VersionInfo, WriteContext } from '../src/types.js';
import { ctx, harness, manualClock, sample, type Harness } from './helpers.js';

type Node = 'A' | 'B';
type Op = { kind: 'edit'; node: Node; actor: number; field: 'description' | 'name' | 'systemMessage' | 'temperature'; value: number } | { kind: 'meet' } | { kind: 'restart'; node: Node };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('edit' as const), node: fc.constantFrom<Node>('A', 'B'), actor: fc.integer({ min: 0, max: 1 }), field: fc.constantFrom('description' as const, 'name' as const, 'systemMessage' as const, 'temperature' as const), value: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('meet' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), node: fc.constantFrom<Node>('A', 'B') }) },
);

const peer = (from: Node): WriteContext => ({ actor: `node-${from}`, origin: `peer:${from}` });
const actorOf = (node: Node, i: number): WriteContext => ({ actor: `${node.toLowerCase()}${i}`, origin: `api:${node}${i}` });

async function exchange(x: ProfileStoreImpl, y: ProfileStoreImpl): Promise<void> {
  const [svX, svY] = [await x.stateVector('p'), await y.stateVector('p')];
  const toY = await x.encodeStateAsUpdate('p', svY).catch(() => undefined); // undefined: x does not have it
  const toX = await y.encodeStateAsUpdate('p', svX).catch(() => undefined);
  if (toY !== undefined) await y.applyRemoteUpdate('p', toY, { ...peer('A'), merge: { remoteStateVector: svX } });
  if (toX !== undefined) await x.applyRemoteUpdate('p', toX, { ...peer('B'), merge: { remoteStateVector: svY } });
}

const closed = (h: VersionInfo[]) => h.filter((v) => v.open !== true).map(({ open: _o, ...v }) => v);

describe('property: versions of runs made apart', () => {
  it('converged nodes list the same versions, and each node keeps its own state before every meeting as a version', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
        const clock = manualClock();
        const opts = (nodeId: Node) => ({ nodeId, clock: clock.now, versions: { idleMs: 3_600_000 } });
        const h: Record<Node, Harness> = { A: await harness(opts('A')), B: await harness(opts('B')) };
        try {
          await h.A.store.create({ id: 'p', ...sample() }, ctx);
          await exchange(h.A.store, h.B.store);
          const dirty: Record<Node, boolean> = { A: false, B: false };
          const mustBe: { node: Node; version: string }[] = [];
          for (const op of ops) {
            clock.advance(1000);
            if (op.kind === 'edit') {
              const s = h[op.node].store;
              const v = `${op.node}${op.value}`;
              const patch = op.field === 'temperature' ? { parameters: { temperature: op.value / 4 } } : { [op.field]: op.field === 'systemMessage' ? `Be brief. ${v}` : v };
              const before = (await s.get('p')).version;
              if ((await s.update('p', patch, actorOf(op.node, op.actor))).version !== before) dirty[op.node] = true;
            } else if (op.kind === 'restart') {
              await h[op.node].reopen();
            } else {
              if (dirty.A && dirty.B) for (const n of ['A', 'B'] as const) mustBe.push({ node: n, version: (await h[n].store.get('p')).version });
              await exchange(h.A.store, h.B.store);
              dirty.A = dirty.B = false;
            }
          }
          clock.advance(1000);
          await h.A.store.flushVersions();
          await h.B.store.flushVersions();
          await exchange(h.A.store, h.B.store);
          await exchange(h.A.store, h.B.store);
          const [ha, hb] = [closed(await h.A.store.history('p')), closed(await h.B.store.history('p'))];
          expect(hb).toEqual(ha);
          for (const v of ha) expect(await h.B.store.getAt('p', v.version)).toEqual(await h.A.store.getAt('p', v.version));
          for (const m of mustBe) {
            const v = ha.find((x) => x.version === m.version);
            expect(v, `${m.node}'s state before a meeting is a version`).toBeDefined();
            expect(v!.node).toBe(m.node);
            for (const a of v!.actors) expect(a.startsWith(m.node.toLowerCase())).toBe(true);
          }
        } finally {
          await h.A.close();
          await h.B.close();
        }
      }),
      { numRuns: 40, seed: 20260501 },
    );
  }, 120_000);
});
