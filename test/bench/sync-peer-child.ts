/**
 * A sync peer in its own process, driven by sync.bench.ts over IPC (two nodes are two
 * processes in every real deployment; in one process their CPU work adds up).
 *   -> { type: 'ready', url, publicKey }                      store, http server and identity are up
 *   <- { type: 'start', peer: { url, publicKey } }            start the sync service (it dials the peer)
 *   <- { type: 'hashes' }  -> { type: 'hashes', entries, cpuMs }  the store's version hashes, and the
 *                                                             process's CPU (user + system) since 'start'
 *   <- { type: 'clock' }   -> { type: 'clock', at }            this process's clock (process.hrtime, ms, as the harness's nowMs)
 *   <- { type: 'watch' }   -> { type: 'watching' }, then { type: 'change', id, version, at } per change event
 *   <- { type: 'close' }   -> exits after closing everything
 */
import { benchNode } from './sync.bench.js';

type In = { type: 'start'; peer: { url: string; publicKey: string } } | { type: 'hashes' } | { type: 'clock' } | { type: 'watch' } | { type: 'close' };

/** the harness's clock (nowMs) */
const clock = (): number => Number(process.hrtime.bigint()) / 1e6;

const send = (m: unknown): void => {
  process.send?.(m);
};

const node = await benchNode('child');

let cpuAtStart = process.cpuUsage();

process.on('message', (m: In) => {
  void (async () => {
    if (m.type === 'start') {
      cpuAtStart = process.cpuUsage();
      node.start({ peers: [m.peer] });
    } else if (m.type === 'hashes') {
      const cpu = process.cpuUsage(cpuAtStart);
      send({ type: 'hashes', entries: [...node.store.versionHashes()], cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
    } else if (m.type === 'clock') {
      send({ type: 'clock', at: clock() });
    } else if (m.type === 'watch') {
      node.store.subscribe((e) => send({ type: 'change', id: e.id, version: e.view.version, at: clock() }));
      send({ type: 'watching' });
    } else if (m.type === 'close') {
      await node.close();
      process.disconnect?.();
      process.exit(0);
    }
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});

send({ type: 'ready', url: node.url, publicKey: node.identity.publicKeyText });
