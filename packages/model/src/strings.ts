/**
 * String rules shared by every write path (HTTP, CLI, /yjs, peers, import), so a string is
 * treated the same way wherever it arrives:
 * - a lone surrogate (a UTF-16 string that is not valid Unicode) becomes U+FFFD on every path:
 *   Yjs encodes strings as UTF-8, so a /yjs client's lone surrogate already arrives as U+FFFD,
 *   and the node normalizes API input the same way (wellFormed) before it validates; the
 *   validator refuses what is left (a caller that skipped the normalization);
 * - no NUL (U+0000) anywhere (C strings, many databases and LLM APIs cut or refuse it);
 * - single-line identifiers (modelId, name) also refuse the other control characters
 *   (C0 except tab and newline, DEL, C1), which otherwise reach terminals and logs raw.
 * Text fields (systemMessage, description, templates, message content) keep the other control
 * characters: a prompt is data handed verbatim to a model, and every display surface escapes
 * them (the CLI on a terminal, the dashboard renders text, JSON escapes them).
 */

const SURROGATES = /[\ud800-\udfff]/g;
/** C0 except \t and \n, DEL, C1. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** String.prototype.isWellFormed (ES2024; Node 20+, current browsers). */
const NATIVE_WELL_FORMED = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';
type Es2024String = string & { isWellFormed(): boolean };

/** Whether every surrogate in `s` is part of a pair. */
export function isWellFormed(s: string): boolean {
  if (NATIVE_WELL_FORMED) return (s as Es2024String).isWellFormed();
  SURROGATES.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = SURROGATES.exec(s)) !== null) {
    const c = s.charCodeAt(m.index);
    if (c >= 0xdc00) return false; // a low surrogate not consumed as the second half of a pair
    const next = s.charCodeAt(m.index + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
    SURROGATES.lastIndex = m.index + 2;
  }
  return true;
}

export type StringProblem = 'lone-surrogate' | 'nul' | 'control-character';

/**
 * The problem of a text-field string, or undefined when it is acceptable. Two scans the engine
 * does natively (a search for NUL, and the well-formedness check, immediate for a one-byte string)
 * instead of one regular expression with NUL in its class, which V8 scans character by character
 * (about 20 times slower on a long prompt, and this runs on every write of a text field).
 */
export function textProblem(s: string): StringProblem | undefined {
  if (s.includes('\u0000')) return 'nul';
  return isWellFormed(s) ? undefined : 'lone-surrogate';
}

/** The problem of a single-line identifier (modelId, name), or undefined. */
export function lineProblem(s: string): StringProblem | undefined {
  if (CONTROL.test(s)) return s.includes('\u0000') ? 'nul' : 'control-character';
  return textProblem(s);
}

export const STRING_PROBLEM_MESSAGE: Record<StringProblem, string> = {
  'lone-surrogate': 'contains a lone UTF-16 surrogate (not valid Unicode)',
  nul: 'contains a NUL character (U+0000)',
  'control-character': 'contains a control character (only tab and newline are allowed)',
};

function toWellFormed(s: string): string {
  const f = (s as { toWellFormed?: () => string }).toWellFormed;
  if (typeof f === 'function') return f.call(s);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
    }
    out += c >= 0xd800 && c <= 0xdfff ? '\ufffd' : s[i]!;
  }
  return out;
}

/**
 * The value with every lone surrogate in its strings and object keys replaced by U+FFFD (what a
 * UTF-8 round trip, and so the Yjs wire format, does). Returns the value itself when nothing
 * changes (the common case costs one regex test per string).
 */
export function wellFormed<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return (isWellFormed(value) ? value : toWellFormed(value)) as T;
  if (value === null || typeof value !== 'object' || depth > 64) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = wellFormed(value[i] as unknown, depth + 1);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return (out ?? value) as T;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  let out: Record<string, unknown> | undefined;
  const src = value as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    const nk = wellFormed(k);
    const v = wellFormed(src[k], depth + 1);
    if (nk !== k || v !== src[k]) {
      if (out === undefined) {
        out = {};
        for (const k2 of Object.keys(src)) out[wellFormed(k2)] = src[k2];
      }
      if (nk !== k) delete out[k];
      out[nk] = v;
    }
  }
  return (out ?? value) as T;
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/**
 * Common prefix and suffix lengths of two different strings, never splitting a surrogate pair
 * (Y.Text would turn a split pair into U+FFFD; a display would show two halves). Pure: the
 * core's text edits and the dashboard's conflict view share it.
 */
export function commonEnds(a: string, b: string): { prefix: number; suffix: number } {
  const max = Math.min(a.length, b.length);
  let prefix = 0;
  while (prefix < max && a.charCodeAt(prefix) === b.charCodeAt(prefix)) prefix++;
  if (prefix > 0 && isHigh(a.charCodeAt(prefix - 1))) prefix--;
  let suffix = 0;
  const room = max - prefix;
  while (suffix < room && a.charCodeAt(a.length - 1 - suffix) === b.charCodeAt(b.length - 1 - suffix)) suffix++;
  if (suffix > 0 && isLow(a.charCodeAt(a.length - suffix))) suffix--;
  return { prefix, suffix };
}
