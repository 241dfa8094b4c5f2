/**
 * Three-way conflict detection on real Yjs docs (issue 13): merges of diverged states, with
 * the receiver knowing the sender's state vector (its sync step 1) and the update.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { conflictId, detectConflicts, isConflict, profileFields, stateAt } from '../src/conflict-detect.js';
import { commonSnapshot, holdsState, remoteSnapshot, textAt, valueAt } from '../src/merge-state.js';
import { newProfileDoc, ROOT, skeletonUpdate } from '../src/model.js';
import { applyTextDiff } from '../src/textdiff.js';

const EMPTY_SV = new Uint8Array([0]);

function skeleton(client: number): Y.Doc {
  const doc = newProfileDoc();
  Y.applyUpdate(doc, skeletonUpdate('p'));
  doc.clientID = client;
  return doc;
}

function root(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap(ROOT);
}

function setText(doc: Y.Doc, key: string, next: string): void {
  const t = root(doc).get(key) as Y.Text;
  doc.transact(() => applyTextDiff(t, t.toString(), next));
}

function setTemplate(doc: Y.Doc, name: string, next: string | null): void {
  const templates = root(doc).get('templates') as Y.Map<Y.Text>;
  doc.transact(() => {
    const t = templates.get(name);
    if (next === null) templates.delete(name);
    else if (t === undefined) templates.set(name, new Y.Text(next));
    else applyTextDiff(t, t.toString(), next);
  });
}

/** A peer with the same history as `from` (a fork) writing as `client`. */
function fork(from: Y.Doc, client: number): Y.Doc {
  const doc = newProfileDoc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(from));
  doc.clientID = client;
  return doc;
}

/**
 * Merges `remote` into `local` as a /sync STEP2 after a STEP1 exchange: the update is what
 * `local` lacks, the merge context the remote's state vector. Returns the detected conflicts.
 */
function merge(local: Y.Doc, remote: Y.Doc, remoteSv: Uint8Array = Y.encodeStateVector(remote)) {
  const update = Y.encodeStateAsUpdate(remote, Y.encodeStateVector(local));
  const l = Y.snapshot(local);
  Y.applyUpdate(local, update);
  const r = remoteSnapshot(local, update, remoteSv);
  return detectConflicts(local, l, r);
}

function base(text = 'You write clean code.'): Y.Doc {
  const a = skeleton(101);
  setText(a, 'systemMessage', text);
  root(a).set('name', 'coder');
  return a;
}

describe('three-way detection', () => {
  it('reports the garbled system message of two apart edits, with both sides and the merged text', () => {
    const a = base();
    const b = fork(a, 202);
    setText(a, 'systemMessage', 'You write code. Always add tests.');
    setText(b, 'systemMessage', 'You write clean, readable code.');
    const aBefore = fork(a, 103);
    const bBefore = fork(b, 203);
    const found = merge(a, b);
    expect(found).toHaveLength(1);
    const c = found[0]!;
    expect(c).toMatchObject({ field: 'systemMessage', kind: 'text', base: 'You write clean code.', ours: 'You write code. Always add tests.', theirs: 'You write clean, readable code.' });
    expect(c.merged).toBe((root(a).get('systemMessage') as Y.Text).toString());
    expect(c.merged).not.toBe(c.ours);
    expect(c.merged).not.toBe(c.theirs);
    // the other side detects the same conflict: same id, sides swapped
    const other = merge(bBefore, aBefore);
    expect(other).toHaveLength(1);
    expect(other[0]!.id).toBe(c.id);
    expect(other[0]!.ours).toBe(c.theirs);
    expect(other[0]!.merged).toBe(c.merged);
  });

  it('a fast-forward (only the other side changed) is no conflict, neither is a merge that brings nothing', () => {
    const a = base();
    const b = fork(a, 202);
    setText(b, 'systemMessage', 'You write code. Always add tests.');
    setTemplate(b, 'greet', 'Hello {{name}}');
    expect(merge(a, b)).toEqual([]);
    expect(merge(a, b)).toEqual([]);
    expect(merge(b, a)).toEqual([]);
  });

  it('apart edits of different fields merge cleanly', () => {
    const a = base();
    const b = fork(a, 202);
    setText(a, 'systemMessage', 'You write clean code. Always add tests.');
    setText(b, 'description', 'a coding assistant');
    setTemplate(b, 'greet', 'Hi');
    root(b).set('modelId', 'gpt-x');
    expect(merge(a, b)).toEqual([]);
  });

  it('the same edit on both sides is clean when the merge equals it, a conflict when the merge doubled it', () => {
    const a = base();
    const b = fork(a, 202);
    setText(a, 'systemMessage', 'You write code.');
    setText(b, 'systemMessage', 'You write code.');
    expect(merge(a, b)).toEqual([]); // both deleted the same characters
    const c = base();
    const d = fork(c, 202);
    setText(c, 'systemMessage', 'You write clean code. Be brief.');
    setText(d, 'systemMessage', 'You write clean code. Be brief.');
    const found = merge(c, d);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ field: 'systemMessage', ours: 'You write clean code. Be brief.', theirs: 'You write clean code. Be brief.' });
    expect(found[0]!.merged).toMatch(/Be brief\..*Be brief\./);
  });

  it('a template deleted on one side and edited on the other is reported (the edit is not silently gone)', () => {
    const a = base();
    setTemplate(a, 'greet', 'Hello');
    const b = fork(a, 202);
    setTemplate(a, 'greet', null);
    setTemplate(b, 'greet', 'Hello there');
    const found = merge(a, b);
    expect(found).toEqual([expect.objectContaining({ field: 'templates.greet', kind: 'text', base: 'Hello', ours: null, theirs: 'Hello there', merged: null })]);
  });

  it('a template created on both sides with different texts keeps one (last writer) and is reported', () => {
    const a = base();
    const b = fork(a, 202);
    setTemplate(a, 'greet', 'Hello');
    setTemplate(b, 'greet', 'Howdy');
    const found = merge(a, b);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ field: 'templates.greet', base: null });
    expect([found[0]!.ours, found[0]!.theirs]).toContain(found[0]!.merged);
  });

  it('atomic values set apart are reported (last writer wins, the other value is in the record); equal values are not', () => {
    const a = base();
    const b = fork(a, 202);
    (root(a).get('parameters') as Y.Map<unknown>).set('temperature', 0.2);
    (root(b).get('parameters') as Y.Map<unknown>).set('temperature', 0.9);
    (root(a).get('meta') as Y.Map<unknown>).set('owner', 'ann');
    (root(b).get('meta') as Y.Map<unknown>).set('owner', 'ann');
    const found = merge(a, b);
    expect(found).toEqual([expect.objectContaining({ field: 'parameters.temperature', kind: 'scalar', base: null, ours: 0.2, theirs: 0.9 })]);
    // a value both sides replaced apart is reported as the common base
    const c = base();
    (root(c).get('parameters') as Y.Map<unknown>).set('temperature', 0.5);
    const d = fork(c, 202);
    (root(c).get('parameters') as Y.Map<unknown>).set('temperature', 0.2);
    (root(d).get('parameters') as Y.Map<unknown>).set('temperature', 0.9);
    expect(merge(c, d)).toEqual([expect.objectContaining({ field: 'parameters.temperature', base: 0.5 })]);
  });

  it('an edit made in a container the other side replaced is reported even when the replacing side kept the text', () => {
    const a = base();
    const b = fork(a, 202);
    // a resolution: the same text in a new container (last writer wins on the key)
    root(a).set('systemMessage', new Y.Text('You write clean code.'));
    setText(b, 'systemMessage', 'You write clean code. Always add tests.');
    const found = merge(a, b);
    expect(found).toEqual([expect.objectContaining({ field: 'systemMessage', base: 'You write clean code.', ours: 'You write clean code.', theirs: 'You write clean code. Always add tests.', merged: 'You write clean code.' })]);
  });

  it('pure deletions count (they move no state vector)', () => {
    const a = base();
    const b = fork(a, 202);
    setText(a, 'systemMessage', 'You write code.'); // a deletion only
    setText(b, 'systemMessage', 'You write very clean code.');
    expect(merge(a, b).map((c) => c.field)).toEqual(['systemMessage']);
  });

  it('a whole state with the empty state vector is read exactly (bus republish, log import, push)', () => {
    const a = base();
    const b = fork(a, 202);
    setText(a, 'systemMessage', 'You write code. Always add tests.');
    setText(b, 'systemMessage', 'You write clean, readable code.');
    const l = Y.snapshot(a);
    const whole = Y.encodeStateAsUpdate(b);
    Y.applyUpdate(a, whole);
    const found = detectConflicts(a, l, remoteSnapshot(a, whole, EMPTY_SV));
    expect(found.map((c) => c.field)).toEqual(['systemMessage']);
  });

  it('messages: concurrent content edits are reported per message, a message added on one side is not', () => {
    const a = base();
    const msgs = new Y.Map<unknown>();
    root(a).set('messages', msgs);
    const m1 = new Y.Map<unknown>();
    msgs.set('m1', m1);
    m1.set('role', 'user');
    m1.set('content', new Y.Text('Summarise the text.'));
    m1.set('pos', 'a0');
    const b = fork(a, 202);
    const edit = (d: Y.Doc, next: string): void => {
      const t = ((root(d).get('messages') as Y.Map<Y.Map<unknown>>).get('m1')!.get('content')) as Y.Text;
      d.transact(() => applyTextDiff(t, t.toString(), next));
    };
    edit(a, 'Summarise the text briefly.');
    edit(b, 'Summarise the whole text.');
    const m2 = new Y.Map<unknown>();
    (root(b).get('messages') as Y.Map<unknown>).set('m2', m2);
    m2.set('role', 'assistant');
    m2.set('content', new Y.Text('OK'));
    m2.set('pos', 'a1');
    expect(merge(a, b).map((c) => c.field)).toEqual(['messages.m1.content']);
  });

  it('two creates that share only the skeleton are one create conflict with the whole sides; identical creates are none', () => {
    const read = (doc: Y.Doc) => (at: Y.Snapshot | null) => {
      const fields = profileFields(doc);
      return Object.fromEntries(fields.map((f) => [f.path, f.read(stateAt(at))]).filter(([, v]) => v !== undefined));
    };
    const a = skeleton(101);
    const b = skeleton(202);
    setText(a, 'systemMessage', 'You are a careful assistant.');
    setText(b, 'systemMessage', 'You are a terse assistant.');
    const l = Y.snapshot(a);
    const u = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a));
    Y.applyUpdate(a, u);
    const found = detectConflicts(a, l, remoteSnapshot(a, u, Y.encodeStateVector(b)), { readWhole: read(a) });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'create', field: '', base: null });
    expect((found[0]!.ours as Record<string, unknown>)['systemMessage']).toBe('You are a careful assistant.');
    expect((found[0]!.theirs as Record<string, unknown>)['systemMessage']).toBe('You are a terse assistant.');
    // byte-identical creates (same client, same structs) share everything: nothing to report
    const c = skeleton(303);
    setText(c, 'systemMessage', 'Same.');
    const d = fork(c, 404);
    expect(merge(c, d)).toEqual([]);
  });

  it('ids depend on the field, the base and the unordered pair of sides only', () => {
    expect(conflictId('text', 'systemMessage', 'a', 'b', 'c')).toBe(conflictId('text', 'systemMessage', 'a', 'c', 'b'));
    expect(conflictId('text', 'systemMessage', 'a', 'b', 'c')).not.toBe(conflictId('text', 'description', 'a', 'b', 'c'));
    expect(conflictId('text', 'systemMessage', 'a', 'b', 'c')).not.toBe(conflictId('text', 'systemMessage', 'x', 'b', 'c'));
    expect(conflictId('scalar', 'x', undefined, 1, '1')).toBe(conflictId('scalar', 'x', undefined, '1', 1));
    expect(conflictId('scalar', 'x', undefined, 1, '1')).not.toBe(conflictId('scalar', 'x', undefined, 1, 1));
    expect(conflictId('text', 'f', 'a', 'b', 'c')).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('the verdict table', () => {
    expect(isConflict('a', 'a', 'b', 'b')).toBe(false);
    expect(isConflict('a', 'b', 'a', 'b')).toBe(false);
    expect(isConflict('a', 'b', 'b', 'b')).toBe(false);
    expect(isConflict('a', 'b', 'b', 'bb')).toBe(true);
    expect(isConflict('a', 'b', 'c', 'bc')).toBe(true);
    expect(isConflict('a', 'a', 'b', 'a')).toBe(true);
    expect(isConflict(undefined, undefined, 'x', 'x')).toBe(false);
    expect(isConflict('a', undefined, 'b', undefined)).toBe(true);
    expect(isConflict('a', 'a', 'a', 'a')).toBe(false);
  });
});

describe('states', () => {
  it('textAt reads the text of any past state without touching the doc (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(40), fc.nat(5), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 30 }),
        (edits) => {
          const doc = newProfileDoc();
          doc.clientID = 7;
          const t = doc.getText('t');
          const seen: { snap: Y.Snapshot; text: string }[] = [];
          for (const [pos, del, ins] of edits) {
            doc.transact(() => {
              const p = Math.min(pos, t.length);
              t.delete(p, Math.min(del, t.length - p));
              t.insert(Math.min(p, t.length), ins);
            });
            seen.push({ snap: Y.snapshot(doc), text: t.toString() });
          }
          const before = Y.encodeStateAsUpdate(doc);
          for (const s of seen) expect(textAt(t, s.snap)).toBe(s.text);
          expect(Y.encodeStateAsUpdate(doc)).toEqual(before);
        },
      ),
      { numRuns: 200, seed: 1301 },
    );
  });

  it('valueAt reads a map key at any past state, also when consecutive sets merged into one struct (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), fc.option(fc.nat(99), { nil: null })), { minLength: 1, maxLength: 30 }), (ops) => {
        const docs = [0, 1, 2].map((i) => {
          const d = newProfileDoc();
          d.clientID = 50 + i;
          return d;
        });
        const seen: { snap: Y.Snapshot; value: unknown }[] = [];
        for (const [who, v] of ops) {
          const d = docs[who]!;
          const m = d.getMap<unknown>('m');
          if (v === null) m.delete('k');
          else m.set('k', v);
          // the writer syncs everyone (sequential sets: each writer saw the previous value)
          for (const o of docs) if (o !== d) Y.applyUpdate(o, Y.encodeStateAsUpdate(d, Y.encodeStateVector(o)));
          seen.push({ snap: Y.snapshot(d), value: m.get('k') });
        }
        for (const s of seen) expect(valueAt(docs[0]!.getMap<unknown>('m'), 'k', s.snap)).toBe(s.value);
      }),
      { numRuns: 200, seed: 1303 },
    );
  });

  it('the common state is what both sides hold (property: three peers, random edits and one-way syncs)', () => {
    // Oracle: every edit is one update; a peer's knowledge is a set of them. The structs of the
    // common state are those of the updates both know (a fresh doc built from them); a character
    // is gone there when both sides deleted it (the same deletion made apart counts as shared).
    type Step = { k: 'edit'; peer: number; pos: number; del: number; ins: string } | { k: 'sync'; from: number; to: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ k: fc.constant('edit' as const), peer: fc.nat(2), pos: fc.nat(30), del: fc.nat(4), ins: fc.string({ maxLength: 4 }) }),
      fc.record({ k: fc.constant('sync' as const), from: fc.nat(2), to: fc.nat(2) }),
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), fc.nat(2), fc.nat(2), (steps, x, y) => {
        const start = skeleton(1);
        setText(start, 'systemMessage', 'seed text');
        const seedUpdate = Y.encodeStateAsUpdate(start);
        const peers = [0, 1, 2].map((i) => fork(start, 10 + i));
        const updates: Uint8Array[] = [];
        const knows = peers.map(() => new Set<number>());
        for (const s of steps) {
          if (s.k === 'edit') {
            const d = peers[s.peer]!;
            const t = root(d).get('systemMessage') as Y.Text;
            let u: Uint8Array | null = null;
            const on = (upd: Uint8Array): void => void (u = upd);
            d.on('update', on);
            d.transact(() => {
              const p = Math.min(s.pos, t.length);
              t.delete(p, Math.min(s.del, t.length - p));
              if (s.ins.length > 0) t.insert(p, s.ins);
            });
            d.off('update', on);
            if (u !== null) {
              updates.push(u);
              knows[s.peer]!.add(updates.length - 1);
            }
          } else if (s.from !== s.to) {
            Y.applyUpdate(peers[s.to]!, Y.encodeStateAsUpdate(peers[s.from]!, Y.encodeStateVector(peers[s.to]!)));
            for (const k of knows[s.from]!) knows[s.to]!.add(k);
          }
        }
        const a = peers[x]!;
        const b = peers[y]!;
        const sa = Y.snapshot(a);
        const sb = Y.snapshot(b);
        const common = newProfileDoc();
        Y.applyUpdate(common, seedUpdate);
        for (const k of knows[x]!) if (knows[y]!.has(k)) Y.applyUpdate(common, updates[k]!);
        // read the common state in a doc that holds both (a merged copy)
        const both = fork(a, 99);
        Y.applyUpdate(both, Y.encodeStateAsUpdate(b));
        const t = root(both).get('systemMessage') as Y.Text;
        let expected = '';
        for (let n = (root(common).get('systemMessage') as Y.Text)._start; n !== null; n = n.right as Y.Item | null) {
          if (!(n.content instanceof Y.ContentString)) continue;
          for (let i = 0; i < n.length; i++) {
            const id = Y.createID(n.id.client, n.id.clock + i);
            if (!(Y.isDeleted(sa.ds, id) && Y.isDeleted(sb.ds, id))) expected += n.content.str[i];
          }
        }
        expect(textAt(t, commonSnapshot(sa, sb))).toBe(expected);
        expect(holdsState(sa, commonSnapshot(sa, sb))).toBe(true);
        expect(holdsState(sb, commonSnapshot(sa, sb))).toBe(true);
        const aHasAll = [...knows[y]!].every((k) => knows[x]!.has(k));
        expect(holdsState(sa, sb)).toBe(aHasAll);
      }),
      { numRuns: 200, seed: 1302 },
    );
  });
});
