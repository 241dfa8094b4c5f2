/**
 * The node's webhooks: hooks from the config file (`[[webhooks]]`, secret from an environment
 * variable) and hooks added at run time (POST /api/webhooks; kept in one aux record of the log,
 * so encrypted at rest with it), each with a HookDeliverer fed by the change hub.
 *
 * Pending deliveries survive a restart without a write per change: each hook's cursor (a log
 * position) is saved in one aux record ('webhooks/cursors', debounced); at open every change
 * after it is read back from the log (the hub's latest state per profile) and delivered.
 */
import { ProfileSyncError } from '@profilesync/errors';
import { AuxTable, type AuxStore } from '../aux-table.js';
import type { ChangeHub, FeedChange } from '../changes/hub.js';
import {
  checkEvents,
  checkName,
  checkProfiles,
  checkSecret,
  checkUrl,
  compileHook,
  configHookId,
  deliveredKinds,
  infoOf,
  newHookId,
  newSecret,
  type WebhookFileEntry,
  type WebhookInfo,
  type WebhookRecord,
  type WebhookTuning,
} from './config.js';
import { HookDeliverer, type DeliveryAttempt, type HookStatus } from './deliverer.js';

export const HOOKS_AUX = 'webhooks/hooks';
export const CURSORS_AUX = 'webhooks/cursors';

export interface WebhookLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WebhooksOptions {
  aux: AuxStore;
  hub: ChangeHub;
  /** config-file hooks with their secrets resolved */
  configured: (WebhookFileEntry & { secret: string })[];
  tuning: WebhookTuning;
  logger: WebhookLogger;
  clock?: () => number;
  fetch?: typeof fetch;
  random?: () => number;
  /** how long cursor saves are batched (ms) */
  saveDelayMs?: number;
}

export type WebhookView = WebhookInfo & { status: HookStatus };

export interface WebhookCreate {
  url: string;
  events?: string[] | null;
  profiles?: string[] | null;
  name?: string | null;
  secret?: string;
}

interface CursorRecord {
  id: string;
  epoch: string;
  lsn: number;
}

export class Webhooks {
  readonly #o: WebhooksOptions;
  readonly #clock: () => number;
  readonly #hooks: AuxTable<WebhookRecord>;
  readonly #cursorTable: AuxTable<CursorRecord>;
  readonly #added = new Map<string, WebhookRecord>();
  readonly #deliverers = new Map<string, HookDeliverer>();
  #cursors = new Map<string, CursorRecord>();
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  #saving: Promise<void> = Promise.resolve();
  #unsubscribe: (() => void) | undefined;
  #listeners = new Set<(a: DeliveryAttempt, hook: WebhookRecord) => void>();
  #closed = false;

  private constructor(o: WebhooksOptions) {
    this.#o = o;
    this.#clock = o.clock ?? Date.now;
    this.#hooks = new AuxTable<WebhookRecord>(o.aux, HOOKS_AUX);
    this.#cursorTable = new AuxTable<CursorRecord>(o.aux, CURSORS_AUX);
  }

  static async open(o: WebhooksOptions): Promise<Webhooks> {
    const w = new Webhooks(o);
    const corrupt = (cause: unknown) => new ProfileSyncError('WEBHOOK_STORE_CORRUPT', 'the webhook records in the data dir are unreadable', { cause });
    for (const r of await w.#hooks.load(corrupt)) w.#added.set(r.id, r);
    for (const c of await w.#cursorTable.load(corrupt)) w.#cursors.set(c.id, c);
    const records: WebhookRecord[] = [
      ...o.configured.map((e) => ({ id: configHookId(e.url, e.name), name: e.name, url: e.url, secret: e.secret, events: e.events, profiles: e.profiles, source: 'config' as const, createdAt: null })),
      ...w.#added.values(),
    ];
    // subscribe and catch up in the same turn: every change after a hook's cursor is offered exactly once
    w.#unsubscribe = o.hub.subscribe((batch) => w.#onBatch(batch));
    for (const r of records) w.#start(r, w.#storedCursor(r.id));
    return w;
  }

  /** Observes finished attempts (metrics, logs). */
  onAttempt(listener: (a: DeliveryAttempt, hook: WebhookRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  list(): WebhookView[] {
    return [...this.#deliverers.values()].map((d) => ({ ...infoOf(d.hook.record), status: d.status() }));
  }

  get(id: string): WebhookView {
    const d = this.#deliverers.get(id);
    if (!d) throw new ProfileSyncError('WEBHOOK_NOT_FOUND', `no webhook ${id}`, { details: { id } });
    return { ...infoOf(d.hook.record), status: d.status() };
  }

  deliveries(id: string, limit?: number): DeliveryAttempt[] {
    const d = this.#deliverers.get(id);
    if (!d) throw new ProfileSyncError('WEBHOOK_NOT_FOUND', `no webhook ${id}`, { details: { id } });
    return d.deliveries(limit);
  }

  /** Adds a hook (durable before it is used); returns it with its secret (shown once). */
  async add(input: WebhookCreate): Promise<{ info: WebhookView; secret: string }> {
    if (this.#closed) throw new ProfileSyncError('SERVER_SHUTTING_DOWN', 'the node is shutting down');
    const url = checkUrl(input.url, 'url');
    const record: WebhookRecord = {
      id: newHookId(),
      name: checkName(input.name, 'name'),
      url,
      secret: input.secret === undefined ? newSecret() : checkSecret(input.secret, 'secret'),
      events: checkEvents(input.events, 'events'),
      profiles: checkProfiles(input.profiles, 'profiles'),
      source: 'added',
      createdAt: new Date(this.#clock()).toISOString(),
    };
    for (const d of this.#deliverers.values()) {
      if (d.hook.record.url === url && d.hook.record.name === record.name) {
        throw new ProfileSyncError('WEBHOOK_EXISTS', `a webhook for ${url}${record.name ? ` named ${record.name}` : ''} exists (${d.hook.record.id})`, { details: { id: d.hook.record.id } });
      }
    }
    await this.#hooks.write(
      () => this.#added,
      (m) => m.set(record.id, record),
      (m) => {
        this.#added.clear();
        for (const [k, v] of m) this.#added.set(k, v);
      },
    );
    this.#start(record, this.#o.hub.position);
    this.#scheduleSave();
    return { info: this.get(record.id), secret: record.secret };
  }

  async remove(id: string): Promise<WebhookInfo> {
    const d = this.#deliverers.get(id);
    if (!d) throw new ProfileSyncError('WEBHOOK_NOT_FOUND', `no webhook ${id}`, { details: { id } });
    if (d.hook.record.source === 'config') throw new ProfileSyncError('WEBHOOK_READONLY', `webhook ${id} comes from the config file; remove it there`, { details: { id } });
    await this.#hooks.write(
      () => this.#added,
      (m) => m.delete(id),
      (m) => {
        this.#added.clear();
        for (const [k, v] of m) this.#added.set(k, v);
      },
    );
    d.close();
    this.#deliverers.delete(id);
    this.#cursors.delete(id);
    this.#scheduleSave();
    return infoOf(d.hook.record);
  }

  /** Stops delivering and saves every cursor. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    for (const d of this.#deliverers.values()) d.close();
    if (this.#saveTimer !== undefined) clearTimeout(this.#saveTimer);
    await this.#save();
  }

  #storedCursor(id: string): number {
    const hub = this.#o.hub;
    const c = this.#cursors.get(id);
    if (c === undefined) return hub.position; // a new hook starts now
    if (c.epoch !== hub.epoch || c.lsn > hub.position) {
      this.#o.logger.warn({ hook: id, stored: `${c.epoch}-${c.lsn}`, position: `${hub.epoch}-${hub.position}` }, 'webhook cursor belongs to another log: delivering from now on');
      return hub.position;
    }
    return c.lsn;
  }

  #start(record: WebhookRecord, cursor: number): void {
    const hook = compileHook(record);
    const d = new HookDeliverer(hook, cursor, {
      epoch: this.#o.hub.epoch,
      tuning: this.#o.tuning,
      fetch: this.#o.fetch ?? fetch,
      clock: this.#clock,
      ...(this.#o.random ? { random: this.#o.random } : {}),
      onCursor: (lsn) => {
        this.#cursors.set(record.id, { id: record.id, epoch: this.#o.hub.epoch, lsn });
        this.#scheduleSave();
      },
      onAttempt: (a) => {
        for (const l of this.#listeners) {
          try {
            l(a, record);
          } catch {
            /* observers never stop deliveries */
          }
        }
      },
    });
    this.#deliverers.set(record.id, d);
    if (!this.#cursors.has(record.id)) this.#cursors.set(record.id, { id: record.id, epoch: this.#o.hub.epoch, lsn: cursor });
    let caughtUp = 0;
    for (const c of this.#o.hub.since(cursor)) {
      const kinds = deliveredKinds(hook, c);
      if (kinds.length > 0) {
        d.enqueue(c, kinds, c.kinds === undefined);
        caughtUp++;
      }
    }
    if (caughtUp > 0) this.#o.logger.info({ hook: record.id, from: cursor, changes: caughtUp }, 'webhook: delivering changes made since its last position');
    d.advance(this.#o.hub.position);
  }

  #onBatch(batch: readonly FeedChange[]): void {
    const last = batch[batch.length - 1]?.lsn ?? this.#o.hub.position;
    for (const d of this.#deliverers.values()) {
      for (const c of batch) {
        const kinds = deliveredKinds(d.hook, c);
        if (kinds.length > 0) d.enqueue(c, kinds, false);
      }
      d.advance(Math.max(last, this.#o.hub.position));
    }
  }

  #scheduleSave(): void {
    if (this.#saveTimer !== undefined || this.#closed) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      void this.#save().catch((err: unknown) => this.#o.logger.warn({ err }, 'webhook cursors could not be saved (retried on the next change)'));
    }, this.#o.saveDelayMs ?? 200);
    this.#saveTimer.unref?.();
  }

  #save(): Promise<void> {
    const snapshot = new Map(this.#cursors);
    const run = this.#saving.then(() =>
      this.#cursorTable.write(
        () => snapshot,
        () => undefined,
        () => undefined,
      ),
    );
    this.#saving = run.catch(() => undefined);
    return run;
  }
}
