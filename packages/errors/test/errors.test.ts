import { describe, expect, it } from 'vitest';
import { ProfileSyncError, errorCode, isProfileSyncError } from '../src/index.js';

describe('ProfileSyncError', () => {
  it('carries a stable code, details and cause', () => {
    const cause = new Error('disk');
    const err = new ProfileSyncError('LOG_WRITE_FAILED', 'write failed', { cause, details: { dir: '/x' } });
    expect(err.code).toBe('LOG_WRITE_FAILED');
    expect(err.details).toEqual({ dir: '/x' });
    expect(err.cause).toBe(cause);
    expect(err).toBeInstanceOf(Error);
    expect(err.toJSON()).toEqual({ code: 'LOG_WRITE_FAILED', message: 'write failed', details: { dir: '/x' } });
  });

  it('is recognised by code', () => {
    const err = new ProfileSyncError('PROFILE_NOT_FOUND', 'nope');
    expect(isProfileSyncError(err)).toBe(true);
    expect(isProfileSyncError(err, 'PROFILE_NOT_FOUND')).toBe(true);
    expect(isProfileSyncError(err, 'OTHER')).toBe(false);
    expect(isProfileSyncError(new Error('x'))).toBe(false);
    expect(errorCode(err)).toBe('PROFILE_NOT_FOUND');
    expect(errorCode(Object.assign(new Error('x'), { code: 'ENOSPC' }))).toBe('ENOSPC');
    expect(errorCode('string')).toBeUndefined();
  });
});
