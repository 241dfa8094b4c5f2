/** The dashboard's pure policies (no browser): import merge, diff sides, chart, routes (parameters: pure.test.ts). */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { checkDelay, describeClose, sameTexts, textsOf } from '../src/lib/collab.js';
import { groupChanges, splitSides } from '../src/lib/diffsides.js';
import { importItems, mergeDiff, writable } from '../src/lib/merge.js';
import { href, parseRoute } from '../src/lib/router.js';
import { HitRateHistory, intervalRate, linePath, MAX_SAMPLES } from '../src/lib/series.js';
import { globMatches } from '../src/lib/session.js';
import { REASON } from '../src/lib/reasons.js';
import { REASONS } from '../../../packages/core/src/versions.js';
import { pageContentSecurityPolicy, webUiTarget } from '../../server/src/web-ui.js';
import { WEB_ROOT, ensureBuilt } from './helpers.js';
import { join } from 'node:path';

describe('import merge', () => {
  it('mergeDiff nulls removed nested keys and skips equal values', () => {
    const cur = writable({ id: 'x', name: 'A', modelId: 'm', templates: { a: '1', b: '2' }, parameters: { temperature: 1 }, version: 'v1.x' });
    const target = writable({ name: 'A', modelId: 'm2', templates: { a: '1', c: '3' }, parameters: { temperature: 1 } });
    expect(mergeDiff(cur, target)).toEqual({ modelId: 'm2', templates: { c: '3', b: null } });
    // a parameter is one value: a changed nested object is sent whole, never as a partial patch
    const p1 = { parameters: { response_format: { type: 'json_schema', json_schema: { name: 'a', schema: {} } }, temperature: 1 } };
    const p2 = { parameters: { response_format: { type: 'text' }, temperature: 1 } };
    expect(mergeDiff(p1, p2)).toEqual({ parameters: { response_format: { type: 'text' } } });
  });
  it('accepts an export file or a bare array, refuses anything else', () => {
    expect(importItems({ format: 'profilesync-export/v1', profiles: [{ id: 'a' }] })).toEqual([{ id: 'a' }]);
    expect(importItems([{ id: 'b' }])).toEqual([{ id: 'b' }]);
    expect(() => importItems({ nope: 1 })).toThrow(/array of profiles/);
    expect(() => importItems([1])).toThrow(/item 0/);
  });
});

describe('diff sides', () => {
  it('before = equal + deleted runs, after = equal + inserted runs', () => {
    const { before, after } = splitSides([
      { op: 'equal', text: 'Hello ' },
      { op: 'delete', text: 'world' },
      { op: 'insert', text: 'there' },
    ]);
    expect(before.map((r) => r.text).join('')).toBe('Hello world');
    expect(after.map((r) => r.text).join('')).toBe('Hello there');
    expect(before[1]!.mark).toBe('del');
    expect(after[1]!.mark).toBe('ins');
  });
  it('groups changes by top-level field in order', () => {
    const g = groupChanges([
      { path: 'parameters.temperature', kind: 'changed' },
      { path: 'parameters.top_p', kind: 'added' },
      { path: 'systemMessage', kind: 'changed' },
    ]);
    expect(g.map((x) => [x.group, x.changes.length])).toEqual([
      ['parameters', 2],
      ['systemMessage', 1],
    ]);
  });
});

describe('hit-rate chart', () => {
  const stats = (hits: number, misses: number, hit_rate = 0) => ({ name: 'hot', hits, misses, size: 1, hit_rate, ttl: null, evictions: 0 });
  it('rates per interval: deltas, carried over when idle, cumulative after a counter reset', () => {
    expect(intervalRate(undefined, stats(9, 1, 0.9))).toBe(0.9);
    expect(intervalRate({ hits: 9, misses: 1, rate: 0.9 }, stats(10, 4))).toBe(0.25);
    expect(intervalRate({ hits: 10, misses: 4, rate: 0.25 }, stats(10, 4))).toBe(0.25);
    expect(intervalRate({ hits: 10, misses: 4, rate: 0.25 }, stats(2, 0, 1))).toBe(1);
  });
  it('keeps a bounded history and maps 0..1 to bottom..top', () => {
    const h = new HitRateHistory();
    h.add(0, [stats(0, 0, 1)]);
    h.add(1000, [stats(0, 4)]);
    expect(linePath(h.samples, 'hot', 100, 50)).toBe('M0.0,0.0 L100.0,50.0');
    for (let i = 2; i <= MAX_SAMPLES + 10; i++) h.add(i * 1000, [stats(i, 4)]);
    expect(h.samples.length).toBe(MAX_SAMPLES);
    expect(h.samples[h.samples.length - 1]!.rates.hot).toBe(1);
    expect(linePath(h.samples, 'missing', 100, 50)).toBe('');
    expect(h.names()).toEqual(['hot']);
  });
});

describe('routes, grants, sync state', () => {
  it('hash routes round-trip, ids with odd characters included', () => {
    for (const r of [{ name: 'profiles' }, { name: 'editor', id: 'a:b.c-1' }, { name: 'history', id: 'x/y' }, { name: 'audit', profile: 'p1' }, { name: 'cache' }, { name: 'peers' }] as const) {
      expect(parseRoute(href(r))).toEqual(r);
    }
    expect(parseRoute('#/nowhere')).toEqual({ name: 'profiles' });
  });
  it('grant globs match like the server', () => {
    expect(globMatches('team-*', 'team-a')).toBe(true);
    expect(globMatches('team-?', 'team-ab')).toBe(false);
    expect(globMatches('a.b', 'aXb')).toBe(false);
  });
  it('close reasons carry the stable code', () => {
    expect(describeClose(4403, 'AUTH_FORBIDDEN')).toEqual({ code: 'AUTH_FORBIDDEN', message: expect.any(String) });
    expect(describeClose(4404, '').code).toBe('PROFILE_NOT_FOUND');
    // the node's 4400 for an id no profile can have: the reason carries the code, the meaning is in words
    expect(describeClose(4400, 'PROFILE_INVALID_ID')).toEqual({ code: 'PROFILE_INVALID_ID', message: expect.stringContaining('no valid profile id') });
    expect(describeClose(4999, '').code).toBe('WS_CLOSE_4999');
  });
  it('"saved" compares every live text with the node view', () => {
    const doc = new Y.Doc();
    const p = doc.getMap('profile');
    p.set('description', new Y.Text('d'));
    p.set('systemMessage', new Y.Text('s'));
    const t = new Y.Map<Y.Text>();
    p.set('templates', t);
    t.set('greet', new Y.Text('hi'));
    const local = textsOf(p);
    expect(sameTexts(local, { description: 'd', systemMessage: 's', templates: { greet: 'hi' } })).toBe(true);
    expect(sameTexts(local, { description: 'd', systemMessage: 's!', templates: { greet: 'hi' } })).toBe(false);
    expect(sameTexts(local, { description: 'd', systemMessage: 's', templates: { greet: 'hi', x: '' } })).toBe(false);
    expect(checkDelay(400, 0)).toBe(400);
    expect(checkDelay(400, 3)).toBe(3200);
    expect(checkDelay(400, 50)).toBe(5000);
  });
});

describe('serving the built UI (server side policy)', () => {
  it('files, SPA pages and missing assets', () => {
    ensureBuilt();
    const dist = join(WEB_ROOT, 'dist');
    expect(webUiTarget(dist, '/')).toBe('index.html');
    expect(webUiTarget(dist, '/profiles/abc?x=1')).toBe('index.html');
    expect(webUiTarget(dist, '/index.html')).toBe('index.html');
    expect(webUiTarget(dist, '/assets/missing.js')).toBeUndefined();
    expect(webUiTarget(dist, '/%2e%2e/%2e%2e/etc/passwd')).toBe('index.html');
    expect(webUiTarget(dist, '/..%2f..%2fpackage.json')).toBeUndefined();
    expect(webUiTarget(dist, '/%ZZ')).toBeUndefined();
  });
  it("the page's CSP allows its own inline script by SHA-256 and no other inline script", async () => {
    ensureBuilt();
    const dist = join(WEB_ROOT, 'dist');
    const { createHash } = await import('node:crypto');
    const { readFileSync } = await import('node:fs');
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(inline).toHaveLength(1);
    const policy = pageContentSecurityPolicy(dist);
    const scriptSrc = /script-src ([^;]+);/.exec(policy)![1]!.split(' ');
    expect(scriptSrc).toEqual(["'self'", `'sha256-${createHash('sha256').update(inline[0]!, 'utf8').digest('base64')}'`]);
    expect(policy).not.toMatch(/script-src[^;]*unsafe-inline/);
  });
});

describe('history reasons', () => {
  it('every reason core can close a version with has words in the history list (none shown raw)', () => {
    expect(Object.keys(REASON).sort()).toEqual([...REASONS].sort());
  });
});
