import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTENT_KEYS, fastContent, fastField } from '../src/fast-valid.js';
import type { ProfileContent } from '../src/model.js';
import { contentSchema, FIELD_LIMITS as L } from '../src/schema.js';

const FIELDS = contentSchema.shape;

/** Lengths at and around every limit the schema has. */
const lengths = [0, 1, 63, 64, 65, 128, 129, 255, 256, 257, 4095, 4096, 4097, L.descriptionChars, L.descriptionChars + 1, L.templateChars, L.templateChars + 1];
const boundaryString = fc.oneof(
  fc.constantFrom(...lengths).map((n) => 'a'.repeat(n)),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', 'gpt-4o', 'latest', 'production', '__proto__', 'constructor', 'a b', '9x', '_x', 'X.y-z', 'é', '😀'),
);
const numbers = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-3, -2.5, -2.000001, -2, -1, -0, 0, 0.5, 1, 1.000001, 1.5, 2, 2.000001, 2.5, 3, L.maxTokens, L.maxTokens + 1, 2 ** 53, -(2 ** 53), Number.NaN, Infinity, -Infinity),
  fc.double({ min: -4, max: 4, noNaN: true }),
);
const key = fc.oneof(
  fc.constantFrom('temperature', 'top_p', 'max_tokens', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'tags', 'owner', 'greet', 'production', 'latest', '__proto__', 'constructor', '1abc', 'a'.repeat(64), 'a'.repeat(65)),
  fc.string({ maxLength: 8 }),
);
const leaf = fc.oneof(
  boundaryString,
  numbers,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(boundaryString, { maxLength: 20 }),
  fc.array(fc.string({ maxLength: 3 }), { minLength: 14, maxLength: 70 }),
  fc.array(fc.oneof(boundaryString, numbers), { maxLength: 4 }),
);
const odd = fc.constantFrom<unknown>(
  Object.assign(Object.create(null) as object, { greet: 'hi' }),
  Object.assign(Object.create({ inherited: 1 }) as object, { greet: 'hi' }),
  { [Symbol('s')]: 'x', greet: 'hi' },
  JSON.parse('{"__proto__": "x"}') as unknown,
  { constructor: () => 1 },
  { constructor: 'x' },
  new Map([['a', 'b']]),
  ['a'],
  Array.from({ length: 70 }, (_, i) => `k${i}`).reduce<Record<string, number>>((o, k) => ((o[k] = 1), o), {}),
);
/** many keys that match every key pattern, to cross the key-count limits (64, 100) */
const manyKeys = fc.integer({ min: 60, max: 110 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v'])));
const knownParams = fc.record(
  { temperature: numbers, top_p: numbers, max_tokens: numbers, seed: numbers, presence_penalty: numbers, frequency_penalty: numbers, stop: fc.array(boundaryString, { maxLength: 20 }) },
  { requiredKeys: [] },
);
const record = fc.oneof(knownParams,fc.dictionary(key, leaf, { maxKeys: 6 }), fc.dictionary(key, numbers, { maxKeys: 4 }), manyKeys, odd, leaf);

describe('fast validity pre-check', () => {
  it('accepts only what the zod schema accepts, field by field', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CONTENT_KEYS), fc.oneof(record, leaf), (field, value) => {
        if (fastField(field, value)) expect(FIELDS[field].safeParse(value).success).toBe(true);
      }),
      { numRuns: 3000, seed: 20251121 },
    );
  });

  const valid: ProfileContent = {
    id: 'p1',
    modelId: 'gpt-4o',
    name: 'Bot',
    description: 'd',
    systemMessage: 'You are helpful.',
    templates: { greet: 'Hello {{name}}' },
    parameters: { temperature: 0.7, top_p: 1, max_tokens: 1024, stop: ['###'], seed: 3, presence_penalty: 0, frequency_penalty: -0.5, vendor_mode: 'x', flag: true, none: null },
    labels: { production: 'v1.AAAA' },
    meta: { tags: ['a', 'b'], owner: 'me' },
    deleted: false,
  };

  it('accepts only what the strict content schema accepts', () => {
    const mutated = fc.record({ field: fc.constantFrom(...CONTENT_KEYS, 'extra'), value: fc.oneof(record, leaf), drop: fc.boolean() });
    fc.assert(
      fc.property(mutated, ({ field, value, drop }) => {
        const c: Record<string, unknown> = { ...valid };
        if (drop) delete c[field];
        else c[field] = value;
        if (fastContent(c)) expect(contentSchema.safeParse(c).success).toBe(true);
      }),
      { numRuns: 3000, seed: 7 },
    );
  });

  it('accepts only what zod accepts when one key of a valid map changes', () => {
    const maps = ['templates', 'parameters', 'labels', 'meta'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...maps), key, leaf, (field, k, value) => {
        const m = { ...(valid[field] as Record<string, unknown>), [k]: value };
        if (fastField(field, m)) expect(FIELDS[field].safeParse(m).success).toBe(true);
      }),
      { numRuns: 4000, seed: 11 },
    );
  });

  it('accepts only what zod accepts on a grid of boundary keys and values', () => {
    const keys = ['temperature', 'top_p', 'max_tokens', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'tags', 'owner', 'greet', 'production', 'latest', '__proto__', 'Prod', '1abc', '_x', 'a'.repeat(64), 'a'.repeat(65), ''];
    const nums = [-3, -2.5, -2.000001, -2, -1, 0, 0.5, 1, 1.000001, 1.5, 2, 2.000001, 2.5, 3, L.maxTokens, L.maxTokens + 1, 2 ** 53 - 1, 2 ** 53, Number.NaN, Infinity];
    const strs = [0, 1, 64, 65, 256, 257, 4096, 4097].map((n) => 'a'.repeat(n));
    const arrays = [0, 1, 16, 17, 64, 65].map((n) => Array.from({ length: n }, () => 'x'));
    const longItems = [64, 65, 256, 257, 4096, 4097].map((n) => ['a'.repeat(n)]);
    const values: unknown[] = [...nums, ...strs, ...arrays, ...longItems, [''], [1], null, true, undefined, {}, { a: 1 }];
    const maps = ['templates', 'parameters', 'labels', 'meta'] as const;
    let fast = 0;
    for (const field of maps) {
      for (const k of keys) {
        for (const value of values) {
          const m = { ...(valid[field] as Record<string, unknown>), [k]: value };
          if (!fastField(field, m)) continue;
          fast++;
          expect(FIELDS[field].safeParse(m).success, `${field}.${k} = ${JSON.stringify(value)?.slice(0, 40)}`).toBe(true);
        }
      }
    }
    expect(fast).toBeGreaterThan(100);
  });

  it('takes the fast path for ordinary valid content (so zod is skipped on the hot path)', () => {
    expect(contentSchema.safeParse(valid).success).toBe(true);
    expect(fastContent(valid)).toBe(true);
    for (const k of CONTENT_KEYS) expect(fastField(k, valid[k])).toBe(true);
  });

  it('leaves every invalid value to zod', () => {
    const bad: [keyof ProfileContent, unknown][] = [
      ['parameters', { temperature: 2.5 }],
      ['parameters', { max_tokens: 0 }],
      ['parameters', { seed: 0.5 }],
      ['parameters', { 'bad key': 1 }],
      ['parameters', { x: { nested: true } }],
      ['meta', { tags: 'prod' }],
      ['meta', { tags: [''] }],
      ['labels', { latest: 'v1.A' }],
      ['labels', { Prod: 'v1.A' }],
      ['templates', { greet: 1 }],
      ['name', ''],
      ['id', 'bad id'],
      ['deleted', 'no'],
    ];
    for (const [k, v] of bad) {
      expect(fastField(k, v)).toBe(false);
      expect(FIELDS[k].safeParse(v).success).toBe(false);
    }
  });
});
