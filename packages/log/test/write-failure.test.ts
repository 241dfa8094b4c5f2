import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLog, type AppendAck, type EventLog, type LogEvents } from '../src/index.js';
import { bytes, childPath, codeOf, collect, DocWriter, input, spawnTs, tempDir, track, viewOf } from './helpers.js';

interface Chained {
  put(k: Uint8Array, v: Uint8Array): unknown;
  write(o: unknown): Promise<void>;
}

/**
 * A failing layer under the log: `plan` decides per batch write whether it fails; `gate`
 * (when set) holds a write until released, so later appends pile up into the next batch.
 */
function failingLayer() {
  const state = {
    plan: [] as boolean[],
    writes: 0,
    gate: undefined as Promise<void> | undefined,
    wraps: 0,
    batchRejects: false,
    /** what the failing write reports: an I/O error, or a full disk */
    errno: 'EIO' as 'EIO' | 'ENOSPC',
  };
  const wrapDb = (db: unknown) => {
    state.wraps++;
    const real = db as Record<string | symbol, unknown> & { batch: (...a: unknown[]) => unknown };
    return new Proxy(real, {
      get(target, prop) {
        if (prop === 'batch') {
          return (...args: unknown[]) => {
            if (state.batchRejects) return Promise.reject(new Error('injected: batch() refused'));
            const b = target.batch(...args) as Chained;
            if (args.length > 0) return b;
            const write = b.write.bind(b);
            b.write = async (o: unknown) => {
              const fail = state.plan[state.writes++] ?? false;
              if (state.gate) await state.gate;
              if (fail) {
                const text = state.errno === 'ENOSPC' ? 'injected: ENOSPC no space left on device' : 'injected: EIO i/o error';
                throw Object.assign(new Error(text), { code: state.errno });
              }
              return write(o);
            };
            return b;
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  };
  return { state, wrapDb };
}

describe('write failures (a failing layer injected under the log)', () => {
  it('a failed batch rejects exactly its appends; nothing half-written; reads keep working; later appends succeed', async () => {
    const dir = await tempDir();
    const { state, wrapDb } = failingLayer();
    const log = await openLog({ dir, wrapDb });
    const events: string[] = [];
    log.on('batch-failed', (e: LogEvents['batch-failed']) => events.push(`failed:${e.entries}:${e.code}`));
    log.on('reopened', () => events.push('reopened'));
    const w = new DocWriter();
    await log.append(input('p', w.edit(), { view: viewOf(w.doc) }));
    const viewBefore = await log.getView('p');
    const headBefore = log.head('p');

    // batch 1 (held at the gate) succeeds; batch 2 (piled up meanwhile) fails
    let release!: () => void;
    state.gate = new Promise((r) => (release = r));
    state.plan = [false, true];
    state.writes = 0;
    const first = log.append(input('p', w.edit(), { view: viewOf(w.doc) }));
    await new Promise((r) => setTimeout(r, 20));
    const doomedDoc = new DocWriter();
    const doomed = [
      log.append(input('p', bytes(1))),
      log.append(input('new-stream', doomedDoc.edit(), { view: bytes(9) })),
      log.appendMany([input('p', bytes(2)), input('q', bytes(3))]),
    ];
    const outcomes = Promise.allSettled(doomed);
    release();
    const ack1 = await first;
    expect(ack1.seq).toBe(2);
    const settled = await outcomes;
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      const err = (s as PromiseRejectedResult).reason as { code: string; cause?: { code?: string } };
      expect(err.code).toBe('LOG_WRITE_FAILED');
      expect(err.cause?.code).toBe('EIO');
    }
    expect(events).toEqual(['failed:4:LOG_WRITE_FAILED']);
    // the in-memory state is the durable state
    expect(log.head('p')).toEqual({ ...headBefore, seq: 2, lsn: ack1.lsn, ts: ack1.ts, hash: ack1.hash });
    expect(log.streams()).toEqual(['p']);
    expect(log.head('new-stream')).toBeUndefined();
    // reads keep working
    expect((await collect(log.read('p'))).map((e) => e.seq)).toEqual([1, 2]);
    expect(await log.getView('p')).not.toEqual(viewBefore);
    expect((await log.loadState('p')).seq).toBe(2);

    // a later append succeeds (the DB is reopened first: LevelDB refuses writes after a failed sync)
    state.gate = undefined;
    const wrapsBefore = state.wraps;
    const ack3 = await log.append(input('p', w.edit(), { view: viewOf(w.doc) }));
    expect(ack3).toMatchObject({ seq: 3, lsn: ack1.lsn + 1 });
    expect(events).toContain('reopened');
    expect(state.wraps).toBe(wrapsBefore + 1);
    expect(await log.getView('p')).toEqual(viewOf(w.doc));
    expect((await log.verify()).ok).toBe(true);
    await log.close();

    // on disk: exactly the acknowledged entries
    const reopened = track(await openLog({ dir }));
    expect(reopened.streams()).toEqual(['p']);
    expect((await collect(reopened.read('p'))).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await reopened.verify()).ok).toBe(true);
  });

  it('batch() itself rejecting (wrapper style) fails the batch the same way', async () => {
    const { state, wrapDb } = failingLayer();
    const log = track(await openLog({ dir: await tempDir(), wrapDb }));
    await log.append(input('a', bytes(1)));
    state.batchRejects = true;
    const results = await Promise.allSettled([log.append(input('a', bytes(2))), log.append(input('b', bytes(3)))]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'))).toEqual(['LOG_WRITE_FAILED', 'LOG_WRITE_FAILED']);
    state.batchRejects = false;
    expect((await log.append(input('a', bytes(4)))).seq).toBe(2);
    expect((await collect(log.read('a'))).map((e) => e.body[0])).toEqual([1, 4]);
  });

  it('many failures in a row never corrupt the chain', async () => {
    const { state, wrapDb } = failingLayer();
    const log: EventLog = track(await openLog({ dir: await tempDir(), wrapDb }));
    state.plan = Array.from({ length: 200 }, (_, i) => i % 3 === 1);
    const acks: AppendAck[] = [];
    let failures = 0;
    for (let round = 0; round < 30; round++) {
      const rs = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => log.append(input(`s${i % 2}`, bytes(round, i)))));
      for (const r of rs) {
        if (r.status === 'fulfilled') acks.push(r.value);
        else {
          expect((r.reason as { code: string }).code).toBe('LOG_WRITE_FAILED');
          failures++;
        }
      }
    }
    expect(failures).toBeGreaterThan(0);
    for (const s of ['s0', 's1']) {
      const entries = await collect(log.read(s));
      const mine = acks.filter((a) => a.stream === s);
      expect(entries.map((e) => [e.seq, Buffer.from(e.hash).toString('hex')])).toEqual(mine.map((a) => [a.seq, Buffer.from(a.hash).toString('hex')]));
    }
    expect((await log.verify()).ok).toBe(true);
  });

  it('a read in progress survives the reopen that follows a failed batch', async () => {
    const { state, wrapDb } = failingLayer();
    const log = track(await openLog({ dir: await tempDir(), wrapDb }));
    await log.appendMany(Array.from({ length: 700 }, (_, i) => input('big', bytes(i & 0xff, i >> 8))));
    const it = log.read('big')[Symbol.asyncIterator]();
    const seen = [(await it.next()).value?.seq];
    state.plan = [true];
    state.writes = 0;
    expect(await codeOf(log.append(input('big', bytes(1))))).toBe('LOG_WRITE_FAILED');
    const reopened = new Promise((r) => log.on('reopened', r));
    const ack = log.append(input('other', bytes(2)));
    await reopened;
    for (let r = await it.next(); !r.done; r = await it.next()) seen.push(r.value.seq);
    expect(seen).toEqual(Array.from({ length: 700 }, (_, i) => i + 1));
    expect((await ack).seq).toBe(1);
  });

  it('a full disk (ENOSPC) is LOG_DISK_FULL for batches and aux records; an aux write after a failed one reopens first', async () => {
    const { state, wrapDb } = failingLayer();
    const log = track(await openLog({ dir: await tempDir(), wrapDb }));
    const events: string[] = [];
    log.on('batch-failed', (e: LogEvents['batch-failed']) => events.push(e.code));
    log.on('reopened', () => events.push('reopened'));
    await log.append(input('a', bytes(1)));
    state.errno = 'ENOSPC';
    state.plan = [true];
    state.writes = 0;
    expect(await codeOf(log.append(input('a', bytes(2))))).toBe('LOG_DISK_FULL');
    expect(events).toEqual(['LOG_DISK_FULL']);
    // the next write of any kind reopens first (LevelDB refuses writes after a failed one)
    await log.putAux('x', bytes(7));
    expect(events).toEqual(['LOG_DISK_FULL', 'reopened']);
    expect(await log.getAux('x')).toEqual(bytes(7));
    expect((await log.append(input('a', bytes(3)))).seq).toBe(2);
  });

  it('a reopen that cannot open: reads retry the open (a coded error meanwhile, never LEVEL_DATABASE_NOT_OPEN) and recover without a restart', async () => {
    const dir = await tempDir();
    const { state, wrapDb } = failingLayer();
    const log = track(await openLog({ dir, wrapDb }));
    await log.append(input('a', bytes(1), { view: bytes(9) }));
    state.plan = [true];
    state.writes = 0;
    expect(await codeOf(log.append(input('a', bytes(2))))).toBe('LOG_WRITE_FAILED');
    // what LevelDB reads at open (CURRENT) is broken while the handle is open: the reopen will fail
    const current = join(dir, 'CURRENT');
    const good = readFileSync(current);
    writeFileSync(current, 'MANIFEST-999999\n');
    const failed = await codeOf(log.append(input('a', bytes(3))));
    expect(failed).toBe('LOG_WRITE_FAILED');
    const whileBroken = await codeOf(log.getView('a'));
    expect(whileBroken).toBe('LOG_OPEN_FAILED');
    // fixed: the next read reopens by itself
    writeFileSync(current, good);
    expect(await log.getView('a')).toEqual(bytes(9));
    expect((await log.append(input('a', bytes(4)))).seq).toBe(2);
    expect((await collect(log.read('a'))).map((e) => e.body[0])).toEqual([1, 4]);
  });

  it('a second process opening the same dir gets LOG_LOCKED naming the dir', async () => {
    const dir = await tempDir();
    const log = track(await openLog({ dir }));
    await log.append(input('a', bytes(1)));
    const child = spawnTs(childPath('lock-child.ts'), [dir]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect([code, err]).toEqual([0, '']);
    const result = JSON.parse(out) as { code?: string; message?: string };
    expect(result.code).toBe('LOG_LOCKED');
    expect(result.message).toContain(dir);
    // still fully usable by its owner
    expect((await log.append(input('a', bytes(2)))).seq).toBe(2);
  });
});
