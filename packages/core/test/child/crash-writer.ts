/**
 * Child for crash.test.ts: writes through the store as fast as it can (4 profiles, sequential
 * per profile, in parallel across them) and prints "ack <id> <n>" after each write resolves.
 */
import { openStore } from '../../src/open.js';

const dir = process.argv[2] as string;
const store = await openStore({ dir });
const ctx = { actor: 'crash', origin: 'local' };
const ids = ['c0', 'c1', 'c2', 'c3'];
const start = new Map<string, number>();
for (const id of ids) {
  const existing = (await store.list()).find((s) => s.id === id);
  if (existing === undefined) await store.create({ id, modelId: 'm', name: id, systemMessage: 'n=0', parameters: { seed: 0 } }, ctx);
  const v = await store.get(id);
  start.set(id, (v.parameters.seed as number) + 1);
}
process.stdout.write('ready\n');
await Promise.all(
  ids.map(async (id) => {
    for (let n = start.get(id) as number; ; n++) {
      await store.update(id, { systemMessage: `n=${n} ${'x'.repeat(n % 50)}`, parameters: { seed: n } }, ctx);
      process.stdout.write(`ack ${id} ${n}\n`);
    }
  }),
);
