/**
 * Live remote updates (issue 17.1): updates of one profile go through its pipeline (group
 * commits; text edits checked in place by live-text.ts) and must be accepted or refused exactly
 * as the one-at-a-time path with full validation does, leaving the same state and view.
 *
 * Oracle: a second real store receives the same updates with a merge context (which always
 * takes the one-at-a-time path: whole content read and validated). Random text edits of the
 * four text kinds (systemMessage, description, a template, a message's content) include
 * emoji (surrogate pairs), lone surrogates, NUL, edits that split a pair, inserts and deletes
 * in one transaction, and fills to just below/at/above a field's limit. Updates are sent in
 * bursts without waiting, so several of them share one group commit.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { FIELD_LIMITS } from '@profilesync/model';
import type { ProfileStoreImpl } from '../src/store-api.js';
import type { ProfileView, WriteContext } from '../src/types.js';
import { ctx, harness, sample, totalEntries, type Harness } from './helpers.js';

const live: WriteContext = { actor: 'erin', origin: 'yjs:tok-ed' };
const PIECES = ['a', 'bc', ' ', 'é', '😀', '\ud83d', '\ude00', '\u0000', '\n', '{{x}}'];

type Field = 'systemMessage' | 'description' | 'template' | 'message';
type Op =
  | { kind: 'insert'; field: Field; at: number; text: string }
  | { kind: 'delete'; field: Field; at: number; len: number }
  | { kind: 'replace'; field: Field; at: number; len: number; text: string }
  | { kind: 'fill'; delta: number };

const fieldArb = fc.constantFrom<Field>('systemMessage', 'description', 'template', 'message');
const textArb = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('insert' as const), field: fieldArb, at: fc.double({ min: 0, max: 1, noNaN: true }), text: textArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), field: fieldArb, at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replace' as const), field: fieldArb, at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 2 }), text: textArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fill' as const), delta: fc.integer({ min: -1, max: 1 }) }) },
);

function textOf(doc: Y.Doc, field: Field): Y.Text {
  const root = doc.getMap('profile');
  if (field === 'template') return (root.get('templates') as Y.Map<Y.Text>).get('greet') as Y.Text;
  if (field === 'message') {
    const messages = root.get('messages') as Y.Map<Y.Map<unknown>>;
    const [first] = [...messages.values()];
    return first!.get('content') as Y.Text;
  }
  return root.get(field) as Y.Text;
}

/** Performs an op on the client doc; returns the update it made (null when it changed nothing). */
function perform(doc: Y.Doc, op: Op): Uint8Array | null {
  const updates: Uint8Array[] = [];
  const on = (u: Uint8Array): void => void updates.push(u);
  doc.on('update', on);
  try {
    doc.transact(() => {
      if (op.kind === 'fill') {
        const t = textOf(doc, 'description');
        const n = FIELD_LIMITS.descriptionChars - t.length + op.delta;
        if (n > 0) t.insert(t.length, 'x'.repeat(n));
        return;
      }
      const t = textOf(doc, op.field);
      const at = Math.floor(op.at * t.length);
      if (op.kind === 'insert') t.insert(at, op.text);
      else {
        const len = Math.min(op.len, t.length - at);
        if (len > 0) t.delete(at, len);
        if (op.kind === 'replace') t.insert(at, op.text);
      }
    });
  } finally {
    doc.off('update', on);
  }
  return updates.length === 0 ? null : Y.mergeUpdates(updates);
}

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** A rough look at the client's texts (only to end a burst; the verdict is the oracle's). */
function looksInvalid(doc: Y.Doc): boolean {
  for (const f of ['systemMessage', 'description', 'template', 'message'] as const) {
    const t = textOf(doc, f).toString();
    if (t.includes('\u0000') || LONE.test(t)) return true;
  }
  return textOf(doc, 'description').length > FIELD_LIMITS.descriptionChars;
}

const comparable = (v: ProfileView): Record<string, unknown> => {
  const { updatedAt: _t, ...rest } = v as unknown as Record<string, unknown>;
  return rest;
};

let ha: Harness;
let hb: Harness;
beforeAll(async () => {
  ha = await harness();
  hb = await harness();
});
afterAll(async () => {
  await ha.close();
  await hb.close();
});

async function outcome(p: Promise<{ applied: boolean }>): Promise<string> {
  try {
    return (await p).applied ? 'applied' : 'unchanged';
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  }
}

describe('live remote updates: pipeline vs one at a time', () => {
  let n = 0;
  it('accepts and refuses exactly what full validation does, and leaves the same state and view (bursts share group commits)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }), async (bursts) => {
        const id = `p${n++}`;
        const a: ProfileStoreImpl = ha.store;
        const b: ProfileStoreImpl = hb.store;
        await a.create({ id, ...sample({ messages: [{ role: 'user', content: 'Hi there 😀' }] }) }, ctx);
        await b.applyRemoteUpdate(id, await a.encodeStateAsUpdate(id), { actor: ctx.actor, origin: 'peer:a' });
        let client = new Y.Doc();
        Y.applyUpdate(client, await a.encodeStateAsUpdate(id));
        for (const ops of bursts) {
          // each op's own update (what a live client sends), and the client's whole state after it
          const sent: { update: Uint8Array; full: Uint8Array; sv: Uint8Array }[] = [];
          for (const op of ops) {
            const update = perform(client, op);
            if (update !== null) sent.push({ update, full: Y.encodeStateAsUpdate(client), sv: Y.encodeStateVector(client) });
            // the client's later updates would build on what the node refuses: the burst ends here
            if (looksInvalid(client)) break;
          }
          if (sent.length === 0) continue;
          const entriesBefore = totalEntries(a.log);
          // the pipeline: the whole burst at once (what arrives while a commit is in flight joins the next)
          const got = await Promise.all(sent.map((s) => outcome(a.applyRemoteUpdate(id, s.update, live))));
          // the oracle: one at a time, full validation: a merge (always that path) of the client's
          // whole state after the op (the full delete set, as a sync step 2 carries it)
          const want: string[] = [];
          for (const s of sent) {
            const diff = Y.diffUpdate(s.full, await b.stateVector(id));
            want.push(await outcome(b.applyRemoteUpdate(id, diff, { ...live, merge: { remoteStateVector: s.sv } })));
          }
          expect(got).toEqual(want);
          const firstRefused = got.findIndex((g) => g !== 'applied' && g !== 'unchanged');
          // the same canonical JSON (key order included: views are canonical)
          expect(JSON.stringify(comparable(await a.get(id)))).toBe(JSON.stringify(comparable(await b.get(id))));
          // one entry per applied update (plus version closes), never one for a refused or empty one
          expect(totalEntries(a.log) - entriesBefore).toBeGreaterThanOrEqual(got.filter((g) => g === 'applied').length);
          // after a refusal the client starts again from the node's state (its doc holds what was refused)
          if (firstRefused !== -1) {
            client = new Y.Doc();
            Y.applyUpdate(client, await a.encodeStateAsUpdate(id));
          }
        }
        // what is stored reads back the same after a reload from disk
        a.clearCache('profiles');
        a.clearCache('docs');
        b.clearCache('profiles');
        b.clearCache('docs');
        expect(comparable(await a.get(id))).toEqual(comparable(await b.get(id)));
        expect(a.log.isDamaged(id)).toBe(false);
      }),
      { numRuns: 40, seed: 20261203 },
    );
  }, 240_000);
});
