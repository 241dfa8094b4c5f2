/**
 * Where code generation from strings is forbidden (the dashboard's Content-Security-Policy has
 * no 'unsafe-eval'), Ajv cannot compile the draft 2020-12 meta-schema. The check then reports
 * one stable issue (the dashboard leaves that check to the node), prints nothing (Ajv's
 * logger would print the whole generated function on every attempt) and does not try to
 * compile again on the next check (the editor checks on every keystroke).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

type Model = typeof import('../src/index.js');

const tool = (parameters: unknown) => ({ tools: [{ type: 'function', function: { name: 'lookup', parameters } }] });

/** A fresh copy of the model package (its Ajv state is per module instance). */
async function freshModel(): Promise<Model> {
  vi.resetModules();
  return import('../src/index.js');
}

/**
 * Runs `fn` while `new Function(...)` (and `Function(...)`) throws the EvalError a browser
 * throws under a CSP without 'unsafe-eval'; returns fn's result and how often code generation was tried.
 */
function withoutCodeGeneration<T>(fn: () => T): { result: T; attempts: number } {
  const real = globalThis.Function;
  let attempts = 0;
  const refuse = (): never => {
    attempts++;
    throw new EvalError("Refused to evaluate a string as JavaScript because 'unsafe-eval' is not an allowed source of script in the following Content Security Policy directive: \"script-src 'self'\".");
  };
  globalThis.Function = new Proxy(real, { construct: refuse, apply: refuse });
  try {
    return { result: fn(), attempts };
  } finally {
    globalThis.Function = real;
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('JSON Schema checks where code generation is forbidden', () => {
  it('report the same issue on every check, compile once, and print nothing', async () => {
    const model = await freshModel();
    const printed: unknown[][] = [];
    for (const level of ['error', 'warn', 'log', 'info', 'debug'] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void printed.push(args));
    }
    const { result: runs, attempts } = withoutCodeGeneration(() =>
      Array.from({ length: 20 }, (_, i) => model.parameterIssues(tool({ type: 'object', properties: { [`q${i}`]: { type: 'string' } } }))),
    );
    expect(attempts).toBe(1);
    expect(printed).toEqual([]);
    const first = runs[0]!;
    expect(first).toEqual([
      expect.objectContaining({ path: 'parameters.tools.0.function.parameters', rule: 'json-schema', message: expect.stringMatching(/^not a valid JSON Schema \(draft 2020-12\): Refused to evaluate a string as JavaScript because 'unsafe-eval'/) }),
    ]);
    for (const r of runs) expect(r).toEqual(first);
    // the checks that need no compiled validator still run (a non-object schema, a foreign
    // $schema, every other parameter rule) without trying to compile again
    const { result: other, attempts: again } = withoutCodeGeneration(() => [
      model.parameterIssues(tool('object')),
      model.parameterIssues(tool({ $schema: 'http://json-schema.org/draft-07/schema#' })),
      model.parameterIssues({ temperature: 5 }),
    ]);
    expect(again).toBe(0);
    expect(other.map((issues) => issues.map((i) => [i.path, i.rule]))).toEqual([
      [['parameters.tools.0.function.parameters', 'json-schema']],
      [['parameters.tools.0.function.parameters.$schema', 'json-schema']],
      [['parameters.temperature', expect.any(String)]],
    ]);
  });

  it('where code generation works, the same checks pass and fail as before', async () => {
    const model = await freshModel();
    expect(model.parameterIssues(tool({ type: 'object', properties: { q: { type: 'string' } } }))).toEqual([]);
    expect(model.parameterIssues(tool({ type: 'objekt' }))).toEqual([expect.objectContaining({ path: 'parameters.tools.0.function.parameters.type', rule: 'json-schema' })]);
    expect(model.parameterIssues(tool({ $schema: 'https://json-schema.org/draft/2020-12/schema#', type: 'object' }))).toEqual([]);
    expect(model.parameterIssues(tool({ type: 'object', properties: { a: { $ref: 'https://example.com/s.json' } } }))).toEqual([
      expect.objectContaining({ path: 'parameters.tools.0.function.parameters.properties.a.$ref', rule: 'json-schema' }),
    ]);
  });
});
