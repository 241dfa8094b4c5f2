/**
 * Simulated-network property (DESIGN invariant 6): 3-5 real stores exchange protocol messages
 * through links that delay, reorder, duplicate, drop-then-resend and partition while random
 * edits happen on every node (text edits, parameter sets, creates, deletes, labels, and the
 * schema-2 structures: chat messages inserted, moved, deleted and edited per character, tools
 * and parameters.extra keys set and removed). After healing and a final sync every node holds
 * identical views and identical state vectors, and every merged message list is well formed
 * (unique ids, every surviving message whole).
 * NUM_RUNS / SEED reproduce or extend (scripts/sync-sim-long.sh runs 10,000).
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStore, type WriteContext } from '@profilesync/core';
import { rm } from 'node:fs/promises';
import { portable, tempDir, type Store } from './helpers.js';
import { prng, SimNet, SimNode } from './sim.js';

const NUM_RUNS = Number(process.env.NUM_RUNS ?? 200);
const SEED = process.env.SEED === undefined ? 20261121 : Number(process.env.SEED);
const MAX_NODES = 5;
const IDS = 4;

let dirs: string[] = [];
let nodes: SimNode[] = [];

beforeAll(async () => {
  for (let i = 0; i < MAX_NODES; i++) {
    const dir = await tempDir(`sync-sim-${i}-`);
    dirs.push(dir);
    nodes.push(new SimNode(`n${i}`, await openStore({ dir })));
  }
});

afterAll(async () => {
  for (const n of nodes) {
    n.hub.close();
    await n.store.close();
  }
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  nodes = [];
  dirs = [];
});

type Action =
  | { k: 'create'; node: number; id: number }
  | { k: 'text'; node: number; id: number; pos: number; text: string }
  | { k: 'param'; node: number; id: number; value: number }
  | { k: 'template'; node: number; id: number; name: string; text: string | null }
  | { k: 'delete'; node: number; id: number }
  | { k: 'label'; node: number; id: number; label: string }
  | { k: 'msg-insert'; node: number; id: number; at: number; role: 'user' | 'assistant'; text: string }
  | { k: 'msg-move'; node: number; id: number; from: number; to: number }
  | { k: 'msg-delete'; node: number; id: number; at: number }
  | { k: 'msg-edit'; node: number; id: number; at: number; pos: number; text: string }
  | { k: 'tool'; node: number; id: number; name: string; description: string | null }
  | { k: 'extra'; node: number; id: number; key: string; value: number | null }
  | { k: 'partition'; link: number }
  | { k: 'heal'; link: number }
  | { k: 'deliver'; n: number };

const node = fc.nat(MAX_NODES - 1);
const id = fc.nat(IDS - 1);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('create' as const), node, id }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('text' as const), node, id, pos: fc.nat(60), text: fc.string({ minLength: 1, maxLength: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('param' as const), node, id, value: fc.integer({ min: 0, max: 20 }).map((x) => x / 10) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('template' as const), node, id, name: fc.constantFrom('a', 'b'), text: fc.option(fc.string({ maxLength: 5 }), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('delete' as const), node, id }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('label' as const), node, id, label: fc.constantFrom('prod', 'beta') }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('msg-insert' as const), node, id, at: fc.nat(4), role: fc.constantFrom('user' as const, 'assistant' as const), text: fc.string({ minLength: 1, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('msg-move' as const), node, id, from: fc.nat(4), to: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('msg-delete' as const), node, id, at: fc.nat(4) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('msg-edit' as const), node, id, at: fc.nat(4), pos: fc.nat(20), text: fc.string({ minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('tool' as const), node, id, name: fc.constantFrom('search', 'lookup'), description: fc.option(fc.constantFrom('find', 'look up', 'fetch'), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('extra' as const), node, id, key: fc.constantFrom('x_a', 'x_b'), value: fc.option(fc.integer({ min: 0, max: 9 }), { nil: null }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('partition' as const), link: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('heal' as const), link: fc.nat(9) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('deliver' as const), n: fc.integer({ min: 1, max: 30 }) }) },
);

const creates: fc.Arbitrary<Action> = fc.record({ k: fc.constant('create' as const), node, id });

const chaos = fc.record({
  duplicate: fc.constantFrom(0, 0.05, 0.2),
  dropResend: fc.constantFrom(0, 0.05, 0.2),
  window: fc.constantFrom(1, 3, 16),
  queueBytes: fc.constantFrom(256, 64 * 1024),
});

/** Edits refused for honest reasons (exists, deleted) are part of the game; anything else fails the run. */
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
      case 'label': {
        const v = await store.get(pid);
        await store.setLabel(pid, a.label, v.version, who);
        break;
      }
      case 'msg-insert': {
        const messages = (await store.get(pid)).messages.slice();
        messages.splice(Math.min(a.at, messages.length), 0, { role: a.role, content: a.text } as never);
        await store.update(pid, { messages }, who);
        break;
      }
      case 'msg-move': {
        const messages = (await store.get(pid)).messages.slice();
        if (messages.length < 2) break;
        const [m] = messages.splice(a.from % messages.length, 1);
        messages.splice(a.to % (messages.length + 1), 0, m!);
        await store.update(pid, { messages }, who);
        break;
      }
      case 'msg-delete': {
        const messages = (await store.get(pid)).messages.slice();
        if (messages.length === 0) break;
        messages.splice(a.at % messages.length, 1);
        await store.update(pid, { messages }, who);
        break;
      }
      case 'msg-edit': {
        const messages = (await store.get(pid)).messages.map((m) => ({ ...m }));
        if (messages.length === 0) break;
        const m = messages[a.at % messages.length]!;
        const at = Math.min(a.pos, m.content.length);
        m.content = m.content.slice(0, at) + a.text + m.content.slice(at);
        await store.update(pid, { messages }, who);
        break;
      }
      case 'tool': {
        const tools = ((await store.get(pid)).parameters['tools'] as { function: { name: string } }[] | undefined) ?? [];
        const others = tools.filter((t) => t.function.name !== a.name);
        const next = a.description === null ? others : [...others, { type: 'function', function: { name: a.name, description: a.description, parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
        await store.update(pid, { parameters: { tools: next.length === 0 ? null : next } } as never, who);
        break;
      }
      case 'extra':
        await store.update(pid, { parameters: { extra: { [a.key]: a.value } } } as never, who);
        break;
      default:
        break;
    }
  } catch (err) {
    if (!ok.includes((err as { code?: string }).code ?? '')) throw err;
  }
}

/** Everything that must be identical on converged nodes, per profile id. */
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

let runNo = 0;
/** how many converged profiles held messages / tools / extra keys (the run must exercise them) */
const seen = { messages: 0, moved: 0, tools: 0, extra: 0 };

it(`converges on a simulated network (${NUM_RUNS} runs, seed ${SEED})`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 3, max: MAX_NODES }), chaos, fc.integer(), fc.array(creates, { minLength: 1, maxLength: 3 }), fc.array(action, { minLength: 4, maxLength: 20 }), async (count, ch, netSeed, first, rest) => {
      const actions = [...first, ...rest];
      const run = runNo++;
      const t0 = performance.now();
      const members = nodes.slice(0, count);
      const net = new SimNet(members, ch, prng(netSeed));
      const ids = Array.from({ length: IDS }, (_, i) => `r${run}-p${i}`);
      try {
        for (const l of net.links) l.connect();
        for (const a of actions) {
          if (a.k === 'partition') net.links[a.link % net.links.length]!.partition();
          else if (a.k === 'heal') net.links[a.link % net.links.length]!.connect();
          else if (a.k === 'deliver') net.deliver(a.n);
          else {
            const n = members[a.node % count]!;
            await edit(n.store, a, ids[a.id]!, { actor: n.name, origin: 'local' });
          }
          await new Promise((r) => setImmediate(r));
        }
        const tEdits = performance.now();
        // heal, then final syncs (chaos goes on) until every pair's rounds converge and all roots are equal
        for (const l of net.links) l.connect();
        let converged = false;
        for (let attempt = 0; attempt < 20 && !converged; attempt++) {
          const reqs = net.links.flatMap((l) => l.endpoints!.map((e) => e.engine.requestSync()));
          let settled = 0;
          for (const r of reqs) void r.promise.then(() => settled++, () => settled++);
          const ok = await net.pump(() => settled === reqs.length);
          if (!ok && process.env.SIM_DEBUG) console.log('stalled', attempt, settled, reqs.length, net.queue.length, net.busy);
          if (!ok && process.env.SIM_DEBUG) for (const l of net.links) for (const e of l.endpoints ?? []) { const d = e.engine.debugState(); if ((d.waiters as number[]).length > 0 || d.active !== undefined) console.log(l.name, e.side, JSON.stringify(d)); }
          await net.settle();
          const roots = members.map((m) => Buffer.from(m.hub.digest.root().digest).toString('hex'));
          converged = net.quiet && roots.every((r) => r === roots[0]);
        }
        if (process.env.SIM_DEBUG) console.log(`run ${run}: nodes ${count} actions ${actions.length} edits ${(tEdits - t0).toFixed(0)}ms final ${(performance.now() - tEdits).toFixed(0)}ms delivered ${net.delivered}`);
        expect(net.failures).toEqual([]);
        expect(converged).toBe(true);
        const prints = await Promise.all(members.map((m) => fingerprint(m.store, ids)));
        for (const p of prints.slice(1)) expect(p).toEqual(prints[0]);
        // merged message lists are well formed: unique ids, each message a known role with its text
        for (const pid of ids) {
          let v;
          try {
            v = await members[0]!.store.get(pid);
          } catch {
            continue;
          }
          const mids = v.messages.map((m) => m.id);
          if (mids.length > 0) seen.messages++;
          if (mids.length > 1) seen.moved++;
          if (v.parameters['tools'] !== undefined) seen.tools++;
          if (v.parameters['extra'] !== undefined) seen.extra++;
          expect(new Set(mids).size).toBe(mids.length);
          for (const m of v.messages) expect(['user', 'assistant']).toContain(m.role);
          const names = ((v.parameters['tools'] as { function: { name: string } }[] | undefined) ?? []).map((t) => t.function.name);
          expect(new Set(names).size).toBe(names.length);
        }
      } finally {
        for (const l of net.links) l.partition();
      }
    }),
    { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true },
  );
  // the runs must have exercised the schema-2 structures (CI's 200 runs: 42 profiles with messages, 8 with several)
  expect(seen.messages + seen.tools + seen.extra).toBeGreaterThan(0);
  if (NUM_RUNS >= 200) for (const [what, n] of Object.entries(seen)) expect(n, `converged profiles with ${what}`).toBeGreaterThan(0);
}, Math.max(600_000, NUM_RUNS * 2_000));
