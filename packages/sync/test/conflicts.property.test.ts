/**
 * Issue 13's model (fast-check): 2-5 real stores (LevelDB temp dirs) whose engines meet pairwise
 * over the simulated network (an ordered link, as a socket is), with partitions between
 * meetings, offline edits of three text fields, log imports, the same JSON export imported on
 * several nodes, and resolutions. After every meeting, for every text field:
 *
 *   - the records the merge wrote are exactly the expected ones: a conflict with the two sides'
 *     texts and the common text when the merge is not what one side alone would have produced
 *     (the common text computed independently: the updates both sides had, built into a fresh
 *     doc, minus what both deleted);
 *   - every pair of concurrent apart edits to the field (each side has text edits the other
 *     lacks) leaves a conflict, or identical texts, or a side whose edits came back to the
 *     common text, or two resolutions of one conflict (the decided last-writer-wins case);
 *
 * and at the end (everyone met everyone): every node holds the same views and the same
 * records; every resolution is closed everywhere; the imported profile holds its content once.
 * NUM_RUNS / SEED reproduce or extend (200 runs here; docs/profile-model.md gives the long run).
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStore, type ChangeEvent, type ConflictInfo, type WriteContext } from '@profilesync/core';
import { tempDir, type Store } from './helpers.js';
import { prng, SimNet, SimNode } from './sim.js';

const NUM_RUNS = Number(process.env.NUM_RUNS ?? 200);
const SEED = process.env.SEED === undefined ? 20261213 : Number(process.env.SEED);
const MAX_NODES = 5;
const FIELDS = ['systemMessage', 'templates.t', 'messages.m1.content'] as const;
type Field = (typeof FIELDS)[number];
const SEED_TEXT: Record<Field, string> = { systemMessage: 'you write clean code', 'templates.t': 'hello there friend', 'messages.m1.content': 'summarise the text' };

let dirs: string[] = [];
let nodes: SimNode[] = [];
/** every update each store made durable (its own writes and what it merged), in order */
const originals = new Map<Store, ChangeEvent[]>();

beforeAll(async () => {
  for (let i = 0; i < MAX_NODES; i++) {
    const dir = await tempDir(`conflicts-sim-${i}-`);
    dirs.push(dir);
    const store = await openStore({ dir, versions: { idleMs: 3_600_000 } });
    const list: ChangeEvent[] = [];
    originals.set(store, list);
    store.subscribe((e) => list.push(e));
    nodes.push(new SimNode(`n${i}`, store));
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
  | { k: 'ins'; node: number; field: number; pos: number }
  | { k: 'del'; node: number; field: number; pos: number; len: number }
  | { k: 'meet'; a: number; b: number }
  | { k: 'logImport'; from: number; to: number }
  | { k: 'jsonImport'; node: number }
  | { k: 'resolve'; node: number; pick: number; keep: number };

const node = fc.nat(MAX_NODES - 1);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('ins' as const), node, field: fc.nat(2), pos: fc.nat(40) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('del' as const), node, field: fc.nat(2), pos: fc.nat(40), len: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('meet' as const), a: node, b: node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('logImport' as const), from: node, to: node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('jsonImport' as const), node }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('resolve' as const), node, pick: fc.nat(5), keep: fc.nat(3) }) },
);

/** Knowledge: which edits (text-changing writes, by id) a node holds, per profile. */
interface Edit {
  field: Field;
  /** a resolution: its conflict and the value it left */
  resolves?: { cid: string; value: string };
}

async function textOf(store: Store, id: string, f: Field): Promise<string | null> {
  const v = await store.get(id);
  if (f === 'systemMessage') return v.systemMessage;
  if (f === 'templates.t') return v.templates['t'] ?? null;
  return v.messages.find((m) => m.id === 'm1')?.content ?? null;
}

function patchFor(f: Field, text: string): Record<string, unknown> {
  if (f === 'systemMessage') return { systemMessage: text };
  if (f === 'templates.t') return { templates: { t: text } };
  return { messages: [{ id: 'm1', role: 'user', content: text }] };
}

/** Positions of deletable characters: the seed's letters and spaces, outside inserted [tokens]. */
function seedChars(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '[') depth++;
    else if (ch === ']') depth--;
    else if (depth === 0 && /[a-z ]/.test(ch)) out.push(i);
  }
  return out;
}

async function docOf(store: Store, id: string): Promise<Y.Doc> {
  const doc = new Y.Doc({ gc: false });
  Y.applyUpdate(doc, await store.encodeStateAsUpdate(id));
  return doc;
}

function yTextOf(doc: Y.Doc, f: Field): Y.Text | undefined {
  const root = doc.getMap<unknown>('profile');
  if (f === 'systemMessage') return root.get('systemMessage') as Y.Text | undefined;
  if (f === 'templates.t') return (root.get('templates') as Y.Map<Y.Text> | undefined)?.get('t');
  const m = (root.get('messages') as Y.Map<Y.Map<unknown>> | undefined)?.get('m1');
  return m?.get('content') as Y.Text | undefined;
}

/**
 * The common text of field f of two states, computed without the code under test: the original
 * updates both hold, applied to a fresh doc, minus characters both states deleted.
 */
function commonText(updates: Uint8Array[], f: Field, dsA: Y.Snapshot['ds'], dsB: Y.Snapshot['ds']): string | null {
  const base = new Y.Doc({ gc: false });
  for (const u of updates) Y.applyUpdate(base, u);
  const t = yTextOf(base, f);
  if (t === undefined) return null;
  let out = '';
  for (let n = t._start; n !== null; n = n.right as Y.Item | null) {
    if (!(n.content instanceof Y.ContentString)) continue;
    for (let i = 0; i < n.length; i++) {
      const id = Y.createID(n.id.client, n.id.clock + i);
      if (n.deleted || (Y.isDeleted(dsA, id) && Y.isDeleted(dsB, id))) continue;
      out += n.content.str[i];
    }
  }
  return out;
}

const expectedConflict = (b: string | null, l: string | null, r: string | null, m: string | null): boolean =>
  !((l === b && m === r) || (r === b && m === l) || (l === r && m === l));

let runNo = 0;

it(`apart edits of one text field always leave a conflict record; identical imports never double; resolutions converge (${NUM_RUNS} runs, seed ${SEED})`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 2, max: MAX_NODES }), fc.integer(), fc.array(action, { minLength: 5, maxLength: 30 }), async (count, netSeed, actions) => {
      const run = runNo++;
      const members = nodes.slice(0, count);
      const net = new SimNet(members, { duplicate: 0, dropResend: 0, window: 1, queueBytes: 1 << 20 }, prng(netSeed));
      const id = `c${run}`;
      const imported = `i${run}`;
      const ctx = (i: number): WriteContext => ({ actor: `user${i}`, origin: `local:n${i}` });
      const edits: Edit[] = [];
      /** edit ids each node holds */
      const knows = members.map(() => new Set<number>());
      /** updates (by identity) whose structs each node holds: its own entries, and what it met */
      const holds = members.map(() => new Set<Uint8Array>());
      const resolvedCids = new Set<string>();
      let tokens = 0;

      const own = (i: number, before: number): void => {
        const list = originals.get(members[i]!.store)!;
        for (const e of list.slice(before)) if (e.id === id) holds[i]!.add(e.update);
      };
      const write = async <T>(i: number, fn: () => Promise<T>): Promise<T> => {
        const before = originals.get(members[i]!.store)!.length;
        const r = await fn();
        own(i, before);
        return r;
      };

      /** A one-way or two-way merge with the oracle checks on the nodes that merged. */
      const merge = async (a: number, b: number, how: 'meet' | 'log'): Promise<void> => {
        const sa = members[a]!.store;
        const sb = members[b]!.store;
        if (!sa.versionHashes().has(id)) return;
        const had = sb.versionHashes().has(id);
        const pre = { a: {} as Record<Field, string | null>, b: {} as Record<Field, string | null> };
        const before = new Set([...(had ? await sb.conflicts(id) : []), ...(await sa.conflicts(id))].map((c) => c.id));
        const [da, db] = [await docOf(sa, id), had ? await docOf(sb, id) : new Y.Doc({ gc: false })];
        const [snapA, snapB] = [Y.snapshot(da), Y.snapshot(db)];
        const common = [...holds[a]!].filter((u) => holds[b]!.has(u));
        for (const f of FIELDS) {
          pre.a[f] = await textOf(sa, id, f);
          pre.b[f] = had ? await textOf(sb, id, f) : null;
        }
        const onlyA = [...knows[a]!].filter((e) => !knows[b]!.has(e));
        const onlyB = [...knows[b]!].filter((e) => !knows[a]!.has(e));
        const marks = [originals.get(sa)!.length, originals.get(sb)!.length];
        if (how === 'meet') {
          const link = net.links.find((l) => (l.a === members[a] && l.b === members[b]) || (l.a === members[b] && l.b === members[a]))!;
          link.connect();
          let done = false;
          void Promise.all(link.endpoints!.map((e) => e.engine.requestSync().promise)).then(() => (done = true));
          // the stores are shared by every run: a meeting also brings earlier runs' profiles one side lacks
          const pumped = await net.pump(() => done, 5_000_000);
          if (!pumped && process.env.CONFLICTS_DEBUG) for (const e of link.endpoints!) console.log(a, b, JSON.stringify(e.engine.debugState()), net.queue.length, [...(await Promise.all([sa, sb].map(async (st) => [...st.versionHashes()].join(','))))]);
          expect(pumped).toBe(true);
          expect(await net.settle()).toBe(true);
          link.partition();
          expect(net.failures).toEqual([]);
          own(a, marks[0]!);
          own(b, marks[1]!);
          // the meeting converged: both hold the same state (every profile)
          for (const pid of [id, imported]) {
            if (!sa.versionHashes().has(pid) && !sb.versionHashes().has(pid)) continue;
            expect(Buffer.from(await sb.stateVector(pid)).toString('hex'), `state of ${pid} after a meeting`).toBe(Buffer.from(await sa.stateVector(pid)).toString('hex'));
          }
          for (const e of knows[a]!) knows[b]!.add(e);
          for (const e of knows[b]!) knows[a]!.add(e);
          for (const u of holds[a]!) holds[b]!.add(u);
          for (const u of holds[b]!) holds[a]!.add(u);
        } else {
          await sb.importLog(await sa.exportLog(id), { actor: 'importer', origin: 'import' });
          own(b, marks[1]!);
          for (const e of knows[a]!) knows[b]!.add(e);
          for (const u of holds[a]!) holds[b]!.add(u);
        }
        if (!had) return; // the receiver had nothing to merge with
        const after = await sb.conflicts(id);
        const fresh = after.filter((c) => !before.has(c.id));
        const expected: { field: Field; base: string | null; sides: (string | null)[]; merged: string | null }[] = [];
        for (const f of FIELDS) {
          const m = await textOf(sb, id, f);
          if (how === 'meet') expect(await textOf(sa, id, f)).toBe(m);
          const base = commonText(common, f, snapA.ds, snapB.ds);
          const resA = onlyA.map((e) => edits[e]!).filter((e) => e.field === f && e.resolves);
          const resB = onlyB.map((e) => edits[e]!).filter((e) => e.field === f && e.resolves);
          const bothResolvedOne = resA.some((x) => resB.some((y) => x.resolves!.cid === y.resolves!.cid && x.resolves!.value === pre.a[f] && y.resolves!.value === pre.b[f]));
          const conflict = expectedConflict(base, pre.b[f], pre.a[f], m) && !bothResolvedOne;
          if (conflict) expected.push({ field: f, base, sides: [pre.a[f], pre.b[f]].sort(), merged: m });
          // the rule: concurrent apart edits of one text leave a conflict, identical texts,
          // a side back at the common text, or two resolutions of one conflict
          const ea = onlyA.some((e) => edits[e]!.field === f);
          const eb = onlyB.some((e) => edits[e]!.field === f);
          if (ea && eb && !conflict) {
            const recorded = after.some((c) => c.field === f && [c.ours, c.theirs].sort().join('\u0000') === [pre.a[f], pre.b[f]].sort().join('\u0000'));
            expect(recorded || pre.a[f] === pre.b[f] || pre.a[f] === base || pre.b[f] === base || bothResolvedOne, `${f}: apart edits on both sides, no conflict`).toBe(true);
          }
        }
        const got = fresh.map((c) => ({ field: c.field, base: c.base, sides: [c.ours, c.theirs].sort(), merged: c.merged }));
        const key = (x: { field: string }): string => x.field;
        // records written earlier for the same two states (same id) count as found
        for (const e of expected) {
          const known = after.some((c) => c.field === e.field && c.base === e.base && [c.ours, c.theirs].sort().join('\u0000') === e.sides.join('\u0000'));
          expect(known, `expected a conflict on ${e.field}: ${JSON.stringify(e)}; got ${JSON.stringify(got)}`).toBe(true);
        }
        for (const g of got) expect(expected.map(key), `unexpected conflict ${JSON.stringify(g)}`).toContain(g.field);
        for (const g of got) expect(g).toEqual(expected.find((e) => e.field === g.field));
      };

      try {
        // node 0 creates the profile; everyone else gets it by meeting
        await write(0, () =>
          members[0]!.store.create(
            { id, modelId: 'm', name: 'coder', systemMessage: SEED_TEXT.systemMessage, templates: { t: SEED_TEXT['templates.t'] }, messages: [{ id: 'm1', role: 'user', content: SEED_TEXT['messages.m1.content'] }] },
            ctx(0),
          ),
        );
        for (let i = 1; i < count; i++) await merge(0, i, 'meet');
        for (const a of actions) {
          if (a.k === 'meet') {
            const [x, y] = [a.a % count, a.b % count];
            if (x !== y) await merge(x, y, 'meet');
          } else if (a.k === 'logImport') {
            const [x, y] = [a.from % count, a.to % count];
            if (x !== y) await merge(x, y, 'log');
          } else if (a.k === 'jsonImport') {
            const i = a.node % count;
            const s = members[i]!.store;
            if (!s.versionHashes().has(imported)) {
              const r = await write(i, () => s.importJson([{ id: imported, modelId: 'm', name: 'imported', systemMessage: 'You are a careful assistant.', messages: [{ id: 'q1', role: 'user', content: 'Check {{x}}.' }] }], ctx(i)));
              expect(r.created).toEqual([imported]);
            }
          } else if (a.k === 'resolve') {
            const i = a.node % count;
            const s = members[i]!.store;
            const open = (await s.conflicts(id)).filter((c: ConflictInfo) => c.status === 'open');
            if (open.length === 0) continue;
            const c = open[a.pick % open.length]!;
            const f = c.field as Field;
            const keep = (['merged', 'ours', 'theirs', 'value'] as const)[a.keep]!;
            const value = keep === 'value' ? `resolved [v${tokens++}] text` : undefined;
            const v = await write(i, () => s.resolveConflict(id, c.id, keep === 'value' ? { keep, value } : { keep }, ctx(i)));
            expect(v.view.conflicts).toBe(open.length - 1);
            resolvedCids.add(c.id);
            const afterText = await textOf(s, id, f);
            edits.push({ field: f, resolves: { cid: c.id, value: afterText ?? '' } });
            knows[i]!.add(edits.length - 1);
          } else {
            const i = a.node % count;
            const s = members[i]!.store;
            const f = FIELDS[a.field]!;
            const text = await textOf(s, id, f);
            if (text === null) continue;
            let next: string;
            if (a.k === 'ins') {
              const at = Math.min(a.pos, text.length);
              // never inside a token
              const safe = seedChars(text).concat([text.length]).find((p) => p >= at) ?? text.length;
              next = `${text.slice(0, safe)}[${tokens++}]${text.slice(safe)}`;
            } else {
              const cand = seedChars(text);
              if (cand.length === 0) continue;
              const start = cand[a.pos % cand.length]!;
              let end = start;
              while (end < text.length && end - start < a.len && cand.includes(end)) end++;
              next = text.slice(0, start) + text.slice(end);
            }
            await write(i, () => s.update(id, patchFor(f, next), ctx(i)));
            expect(await textOf(s, id, f)).toBe(next);
            edits.push({ field: f });
            knows[i]!.add(edits.length - 1);
          }
        }
        // everyone meets everyone (twice: what a meeting brought travels on)
        for (let round = 0; round < 2; round++) for (let x = 0; x < count; x++) for (let y = x + 1; y < count; y++) await merge(x, y, 'meet');
        const views = await Promise.all(members.map(async (m) => {
          const { updatedAt: _a, updatedBy: _b, ...rest } = await m.store.get(id);
          return rest;
        }));
        for (const v of views.slice(1)) expect(v).toEqual(views[0]);
        const lists = await Promise.all(members.map((m) => m.store.conflicts(id)));
        for (const l of lists.slice(1)) expect(l.map((c) => [c.id, c.status, c.resolution?.keep])).toEqual(lists[0]!.map((c) => [c.id, c.status, c.resolution?.keep]));
        for (const cid of resolvedCids) expect(lists[0]!.find((c) => c.id === cid)?.status).toBe('resolved');
        expect(views[0]!.conflicts).toBe(lists[0]!.filter((c) => c.status === 'open').length);
        // the JSON import: once, wherever it went
        for (const m of members) {
          if (!m.store.versionHashes().has(imported)) continue;
          const v = await m.store.get(imported);
          expect(v.systemMessage).toBe('You are a careful assistant.');
          expect(v.messages).toEqual([{ id: 'q1', role: 'user', content: 'Check {{x}}.' }]);
          expect(v.conflicts).toBe(0);
        }
      } finally {
        for (const l of net.links) l.partition();
      }
    }),
    { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true, ...(process.env.FC_PATH !== undefined ? { path: process.env.FC_PATH } : {}) },
  );
}, Math.max(600_000, NUM_RUNS * 3_000));
