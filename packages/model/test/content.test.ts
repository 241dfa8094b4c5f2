import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { contentIssues, isWellFormed, lineProblem, textProblem, v2Ref, validateContent, validateFields } from '../src/index.js';

const base = () => ({
  id: 'support-bot',
  modelId: 'gpt-4o',
  name: 'Support bot',
  description: 'd',
  systemMessage: 'You help.',
  templates: { greet: 'Hello {{name}}' },
  messages: [
    { id: 'm1', role: 'user', content: 'Hi' },
    { id: 'm2', role: 'assistant', content: 'Hello' },
  ],
  parameters: { temperature: 0.5 },
  labels: { production: v2Ref('support-bot', new Uint8Array([1])), legacy: 'v1.AAEC' },
  meta: { tags: ['support'] },
  deleted: false,
});

const rules = (c: unknown) => contentIssues(c).map((i) => `${i.path}:${i.rule}`);

describe('content v2', () => {
  it('accepts a full profile', () => {
    expect(contentIssues(base())).toEqual([]);
    expect(validateContent(base())).toEqual(base());
  });

  it('validateFields with the valid content before a patch: changed parameters are checked, the same values are not checked again, the cross-key rule always runs', () => {
    const stop = ['###'];
    const before = { ...base(), parameters: { temperature: 0.5, stop, extra: { vendor_x: 1 } } } as never;
    const next = (parameters: Record<string, unknown>) => ({ ...base(), parameters } as never);
    const codes = (c: unknown, valid?: unknown) => {
      try {
        validateFields(c as never, ['parameters'], valid as never);
        return [];
      } catch (err) {
        return ((err as { details?: { issues?: { path: string; rule: string }[] } }).details?.issues ?? []).map((i) => `${i.path}:${i.rule}`);
      }
    };
    // a changed key is checked as without `valid`
    expect(codes(next({ temperature: 7, stop, extra: { vendor_x: 1 } }), before)).toEqual(codes(next({ temperature: 7, stop, extra: { vendor_x: 1 } })));
    expect(codes(next({ temperature: 7, stop, extra: { vendor_x: 1 } }), before)).toContain('parameters.temperature:too_big');
    expect(codes(next({ temperature: 0.5, stop, extra: { vendor_x: 1 }, temprature: 1 }), before)).toEqual(['parameters.temprature:unknown-parameter']);
    // a known key moved into extra beside the same top-level key is refused even though neither value changed
    expect(codes(next({ temperature: 0.5, stop, extra: { temperature: 0.5 } }), before)).toEqual(['parameters.extra.temperature:extra-known-key']);
    // unchanged values pass (they were valid before), changed valid ones too
    expect(codes(next({ temperature: 1.5, stop, extra: { vendor_x: 1 } }), before)).toEqual([]);
  });

  it('checks messages: roles, ids, unique ids, exact keys', () => {
    expect(rules({ ...base(), messages: [{ id: 'a', role: 'robot', content: 'x' }] })).toEqual(['messages.0.role:invalid_value']);
    expect(rules({ ...base(), messages: [{ role: 'user', content: 'x' }] })).toEqual(['messages.0.id:invalid_format']);
    expect(rules({ ...base(), messages: [{ id: 'a', role: 'user', content: 'x' }, { id: 'a', role: 'user', content: 'y' }] })).toEqual(['messages.1.id:duplicate']);
    expect(rules({ ...base(), messages: [{ id: 'a', role: 'user', content: 'x', name: 'n' }] })).toEqual(['messages.0.name:unknown-key']);
    expect(rules({ ...base(), messages: [{ id: 'a', role: 'user', content: 5 }] })).toEqual(['messages.0.content:invalid_type']);
    expect(rules({ ...base(), messages: {} })).toEqual(['messages:invalid_type']);
  });

  it('label values must be version refs of this profile (or legacy v1 refs)', () => {
    expect(rules({ ...base(), labels: { prod: 'not-a-version' } })).toEqual(['labels.prod:label-value']);
    expect(rules({ ...base(), labels: { prod: v2Ref('other', new Uint8Array([1])) } })).toEqual(['labels.prod:label-value']);
    expect(rules({ ...base(), labels: { prod: '@1' } })).toEqual(['labels.prod:label-value']);
    expect(rules({ ...base(), labels: { Prod: 'v1.AA' } })).toEqual(['labels.Prod:label-name']);
    expect(rules({ ...base(), labels: { latest: 'v1.AA' } })).toEqual(['labels.latest:label-name']);
  });

  it('refuses lone surrogates and NUL in every string, control characters in modelId and name', () => {
    expect(rules({ ...base(), systemMessage: 'a\ud800b' })).toEqual(['systemMessage:lone-surrogate']);
    expect(rules({ ...base(), systemMessage: 'a\udc00' })).toEqual(['systemMessage:lone-surrogate']);
    expect(rules({ ...base(), description: 'a\u0000b' })).toEqual(['description:nul']);
    expect(rules({ ...base(), messages: [{ id: 'a', role: 'user', content: '\ud83d' }] })).toEqual(['messages.0.content:lone-surrogate']);
    expect(rules({ ...base(), parameters: { extra: { k: 'x\ud800' } } })).toEqual(['parameters.extra.k:lone-surrogate']);
    expect(rules({ ...base(), parameters: { extra: { ['k\ud800']: 1 } } })).toEqual(['parameters.extra.k\ud800:key-name']);
    expect(rules({ ...base(), templates: { t: '\u0000' } })).toEqual(['templates.t:nul']);
    expect(rules({ ...base(), modelId: 'gpt\u0000' })).toEqual(['modelId:nul']);
    expect(rules({ ...base(), modelId: 'gpt\u001b[31m' })).toEqual(['modelId:control-character']);
    expect(rules({ ...base(), name: 'a\rb' })).toEqual(['name:control-character']);
    expect(rules({ ...base(), name: 'a\u0085b' })).toEqual(['name:control-character']);
    expect(rules({ ...base(), name: 'a\u007fb' })).toEqual(['name:control-character']);
    // kept: tab and newline in names; escapes, CR and others in text fields; valid pairs everywhere
    expect(rules({ ...base(), name: 'a\tb\nc', systemMessage: 'red: \u001b[31m\r\n', description: '😀' })).toEqual([]);
  });

  it('agrees with String.prototype.isWellFormed (property)', () => {
    const units = fc.array(fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0xd800, 0xdbff, 0xdc00, 0xdfff)), { maxLength: 12 });
    fc.assert(
      fc.property(units, (codes) => {
        const s = String.fromCharCode(...codes);
        const expected = (s as unknown as { isWellFormed(): boolean }).isWellFormed();
        expect(isWellFormed(s)).toBe(expected);
        expect(textProblem(s) === 'lone-surrogate').toBe(!expected && !s.includes('\u0000'));
        if (!expected) expect(lineProblem(s)).toBeDefined();
      }),
      { numRuns: 500 },
    );
  });

  it('names unknown and missing fields', () => {
    const { deleted: _d, ...noDeleted } = base();
    expect(rules({ ...noDeleted, extra: 1 })).toEqual(['extra:unknown-field', 'deleted:required']);
  });

  it('reports a size rule as PROFILE_TOO_LARGE and others as PROFILE_INVALID', () => {
    expect(() => validateContent({ ...base(), description: 'x'.repeat(64 * 1024 + 1) })).toThrow(expect.objectContaining({ code: 'PROFILE_TOO_LARGE' }));
    expect(() => validateContent({ ...base(), parameters: { temperature: 9 } })).toThrow(expect.objectContaining({ code: 'PROFILE_INVALID' }));
  });

  it('validates only the fields asked for', () => {
    const c = { ...base(), name: '' } as ReturnType<typeof base>;
    expect(() => validateFields(c as never, ['systemMessage'])).not.toThrow();
    expect(() => validateFields(c as never, ['name'])).toThrow(expect.objectContaining({ code: 'PROFILE_INVALID', details: expect.objectContaining({ path: 'name' }) }));
  });
});
