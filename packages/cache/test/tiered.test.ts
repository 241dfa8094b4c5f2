import { afterAll, beforeAll } from 'vitest';
import { RedisCache, TieredCache } from '../src/index.js';
import { runCacheContractTests } from './contract.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

let server: RedisServer;
let n = 0;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});

runCacheContractTests('TieredCache', async () => {
  const prefix = `tiered:${++n}:`;
  const cache = await TieredCache.create({ l2: await RedisCache.connect({ url: server.url, prefix }) });
  return {
    cache,
    advance: (ms) => new Promise((r) => setTimeout(r, ms)), // L2 is Redis: real time
    teardown: async () => {
      await cache.close();
      const admin = await RedisCache.connect({ url: server.url, prefix });
      await admin.clear();
      await admin.close();
    },
  };
});
