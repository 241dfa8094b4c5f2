import { MemoryCache } from '../src/index.js';
import { manualClock, runCacheContractTests } from './contract.js';

runCacheContractTests('MemoryCache', async () => {
  const clock = manualClock();
  return { cache: new MemoryCache({ clock }), advance: async (ms) => clock.advance(ms) };
});
