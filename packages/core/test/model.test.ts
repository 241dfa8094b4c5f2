import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { canonicalJson } from '../src/canonical.js';
import { captureProbe, detectConflicts } from '../src/conflicts.js';
import { applyContent, encodePersisted, newProfileDoc, readContent, ROOT, skeletonUpdate, type ProfileContent } from '../src/model.js';
import { applyMergePatch, contentFromInput } from '../src/patch.js';
import { validateContent } from '../src/schema.js';
import { emptyContent } from '../src/store.js';
import { applyTextDiff } from '../src/textdiff.js';
import { canSatisfy, parseRef, refFromBytes, snapshotContains, versionBytes } from '../src/version.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

function docWith(id: string, content: ProfileContent, clientID: number): Y.Doc {
  const doc = newProfileDoc();
  Y.applyUpdate(doc, skeletonUpdate(id));
  doc.clientID = clientID;
  doc.transact(() => applyContent(doc, emptyContent(id), content));
  return doc;
}

const base = (id = 'p1'): ProfileContent =>
  validateContent(
    contentFromInput(
      {
        modelId: 'gpt-x',
        name: 'Support bot',
        description: 'helps',
        systemMessage: 'You are helpful.',
        templates: { greet: 'Hello {{name}}' },
        parameters: { temperature: 0.7, stop: ['###'] },
        meta: { tags: ['support'] },
      },
      id,
    ),
  );

describe('profile doc model', () => {
  it('skeleton is byte-identical on every call and starts from client 0', () => {
    expect(Buffer.compare(skeletonUpdate('abc'), skeletonUpdate('abc'))).toBe(0);
    const d = newProfileDoc();
    Y.applyUpdate(d, skeletonUpdate('abc'));
    expect([...d.store.clients.keys()]).toEqual([0]);
    expect(readContent(d)['id']).toBe('abc');
  });

  it('applyContent writes exactly the target content and readContent reads it back', () => {
    const doc = docWith('p1', base(), 11);
    expect(validateContent(readContent(doc))).toEqual(base());
    const next = applyMergePatch(base(), { templates: { greet: null, bye: 'Bye' }, parameters: { stop: ['a', 'b'], top_p: 0.5 }, description: null });
    const before = validateContent(readContent(doc));
    doc.transact(() => applyContent(doc, before, next));
    expect(readContent(doc)).toEqual(next);
    expect(next.description).toBe('');
    expect(next.parameters).toEqual({ temperature: 0.7, stop: ['a', 'b'], top_p: 0.5 });
  });

  it('two peers creating the same id offline share containers: both text edits survive', () => {
    const a = docWith('same', base('same'), 1);
    const b = docWith('same', { ...base('same'), systemMessage: 'You are helpful!' }, 2);
    const ua = Y.encodeStateAsUpdate(a);
    const ub = Y.encodeStateAsUpdate(b);
    Y.applyUpdate(a, ub);
    Y.applyUpdate(b, ua);
    expect(canonicalJson(readContent(a))).toBe(canonicalJson(readContent(b)));
    expect((a.getMap(ROOT).get('systemMessage') as Y.Text).toString()).toContain('helpful');
  });

  it('concurrent character edits to one text both survive (minimal diffs)', () => {
    const a = docWith('t', base('t'), 1);
    const b = newProfileDoc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    b.clientID = 2;
    const textA = a.getMap(ROOT).get('systemMessage') as Y.Text;
    const textB = b.getMap(ROOT).get('systemMessage') as Y.Text;
    a.transact(() => applyTextDiff(textA, 'You are helpful.', 'You are very helpful.'));
    b.transact(() => applyTextDiff(textB, 'You are helpful.', 'You are helpful. Be brief.'));
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    expect(textA.toString()).toBe('You are very helpful. Be brief.');
    expect(textB.toString()).toBe(textA.toString());
  });

  it('text diffs keep surrogate pairs intact (UTF-16 offsets)', () => {
    const doc = newProfileDoc();
    const t = doc.getText('x');
    const steps = ['a😀b', 'a😃b', '😃😃', 'x😃y😀z', '', '👍🏽 ok'];
    let cur = '';
    for (const s of steps) {
      doc.transact(() => applyTextDiff(t, cur, s));
      expect(t.toString()).toBe(s);
      cur = s;
    }
  });

  it('persisted view bytes do not depend on map insertion order', () => {
    const c1 = base();
    const c2 = { ...base(), parameters: { stop: ['###'], temperature: 0.7 }, templates: { greet: 'Hello {{name}}' } };
    const x = { version: 'v2.x', updatedBy: 'a', schema: 2 as const, conflicts: 0 };
    expect(encodePersisted(c1, x)).toBe(encodePersisted(c2, x));
    // JSON values keep their writer's key order (a JSON Schema's property order is meaningful)
    const schema = (order: string[]) => ({ type: 'object', properties: Object.fromEntries(order.map((k) => [k, { type: 'string' }])) });
    const t = (order: string[]) => ({ ...base(), parameters: { tools: [{ type: 'function' as const, function: { name: 'f', parameters: schema(order) } }] } });
    expect(encodePersisted(t(['b', 'a']), x)).toContain('"properties":{"b":{"type":"string"},"a":');
    expect(encodePersisted(t(['b', 'a']), x)).not.toBe(encodePersisted(t(['a', 'b']), x));
  });
});

describe('merge patch and validation rules', () => {
  const cases: [string, unknown, string][] = [
    ['readonly id', { id: 'x' }, 'PROFILE_READONLY_FIELD'],
    ['readonly version', { version: 'v1.x' }, 'PROFILE_READONLY_FIELD'],
    ['readonly updatedAt', { updatedAt: 'x' }, 'PROFILE_READONLY_FIELD'],
    ['readonly updatedBy', { updatedBy: 'x' }, 'PROFILE_READONLY_FIELD'],
    ['readonly deleted', { deleted: true }, 'PROFILE_READONLY_FIELD'],
    ['labels via patch', { labels: { production: 'v1.x' } }, 'PROFILE_READONLY_FIELD'],
    ['unknown field', { colour: 'red' }, 'PROFILE_INVALID'],
    ['patch not an object', [1, 2], 'PROFILE_INVALID'],
    ['name removed', { name: null }, 'PROFILE_INVALID'],
    ['templates not an object', { templates: 'x' }, 'PROFILE_INVALID'],
  ];
  for (const [name, patch, code] of cases) {
    it(`${name} -> ${code}`, () => expect(codeOf(() => applyMergePatch(base(), patch))).toBe(code));
  }

  const content: [string, Partial<ProfileContent> | Record<string, unknown>, string][] = [
    ['temperature > 2', { parameters: { temperature: 2.5 } }, 'PROFILE_INVALID'],
    ['temperature < 0', { parameters: { temperature: -0.1 } }, 'PROFILE_INVALID'],
    ['top_p > 1', { parameters: { top_p: 1.5 } }, 'PROFILE_INVALID'],
    ['max_tokens not int', { parameters: { max_tokens: 1.5 } }, 'PROFILE_INVALID'],
    ['max_tokens 0', { parameters: { max_tokens: 0 } }, 'PROFILE_INVALID'],
    ['max_tokens over cap', { parameters: { max_tokens: 1e9 } }, 'PROFILE_INVALID'],
    ['seed not int', { parameters: { seed: 0.5 } }, 'PROFILE_INVALID'],
    ['presence_penalty 3', { parameters: { presence_penalty: 3 } }, 'PROFILE_INVALID'],
    ['frequency_penalty -3', { parameters: { frequency_penalty: -3 } }, 'PROFILE_INVALID'],
    ['stop too many', { parameters: { stop: Array.from({ length: 17 }, () => 'x') } }, 'PROFILE_TOO_LARGE'],
    ['stop not strings', { parameters: { stop: [1] } }, 'PROFILE_INVALID'],
    ['param object value', { parameters: { temperature: { a: 1 } } }, 'PROFILE_INVALID'],
    ['unknown param', { parameters: { temprature: 1 } }, 'PROFILE_INVALID'],
    ['tool schema invalid', { parameters: { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'objekt' } } }] } }, 'PROFILE_INVALID'],
    ['message role', { messages: [{ id: 'm1', role: 'robot', content: 'x' }] }, 'PROFILE_INVALID'],
    ['lone surrogate', { systemMessage: 'a\ud800b' }, 'PROFILE_INVALID'],
    ['NUL in modelId', { modelId: 'gpt\u0000' }, 'PROFILE_INVALID'],
    ['escape in name', { name: 'a\u001b[2J' }, 'PROFILE_INVALID'],
    ['label value not a ref', { labels: { prod: 'not-a-version' } }, 'PROFILE_INVALID'],
    ['param bad key', { parameters: { 'bad key': 1 } }, 'PROFILE_INVALID'],
    ['param NaN-like', { parameters: { x: Infinity } }, 'PROFILE_INVALID'],
    ['too many extra params', { parameters: { extra: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])) } }, 'PROFILE_TOO_LARGE'],
    ['template bad name', { templates: { 'no spaces': 'x' } }, 'PROFILE_INVALID'],
    ['template not text', { templates: { a: 5 } }, 'PROFILE_INVALID'],
    ['template too long', { templates: { a: 'x'.repeat(512 * 1024 + 1) } }, 'PROFILE_TOO_LARGE'],
    ['too many templates', { templates: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`t${i}`, 'x'])) }, 'PROFILE_TOO_LARGE'],
    ['systemMessage too long', { systemMessage: 'x'.repeat(512 * 1024 + 1) }, 'PROFILE_TOO_LARGE'],
    ['description too long', { description: 'x'.repeat(64 * 1024 + 1) }, 'PROFILE_TOO_LARGE'],
    ['name empty', { name: '' }, 'PROFILE_INVALID'],
    ['name not a string', { name: 5 }, 'PROFILE_INVALID'],
    ['modelId too long', { modelId: 'm'.repeat(300) }, 'PROFILE_TOO_LARGE'],
    ['meta tags not strings', { meta: { tags: [''] } }, 'PROFILE_INVALID'],
    ['meta bad key', { meta: { '1x': 1 } }, 'PROFILE_INVALID'],
    ['label reserved', { labels: { latest: 'v1.x' } }, 'PROFILE_INVALID'],
  ];
  for (const [name, change, code] of content) {
    it(`${name} -> ${code}`, () => expect(codeOf(() => validateContent({ ...base(), ...change }))).toBe(code));
  }

  it('errors carry path and rule details', () => {
    try {
      validateContent({ ...base(), parameters: { temperature: 9 } });
      expect.unreachable();
    } catch (err) {
      expect((err as { details: { path: string; rule: string } }).details).toMatchObject({ path: 'parameters.temperature', rule: 'too_big' });
    }
  });

  it('model-specific keys live under parameters.extra (any JSON); at the top level they are refused with a hint', () => {
    expect(() => validateContent({ ...base(), parameters: { n: 2, extra: { logit_bias_mode: 'x', stream: false, none: null, list: ['a'], obj: { a: [1] } } } })).not.toThrow();
    expect(() => validateContent({ ...base(), parameters: { logit_bias_mode: 'x' } })).toThrow(/parameters\.extra\.logit_bias_mode/);
  });
});

describe('version refs', () => {
  it('round-trip, equal on converged docs whatever the update order', () => {
    const a = docWith('v', base('v'), 1);
    const b = newProfileDoc();
    const c = newProfileDoc();
    const upd: Uint8Array[] = [];
    a.on('update', (u: Uint8Array) => upd.push(u));
    a.transact(() => applyTextDiff(a.getMap(ROOT).get('description') as Y.Text, 'helps', 'it helps a lot'));
    a.transact(() => applyTextDiff(a.getMap(ROOT).get('description') as Y.Text, 'it helps a lot', 'helps a lot'));
    const full = Y.encodeStateAsUpdate(a);
    Y.applyUpdate(b, full);
    for (const u of [...upd].reverse()) Y.applyUpdate(c, u);
    Y.applyUpdate(c, full);
    const ref = refFromBytes(versionBytes(a));
    expect(refFromBytes(versionBytes(b))).toBe(ref);
    expect(refFromBytes(versionBytes(c))).toBe(ref);
    expect(parseRef(ref).ref).toBe(ref);
  });

  it('malformed refs -> PROFILE_BAD_VERSION', () => {
    for (const bad of ['', 'v1.', 'v2.AAAA', 'v1.!!', 'v1.AAAAAAAAAAAAAAAAAAAAAAAA', 5, null, 'v1.' + 'A'.repeat(70000)]) {
      expect(codeOf(() => parseRef(bad))).toBe('PROFILE_BAD_VERSION');
    }
  });

  it('canSatisfy / snapshotContains', () => {
    const a = docWith('s', base('s'), 1);
    const early = Y.snapshot(a);
    a.transact(() => a.getMap(ROOT).set('name', 'n2'));
    const late = Y.snapshot(a);
    expect(snapshotContains(late, early)).toBe(true);
    expect(snapshotContains(early, late)).toBe(false);
    const fresh = newProfileDoc();
    Y.applyUpdate(fresh, skeletonUpdate('s'));
    expect(canSatisfy(fresh, late)).toBe(false);
    expect(canSatisfy(a, late)).toBe(true);
  });
});

describe('conflict detection', () => {
  function pair(): [Y.Doc, Y.Doc] {
    const a = docWith('c', base('c'), 1);
    const b = newProfileDoc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    b.clientID = 2;
    return [a, b];
  }
  const setTemp = (d: Y.Doc, v: number) => d.transact(() => (d.getMap(ROOT).get('parameters') as Y.Map<unknown>).set('temperature', v));

  it('concurrent temperature sets are reported on both sides (winner/dropped mirrored)', () => {
    const [a, b] = pair();
    setTemp(a, 0.1);
    setTemp(b, 0.9);
    const ua = Y.encodeStateAsUpdate(a);
    const ub = Y.encodeStateAsUpdate(b);
    const pa = captureProbe(a);
    Y.applyUpdate(a, ub);
    const ca = detectConflicts(a, pa);
    const pb = captureProbe(b);
    Y.applyUpdate(b, ua);
    const cb = detectConflicts(b, pb);
    expect(ca).toHaveLength(1);
    expect(cb).toHaveLength(1);
    expect(ca[0]!.path).toBe('parameters.temperature');
    expect(ca[0]!.winner.value).toBe(cb[0]!.winner.value);
    expect(ca[0]!.dropped.value).toBe(cb[0]!.dropped.value);
    expect(new Set([ca[0]!.winner.local, cb[0]!.winner.local])).toEqual(new Set([true, false]));
    const final = (a.getMap(ROOT).get('parameters') as Y.Map<unknown>).get('temperature');
    expect(ca[0]!.winner.value).toBe(final);
  });

  it('a sequential overwrite is not a conflict', () => {
    const [a, b] = pair();
    setTemp(b, 0.9);
    setTemp(b, 1.1);
    const p = captureProbe(a);
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    expect(detectConflicts(a, p)).toEqual([]);
  });
});
