/**
 * http-get-profile: autocannon (its CLI, in its own process) against GET /api/profiles/:id of
 * a real node listening in a CHILD process (load generator, server and this bench process do
 * not share a thread or a heap). Anchor, same run: a bare Fastify route in a child process returning a constant
 * JSON body of the same bytes; the ratio is the cost of auth + store + serialization.
 *
 * Knobs: BENCH_HTTP_SECONDS (default 10), BENCH_HTTP_CONNECTIONS (default 16).
 * When BENCH_HTTP_CHILD is set this file runs as the child ('node' or 'bare') instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { result, type BenchCase, type BenchResult } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'bench-admin-token-0123456789abcdef';
const PROFILE_ID = 'bench-profile';

function profileBody(): Record<string, unknown> {
  return {
    id: PROFILE_ID,
    modelId: 'gpt-4o-2024-08-06',
    name: 'Customer support assistant',
    description: 'Answers billing and account questions for the support desk; escalates anything about refunds over the limit.',
    systemMessage: `You are a helpful, precise support assistant. ${'Follow the policy, cite the relevant article, and never invent account details. '.repeat(12)}`,
    templates: {
      greeting: 'Hello {{customer_name}}, thanks for contacting {{company}} support. How can I help today?',
      escalation: 'I am handing this conversation to a specialist ({{team}}). Reference: {{ticket_id}}.',
      summary: 'Summarize the conversation in three bullet points for the ticket {{ticket_id}}.',
    },
    parameters: { temperature: 0.3, top_p: 0.9, max_tokens: 1024, stop: ['\n\nUser:'], seed: 42, presence_penalty: 0, frequency_penalty: 0.2 },
    meta: { tags: ['support', 'billing'], owner: 'support-team' },
  };
}

// ---------------------------------------------------------------- child processes
async function runChild(kind: string): Promise<void> {
  if (kind === 'node') {
    const { defaultConfig, startServer } = await import('@profilesync/server');
    const dir = mkdtempSync(join(tmpdir(), 'ps-bench-http-'));
    const server = await startServer(defaultConfig({ dataDir: join(dir, 'data'), port: 0, logLevel: 'warn' }), { env: {}, adminToken: TOKEN, onAdminToken: () => undefined });
    const res = await fetch(`${server.url}/api/profiles`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(profileBody()) });
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
    const body = await (await fetch(`${server.url}/api/profiles/${PROFILE_ID}`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    process.stdout.write(`${JSON.stringify({ url: server.url, bytes: Buffer.byteLength(body), body })}\n`);
    const stop = () => void server.close().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
    process.on('SIGTERM', stop);
    process.stdin.on('end', stop);
    process.stdin.resume();
    return;
  }
  // bare Fastify: the same body, constant, no auth, no store
  // fastify is a dependency of apps/server, not of the root: resolve it from there
  type Reply = { type(t: string): { send(b: string): unknown } };
  type App = { get(p: string, h: (req: unknown, reply: Reply) => Promise<unknown>): void; listen(o: { host: string; port: number }): Promise<string>; server: { address(): unknown }; close(): Promise<void> };
  const Fastify = createRequire(join(ROOT, 'apps/server/package.json'))('fastify') as (o: Record<string, unknown>) => App;
  const body = process.env.BENCH_HTTP_BODY ?? '{}';
  const app = Fastify({ logger: false });
  app.get('/api/profiles/:id', async (_req, reply) => reply.type('application/json; charset=utf-8').send(body));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, bytes: Buffer.byteLength(body) })}\n`);
  const stop = () => void app.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

if (process.env.BENCH_HTTP_CHILD) await runChild(process.env.BENCH_HTTP_CHILD);

// ---------------------------------------------------------------- parent (the bench)
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}
const SELF = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);

function spawnChild(kind: 'node' | 'bare', extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; info: { url: string; bytes: number; body?: string } }> {
  const child = spawn(process.execPath, ['--conditions=@profilesync/source', '--import', 'tsx', SELF], {
    cwd: ROOT,
    env: { ...process.env, BENCH_HTTP_CHILD: kind, ...extraEnv },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, info: JSON.parse(line) }));
    child.once('exit', (code) => reject(new Error(`${kind} child exited with ${code}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.stdin!.end();
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/**
 * Runs autocannon in its own process (its CLI with --json), so the load generator's GC and
 * event loop are neither the server's nor this bench process's (which holds earlier cases' heaps).
 */
function load(url: string, seconds: number, connections: number, headers: Record<string, string>): Promise<AutocannonResult> {
  const cli = join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
  const args = [cli, '--json', '-c', String(connections), '-d', String(seconds), '-p', '1'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}: ${err.slice(-500)}`));
      const r = JSON.parse(out) as AutocannonResult;
      if (r.non2xx > 0 || r.errors > 0) return reject(new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`));
      resolve(r);
    });
  });
}

const cases: BenchCase[] = [
  {
    name: 'http-get-profile',
    async run(): Promise<BenchResult> {
      const seconds = Number(process.env.BENCH_HTTP_SECONDS ?? 10);
      const connections = Number(process.env.BENCH_HTTP_CONNECTIONS ?? 16);
      const node = await spawnChild('node');
      let bare: Awaited<ReturnType<typeof spawnChild>> | undefined;
      try {
        bare = await spawnChild('bare', { BENCH_HTTP_BODY: node.info.body ?? '{}' });
        const headers = { authorization: `Bearer ${TOKEN}` };
        const target = `${node.info.url}/api/profiles/${PROFILE_ID}`;
        const anchor = `${bare.info.url}/api/profiles/${PROFILE_ID}`;
        await load(target, 2, connections, headers); // warm-up (JIT, caches)
        await load(anchor, 2, connections, {});
        const a = await load(anchor, seconds, connections, {});
        const r = await load(target, seconds, connections, headers);
        const p99 = r.latency.p99;
        return result({
          name: 'http-get-profile',
          unit: 'ops/s',
          value: r.requests.average,
          baseline: 'bare Fastify route, same body (child process)',
          baselineValue: a.requests.average,
          goal: '>= 10000 req/s with p99 < 5 ms',
          met: r.requests.average >= 10_000 && p99 < 5,
          extra: {
            p50_ms: r.latency.p50,
            p99_ms: p99,
            max_ms: r.latency.max,
            baseline_p99_ms: a.latency.p99,
            body_bytes: node.info.bytes,
            connections,
            seconds,
            requests: r.requests.total,
          },
        });
      } finally {
        await stopChild(node.child);
        if (bare) await stopChild(bare.child);
      }
    },
  },
];

export default process.env.BENCH_HTTP_CHILD ? [] : cases;
