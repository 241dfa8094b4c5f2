/**
 * docs/sdk.md's example app, run as written: the `// app.mjs` block is extracted from the doc
 * and started as its own Node process (importing the built package) against a real node and a
 * stub OpenAI-compatible chat endpoint on 127.0.0.1. It answers with the production label's
 * prompt, caches the answer by profile version, follows a label move live, and keeps answering
 * while the node is stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { admin, ensureBuilt, startNode, until, ADMIN, type TestNode } from './node.js';

const PKG = fileURLToPath(new URL('..', import.meta.url));
const DOC = join(PKG, '..', '..', 'docs', 'sdk.md');

let node: TestNode;
let stub: Server;
let stubUrl: string;
const modelCalls: any[] = [];
let app: ChildProcess | undefined;
let dir: string;

function exampleSource(): string {
  const md = readFileSync(DOC, 'utf8');
  const m = /```js\n(\/\/ app\.mjs\n[\s\S]*?)```/.exec(md);
  if (!m) throw new Error('docs/sdk.md has no ```js block starting with // app.mjs');
  return m[1]!;
}

beforeAll(async () => {
  await ensureBuilt();
  node = await startNode();
  stub = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const request = JSON.parse(body);
      modelCalls.push({ path: req.url, auth: req.headers.authorization, request });
      const question = request.messages[request.messages.length - 1].content;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: `stub answer #${modelCalls.length} to: ${question}` } }] }));
    });
  });
  await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
  stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/v1`;
  dir = mkdtempSync(join(tmpdir(), 'ps-example-'));
  mkdirSync(join(dir, 'node_modules', '@profilesync'), { recursive: true });
  symlinkSync(PKG, join(dir, 'node_modules', '@profilesync', 'client'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module","private":true}');
  writeFileSync(join(dir, 'app.mjs'), exampleSource());
}, 120_000);

afterAll(async () => {
  if (app && app.exitCode === null) {
    const exited = new Promise((r) => app!.once('exit', r));
    app.kill('SIGTERM'); // the example's own shutdown path
    await exited;
  }
  await node?.destroy();
  stub?.closeAllConnections();
  await new Promise((r) => stub?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function ask(base: string, q: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/answer?q=${encodeURIComponent(q)}`);
  return { status: res.status, body: await res.json() };
}

it('the example app in docs/sdk.md answers with the production prompt, caches by version and follows label moves', async () => {
  const v1 = (await admin(node.url, 'POST', '/api/profiles', {
    id: 'support',
    modelId: 'gpt-4o-mini',
    name: 'Support',
    systemMessage: 'You are a support agent.',
    templates: { answer: 'Customer question: {{question}}' },
    parameters: { temperature: 0.1 },
  })).body.version;
  await admin(node.url, 'PUT', '/api/profiles/support/labels/production', { version: v1 });
  const viewer = await admin(node.url, 'POST', '/api/tokens', { name: 'example-app', role: 'viewer', profiles: ['support'] });

  app = spawn(process.execPath, ['app.mjs'], {
    cwd: dir,
    env: { ...process.env, PROFILESYNC_URL: node.url, PROFILESYNC_TOKEN: viewer.body.token, OPENAI_BASE_URL: stubUrl, OPENAI_API_KEY: 'sk-test', PORT: '0' },
  });
  let out = '';
  let err = '';
  app.stdout!.on('data', (b) => (out += b));
  app.stderr!.on('data', (b) => (err += b));
  await until(() => /listening on (http:\/\/\S+)/.test(out), `the app to listen (stderr: ${err})`);
  const base = /listening on (http:\/\/\S+)/.exec(out)![1]!;

  const first = await ask(base, 'How do refunds work?');
  expect(first).toEqual({ status: 200, body: { answer: 'stub answer #1 to: Customer question: How do refunds work?', profileVersion: v1 } });
  expect(modelCalls[0]).toMatchObject({
    path: '/v1/chat/completions',
    auth: 'Bearer sk-test',
    request: {
      model: 'gpt-4o-mini',
      temperature: 0.1,
      messages: [
        { role: 'system', content: 'You are a support agent.' },
        { role: 'user', content: 'Customer question: How do refunds work?' },
      ],
    },
  });
  // the same question with the same profile version: the cached answer, no model call
  expect((await ask(base, 'How do refunds work?')).body.answer).toBe(first.body.answer);
  expect(modelCalls).toHaveLength(1);

  // a new prompt is shipped by moving the label: the live client follows it
  await admin(node.url, 'PATCH', '/api/profiles/support', { systemMessage: 'You are a concise support agent.' });
  const v2 = (await admin(node.url, 'GET', '/api/profiles/support')).body.version;
  await admin(node.url, 'PUT', '/api/profiles/support/labels/production', { version: v2 });
  await until(async () => (await ask(base, 'How do refunds work?')).body.profileVersion === v2, 'the label move to reach the app');
  expect(modelCalls).toHaveLength(2);
  expect(modelCalls[1].request.messages[0]).toEqual({ role: 'system', content: 'You are a concise support agent.' });

  // the node goes away: the app keeps answering from what it has
  await node.stop();
  const during = await ask(base, 'Is my order shipped?');
  expect(during.status).toBe(200);
  expect(during.body.profileVersion).toBe(v2);
  expect(modelCalls[2].request.messages[0].content).toBe('You are a concise support agent.');

  // bad input gets the render module's code
  const r = await fetch(`${base}/nope`);
  expect(r.status).toBe(404);
});
