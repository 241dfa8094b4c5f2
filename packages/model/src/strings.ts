/**
 * String rules shared by every write path (HTTP, CLI, /yjs, peers, import), so a string is
 * refused the same way wherever it arrives:
 * - no lone surrogates anywhere (a UTF-16 string that is not valid Unicode is read back
 *   differently by different encoders: JSON keeps "\ud800", a UTF-8 round trip gives U+FFFD);
 * - no NUL (U+0000) anywhere (C strings, many databases and LLM APIs cut or refuse it);
 * - single-line identifiers (modelId, name) also refuse the other control characters
 *   (C0 except tab and newline, DEL, C1), which otherwise reach terminals and logs raw.
 * Text fields (systemMessage, description, templates, message content) keep the other control
 * characters: a prompt is data handed verbatim to a model, and every display surface escapes
 * them (the CLI on a terminal, the dashboard renders text, JSON escapes them).
 */

const LONE_OR_NUL = /[\u0000\ud800-\udfff]/;
const SURROGATES = /[\ud800-\udfff]/g;
/** C0 except \t and \n, DEL, C1. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Whether every surrogate in `s` is part of a pair. */
export function isWellFormed(s: string): boolean {
  const f = (s as { isWellFormed?: () => boolean }).isWellFormed;
  if (typeof f === 'function') return f.call(s);
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

/** The problem of a text-field string, or undefined when it is acceptable. */
export function textProblem(s: string): StringProblem | undefined {
  if (!LONE_OR_NUL.test(s)) return undefined;
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
