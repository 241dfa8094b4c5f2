/**
 * The disk floor of sync-live-latency in its own process, driven by sync.bench.ts over IPC: two
 * sync'd raw LevelDB batches one after the other (A's append, then B's), sized like an edit's,
 * timed here (this process does nothing else, so no event-loop work of the nodes lands in it).
 *   -> { type: 'ready' }                       the DB is open and warmed up
 *   <- { type: 'pair' }  -> { type: 'pair', ms } one timed pair
 *   <- { type: 'close' }                       exits after closing and removing the DB (so does a
 *                                              disconnect: the bench process is gone)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { rawSyncPair } from './raw-sync-pair.js';

const dir = await mkdtemp(join(tmpdir(), 'bench-sync-raw-'));
const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
await db.open();
let next = 0;
for (let i = 0; i < 20; i++) await rawSyncPair(db, next++);

let closing: Promise<never> | undefined;
const shutdown = (): Promise<never> => (closing ??= closeAndExit());
const closeAndExit = async (): Promise<never> => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
  if (process.connected) process.disconnect();
  process.exit(0);
};
// the bench process is gone (it failed or was killed): do not leave the DB behind
process.on('disconnect', () => void shutdown());

process.on('message', (m: { type: string }) => {
  void (async () => {
    if (m.type === 'pair') {
      process.send?.({ type: 'pair', ms: await rawSyncPair(db, next++) });
    } else if (m.type === 'close') {
      await shutdown();
    }
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});

process.send?.({ type: 'ready' });
