/**
 * auth-revoke-close: how long an open /yjs socket survives the revocation of its token (issue
 * 11.1, goal: under a second). A real node on 127.0.0.1 (in this process), a real ws client per
 * round: the client joins /yjs/:id with a fresh editor token, then DELETE /api/tokens/:id is sent;
 * the sample is the time from sending the DELETE to the client's close event (4401).
 * Anchor, same run and node: DELETE /api/tokens/:id of a token with no open connection, from
 * sending it to its 204 (the durable token-table write every revocation pays). The ratio is what
 * reaching the open socket adds on top of the revocation itself.
 *
 * Knob: BENCH_REVOKE_ROUNDS (default 200).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { defaultConfig, startServer } from '@profilesync/server';
import { nowMs, result, summarize, type BenchCase } from './harness.js';

const ADMIN = 'bench-admin-token-0123456789abcdef';
const ROUNDS = Number(process.env.BENCH_REVOKE_ROUNDS ?? 200);

async function api<T>(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

const revokeClose: BenchCase = {
  name: 'auth-revoke-close',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'ps-bench-revoke-'));
    const node = await startServer(defaultConfig({ dataDir: join(dir, 'data'), port: 0, logLevel: 'warn' }), { env: {}, adminToken: ADMIN, onAdminToken: () => undefined });
    try {
      const created = await api(node.url, 'POST', '/api/profiles', { id: 'bench', modelId: 'm', name: 'Bench', systemMessage: 'Be brief.' });
      if (created.status !== 201) throw new Error(`create failed: ${created.status}`);
      const newToken = async (name: string) => {
        const r = await api<{ id: string; token: string }>(node.url, 'POST', '/api/tokens', { role: 'editor', name });
        if (r.status !== 201) throw new Error(`token create failed: ${r.status}`);
        return r.body;
      };
      const closes: number[] = [];
      const plain: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        // anchor: a revocation with nothing to close
        const idle = await newToken(`idle-${i}`);
        let t0 = nowMs();
        const r = await api(node.url, 'DELETE', `/api/tokens/${idle.id}`);
        if (r.status !== 204) throw new Error(`revoke failed: ${r.status}`);
        plain.push(nowMs() - t0);

        // the case: the token has a joined /yjs socket
        const live = await newToken(`live-${i}`);
        const ws = new WebSocket(`${node.url.replace(/^http/, 'ws')}/yjs/bench?token=${live.token}`, { perMessageDeflate: false });
        ws.on('error', () => undefined);
        await new Promise<void>((resolve, reject) => {
          ws.once('message', () => resolve()); // the server's sync step 1: the client is in the room
          ws.once('close', (code) => reject(new Error(`closed before joining: ${code}`)));
        });
        const closed = new Promise<{ at: number; code: number }>((resolve) => ws.once('close', (code) => resolve({ at: nowMs(), code })));
        t0 = nowMs();
        const d = await api(node.url, 'DELETE', `/api/tokens/${live.id}`);
        if (d.status !== 204) throw new Error(`revoke failed: ${d.status}`);
        const c = await closed;
        if (c.code !== 4401) throw new Error(`closed with ${c.code}, not 4401`);
        closes.push(c.at - t0);
      }
      const s = summarize(closes);
      const a = summarize(plain);
      return result({
        name: 'auth-revoke-close',
        unit: 'ms',
        value: s.p99,
        p50: s.p50,
        p99: s.p99,
        baseline: 'DELETE /api/tokens/:id with no open connection (send to 204)',
        baselineValue: a.p99,
        goal: '< 1000 ms',
        met: s.p99 < 1000,
        extra: { rounds: ROUNDS, maxMs: Math.round(s.max * 1000) / 1000, baselineP50: Math.round(a.p50 * 1000) / 1000 },
      });
    } finally {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default [revokeClose] satisfies BenchCase[];
