/** Pure pieces of the CLI: key=value patches, merge diffs, exit codes, tables/colors, progress math. */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assignmentsToPatch, editable, mergeDiff } from '../src/patch.js';
import { EXIT, exitCodeFor } from '../src/exit-codes.js';
import { colorEnabled, Output, renderTable } from '../src/output.js';
import { createProgress, formatPlainLine, rateAndEta } from '../src/progress.js';
import { parseTimeArg, parseUntil } from '../src/until.js';
import { escapeControls } from '../src/output.js';

/** RFC 7396 reference: applies a merge patch. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

describe('key=value assignments', () => {
  it('dotted keys nest; JSON values parse; text fields stay strings; null removes', () => {
    expect(assignmentsToPatch(['parameters.temperature=0.7', 'parameters.stop=["a","b"]', 'name=42', 'templates.greet=true', 'meta.flag=true', 'meta.note=hello world', 'templates.old=null'])).toEqual({
      parameters: { temperature: 0.7, stop: ['a', 'b'] },
      name: '42',
      templates: { greet: 'true', old: null },
      meta: { flag: true, note: 'hello world' },
    });
    expect(assignmentsToPatch(['systemMessage=a=b=c'])).toEqual({ systemMessage: 'a=b=c' });
  });

  it('rejects malformed assignments with USAGE', () => {
    for (const bad of [['novalue'], ['=x'], ['a..b=1'], ['__proto__.x=1'], ['a=1', 'a.b=2']]) {
      expect(() => assignmentsToPatch(bad)).toThrowError(expect.objectContaining({ code: 'USAGE' }));
    }
  });
});

describe('mergeDiff', () => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 }), tie('obj')),
    obj: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), tie('value'), { maxKeys: 4 }),
  }));

  it('applying the diff of (before, after) to before gives after (RFC 7396), for null-free documents', () => {
    fc.assert(
      fc.property(json.obj, json.obj, (before, after) => {
        const patch = mergeDiff(before as Record<string, unknown>, after as Record<string, unknown>);
        expect(applyMergePatch(before, patch)).toEqual(after);
      }),
      { numRuns: 300 },
    );
  });

  it('no change -> empty patch; computed fields are not editable', () => {
    expect(mergeDiff({ a: { b: 1 } }, { a: { b: 1 } })).toEqual({});
    expect(editable({ id: 'x', version: 'v', updatedAt: 't', updatedBy: 'u', deleted: false, labels: {}, name: 'n' })).toEqual({ name: 'n' });
  });
});

describe('exit codes', () => {
  it('maps error codes to the documented exit codes', () => {
    expect(exitCodeFor(undefined)).toBe(EXIT.ERROR);
    expect(exitCodeFor('USAGE')).toBe(EXIT.USAGE);
    expect(exitCodeFor('CONFIG_INVALID')).toBe(EXIT.USAGE);
    expect(exitCodeFor('VERIFY_DAMAGE')).toBe(EXIT.DAMAGE);
    expect(exitCodeFor('LOG_BACKUP_CORRUPT')).toBe(EXIT.DAMAGE);
    expect(exitCodeFor('PROFILE_NOT_FOUND')).toBe(EXIT.NOT_FOUND);
    expect(exitCodeFor('AUTH_FORBIDDEN')).toBe(EXIT.AUTH);
    expect(exitCodeFor('CRYPTO_BAD_PASSPHRASE')).toBe(EXIT.AUTH);
    expect(exitCodeFor('PROFILE_EXISTS')).toBe(EXIT.CONFLICT);
    expect(exitCodeFor('LOG_LOCKED')).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor('SERVER_UNREACHABLE')).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor('PROFILE_INVALID')).toBe(EXIT.INVALID);
    expect(exitCodeFor('REQUEST_INVALID')).toBe(EXIT.INVALID);
    expect(exitCodeFor('SOMETHING_ELSE')).toBe(EXIT.ERROR);
  });

  it('every error code in the exit code tables of docs/operations.md and apps/cli/README.md exits with its row', () => {
    const root = new URL('../../../', import.meta.url);
    let rows = 0;
    for (const doc of ['docs/operations.md', 'apps/cli/README.md']) {
      const text = readFileSync(new URL(doc, root), 'utf8');
      const table = text.slice(text.indexOf('| 0 | success |'));
      for (const line of table.split('\n')) {
        const m = /^\| (\d) \| [^|]+ \|([^|]*)\|/.exec(line);
        if (m === null) break;
        for (const [, code] of m[2]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) {
          expect([doc, code, exitCodeFor(code)]).toEqual([doc, code, Number(m[1])]);
          rows++;
        }
      }
    }
    expect(rows).toBeGreaterThan(40);
  });
});

describe('output', () => {
  it('colors only on a TTY, never with NO_COLOR, forced with FORCE_COLOR', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
  });

  it('tables align columns by visible width', () => {
    expect(renderTable(['ID', 'NAME'], [['a', 'Alpha'], ['bbb', null]])).toBe('ID   NAME\na    Alpha\nbbb  -');
  });

  it('--json prints one document on stdout and errors as JSON on stderr', () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out = new Output({ json: true, stdout, stderr, env: {} });
    out.result({ a: 1 }, () => out.line('human'));
    out.error('PROFILE_NOT_FOUND', 'nope', 'try again');
    expect(JSON.parse(String(stdout.read()))).toEqual({ a: 1 });
    expect(JSON.parse(String(stderr.read()))).toEqual({ error: { code: 'PROFILE_NOT_FOUND', message: 'nope', hint: 'try again' } });
  });
});

describe('progress', () => {
  it('rate and ETA', () => {
    expect(rateAndEta(0, 100, 1000)).toEqual({ rate: 0, etaSeconds: null });
    expect(rateAndEta(50, 100, 1000)).toEqual({ rate: 50, etaSeconds: 1 });
    expect(formatPlainLine('backup', 50, 200, 1000)).toBe('backup: 50/200 (25%) 50/s ETA 3s');
  });

  it('plain mode (not a TTY) prints at most one line per interval plus the final line', () => {
    let now = 0;
    const stream = new PassThrough();
    const p = createProgress({ label: 'verify', stream, intervalMs: 1000, clock: () => now });
    for (let i = 1; i <= 100; i++) {
      now += 25;
      p.update(i, 100);
    }
    p.stop();
    const lines = String(stream.read()).trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(5);
    expect(lines[lines.length - 1]).toMatch(/^verify: 100\/100 \(100%\)/);
  });
});

describe('restore --until', () => {
  it('digits are an lsn, ISO-8601 is a time, anything else is a usage error', () => {
    expect(parseUntil(undefined)).toEqual({});
    expect(parseUntil('42')).toEqual({ untilLsn: 42 });
    expect(parseUntil('2024-05-01T10:00:00Z')).toEqual({ untilTs: Date.parse('2024-05-01T10:00:00Z') });
    for (const bad of ['yesterday', '12abc', '', '99999999999999999999']) expect(() => parseUntil(bad)).toThrowError(expect.objectContaining({ code: 'USAGE' }));
  });
});

describe('audit --since/--until', () => {
  it('ISO-8601, ms and durations ago; anything else is a usage error naming the forms', () => {
    const now = Date.parse('2024-05-02T00:00:00Z');
    expect(parseTimeArg('--since', undefined, now)).toBeUndefined();
    expect(parseTimeArg('--since', '2024-05-01', now)).toBe(Date.parse('2024-05-01'));
    expect(parseTimeArg('--since', '2024-05-01T10:00:00Z', now)).toBe(Date.parse('2024-05-01T10:00:00Z'));
    expect(parseTimeArg('--since', '1714557600000', now)).toBe(1714557600000);
    expect(parseTimeArg('--since', '24h', now)).toBe(now - 86_400_000);
    expect(parseTimeArg('--since', '30m', now)).toBe(now - 1_800_000);
    expect(parseTimeArg('--since', '2w', now)).toBe(now - 14 * 86_400_000);
    for (const bad of ['yesterday', '', '2024-13-45', '5 days', '-1h', '1y', '2024-05-01Tjunk']) {
      expect(() => parseTimeArg('--since', bad, now)).toThrowError(expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('--since takes an ISO-8601 time') }));
    }
  });
});

describe('terminal escaping', () => {
  it('escapes C0 (but tab and newline), DEL, C1 and bidi controls; leaves other text alone', () => {
    expect(escapeControls('a\tb\nc')).toBe('a\tb\nc');
    expect(escapeControls('\u001b[2J\u0000\r\u007f\u0085\u202e\u2066x')).toBe('\\x1b[2J\\x00\\x0d\\x7f\\x85\\u202e\\u2066x');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = escapeControls(s);
        // nothing left that a terminal interprets, and printable text is untouched
        expect(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(e)).toBe(false);
        if (!/[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(s)) expect(e).toBe(s);
      }),
    );
  });

  it('Output escapes data on a TTY stream (keeping its own colors), not on a pipe', () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    const out = new Output({ json: false, stdout: tty, stderr: tty, env: { TERM: 'xterm' } });
    out.fields([['name', 'x\u001b]0;t\u0007']]);
    out.table(['A'], [['\u001b[31mred']]);
    out.line(`${out.style('bold', 'b')} \u001b[2J`);
    const text = String(tty.read());
    expect(text).toContain('x\\x1b]0;t\\x07');
    expect(text).toContain('\\x1b[31mred');
    expect(text).toContain('\u001b[1mb\u001b[22m \\x1b[2J');
    const pipe = new PassThrough();
    const raw = new Output({ json: false, stdout: pipe, stderr: pipe, env: {} });
    raw.line('x\u001b[2J');
    expect(String(pipe.read())).toBe('x\u001b[2J\n');
  });
});

describe('serve --log-format', () => {
  it('auto is pretty on a terminal and JSON otherwise; anything else is a usage error', async () => {
    const { resolveLogFormat } = await import('../src/commands/node.js');
    expect(resolveLogFormat(undefined, { isTTY: true })).toBe('pretty');
    expect(resolveLogFormat('auto', {})).toBe('json');
    expect(resolveLogFormat('json', { isTTY: true })).toBe('json');
    expect(resolveLogFormat('pretty', {})).toBe('pretty');
    expect(() => resolveLogFormat('xml', {})).toThrowError(expect.objectContaining({ code: 'USAGE' }));
  });
});
