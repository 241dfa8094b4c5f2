import { describe, expect, it } from 'vitest';
import { compileGlob, escapeGlob } from '../src/index.js';
import { expectCode } from './contract.js';

describe('glob patterns', () => {
  const cases: [string, string[], string[]][] = [
    ['*', ['', 'a', 'a:b:c'], []],
    ['user:*', ['user:', 'user:1', 'user:1:profile'], ['users:1', 'xuser:1']],
    ['*:profile', ['user:1:profile', ':profile'], ['user:1:profiles']],
    ['a?c', ['abc', 'a:c', 'aéc', 'a😀c'], ['ac', 'abbc']],
    ['[abc]x', ['ax', 'cx'], ['dx', 'x', 'abx']],
    ['[a-c0-2]', ['a', 'b', 'c', '0', '2'], ['d', '3', 'A']],
    ['[!a-c]', ['d', 'z', '-'], ['a', 'b', 'c']],
    ['[^a]', ['b'], ['a']],
    ['[]a]', [']', 'a'], ['b']],
    ['[!]]', ['a'], [']']],
    ['[a-]', ['a', '-'], ['b']],
    ['[-a]', ['a', '-'], ['b']],
    ['\\*', ['*'], ['a', '\\*']],
    ['a\\?', ['a?'], ['ab']],
    ['\\[x\\]', ['[x]'], ['x']],
    ['\\\\', ['\\'], ['\\\\']],
    ['[\\]]', [']'], ['\\']],
    ['a**b', ['ab', 'aXYb'], ['a']],
    ['.+()|^$', ['.+()|^$'], ['a']],
  ];
  for (const [pattern, yes, no] of cases) {
    it(`${pattern} matches ${JSON.stringify(yes)} and not ${JSON.stringify(no)}`, () => {
      const g = compileGlob(pattern);
      for (const k of yes) expect(g.test(k), `${pattern} ~ ${k}`).toBe(true);
      for (const k of no) expect(g.test(k), `${pattern} !~ ${k}`).toBe(false);
    });
  }

  it('reports literal patterns', () => {
    expect(compileGlob('user:1').literal).toBe('user:1');
    expect(compileGlob('a\\*b').literal).toBe('a*b');
    expect(compileGlob('a*').literal).toBeUndefined();
    expect(compileGlob('a?').literal).toBeUndefined();
  });

  it('widens ? and classes to * for Redis MATCH and escapes literal specials', () => {
    expect(compileGlob('user:*').redisMatch).toBe('user:*');
    expect(compileGlob('a?c').redisMatch).toBe('a*c');
    expect(compileGlob('a[bc]*d?').redisMatch).toBe('a*d*');
    expect(compileGlob('a\\*b').redisMatch).toBe('a\\*b');
    expect(compileGlob('x\\[1\\]').redisMatch).toBe('x\\[1\\]');
    expect(compileGlob('\\\\*').redisMatch).toBe('\\\\*');
  });

  it('escapes literals', () => {
    expect(escapeGlob('app[1]*?\\:')).toBe('app\\[1\\]\\*\\?\\\\:');
    const g = compileGlob(`${escapeGlob('a*[b]?')}*`);
    expect(g.test('a*[b]?xyz')).toBe(true);
    expect(g.test('aX[b]?xyz')).toBe(false);
  });

  it('rejects malformed patterns with CACHE_INVALID_PATTERN', async () => {
    for (const p of ['', '[', '[abc', 'a[!', 'a\\', '[a\\', '[z-a]', 'a\u0000', 'x'.repeat(2049), 1, undefined, {}]) {
      await expectCode(() => compileGlob(p), 'CACHE_INVALID_PATTERN');
    }
  });
});
