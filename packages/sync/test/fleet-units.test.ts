/**
 * The fleet's parts alone (sealing, codecs, the outbox watermark, the durable state) and the
 * Fleet on real stores over a MemoryBus for the explicit rules: a duplicate appends
 * nothing and echoes nothing, a bad entry resets only its shard, an invalid update is refused
 * and audited while the shard goes on, a failed publish never fails the write.
 */
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBusServer, START_CURSOR, type BusEntry } from '@profilesync/bus';
import { NodeIdentity } from '@profilesync/crypto';
import { openStore } from '@profilesync/core';
import { rm } from 'node:fs/promises';
import { decodeEntry, encodeEntry, Fleet, logFleetStorage, memberIdFor, parseFleetKey, Sealer, SealKind, shardOf, syncUrlOf, type FleetRepairPort, type SyncEvents } from '../src/index.js';
import { Outbox, parseState, serializeState, freshState } from '../src/fleet/state.js';
import { shardContext, textContext } from '../src/fleet/seal.js';
import { decodeMember, encodeMember } from '../src/fleet/codec.js';
import { tempDir, until, type Store } from './helpers.js';

const KEY = new Uint8Array(32).fill(3);
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('sealing with the fleet key', () => {
  const s = new Sealer(KEY);
  const ctx = shardContext(3);
  const msg = new TextEncoder().encode('a change');

  it('opens what it sealed; every seal has a fresh nonce', () => {
    const a = s.seal(SealKind.entry, ctx, msg);
    const b = s.seal(SealKind.entry, ctx, msg);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(new TextDecoder().decode(new Sealer(KEY).open(SealKind.entry, ctx, a))).toBe('a change');
    expect(Buffer.from(a).includes(Buffer.from('a change'))).toBe(false);
  });

  it('refuses another key (SYNC_FLEET_KEY_MISMATCH), and any alteration, other context or kind (SYNC_FLEET_BAD_ENTRY)', () => {
    const sealed = s.seal(SealKind.entry, ctx, msg);
    expect(code(() => new Sealer(new Uint8Array(32).fill(4)).open(SealKind.entry, ctx, sealed))).toBe('SYNC_FLEET_KEY_MISMATCH');
    for (let i = 0; i < sealed.length; i += 7) {
      const bad = sealed.slice();
      bad[i]! ^= 1;
      expect(['SYNC_FLEET_BAD_ENTRY', 'SYNC_FLEET_KEY_MISMATCH']).toContain(code(() => s.open(SealKind.entry, ctx, bad)));
    }
    expect(code(() => s.open(SealKind.entry, shardContext(4), sealed))).toBe('SYNC_FLEET_BAD_ENTRY');
    expect(code(() => s.open(SealKind.presence, ctx, sealed))).toBe('SYNC_FLEET_BAD_ENTRY');
    expect(code(() => s.open(SealKind.entry, ctx, sealed.subarray(0, sealed.length - 1)))).toBe('SYNC_FLEET_BAD_ENTRY');
    expect(code(() => s.open(SealKind.entry, ctx, new Uint8Array(10)))).toBe('SYNC_FLEET_BAD_ENTRY');
  });

  it('fleet keys: 32 bytes of base64 or base64url, anything else SYNC_FLEET_INVALID_KEY', () => {
    expect(parseFleetKey(Buffer.alloc(32, 9).toString('base64'))).toEqual(new Uint8Array(32).fill(9));
    expect(parseFleetKey(Buffer.alloc(32, 250).toString('base64url'))).toEqual(new Uint8Array(32).fill(250));
    for (const bad of ['', 'short', Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64'), 42, null]) {
      expect(code(() => parseFleetKey(bad))).toBe('SYNC_FLEET_INVALID_KEY');
    }
  });

  it('presence channels are keyed names: stable, distinct per profile and per key', () => {
    expect(s.channelFor('p1')).toBe(new Sealer(KEY).channelFor('p1'));
    expect(s.channelFor('p1')).not.toBe(s.channelFor('p2'));
    expect(s.channelFor('p1')).not.toBe(new Sealer(new Uint8Array(32)).channelFor('p1'));
    expect(s.channelFor('p1')).not.toContain('p1');
  });
});

describe('codecs', () => {
  it('entries round-trip; malformed ones are SYNC_FLEET_BAD_ENTRY', () => {
    const e = { member: 'abc123', actor: 'alice', profile: 'p-1', update: Uint8Array.of(1, 2, 3), state: true };
    expect(decodeEntry(encodeEntry(e))).toEqual(e);
    const good = encodeEntry(e);
    expect(code(() => decodeEntry(good.subarray(0, 5)))).toBe('SYNC_FLEET_BAD_ENTRY');
    expect(code(() => decodeEntry(Uint8Array.of(2, ...good.subarray(1))))).toBe('SYNC_FLEET_BAD_ENTRY');
    expect(code(() => decodeEntry(encodeEntry({ ...e, profile: 'bad id!' })))).toBe('SYNC_FLEET_BAD_ENTRY');
    expect(code(() => decodeEntry(encodeEntry({ ...e, update: new Uint8Array(0) })))).toBe('SYNC_FLEET_BAD_ENTRY');
  });

  it('member records: signed by their own key, id = hash of the key; a forged or moved record is refused', () => {
    const { identity } = NodeIdentity.generate();
    const { identity: other } = NodeIdentity.generate();
    const id = memberIdFor(identity.publicKey);
    const info = { id, url: 'http://10.0.0.5:7878', publicKey: identity.publicKeyText, fingerprint: identity.fingerprint, at: 1, startedAt: 1, ready: true };
    const rec = encodeMember(info, (m) => identity.sign(m));
    expect(decodeMember(rec, id)).toEqual(info);
    // signed by someone else
    expect(code(() => decodeMember(encodeMember(info, (m) => other.sign(m)), id))).toBe('SYNC_FLEET_BAD_ENTRY');
    // stored under another member's id
    expect(code(() => decodeMember(rec, memberIdFor(other.publicKey)))).toBe('SYNC_FLEET_BAD_ENTRY');
    // a URL that is not http(s)
    expect(code(() => decodeMember(encodeMember({ ...info, url: 'ftp://x' }, (m) => identity.sign(m)), id))).toBe('SYNC_FLEET_BAD_ENTRY');
    expect(syncUrlOf('https://node-a.example:8443')).toBe('wss://node-a.example:8443/sync');
  });

  it('the shard of a profile is fixed (SHA-256 of the id, big-endian u32, mod shards)', () => {
    expect([shardOf('a', 16), shardOf('profile-1', 16), shardOf('support-bot', 16)]).toEqual([
      Buffer.from('ca978112', 'hex').readUInt32BE(0) % 16,
      shardOf('profile-1', 16),
      shardOf('support-bot', 16),
    ]);
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 1600; i++) counts[shardOf(`p-${i}`, 16)]++;
    expect(Math.min(...counts)).toBeGreaterThan(60); // spread over every shard
  });
});

describe('outbox and durable state', () => {
  it('the watermark is the highest lsn under which nothing waits to be published', () => {
    const o = new Outbox(10);
    expect(o.watermark()).toBe(10);
    o.seen(11);
    o.begin(11);
    o.seen(12);
    o.begin(12);
    expect(o.watermark()).toBe(10);
    o.end(12);
    expect(o.watermark()).toBe(10);
    o.end(11);
    expect(o.watermark()).toBe(12);
    o.seen(13);
    o.markDirty('p', 13);
    o.seen(14);
    expect(o.watermark()).toBe(12);
    o.markDirty('p', 14); // changed again: generation 1
    expect(o.settle('p', 0)).toBe(false); // a republish read before the second change does not settle it
    expect(o.settle('p', 1)).toBe(true);
    expect(o.watermark()).toBe(14);
  });

  it('a stored state round-trips; unreadable or another shard count restarts the cursors and owes a repair', () => {
    const s = { ...freshState(4), publishedLsn: 7, cursors: [{ epoch: 'e', position: '1-1' }, START_CURSOR, START_CURSOR, START_CURSOR] };
    expect(parseState(serializeState(s), 4)).toEqual({ state: s });
    expect(parseState(undefined, 4).state.repairPending).toBe(false);
    const garbage = parseState(new TextEncoder().encode('{nope'), 4);
    expect(garbage.problem).toMatch(/unreadable/);
    expect(garbage.state).toMatchObject({ repairPending: true, publishedLsn: 0 });
    const other = parseState(serializeState(s), 8);
    expect(other.problem).toMatch(/shard count changed/);
    expect(other.state).toMatchObject({ repairPending: true, publishedLsn: 7, shards: 8 });
    expect(other.state.cursors).toHaveLength(8);
  });
});

// ---- the Fleet on real stores over a MemoryBus ----------------------------------------------


interface N {
  store: Store;
  fleet: Fleet;
  dir: string;
  events: { [K in keyof SyncEvents]?: SyncEvents[K][] };
  /** member ids this node ran a repair with */
  repairs: string[];
}

let open: N[] = [];
afterEach(async () => {
  for (const n of open) {
    await n.fleet.close();
    await n.store.close();
    await rm(n.dir, { recursive: true, force: true });
  }
  open = [];
});

async function member(server: MemoryBusServer): Promise<N> {
  const dir = await tempDir('fleet-unit-');
  const store = await openStore({ dir });
  const bus = server.connect();
  const repairs: string[] = [];
  const port: FleetRepairPort = { addMember: () => undefined, removeMember: () => undefined, repairWith: async (id) => (repairs.push(id), { ok: true }), setStanding: () => undefined };
  const fleet = new Fleet({ bus, key: KEY, store, identity: NodeIdentity.generate().identity, storage: logFleetStorage((store as unknown as { log: Parameters<typeof logFleetStorage>[0] }).log), repair: port, limits: { heartbeatMs: 20, blockMs: 10, flushMs: 10, antiEntropyMs: 0 } });
  const n: N = { store, fleet, dir, events: {}, repairs };
  for (const ev of ['fleet-applied', 'fleet-rejected', 'fleet-shard-reset', 'fleet-published', 'fleet-publish-failed'] as const) {
    fleet.on(ev, (e) => ((n.events[ev] ??= []) as unknown[]).push(e));
  }
  await fleet.start(`http://node-${open.length}.test:1`);
  open.push(n);
  return n;
}

const ctx = { actor: 'alice', origin: 'local' };
const profile = (id: string) => ({ id, modelId: 'm', name: id, systemMessage: 'Be brief.' });
const ready = (ns: N[]) => Promise.all(ns.map((n) => n.fleet.whenReady()));

describe('Fleet over a MemoryBus', () => {
  it('a duplicate entry appends nothing and echoes nothing', async () => {
    const server = new MemoryBusServer({ shards: 4, faults: { duplicate: 1 } });
    const a = await member(server);
    const b = await member(server);
    await ready([a, b]);
    await a.store.create(profile('dup'), ctx);
    const shard = shardOf('dup', 4);
    await until(() => (b.events['fleet-applied'] ?? []).filter((e) => e.id === 'dup').length === 2, 10_000, 'both copies read');
    const applied = b.events['fleet-applied']!.filter((e) => e.id === 'dup');
    expect(applied.map((e) => e.applied)).toEqual([true, false]);
    expect(b.store.log.head('dup')!.seq).toBe(1); // one entry
    // B published nothing back (its change came from the bus): only A's two copies are on the shard
    expect(server.entries(shard)).toHaveLength(2);
    expect(b.events['fleet-published'] ?? []).toEqual([]);
  });

  it('a bad entry resets only its shard: it is skipped, a repair is owed, and the other shards go on', async () => {
    const server = new MemoryBusServer({ shards: 4 });
    const a = await member(server);
    const b = await member(server);
    await ready([a, b]);
    const ids = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
    const bad = shardOf('p0', 4);
    // a foreign, undecodable entry first in p0's shard
    const repairsBefore = b.repairs.length;
    const intruder = server.connect();
    intruder.start();
    await intruder.publish(bad, new TextEncoder().encode('not sealed'));
    for (const id of ids) await a.store.create(profile(id), ctx);
    await until(() => ids.every((id) => b.store.versionHashes().has(id)), 10_000, 'every profile on B');
    const resets = b.events['fleet-shard-reset']!.filter((e) => e.reason === 'bad-entry');
    expect(resets.map((e) => e.shard)).toEqual([bad]);
    await until(() => b.repairs.length > repairsBefore && !b.fleet.status().bus.repairPending, 10_000, 'a repair with A');
    expect(b.repairs.slice(repairsBefore)).toContain(a.fleet.id);
    await intruder.close();
  });

  it('an update the store refuses (validation) is audited, and the shard goes on', async () => {
    const server = new MemoryBusServer({ shards: 2 });
    const a = await member(server);
    const b = await member(server);
    await ready([a, b]);
    await a.store.create(profile('v'), ctx);
    await until(() => b.store.versionHashes().has('v'), 10_000, 'v on B');
    // a sealed entry (a member with the fleet key) whose update makes the profile invalid
    const doc = new Y.Doc({ gc: false });
    Y.applyUpdate(doc, await a.store.encodeStateAsUpdate('v'));
    const sv = Y.encodeStateVector(doc);
    doc.getMap('profile').set('modelId', 42 as unknown as string);
    const update = Y.encodeStateAsUpdate(doc, sv);
    const shard = shardOf('v', 2);
    const sealer = new Sealer(KEY);
    const rogue = server.connect();
    rogue.start();
    await rogue.publish(shard, sealer.seal(SealKind.entry, shardContext(shard), encodeEntry({ member: 'rogue0000001', actor: 'mallory', profile: 'v', update, state: false })));
    await a.store.create(profile('after'), ctx);
    await until(() => (b.events['fleet-rejected'] ?? []).length === 1 && b.store.versionHashes().has('after'), 10_000, 'rejected, then the next entry');
    expect(b.events['fleet-rejected']![0]).toMatchObject({ id: 'v', code: 'PROFILE_INVALID', from: 'rogue0000001' });
    expect((await b.store.get('v')).modelId).toBe('m');
    const audit = await b.store.audit({ profile: 'v', action: 'sync.rejected' });
    expect(audit[0]).toMatchObject({ actor: 'mallory', origin: 'bus:rogue0000001', outcome: 'rejected' });
    await rogue.close();
  });

  it('a failed publish never fails the write; the profile is republished whole when the bus answers', async () => {
    const server = new MemoryBusServer({ shards: 2 });
    const a = await member(server);
    const b = await member(server);
    await ready([a, b]);
    server.faults = { ...server.faults, failPublish: 1 };
    await expect(a.store.create(profile('offline'), ctx)).resolves.toMatchObject({ id: 'offline' });
    await until(() => (a.events['fleet-publish-failed'] ?? []).length > 0, 10_000, 'the failure');
    expect(a.fleet.status().bus.unpublished).toBe(1);
    server.faults = { ...server.faults, failPublish: 0 };
    await until(() => b.store.versionHashes().has('offline'), 10_000, 'republished and applied on B');
    expect(a.events['fleet-published']!.some((e) => e.state)).toBe(true);
    await until(() => a.fleet.status().bus.unpublished === 0, 10_000, 'nothing left to republish');
  });

  it('entries on the bus carry neither profile ids nor content', async () => {
    const server = new MemoryBusServer({ shards: 2 });
    const a = await member(server);
    await ready([a]);
    await a.store.create({ ...profile('secret-profile-id'), systemMessage: 'TOP SECRET PROMPT' }, ctx);
    await until(() => server.entries(shardOf('secret-profile-id', 2)).length > 0, 10_000, 'published');
    const all: BusEntry[] = [...server.entries(0), ...server.entries(1)];
    for (const e of all) {
      const text = Buffer.from(e.payload).toString('latin1');
      expect(text).not.toContain('secret-profile-id');
      expect(text).not.toContain('TOP SECRET');
    }
    // and they open only with the fleet key, bound to their shard
    expect(decodeEntry(new Sealer(KEY).open(SealKind.entry, shardContext(shardOf('secret-profile-id', 2)), all.at(-1)!.payload)).profile).toBe('secret-profile-id');
    expect(textContext('x')).toEqual(Uint8Array.of(120));
  });
});
