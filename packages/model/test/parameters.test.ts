import { describe, expect, it } from 'vitest';
import { KNOWN_PARAMETERS, parameterIssues, upgradeParameters, validateContent } from '../src/index.js';

const ok = (parameters: unknown): void => expect(parameterIssues(parameters)).toEqual([]);
const bad = (parameters: unknown, path: string, rule?: string): void => {
  const issues = parameterIssues(parameters);
  expect(issues.length, JSON.stringify(parameters)).toBeGreaterThan(0);
  expect(issues[0]).toMatchObject(rule === undefined ? { path } : { path, rule });
};

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] } }, required: ['city'], additionalProperties: false },
    strict: true,
  },
};

describe('parameters v2', () => {
  it('accepts every known key with a good value', () => {
    const all = {
      temperature: 0.7,
      top_p: 1,
      max_tokens: 100,
      max_completion_tokens: 200,
      stop: ['\n\n', 'END'],
      seed: -3,
      presence_penalty: -2,
      frequency_penalty: 2,
      logit_bias: { '50256': -100, '0': 5 },
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'number' } } }, strict: true } },
      tools: [weather, { type: 'custom', custom: { name: 'grammar_tool', format: { type: 'text' } } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      reasoning_effort: 'low',
      verbosity: 'high',
      n: 2,
      user: 'u-1',
      logprobs: true,
      top_logprobs: 5,
      modalities: ['text', 'audio'],
      audio: { voice: 'alloy', format: 'mp3' },
      service_tier: 'flex',
      store: false,
      metadata: { team: 'support' },
      prediction: { type: 'content', content: 'x' },
      prompt_cache_key: 'k',
      safety_identifier: 's',
      web_search_options: {},
      extra: { top_k: 40, repetition_penalty: 1.1, 'vendor.option': { nested: [1, 'two', null] } },
    };
    ok(all);
    expect(Object.keys(all).filter((k) => k !== 'extra').sort()).toEqual([...KNOWN_PARAMETERS].sort());
    ok({ stop: 'END' });
    ok({ response_format: { type: 'json_object' } });
    ok({ tool_choice: 'required' });
  });

  it('refuses out-of-range and mistyped values', () => {
    bad({ temperature: 2.5 }, 'parameters.temperature', 'too_big');
    bad({ temperature: '0.5' }, 'parameters.temperature', 'invalid_type');
    bad({ top_p: -0.1 }, 'parameters.top_p', 'too_small');
    bad({ max_tokens: 1.5 }, 'parameters.max_tokens', 'invalid_type');
    bad({ max_tokens: 0 }, 'parameters.max_tokens', 'too_small');
    bad({ n: 0 }, 'parameters.n');
    bad({ stop: [1] }, 'parameters.stop.0', 'invalid_type');
    bad({ stop: Array(17).fill('x') }, 'parameters.stop', 'max-items');
    bad({ logit_bias: '{"50256": -100}' }, 'parameters.logit_bias', 'invalid_type');
    bad({ logit_bias: { abc: 1 } }, 'parameters.logit_bias.abc', 'key-name');
    bad({ logit_bias: { '1': 101 } }, 'parameters.logit_bias.1', 'too_big');
    bad({ reasoning_effort: 'max' }, 'parameters.reasoning_effort', 'invalid_value');
    bad({ tool_choice: 'sometimes' }, 'parameters.tool_choice', 'invalid_value');
    bad({ modalities: ['text', 'text'] }, 'parameters.modalities', 'duplicate');
    bad({ response_format: { type: 'yaml' } }, 'parameters.response_format.type', 'invalid_value');
    bad({ response_format: { type: 'json_schema', json_schema: { name: 'bad name' } } }, 'parameters.response_format.json_schema.name', 'invalid_format');
    // the message gives the shape the rule accepts: schema is optional (a name alone is accepted)
    ok({ response_format: { type: 'json_schema', json_schema: { name: 'n' } } });
    expect(parameterIssues({ response_format: { type: 'json_schema' } })[0]).toMatchObject({ path: 'parameters.response_format.json_schema', message: 'must be an object { name, description?, schema?, strict? }' });
    bad({ temperature: Number.NaN }, 'parameters.temperature', 'invalid_type');
    bad({ temperature: null }, 'parameters.temperature', 'invalid_type');
  });

  it('refuses an unknown key with a did-you-mean, or points at extra', () => {
    const [typo] = parameterIssues({ temprature: 0.5 });
    expect(typo).toMatchObject({ path: 'parameters.temprature', rule: 'unknown-parameter', suggestion: "did you mean 'temperature'?" });
    expect(parameterIssues({ maxtokens: 5 })[0]?.suggestion).toBe("did you mean 'max_tokens'?");
    expect(parameterIssues({ top_pp: 0.9 })[0]).toMatchObject({ rule: 'unknown-parameter', suggestion: "did you mean 'top_p'?" });
    // another provider's parameter a letter from a known one is not a typo: extra, no "did you mean"
    expect(parameterIssues({ top_k: 40 })[0]).toMatchObject({ rule: 'unknown-parameter', suggestion: 'a model-specific key goes under parameters.extra.top_k' });
    expect(parameterIssues({ min_p: 0.05 })[0]).toMatchObject({ rule: 'unknown-parameter', suggestion: 'a model-specific key goes under parameters.extra.min_p' });
    expect(parameterIssues({ repetition_penalty: 1.1 })[0]).toMatchObject({ rule: 'unknown-parameter', suggestion: 'a model-specific key goes under parameters.extra.repetition_penalty' });
    // the coded error carries the suggestion in its message
    const content = { id: 'p', modelId: 'm', name: 'n', description: '', systemMessage: '', templates: {}, messages: [], parameters: { temprature: 0.5 }, labels: {}, meta: {}, deleted: false };
    expect(() => validateContent(content)).toThrow(/did you mean 'temperature'/);
    expect(() => validateContent(content)).toThrow(expect.objectContaining({ code: 'PROFILE_INVALID', details: expect.objectContaining({ path: 'parameters.temprature', rule: 'unknown-parameter' }) }));
  });

  it('keeps extra for any JSON; a known key there is a raw override, but not beside the same top-level key', () => {
    ok({ extra: { top_k: 40, weird: { deep: [[{ a: true }]] } } });
    ok({ extra: { temperature: 3 } });
    bad({ temperature: 1, extra: { temperature: 3 } }, 'parameters.extra.temperature', 'extra-known-key');
    bad({ extra: { model: 'x' } }, 'parameters.extra.model', 'key-name');
    bad({ extra: { 'bad key': 1 } }, 'parameters.extra.bad key', 'key-name');
    bad({ extra: { f: () => 1 } }, 'parameters.extra.f', 'invalid_type');
    bad({ extra: { d: new Date() } }, 'parameters.extra.d', 'invalid_type');
    bad({ extra: [1] }, 'parameters.extra', 'invalid_type');
  });

  it('checks tool parameters and json_schema schemas as draft 2020-12 JSON Schema', () => {
    const withSchema = (schema: unknown) => ({ tools: [{ type: 'function', function: { name: 't', parameters: schema } }] });
    ok(withSchema({ type: 'object', $defs: { x: { type: 'string' } }, properties: { a: { $ref: '#/$defs/x' }, b: { prefixItems: [{ type: 'number' }] } } }));
    bad(withSchema({ type: 'objekt' }), 'parameters.tools.0.function.parameters.type', 'json-schema');
    bad(withSchema({ type: 'object', properties: { a: { minLength: -1 } } }), 'parameters.tools.0.function.parameters.properties.a.minLength', 'json-schema');
    bad(withSchema({ type: 'object', properties: { a: { $ref: 'https://example.com/s.json' } } }), 'parameters.tools.0.function.parameters.properties.a.$ref', 'json-schema');
    bad(withSchema({ $schema: 'http://json-schema.org/draft-07/schema#' }), 'parameters.tools.0.function.parameters.$schema', 'json-schema');
    bad(withSchema('object'), 'parameters.tools.0.function.parameters', 'json-schema');
    ok(withSchema({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', enum: [{ $ref: 'not-a-ref-just-data' }] }));
    bad({ response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { required: 'a' } } } }, 'parameters.response_format.json_schema.schema.required', 'json-schema');
  });

  it('refuses malformed and duplicate tools', () => {
    bad({ tools: [weather, weather] }, 'parameters.tools.1', 'duplicate');
    bad({ tools: [{ type: 'function', function: { name: 'a b' } }] }, 'parameters.tools.0.function.name', 'invalid_format');
    bad({ tools: [{ type: 'function', function: { name: 'a', descripton: 'x' } }] }, 'parameters.tools.0.function.descripton', 'unknown-key');
    bad({ tools: [{ type: 'retrieval' }] }, 'parameters.tools.0.type', 'invalid_value');
    bad({ tools: {} }, 'parameters.tools', 'invalid_type');
  });

  it('up-converts v1 parameters: valid known keys stay, everything else moves under extra', () => {
    expect(upgradeParameters({ temperature: 0.5, top_k: 40, n: 'three', stop: ['x'], flag: true, tags: ['a'] })).toEqual({
      temperature: 0.5,
      stop: ['x'],
      extra: { top_k: 40, n: 'three', flag: true, tags: ['a'] },
    });
    expect(upgradeParameters({})).toEqual({});
    expect(upgradeParameters({ temperature: 1 })).toEqual({ temperature: 1 });
  });
});
