import { describe, expect, it } from 'vitest';
import {
  FINISH_BYTES,
  HELLO_BYTES,
  HandshakeInitiator,
  HandshakeReplayGuard,
  HandshakeResponder,
  NodeIdentity,
  REPLY_BYTES,
  allowList,
  networkKeyFor,
  type AllowPolicy,
  type HandshakeOptions,
  type ResponderOptions,
} from '../src/index.js';
import { bytes, codeOfSync } from './helpers.js';

const alice = NodeIdentity.generate().identity;
const bob = NodeIdentity.generate().identity;
const mallory = NodeIdentity.generate().identity;
const only = (id: NodeIdentity): AllowPolicy => allowList([id.publicKey]);

function pair(
  init: Partial<HandshakeOptions> = {},
  resp: Partial<ResponderOptions> = {},
): { i: HandshakeInitiator; r: HandshakeResponder } {
  return {
    i: new HandshakeInitiator({ identity: alice, isAllowed: only(bob), ...init }),
    r: new HandshakeResponder({ identity: bob, isAllowed: only(alice), ...resp }),
  };
}

function runPair({ i, r }: { i: HandshakeInitiator; r: HandshakeResponder }) {
  return run(i, r);
}

function run(i: HandshakeInitiator, r: HandshakeResponder) {
  const hello = i.hello();
  const reply = r.reply(hello);
  const { message: finish, result: initiator } = i.finish(reply);
  const responder = r.finish(finish);
  return { hello, reply, finish, initiator, responder };
}

describe('handshake', () => {
  it('authenticates both sides and yields matching sessions with separate directions', () => {
    const { i, r } = pair();
    const { hello, reply, finish, initiator, responder } = run(i, r);
    expect([hello.length, reply.length, finish.length]).toEqual([HELLO_BYTES, REPLY_BYTES, FINISH_BYTES]);
    expect(Buffer.from(initiator.peerPublicKey).equals(Buffer.from(bob.publicKey))).toBe(true);
    expect(Buffer.from(responder.peerPublicKey).equals(Buffer.from(alice.publicKey))).toBe(true);
    expect(initiator.peerFingerprint).toBe(bob.fingerprint);
    expect(responder.peerFingerprint).toBe(alice.fingerprint);
    expect(initiator.session.id).toBe(responder.session.id);
    expect(initiator.durationMillis).toBeGreaterThanOrEqual(0);
    const a = initiator.session;
    const b = responder.session;
    const f1 = a.seal(bytes('from alice'));
    expect(b.open(f1)).toEqual({ type: 'data', data: bytes('from alice') });
    const f2 = b.seal(bytes('from bob'));
    expect(a.open(f2)).toEqual({ type: 'data', data: bytes('from bob') });
    // a frame reflected back to its sender does not open (per-direction keys and nonces)
    const { initiator: i2 } = runPair(pair());
    const own = i2.session.seal(bytes('x'));
    expect(codeOfSync(() => i2.session.open(own))).toBe('CRYPTO_DECRYPT_FAILED');
  });

  it('never reveals identities or plaintext keys in the clear', () => {
    const { hello, reply, finish } = runPair(pair());
    for (const msg of [hello, reply, finish]) {
      for (const id of [alice, bob]) expect(Buffer.from(msg).includes(Buffer.from(id.publicKey))).toBe(false);
    }
  });

  it('the responder rejects an initiator not on its allow list with CRYPTO_PEER_UNKNOWN, before any session exists', () => {
    const i = new HandshakeInitiator({ identity: mallory, isAllowed: only(bob) });
    const r = new HandshakeResponder({ identity: bob, isAllowed: only(alice) });
    const reply = r.reply(i.hello());
    const { message } = i.finish(reply);
    expect(codeOfSync(() => r.finish(message))).toBe('CRYPTO_PEER_UNKNOWN');
    // and the failed responder stays failed
    expect(codeOfSync(() => r.finish(message))).toBe('CRYPTO_HANDSHAKE_FAILED');
  });

  it('the initiator rejects a responder that is not the expected key with CRYPTO_PEER_UNKNOWN', () => {
    const i = new HandshakeInitiator({ identity: alice, isAllowed: only(bob) });
    const r = new HandshakeResponder({ identity: mallory, isAllowed: only(alice) });
    expect(codeOfSync(() => i.finish(r.reply(i.hello())))).toBe('CRYPTO_PEER_UNKNOWN');
  });

  it('an allow list of text keys works like one of bytes', () => {
    const { i, r } = pair({ isAllowed: allowList([bob.publicKeyText]) }, { isAllowed: allowList([` ${alice.publicKeyText} `]) });
    expect(run(i, r).responder.peerFingerprint).toBe(alice.fingerprint);
    expect(codeOfSync(() => allowList(['not-a-key']))).toBe('CRYPTO_BAD_PUBLIC_KEY');
  });

  it('a replayed hello is refused by a shared replay guard (CRYPTO_HANDSHAKE_REPLAY)', () => {
    const guard = new HandshakeReplayGuard({ capacity: 2 });
    const first = pair({}, { replayGuard: guard });
    const { hello } = run(first.i, first.r);
    const again = new HandshakeResponder({ identity: bob, isAllowed: only(alice), replayGuard: guard });
    expect(codeOfSync(() => again.reply(hello))).toBe('CRYPTO_HANDSHAKE_REPLAY');
    // bounded memory: old entries are forgotten FIFO
    for (let n = 0; n < 3; n++) runPair(pair({}, { replayGuard: guard }));
    expect(guard.size).toBe(2);
  });

  it('a replayed hello + finish (no guard) fails: the old finish does not fit the new transcript', () => {
    const recorded = runPair(pair());
    const r = new HandshakeResponder({ identity: bob, isAllowed: only(alice) });
    r.reply(recorded.hello);
    expect(codeOfSync(() => r.finish(recorded.finish))).toBe('CRYPTO_HANDSHAKE_FAILED');
  });

  it('a replayed reply to a new initiator fails (CRYPTO_HANDSHAKE_FAILED)', () => {
    const recorded = runPair(pair());
    const i = new HandshakeInitiator({ identity: alice, isAllowed: only(bob) });
    i.hello();
    expect(codeOfSync(() => i.finish(recorded.reply))).toBe('CRYPTO_HANDSHAKE_FAILED');
  });

  it('a finish from a different session (identity misbinding attempt) fails', () => {
    // mallory is allowed by bob, runs her own handshake in parallel and tries to splice her finish into alice's
    const r = new HandshakeResponder({ identity: bob, isAllowed: allowList([alice.publicKey, mallory.publicKey]) });
    const i = new HandshakeInitiator({ identity: alice, isAllowed: only(bob) });
    const reply = r.reply(i.hello());
    i.finish(reply);
    const m = new HandshakeInitiator({ identity: mallory, isAllowed: only(bob) });
    const r2 = new HandshakeResponder({ identity: bob, isAllowed: allowList([mallory.publicKey]) });
    const { message: malloryFinish } = m.finish(r2.reply(m.hello()));
    expect(codeOfSync(() => r.finish(malloryFinish))).toBe('CRYPTO_HANDSHAKE_FAILED');
  });

  it('a protocol version mismatch fails with CRYPTO_VERSION_MISMATCH on either side', () => {
    const { i, r } = pair();
    const hello = new Uint8Array(i.hello());
    hello[0] = 2;
    expect(codeOfSync(() => r.reply(hello))).toBe('CRYPTO_VERSION_MISMATCH');
    const p = pair();
    const reply = new Uint8Array(p.r.reply(p.i.hello()));
    reply[0] = 9;
    expect(codeOfSync(() => p.i.finish(reply))).toBe('CRYPTO_VERSION_MISMATCH');
    const q = pair();
    const { message } = q.i.finish(q.r.reply(q.i.hello()));
    const finish = new Uint8Array(message);
    finish[0] = 0;
    expect(codeOfSync(() => q.r.finish(finish))).toBe('CRYPTO_VERSION_MISMATCH');
  });

  it('nodes of different network keys cannot talk (CRYPTO_NETWORK_MISMATCH)', () => {
    const { i, r } = pair({ networkKey: networkKeyFor('staging') }, { networkKey: networkKeyFor('prod') });
    expect(codeOfSync(() => r.reply(i.hello()))).toBe('CRYPTO_NETWORK_MISMATCH');
    const same = pair({ networkKey: networkKeyFor('prod') }, { networkKey: networkKeyFor('prod') });
    expect(run(same.i, same.r).responder.peerFingerprint).toBe(alice.fingerprint);
  });

  it('rejects a flip of any byte of any handshake message with a coded error', () => {
    const codes = new Set<string>();
    const hello = pair().i.hello();
    for (let n = 0; n < hello.length; n++) {
      const m = new Uint8Array(hello);
      m[n]! ^= 0x10;
      const code = codeOfSync(() => new HandshakeResponder({ identity: bob, isAllowed: only(alice) }).reply(m));
      expect(['CRYPTO_VERSION_MISMATCH', 'CRYPTO_HANDSHAKE_FAILED', 'CRYPTO_NETWORK_MISMATCH']).toContain(code);
      codes.add(code);
    }
    for (let n = 0; n < REPLY_BYTES; n++) {
      const { i, r } = pair();
      const m = new Uint8Array(r.reply(i.hello()));
      m[n]! ^= 0x10;
      expect(['CRYPTO_VERSION_MISMATCH', 'CRYPTO_HANDSHAKE_FAILED']).toContain(codeOfSync(() => i.finish(m)));
    }
    for (let n = 0; n < FINISH_BYTES; n++) {
      const { i, r } = pair();
      const { message } = i.finish(r.reply(i.hello()));
      const m = new Uint8Array(message);
      m[n]! ^= 0x10;
      expect(['CRYPTO_VERSION_MISMATCH', 'CRYPTO_HANDSHAKE_FAILED']).toContain(codeOfSync(() => r.finish(m)));
    }
    expect(codes.has('CRYPTO_NETWORK_MISMATCH')).toBe(true);
  }, 60_000);

  it('rejects truncated messages, a low-order ephemeral key and out-of-order calls', () => {
    const { i, r } = pair();
    const hello = i.hello();
    expect(codeOfSync(() => r.reply(hello.subarray(0, 65)))).toBe('CRYPTO_HANDSHAKE_FAILED');
    expect(codeOfSync(() => r.reply(new Uint8Array(0)))).toBe('CRYPTO_HANDSHAKE_FAILED');
    expect(codeOfSync(() => i.hello())).toBe('CRYPTO_HANDSHAKE_FAILED');
    const fresh = pair();
    expect(codeOfSync(() => fresh.r.finish(new Uint8Array(FINISH_BYTES)))).toBe('CRYPTO_HANDSHAKE_FAILED');
    expect(codeOfSync(() => fresh.i.finish(new Uint8Array(REPLY_BYTES)))).toBe('CRYPTO_HANDSHAKE_FAILED');
    // a reply whose ephemeral is the all-zero (low-order) point
    const p = pair();
    p.i.hello();
    const evil = new Uint8Array(REPLY_BYTES);
    evil[0] = 1;
    evil[1] = 2;
    expect(codeOfSync(() => p.i.finish(evil))).toBe('CRYPTO_HANDSHAKE_FAILED');
  });

  it('validates its options', () => {
    expect(codeOfSync(() => new HandshakeInitiator({ identity: alice } as HandshakeOptions))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(codeOfSync(() => new HandshakeInitiator({ identity: alice, isAllowed: () => true, networkKey: new Uint8Array(16) }))).toBe('CRYPTO_INVALID_ARGUMENT');
    expect(codeOfSync(() => new HandshakeReplayGuard({ capacity: 0 }))).toBe('CRYPTO_INVALID_ARGUMENT');
  });
});
