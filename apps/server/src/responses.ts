/**
 * The node's `responses` cache (config `cache.redis.url`): the cache package's ResponseCache
 * (LLM answers keyed by profile id + version + operation + input) on Redis, with the package's
 * fallback to memory while Redis is down. Apps using @profilesync/client with
 * `responseCache: { url }` and the same Redis write to it (same prefix, namespace and key
 * scheme); the node lists it in /api/cache/stats and /metrics, clears it with
 * POST /api/cache/clear/responses, and drops the answers of a profile when it is deleted.
 * Edits need no invalidation: the version is part of every key.
 */
import { createCache, ResponseCache, type CacheLogger, type CacheRegistry } from '@profilesync/cache';
import type { ChangeHub } from './changes/hub.js';

export const RESPONSES_CACHE = 'responses';

export interface NodeResponses {
  cache: ResponseCache<unknown>;
  close(): Promise<void>;
}

export async function openResponseCache(url: string, registry: CacheRegistry, hub: ChangeHub, logger: CacheLogger): Promise<NodeResponses> {
  const store = await createCache<unknown>({ name: RESPONSES_CACHE, backend: 'redis', url, fallback: true, logger, env: {} });
  const cache = new ResponseCache<unknown>({ cache: store });
  const unregister = registry.register(RESPONSES_CACHE, cache);
  const unsubscribe = hub.subscribe((batch) => {
    for (const c of batch) {
      if (!c.kinds?.includes('profile.deleted')) continue;
      cache.invalidateByProfile(c.data.id).then(
        (n) => logger.info({ cache: RESPONSES_CACHE, profile: c.data.id, dropped: n }, 'answers of a deleted profile dropped'),
        (err: unknown) => logger.warn({ cache: RESPONSES_CACHE, profile: c.data.id, err }, 'could not drop the answers of a deleted profile'),
      );
    }
  });
  return {
    cache,
    async close() {
      unsubscribe();
      unregister();
      await store.close();
    },
  };
}
