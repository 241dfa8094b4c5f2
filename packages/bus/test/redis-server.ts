/** The real redis-server helper of the cache package's tests (one copy for the workspace). */
export { startRedisServer, bareRedisClient, freePort, type RedisServer, type BareRedisClient } from '../../cache/test/redis-server.js';
