/**
 * sync-live-latency's disk floor, one sample: two sync'd raw LevelDB batches one after the other
 * (entry + head + view, sized like an edit's), as A's append and then B's. No other JS.
 */
import type { Level } from 'level';
import { nowMs } from './harness.js';

const entry = new Uint8Array(150).fill(1);
const head = new Uint8Array(60).fill(2);
const view = new Uint8Array(400).fill(3);
const key = (tag: number, i: number): Uint8Array => Uint8Array.of(tag, i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255);

/** Times one pair; `i` numbers the pairs (each writes new entry keys, as appends do). */
export async function rawSyncPair(db: Level<Uint8Array, Uint8Array>, i: number): Promise<number> {
  const t0 = nowMs();
  for (let side = 0; side < 2; side++) {
    await db.batch().put(key(1, 2 * i + side), entry).put(key(2, side), head).put(key(3, side), view).write({ sync: true });
  }
  return nowMs() - t0;
}
