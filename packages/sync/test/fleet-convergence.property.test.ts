/**
 * Fleet convergence (DESIGN invariant 6, over a bus): 3-4 real stores share changes through a
 * fault-injecting MemoryBus while random edits happen on every node. The bus drops (publishes
 * that fail before or after appending, entries trimmed before a node read them, a server that
 * loses everything), duplicates, reorders (shards interleave differently for every reader),
 * delays (partial reads) and corrupts entries; nodes lose the bus alone (partitions), the bus
 * goes away for a while, fleets restart on their stores. Then the faults stop and the fleet
 * runs on its own — no blanket final sync: only what the fleet does by itself (reading,
 * republishing, repairs it decides to run over /sync) — until every node holds identical
 * profiles and identical Yjs state. FLEET_RUNS / SEED reproduce or extend.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { afterAll, expect, it } from 'vitest';
import type { WriteContext } from '@profilesync/core';
import { portable, type Store } from './helpers.js';
import { prng } from './sim.js';
import { SimFleet, type SimFleetNode } from './fleet-sim.js';

const NUM_RUNS = Number(process.env.FLEET_RUNS ?? 25);
const SEED = process.env.SEED === undefined ? 20261205 : Number(process.env.SEED);
const IDS = 4;
const SHARDS = 3;

type Action =
  | { k: 'create'; node: number; id: number }
  | { k: 'text'; node: number; id: number; pos: number; text: string }
  | { k: 'param'; node: number; id: number; value: number }
  | { k: 'template'; node: number; id: number; name: string; text: string | null }
  | { k: 'delete'; node: number; id: number }
  | { k: 'bus-stop' }
  | { k: 'bus-start'; empty: boolean }
  | { k: 'partition'; node: number }
  | { k: 'heal'; node: number }
  | { k: 'trim'; shard: number; keep: number }
  | { k: 'restart'; node: number }
  | { k: 'wait'; ms: number };

const node = fc.nat(3);
const id = fc.nat(IDS - 1);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('create' as const), node, id }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('text' as const), node, id, pos: fc.nat(60), text: fc.string({ minLength: 1, maxLength: 6 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('param' as const), node, id, value: fc.integer({ min: 0, max: 20 }).map((x) => x / 10) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('template' as const), node, id, name: fc.constantFrom('a', 'b'), text: fc.option(fc.string({ maxLength: 5 }), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('delete' as const), node, id }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('bus-stop' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('bus-start' as const), empty: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('partition' as const), node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('heal' as const), node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('trim' as const), shard: fc.nat(SHARDS - 1), keep: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('restart' as const), node }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
);
const creates: fc.Arbitrary<Action> = fc.record({ k: fc.constant('create' as const), node, id });

const faults = fc.record({
  failPublish: fc.constantFrom(0, 0.05, 0.2),
  failAfterPublish: fc.constantFrom(0, 0.05, 0.2),
  duplicate: fc.constantFrom(0, 0.1, 0.3),
  delay: fc.constantFrom(0, 0.3, 0.7),
  reorder: fc.boolean(),
  corrupt: fc.constantFrom(0, 0, 0.05),
});

async function edit(store: Store, a: Action, pid: string, who: WriteContext): Promise<void> {
  const ok = ['PROFILE_EXISTS', 'PROFILE_DELETED', 'PROFILE_NOT_FOUND'];
  try {
    switch (a.k) {
      case 'create':
        await store.create({ id: pid, modelId: 'm', name: `n-${pid}`, systemMessage: 'Be brief.' }, who);
        break;
      case 'text': {
        const v = await store.get(pid);
        const at = Math.min(a.pos, v.systemMessage.length);
        await store.update(pid, { systemMessage: v.systemMessage.slice(0, at) + a.text + v.systemMessage.slice(at) }, who);
        break;
      }
      case 'param':
        await store.update(pid, { parameters: { temperature: a.value } }, who);
        break;
      case 'template':
        await store.update(pid, { templates: { [a.name]: a.text } }, who);
        break;
      case 'delete':
        await store.delete(pid, who);
        break;
      default:
        break;
    }
  } catch (err) {
    if (!ok.includes((err as { code?: string }).code ?? '')) throw err;
  }
}

async function fingerprint(store: Store, ids: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const pid of ids) {
    const hash = store.versionHashes().get(pid);
    if (hash === undefined) {
      out[pid] = 'absent';
      continue;
    }
    const sv = Buffer.from(await store.stateVector(pid)).toString('hex');
    const doc = new Y.Doc({ gc: false });
    Y.applyUpdate(doc, await store.encodeStateAsUpdate(pid));
    const content = JSON.stringify(doc.getMap('profile').toJSON());
    doc.destroy();
    let view: string;
    try {
      view = portable(await store.get(pid));
    } catch (err) {
      view = (err as { code?: string }).code ?? 'error';
    }
    out[pid] = `${hash}|${sv}|${content}|${view}`;
  }
  return out;
}

const quiet = (n: SimFleetNode): boolean => {
  const s = n.fleet.status();
  return s.bus.connected && !s.bus.repairPending && s.bus.unpublished === 0 && s.bus.lagMillis === 0;
};

let fleets: SimFleet[] = [];
afterAll(async () => {
  for (const f of fleets) await f.close();
});

let runNo = 0;

it(`a fleet converges over a faulty bus (${NUM_RUNS} runs, seed ${SEED})`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 3, max: 4 }), faults, fc.integer(), fc.array(creates, { minLength: 1, maxLength: 3 }), fc.array(action, { minLength: 6, maxLength: 30 }), async (count, f, netSeed, first, rest) => {
      const run = runNo++;
      const fleet = new SimFleet(SHARDS, prng(netSeed), { heartbeatMs: 40, memberTtlMs: 5_000, blockMs: 20, flushMs: 10, fallbackDelayMs: 30, repairTimeoutMs: 10_000, antiEntropyMs: 0, seeds: 2 }, 40);
      fleets.push(fleet);
      const ids = Array.from({ length: IDS }, (_, i) => `f${run}-p${i}`);
      try {
        for (let i = 0; i < count; i++) await fleet.addNode(`n${i}`);
        await Promise.all(fleet.nodes.map((n) => n.fleet.whenReady()));
        fleet.server.faults = { ...f };
        for (const a of [...first, ...rest]) {
          const n = fleet.nodes[('node' in a ? a.node : 0) % count]!;
          switch (a.k) {
            case 'bus-stop':
              fleet.server.stop();
              break;
            case 'bus-start':
              fleet.server.start({ empty: a.empty });
              break;
            case 'partition':
              n.bus.partition();
              break;
            case 'heal':
              n.bus.heal();
              break;
            case 'trim':
              fleet.server.trim(a.shard, a.keep);
              break;
            case 'restart':
              await n.stopFleet();
              await n.startFleet();
              break;
            case 'wait':
              await new Promise((r) => setTimeout(r, a.ms));
              break;
            default:
              await edit(n.store, a, ids[a.id]!, { actor: n.name, origin: 'local' });
          }
          await new Promise((r) => setImmediate(r));
        }
        // the faults stop; the fleet is left to itself
        fleet.server.faults = { failPublish: 0, failAfterPublish: 0, duplicate: 0, delay: 0, reorder: false, corrupt: 0 };
        fleet.server.start();
        for (const n of fleet.nodes) n.bus.heal();
        let prints: Record<string, string>[] = [];
        const deadline = Date.now() + 30_000;
        for (;;) {
          if (fleet.nodes.every(quiet)) {
            prints = await Promise.all(fleet.nodes.map((n) => fingerprint(n.store, ids)));
            if (prints.every((p) => JSON.stringify(p) === JSON.stringify(prints[0]))) break;
          }
          if (Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        if (process.env.SIM_DEBUG) console.log(`run ${run}: nodes ${count} actions ${first.length + rest.length} repairs ${fleet.nodes.map((n) => n.repairs).join(',')} status ${JSON.stringify(fleet.nodes.map((n) => n.fleet.status().bus))}`);
        expect(fleet.failures).toEqual([]);
        expect(fleet.nodes.map((n) => n.fleet.status().bus.repairPending)).toEqual(fleet.nodes.map(() => false));
        for (const p of prints.slice(1)) expect(p).toEqual(prints[0]);
        expect(prints).toHaveLength(count);
      } finally {
        await fleet.close();
        fleets = fleets.filter((x) => x !== fleet);
      }
    }),
    { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true },
  );
}, Math.max(600_000, NUM_RUNS * 40_000));
