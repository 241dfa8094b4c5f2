/**
 * Online and scheduled backups (issue 16.2) on real nodes: POST /api/backup streams the same
 * format as the offline backup, consistent while writes go on, restorable with restoreLog;
 * admin only (not scoped admins); one at a time; a failed output releases the lock; scheduled
 * backups land in backup.dir and are pruned to backup.keep; metrics, logs and audit records.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBackup, plainCodec, restoreLog, openLog } from '@profilesync/log';
import { materializeProfile, PROFILE_SNAPSHOT_POLICY } from '@profilesync/core';
import { defaultConfig, listScheduledBackups, pruneScheduledBackups, scheduledBackupName, startServer, type RunningServer } from '../src/index.js';
import { ADMIN, http, profileInput, startTestServer, tempDir, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({}, { sync: false });
  for (let i = 0; i < 20; i++) expect((await http(t.url, 'POST', '/api/profiles', { body: profileInput(`p${i}`, { systemMessage: `message ${i} `.repeat(50) }) })).status).toBe(201);
});
afterAll(async () => {
  await t?.stop();
});

async function download(url: string, token = ADMIN): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
  const res = await fetch(`${url}/api/backup`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

async function restoreInto(bytes: Buffer): Promise<{ dir: string; views: Map<string, unknown> }> {
  const dir = join(tempDir(), 'restored');
  await restoreLog({ dir, input: Readable.from([bytes]), codec: plainCodec, materialize: materializeProfile, snapshotPolicy: PROFILE_SNAPSHOT_POLICY });
  const log = await openLog({ dir, snapshotPolicy: PROFILE_SNAPSHOT_POLICY });
  const views = new Map<string, unknown>();
  try {
    expect((await log.verify()).ok).toBe(true);
    for (const s of log.streams().filter((x) => !x.startsWith('#'))) views.set(s, log.head(s)!.seq);
  } finally {
    await log.close();
  }
  return { dir, views };
}

describe('POST /api/backup', () => {
  it('streams a checked backup of the running node that restores to the same profiles', async () => {
    const r = await download(t.url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(r.headers.get('content-disposition')).toMatch(/^attachment; filename="profilesync-\d{8}T\d{9}Z\.bak"$/);
    const checked = await checkBackup(Readable.from([r.bytes]));
    expect(checked.bytes).toBe(r.bytes.length);
    expect(checked.sections).toBe(1); // identity.json
    const { dir, views } = await restoreInto(r.bytes);
    try {
      for (let i = 0; i < 20; i++) expect(views.get(`p${i}`)).toBe(t.server.node.log.head(`p${i}`)!.seq);
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });

  it('is consistent while writes go on: every restored profile is a whole prefix of its history, and writes never fail', async () => {
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        const id = `p${n % 20}`;
        const res = await http(t.url, 'PATCH', `/api/profiles/${id}`, { body: { description: `edit ${n}` } });
        expect(res.status).toBe(200);
        n++;
        writes++;
      }
    })();
    // wait until writes are flowing, then back up in the middle of them
    while (writes < 5) await new Promise((r) => setTimeout(r, 5));
    const r = await download(t.url);
    writing = false;
    await writer;
    expect(r.status).toBe(200);
    const { dir, views } = await restoreInto(r.bytes);
    try {
      // restoreLog verified every chain; each profile's restored head is at or behind the live one
      for (let i = 0; i < 20; i++) {
        const restored = views.get(`p${i}`) as number;
        expect(restored).toBeGreaterThan(0);
        expect(restored).toBeLessThanOrEqual(t.server.node.log.head(`p${i}`)!.seq);
      }
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });

  it('is admin only: viewer, editor and a scoped admin are refused, no token is 401', async () => {
    expect((await download(t.url, 'nope')).status).toBe(401);
    for (const body of [
      { name: 'v', role: 'viewer' },
      { name: 'e', role: 'editor' },
      { name: 'scoped', role: 'admin', profiles: ['p1*'] },
    ]) {
      const tok = await http(t.url, 'POST', '/api/tokens', { body });
      expect(tok.status).toBe(201);
      const r = await download(t.url, tok.body.token);
      expect(r.status).toBe(403);
      expect(JSON.parse(r.bytes.toString()).error.code).toBe('AUTH_FORBIDDEN');
    }
  });

  it('refuses a body or query it does not take', async () => {
    const q = await http(t.url, 'POST', '/api/backup?x=1');
    expect([q.status, q.body.error.code]).toEqual([400, 'REQUEST_INVALID']);
    const b = await http(t.url, 'POST', '/api/backup', { body: { compress: true } });
    expect([b.status, b.body.error.code]).toEqual([400, 'REQUEST_INVALID']);
  });

  it('one at a time: a second backup while one runs is 503 BACKUP_IN_PROGRESS; a failed output releases it', async () => {
    // an output that takes the first chunk and never drains: the running backup waits
    let destroy!: (err: Error) => void;
    const stuck = new Writable({
      highWaterMark: 1,
      write(_chunk, _enc, _cb) {
        /* never calls back */
      },
    });
    destroy = (err) => stuck.destroy(err);
    const running = t.server.backups.stream(stuck, { actor: 'test', origin: 'test' });
    const second = await http(t.url, 'POST', '/api/backup');
    expect(second.status).toBe(503);
    expect(second.body.error.code).toBe('BACKUP_IN_PROGRESS');
    destroy(Object.assign(new Error('gone'), { code: 'EPIPE' }));
    await expect(running).rejects.toMatchObject({ code: 'LOG_BACKUP_WRITE_FAILED' });
    expect((await download(t.url)).status).toBe(200);
  });

  it('counts backups in the metrics and audits them', async () => {
    const m = await http(t.url, 'GET', '/metrics', { token: null });
    expect(m.text).toMatch(/profilesync_backups_total\{kind="online",outcome="ok"\} [1-9]/);
    expect(m.text).toMatch(/profilesync_backups_total\{kind="online",outcome="failed"\} 1/);
    expect(m.text).toMatch(/profilesync_backup_last_success_timestamp_seconds\{kind="online"\} \d/);
    expect(m.text).toMatch(/profilesync_backup_last_bytes\{kind="online"\} [1-9]/);
    // the audit record is written after the backup's response ends (not on its path): the last
    // one may still be on its way to the log when this asks, so wait for it (bounded)
    let audit = await http(t.url, 'GET', '/api/audit?action=backup.create');
    for (let i = 0; i < 200 && audit.body.records.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 25));
      audit = await http(t.url, 'GET', '/api/audit?action=backup.create');
    }
    expect(audit.body.records.length).toBeGreaterThanOrEqual(3);
    expect(audit.body.records[0]).toMatchObject({ action: 'backup.create', outcome: 'ok', details: { kind: 'online', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
  });
});

describe('scheduled backups', () => {
  it('names sort by time; pruning keeps the newest N and clears stale partials of the schedule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ps-sched-'));
    try {
      const names = [0, 1, 2, 3].map((i) => scheduledBackupName(Date.parse('2024-05-01T10:00:00Z') + i * 3_600_000));
      expect(names[0]).toBe('profilesync-20240501T100000000Z.bak');
      for (const n of names) writeFileSync(join(dir, n), 'x');
      writeFileSync(join(dir, `${names[3]}.partial`), 'x');
      writeFileSync(join(dir, 'notes.txt'), 'mine');
      expect(listScheduledBackups(dir).map((b) => b.name)).toEqual([...names].reverse());
      expect(pruneScheduledBackups(dir, 2).sort()).toEqual([names[0], names[1], `${names[3]}.partial`].sort());
      expect(readdirSync(dir).sort()).toEqual([names[2], names[3], 'notes.txt'].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a node with backup.interval_minutes takes one at start when none is recent, then keeps backup.keep', async () => {
    const root = tempDir();
    let server: RunningServer | undefined;
    try {
      let now = Date.parse('2030-01-01T00:00:00Z');
      server = await startServer(defaultConfig({ dataDir: join(root, 'data'), port: 0, logLevel: 'silent', backup: { intervalMinutes: 60, dir: 'backups', keep: 2 } }), { adminToken: ADMIN, env: {}, sync: false, clock: () => now });
      const dir = join(root, 'data', 'backups');
      expect(server.backups.dir).toBe(dir);
      // none yet: the first is due at once
      for (let i = 0; i < 400 && listScheduledBackups(dir).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(listScheduledBackups(dir).map((b) => b.name)).toEqual(['profilesync-20300101T000000000Z.bak']);
      while (server.backups.busy) await new Promise((r) => setTimeout(r, 10));
      expect(server.backups.nextAt).toBe(now + 3_600_000);
      for (const step of [1, 2]) {
        now += step * 3_600_000;
        await server.backups.runScheduled();
      }
      const kept = listScheduledBackups(dir).map((b) => b.name);
      expect(kept).toEqual(['profilesync-20300101T030000000Z.bak', 'profilesync-20300101T010000000Z.bak']);
      for (const k of kept) expect((await checkBackup(Readable.from([await import('node:fs').then((fs) => fs.readFileSync(join(dir, k)))]))).sections).toBe(1);
      expect(existsSync(join(dir, 'profilesync-20300101T000000000Z.bak'))).toBe(false);
      const m = await http(server.url, 'GET', '/metrics', { token: null });
      expect(m.text).toMatch(/profilesync_backups_total\{kind="scheduled",outcome="ok"\} 3/);
    } finally {
      await server?.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('config keys are validated like every other key', async () => {
    const { loadConfig } = await import('../src/index.js');
    expect(loadConfig({ env: { PROFILESYNC_BACKUP_INTERVAL_MINUTES: '30', PROFILESYNC_BACKUP_KEEP: '3', PROFILESYNC_BACKUP_DIR: '/srv/bak' } }).backup).toEqual({ intervalMinutes: 30, keep: 3, dir: '/srv/bak' });
    expect(() => loadConfig({ env: { PROFILESYNC_BACKUP_KEEP: '0' } })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => loadConfig({ env: { PROFILESYNC_BACKUP_INTERVAL_MINUTES: 'daily' } })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('POST /api/backup and revocation', () => {
  it("revoking the token mid-backup aborts the stream at once: the client never gets a whole backup", async () => {
    const s = await startTestServer({}, { sync: false });
    try {
      // enough data that the backup cannot sit whole in the socket and stream buffers
      const big = 'x'.repeat(400_000);
      for (let i = 0; i < 40; i++) expect((await http(s.url, 'POST', '/api/profiles', { body: profileInput(`b${i}`, { systemMessage: `${i} ${big}` }) })).status).toBe(201);
      const tok = await http(s.url, 'POST', '/api/tokens', { body: { name: 'ops-backup', role: 'admin' } });
      expect(tok.status).toBe(201);
      const res = await fetch(`${s.url}/api/backup`, { method: 'POST', headers: { authorization: `Bearer ${tok.body.token}` } });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const chunks: Uint8Array[] = [];
      const first = await reader.read();
      chunks.push(first.value!);
      // the client reads no more for now: the backup is running, stalled on the output
      expect((await http(s.url, 'DELETE', `/api/tokens/${tok.body.id}`)).status).toBe(204);
      let error: unknown;
      try {
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          chunks.push(r.value);
        }
      } catch (err) {
        error = err;
      }
      expect(error).toBeDefined();
      const received = Buffer.concat(chunks);
      await expect(checkBackup(Readable.from([received]))).rejects.toMatchObject({ code: 'LOG_BACKUP_CORRUPT' });
      // the lock is released: the next backup (with a valid token) runs whole
      const again = await download(s.url);
      expect(again.status).toBe(200);
      expect((await checkBackup(Readable.from([again.bytes]))).bytes).toBe(again.bytes.length);
    } finally {
      await s.stop();
    }
  });
});
