import { describe, expect, it } from 'vitest';
import { Emitter, TypedEmitter } from '../src/index.js';

interface Events {
  tick: { n: number };
  done: { ok: boolean };
}

class Ticker extends TypedEmitter<Events> {
  constructor() {
    super('ticker');
  }
  tick(n: number): boolean {
    const listened = this.hasListeners('tick');
    this.emit('tick', { n });
    return listened;
  }
}

describe('typed emitter', () => {
  it('delivers to listeners until they unsubscribe; has() is false without listeners', () => {
    const e = new Emitter<Events>('test');
    expect(e.has('tick')).toBe(false);
    const got: number[] = [];
    const off = e.on('tick', ({ n }) => got.push(n));
    const off2 = e.on('tick', ({ n }) => got.push(n * 10));
    expect(e.has('tick')).toBe(true);
    e.emit('tick', { n: 1 });
    off();
    e.emit('tick', { n: 2 });
    off2();
    e.emit('tick', { n: 3 });
    expect(got).toEqual([1, 10, 20]);
    expect(e.has('tick')).toBe(false);
  });

  it('a throwing listener becomes a warning naming the source; the others still run and emit returns', async () => {
    const e = new Emitter<Events>('@profilesync/test');
    const got: string[] = [];
    e.on('done', () => {
      throw new Error('observer bug');
    });
    e.on('done', () => got.push('second'));
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    expect(() => e.emit('done', { ok: true })).not.toThrow();
    expect(got).toEqual(['second']);
    expect((await warned).message).toBe("@profilesync/test listener for 'done' threw: Error: observer bug");
  });

  it('a listener that unsubscribes while being called does not disturb the others; once() resolves with the next event', async () => {
    const e = new Emitter<Events>('test');
    const got: number[] = [];
    const off = e.on('tick', ({ n }) => {
      got.push(n);
      off();
    });
    e.on('tick', ({ n }) => got.push(-n));
    const next = e.once('tick');
    e.emit('tick', { n: 5 });
    e.emit('tick', { n: 6 });
    expect(got).toEqual([5, -5, -6]);
    expect(await next).toEqual({ n: 5 });
  });

  it('subclasses emit through the protected methods', () => {
    const t = new Ticker();
    expect(t.tick(1)).toBe(false);
    const got: number[] = [];
    t.on('tick', ({ n }) => got.push(n));
    expect(t.tick(2)).toBe(true);
    expect(got).toEqual([2]);
  });
});
