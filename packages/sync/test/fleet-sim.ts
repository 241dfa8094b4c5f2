/**
 * A fleet in one process for simulations: real stores (LevelDB in temp dirs), each with a hub
 * and a Fleet on a shared, fault-injecting MemoryBusServer. Repairs and fallback sessions run
 * the real peer protocol engines over in-memory links that deliver in order on the next turn
 * of the event loop (the bus is where the chaos is).
 */
import { MemoryBusServer, type MemoryBus } from '@profilesync/bus';
import { NodeIdentity } from '@profilesync/crypto';
import { openStore } from '@profilesync/core';
import { rm } from 'node:fs/promises';
import { Fleet, logFleetStorage, SyncEngine, SyncHub, type EngineLink, type FleetLimits, type FleetRepairPort } from '../src/index.js';
import { SyncEmitter, silentLogger } from '../src/events.js';
import { tempDir, type Store } from './helpers.js';

class PipeEnd implements EngineLink {
  engine!: SyncEngine;
  other!: PipeEnd;
  closed = false;
  send(message: Uint8Array, onFlushed?: () => void): void {
    if (this.closed) return;
    const to = this.other;
    setImmediate(() => {
      if (!to.closed) to.engine.receive(message);
    });
    onFlushed?.();
  }
  bufferedBytes(): number {
    return 0;
  }
  waitBuffered(): Promise<void> {
    return Promise.resolve();
  }
  fail(code: string, message: string): void {
    this.failures.push(`${code} ${message}`);
    this.close();
  }
  failures: string[] = [];
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.other.close();
    this.engine.stop();
  }
}

/** A peer session between two sim nodes over an in-memory pipe. */
export class Pipe {
  readonly a: PipeEnd;
  readonly b: PipeEnd;
  constructor(
    readonly from: SimFleetNode,
    readonly to: SimFleetNode,
    readonly failures: string[],
  ) {
    this.a = new PipeEnd();
    this.b = new PipeEnd();
    this.a.other = this.b;
    this.b.other = this.a;
    this.a.failures = failures;
    this.b.failures = failures;
    const limits = { queueBytes: 64 * 1024 * 1024, maxInflightApplies: 64, roundTimeoutMs: 10_000, autoRounds: 3 };
    const events = new SyncEmitter();
    this.a.engine = new SyncEngine({ store: from.store, digest: from.hub.digest, peerId: to.id, fingerprint: to.id, link: this.a, events, logger: silentLogger, limits });
    this.b.engine = new SyncEngine({ store: to.store, digest: to.hub.digest, peerId: from.id, fingerprint: from.id, link: this.b, events, logger: silentLogger, limits });
    from.hub.attach(this.a.engine);
    to.hub.attach(this.b.engine);
    this.b.engine.start();
  }
  get open(): boolean {
    return !this.a.closed;
  }
  async close(): Promise<void> {
    await Promise.all([this.a.engine.idle(), this.b.engine.idle()]);
    this.from.hub.detach(this.a.engine);
    this.to.hub.detach(this.b.engine);
    this.a.close();
  }
}

export class SimFleetNode {
  fleet!: Fleet;
  bus!: MemoryBus;
  readonly hub: SyncHub;
  readonly standing = new Map<string, Pipe>();
  repairs = 0;
  constructor(
    readonly name: string,
    readonly store: Store,
    readonly identity: NodeIdentity,
    readonly net: SimFleet,
  ) {
    this.hub = new SyncHub(store);
  }

  get id(): string {
    return this.fleet.id;
  }

  /** A fresh Fleet on the same store and bus server (as a restarted process would make). */
  async startFleet(): Promise<void> {
    this.bus = this.net.server.connect();
    this.fleet = new Fleet({
      bus: this.bus,
      key: this.net.key,
      store: this.store,
      identity: this.identity,
      storage: logFleetStorage((this.store as unknown as { log: Parameters<typeof logFleetStorage>[0] }).log),
      repair: this.#port(),
      limits: this.net.limits,
    });
    await this.fleet.start(`http://${this.name}.sim:1`);
  }

  async stopFleet(): Promise<void> {
    await this.fleet.close();
    for (const p of this.standing.values()) await p.close();
    this.standing.clear();
  }

  #port(): FleetRepairPort {
    return {
      addMember: () => undefined,
      removeMember: () => undefined,
      repairWith: async (id) => {
        const other = this.net.byId(id);
        if (!other || !other.fleet || other.net.down.has(other)) return { ok: false, code: 'SYNC_NOT_CONNECTED' };
        this.repairs++;
        const pipe = new Pipe(this, other, this.net.failures);
        try {
          await pipe.a.engine.requestRound().promise;
          return { ok: true };
        } catch (err) {
          return { ok: false, code: (err as { code?: string }).code ?? 'SYNC_INTERNAL' };
        } finally {
          await pipe.close();
        }
      },
      setStanding: (ids) => {
        for (const [id, p] of this.standing) if (!ids.includes(id)) void p.close().then(() => this.standing.delete(id));
        for (const id of ids) {
          const other = this.net.byId(id);
          if (!other || this.standing.has(id)) continue;
          this.standing.set(id, new Pipe(this, other, this.net.failures));
        }
      },
    };
  }
}

export class SimFleet {
  readonly server: MemoryBusServer;
  readonly key = new Uint8Array(32).fill(7);
  readonly nodes: SimFleetNode[] = [];
  readonly failures: string[] = [];
  readonly down = new Set<SimFleetNode>();
  readonly dirs: string[] = [];

  constructor(
    shards: number,
    random: () => number,
    readonly limits: Partial<FleetLimits>,
    maxLen = 10_000,
  ) {
    this.server = new MemoryBusServer({ shards, random, maxLen });
  }

  async addNode(name: string): Promise<SimFleetNode> {
    const dir = await tempDir(`fleet-sim-${name}-`);
    this.dirs.push(dir);
    const store = await openStore({ dir });
    const n = new SimFleetNode(name, store, NodeIdentity.generate().identity, this);
    this.nodes.push(n);
    await n.startFleet();
    return n;
  }

  byId(id: string): SimFleetNode | undefined {
    return this.nodes.find((n) => n.fleet?.id === id);
  }

  async close(): Promise<void> {
    for (const n of this.nodes) {
      await n.stopFleet().catch(() => undefined);
      n.hub.close();
      await n.store.close();
    }
    for (const d of this.dirs) await rm(d, { recursive: true, force: true });
  }
}
