import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileTemplate, render, templateVariables, type RenderableProfile } from '../src/index.js';

const profile = (over: Partial<RenderableProfile> = {}): RenderableProfile => ({
  id: 'support-bot',
  version: 'v2.AAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB',
  modelId: 'gpt-4o',
  systemMessage: 'You are {{persona}}.',
  messages: [
    { id: 'm1', role: 'user', content: 'Hello, I am {{ name }}.' },
    { id: 'm2', role: 'assistant', content: 'Hi {{name}}!' },
  ],
  templates: { followup: 'Ticket {{ticket}}: {{name}}' },
  parameters: { temperature: 0.2, tools: [{ type: 'function', function: { name: 'lookup' } }], extra: { top_k: 40 } },
  ...over,
});

describe('render', () => {
  it('puts a non-empty systemMessage first, then the messages, then the named template as a user message', () => {
    const r = render(profile(), { persona: 'a helper', name: 'Ada', ticket: 7 }, { template: 'followup' });
    expect(r.messages).toEqual([
      { role: 'system', content: 'You are a helper.' },
      { role: 'user', content: 'Hello, I am Ada.' },
      { role: 'assistant', content: 'Hi Ada!' },
      { role: 'user', content: 'Ticket 7: Ada' },
    ]);
    expect(r.warnings).toEqual([]);
    expect(r).toMatchObject({ id: 'support-bot', modelId: 'gpt-4o', version: profile().version });
    // the exact chat completions body: model, messages, known parameters, extra keys at the top level
    expect(r.request).toEqual({
      model: 'gpt-4o',
      messages: r.messages,
      temperature: 0.2,
      tools: [{ type: 'function', function: { name: 'lookup' } }],
      top_k: 40,
    });
  });

  it('leaves out an empty systemMessage', () => {
    const r = render(profile({ systemMessage: '' }), { name: 'x' });
    expect(r.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('lists every missing variable once, in order of first use, with code PROFILE_RENDER_MISSING_VARIABLES', () => {
    expect(() => render(profile(), {})).toThrow(expect.objectContaining({ code: 'PROFILE_RENDER_MISSING_VARIABLES', details: expect.objectContaining({ missing: ['persona', 'name'] }) }));
    expect(() => render(profile(), { persona: 'p', name: 'n' }, { template: 'followup' })).toThrow(
      expect.objectContaining({ code: 'PROFILE_RENDER_MISSING_VARIABLES', details: expect.objectContaining({ missing: ['ticket'] }) }),
    );
  });

  it('lists 60,000 distinct missing variables (used twice each, across fields) once each, in order of first use', () => {
    const names = Array.from({ length: 60_000 }, (_, i) => `v${i}`);
    const half = names.length / 2;
    const p = profile({
      systemMessage: names.slice(0, half).map((n) => `{{${n}}}`).join(' '),
      messages: [{ id: 'm1', role: 'user', content: [...names.slice(half), ...names].map((n) => `{{${n}}}`).join(' ') }],
      templates: {},
    });
    let err: { code?: string; details?: { missing?: string[] } } | undefined;
    try {
      render(p, {});
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.code).toBe('PROFILE_RENDER_MISSING_VARIABLES');
    expect(err?.details?.missing).toEqual(names);
  });

  it('warns about variables nothing used (templates not rendered do not count)', () => {
    const r = render(profile(), { persona: 'p', name: 'n', ticket: '1', extra: 'e' });
    expect(r.warnings).toEqual([
      { code: 'RENDER_UNUSED_VARIABLE', variable: 'ticket' },
      { code: 'RENDER_UNUSED_VARIABLE', variable: 'extra' },
    ]);
  });

  it('treats \\{{ as a literal {{ and keeps other backslashes', () => {
    const p = profile({ systemMessage: 'Write \\{{name}} literally, then {{name}}; C:\\path \\n', messages: [] });
    expect(render(p, { name: 'Ada' }).messages[0]!.content).toBe('Write {{name}} literally, then Ada; C:\\path \\n');
  });

  it('leaves {{ that does not open a variable as text', () => {
    const p = profile({ systemMessage: '{{ }} {{1x}} {{a b}} {{{x}}} {{x', messages: [] });
    expect(render(p, { x: 'X' }).messages[0]!.content).toBe('{{ }} {{1x}} {{a b}} {X} {{x');
  });

  it('warns about {{...}} that looks like a variable but is none (sent to the model as typed)', () => {
    const p = profile({
      systemMessage: 'You help {{ customer name }} of {{company}}.',
      messages: [
        { id: 'm1', role: 'user', content: '{{#if vip}}VIP{{/if}} {{ lang | upper }} {{1x}} {{name}' },
        { id: 'm2', role: 'user', content: 'fine: \\{{a b}} {{{company}}} {"a":{"b":1}} {{x' },
      ],
      templates: { t: 'Reply to {{ticket id}}' },
    });
    const r = render(p, { company: 'Acme' }, { template: 't' });
    // the text still goes out as written; each malformed one is named with where it is, in render order
    expect(r.messages[0]!.content).toBe('You help {{ customer name }} of Acme.');
    expect(r.warnings).toEqual([
      { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{ customer name }}', path: 'systemMessage' },
      { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{#if vip}}', path: 'messages.m1.content' },
      { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{/if}}', path: 'messages.m1.content' },
      { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{ lang | upper }}', path: 'messages.m1.content' },
      { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{1x}}', path: 'messages.m1.content' },
      { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{name}', path: 'messages.m1.content' },
      { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{ticket id}}', path: 'templates.t' },
    ]);
    // unused variables come after, as before; a frozen (cached) view warns the same on every render
    const frozen = Object.freeze(profile({ systemMessage: 'Hi {{ first name }}', messages: [] }));
    for (let i = 0; i < 2; i++) {
      expect(render(frozen, { extra: 1 }).warnings).toEqual([
        { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{ first name }}', path: 'systemMessage' },
        { code: 'RENDER_UNUSED_VARIABLE', variable: 'extra' },
      ]);
    }
  });

  it('warns first when the caller says the rendered state has open conflicts (a merge nobody wrote)', () => {
    const r = render(profile({ systemMessage: 'Hi {{ first name }}' }), { name: 'n', extra: 1 }, { openConflicts: 2 });
    expect(r.warnings).toEqual([
      { code: 'RENDER_OPEN_CONFLICTS', conflicts: 2 },
      { code: 'RENDER_MALFORMED_VARIABLE', variable: '{{ first name }}', path: 'systemMessage' },
      { code: 'RENDER_UNUSED_VARIABLE', variable: 'extra' },
    ]);
    expect(render(profile(), { persona: 'p', name: 'n' }, { openConflicts: 0 }).warnings).toEqual([]);
  });

  it('accepts names with dots and dashes and optional inner spaces', () => {
    expect(templateVariables('{{a.b}} {{  c-d  }} {{_e}} {{a.b}}')).toEqual(['a.b', 'c-d', '_e']);
  });

  it('does not read inherited properties as variables', () => {
    const p = profile({ systemMessage: '{{toString}} {{constructor}}', messages: [] });
    expect(() => render(p, {})).toThrow(expect.objectContaining({ details: expect.objectContaining({ missing: ['toString', 'constructor'] }) }));
  });

  it('refuses variables that are not strings, finite numbers or booleans', () => {
    for (const bad of [{ a: { nested: 1 } }, { a: null }, { a: [1] }, { a: Number.NaN }, [1], 'x']) {
      expect(() => render(profile(), bad as never)).toThrow(expect.objectContaining({ code: 'PROFILE_RENDER_INVALID' }));
    }
  });

  it('refuses a template the profile does not define', () => {
    expect(() => render(profile(), { persona: 'p', name: 'n' }, { template: 'nope' })).toThrow(expect.objectContaining({ code: 'PROFILE_TEMPLATE_NOT_FOUND' }));
    expect(() => render(profile(), { persona: 'p', name: 'n' }, { template: 'toString' })).toThrow(expect.objectContaining({ code: 'PROFILE_TEMPLATE_NOT_FOUND' }));
  });

  it('gives the same result for a frozen (cached) view as for a fresh one', () => {
    const frozen = Object.freeze(profile());
    const vars = { persona: 'p', name: 'n', ticket: 't' };
    const a = render(frozen, vars, { template: 'followup' });
    const b = render(frozen, vars, { template: 'followup' });
    expect(b).toEqual(a);
    expect(render(profile(), vars, { template: 'followup' })).toEqual(a);
  });

  it('equals a naive replace loop when every variable is given (property)', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/);
    const chunk = fc.oneof(fc.string({ maxLength: 8 }).filter((s) => !s.includes('{') && !s.includes('\\') && !s.includes('}')), name.map((n) => `{{${n}}}`));
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 12 }), fc.dictionary(name, fc.string({ maxLength: 6 })), (parts, given) => {
        const text = parts.join('');
        const vars: Record<string, string> = { ...given };
        for (const n of templateVariables(text)) vars[n] ??= `<${n}>`;
        let naive = text;
        for (const [k, v] of Object.entries(vars)) naive = naive.split(`{{${k}}}`).join(v);
        const r = render(profile({ systemMessage: '', messages: [{ id: 'm', role: 'user', content: text }] }), vars);
        expect(r.messages[0]!.content).toBe(naive);
      }),
      { numRuns: 300 },
    );
  });

  it('compiles a text without {{ to the string itself', () => {
    const s = 'no variables here';
    expect(compileTemplate(s)).toBe(s);
  });
});
