/**
 * Security on real sockets: unknown keys, bad handshakes, tampered, replayed and reordered
 * frames and garbage messages are refused with coded closes before any profile data reaches
 * the store (no applyRemoteUpdate, nothing but the handshake sent to an unauthenticated client).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { HandshakeInitiator, NodeIdentity, networkKeyFor, type SecureSession } from '@profilesync/crypto';
import { decodeMessage, encodeMessage, MessageType, STEP1_REPLY, SYNC_SUBPROTOCOL } from '../src/index.js';
import { ctx, node, sample, until, type TestNode } from './helpers.js';

interface Raw {
  ws: WebSocket;
  received: Uint8Array[];
  next(): Promise<Uint8Array>;
  closed: Promise<{ code: number; reason: string }>;
}

async function raw(target: TestNode, protocols: string[] = [SYNC_SUBPROTOCOL]): Promise<Raw> {
  const ws = new WebSocket(`${target.url}/sync`, protocols);
  const received: Uint8Array[] = [];
  const waiting: ((b: Uint8Array) => void)[] = [];
  let read = 0;
  ws.on('message', (d: Buffer) => {
    received.push(new Uint8Array(d));
    const w = waiting.shift();
    if (w) w(received[read++]!);
  });
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', () => reject(new Error('closed before open')));
  });
  return { ws, received, closed, next: () => (read < received.length ? Promise.resolve(received[read++]!) : new Promise((r) => waiting.push(r))) };
}

/** Runs the initiator side of the handshake; returns the session (the acceptor's first frame follows). */
async function handshake(r: Raw, identity: NodeIdentity, networkKey?: Uint8Array): Promise<{ session: SecureSession; hello: Uint8Array }> {
  const hs = new HandshakeInitiator({ identity, isAllowed: () => true, ...(networkKey ? { networkKey } : {}) });
  const hello = hs.hello();
  r.ws.send(hello);
  const { message, result } = hs.finish(await r.next());
  r.ws.send(message);
  return { session: result.session, hello };
}

const payload = (m: Uint8Array): Uint8Array => new Uint8Array([0, ...m]); // fragment flag 0: a whole message

let a: TestNode;
let applied = 0;
let friend: NodeIdentity;
let evilUpdate: Uint8Array;

beforeEach(async () => {
  a = await node('a');
  friend = NodeIdentity.generate().identity;
  applied = 0;
  a.store.on('remote-applied', () => applied++);
  await a.store.create({ id: 'secret', ...sample({ systemMessage: 'top secret prompt' }) }, ctx);
  a.start({ peers: [{ publicKey: friend.publicKeyText, name: 'friend' }], limits: { handshakeTimeoutMs: 300 } });
  const doc = new Y.Doc();
  doc.getMap('profile').set('id', 'evil');
  evilUpdate = Y.encodeStateAsUpdate(doc);
});
afterEach(async () => {
  await a.close();
});

const audited = async (reason: string): Promise<boolean> => (await a.store.audit({ action: 'auth.denied' })).some((r) => r.details?.['reason'] === reason);

describe('handshake', () => {
  it('an unknown key is refused (4403 CRYPTO_PEER_UNKNOWN) after the reply; nothing else is sent; audited', async () => {
    const stranger = NodeIdentity.generate().identity;
    const r = await raw(a);
    await handshake(r, stranger);
    expect(await r.closed).toEqual({ code: 4403, reason: 'CRYPTO_PEER_UNKNOWN' });
    expect(r.received).toHaveLength(1); // the handshake reply only
    await until(() => audited('CRYPTO_PEER_UNKNOWN'), 5_000, 'audit');
    expect(applied).toBe(0);
    expect(a.sync!.status()[0]!.connected).toBe(false);
  });

  it('malformed, foreign-network, wrong-version, replayed and missing hellos are refused with codes', async () => {
    const cases: [Uint8Array | string | null, number, string][] = [
      [new Uint8Array([1, 1, 0, 0, 0]), 4401, 'CRYPTO_HANDSHAKE_FAILED'],
      [new Uint8Array([1, 1, ...new Uint8Array(64)]), 4401, 'CRYPTO_NETWORK_MISMATCH'],
      [new Uint8Array([9, 1, ...new Uint8Array(64)]), 4426, 'CRYPTO_VERSION_MISMATCH'],
      ['hello as text', 4400, 'SYNC_BAD_MESSAGE'],
      [null, 4408, 'SYNC_HANDSHAKE_TIMEOUT'],
    ];
    for (const [hello, code, reason] of cases) {
      const r = await raw(a);
      if (hello !== null) r.ws.send(hello);
      expect(await r.closed).toEqual({ code, reason });
      expect(r.received).toHaveLength(0);
    }
    // a hello from another deployment (network key)
    const other = await raw(a);
    other.ws.send(new HandshakeInitiator({ identity: friend, isAllowed: () => true, networkKey: networkKeyFor('other') }).hello());
    expect(await other.closed).toEqual({ code: 4401, reason: 'CRYPTO_NETWORK_MISMATCH' });
    // a recorded hello played again
    const first = await raw(a);
    const { hello } = await handshake(first, friend);
    first.ws.close();
    const again = await raw(a);
    again.ws.send(hello);
    expect(await again.closed).toEqual({ code: 4401, reason: 'CRYPTO_HANDSHAKE_REPLAY' });
    expect(again.received).toHaveLength(0);
    // no subprotocol
    const plain = await raw(a, []);
    expect(await plain.closed).toEqual({ code: 4426, reason: 'SYNC_PROTOCOL_UNSUPPORTED' });
    expect(applied).toBe(0);
  });
});

describe('frames', () => {
  async function session(): Promise<{ r: Raw; s: SecureSession }> {
    const r = await raw(a);
    const { session: s } = await handshake(r, friend);
    s.open(await r.next()); // the acceptor's first frame (its digest round) confirms the session
    return { r, s };
  }

  it('a tampered frame closes the session (4406 CRYPTO_DECRYPT_FAILED); its update is never applied', async () => {
    const { r, s } = await session();
    const frame = s.seal(payload(encodeMessage({ type: MessageType.UPDATE, id: 'evil', update: evilUpdate })));
    frame[frame.length - 3]! ^= 0x40;
    r.ws.send(frame);
    expect(await r.closed).toEqual({ code: 4406, reason: 'CRYPTO_DECRYPT_FAILED' });
    expect(applied).toBe(0);
    expect(a.store.versionHashes().has('evil')).toBe(false);
  });

  it('replayed and reordered frames are refused; a frame from an earlier session does not open', async () => {
    const one = await session();
    const control = one.s.seal(payload(encodeMessage({ type: MessageType.ROUND_END, round: 999 })));
    one.r.ws.send(control);
    one.r.ws.send(control);
    expect(await one.r.closed).toEqual({ code: 4406, reason: 'CRYPTO_FRAME_REPLAY' });

    const two = await session();
    const f0 = two.s.seal(payload(encodeMessage({ type: MessageType.ROUND_END, round: 999 })));
    const f1 = two.s.seal(payload(encodeMessage({ type: MessageType.UPDATE, id: 'evil', update: evilUpdate })));
    two.r.ws.send(f1);
    two.r.ws.send(f0);
    expect(await two.r.closed).toEqual({ code: 4406, reason: 'CRYPTO_FRAME_REORDER' });

    // a valid data frame of session 3, played into session 4 (same counter, other keys)
    const three = await session();
    const recorded = three.s.seal(payload(encodeMessage({ type: MessageType.UPDATE, id: 'evil', update: evilUpdate })));
    three.r.ws.close();
    await three.r.closed;
    const four = await session();
    four.r.ws.send(recorded);
    expect(await four.r.closed).toEqual({ code: 4406, reason: 'CRYPTO_DECRYPT_FAILED' });
    expect(applied).toBe(0);
    expect(a.store.versionHashes().has('evil')).toBe(false);
  });

  it('garbage inside valid frames: 4400 SYNC_BAD_MESSAGE / 4422 SYNC_BAD_UPDATE, audited as sync.rejected', async () => {
    const cases: [Uint8Array, number, string][] = [
      [payload(new Uint8Array([99, 1, 2])), 4400, 'SYNC_BAD_MESSAGE'],
      [new Uint8Array([7, 1, 2]), 4400, 'SYNC_BAD_MESSAGE'],
      [payload(encodeMessage({ type: MessageType.UPDATE, id: 'evil', update: new Uint8Array([1, 2, 3, 250, 250]) })), 4422, 'SYNC_BAD_UPDATE'],
    ];
    for (const [p, code, reason] of cases) {
      const { r, s } = await session();
      r.ws.send(s.seal(p));
      expect(await r.closed).toEqual({ code, reason });
    }
    await until(async () => (await a.store.audit({ action: 'sync.rejected' })).length >= 3, 5_000, 'audit');
    expect(a.store.versionHashes().has('evil')).toBe(false);
  });

  it('an update that touches a root no peer may write is refused (audited PROFILE_READONLY_FIELD); the session goes on', async () => {
    const { r, s } = await session();
    const before = a.store.versionHashes().get('secret');
    const rogue = new Y.Doc();
    rogue.getMap('evil').set('x', 1);
    r.ws.send(s.seal(payload(encodeMessage({ type: MessageType.UPDATE, id: 'secret', update: Y.encodeStateAsUpdate(rogue) }))));
    await until(async () => (await a.store.audit({ action: 'sync.rejected', profile: 'secret' })).some((x) => x.details?.['code'] === 'PROFILE_READONLY_FIELD'), 5_000, 'audit');
    expect(a.store.versionHashes().get('secret')).toBe(before);
    // one refused profile does not cut the peer off: the session still answers a step 1
    r.ws.send(s.seal(payload(encodeMessage({ type: MessageType.STEP1, id: 'secret', stateVector: new Uint8Array([0]), hash: '', flags: STEP1_REPLY }))));
    for (;;) {
      const m = decodeMessage((s.open(await r.next()) as { data: Uint8Array }).data.subarray(1));
      if (m.type === MessageType.STEP2 && m.id === 'secret') {
        expect(m.update.length).toBeGreaterThan(0);
        break;
      }
    }
    expect(r.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('a fragment without bytes is 4400 SYNC_BAD_MESSAGE (empty fragments would grow the reassembly without counting toward maxMessageBytes)', async () => {
    const { r, s } = await session();
    const step1 = encodeMessage({ type: MessageType.STEP1, id: 'secret', stateVector: new Uint8Array([0]), hash: '', flags: STEP1_REPLY });
    // before: any number of empty "more" fragments was held (a view object each, 0 bytes counted);
    // the "last" fragment then completed the message and the node answered it
    r.ws.send(s.seal(new Uint8Array([1])));
    r.ws.send(s.seal(new Uint8Array([1])));
    r.ws.send(s.seal(new Uint8Array([2, ...step1])));
    const answered = (async (): Promise<string> => {
      for (;;) {
        const data = (s.open(await r.next()) as { data?: Uint8Array }).data; // the goodbye frame has none
        if (data === undefined) return new Promise<string>(() => undefined);
        const m = decodeMessage(data.subarray(1));
        if (m.type === MessageType.STEP2 && m.id === 'secret') return 'answered';
      }
    })();
    expect(await Promise.race([answered, r.closed])).toEqual({ code: 4400, reason: 'SYNC_BAD_MESSAGE' });
    await until(async () => (await a.store.audit({ action: 'sync.rejected' })).length >= 1, 5_000, 'audit');
  });

  it('a frame over maxPayload is refused by the socket (1009)', async () => {
    const { r } = await session();
    r.ws.send(new Uint8Array(1024 * 1024 + 64));
    expect((await r.closed).code).toBe(1009);
    expect(applied).toBe(0);
  });
});
