import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bob, codeOf, ctx, harness, manualClock, sample, type Harness } from './helpers.js';

let h: Harness;
const clock = manualClock();
beforeEach(async () => {
  h = await harness({ clock: clock.now });
});
afterEach(async () => {
  await h.close();
});

describe('audit', () => {
  it('merges profile entries and #audit records newest first; filters by profile, actor, action and time', async () => {
    const t0 = clock.now();
    await h.store.create({ id: 'a', ...sample() }, ctx);
    clock.advance(1000);
    await h.store.recordAudit({ actor: 'mallory', origin: 'api:tok9', action: 'auth.denied', outcome: 'denied', profile: 'a', details: { method: 'PATCH' } });
    clock.advance(1000);
    await h.store.update('a', { name: 'A2' }, bob);
    clock.advance(1000);
    // bob's run on 'a' becomes one profile.edit record when it closes (not one per patch)
    expect(await h.store.flushVersions()).toBe(1);
    await h.store.create({ id: 'b', ...sample() }, bob);
    clock.advance(1000);
    await h.store.recordAudit({ actor: 'admin', origin: 'cli', action: 'token.create', outcome: 'ok', details: { tokenId: 't1' } });

    const all = await h.store.audit();
    expect(all.map((r) => r.action)).toEqual(['token.create', 'profile.create', 'profile.edit', 'auth.denied', 'profile.create']);
    expect(all[1]).toMatchObject({ profile: 'b', actor: 'bob', outcome: 'ok' });
    expect(all[2]).toMatchObject({ profile: 'a', actor: 'bob', origin: 'node:local', fields: ['name'], at: new Date(t0 + 3000).toISOString() });
    expect(all[2]!.details).toMatchObject({ reason: 'idle', actors: ['bob'], origins: ['api:tok1'], version: (await h.store.get('a')).version });
    expect(all[3]).toMatchObject({ actor: 'mallory', outcome: 'denied', details: { method: 'PATCH' } });
    expect((await h.store.audit({ profile: 'a' })).map((r) => r.action)).toEqual(['profile.edit', 'auth.denied', 'profile.create']);
    expect((await h.store.audit({ actor: 'bob' })).map((r) => r.profile)).toEqual(['b', 'a']);
    expect((await h.store.audit({ since: new Date(t0 + 1500).toISOString(), until: t0 + 3500 })).map((r) => r.action)).toEqual(['profile.create', 'profile.edit']);
    expect(await h.store.audit({ limit: 2 })).toEqual(all.slice(0, 2));
    expect((await h.store.audit({ action: 'auth.denied' })).length).toBe(1);
    // a scoped reader: only records of the profiles it accepts, none without a profile; the limit counts those only
    expect((await h.store.audit({ profiles: (id) => id === 'a' })).map((r) => r.action)).toEqual(['profile.edit', 'auth.denied', 'profile.create']);
    expect((await h.store.audit({ profiles: (id) => id === 'a', limit: 1 })).map((r) => r.action)).toEqual(['profile.edit']);
    expect(await h.store.audit({ profiles: () => false })).toEqual([]);
    expect(await codeOf(h.store.audit({ profiles: 'a' as unknown as () => boolean }))).toBe('AUDIT_INVALID');
  });

  it('limit across many profiles returns exactly the newest records', async () => {
    for (let i = 0; i < 30; i++) {
      await h.store.create({ id: `m${i}`, ...sample() }, ctx);
      clock.advance(10);
      if (i % 3 === 0) {
        await h.store.update(`m${i}`, { name: `n${i}` }, ctx);
        clock.advance(10);
      }
    }
    // the patches are open runs: not audited yet
    const five = await h.store.audit({ limit: 5 });
    expect(five.map((r) => `${r.action}:${r.profile}`)).toEqual(['profile.create:m29', 'profile.create:m28', 'profile.create:m27', 'profile.create:m26', 'profile.create:m25']);
    expect(await h.store.audit({ limit: 1000 })).toHaveLength(30);
    clock.advance(10);
    expect(await h.store.flushVersions()).toBe(10);
    const all = await h.store.audit({ limit: 1000 });
    expect(all).toHaveLength(40);
    expect(all.slice(10, 15)).toEqual(five);
    expect(all.slice(0, 10).every((r) => r.action === 'profile.edit' && r.fields?.[0] === 'name')).toBe(true);
  });

  it('the #audit stream is hash-chained by the log and append-only', async () => {
    await h.store.recordAudit({ actor: 'x', origin: 'cli', action: 'key.rotate', outcome: 'ok' });
    await h.store.recordAudit({ actor: 'x', origin: 'cli', action: 'key.rotate', outcome: 'ok' });
    const entries = [];
    for await (const e of h.store.log.read('#audit')) entries.push(e);
    expect(entries.map((e) => e.seq)).toEqual([1, 2]);
    expect(Buffer.compare(entries[1]!.prevHash, entries[0]!.hash)).toBe(0);
    expect(await codeOf(h.store.recordAudit({ actor: 'x', origin: 'cli', action: '', outcome: 'ok' }))).toBe('AUDIT_INVALID');
  });
});

describe('a damaged #audit', () => {
  it('is written again as a new segment (intact records keep their time, then audit.restart): auditing never stops', async () => {
    const { Level } = await import('level');
    const t0 = clock.now();
    for (let i = 0; i < 3; i++) {
      await h.store.recordAudit({ actor: 'admin', origin: 'cli', action: 'token.create', outcome: 'ok', details: { n: i } });
      clock.advance(1000);
    }
    await h.store.close();
    // flip the last byte of the third '#audit' entry (plaintext catalog value: 5-byte frame header, then the name)
    const db = new Level<Uint8Array, Uint8Array>(h.dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    let no: number | undefined;
    for await (const [k, v] of db.iterator({ gte: Uint8Array.of(0x43), lt: Uint8Array.of(0x44) })) {
      if (Buffer.from(v.subarray(5)).toString('utf8') === '#audit') no = new DataView(k.buffer, k.byteOffset).getUint32(1);
    }
    const key = new Uint8Array(13);
    key[0] = 0x45;
    new DataView(key.buffer).setUint32(1, no as number);
    new DataView(key.buffer).setUint32(9, 3);
    const v = new Uint8Array((await db.get(key)) as Uint8Array);
    v[v.byteLength - 1] = (v[v.byteLength - 1] as number) ^ 1;
    await db.put(key, v);
    await db.close();
    clock.advance(60_000);
    const store = await h.reopen({ clock: clock.now });
    // the read that meets the bad record starts the new segment; the query answers from it
    const records = await store.audit();
    expect(records.map((r) => r.action)).toEqual(['audit.restart', 'token.create', 'token.create']);
    expect(records[0]).toMatchObject({ actor: 'node', details: { kept: 2, lost: 1 } });
    expect(records.slice(1).map((r) => r.at)).toEqual([new Date(t0 + 1000).toISOString(), new Date(t0).toISOString()]);
    expect(store.log.isDamaged('#audit')).toBe(false);
    expect(store.damaged().repaired.map((r) => r.message)).toEqual([expect.stringContaining("'#audit'")]);
    await store.recordAudit({ actor: 'admin', origin: 'cli', action: 'token.revoke', outcome: 'ok' });
    expect((await store.audit({ limit: 1 }))[0]?.action).toBe('token.revoke');
    expect((await store.log.verify()).ok).toBe(true);
  });
});
