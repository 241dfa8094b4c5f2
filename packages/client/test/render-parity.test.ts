/**
 * SDK render parity (issue 14): the SDK's local render (`client.render`, the shared render module
 * of @profilesync/model) and the node's `POST /api/profiles/:id/render` give the same answer for
 * the same profile, variables, template and selector: messages, the chat request body (model,
 * parameters incl. tools, response_format, logit_bias, stop, and parameters.extra at the top
 * level), warnings, or the same error code and details (missing variables, unknown template,
 * bad variable values). Checked with the SDK's sources and with its published bundle (dist,
 * which carries its own copy of the model package), on a real node; plus a fast-check property
 * over generated prompt texts (variables, escapes, stray braces, spaces) and variable sets.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ProfileSyncClient } from '@profilesync/client';
import { ModelErrorCode } from '@profilesync/model';
import { ERROR_STATUS } from '@profilesync/server';
import { MODEL_ERROR_STATUS } from '../src/errors.js';
import { admin, ensureBuilt, startNode, ADMIN, type TestNode } from './node.js';

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; status: number | undefined; details: Record<string, unknown> | undefined };
interface Call {
  variables?: Record<string, unknown>;
  template?: string;
  label?: string;
  version?: string;
}

let node: TestNode;
const clients: { name: string; ps: ProfileSyncClient }[] = [];

beforeAll(async () => {
  node = await startNode();
  await ensureBuilt();
  const dist = (await import(pathToFileURL(join(fileURLToPath(new URL('..', import.meta.url)), 'dist', 'index.js')).href)) as typeof import('@profilesync/client');
  clients.push({ name: 'sources', ps: createClient({ url: node.url, token: ADMIN }) });
  clients.push({ name: 'dist bundle', ps: dist.createClient({ url: node.url, token: ADMIN }) });
});
afterAll(async () => {
  for (const c of clients) await c.ps.close();
  await node?.destroy();
});

/** What the node answers, as an outcome. */
async function viaNode(id: string, call: Call): Promise<Outcome> {
  const body: Record<string, unknown> = {};
  if (call.variables !== undefined) body.variables = call.variables;
  if (call.template !== undefined) body.template = call.template;
  if (call.label !== undefined) body.label = call.label;
  if (call.version !== undefined) body.version = call.version;
  const r = await admin(node.url, 'POST', `/api/profiles/${encodeURIComponent(id)}/render`, body);
  if (r.status === 200) return { ok: true, value: r.body };
  return { ok: false, code: r.body.error.code, status: r.status, details: r.body.error.details };
}

/** What an SDK renders locally, as an outcome. */
async function viaSdk(ps: ProfileSyncClient, id: string, call: Call): Promise<Outcome> {
  const opts: { template?: string; label?: string; version?: string } = {};
  if (call.template !== undefined) opts.template = call.template;
  if (call.label !== undefined) opts.label = call.label;
  if (call.version !== undefined) opts.version = call.version;
  try {
    return { ok: true, value: await ps.render(id, call.variables as never, opts) };
  } catch (err) {
    const e = err as { code: string; status?: number; details?: Record<string, unknown> };
    return { ok: false, code: e.code, status: e.status, details: e.details };
  }
}

/** The node's error details carry extra context (the profile id); the SDK's must agree on what both carry, and on the status (an app maps errors by it wherever the render ran). */
function comparable(o: Outcome): unknown {
  if (o.ok) return o;
  const d = o.details ?? {};
  return { ok: false, code: o.code, status: o.status, missing: d.missing, template: d.template, variable: d.variable };
}

async function expectParity(id: string, call: Call): Promise<Outcome> {
  const want = await viaNode(id, call);
  for (const { name, ps } of clients) {
    const got = await viaSdk(ps, id, call);
    expect(comparable(got), `${name}: ${id} ${JSON.stringify(call)}`).toEqual(comparable(want));
    // the node's error names exactly the missing variables the SDK names
    if (!want.ok && want.code === 'PROFILE_RENDER_MISSING_VARIABLES') expect((got as { details?: { missing?: unknown } }).details?.missing).toEqual(want.details?.missing);
  }
  return want;
}

const full = {
  id: 'parity-full',
  modelId: 'gpt-4o',
  name: 'Parity full',
  systemMessage: 'You are {{agent}} for {{ product }}. Answer in {{language}}.',
  messages: [
    { role: 'developer', content: 'Policy for {{product}}: never reveal \\{{secrets}}; cite {{article}}.' },
    { role: 'user', content: 'Hi, I am {{customer}} (plan {{plan}}, {{{braces}}}).' },
    { role: 'assistant', content: 'Hello {{customer}}! Ünïcødé ✓ and emoji 🚀 stay as they are.' },
    { role: 'system', content: 'A second system message: {{ tone }}.' },
  ],
  templates: { followup: 'Follow up on ticket {{ticket}} for {{customer}}.', plain: 'No variables here.' },
  parameters: {
    temperature: 0.3,
    top_p: 0.9,
    max_tokens: 700,
    stop: ['###', '</answer>'],
    seed: 42,
    logit_bias: { '50256': -100 },
    tool_choice: 'auto',
    tools: [
      { type: 'function', function: { name: 'lookup_order', description: 'Find an order', parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'], additionalProperties: false }, strict: true } },
      { type: 'function', function: { name: 'refund', parameters: { type: 'object', properties: { amount: { type: 'number', minimum: 0 } } } } },
    ],
    response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true, schema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false } } },
    extra: { top_k: 40, provider: { route: 'eu', cache: true }, safe_prompt: false },
  },
};
const fullVars = { agent: 'Ada', product: 'Acme', language: 'English', article: 'KB-1', customer: 'Bob', plan: 'pro', braces: 'b', tone: 'calm' };

describe('SDK render = node render', () => {
  it("every code of the shared model/render module carries the node's status in the SDK", () => {
    expect(Object.keys(MODEL_ERROR_STATUS).sort()).toEqual(Object.values(ModelErrorCode).sort());
    for (const code of Object.values(ModelErrorCode)) expect([code, MODEL_ERROR_STATUS[code]]).toEqual([code, ERROR_STATUS[code]]);
  });

  it('a profile with messages of every role, templates, tools, response_format, logit_bias and extra', async () => {
    expect((await admin(node.url, 'POST', '/api/profiles', full)).status).toBe(201);
    const ok = await expectParity(full.id, { variables: fullVars });
    expect(ok.ok).toBe(true);
    const value = (ok as { value: any }).value;
    // what both produced is the documented shape: extra's keys at the top level of the request
    expect(value.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'developer', 'user', 'assistant', 'system']);
    expect(value.messages[1].content).toBe('Policy for Acme: never reveal {{secrets}}; cite KB-1.');
    expect(value.messages[2].content).toBe('Hi, I am Bob (plan pro, {b}).');
    expect(value.request).toMatchObject({ model: 'gpt-4o', top_k: 40, provider: { route: 'eu', cache: true }, safe_prompt: false, logit_bias: { '50256': -100 } });
    expect(value.request.extra).toBeUndefined();
    expect(value.warnings).toEqual([]);

    // a named template, numbers and booleans as values, unused variables (warnings in the same order)
    const t = await expectParity(full.id, { variables: { ...fullVars, ticket: 1234, unused: true, also_unused: 'x' }, template: 'followup' });
    expect((t as { value: any }).value.warnings).toEqual([
      { code: 'RENDER_UNUSED_VARIABLE', variable: 'unused' },
      { code: 'RENDER_UNUSED_VARIABLE', variable: 'also_unused' },
    ]);
    await expectParity(full.id, { variables: { ...fullVars, ticket: 7 }, template: 'plain' });

    // errors: the same code and details on both sides
    const missing = await expectParity(full.id, { variables: { agent: 'Ada' }, template: 'followup' });
    expect(missing).toMatchObject({ ok: false, code: 'PROFILE_RENDER_MISSING_VARIABLES', details: { missing: ['product', 'language', 'article', 'customer', 'plan', 'braces', 'tone', 'ticket'] } });
    expect(await expectParity(full.id, { variables: {} })).toMatchObject({ ok: false, code: 'PROFILE_RENDER_MISSING_VARIABLES' });
    expect(await expectParity(full.id, { variables: fullVars, template: 'nope' })).toMatchObject({ ok: false, code: 'PROFILE_TEMPLATE_NOT_FOUND' });
    expect(await expectParity(full.id, { variables: { ...fullVars, agent: { not: 'a string' } } })).toMatchObject({ ok: false, code: 'PROFILE_RENDER_INVALID' });
    expect(await expectParity(full.id, { variables: { ...fullVars, agent: null } })).toMatchObject({ ok: false, code: 'PROFILE_RENDER_INVALID', status: 400 });
    expect(await expectParity(full.id, { variables: {} })).toMatchObject({ status: 422 });
    expect(await expectParity(full.id, { variables: fullVars, template: 'nope' })).toMatchObject({ status: 404 });
  });

  it('the same result at a label, at @N and at a portable version after the profile moved on', async () => {
    const id = 'parity-refs';
    const created = await admin(node.url, 'POST', '/api/profiles', { ...full, id, name: 'Parity refs' });
    expect(created.status).toBe(201);
    expect((await admin(node.url, 'PUT', `/api/profiles/${id}/labels/production`, { version: created.body.version })).status).toBe(200);
    const edited = await admin(node.url, 'PATCH', `/api/profiles/${id}`, {
      systemMessage: 'Now {{agent}} only.',
      messages: [{ role: 'user', content: 'Just {{customer}}.' }],
      parameters: { temperature: 1, tools: null, response_format: null, extra: { top_k: 5 } },
    });
    expect(edited.status).toBe(200);
    const now = await expectParity(id, { variables: fullVars });
    expect((now as { value: any }).value.messages).toEqual([
      { role: 'system', content: 'Now Ada only.' },
      { role: 'user', content: 'Just Bob.' },
    ]);
    const labelled = await expectParity(id, { variables: fullVars, label: 'production' });
    expect((labelled as { value: any }).value.version).toBe(created.body.version);
    expect((labelled as { value: any }).value.messages).toHaveLength(5);
    await expectParity(id, { variables: fullVars, version: created.body.version });
    await expectParity(id, { variables: fullVars, version: '@1' });
    await expectParity(id, { variables: fullVars, version: edited.body.version, template: 'followup' });
    expect(await expectParity(id, { variables: fullVars, label: 'staging' })).toMatchObject({ ok: false, code: 'LABEL_NOT_FOUND' });
  });

  it('a profile with an empty systemMessage and no messages renders only the template, the same way', async () => {
    const id = 'parity-bare';
    expect((await admin(node.url, 'POST', '/api/profiles', { id, modelId: 'm', name: 'Bare', templates: { t: '{{a}}{{b}}\\{{c}}' } })).status).toBe(201);
    const r = await expectParity(id, { variables: { a: 1, b: false }, template: 't' });
    expect((r as { value: any }).value.messages).toEqual([{ role: 'user', content: '1false{{c}}' }]);
    expect((r as { value: any }).value.request).toEqual({ model: 'm', messages: [{ role: 'user', content: '1false{{c}}' }] });
    const none = await expectParity(id, {});
    expect((none as { value: any }).value.messages).toEqual([]);
  });

  it('property: generated prompt texts and variable sets render identically (or fail with the same code)', async () => {
    const id = 'parity-prop';
    expect((await admin(node.url, 'POST', '/api/profiles', { id, modelId: 'gpt-4o-mini', name: 'Parity property' })).status).toBe(201);
    const names = ['a', 'b_1', 'c.d', 'e-f', 'G'];
    const piece = fc.oneof(
      fc.constantFrom(...names).map((n) => `{{${n}}}`),
      fc.tuple(fc.constantFrom(...names), fc.nat(2), fc.nat(2)).map(([n, l, r]) => `{{${' '.repeat(l)}${n}${' '.repeat(r)}}}`),
      fc.constantFrom('\\{{', '{{', '}}', '{', '}', '\\', '{{ }}', '{{1x}}', '{{{a}}}', ' ', '\n', 'é', '🚀'),
      fc.string({ maxLength: 8 }).filter((s) => !s.includes('\u0000')),
    );
    const text = fc.array(piece, { maxLength: 8 }).map((xs) => xs.join(''));
    const value = fc.oneof(fc.string({ maxLength: 6 }), fc.integer({ min: -5, max: 5 }), fc.boolean());
    const seen = { compared: 0, rendered: 0, missing: 0 };
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.array(fc.record({ role: fc.constantFrom('system', 'developer', 'user', 'assistant'), content: text }), { maxLength: 3 }),
        text,
        fc.dictionary(fc.constantFrom(...names, 'unused'), value, { maxKeys: 6 }),
        fc.boolean(),
        async (system, messages, template, variables, withTemplate) => {
          const p = await admin(node.url, 'PATCH', `/api/profiles/${id}`, { systemMessage: system, messages, templates: { t: template } });
          if (p.status !== 200) return; // a text the node's string rules refuse (e.g. control characters) is not a render case
          const r = await expectParity(id, { variables, version: p.body.version, ...(withTemplate ? { template: 't' } : {}) });
          seen.compared++;
          if (r.ok) seen.rendered++;
          else if (r.code === 'PROFILE_RENDER_MISSING_VARIABLES') seen.missing++;
        },
      ),
      { numRuns: 60 },
    );
    // the property compared real renders and real missing-variable errors, not only refused patches
    expect(seen.compared).toBeGreaterThanOrEqual(40);
    expect(seen.rendered).toBeGreaterThan(0);
    expect(seen.missing).toBeGreaterThan(0);
  });
});
