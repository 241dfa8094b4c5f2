import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openLog, snapshotEvery } from '../src/index.js';
import { collect, DocWriter, input, manualClock, materialize, tempDir, track, viewOf } from './helpers.js';

describe('append / read / getView / loadState', () => {
  it('appends durably and reads back every field in order', async () => {
    const clock = manualClock();
    const log = track(await openLog({ dir: await tempDir(), clock: clock.now }));
    const w = new DocWriter();
    const acks = [];
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < 5; i++) {
      const body = w.edit();
      bodies.push(body);
      acks.push(await log.append(input('p1', body, { summary: `edit ${i}`, version: Uint8Array.of(i), view: viewOf(w.doc) })));
      clock.advance(10);
    }
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(acks.map((a) => a.lsn)).toEqual([1, 2, 3, 4, 5]);
    const entries = await collect(log.read('p1'));
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(entries.map((e) => e.body)).toEqual(bodies);
    expect(entries[2]).toMatchObject({ stream: 'p1', actor: 'alice', origin: 'local', summary: 'edit 2', version: Uint8Array.of(2), ts: clock.now() - 30 });
    expect(entries[1]?.prevHash).toEqual(entries[0]?.hash);
    expect(log.head('p1')).toMatchObject({ seq: 5, lsn: 5 });
    expect(await log.getView('p1')).toEqual(viewOf(w.doc));
    const st = await log.loadState('p1');
    const d = new Y.Doc();
    Y.applyUpdate(d, st.state);
    expect(d.getMap('profile').toJSON()).toEqual(w.doc.getMap('profile').toJSON());
    expect(log.streams()).toEqual(['p1']);
  });

  it('writes snapshots in the background and loadState uses them', async () => {
    const log = track(await openLog({ dir: await tempDir(), snapshotPolicy: snapshotEvery(8) }));
    const w = new DocWriter();
    for (let i = 0; i < 30; i++) await log.append(input('p1', w.edit(), { view: viewOf(w.doc) }));
    await log.idle();
    const st = await log.loadState('p1');
    expect(st.snapshotSeq).toBe(24);
    expect(st.tailEntries).toBe(6);
    expect(materialize('p1', st.state, { seq: 30, lsn: 30, ts: 0, actor: '', origin: '' })).toEqual(viewOf(w.doc));
    const at10 = await log.loadState('p1', { untilSeq: 10 });
    expect(at10.snapshotSeq).toBe(8);
    expect(at10.tailEntries).toBe(2);
  });
});
