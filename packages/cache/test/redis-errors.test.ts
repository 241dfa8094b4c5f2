import { describe, expect, it } from 'vitest';
import { ErrorReply, ClientOfflineError, SocketClosedUnexpectedlyError } from 'redis';
import { redact, toCacheError } from '../src/index.js';

describe('node-redis error mapping', () => {
  const code = (e: unknown) => (e as { code?: string }).code;
  it('maps connection failures to CACHE_UNAVAILABLE and error replies to CACHE_COMMAND_FAILED', () => {
    expect(code(toCacheError(new ClientOfflineError(), 'get', false))).toBe('CACHE_UNAVAILABLE');
    expect(code(toCacheError(new SocketClosedUnexpectedlyError(), 'get', false))).toBe('CACHE_UNAVAILABLE');
    expect(code(toCacheError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'get', false))).toBe('CACHE_UNAVAILABLE');
    expect(code(toCacheError(new ErrorReply('OOM command not allowed'), 'set', false))).toBe('CACHE_COMMAND_FAILED');
    expect(code(toCacheError(new ErrorReply('LOADING Redis is loading the dataset'), 'get', false))).toBe('CACHE_UNAVAILABLE');
    expect(code(toCacheError(new ClientOfflineError(), 'get', true))).toBe('CACHE_CLOSED');
    const e = toCacheError(new ErrorReply('WRONGTYPE'), 'get', false);
    expect((e as { details?: { op?: string } }).details?.op).toBe('get');
    expect((e as Error).cause).toBeInstanceOf(ErrorReply);
  });
  it('redacts passwords from urls', () => {
    expect(redact('redis://user:secret@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(redact('rediss://:secret@host')).toBe('rediss://:***@host');
    expect(redact('redis://host:6379')).toBe('redis://host:6379');
  });
});
