/**
 * In-memory simulated network for the peer protocol: engines of real stores exchange protocol
 * messages through links that delay, reorder, duplicate, drop-then-resend and partition,
 * driven by a seeded PRNG. A partition ends the sessions (like a broken socket: messages in
 * flight are lost); healing starts new sessions, as a reconnect does.
 */
import { SyncEngine, SyncHub, type EngineLink } from '../src/index.js';
import { SyncEmitter, silentLogger } from '../src/events.js';
import type { Store } from './helpers.js';

/** xorshift32: small, seedable, good enough for schedules. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

export interface Chaos {
  /** probability a message is delivered twice */
  duplicate: number;
  /** probability a message is "dropped" and resent later (moved to the back of the queue) */
  dropResend: number;
  /** deliveries pick among the first `window` queued messages (reordering) */
  window: number;
  /** send queue limit of every session (small values exercise overflow + resync) */
  queueBytes: number;
}

interface InFlight {
  to: SimEndpoint;
  bytes: Uint8Array;
  epoch: number;
  from: SimEndpoint;
}

export class SimNode {
  readonly name: string;
  readonly store: Store;
  readonly hub: SyncHub;
  constructor(name: string, store: Store) {
    this.name = name;
    this.store = store;
    this.hub = new SyncHub(store);
  }
}

class SimEndpoint implements EngineLink {
  engine!: SyncEngine;
  inFlightBytes = 0;
  waiters: { bytes: number; resolve: () => void }[] = [];
  constructor(
    readonly net: SimNet,
    readonly link: SimLink,
    readonly side: 0 | 1,
  ) {}

  send(message: Uint8Array, onFlushed?: () => void): void {
    this.net.enqueue(this, message);
    onFlushed?.();
  }

  bufferedBytes(): number {
    return this.inFlightBytes;
  }

  waitBuffered(bytes: number): Promise<void> {
    if (this.inFlightBytes <= bytes || this.link.epochOf(this) === undefined) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ bytes, resolve }));
  }

  fail(code: string, message: string): void {
    this.net.failures.push(`${this.link.name}: ${code} ${message}`);
    this.link.partition();
  }

  wake(): void {
    const ready = this.waiters.filter((w) => this.inFlightBytes <= w.bytes || this.link.epochOf(this) === undefined);
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}

export class SimLink {
  readonly name: string;
  epoch = 0;
  endpoints: [SimEndpoint, SimEndpoint] | undefined;
  constructor(
    readonly net: SimNet,
    readonly a: SimNode,
    readonly b: SimNode,
  ) {
    this.name = `${a.name}-${b.name}`;
  }

  get connected(): boolean {
    return this.endpoints !== undefined;
  }

  epochOf(ep: SimEndpoint): number | undefined {
    return this.endpoints?.includes(ep) ? this.epoch : undefined;
  }

  connect(): void {
    if (this.endpoints) return;
    this.epoch++;
    const ea = new SimEndpoint(this.net, this, 0);
    const eb = new SimEndpoint(this.net, this, 1);
    const limits = { queueBytes: this.net.chaos.queueBytes, maxInflightApplies: 64, roundTimeoutMs: 5_000, autoRounds: 3 };
    const events = this.net.events;
    ea.engine = new SyncEngine({ store: this.a.store, digest: this.a.hub.digest, peerId: this.b.name, fingerprint: this.b.name, link: ea, events, logger: silentLogger, limits });
    eb.engine = new SyncEngine({ store: this.b.store, digest: this.b.hub.digest, peerId: this.a.name, fingerprint: this.a.name, link: eb, events, logger: silentLogger, limits });
    this.endpoints = [ea, eb];
    this.a.hub.attach(ea.engine);
    this.b.hub.attach(eb.engine);
    eb.engine.start(); // the "accepting" side opens the first round, as on a real socket
  }

  partition(): void {
    if (!this.endpoints) return;
    const [ea, eb] = this.endpoints;
    this.endpoints = undefined;
    this.a.hub.detach(ea.engine);
    this.b.hub.detach(eb.engine);
    ea.engine.stop();
    eb.engine.stop();
    ea.wake();
    eb.wake();
  }

  peerOf(ep: SimEndpoint): SimEndpoint | undefined {
    if (!this.endpoints) return undefined;
    return this.endpoints[ep.side === 0 ? 1 : 0];
  }
}

export class SimNet {
  readonly links: SimLink[] = [];
  readonly failures: string[] = [];
  readonly events = new SyncEmitter();
  queue: InFlight[] = [];
  delivered = 0;
  constructor(
    readonly nodes: SimNode[],
    readonly chaos: Chaos,
    readonly rnd: () => number,
  ) {
    for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) this.links.push(new SimLink(this, nodes[i]!, nodes[j]!));
  }

  enqueue(from: SimEndpoint, bytes: Uint8Array): void {
    const to = from.link.peerOf(from);
    if (!to) return;
    from.inFlightBytes += bytes.length;
    this.queue.push({ to, from, bytes, epoch: from.link.epoch });
    if (this.rnd() < this.chaos.duplicate) this.queue.push({ to, from, bytes, epoch: from.link.epoch });
  }

  /** Delivers up to n messages (reordered within the window, some pushed to the back = drop + resend). */
  deliver(n: number): number {
    let done = 0;
    while (done < n && this.queue.length > 0) {
      const idx = Math.floor(this.rnd() * Math.min(this.chaos.window, this.queue.length));
      const m = this.queue.splice(idx, 1)[0]!;
      if (m.from.link.epochOf(m.from) !== m.epoch) continue; // the session ended: lost with the socket
      if (this.rnd() < this.chaos.dropResend) {
        this.queue.push(m);
        continue;
      }
      const stillQueued = this.queue.some((q) => q.bytes === m.bytes && q.from === m.from);
      if (!stillQueued) {
        m.from.inFlightBytes -= m.bytes.length;
        m.from.wake();
      }
      m.to.engine.receive(m.bytes);
      this.delivered++;
      done++;
    }
    return done;
  }

  /** Pumps messages (yielding to I/O) until `done()` or the budget is spent. */
  async pump(done: () => boolean, budget = 200_000): Promise<boolean> {
    for (let i = 0; i < budget; i++) {
      if (done()) return true;
      this.deliver(1 + Math.floor(this.rnd() * 8));
      // real I/O (LevelDB) runs on the thread pool: give it time when nothing is deliverable
      await new Promise((r) => setImmediate(r));
    }
    return done();
  }

  /** Pumps until no message is queued and no engine has work. */
  settle(): Promise<boolean> {
    return this.pump(() => this.queue.length === 0 && !this.busy);
  }

  get busy(): boolean {
    return this.links.some((l) => l.endpoints?.some((e) => e.engine.busy));
  }

  get quiet(): boolean {
    return this.queue.every((m) => m.from.link.epochOf(m.from) !== m.epoch);
  }
}
