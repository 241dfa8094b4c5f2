import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUCKET_COUNT,
  classifyAttempt,
  closeCodeFor,
  decodeMessage,
  DEFAULT_BACKOFF,
  differingBuckets,
  encodeMessage,
  fragment,
  INITIAL_BACKOFF,
  keepSession,
  MessageType,
  nextBackoff,
  Reassembler,
  rootOf,
  StateDigest,
  syncUrl,
  type Message,
} from '../src/index.js';
import { resolveLimits, takeAuditToken } from '../src/limits.js';
import { Inbox } from '../src/inbox.js';
import { MAX_INBOX_BYTES, MAX_INBOX_MESSAGES } from '../src/link.js';
import { createSyncMount } from '../src/mount.js';
import { codeOf } from './helpers.js';

const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/);
const bytes = (max = 64) => fc.uint8Array({ maxLength: max });
const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant(MessageType.ROOT), round: fc.nat(), digest: fc.uint8Array({ minLength: 16, maxLength: 16 }), count: fc.nat() }),
  fc.record({ type: fc.constant(MessageType.MATCH), round: fc.nat() }),
  fc.record({ type: fc.constant(MessageType.ROUND_END), round: fc.nat() }),
  fc.record({ type: fc.constant(MessageType.BUCKETS), round: fc.nat(), buckets: fc.uint8Array({ minLength: 4096, maxLength: 4096 }) }),
  fc.record({
    type: fc.constant(MessageType.ENTRIES),
    round: fc.nat(),
    buckets: fc.uniqueArray(fc.record({ bucket: fc.nat(255), entries: fc.array(fc.tuple(id, fc.string({ maxLength: 22 }))) }), { selector: (b) => b.bucket, maxLength: 5 }),
  }),
  fc.record({ type: fc.constant(MessageType.STEP1), id, stateVector: bytes(), hash: fc.string({ maxLength: 22 }), flags: fc.nat(255) }),
  fc.record({ type: fc.constant(MessageType.STEP2), id, update: bytes() }),
  fc.record({ type: fc.constant(MessageType.UPDATE), id, update: bytes() }),
);

describe('codec', () => {
  it('round-trips every message', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 120 },
    );
  });

  it('random bytes decode or fail with SYNC_BAD_MESSAGE, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(bytes(200), async (b) => {
        const code = await codeOf(() => decodeMessage(b));
        expect(code === undefined || code === 'SYNC_BAD_MESSAGE').toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses bad ids, wrong digest sizes, unknown types and trailing bytes', async () => {
    const ok = encodeMessage({ type: MessageType.UPDATE, id: 'p1', update: new Uint8Array([1]) });
    expect(await codeOf(() => decodeMessage(new Uint8Array([...ok, 0])))).toBe('SYNC_BAD_MESSAGE');
    expect(await codeOf(() => decodeMessage(encodeMessage({ type: MessageType.UPDATE, id: '../x', update: new Uint8Array(1) })))).toBe('SYNC_BAD_MESSAGE');
    expect(await codeOf(() => decodeMessage(encodeMessage({ type: MessageType.ROOT, round: 1, digest: new Uint8Array(15), count: 0 })))).toBe('SYNC_BAD_MESSAGE');
    expect(await codeOf(() => decodeMessage(encodeMessage({ type: MessageType.BUCKETS, round: 1, buckets: new Uint8Array(10) })))).toBe('SYNC_BAD_MESSAGE');
    expect(await codeOf(() => decodeMessage(new Uint8Array([99])))).toBe('SYNC_BAD_MESSAGE');
    expect(await codeOf(() => decodeMessage(new Uint8Array([])))).toBe('SYNC_BAD_MESSAGE');
    const dup = encodeMessage({ type: MessageType.ENTRIES, round: 1, buckets: [{ bucket: 3, entries: [] }, { bucket: 3, entries: [] }] });
    expect(await codeOf(() => decodeMessage(dup))).toBe('SYNC_BAD_MESSAGE');
  });
});

describe('fragmentation', () => {
  it('splits and reassembles any message under any frame size', () => {
    fc.assert(
      fc.property(bytes(5000), fc.integer({ min: 2, max: 600 }), (m, max) => {
        const parts = fragment(m, max);
        for (const p of parts) expect(p.length).toBeLessThanOrEqual(max);
        const r = new Reassembler(10_000);
        const out = parts.map((p) => r.push(p));
        expect(out.slice(0, -1).every((x) => x === undefined)).toBe(true);
        expect(out[out.length - 1]).toEqual(m);
      }),
      { numRuns: 200 },
    );
  });

  it('enforces the message limit and the flag order', async () => {
    const r = new Reassembler(100);
    expect(await codeOf(() => r.push(new Uint8Array([0, ...new Uint8Array(101)])))).toBe('SYNC_MESSAGE_TOO_LARGE');
    const parts = fragment(new Uint8Array(150), 60);
    expect(await codeOf(() => parts.forEach((p) => new Reassembler(100).push(p)))).toBeUndefined();
    const r2 = new Reassembler(100);
    expect(await codeOf(() => parts.forEach((p) => r2.push(p)))).toBe('SYNC_MESSAGE_TOO_LARGE');
    const r3 = new Reassembler(1000);
    r3.push(parts[0]!);
    expect(await codeOf(() => r3.push(new Uint8Array([0, 1])))).toBe('SYNC_BAD_MESSAGE');
    expect(await codeOf(() => new Reassembler(10).push(new Uint8Array([7, 1])))).toBe('SYNC_BAD_MESSAGE');
    expect(await codeOf(() => new Reassembler(10).push(new Uint8Array([])))).toBe('SYNC_BAD_MESSAGE');
  });
});

describe('backoff policy', () => {
  const p = DEFAULT_BACKOFF;
  it('full jitter within an exponential, capped window; random 0 and 1 are the bounds', () => {
    let s = INITIAL_BACKOFF;
    const windows: number[] = [];
    for (let i = 1; i <= 12; i++) {
      const hi = nextBackoff(s, 'refused', p, () => 1);
      const lo = nextBackoff(s, 'refused', p, () => 0);
      expect(lo.delayMs).toBe(0);
      windows.push(hi.delayMs);
      expect(hi.delayMs).toBe(Math.min(p.capMs, p.baseMs * 2 ** i));
      s = hi.state;
    }
    expect(windows.at(-1)).toBe(p.capMs);
    expect(s.failures).toBe(12);
  });

  it('a server that closes right after accepting is backed off harder, with a floor', () => {
    const refused = nextBackoff({ failures: 2, storms: 0 }, 'refused', p, () => 0.5);
    const storm = nextBackoff({ failures: 2, storms: 0 }, 'short-lived', p, () => 0.5);
    expect(storm.delayMs).toBeGreaterThan(refused.delayMs);
    expect(storm.state).toEqual({ failures: 3, storms: 1 });
    const floor = nextBackoff({ failures: 2, storms: 0 }, 'short-lived', p, () => 0);
    expect(floor.delayMs).toBe(Math.min(p.stormCapMs, p.baseMs * 2 ** 5) / 2);
    let s = INITIAL_BACKOFF;
    let last = 0;
    for (let i = 0; i < 20; i++) ({ state: s, delayMs: last } = nextBackoff(s, 'short-lived', p, () => 1));
    expect(last).toBe(p.stormCapMs);
  });

  it('a stable connection resets the state; classification uses the injected clock', () => {
    const r = nextBackoff({ failures: 9, storms: 3 }, 'stable', p, () => 0.999);
    expect(r.state).toEqual(INITIAL_BACKOFF);
    expect(r.delayMs).toBeLessThan(p.baseMs);
    expect(classifyAttempt(undefined, 1000, p)).toBe('refused');
    expect(classifyAttempt(1000, 1000 + p.shortLivedMs - 1, p)).toBe('short-lived');
    expect(classifyAttempt(1000, 1000 + p.shortLivedMs, p)).toBe('stable');
  });

  it('random values outside [0, 1] are clamped', () => {
    expect(nextBackoff(INITIAL_BACKOFF, 'refused', p, () => 7).delayMs).toBe(p.baseMs * 2);
    expect(nextBackoff(INITIAL_BACKOFF, 'refused', p, () => -1).delayMs).toBe(0);
  });
});

describe('digest', () => {
  it('incremental folding equals a full rebuild; equal maps give equal roots', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(40), fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined })), { maxLength: 80 }), (ops) => {
        const live = new Map<string, string>();
        const d = new StateDigest(() => live);
        for (const [i, h] of ops) {
          const key = `p${i}`;
          if (h === undefined) live.delete(key);
          else live.set(key, h);
          d.markDirty(key);
        }
        const fresh = new StateDigest(() => new Map(live));
        expect(d.root().count).toBe(fresh.root().count);
        expect(Buffer.from(d.root().digest).equals(Buffer.from(fresh.root().digest))).toBe(true);
        expect(Buffer.from(d.buckets()).equals(Buffer.from(fresh.buckets()))).toBe(true);
        expect(differingBuckets(d.buckets(), fresh.buckets())).toEqual([]);
        let n = 0;
        for (let b = 0; b < BUCKET_COUNT; b++) n += d.entries(b).length;
        expect(n).toBe(live.size);
      }),
      { numRuns: 200 },
    );
  });

  it('one changed profile changes the root and exactly one bucket', () => {
    const a = new Map([...Array(300).keys()].map((i) => [`id${i}`, `h${i}`]));
    const b = new Map(a);
    b.set('id7', 'other');
    const da = new StateDigest(() => a);
    const db = new StateDigest(() => b);
    expect(Buffer.from(da.root().digest).equals(Buffer.from(db.root().digest))).toBe(false);
    const diff = differingBuckets(da.buckets(), db.buckets());
    expect(diff).toHaveLength(1);
    expect(db.entries(diff[0]!).find(([k]) => k === 'id7')?.[1]).toBe('other');
    expect(rootOf(new Uint8Array(4096), 0)).toEqual(new StateDigest(() => new Map()).root().digest);
  });

  it('a map that changed without notifications is caught by the size check', () => {
    const live = new Map([['a', '1']]);
    const d = new StateDigest(() => live);
    live.set('b', '2');
    expect(d.root().count).toBe(2);
    expect(d.rebuilds).toBe(2);
  });
});

describe('small policies', () => {
  it('duplicate sessions: both ends keep the one dialed by the smaller key', () => {
    const small = new Uint8Array(32).fill(1);
    const big = new Uint8Array(32).fill(2);
    // node "small" dialed session X, node "big" dialed session Y; each end sees them in either order
    expect(keepSession({ initiatorKey: small }, { initiatorKey: big })).toBe('existing');
    expect(keepSession({ initiatorKey: big }, { initiatorKey: small })).toBe('incoming');
    expect(keepSession({ initiatorKey: big }, { initiatorKey: big })).toBe('incoming');
  });

  it('peer URLs: ws/wss only, /sync added to a bare origin', async () => {
    expect(syncUrl('ws://h:1')).toBe('ws://h:1/sync');
    expect(syncUrl('wss://h/custom/sync')).toBe('wss://h/custom/sync');
    expect(await codeOf(() => syncUrl('http://h'))).toBe('SYNC_INVALID_ARGUMENT');
    expect(await codeOf(() => syncUrl('nope'))).toBe('SYNC_INVALID_ARGUMENT');
  });

  it('close codes: 44xx for decisions, 45xx for transient failures', () => {
    expect(closeCodeFor('SYNC_BAD_MESSAGE')).toBe(4400);
    expect(closeCodeFor('CRYPTO_PEER_UNKNOWN')).toBe(4403);
    expect(closeCodeFor('CRYPTO_DECRYPT_FAILED')).toBe(4406);
    expect(closeCodeFor('CRYPTO_FRAME_REPLAY')).toBe(4406);
    expect(closeCodeFor('PROFILE_NOT_FOUND')).toBe(4404);
    expect(closeCodeFor('AUTH_UNAUTHORIZED')).toBe(4401);
    expect(closeCodeFor('PROFILE_INVALID')).toBe(4422);
    expect(closeCodeFor('PROFILE_READONLY_FIELD')).toBe(4422); // a refused write: the provider must not resend it forever
    expect(closeCodeFor('SOMETHING_ELSE')).toBe(4500);
  });

  it('the server mount adapter needs a NodeIdentity; bad limits are refused', async () => {
    const ctxLike = { store: {} as never, identity: {}, peers: [], authenticate: () => undefined, authorize: () => false, audit: () => undefined };
    expect(await codeOf(() => createSyncMount(ctxLike))).toBe('SYNC_INVALID_ARGUMENT');
    expect(await codeOf(() => resolveLimits({ queueBytes: -1 }))).toBe('SYNC_INVALID_ARGUMENT');
    expect(await codeOf(() => resolveLimits({ maxFrameBytes: 10 }))).toBe('SYNC_INVALID_ARGUMENT');
    expect(resolveLimits({ antiEntropyMs: 0 }).antiEntropyMs).toBe(0);
  });

  it('audit token bucket refills with time and counts suppressed records', () => {
    let b = { tokens: 2, at: 0, suppressed: 0 };
    const take = (now: number): boolean => {
      const r = takeAuditToken(b, now, 1, 2);
      b = r.bucket;
      return r.allowed;
    };
    expect([take(0), take(0), take(0), take(0)]).toEqual([true, true, false, false]);
    expect(b.suppressed).toBe(2);
    expect(take(1000)).toBe(true);
    expect(b.suppressed).toBe(0);
  });
});

describe('inbox backpressure', () => {
  it('pauses reading over 4096 unread messages or over MAX_INBOX_BYTES unread bytes, resumes under half of both', () => {
    const events: string[] = [];
    const inbox = new Inbox(MAX_INBOX_MESSAGES, () => events.push('pause'), () => events.push('resume'), MAX_INBOX_BYTES);
    // before: only the count was watched, so 4096 messages of 64 MiB (256 GiB) could be parked
    const big = new Uint8Array(MAX_INBOX_BYTES / 4);
    for (let i = 0; i < 4; i++) inbox.push(big);
    expect(events).toEqual([]);
    inbox.push(new Uint8Array(1));
    expect(events).toEqual(['pause']);
    expect(inbox.bytes).toBe(MAX_INBOX_BYTES + 1);
    inbox.shift();
    inbox.shift();
    expect(events).toEqual(['pause']); // exactly half plus one byte is not under half
    inbox.shift();
    expect(events).toEqual(['pause', 'resume']);
    inbox.shift();
    inbox.shift();
    expect(inbox.bytes).toBe(0);
    const counted = new Inbox(MAX_INBOX_MESSAGES, () => events.push('pause2'), () => events.push('resume2'), MAX_INBOX_BYTES);
    for (let i = 0; i <= MAX_INBOX_MESSAGES; i++) counted.push(new Uint8Array(1));
    expect(events.at(-1)).toBe('pause2');
  });
});
