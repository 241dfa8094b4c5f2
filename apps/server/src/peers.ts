/**
 * Peers this node syncs with: the config file's [[peers]] plus peers added at run time
 * (`profilesync peer add`, POST /api/peers), which are persisted in ONE aux record of the
 * log ('sync/peers'; encrypted at rest with the log). Config peers cannot be removed at run
 * time (edit the file); added ones can.
 */
import { createHash } from 'node:crypto';
import { ProfileSyncError } from '@profilesync/errors';
import { validatePeer, type PeerConfig } from './config.js';
import { AuxTable, type AuxStore } from './aux-table.js';

export interface PeerRecord {
  id: string;
  url: string;
  /** base64url Ed25519 public key */
  key: string;
  fingerprint: string;
  name: string | null;
  source: 'config' | 'added';
  addedAt: string | null;
}

export const PEERS_AUX = 'sync/peers';

/** Default peer fingerprint when the crypto package does not supply one: sha-256 of the key, 4 hex groups. */
export function defaultFingerprint(key: string): string {
  const hex = createHash('sha256').update(Buffer.from(key, 'base64url')).digest('hex');
  return hex.slice(0, 16).match(/.{4}/g)!.join(':');
}

/** Peer id: stable, derived from the public key (the same peer always gets the same id). */
export function peerIdFor(key: string): string {
  return createHash('sha256').update(Buffer.from(key, 'base64url')).digest('hex').slice(0, 12);
}

export class PeerStore {
  #table: AuxTable<PeerRecord>;
  #clock: () => number;
  #fingerprint: (key: string) => string;
  #config: PeerRecord[];
  #added = new Map<string, PeerRecord>();

  private constructor(aux: AuxStore, config: PeerConfig[], fingerprint: (key: string) => string, clock: () => number) {
    this.#table = new AuxTable(aux, PEERS_AUX);
    this.#clock = clock;
    this.#fingerprint = fingerprint;
    this.#config = config.map((p) => ({
      id: peerIdFor(p.key),
      url: p.url,
      key: p.key,
      fingerprint: fingerprint(p.key),
      name: p.name ?? null,
      source: 'config' as const,
      addedAt: null,
    }));
  }

  static async open(aux: AuxStore, config: PeerConfig[], opts: { fingerprint?: (key: string) => string; clock?: () => number } = {}): Promise<PeerStore> {
    const store = new PeerStore(aux, config, opts.fingerprint ?? defaultFingerprint, opts.clock ?? Date.now);
    const list = await store.#table.load((cause) => new ProfileSyncError('PEER_STORE_CORRUPT', 'the peer record in the data dir is unreadable', { cause }));
    for (const p of list) store.#added.set(p.id, p);
    return store;
  }

  list(): PeerRecord[] {
    const seen = new Set<string>();
    const out: PeerRecord[] = [];
    for (const p of [...this.#config, ...this.#added.values()]) {
      if (seen.has(p.id)) continue;
      seen.add(p.id);
      out.push(p);
    }
    return out;
  }

  get(id: string): PeerRecord | undefined {
    return this.list().find((p) => p.id === id);
  }

  async add(input: { url: string; key: string; name?: string }): Promise<PeerRecord> {
    const rec = this.preview(input);
    await this.#persist((m) => m.set(rec.id, rec));
    return rec;
  }

  /** The record `add` would store (same checks and errors), without storing it: to confirm the fingerprint first. */
  preview(input: { url: string; key: string; name?: string }): PeerRecord {
    let cfg: PeerConfig;
    try {
      cfg = validatePeer(input, 'peer');
    } catch (err) {
      const e = err as ProfileSyncError;
      throw new ProfileSyncError('PEER_INVALID', e.message.replace(/^config /, ''), { details: { field: String(e.details?.key ?? 'peer').replace(/^peer\./, '') } });
    }
    const id = peerIdFor(cfg.key);
    if (this.get(id)) throw new ProfileSyncError('PEER_EXISTS', `peer ${id} (this key) is already configured`, { details: { id } });
    return {
      id,
      url: cfg.url,
      key: cfg.key,
      fingerprint: this.#fingerprint(cfg.key),
      name: cfg.name ?? null,
      source: 'added',
      addedAt: new Date(this.#clock()).toISOString(),
    };
  }

  async remove(id: string): Promise<PeerRecord> {
    const rec = this.#added.get(id);
    if (!rec) {
      if (this.#config.some((p) => p.id === id)) {
        throw new ProfileSyncError('PEER_INVALID', `peer ${id} comes from the config file; remove it there`, { details: { id } });
      }
      throw new ProfileSyncError('PEER_NOT_FOUND', `no peer with id ${id} (see \`profilesync peer list\`)`, { details: { id } });
    }
    await this.#persist((m) => m.delete(id));
    return rec;
  }

  #persist(change: (m: Map<string, PeerRecord>) => void): Promise<void> {
    return this.#table.write(
      () => this.#added,
      change,
      (next) => {
        this.#added = next;
      },
    );
  }
}
