/**
 * `export [--format log]` / `import` through the real binary (issue 16.2): lossless moves of
 * history and labels between nodes (running ones found from --data, and a stopped dir), JSON
 * exports that keep the labels at their content, a checked format, truthful reports.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, serve, type Served } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-cli-transfer-'));
const A = join(dir, 'a');
const B = join(dir, 'b');
const C = join(dir, 'c');
let a: Served | undefined;
let b: Served | undefined;

beforeAll(async () => {
  assertBuilt();
  [a, b] = await Promise.all([serve(['--data', A]), serve(['--data', B])]);
  expect(cli(['init', '--data', C, '--json']).code).toBe(0);
  const on = (...args: string[]) => {
    const r = cli([...args, '--data', A, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return r.json;
  };
  on('profile', 'create', '--id', 'chat', '--model', 'gpt-4o', '--name', 'Chat', 'systemMessage=one');
  on('profile', 'set', 'chat', 'systemMessage=two');
  on('profile', 'label', 'chat', 'production');
  on('profile', 'set', 'chat', 'systemMessage=three', 'parameters.temperature=0.3');
  on('profile', 'label', 'chat', 'stable');
  on('profile', 'create', '--id', 'other', '--model', 'm', '--name', 'Other');
});
afterAll(async () => {
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
  rmSync(dir, { recursive: true, force: true });
});

const history = (data: string) => cli(['profile', 'history', 'chat', '--data', data, '--json']).json.versions.map((v: { version: string; actor: string; origin: string }) => ({ version: v.version, actor: v.actor, origin: v.origin }));

describe('export --format log / import', () => {
  it('carries every version, actor and label to a running node; importing again is unchanged', () => {
    const file = join(dir, 'a.log.json');
    const ex = cli(['export', '--format', 'log', '--data', A, '-o', file, '--json']);
    expect(ex.json).toEqual({ file, format: 'log', profiles: 2 });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ format: 'profilesync-export-log/v1', profiles: [{ id: 'chat', log: expect.any(String) }, { id: 'other', log: expect.any(String) }] });
    const imp = cli(['import', file, '--data', B, '--json']);
    expect(imp.code).toBe(0);
    expect(imp.json).toEqual({ format: 'log', created: ['chat', 'other'], updated: [], unchanged: [], rejected: [] });
    expect(history(B)).toEqual(history(A));
    expect(cli(['profile', 'get', 'chat', '--label', 'production', '--data', B, '--json']).json.systemMessage).toBe('two');
    expect(cli(['profile', 'get', 'chat', '--version', '@1', '--data', B, '--json']).json.systemMessage).toBe('one');
    const again = cli(['import', file, '--data', B, '--json']);
    expect(again.json).toMatchObject({ created: [], updated: [], unchanged: ['chat', 'other'] });
  });

  it('works offline on a stopped dir too, and reports a merge into an existing profile as updated', async () => {
    const file = join(dir, 'a.log.json');
    const first = cli(['import', file, '--data', C, '--json']);
    expect(first.json).toMatchObject({ created: ['chat', 'other'] });
    const c = await serve(['--data', C]);
    try {
      expect(history(C)).toEqual(history(A));
    } finally {
      expect(await c.stop()).toBe(0);
    }
    expect(cli(['profile', 'set', 'chat', 'description=only on A', '--data', A]).code).toBe(0);
    const file2 = join(dir, 'a2.log.json');
    expect(cli(['export', 'chat', '--format', 'log', '--data', A, '-o', file2]).code).toBe(0);
    expect(cli(['import', file2, '--data', C, '--json']).json).toMatchObject({ updated: ['chat'], unchanged: [], created: [] });
    expect(cli(['export', 'chat', '--data', C, '--json']).json.profiles[0].description).toBe('only on A');
  });
});

describe('JSON export / import', () => {
  it('keeps the labels at the exported content (and says which it leaves out); import points them at the imported content', async () => {
    const file = join(dir, 'a.json');
    const ex = cli(['export', 'chat', '--data', A, '-o', file, '--json']);
    expect(ex.json).toEqual({ file, format: 'json', profiles: 1, labelsDropped: 2 });
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc.format).toBe('profilesync-export/v1');
    // 'production' points at an older version: not in a JSON export; 'stable' is at the content... until the description changed
    expect(Object.keys(doc.profiles[0].labels)).toEqual([]);
    expect(cli(['profile', 'label', 'chat', 'stable', '--data', A]).code).toBe(0);
    const ex2 = cli(['export', 'chat', '--data', A, '-o', file, '--json']);
    expect(ex2.json.labelsDropped).toBe(1);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).profiles[0].labels)).toEqual(['stable']);

    const fresh = join(dir, 'd');
    const d = await serve(['--data', fresh]);
    try {
      expect(cli(['import', file, '--data', fresh, '--json']).json).toMatchObject({ format: 'json', created: ['chat'] });
      const at = cli(['profile', 'get', 'chat', '--label', 'stable', '--data', fresh, '--json']);
      expect(at.code, at.stderr).toBe(0);
      expect(at.json).toMatchObject({ systemMessage: 'three', description: 'only on A' });
      // nothing to do: unchanged (content and label already there)
      expect(cli(['import', file, '--data', fresh, '--json']).json).toMatchObject({ created: [], updated: [], unchanged: ['chat'] });
      // content changed here: updated, and the label follows the imported content
      expect(cli(['profile', 'set', 'chat', 'name=Changed here', '--data', fresh]).code).toBe(0);
      expect(cli(['import', file, '--data', fresh, '--json']).json).toMatchObject({ updated: ['chat'], unchanged: [] });
      expect(cli(['profile', 'get', 'chat', '--label', 'stable', '--data', fresh, '--json']).json.name).toBe('Chat');
    } finally {
      await d.stop();
    }
  });

  it('checks the format: an unknown one, a document that is no export, and a bad --format change nothing', () => {
    const bad = join(dir, 'other.json');
    for (const [content, needle] of [
      ['{"format":"other","profiles":[{"id":"x","modelId":"m","name":"n"}]}', 'format "other"'],
      ['{"format":3,"profiles":[{"id":"x","modelId":"m","name":"n"}]}', 'format 3'],
      ['{"items":[{"id":"x","modelId":"m","name":"n"}]}', 'holds no export'],
      ['{"format":"profilesync-export/v1","profiles":{}}', '"profiles" must be a list'],
      ['not json', 'is not JSON'],
    ] as const) {
      writeFileSync(bad, content);
      const r = cli(['import', bad, '--data', C, '--json']);
      expect([r.code, r.error?.code]).toEqual([8, 'IMPORT_INVALID']);
      expect(r.error?.message).toContain(needle);
    }
    expect(cli(['export', '--data', C, '--json']).json.profiles.map((p: { id: string }) => p.id)).toEqual(['chat', 'other']);
    const r = cli(['export', '--format', 'xml', '--data', C, '--json']);
    expect([r.code, r.error?.code]).toEqual([2, 'USAGE']);
  });

  it('a damaged log export is rejected per profile with a code; the others still import', () => {
    const file = join(dir, 'a.log.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const raw = Buffer.from(doc.profiles[0].log, 'base64');
    raw[10] = raw[10]! ^ 0xff;
    doc.profiles[0].log = raw.toString('base64');
    const damaged = join(dir, 'damaged.json');
    writeFileSync(damaged, JSON.stringify(doc));
    const fresh = join(dir, 'e');
    expect(cli(['init', '--data', fresh]).code).toBe(0);
    const r = cli(['import', damaged, '--data', fresh, '--json']);
    expect(r.code).toBe(8);
    expect(r.json).toMatchObject({ created: ['other'], rejected: [{ id: 'chat', code: 'IMPORT_INVALID' }] });
  });
});
