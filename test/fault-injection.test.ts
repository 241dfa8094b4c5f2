/**
 * Issue 11 "Done when": the fault-injection suite. Seeded trials of one random fault each — a
 * flipped byte or a truncation — in one file of a node's LevelDB dir (write-ahead .log, .ldb
 * tables, MANIFEST, CURRENT, and the commit seal beside them; LevelDB's LOG/LOG.old/LOCK hold no
 * data), on plaintext and encrypted nodes, on the files of a stopped node and on a crash image
 * (the files as they were while the node ran: the WAL still holds the last writes). Each trial
 * starts a real node (apps/server + the sync mount, real LevelDB, real /sync on 127.0.0.1) on
 * the damaged copy, next to a healthy peer B that holds every profile, and checks:
 *
 *   - every answer: never a 500, never another state than the one the node had acknowledged
 *     (content and version), never a 404 for a profile that exists; a damaged profile answers
 *     503 PROFILE_DAMAGED; /readyz stays 200 (degraded while damaged);
 *   - the trial is detected (a finding at open or on read: /metrics counts it) or harmless (every
 *     profile served exactly as before, and the log verifies);
 *   - after the node's sync round with B, nothing is damaged any more and every profile is
 *     identical to B's: the same Yjs state (state vector and encoded state, byte for byte), so the
 *     same content, `version` and history (the versions are part of the Yjs state); `updatedAt`/
 *     `updatedBy` are the node's own (the time and actor of its last log entry of the profile: a
 *     repair is a new local entry, docs/operations.md).
 *
 * Run longer: FAULT_TRIALS=1000 FAULT_SEED=7 node node_modules/vitest/vitest.mjs run test/fault-injection.test.ts
 * (docs/operations.md, "Fault-injection suite").
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyncMount } from '@profilesync/sync';
import { defaultConfig, startServer, type RunningServer } from '@profilesync/server';
import { req as httpReq, until, type Answer } from './node-http.js';

const TRIALS = Number(process.env.FAULT_TRIALS ?? 100);
const SEED = Number(process.env.FAULT_SEED ?? 20_251_203);
const PROFILES = 8;
const ADMIN = 'fault-injection-admin-token-0123456789';
const PASS = 'fault injection passphrase 42';
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

type Variant = 'plain' | 'encrypted';
type Image = 'stopped' | 'crash';

/** mulberry32: small, seeded, good enough to pick files and offsets */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const root = mkdtempSync(join(tmpdir(), 'ps-faults-'));
const running = new Set<RunningServer>();

async function start(data: string, variant: Variant): Promise<RunningServer> {
  const s = await startServer(defaultConfig({ dataDir: data, port: 0, logLevel: 'silent', encryption: variant === 'encrypted' }), {
    env: {}, adminToken: ADMIN, sync: (ctx) => createSyncMount(ctx),
    ...(variant === 'encrypted' ? { passphrase: async () => PASS, scrypt: FAST_SCRYPT } : {}),
  });
  running.add(s);
  return s;
}

async function stop(s: RunningServer): Promise<void> {
  running.delete(s);
  await s.close();
}

const req = (s: RunningServer, method: string, path: string, body?: unknown): Promise<Answer> => httpReq(s, ADMIN, method, path, body);

/** The view without the two fields that name the node's own last entry (its time and actor). */
function content(v: Record<string, unknown>): string {
  const { updatedAt: _a, updatedBy: _b, ...rest } = v;
  return JSON.stringify(rest);
}

/** Sum of a Prometheus counter's series. */
function counter(metrics: string, name: string): number {
  let n = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

let b: RunningServer;
/** pristine data dirs by variant and image, and the views the node served when they were taken */
const pristine = new Map<string, string>();
const expected = new Map<Variant, Map<string, any>>();
/** history refs (newest first, JSON) and the content at label prod, per profile, when the images were taken */
const histories = new Map<string, string>();
const labelled = new Map<string, string>();
const refsOf = (h: Answer): string => JSON.stringify((h.json?.versions ?? []).map((v: { version: string }) => v.version));

/** A node with PROFILES profiles (several versions each, a label), synced with B; both images taken. */
async function prepare(variant: Variant): Promise<void> {
  const data = join(root, `node-${variant}`);
  let a = await start(data, variant);
  expect((await req(a, 'POST', '/api/peers', { url: `${b.url.replace(/^http/, 'ws')}/sync`, key: b.publicKey })).status).toBe(201);
  expect((await req(b, 'POST', '/api/peers', { url: `${a.url.replace(/^http/, 'ws')}/sync`, key: a.publicKey })).status).toBe(201);
  const mine = Array.from({ length: PROFILES }, (_, i) => `${variant}-${i}`);
  for (const [i, id] of mine.entries()) {
    const created = await req(a, 'POST', '/api/profiles', {
      id, modelId: 'gpt-4o', name: `Profile ${i}`, systemMessage: `You are helper ${i}.`,
      templates: { greet: `Hello {{name}}, this is ${i}.` }, parameters: { temperature: 0.25 * (i % 4) },
      meta: { owner: `team-${i}` }, messages: [{ role: 'user', content: `First message of ${i}` }],
    });
    expect(created.status, created.text).toBe(201);
    expect((await req(a, 'PATCH', `/api/profiles/${id}`, { systemMessage: `You are helper ${i}, v2.` })).status).toBe(200);
  }
  // restart: all of the above moves into table files; the rest stays in the write-ahead log
  await stop(a);
  a = await start(data, variant);
  for (const [i, id] of mine.entries()) {
    if (i % 2 === 0) {
      expect((await req(a, 'PATCH', `/api/profiles/${id}`, { description: `edited after restart ${i}`, parameters: { top_p: 0.9 } })).status).toBe(200);
    }
    const first = (await req(a, 'GET', `/api/profiles/${id}/history`)).json.versions.at(-1).version;
    const label = await req(a, 'PUT', `/api/profiles/${id}/labels/prod`, { version: first });
    expect(label.status, label.text).toBe(200);
    // closed runs only: a run left open is closed by the next start after the idle gap, which
    // would write a version on the damaged copy that the peer does not have
    const cp = await req(a, 'POST', `/api/profiles/${id}/versions`, { message: 'settled' });
    expect([200, 201], cp.text).toContain(cp.status);
  }
  await until(async () => (await req(a, 'POST', '/api/sync', { timeoutMs: 5000 })).json?.converged === true, `${variant} and B converged`);
  // every profile the node holds (the encrypted node also got the plaintext node's from B)
  const all = (await req(a, 'GET', '/api/profiles')).json.profiles.map((p: { id: string }) => p.id) as string[];
  expect(all).toEqual(expect.arrayContaining(mine));
  const views = new Map<string, any>();
  for (const id of all) {
    const here = await req(a, 'GET', `/api/profiles/${id}`);
    const there = await req(b, 'GET', `/api/profiles/${id}`);
    expect(here.status).toBe(200);
    expect(content(there.json)).toBe(content(here.json));
    views.set(id, here.json);
    histories.set(`${variant}/${id}`, refsOf(await req(a, 'GET', `/api/profiles/${id}/history`)));
    labelled.set(`${variant}/${id}`, content((await req(a, 'GET', `/api/profiles/${id}?label=prod`)).json));
  }
  expected.set(variant, views);
  // a crash image: the files as they are while the node runs (idle: every write and the seal durable)
  await a.node.log.idle();
  const crash = join(root, `pristine-${variant}-crash`);
  cpSync(data, crash, { recursive: true });
  rmSync(join(crash, 'server.json'), { force: true });
  pristine.set(`${variant}/crash`, crash);
  await stop(a);
  const stopped = join(root, `pristine-${variant}-stopped`);
  cpSync(data, stopped, { recursive: true });
  pristine.set(`${variant}/stopped`, stopped);
}

/** LevelDB's files that hold data (and the commit seal beside them), non-empty. */
function damageable(dir: string): string[] {
  return readdirSync(join(dir, 'log'))
    .filter((f) => /^\d+\.(log|ldb|sst)$/.test(f) || /^MANIFEST-\d+$/.test(f) || f === 'CURRENT' || f === 'PROFILESYNC-SEAL')
    .filter((f) => statSync(join(dir, 'log', f)).size > 0)
    .sort();
}

interface Trial {
  n: number;
  variant: Variant;
  image: Image;
  seed: number;
}

interface Outcome {
  trial: number;
  variant: Variant;
  image: Image;
  file: string;
  fault: string;
  result: 'harmless' | 'detected' | 'refused';
  damaged: string[];
  repaired: string[];
  nodeFindings: string[];
  violations: string[];
  ms: number;
}

const outcomes: Outcome[] = [];
const trials: Trial[] = (() => {
  const r = rng(SEED);
  return Array.from({ length: TRIALS }, (_, n) => ({
    n, variant: r() < 0.5 ? 'plain' : 'encrypted', image: r() < 0.5 ? 'stopped' : 'crash', seed: Math.floor(r() * 2 ** 31),
  }) as Trial);
})();

/** Applies one fault; returns [file, description]. */
function injure(dir: string, seed: number): [string, string] {
  const r = rng(seed);
  const files = damageable(dir);
  const file = files[Math.floor(r() * files.length)] as string;
  const path = join(dir, 'log', file);
  const size = statSync(path).size;
  if (r() < 0.7) {
    const at = Math.floor(r() * size);
    const mask = 1 + Math.floor(r() * 255);
    const bytes = readFileSync(path);
    bytes[at] = (bytes[at] as number) ^ mask;
    writeFileSync(path, bytes);
    return [file, `flip byte ${at}/${size} ^0x${mask.toString(16)}`];
  }
  const to = Math.floor(r() * size);
  truncateSync(path, to);
  return [file, `truncate ${size} -> ${to}`];
}

async function runTrial(t: Trial): Promise<Outcome> {
  const t0 = performance.now();
  const dir = join(root, `trial-${t.n}`);
  cpSync(pristine.get(`${t.variant}/${t.image}`) as string, dir, { recursive: true });
  const [file, fault] = injure(dir, t.seed);
  const out: Outcome = { trial: t.n, variant: t.variant, image: t.image, file, fault, result: 'harmless', damaged: [], repaired: [], nodeFindings: [], violations: [], ms: 0 };
  const views = expected.get(t.variant) as Map<string, any>;
  const bad = (what: string) => out.violations.push(what);
  let a: RunningServer;
  try {
    a = await start(dir, t.variant);
  } catch (err) {
    out.result = 'refused';
    const code = (err as { code?: string }).code;
    if (code === undefined) bad(`open failed without a code: ${String(err)}`);
    out.nodeFindings.push(`${code}: ${(err as Error).message}`);
    rmSync(dir, { recursive: true, force: true });
    out.ms = performance.now() - t0;
    return out;
  }
  try {
    /** an answer: one of `ok`, or 503 PROFILE_DAMAGED for a profile's route */
    const check = (what: string, r: Answer, ok: number[], id?: string) => {
      if (id !== undefined && r.status === 503 && r.json?.error?.code === 'PROFILE_DAMAGED') {
        if (!out.damaged.includes(id)) out.damaged.push(id);
      } else if (!ok.includes(r.status)) bad(`${what}: ${r.status} ${r.text.slice(0, 200)}`);
    };
    // what the node answers before (or while) it repairs: the acknowledged state or PROFILE_DAMAGED
    for (const [id, view] of views) {
      const g = await req(a, 'GET', `/api/profiles/${id}`);
      if (g.status === 200) {
        if (content(g.json) !== content(view)) bad(`GET ${id}: another state than the acknowledged one (version ${g.json.version}, expected ${view.version})`);
      } else if (g.status === 503 && g.json?.error?.code === 'PROFILE_DAMAGED') {
        if (!out.damaged.includes(id)) out.damaged.push(id);
      } else bad(`GET ${id}: ${g.status} ${g.text.slice(0, 200)}`);
      const h = await req(a, 'GET', `/api/profiles/${id}/history`);
      check(`GET ${id}/history`, h, [200], id);
      if (h.status === 200 && refsOf(h) !== histories.get(`${t.variant}/${id}`)) bad(`GET ${id}/history: another history than the acknowledged one`);
      const l = await req(a, 'GET', `/api/profiles/${id}?label=prod`);
      check(`GET ${id}?label=prod`, l, [200], id);
      if (l.status === 200 && content(l.json) !== labelled.get(`${t.variant}/${id}`)) bad(`GET ${id}?label=prod: another state`);
    }
    const list = await req(a, 'GET', '/api/profiles');
    check('GET /api/profiles', list, [200]);
    for (const row of list.json?.profiles ?? []) {
      const view = views.get(row.id);
      if (view !== undefined && row.version !== view.version) bad(`list: ${row.id} at version ${row.version}, expected ${view.version}`);
    }
    check('GET /api/audit', await req(a, 'GET', '/api/audit?limit=20'), [200]);
    const ready = await req(a, 'GET', '/readyz');
    if (ready.status !== 200) bad(`/readyz ${ready.status} ${ready.text.slice(0, 200)}`);
    const damage = await req(a, 'GET', '/api/damage');
    check('GET /api/damage', damage, [200]);
    for (const p of damage.json?.profiles ?? []) if (!out.damaged.includes(p.id)) out.damaged.push(p.id);
    out.nodeFindings = (damage.json?.node ?? []).map((f: { kind: string; stream: string }) => `${f.kind}${f.stream ? ` ${f.stream}` : ''}`);

    // intact profiles keep taking writes (a new profile here: B's copies of the image's stay as they are)
    const probe = `probe-${t.n}`;
    const created = await req(a, 'POST', '/api/profiles', { id: probe, modelId: 'm', name: 'probe' });
    if (created.status !== 201) bad(`POST ${probe}: ${created.status} ${created.text.slice(0, 200)}`);
    const patched = await req(a, 'PATCH', `/api/profiles/${probe}`, { systemMessage: `written in trial ${t.n}` });
    if (patched.status !== 200) bad(`PATCH ${probe}: ${patched.status} ${patched.text.slice(0, 200)}`);
    const token = await req(a, 'POST', '/api/tokens', { role: 'viewer', name: `trial-${t.n}` });
    if (token.status !== 201) bad(`POST /api/tokens: ${token.status} ${token.text.slice(0, 200)}`);

    // the repair: the node's sync round with B
    await until(async () => {
      const s = await req(a, 'POST', '/api/sync', { timeoutMs: 5000 });
      if (s.status >= 500) bad(`POST /api/sync: ${s.status} ${s.text.slice(0, 200)}`);
      return s.json?.converged === true && (await req(a, 'GET', '/api/damage')).json?.profiles?.length === 0;
    }, `trial ${t.n}: repaired and converged with B`);
    const metrics = (await req(a, 'GET', '/metrics')).text;
    const findings = counter(metrics, 'profilesync_damage_findings_total');
    const repairs = counter(metrics, 'profilesync_profile_repairs_total');
    const audit = (await req(a, 'GET', '/api/audit?action=profile.repair&limit=1000')).json?.records ?? [];
    out.repaired = [...new Set<string>(audit.filter((x: { action: string }) => x.action === 'profile.repair').map((x: { profile: string }) => x.profile))].sort();
    if (repairs !== out.repaired.length) bad(`repairs counted ${repairs}, audited ${out.repaired.length}`);
    for (const id of out.damaged) if (!out.repaired.includes(id)) bad(`${id} was damaged but not repaired`);
    out.result = findings > 0 || out.damaged.length > 0 || out.nodeFindings.length > 0 ? 'detected' : 'harmless';

    // every profile identical to the peer's: the same Yjs state, so the same content and version
    for (const id of views.keys()) {
      const here = await req(a, 'GET', `/api/profiles/${id}`);
      const there = await req(b, 'GET', `/api/profiles/${id}`);
      if (here.status !== 200) {
        bad(`after the repair GET ${id}: ${here.status} ${here.text.slice(0, 200)}`);
        continue;
      }
      if (content(here.json) !== content(there.json)) bad(`after the repair ${id} differs from B`);
      if (content(there.json) !== content(views.get(id))) bad(`B's ${id} changed`);
      const [svA, svB] = [await a.node.store.stateVector(id), await b.node.store.stateVector(id)];
      const [stA, stB] = [await a.node.store.encodeStateAsUpdate(id), await b.node.store.encodeStateAsUpdate(id)];
      if (!bytesEqual(svA, svB) || !bytesEqual(stA, stB)) bad(`after the repair ${id}'s Yjs state differs from B's`);
      // history (the versions in the Yjs state) is the peer's too, and every version reads the same
      const [hA, hB] = [await req(a, 'GET', `/api/profiles/${id}/history`), await req(b, 'GET', `/api/profiles/${id}/history`)];
      if (hA.status !== 200 || refsOf(hA) !== refsOf(hB)) bad(`after the repair ${id}'s history differs from B's`);
      if (refsOf(hA) !== histories.get(`${t.variant}/${id}`)) bad(`${id}'s history is not the acknowledged one`);
      for (const ref of JSON.parse(refsOf(hA)) as string[]) {
        const [pa, pb] = [await req(a, 'GET', `/api/profiles/${id}?version=${encodeURIComponent(ref)}`), await req(b, 'GET', `/api/profiles/${id}?version=${encodeURIComponent(ref)}`)];
        if (pa.status !== 200 || content(pa.json) !== content(pb.json)) bad(`after the repair ${id} at ${ref.slice(0, 12)}: ${pa.status}, not B's`);
      }
    }
    // nothing left that the walk finds in a profile (node-level findings are listed, not repairable from a peer)
    const report = await a.node.log.verify();
    const left = report.broken.filter((x) => x.stream !== '' && !x.stream.startsWith('#') && x.kind !== 'view' && x.kind !== 'snapshot');
    if (left.length > 0) bad(`verify after the repair: ${left.map((x) => `${x.stream} ${x.kind} ${x.seq}`).join(', ')}`);
    if (out.result === 'harmless' && !report.ok) bad(`undetected: verify finds ${report.broken.map((x) => `${x.stream} ${x.kind}`).join(', ')}`);
  } finally {
    await stop(a);
    rmSync(dir, { recursive: true, force: true });
  }
  out.ms = performance.now() - t0;
  return out;
}

beforeAll(async () => {
  b = await start(join(root, 'peer-b'), 'plain');
  await prepare('plain');
  await prepare('encrypted');
}, 120_000);

afterAll(async () => {
  for (const s of running) await s.close().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
  const by = (k: Outcome['result']) => outcomes.filter((o) => o.result === k).length;
  const files = new Map<string, number>();
  for (const o of outcomes) {
    const kind = o.file.replace(/^\d+\./, '*.').replace(/^MANIFEST-\d+$/, 'MANIFEST');
    files.set(kind, (files.get(kind) ?? 0) + 1);
  }
  // one summary line (docs/operations.md quotes it)
  console.log(JSON.stringify({
    suite: 'fault-injection', seed: SEED, trials: outcomes.length, harmless: by('harmless'), detected: by('detected'), refused: by('refused'),
    violations: outcomes.reduce((n, o) => n + o.violations.length, 0),
    damagedProfiles: outcomes.reduce((n, o) => n + o.damaged.length, 0), repairedProfiles: outcomes.reduce((n, o) => n + o.repaired.length, 0),
    nodeFindingTrials: outcomes.filter((o) => o.nodeFindings.length > 0).length,
    files: Object.fromEntries([...files].sort()), seconds: Math.round(outcomes.reduce((n, o) => n + o.ms, 0) / 100) / 10,
  }));
});

describe(`fault injection: ${TRIALS} trials, seed ${SEED}`, () => {
  for (const t of trials) {
    it(`trial ${t.n} (${t.variant}, ${t.image})`, async () => {
      const o = await runTrial(t);
      outcomes.push(o);
      if (process.env.FAULT_VERBOSE) console.log(JSON.stringify(o));
      expect(o.violations, `${o.file}: ${o.fault} (${o.result})`).toEqual([]);
      expect(o.result, `${o.file}: ${o.fault}: ${o.nodeFindings.join('; ')}`).not.toBe('refused');
    }, 60_000);
  }
});
