/**
 * Render (issue 12.3; the SDK's local render, issue 14): a profile of 20 messages and 10
 * variables, rendered again and again while it is hot.
 *
 * render         `await store.render(id, variables)` on an open store: the hot view (LRU hit),
 *                the shared render module of @profilesync/model (prompt compiled once per frozen
 *                view), the `rendered` event behind the metrics, the chat request body. Per-call
 *                µs, p99 as the value. Goal (issue 12): p99 <= 50 µs in-process.
 * render-client  `await client.render(id, variables)` of @profilesync/client with the profile
 *                cached (a node in this process serves the first fetch only; nothing is fetched
 *                while measuring).
 *
 * Anchor of both, same run, samples interleaved: the bare template fill of the same 21 strings
 * (systemMessage + 20 messages) with String.prototype.replace and a regular expression, into
 * the same { role, content } array — the floor of "fill {{variables}} into these texts". The
 * case fails unless the render and the anchor produce the same message contents.
 * `extra` carries the pure render function of @profilesync/model called directly on the view.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type ProfileInput, type ProfileView } from '@profilesync/core';
import { render as renderModel } from '@profilesync/model';
import { createClient } from '@profilesync/client';
import { defaultConfig, startServer } from '@profilesync/server';
import { gc, result, summarize, type BenchCase } from './harness.js';

const ctx = { actor: 'bench', origin: 'local' };
const TOKEN = 'bench-render-token-0123456789abcdef';
const envInt = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : dflt;
};

const VARS = ['customer', 'product', 'plan', 'ticket', 'language', 'tone', 'agent', 'region', 'order_id', 'deadline'];
const variables: Record<string, string> = Object.fromEntries(VARS.map((v, i) => [v, `${v}-value-${i}`]));

/** 20 messages (user/assistant turns, ~150-300 characters each) using the 10 variables. */
function hotProfile(id: string): ProfileInput {
  const filler = 'Keep the answer short, cite the knowledge-base article and never promise a refund without approval. ';
  const messages = Array.from({ length: 20 }, (_, i) => ({
    role: i % 2 === 0 ? ('user' as const) : ('assistant' as const),
    content: `Turn ${i}: {{${VARS[i % 10]}}} asks about {{ ${VARS[(i + 3) % 10]} }}. ${filler.slice(0, 60 + ((i * 37) % 120))} Literal \\{{not_a_variable}} stays.`,
  }));
  return {
    id,
    modelId: 'gpt-4o-mini',
    name: 'Render bench',
    systemMessage: `You are {{agent}}, a support agent for {{product}} answering in {{language}} with a {{tone}} tone. ${filler.repeat(5)}`,
    messages,
    templates: { followup: 'Follow up on ticket {{ticket}} before {{deadline}}.' },
    parameters: {
      temperature: 0.2,
      max_tokens: 512,
      response_format: { type: 'json_object' },
      tools: [{ type: 'function', function: { name: 'lookup_order', description: 'Find an order', parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] } } }],
    },
  };
}

/** The anchor: the same texts filled with String.prototype.replace. */
function bareFill(texts: readonly { role: string; content: string }[]): () => { role: string; content: string }[] {
  const RE = /(\\)?\{\{ *([A-Za-z_][A-Za-z0-9_.-]*) *\}\}/g;
  const sub = (m: string, esc: string | undefined, name: string): string => (esc ? m.slice(1) : (variables[name] as string));
  return () => {
    const out = new Array<{ role: string; content: string }>(texts.length);
    for (let i = 0; i < texts.length; i++) out[i] = { role: texts[i]!.role, content: texts[i]!.content.replace(RE, sub) };
    return out;
  };
}

function texts(view: ProfileView): { role: string; content: string }[] {
  return [{ role: 'system', content: view.systemMessage }, ...view.messages.map((m) => ({ role: m.role, content: m.content }))];
}

function sameContents(a: readonly { content: string }[], b: readonly { content: string }[], what: string): void {
  if (a.length !== b.length || a.some((m, i) => m.content !== b[i]!.content)) throw new Error(`${what}: render and anchor differ`);
}

/**
 * Times `subject` (awaited) and `anchor` one call per sample, interleaved (alternating which goes
 * first), so the shared machine's noise hits both alike. Returns µs samples.
 */
async function interleave(subject: () => Promise<unknown>, anchor: () => unknown, samples: number, direct?: () => unknown): Promise<{ s: number[]; a: number[]; d: number[] }> {
  const s: number[] = [];
  const a: number[] = [];
  const d: number[] = [];
  const timeS = async () => {
    const t0 = process.hrtime.bigint();
    await subject();
    s.push(Number(process.hrtime.bigint() - t0) / 1000);
  };
  const timeA = () => {
    const t0 = process.hrtime.bigint();
    anchor();
    a.push(Number(process.hrtime.bigint() - t0) / 1000);
  };
  const timeD = () => {
    if (!direct) return;
    const t0 = process.hrtime.bigint();
    direct();
    d.push(Number(process.hrtime.bigint() - t0) / 1000);
  };
  for (let i = 0; i < 2000; i++) {
    await subject();
    anchor();
    direct?.();
  }
  gc();
  for (let i = 0; i < samples; i++) {
    if (i % 2 === 0) {
      await timeS();
      timeA();
      timeD();
    } else {
      timeD();
      timeA();
      await timeS();
    }
  }
  return { s, a, d };
}

const storeRender: BenchCase = {
  name: 'render',
  async run() {
    const dir = await mkdtemp(join(tmpdir(), 'bench-render-'));
    const store = await openStore({ dir });
    try {
      await store.create(hotProfile('render-bench'), ctx);
      const view = await store.get('render-bench');
      if (view.messages.length !== 20) throw new Error(`expected 20 messages, got ${view.messages.length}`);
      const anchor = bareFill(texts(view));
      const first = await store.render('render-bench', variables);
      if (first.warnings.length !== 0) throw new Error(`unexpected warnings ${JSON.stringify(first.warnings)}`);
      sameContents(first.messages, anchor(), 'render');
      const SAMPLES = envInt('BENCH_RENDER_SAMPLES', 20_000);
      const { s, a, d } = await interleave(
        () => store.render('render-bench', variables),
        anchor,
        SAMPLES,
        () => renderModel(store.get('render-bench') as ProfileView, variables),
      );
      const r = summarize(s);
      const b = summarize(a);
      const m = summarize(d);
      return renderResult('render', r, b, { messages: first.messages.length, samples: SAMPLES, modelRenderP50: Number(m.p50.toFixed(3)), modelRenderP99: Number(m.p99.toFixed(3)) });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** Both render cases' result: p99 in µs against the bare fill's p99 (issue 12's goal). */
function renderResult(name: string, r: { p50: number; p99: number }, b: { p50: number; p99: number }, extra: Record<string, number>) {
  return result({
    name,
    unit: 'us',
    value: r.p99,
    p50: r.p50,
    p99: r.p99,
    baseline: 'bare String.prototype.replace fill of the same 21 texts',
    baselineValue: b.p99,
    goal: 'p99 <= 50 us in-process (20 messages, 10 variables)',
    met: r.p99 <= 50,
    extra: { ...extra, variables: VARS.length, anchorP50: Number(b.p50.toFixed(3)) },
  });
}

const clientRender: BenchCase = {
  name: 'render-client',
  async run() {
    const dir = await mkdtemp(join(tmpdir(), 'bench-render-client-'));
    const server = await startServer(defaultConfig({ dataDir: join(dir, 'data'), port: 0, logLevel: 'silent' }), { env: {}, adminToken: TOKEN, onAdminToken: () => undefined, sync: false });
    const client = createClient({ url: server.url, token: TOKEN, ttlMs: 3_600_000 });
    try {
      const res = await fetch(`${server.url}/api/profiles`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(hotProfile('render-bench')) });
      if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
      const view = (await client.get('render-bench')) as unknown as ProfileView;
      const anchor = bareFill(texts(view));
      const first = await client.render('render-bench', variables);
      sameContents(first.messages, anchor(), 'render-client');
      const misses = client.stats().misses;
      const SAMPLES = envInt('BENCH_RENDER_SAMPLES', 20_000);
      const { s, a } = await interleave(() => client.render('render-bench', variables), anchor, SAMPLES);
      if (client.stats().misses !== misses) throw new Error('the client fetched while measuring');
      const r = summarize(s);
      const b = summarize(a);
      return renderResult('render-client', r, b, { messages: first.messages.length, samples: SAMPLES });
    } finally {
      await client.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export default [storeRender, clientRender];
