/**
 * Crash-test child: appends concurrently (single appends and appendMany, several streams,
 * views on, snapshots every 16 entries) and prints one line per acknowledged entry:
 * `ack <stream> <seq> <hash hex>`. The parent SIGKILLs it at a random instant.
 */
import { openLog, snapshotEvery } from '../../src/index.js';
import { DocWriter, viewOf } from './docs.js';

const dir = process.argv[2] as string;
const writers = 12;
const log = await openLog({ dir, snapshotPolicy: snapshotEvery(16) });
process.stdout.write('ready\n');
const docs = new Map<string, DocWriter>();
const doc = (s: string): DocWriter => {
  let d = docs.get(s);
  if (d === undefined) docs.set(s, (d = new DocWriter()));
  return d;
};
let n = 0;
await Promise.all(
  Array.from({ length: writers }, async (_, w) => {
    for (;;) {
      const i = n++;
      const stream = `p${(w + i) % 5}`;
      if (i % 7 === 0) {
        const other = `p${(w + i + 1) % 5}`;
        const a = doc(stream);
        const b = doc(other);
        const acks = await log.appendMany([
          { stream, body: a.edit(), actor: 'crash', origin: 'local', view: viewOf(a.doc) },
          { stream: other, body: b.edit(), actor: 'crash', origin: 'local', view: viewOf(b.doc) },
        ]);
        for (const ack of acks) process.stdout.write(`ack ${ack.stream} ${ack.seq} ${Buffer.from(ack.hash).toString('hex')}\n`);
      } else {
        const d = doc(stream);
        const ack = await log.append({ stream, body: d.edit(), actor: 'crash', origin: 'local', view: viewOf(d.doc) });
        process.stdout.write(`ack ${ack.stream} ${ack.seq} ${Buffer.from(ack.hash).toString('hex')}\n`);
      }
    }
  }),
);
