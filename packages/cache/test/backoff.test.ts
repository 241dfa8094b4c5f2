import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, backoffDelay, backoffPolicy } from '../src/index.js';
import { expectCode } from './contract.js';

describe('backoff policy', () => {
  const p = { baseMs: 50, maxMs: 1000, jitter: 0 };
  it('doubles from baseMs and caps at maxMs', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 100].map((a) => backoffDelay(a, p))).toEqual([50, 100, 200, 400, 800, 1000, 1000, 1000]);
  });
  it('removes up to jitter * delay at random (injected random)', () => {
    const j = { ...p, jitter: 0.5 };
    expect(backoffDelay(3, j, () => 0)).toBe(400);
    expect(backoffDelay(3, j, () => 1)).toBe(200);
    expect(backoffDelay(3, j, () => 0.5)).toBe(300);
    expect(backoffDelay(3, j, () => 7)).toBe(200); // random clamped to [0, 1]
  });
  it('treats negative or fractional attempts sanely', () => {
    expect(backoffDelay(-3, p)).toBe(50);
    expect(backoffDelay(1.7, p)).toBe(100);
  });
  it('validates policies (CACHE_INVALID_CONFIG) and fills defaults', async () => {
    expect(backoffPolicy('x', undefined)).toEqual(DEFAULT_BACKOFF);
    expect(backoffPolicy('x', { baseMs: 10 })).toEqual({ baseMs: 10, maxMs: 5000, jitter: 0.2 });
    expect(backoffPolicy('x', { baseMs: 0, maxMs: 1 })).toEqual({ baseMs: 0, maxMs: 1, jitter: 0.2 });
    for (const bad of [{ baseMs: -1 }, { maxMs: 0 }, { baseMs: 10, maxMs: 5 }, { jitter: -0.1 }, { jitter: 1.5 }, { baseMs: 'x' }, 'fast']) {
      await expectCode(() => backoffPolicy('x', bad), 'CACHE_INVALID_CONFIG');
    }
  });
});
