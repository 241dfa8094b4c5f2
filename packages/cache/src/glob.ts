/**
 * Glob patterns for keys() / invalidatePattern(), one definition for every backend:
 *
 *   *        any run of characters, including none and including ':'
 *   ?        exactly one character (one Unicode code point)
 *   [abc]    one of a, b, c          [a-z]  one in the range (inclusive)
 *   [!abc]   one character not listed ([^abc] is the same)
 *   \x       the character x literally (so \* matches a star, \\ a backslash)
 *
 * Inside a class, a ']' right after '[' / '[!' / '[^' is literal, and so is a '-' at
 * either end. A pattern is invalid (CACHE_INVALID_PATTERN) when it is not a string, is
 * empty, is longer than the limit, holds control characters, ends with a lone '\',
 * has an unclosed '[', or a range whose end is below its start.
 *
 * The memory cache matches with the compiled RegExp. Redis gets a MATCH pattern that
 * is a superset (each '?' and class widened to '*', literals escaped, behind the escaped
 * prefix) and every SCAN result is filtered with the same RegExp, so both backends
 * answer identically, whatever Redis' byte-wise matching would say about non-ASCII.
 */
import { CacheErrorCode, cacheError } from './errors.js';
import { hasControlChars } from './validate.js';

type ClassItem = { from: number; to: number };
type Token =
  | { t: 'lit'; cp: number }
  | { t: 'star' }
  | { t: 'any' }
  | { t: 'class'; negate: boolean; items: ClassItem[] };

export interface CompiledGlob {
  readonly source: string;
  readonly regex: RegExp;
  /** Redis MATCH pattern for the part after the prefix (a superset of the glob). */
  readonly redisMatch: string;
  /** the literal key when the pattern has no wildcard, else undefined */
  readonly literal: string | undefined;
  test(key: string): boolean;
}

export const DEFAULT_MAX_PATTERN_LENGTH = 2048;

function invalid(pattern: string, reason: string, at?: number): Error {
  const details: Record<string, unknown> = { rule: reason };
  if (at !== undefined) details.at = at;
  return cacheError(CacheErrorCode.INVALID_PATTERN, `invalid glob pattern ${JSON.stringify(pattern)}: ${reason}`, details);
}

function parse(pattern: string): Token[] {
  const cps = Array.from(pattern, (c) => c.codePointAt(0) as number);
  const out: Token[] = [];
  let i = 0;
  while (i < cps.length) {
    const c = cps[i] as number;
    if (c === 0x5c /* \ */) {
      if (i + 1 >= cps.length) throw invalid(pattern, 'trailing backslash', i);
      out.push({ t: 'lit', cp: cps[i + 1] as number });
      i += 2;
    } else if (c === 0x2a /* * */) {
      if (out[out.length - 1]?.t !== 'star') out.push({ t: 'star' });
      i++;
    } else if (c === 0x3f /* ? */) {
      out.push({ t: 'any' });
      i++;
    } else if (c === 0x5b /* [ */) {
      const start = i;
      i++;
      let negate = false;
      if (cps[i] === 0x21 /* ! */ || cps[i] === 0x5e /* ^ */) {
        negate = true;
        i++;
      }
      const items: ClassItem[] = [];
      let first = true;
      let closed = false;
      while (i < cps.length) {
        let ch = cps[i] as number;
        if (ch === 0x5d /* ] */ && !first) {
          closed = true;
          i++;
          break;
        }
        first = false;
        if (ch === 0x5c) {
          if (i + 1 >= cps.length) throw invalid(pattern, 'trailing backslash', i);
          ch = cps[i + 1] as number;
          i += 2;
        } else {
          i++;
        }
        // a range: ch '-' end, unless '-' is the last char before ']'
        if (cps[i] === 0x2d && i + 1 < cps.length && cps[i + 1] !== 0x5d) {
          let end = cps[i + 1] as number;
          i += 2;
          if (end === 0x5c) {
            if (i >= cps.length) throw invalid(pattern, 'trailing backslash', i);
            end = cps[i] as number;
            i++;
          }
          if (end < ch) throw invalid(pattern, 'range end below start', start);
          items.push({ from: ch, to: end });
        } else {
          items.push({ from: ch, to: ch });
        }
      }
      if (!closed) throw invalid(pattern, 'unclosed [', start);
      out.push({ t: 'class', negate, items });
    } else {
      out.push({ t: 'lit', cp: c });
      i++;
    }
  }
  return out;
}

const u = (cp: number): string => `\\u{${cp.toString(16)}}`;
const REDIS_SPECIAL = new Set([0x2a, 0x3f, 0x5b, 0x5d, 0x5c]); // * ? [ ] \

function toRegex(tokens: Token[]): RegExp {
  let src = '^';
  for (const tok of tokens) {
    if (tok.t === 'lit') src += u(tok.cp);
    else if (tok.t === 'star') src += '.*';
    else if (tok.t === 'any') src += '.';
    else {
      src += tok.negate ? '[^' : '[';
      for (const it of tok.items) src += it.from === it.to ? u(it.from) : `${u(it.from)}-${u(it.to)}`;
      src += ']';
    }
  }
  return new RegExp(`${src}$`, 'su');
}

/** Escapes a literal string for a Redis MATCH pattern (and for our own glob syntax: same specials). */
export function escapeGlob(literal: string): string {
  let out = '';
  for (const ch of literal) out += REDIS_SPECIAL.has(ch.codePointAt(0) as number) ? `\\${ch}` : ch;
  return out;
}

function toRedisMatch(tokens: Token[]): string {
  let out = '';
  let wild = false;
  for (const tok of tokens) {
    if (tok.t === 'lit') {
      const ch = String.fromCodePoint(tok.cp);
      out += REDIS_SPECIAL.has(tok.cp) ? `\\${ch}` : ch;
      wild = false;
    } else if (!wild) {
      out += '*';
      wild = true;
    }
  }
  return out;
}

/** Compiles a glob pattern (validated; throws CACHE_INVALID_PATTERN). */
export function compileGlob(pattern: unknown, maxLength = DEFAULT_MAX_PATTERN_LENGTH): CompiledGlob {
  if (typeof pattern !== 'string') throw invalid(String(pattern), 'not a string');
  if (pattern.length === 0) throw invalid(pattern, 'empty');
  if (pattern.length > maxLength) throw invalid(pattern.slice(0, 32), `longer than ${maxLength} chars`);
  if (hasControlChars(pattern)) throw invalid(pattern, 'control characters');
  const tokens = parse(pattern);
  const regex = toRegex(tokens);
  const literal = tokens.every((t) => t.t === 'lit')
    ? String.fromCodePoint(...tokens.map((t) => (t as { cp: number }).cp))
    : undefined;
  return {
    source: pattern,
    regex,
    redisMatch: toRedisMatch(tokens),
    literal,
    test: (key: string) => regex.test(key),
  };
}
