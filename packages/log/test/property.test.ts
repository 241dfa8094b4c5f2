import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openLog, snapshotEvery, type AppendAck, type AppendInput, type EntryRecord } from '../src/index.js';
import { collect, DocWriter, input, materialize, rawEntries, tempDir, viewOf, withRawDb } from './helpers.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 12);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

type Op =
  | { kind: 'append'; stream: number; wait: boolean }
  | { kind: 'many'; streams: number[]; wait: boolean }
  | { kind: 'read'; stream: number }
  | { kind: 'settle' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), stream: fc.nat(4), wait: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('many' as const), streams: fc.array(fc.nat(4), { minLength: 1, maxLength: 4 }), wait: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), stream: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
);

describe('properties', () => {
  it('any interleaving of appends and reads returns exactly the acknowledged entries, in call order, with valid chains', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 8 }), async (ops, maxBatch) => {
        const dir = await tempDir('pslog-prop-');
        const log = await openLog({ dir, maxBatchEntries: maxBatch });
        try {
          const calls = new Map<string, string[]>(); // stream -> bodies in call order
          const acked = new Map<string, Set<number>>();
          const inflight: Promise<unknown>[] = [];
          let n = 0;
          const body = (stream: string): AppendInput => {
            const b = `b${n++}`;
            (calls.get(stream) ?? calls.set(stream, []).get(stream))?.push(b);
            return input(stream, new TextEncoder().encode(b));
          };
          const record = (acks: AppendAck[]) => {
            for (const a of acks) (acked.get(a.stream) ?? acked.set(a.stream, new Set()).get(a.stream))?.add(a.seq);
          };
          for (const op of ops) {
            if (op.kind === 'append' || op.kind === 'many') {
              const p = op.kind === 'append'
                ? log.append(body(`s${op.stream}`)).then((a) => record([a]))
                : log.appendMany(op.streams.map((s) => body(`s${s}`))).then(record);
              if (op.wait) await p;
              else inflight.push(p);
            } else if (op.kind === 'settle') {
              await Promise.all(inflight.splice(0));
            } else {
              const stream = `s${op.stream}`;
              const ackedBefore = new Set(acked.get(stream) ?? []);
              const got = log.head(stream) === undefined ? [] : await collect(log.read(stream));
              const want = calls.get(stream) ?? [];
              // a prefix of the call order, holding at least everything acknowledged before the read
              expect(got.map((e) => new TextDecoder().decode(e.body))).toEqual(want.slice(0, got.length));
              for (const seq of ackedBefore) expect(seq).toBeLessThanOrEqual(got.length);
              checkChain(got);
            }
          }
          await Promise.all(inflight);
          for (const [stream, want] of calls) {
            const got = await collect(log.read(stream));
            expect(got.map((e) => new TextDecoder().decode(e.body))).toEqual(want);
            expect([...(acked.get(stream) ?? [])].sort((a, b) => a - b)).toEqual(got.map((e) => e.seq));
            checkChain(got);
          }
          expect((await log.verify()).ok).toBe(true);
        } finally {
          await log.close();
        }
      }),
      { numRuns: RUNS * 2 },
    );
  }, 120_000);

  it('deleting all snapshots and views then rebuild() gives byte-identical records; loadState equals merging all entries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(2), fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 30 }),
        async (steps, every, untilSeq) => {
          const dir = await tempDir('pslog-rebuild-');
          const policy = snapshotEvery(every, 2_000);
          let log = await openLog({ dir, snapshotPolicy: policy });
          const docs = [new DocWriter(), new DocWriter(), new DocWriter()];
          const bodies = new Map<string, Uint8Array[]>();
          try {
            for (const [i, [d, count]] of steps.entries()) {
              // halfway, a reopen: the next snapshots start from the stored ones (not from live docs)
              if (i === Math.floor(steps.length / 2)) {
                await log.close();
                log = await openLog({ dir, snapshotPolicy: policy });
              }
              const w = docs[d] as DocWriter;
              const batch = Array.from({ length: count }, () => {
                const b = w.edit();
                (bodies.get(`p${d}`) ?? bodies.set(`p${d}`, []).get(`p${d}`))?.push(b);
                return input(`p${d}`, b, { view: viewOf(w.doc) });
              });
              await (count === 1 ? log.append(batch[0] as AppendInput) : log.appendMany(batch));
            }
            // loadState at any seq == all entries up to it merged
            for (const [stream, bs] of bodies) {
              const at = Math.min(untilSeq, bs.length);
              const st = await log.loadState(stream, { untilSeq: at });
              expect(st.seq).toBe(at);
              const viaLog = new Y.Doc({ gc: false });
              Y.applyUpdate(viaLog, st.state);
              const viaParts = new Y.Doc({ gc: false });
              for (const u of st.updates) Y.applyUpdate(viaParts, u);
              const direct = new Y.Doc({ gc: false });
              for (const u of bs.slice(0, at)) Y.applyUpdate(direct, u);
              expect(viaLog.getMap('profile').toJSON()).toEqual(direct.getMap('profile').toJSON());
              expect(Y.encodeStateVector(viaLog)).toEqual(Y.encodeStateVector(direct));
              expect(Y.encodeStateVector(viaParts)).toEqual(Y.encodeStateVector(direct));
            }
            await log.close();
            const snaps = await rawEntries(dir, 'S');
            const views = await rawEntries(dir, 'V');
            await withRawDb(dir, async (db) => {
              for (const [k] of [...snaps, ...views]) await db.del(k);
            });
            log = await openLog({ dir, snapshotPolicy: policy });
            await log.rebuild(materialize);
            await log.close();
            expect(await rawEntries(dir, 'S')).toEqual(snaps);
            expect(await rawEntries(dir, 'V')).toEqual(views);
          } finally {
            await log.close();
          }
        },
      ),
      { numRuns: RUNS },
    );
  }, 120_000);
});

function checkChain(entries: EntryRecord[]): void {
  let prev: Uint8Array = new Uint8Array(32);
  entries.forEach((e, i) => {
    expect(e.seq).toBe(i + 1);
    expect(hex(e.prevHash)).toBe(hex(prev));
    prev = e.hash;
  });
}
