/**
 * The fleet: nodes that share changes through a Bus (Redis Streams) and repair over /sync.
 *
 * Every node stays a full replica (its own log; a write is acknowledged after its own fsync).
 * After a change is durable, the node seals it with the fleet key and publishes it to the
 * shard of its profile (publish never blocks or fails a write: a failed publish marks the
 * profile, and its whole state is republished when the bus is back; the log is the outbox:
 * after a crash, profiles changed above the durable publish watermark are republished).
 * Each node reads every shard from its durable cursor, skips its own entries and applies the
 * others through store.applyRemoteUpdate, the same path as peer sync (validation, audit,
 * idempotence). Whatever the bus cannot deliver (a new epoch after Redis lost its data, entries
 * trimmed before this node read them, an entry that does not open) is reported per shard; that
 * shard reads on and a digest repair runs over /sync with every live member, so nothing is
 * lost whatever Redis loses. Members find each other through the bus (signed, sealed records
 * with a heartbeat). While the bus is away, standing /sync sessions with a few seed members
 * (ring neighbours) carry changes live. See docs/architecture.md §9.
 */
import { BusErrorCode, type Bus, type BusEntry, type ShardBatch } from '@profilesync/bus';
import { CryptoErrorCode } from '@profilesync/crypto';
import type { ChangeEvent, ProfileStore } from '@profilesync/core';
import { codeOf } from '../errors.js';
import { monoMs, silentLogger, SyncEmitter, type SyncLogger } from '../events.js';
import { decodeEntry, decodeMember, encodeEntry, encodeMember, memberIdFor, shardOf, syncUrlOf, type MemberInfo } from './codec.js';
import { PresenceRelay } from './presence.js';
import { SealKind, Sealer, shardContext, textContext } from './seal.js';
import { Outbox, parseState, serializeState, STATE_AUX, type FleetState, type FleetStorage, type KnownMember } from './state.js';

export interface FleetRepairPort {
  /** allows a member over /sync (on-demand: dialed only when asked); idempotent */
  addMember(m: { id: string; syncUrl: string; publicKey: string; name: string }): void;
  removeMember(id: string): void;
  /** one completed digest round with the member (dialing it if needed); `cause`: the session's last failure when it could not connect */
  repairWith(id: string, timeoutMs: number): Promise<{ ok: boolean; code?: string; message?: string; cause?: string }>;
  /** standing sessions with exactly these members (fallback while the bus is away); the others on-demand */
  setStanding(ids: readonly string[]): void;
}

export interface FleetIdentity {
  readonly publicKey: Uint8Array;
  readonly publicKeyText: string;
  readonly fingerprint: string;
  sign(message: Uint8Array): Uint8Array;
}

export interface FleetLimits {
  /** member record refresh and membership poll */
  heartbeatMs: number;
  /** a member whose record did not change for this long is not live */
  memberTtlMs: number;
  /** records older than this are removed from the bus */
  pruneAfterMs: number;
  /** entries per shard per read */
  readCount: number;
  /** a read waits this long for new entries */
  blockMs: number;
  /** durable state (cursors, watermark) is written at most this often */
  flushMs: number;
  /** one repair round with one member may take this long */
  repairTimeoutMs: number;
  /** digest repair with one random live member this often (0 = off); a backstop */
  antiEntropyMs: number;
  /** standing /sync sessions while the bus is away */
  seeds: number;
  /** the bus must stay away this long before the fallback sessions open */
  fallbackDelayMs: number;
  /** profiles republished at once */
  republishConcurrency: number;
}

export const DEFAULT_FLEET_LIMITS: FleetLimits = {
  heartbeatMs: 2_000,
  memberTtlMs: 10_000,
  pruneAfterMs: 24 * 3_600_000,
  readCount: 256,
  blockMs: 1_000,
  flushMs: 1_000,
  repairTimeoutMs: 30_000,
  antiEntropyMs: 600_000,
  seeds: 2,
  fallbackDelayMs: 1_000,
  republishConcurrency: 16,
};

export interface FleetOptions {
  bus: Bus;
  /** the 32-byte fleet key (parseFleetKey) */
  key: Uint8Array;
  store: ProfileStore;
  identity: FleetIdentity;
  storage: FleetStorage;
  repair: FleetRepairPort;
  events?: SyncEmitter;
  logger?: SyncLogger;
  clock?: () => number;
  random?: () => number;
  limits?: Partial<FleetLimits>;
}

export interface FleetMemberStatus {
  id: string;
  url: string;
  fingerprint: string;
  /** ISO-8601: when this node last saw the member's heartbeat change (itself: now) */
  lastSeen: string;
  alive: boolean;
  ready: boolean;
  self: boolean;
}

export interface FleetStatus {
  id: string;
  url: string;
  ready: boolean;
  bus: {
    kind: string;
    connected: boolean;
    /** ms behind the bus: 0 when every shard was read to its end, else the age of the newest entry applied */
    lagMillis: number;
    shards: number;
    repairPending: boolean;
    /** profiles waiting to be republished */
    unpublished: number;
    /** seed members with standing /sync sessions (while the bus is away) */
    fallback: string[];
    /**
     * what on the bus is sealed under another fleet key (a member started with another bus.key):
     * such a member and this node never exchange changes. `active` while a live member record or
     * an entry within the last minute says so (readiness is degraded then: FLEET_KEY_MISMATCH).
     */
    keyMismatch: { active: boolean; members: string[]; entries: number; lastEntryAt: string | null };
  };
  members: FleetMemberStatus[];
}

interface Member {
  info: MemberInfo;
  /** this node's clock when the member's `at` last changed (-Infinity: never seen fresh); liveness never compares two clocks */
  lastChange: number;
  /** this node's clock when its record was first found missing from the bus */
  missingSince?: number;
  /** this node's clock when it first found the member's record */
  firstSeen: number;
}

/** unknown inbound keys make the fleet poll the member records, at most once per this many ms */
const LOOKUP_SPACING_MS = 250;
/** an entry sealed under another fleet key keeps the mismatch reported (and logged at most once) for this long */
const KEY_MISMATCH_WINDOW_MS = 60_000;

/** the empty state vector: a whole state's merge context */
const EMPTY_SV = new Uint8Array([0]);
const ORIGIN_PREFIX = 'bus:';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref?.());

export class Fleet {
  readonly id: string;
  readonly presence: PresenceRelay;
  readonly #o: FleetOptions;
  readonly #bus: Bus;
  readonly #store: ProfileStore;
  readonly #l: FleetLimits;
  readonly #sealer: Sealer;
  readonly #events: SyncEmitter;
  readonly #logger: SyncLogger;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #shards: number;
  #url = '';
  #state!: FleetState;
  #outbox!: Outbox;
  readonly #members = new Map<string, Member>();
  /** member records sealed under another fleet key: the record as last seen and when it last changed (this node's clock) */
  readonly #foreign = new Map<string, { record: Uint8Array; lastChange: number }>();
  /** entries sealed under another fleet key: how many, and this node's clock at the last one */
  #foreignEntries = 0;
  #foreignEntryAt = -Infinity;
  readonly #repairingWith = new Set<string>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #startedAt = 0;
  #started = false;
  #closed = false;
  #readLoop: Promise<void> | undefined;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #stateDirty = false;
  #caughtUp = false;
  #joining = false;
  #ready = false;
  #readyWaiters: (() => void)[] = [];
  #gapGen = 0;
  /** the gap generation for which a repair reached at least one member (enough to be ready; the rest is retried) */
  #someRepairedGen = -1;
  #repairing = false;
  #repairAgain = false;
  #repairFailures = 0;
  #repairRetry: ReturnType<typeof setTimeout> | undefined;
  #fallbackSynced = false;
  #standing: string[] = [];
  #republishing = false;
  /**
   * When "no other live member" can be believed: two heartbeats after the first member poll
   * since the bus came (back) up (after Redis lost its data, members re-announce within one).
   */
  #membersSettleAt = Infinity;
  #lagMillis = 0;
  #lastBusChange = 0;
  #wakeRead: (() => void) | undefined;
  /** knocks by unknown keys waiting for a member poll that started after them */
  #lookupWaiters: { at: number; done: () => void }[] = [];
  #lookupRunning = false;
  #lookupStartedAt = -Infinity;

  constructor(opts: FleetOptions) {
    this.#o = opts;
    this.#bus = opts.bus;
    this.#store = opts.store;
    this.#l = { ...DEFAULT_FLEET_LIMITS, ...(opts.limits ?? {}) };
    this.#sealer = new Sealer(opts.key);
    this.#events = opts.events ?? new SyncEmitter();
    this.#logger = opts.logger ?? silentLogger;
    this.#clock = opts.clock ?? Date.now;
    this.#random = opts.random ?? Math.random;
    this.#shards = opts.bus.shards;
    this.id = memberIdFor(opts.identity.publicKey);
    this.presence = new PresenceRelay({ bus: opts.bus, sealer: this.#sealer, member: this.id, logger: this.#logger });
  }

  get ready(): boolean {
    return this.#ready;
  }

  get url(): string {
    return this.#url;
  }

  /** Resolves once this node caught up (see docs/operations.md: readiness). */
  whenReady(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    return new Promise((r) => this.#readyWaiters.push(r));
  }

  on: SyncEmitter['on'] = (event, listener) => this.#events.on(event, listener);

  /** Loads the durable state, starts reading, publishing and heartbeats. `url`: this node's HTTP base URL. */
  async start(url: string): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#url = url;
    this.#startedAt = this.#clock();
    const parsed = parseState(await this.#o.storage.getAux(STATE_AUX), this.#shards);
    if (parsed.problem) this.#logger.warn({ problem: parsed.problem }, 'fleet: stored state reset; a repair is owed');
    this.#state = parsed.state;
    this.#joining = this.#state.cursors.every((c) => c.epoch === '');
    if (parsed.fresh) {
      // no watermark to trust (a node joining, or its record was lost): nothing is republished; its
      // repair with every live member (owed: a fresh cursor is an epoch gap) hands over what only
      // it holds, and the members publish what they receive from it
      this.#state.publishedLsn = this.#o.storage.lastLsn();
    }
    this.#outbox = new Outbox(this.#state.publishedLsn);
    for (const m of this.#state.members) if (m.id !== this.id) this.#allow(m);
    // the log is the outbox: what changed above the watermark may never have reached the bus
    for (const id of this.#o.storage.changedSince(this.#state.publishedLsn)) this.#outbox.markDirty(id, this.#state.publishedLsn + 1);
    if (this.#outbox.dirty.size > 0) this.#logger.info?.({ profiles: this.#outbox.dirty.size, publishedLsn: this.#state.publishedLsn }, 'fleet: republishing profiles changed since the last publish watermark');
    this.#unsubscribe.push(
      this.#store.subscribe((e) => this.#onChange(e)),
      this.#bus.on('up', (e) => this.#onBusUp(e.durationMillis)),
      this.#bus.on('down', () => this.#onBusDown()),
    );
    this.#bus.start();
    this.#every(this.#l.heartbeatMs, () => this.#heartbeat());
    if (this.#l.antiEntropyMs > 0) this.#every(this.#l.antiEntropyMs, () => this.#antiEntropy());
    if (this.#state.repairPending) this.#scheduleRepair('pending at start');
    this.#readLoop = this.#readForever();
    if (!this.#bus.connected) this.#after(this.#l.fallbackDelayMs, () => this.#maybeFallback());
    void this.#heartbeat();
  }

  status(): FleetStatus {
    const now = this.#clock();
    const members: FleetMemberStatus[] = [
      { id: this.id, url: this.#url, fingerprint: this.#o.identity.fingerprint, lastSeen: new Date(now).toISOString(), alive: true, ready: this.#ready, self: true },
    ];
    for (const m of this.#members.values()) {
      if (m.info.id === this.id) continue;
      members.push({
        id: m.info.id,
        url: m.info.url,
        fingerprint: m.info.fingerprint,
        lastSeen: new Date(Number.isFinite(m.lastChange) ? m.lastChange : m.info.at).toISOString(),
        alive: this.#isAlive(m),
        ready: m.info.ready,
        self: false,
      });
    }
    members.sort((a, b) => a.id.localeCompare(b.id));
    return {
      id: this.id,
      url: this.#url,
      ready: this.#ready,
      bus: {
        kind: this.#bus.kind,
        connected: this.#bus.connected,
        lagMillis: this.#caughtUp ? 0 : this.#lagMillis,
        shards: this.#shards,
        repairPending: this.#state?.repairPending ?? false,
        unpublished: this.#outbox?.dirty.size ?? 0,
        fallback: [...this.#standing],
        keyMismatch: this.#keyMismatch(now),
      },
      members,
    };
  }

  #keyMismatch(now: number): FleetStatus['bus']['keyMismatch'] {
    const members = [...this.#foreign].filter(([, f]) => now - f.lastChange <= this.#l.memberTtlMs).map(([id]) => id).sort();
    const recent = now - this.#foreignEntryAt <= KEY_MISMATCH_WINDOW_MS;
    return {
      active: members.length > 0 || recent,
      members,
      entries: this.#foreignEntries,
      lastEntryAt: Number.isFinite(this.#foreignEntryAt) ? new Date(this.#foreignEntryAt).toISOString() : null,
    };
  }

  /** Stops reading and publishing, writes the durable state, leaves the member list, closes the bus. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const u of this.#unsubscribe.splice(0)) u();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#repairRetry) clearTimeout(this.#repairRetry);
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#wakeRead?.();
    if (this.#started) {
      if (this.#bus.connected) await this.#bus.withdraw(this.id).catch(() => undefined);
      await this.#bus.close();
      await this.#readLoop?.catch(() => undefined);
      this.#state.publishedLsn = this.#outbox.watermark();
      this.#stateDirty = true;
      await this.#flush();
    } else {
      await this.#bus.close();
    }
    for (const w of this.#readyWaiters.splice(0)) w();
  }

  // --- publishing ----------------------------------------------------------------------

  #onChange(e: ChangeEvent): void {
    this.#outbox.seen(e.lsn);
    // what came from the bus or this node's own repair is not published again, unless the entry
    // also holds structs this node wrote (a merge's conflict records): no other path carries them
    if (this.#skipPublish(e.origin) && e.authored !== true) return this.#stateChanged();
    if (this.#outbox.dirty.has(e.id) || !this.#bus.connected) {
      this.#outbox.markDirty(e.id, e.lsn);
      return;
    }
    const shard = shardOf(e.id, this.#shards);
    const actor = e.actor.length <= 255 ? e.actor : `peer:${this.#o.identity.fingerprint}`;
    const sealed = this.#sealer.seal(SealKind.entry, shardContext(shard), encodeEntry({ member: this.id, actor, profile: e.id, update: e.update, state: false }));
    const t0 = monoMs();
    this.#outbox.begin(e.lsn);
    this.#bus.publish(shard, sealed).then(
      () => {
        this.#outbox.end(e.lsn);
        this.#events.emit('fleet-published', { shard, bytes: sealed.length, state: false, durationMillis: monoMs() - t0 });
        this.#stateChanged();
      },
      (err: unknown) => {
        this.#outbox.markDirty(e.id, e.lsn);
        this.#outbox.end(e.lsn);
        this.#publishFailed(e.id, err, t0);
      },
    );
  }

  /** Changes that came from the bus, or that this node pulled in its own repair, are not published again. */
  #skipPublish(origin: string): boolean {
    if (origin.startsWith(ORIGIN_PREFIX)) return true;
    return origin.startsWith('peer:') && this.#repairingWith.has(origin.slice(5));
  }

  #publishFailed(id: string, err: unknown, t0: number): void {
    const code = codeOf(err);
    this.#events.emit('fleet-publish-failed', { id, code, durationMillis: monoMs() - t0 });
    if (code !== BusErrorCode.UNAVAILABLE && code !== BusErrorCode.CLOSED) this.#logger.warn({ profile: id, code, err: (err as Error).message }, 'fleet: publish failed; the profile will be republished');
    else this.#logger.debug?.({ profile: id, code }, 'fleet: publish failed; the profile will be republished');
    if (this.#bus.connected) this.#after(500, () => void this.#republish());
  }

  /** Publishes the whole state of every marked profile (a duplicate appends nothing anywhere). */
  async #republish(): Promise<void> {
    if (this.#republishing || this.#closed) return;
    this.#republishing = true;
    try {
      while (!this.#closed && this.#bus.connected && this.#outbox.dirty.size > 0) {
        const batch = [...this.#outbox.dirty].slice(0, this.#l.republishConcurrency);
        const results = await Promise.all(batch.map(([id, d]) => this.#republishOne(id, d.gen)));
        if (results.some((ok) => !ok)) break;
      }
    } finally {
      this.#republishing = false;
      this.#stateChanged();
      this.#maybeEndFallback();
    }
  }

  async #republishOne(id: string, gen: number): Promise<boolean> {
    const t0 = monoMs();
    let state: Uint8Array;
    try {
      state = await this.#store.encodeStateAsUpdate(id);
    } catch (err) {
      if (codeOf(err) === 'PROFILE_NOT_FOUND') return this.#outbox.settle(id, gen), true;
      this.#logger.warn({ profile: id, code: codeOf(err) }, 'fleet: cannot read a profile to republish');
      return false;
    }
    const shard = shardOf(id, this.#shards);
    const sealed = this.#sealer.seal(SealKind.entry, shardContext(shard), encodeEntry({ member: this.id, actor: `peer:${this.#o.identity.fingerprint}`, profile: id, update: state, state: true }));
    try {
      await this.#bus.publish(shard, sealed);
    } catch (err) {
      this.#publishFailed(id, err, t0);
      return false;
    }
    this.#outbox.settle(id, gen);
    this.#events.emit('fleet-published', { shard, bytes: sealed.length, state: true, durationMillis: monoMs() - t0 });
    return true;
  }

  // --- reading -------------------------------------------------------------------------

  async #readForever(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      if (!this.#bus.connected) {
        await this.#waitForBus();
        continue;
      }
      let batches: ShardBatch[];
      try {
        batches = await this.#bus.read(this.#state.cursors, { count: this.#l.readCount, blockMs: this.#l.blockMs });
        failures = 0;
      } catch (err) {
        if (this.#closed) return;
        const code = codeOf(err);
        if (code !== BusErrorCode.UNAVAILABLE) this.#logger.warn({ code, err: (err as Error).message }, 'fleet: bus read failed');
        await sleep(Math.min(2_000, 25 * 2 ** Math.min(failures++, 7)));
        continue;
      }
      if (this.#closed) return;
      await Promise.all(batches.map((b) => this.#handleBatch(b)));
      const atEnd = batches.every((b) => b.atEnd && b.gap === undefined);
      if (atEnd && !this.#caughtUp) {
        this.#caughtUp = true;
        this.#lagMillis = 0;
        this.#maybeReady();
        this.#maybeEndFallback();
      } else if (!atEnd) this.#caughtUp = false;
    }
  }

  #waitForBus(): Promise<void> {
    return new Promise((resolve) => {
      const off = this.#bus.on('up', done);
      const t = setTimeout(done, 1_000);
      this.#wakeRead = done;
      function done(): void {
        off();
        clearTimeout(t);
        resolve();
      }
    });
  }

  async #handleBatch(b: ShardBatch): Promise<void> {
    if (b.gap) this.#shardReset(b.shard, b.gap);
    const applies: Promise<void>[] = [];
    for (const e of b.entries) applies.push(this.#applyEntry(b.shard, e));
    await Promise.all(applies);
    if (this.#closed) return;
    this.#state.cursors[b.shard] = b.next;
    this.#stateChanged();
  }

  /** The one place bus entries reach the store. */
  async #applyEntry(shard: number, e: BusEntry): Promise<void> {
    let m;
    try {
      m = decodeEntry(this.#sealer.open(SealKind.entry, shardContext(shard), e.payload));
      if (shardOf(m.profile, this.#shards) !== shard) throw Object.assign(new Error('entry in the wrong shard'), { code: 'SYNC_FLEET_BAD_ENTRY' });
    } catch (err) {
      const code = codeOf(err);
      if (code === 'SYNC_FLEET_KEY_MISMATCH') {
        // a busy member with another key writes many: one line a minute, the count in /api/cluster
        const now = this.#clock();
        if (now - this.#foreignEntryAt > KEY_MISMATCH_WINDOW_MS) {
          this.#logger.warn({ shard, position: e.position, code }, 'fleet: an entry sealed under another fleet key (a member with a different bus.key?); its changes never reach this node (give every member the same bus.key)');
        }
        this.#foreignEntries++;
        this.#foreignEntryAt = now;
      } else {
        this.#logger.warn({ shard, position: e.position, code }, 'fleet: an entry that does not open');
      }
      this.#shardReset(shard, code === 'SYNC_FLEET_KEY_MISMATCH' ? 'key-mismatch' : 'bad-entry');
      return;
    }
    if (m.member === this.id) return;
    const t0 = monoMs();
    const lagMillis = Math.max(0, this.#clock() - e.time);
    this.#lagMillis = lagMillis;
    try {
      // a whole state (a republish after the bus was away) merges work done apart: checked for
      // conflicts like a sync step 2 (issue 13); a single change is live and is not
      const ctx = { actor: m.actor, origin: `${ORIGIN_PREFIX}${m.member}` };
      const r = await this.#store.applyRemoteUpdate(m.profile, m.update, m.state ? { ...ctx, merge: { remoteStateVector: EMPTY_SV } } : ctx);
      this.#events.emit('fleet-applied', { shard, from: m.member, id: m.profile, applied: r.applied, lagMillis, durationMillis: monoMs() - t0 });
    } catch (err) {
      const code = codeOf(err);
      if (code === 'PROFILE_INVALID' || code === 'PROFILE_TOO_LARGE') {
        // refused by validation, audited by the store (sync.rejected); the shard goes on
        this.#events.emit('fleet-rejected', { shard, from: m.member, id: m.profile, code, durationMillis: monoMs() - t0 });
        this.#logger.warn({ shard, from: m.member, profile: m.profile, code }, 'fleet: entry rejected by validation');
      } else if (code === 'PROFILE_BAD_UPDATE' || code === 'PROFILE_INVALID_ID') {
        this.#events.emit('fleet-rejected', { shard, from: m.member, id: m.profile, code, durationMillis: monoMs() - t0 });
        this.#logger.warn({ shard, from: m.member, profile: m.profile, code }, 'fleet: an entry whose update does not decode');
        this.#shardReset(shard, 'bad-entry');
      } else if (code !== 'STORE_CLOSED' && !this.#closed) {
        // not applied (e.g. the disk refused it): the repair brings it later
        this.#logger.error({ shard, from: m.member, profile: m.profile, code, err: (err as Error).message }, 'fleet: entry could not be applied; a repair is owed');
        this.#shardReset(shard, 'apply-failed');
      }
    }
  }

  /** This shard could not deliver everything: it reads on from its next cursor, and a repair runs. */
  #shardReset(shard: number, reason: 'epoch' | 'trimmed' | 'bad-entry' | 'key-mismatch' | 'apply-failed'): void {
    this.#events.emit('fleet-shard-reset', { shard, reason, durationMillis: 0 });
    const first = !this.#state.repairPending;
    this.#state.repairPending = true;
    this.#gapGen++;
    this.#stateChanged(true);
    // a fresh node (or a Redis that lost its data) reports every shard at once: log once
    if (first || reason !== 'epoch') this.#logger[reason === 'epoch' && this.#joining ? 'info' : 'warn']?.({ shard, reason }, 'fleet: shard cannot deliver everything after this node\'s cursor; repairing over /sync');
    this.#scheduleRepair(reason);
  }

  // --- repair --------------------------------------------------------------------------

  #scheduleRepair(reason: string): void {
    if (this.#closed) return;
    if (this.#repairing) {
      this.#repairAgain = true;
      return;
    }
    queueMicrotask(() => void this.#repair(reason));
  }

  /** A digest round over /sync with every live member (all of them: a member may have missed what this node missed). */
  async #repair(reason: string): Promise<void> {
    if (this.#repairing || this.#closed) return;
    this.#repairing = true;
    try {
      do {
        this.#repairAgain = false;
        const gen = this.#gapGen;
        const targets = this.#liveOthers();
        if (targets.length === 0) {
          // "nobody" is only believed once membership settled (the settle timer schedules the repair again)
          if (this.#membershipSettled() && this.#knownOthers().length === 0 && gen === this.#gapGen) {
            // nobody else holds anything: nothing to repair from
            this.#state.repairPending = false;
            this.#stateChanged(true);
          }
          break;
        }
        const t0 = monoMs();
        const results = await this.#inParallel(targets, 4, (id) => this.#repairOne(id));
        const failed = results.filter((r) => r !== 'ok').length;
        const notYet = results.filter((r) => r === 'not-yet').length;
        this.#events.emit('fleet-repair', { reason, members: targets.length, failed, durationMillis: monoMs() - t0 });
        // members that only have not seen this node yet (a join) are retried, not an operator's concern
        this.#logger[failed > notYet ? 'warn' : 'info']?.({ reason, members: targets.length, failed, ...(notYet > 0 ? { notYetKnown: notYet } : {}), durationMillis: Math.round(monoMs() - t0) }, 'fleet: repair over /sync');
        if (failed < targets.length) this.#someRepairedGen = gen;
        if (failed === 0) {
          this.#repairFailures = 0;
          if (gen === this.#gapGen) {
            this.#state.repairPending = false;
            this.#stateChanged(true);
          }
        } else {
          const delay = Math.min(30_000, 500 * 2 ** Math.min(this.#repairFailures++, 6));
          if (this.#repairRetry) clearTimeout(this.#repairRetry);
          this.#repairRetry = setTimeout(() => void this.#repair('retry'), delay);
          this.#repairRetry.unref?.();
          break;
        }
      } while (this.#repairAgain && !this.#closed);
    } finally {
      this.#repairing = false;
      this.#maybeReady();
    }
  }

  /** 'not-yet': the member refused this node's key while either of them is new (see notYetKnown) */
  async #repairOne(id: string): Promise<'ok' | 'not-yet' | 'failed'> {
    this.#repairingWith.add(id);
    try {
      const r = await this.#o.repair.repairWith(id, this.#l.repairTimeoutMs);
      if (r.ok) return 'ok';
      if (r.cause === CryptoErrorCode.PEER_UNKNOWN && this.notYetKnown(id)) {
        this.#logger.info?.({ member: id, code: r.code, cause: r.cause }, 'fleet: a member has not seen this node yet; retrying');
        return 'not-yet';
      }
      this.#logger.warn({ member: id, code: r.code, err: r.message }, 'fleet: repair with a member failed');
      return 'failed';
    } catch (err) {
      this.#logger.warn({ member: id, code: codeOf(err), err: (err as Error).message }, 'fleet: repair with a member failed');
      return 'failed';
    } finally {
      // changes pulled in this repair may still be landing: stop skipping them a little later
      this.#after(1_000, () => this.#repairingWith.delete(id));
    }
  }

  async #antiEntropy(): Promise<void> {
    const live = this.#liveOthers();
    if (live.length === 0 || this.#repairing) return;
    const id = live[Math.floor(this.#random() * live.length)]!;
    const t0 = monoMs();
    const ok = (await this.#repairOne(id)) === 'ok';
    this.#events.emit('fleet-repair', { reason: 'anti-entropy', members: 1, failed: ok ? 0 : 1, durationMillis: monoMs() - t0 });
  }

  async #inParallel<T>(items: string[], n: number, fn: (item: string) => Promise<T>): Promise<T[]> {
    const out: T[] = new Array(items.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(n, items.length) }, async () => {
        while (next < items.length) {
          const i = next++;
          out[i] = await fn(items[i]!);
        }
      }),
    );
    return out;
  }

  // --- membership ----------------------------------------------------------------------

  async #heartbeat(): Promise<void> {
    if (this.#closed || !this.#bus.connected || !this.#url) return;
    const now = this.#clock();
    const record = encodeMember(
      { id: this.id, url: this.#url, publicKey: this.#o.identity.publicKeyText, fingerprint: this.#o.identity.fingerprint, at: now, startedAt: this.#startedAt, ready: this.#ready },
      (m) => this.#o.identity.sign(m),
    );
    let records;
    try {
      await this.#bus.announce(this.id, this.#sealer.seal(SealKind.member, textContext(this.id), record));
      records = await this.#bus.members();
    } catch (err) {
      this.#logger.debug?.({ code: codeOf(err) }, 'fleet: heartbeat failed');
      return;
    }
    const seen = new Set<string>();
    const foreign = new Set<string>();
    let changed = false;
    for (const r of records) {
      if (r.id === this.id) continue;
      let info: MemberInfo;
      try {
        info = decodeMember(this.#sealer.open(SealKind.member, textContext(r.id), r.record), r.id);
      } catch (err) {
        const code = codeOf(err);
        if (code === 'SYNC_FLEET_KEY_MISMATCH') {
          foreign.add(r.id);
          this.#sawForeign(r.id, r.record);
        } else {
          this.#logger.warn({ member: r.id, code }, 'fleet: a member record that does not verify (ignored)');
        }
        continue;
      }
      seen.add(info.id);
      if (now - info.at > this.#l.pruneAfterMs) {
        void this.#bus.withdraw(info.id).catch(() => undefined);
        continue;
      }
      const mono = this.#clock();
      const prev = this.#members.get(info.id);
      if (prev) delete prev.missingSince;
      if (!prev) {
        const fresh = Math.abs(now - info.at) <= this.#l.memberTtlMs;
        this.#members.set(info.id, { info, lastChange: fresh ? mono : -Infinity, firstSeen: mono });
        this.#allow(info);
        if (fresh) {
          changed = true;
          this.#events.emit('fleet-member', { id: info.id, url: info.url, change: 'joined', durationMillis: 0 });
          this.#logger.info?.({ member: info.id, url: info.url }, 'fleet: member joined');
        }
      } else {
        if (info.at !== prev.info.at) {
          if (!this.#isAlive(prev)) changed = true;
          prev.lastChange = mono;
        }
        if (info.url !== prev.info.url || info.publicKey !== prev.info.publicKey) this.#allow(info);
        prev.info = info;
      }
    }
    for (const id of this.#foreign.keys()) {
      if (foreign.has(id)) continue;
      this.#foreign.delete(id);
      this.#logger.info?.({ member: id }, 'fleet: the member record sealed under another fleet key is gone');
    }
    for (const [id, m] of this.#members) {
      if (seen.has(id)) continue;
      // a record can vanish with Redis' data (the member re-announces): forget it only after a long absence
      m.missingSince ??= now;
      if (now - m.missingSince > 10 * this.#l.memberTtlMs) {
        this.#members.delete(id);
        this.#o.repair.removeMember(id);
        this.#events.emit('fleet-member', { id, url: m.info.url, change: 'left', durationMillis: 0 });
        this.#logger.info?.({ member: id }, 'fleet: member left');
      }
    }
    const known = [...this.#members.values()].map((m) => ({ id: m.info.id, url: m.info.url, publicKey: m.info.publicKey }));
    if (JSON.stringify(known) !== JSON.stringify(this.#state.members)) {
      this.#state.members = known;
      this.#stateChanged();
    }
    if (this.#membersSettleAt === Infinity) {
      const wait = 2 * this.#l.heartbeatMs;
      this.#membersSettleAt = this.#clock() + wait;
      this.#after(wait + 1, () => {
        if (this.#state.repairPending) this.#scheduleRepair('members settled');
        this.#maybeReady();
      });
    }
    if (changed && this.#state.repairPending) this.#scheduleRepair('member live');
    this.#maybeReady();
  }

  /** A member record sealed under another fleet key: logged once per member, live while it keeps changing (heartbeats). */
  #sawForeign(id: string, record: Uint8Array): void {
    const now = this.#clock();
    const f = this.#foreign.get(id);
    if (f === undefined) {
      this.#foreign.set(id, { record, lastChange: now });
      this.#logger.warn({ member: id, code: 'SYNC_FLEET_KEY_MISMATCH' }, 'fleet: a member seals its records under another fleet key (a different bus.key): it and this node never exchange changes; give every member the same bus.key');
    } else if (Buffer.compare(f.record, record) !== 0) {
      f.record = record;
      f.lastChange = now;
    }
  }

  /**
   * Whether a refusal of this node's key by member `id` is a join still settling: the member
   * learns members from the bus at its heartbeat (or at once when an unknown key knocks, see
   * knowsFingerprint), so for two heartbeats after either of the two appeared it may not know
   * this node yet. Later, a refusal means the member's view is wrong (another fleet key?).
   */
  notYetKnown(id: string): boolean {
    const m = this.#members.get(id);
    if (m === undefined) return false;
    const now = this.#clock();
    const grace = 2 * this.#l.heartbeatMs;
    return now - m.firstSeen <= grace || now - this.#startedAt <= grace;
  }

  /**
   * Whether the key with this fingerprint is a member's: an inbound session offered a key this
   * node does not allow. A member that joined since the last heartbeat is found by polling the
   * member records now (LOOKUP_SPACING_MS apart at most, however many unknown keys knock), and is allowed
   * from then on (its next attempt connects). Decides only how the refusal is logged.
   */
  async knowsFingerprint(fp: string): Promise<boolean> {
    const known = (): boolean => [...this.#members.values()].some((m) => m.info.fingerprint === fp);
    if (known() || !this.#started || this.#closed) return known();
    // a member's record is on the bus before it dials anyone: a poll that starts after the knock finds it
    const at = monoMs();
    await new Promise<void>((done) => {
      this.#lookupWaiters.push({ at, done });
      void this.#lookupLoop();
    });
    return known();
  }

  /** Member polls for knocking keys: one at a time, LOOKUP_SPACING_MS apart, each answering every knock before its start. */
  async #lookupLoop(): Promise<void> {
    if (this.#lookupRunning) return;
    this.#lookupRunning = true;
    try {
      while (this.#lookupWaiters.length > 0 && !this.#closed) {
        const wait = this.#lookupStartedAt + LOOKUP_SPACING_MS - monoMs();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait).unref?.());
        const start = monoMs();
        this.#lookupStartedAt = start;
        // a failed poll answers the knocks all the same (not known: the refusal stays a warning)
        await this.#heartbeat().catch(() => undefined);
        this.#lookupWaiters = this.#lookupWaiters.filter((w) => (w.at <= start ? (w.done(), false) : true));
      }
    } finally {
      this.#lookupRunning = false;
      if (this.#closed) for (const w of this.#lookupWaiters.splice(0)) w.done();
    }
  }

  #allow(m: KnownMember | MemberInfo): void {
    try {
      this.#o.repair.addMember({ id: m.id, syncUrl: syncUrlOf(m.url), publicKey: m.publicKey, name: `fleet:${m.id}` });
    } catch (err) {
      this.#logger.warn({ member: m.id, code: codeOf(err) }, 'fleet: cannot add a member as a peer');
    }
  }

  #isAlive(m: Member): boolean {
    return this.#clock() - m.lastChange <= this.#l.memberTtlMs;
  }

  /** Live members other than this node (by heartbeat); while the bus is away, the ones last known. */
  #liveOthers(): string[] {
    if (!this.#bus.connected && this.#members.size === 0) return this.#knownOthers();
    return [...this.#members.values()].filter((m) => m.info.id !== this.id && this.#isAlive(m)).map((m) => m.info.id);
  }

  #membershipSettled(): boolean {
    return this.#clock() >= this.#membersSettleAt;
  }

  #knownOthers(): string[] {
    const ids = new Set<string>([...this.#members.keys(), ...this.#state.members.map((m) => m.id)]);
    ids.delete(this.id);
    return [...ids];
  }

  // --- bus up / down, fallback -----------------------------------------------------------

  #onBusUp(downMillis: number): void {
    this.#events.emit('fleet-bus', { connected: true, durationMillis: downMillis });
    this.#lastBusChange = monoMs();
    this.#membersSettleAt = Infinity; // the bus may have lost the member records: learn them again
    this.#wakeRead?.();
    void this.#heartbeat();
    if (this.#outbox.dirty.size > 0) void this.#republish();
  }

  #onBusDown(): void {
    this.#events.emit('fleet-bus', { connected: false, durationMillis: this.#lastBusChange ? monoMs() - this.#lastBusChange : 0 });
    this.#lastBusChange = monoMs();
    this.#caughtUp = false;
    this.#after(this.#l.fallbackDelayMs, () => this.#maybeFallback());
  }

  /** The bus stayed away: standing /sync sessions with seed members carry changes live. */
  #maybeFallback(): void {
    if (this.#closed || this.#bus.connected || this.#l.seeds === 0) return;
    const seeds = this.#seeds();
    if (seeds.join() === this.#standing.join()) return;
    this.#standing = seeds;
    this.#o.repair.setStanding(seeds);
    this.#events.emit('fleet-fallback', { active: seeds.length > 0, seeds, durationMillis: 0 });
    this.#logger.warn({ seeds }, 'fleet: bus unreachable; live changes go over /sync with seed members');
    if (!this.#ready) void this.#fallbackSync(seeds);
  }

  async #fallbackSync(seeds: string[]): Promise<void> {
    for (const id of seeds) {
      if (this.#closed || this.#bus.connected) return;
      if (await this.#repairOne(id)) {
        this.#fallbackSynced = true;
        this.#maybeReady();
        return;
      }
    }
  }

  /** Back on the bus, caught up and nothing left to republish: the seed sessions go on-demand again. */
  #maybeEndFallback(): void {
    if (this.#standing.length === 0 || !this.#bus.connected || !this.#caughtUp || this.#outbox.dirty.size > 0) return;
    this.#standing = [];
    this.#o.repair.setStanding([]);
    this.#events.emit('fleet-fallback', { active: false, seeds: [], durationMillis: 0 });
    this.#logger.info?.({}, 'fleet: bus back and caught up; fallback sessions end');
  }

  /** Ring neighbours among the members (sorted ids), `seeds` of them, nearest first. */
  #seeds(): string[] {
    const ids = [...new Set([this.id, ...this.#knownOthers()])].sort();
    const me = ids.indexOf(this.id);
    const out: string[] = [];
    for (let d = 1; out.length < this.#l.seeds && d < ids.length; d++) {
      for (const j of [me + d, me - d]) {
        const id = ids[((j % ids.length) + ids.length) % ids.length]!;
        if (id !== this.id && !out.includes(id) && out.length < this.#l.seeds) out.push(id);
      }
    }
    return out;
  }

  // --- readiness -------------------------------------------------------------------------

  #maybeReady(): void {
    if (this.#ready || this.#closed || !this.#started) return;
    // ready once a repair reached one member (one unreachable member must not keep every node out
    // of service; it is retried until it answers), or when there is no one to repair from
    const repaired = !this.#state.repairPending || this.#someRepairedGen === this.#gapGen || (this.#membershipSettled() && this.#liveOthers().length === 0);
    const viaBus = this.#bus.connected && this.#caughtUp && repaired;
    const viaFallback = !this.#bus.connected && (this.#fallbackSynced || (!this.#joining && this.#knownOthers().length === 0));
    if (!viaBus && !viaFallback) return;
    this.#ready = true;
    const durationMillis = this.#clock() - this.#startedAt;
    this.#events.emit('fleet-ready', { durationMillis });
    this.#logger.info?.({ durationMillis, via: viaBus ? 'bus' : 'fallback' }, 'fleet: caught up');
    for (const w of this.#readyWaiters.splice(0)) w();
    void this.#heartbeat();
  }

  // --- durable state -------------------------------------------------------------------------

  #stateChanged(now = false): void {
    this.#stateDirty = true;
    if (this.#closed) return;
    if (now) {
      if (this.#flushTimer) clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      void this.#flush();
      return;
    }
    if (this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      void this.#flush();
    }, this.#l.flushMs);
    this.#flushTimer.unref?.();
  }

  #flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (!this.#stateDirty) return;
      this.#stateDirty = false;
      this.#state.publishedLsn = this.#outbox.watermark();
      try {
        await this.#o.storage.putAux(STATE_AUX, serializeState(this.#state));
      } catch (err) {
        this.#stateDirty = true;
        if (!this.#closed) this.#logger.warn({ code: codeOf(err) }, 'fleet: state not written (will retry)');
      }
    });
    return this.#flushing;
  }

  // --- timers ------------------------------------------------------------------------------

  #every(ms: number, fn: () => unknown): void {
    const tick = (): void => {
      if (this.#closed) return;
      try {
        const r = fn();
        if (r instanceof Promise) r.catch(() => undefined);
      } finally {
        this.#after(ms, tick);
      }
    };
    this.#after(ms, tick);
  }

  #after(ms: number, fn: () => void): void {
    if (this.#closed) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    t.unref?.();
    this.#timers.add(t);
  }
}
