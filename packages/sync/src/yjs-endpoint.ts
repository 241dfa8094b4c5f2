/**
 * /yjs/:profileId: the y-websocket protocol (sync 0, awareness 1, auth 2, query-awareness 3)
 * for stock Yjs clients. Writes go through store.applyRemoteUpdate (validated, logged, audited):
 * the room relays a live update to the other editors once the store accepted it and echoes it to
 * its writer once it is durable (yjs-room.ts); the store's change events bring the API's, the
 * CLI's and peers' writes. Sync answers come from the store's durable state.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebSocketServer, type WebSocket } from 'ws';
import { isProfileId, type MergeContext, type ProfileStore, type RemoteHooks, type WriteContext } from '@profilesync/core';
import { codeOf, CloseCode, closeCodeFor, SyncErrorCode } from './errors.js';
import { monoMs, type SyncEmitter, type SyncLogger } from './events.js';
import type { SyncHub } from './hub.js';
import { stampPresence } from './presence-stamp.js';
import { awarenessMessage, syncUpdateMessage, YAuth, YjsRoom, YMessage, YSync, type RoomMember } from './yjs-room.js';
import type { PresenceHook } from './fleet/presence.js';

/**
 * An open /yjs socket as the server's live-connection registry sees it: closed when its token
 * is revoked (`close('AUTH_UNAUTHORIZED')`), re-checked when the token's role or grants change
 * (`refresh()`: closes with 4403 when the profile is no longer readable, turns read-only when it
 * is no longer writable, and back).
 */
export interface YjsLiveHandle {
  readonly kind: 'yjs';
  readonly profile: string;
  close(code: string): void;
  refresh(): 'kept' | 'closed';
}

/** What `authenticate(token)` returns for a /yjs client (the server supplies it). */
export interface YjsPrincipal {
  actor: string;
  role: 'admin' | 'editor' | 'viewer';
  /** recorded as origin `yjs:<tokenId>` (default: the actor) */
  tokenId?: string;
  /** the person an admin named for the token: when set, the client's presence (awareness `user.name`) shows it, whatever name the client claims */
  person?: string;
  /** Live checks: asked again before every write and on refresh(), so they must answer for the token's current access. */
  canRead(id: string): boolean;
  canWrite(id: string): boolean;
  /** Registers the open socket with the server's live-connection registry; returns the unregister function. */
  watch?(conn: YjsLiveHandle): () => void;
}

/** Returns the principal, undefined (-> 4401) or throws a coded error (AUTH_UNAUTHORIZED, AUTH_FORBIDDEN, ...). */
export type Authenticate = (token: string | undefined) => YjsPrincipal | undefined | Promise<YjsPrincipal | undefined>;

export type AuditFn = (record: { action: string; actor: string; origin: string; outcome: 'ok' | 'denied' | 'rejected'; profile?: string; details?: Record<string, unknown> }) => void;

export interface YjsLimits {
  maxMessageBytes: number;
  queueBytes: number;
  authTimeoutMs: number;
  pingIntervalMs: number;
  /** messages held per client while authenticating / loading */
  maxQueuedMessages: number;
}

export interface YjsEndpointOptions {
  hub: SyncHub;
  store: ProfileStore;
  authenticate: Authenticate | undefined;
  audit: AuditFn;
  events: SyncEmitter;
  logger: SyncLogger;
  limits: YjsLimits;
}

export class YjsEndpoint {
  readonly #o: YjsEndpointOptions;
  readonly #wss: WebSocketServer;
  readonly #rooms = new Map<string, YjsRoom>();
  readonly #clients = new Set<YjsClient>();
  readonly #unsubscribe: () => void;
  #presence: PresenceHook | undefined;

  constructor(opts: YjsEndpointOptions) {
    this.#o = opts;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: opts.limits.maxMessageBytes, perMessageDeflate: false });
    this.#unsubscribe = opts.hub.onChange((e) => this.#rooms.get(e.id)?.onChange(e));
  }

  get rooms(): ReadonlyMap<string, YjsRoom> {
    return this.#rooms;
  }

  /** Relays the awareness of every room (open now or later) through `hook` (the fleet's presence). */
  setPresence(hook: PresenceHook | undefined): void {
    this.#presence = hook;
    for (const room of this.#rooms.values()) this.#relay(room);
  }

  #relay(room: YjsRoom): void {
    if (!this.#presence) return;
    room.attachRelay(this.#presence.open(room.id, { apply: (u) => room.applyRelayed(u), localStates: () => room.localStates() }));
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer, rawId: string, token: string | undefined): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const client = new YjsClient(ws, rawId, this.#o, (id) => this.#room(id), () => this.#clients.delete(client));
      this.#clients.add(client);
      client.begin(token);
    });
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    await Promise.all([...this.#clients].map((c) => c.shutdown()));
    for (const r of [...this.#rooms.values()]) r.destroy();
    this.#wss.close();
  }

  #room(id: string): YjsRoom {
    let room = this.#rooms.get(id);
    if (!room) {
      room = new YjsRoom(id, (r) => {
        if (this.#rooms.get(r.id) === r) this.#rooms.delete(r.id);
      });
      this.#rooms.set(id, room);
      this.#relay(room);
    }
    return room;
  }
}

class YjsClient implements RoomMember {
  readonly controlled = new Set<number>();
  readonly #ws: WebSocket;
  readonly #rawId: string;
  readonly #o: YjsEndpointOptions;
  readonly #roomFor: (id: string) => YjsRoom;
  readonly #onGone: () => void;
  #id = '';
  #principal: YjsPrincipal | undefined;
  #ctx: WriteContext | undefined;
  #readOnly = true;
  #room: YjsRoom | undefined;
  #ready = false;
  #queue: Uint8Array[] = [];
  /** a message's store round trip (a sync answer, a viewer's check) is in flight: later messages wait in order */
  #busy = false;
  #closing = false;
  #dropped = 0;
  #alive = true;
  #awaitingAuthMessage = false;
  /**
   * Merge context of the client's sync step 2 (issue 13): its step 1 (sent when it connects)
   * carries its state vector; its step 2, the answer to ours, carries its offline work. Only
   * that first step 2 is checked; later updates are live. 'used' once it was consumed.
   */
  #clientSv: Uint8Array | 'used' | undefined;
  #unwatch: (() => void) | undefined;
  readonly #timers: ReturnType<typeof setTimeout>[] = [];
  readonly #started = monoMs();

  constructor(ws: WebSocket, rawId: string, o: YjsEndpointOptions, roomFor: (id: string) => YjsRoom, onGone: () => void) {
    this.#ws = ws;
    this.#rawId = rawId;
    this.#o = o;
    this.#roomFor = roomFor;
    this.#onGone = onGone;
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString('utf8')));
    ws.on('error', () => undefined);
    ws.on('pong', () => (this.#alive = true));
  }

  begin(token: string | undefined): void {
    if (token !== undefined) {
      void this.#authorize(token);
      return;
    }
    this.#awaitingAuthMessage = true;
    const t = setTimeout(() => this.#close(SyncErrorCode.YJS_AUTH_TIMEOUT), this.#o.limits.authTimeoutMs);
    t.unref?.();
    this.#timers.push(t);
  }

  send(message: Uint8Array): void {
    if (this.#closing || this.#ws.readyState !== this.#ws.OPEN) return;
    if (this.#ws.bufferedAmount + message.length > this.#o.limits.queueBytes) return this.#close(SyncErrorCode.YJS_SLOW_CONSUMER);
    this.#ws.send(message, { binary: true });
  }

  ready(): void {
    if (this.#closing || this.#ready) return;
    void this.#open();
  }

  /** The opening: our step 1 with the store's durable state vector, the awareness states, then what the client sent meanwhile. */
  async #open(): Promise<void> {
    let sv: Uint8Array;
    try {
      sv = await this.#o.store.stateVector(this.#id);
    } catch (err) {
      return this.#close(codeOf(err));
    }
    if (this.#closing || this.#ready) return;
    this.#ready = true;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, YMessage.sync);
    encoding.writeVarUint(e, YSync.step1);
    encoding.writeVarUint8Array(e, sv);
    this.send(encoding.toUint8Array(e));
    const states = [...this.#room!.awareness.getStates().keys()];
    if (states.length > 0) this.send(awarenessMessage(this.#room!.awareness, states));
    const ping = setInterval(() => {
      if (!this.#alive) return this.#ws.terminate();
      this.#alive = false;
      this.#ws.ping();
    }, this.#o.limits.pingIntervalMs);
    ping.unref?.();
    this.#timers.push(ping as unknown as ReturnType<typeof setTimeout>);
    this.#o.events.emit('yjs-connected', { id: this.#id, actor: this.#principal!.actor, readOnly: this.#readOnly, durationMillis: monoMs() - this.#started });
    this.#o.logger.info?.({ profile: this.#id, actor: this.#principal!.actor, origin: this.#ctx?.origin, readOnly: this.#readOnly }, 'yjs editor joined');
    this.#drain();
  }

  /** Handles queued messages in order; one that needs the store holds the rest until it is answered. */
  #drain(): void {
    while (!this.#busy && !this.#closing && this.#queue.length > 0) this.#dispatch(this.#queue.shift()!);
  }

  #dispatch(bytes: Uint8Array): void {
    const pending = this.#handle(bytes);
    if (pending === undefined) return;
    this.#busy = true;
    void pending.finally(() => {
      this.#busy = false;
      this.#drain();
    });
  }

  failed(code: string): void {
    this.#close(code);
  }

  async shutdown(): Promise<void> {
    if (this.#ws.readyState === this.#ws.CLOSED) return;
    const closed = new Promise<void>((r) => this.#ws.once('close', () => r()));
    this.#closeWith(CloseCode.GOING_AWAY, 'SHUTDOWN');
    await closed;
  }

  async #authorize(token: string): Promise<void> {
    for (const t of this.#timers.splice(0)) clearTimeout(t);
    let principal: YjsPrincipal | undefined;
    try {
      if (!this.#o.authenticate) throw Object.assign(new Error('no authenticator'), { code: 'AUTH_UNAUTHORIZED' });
      principal = await this.#o.authenticate(token);
    } catch (err) {
      const code = codeOf(err);
      return this.#deny(code === 'AUTH_FORBIDDEN' ? code : 'AUTH_UNAUTHORIZED', undefined);
    }
    if (!principal) return this.#deny('AUTH_UNAUTHORIZED', undefined);
    this.#principal = principal;
    // an id no profile can have (bad escape, outside the id pattern) is the client's mistake,
    // answered like the HTTP API answers it: 4400 PROFILE_INVALID_ID, not "not found"
    let id: string;
    try {
      id = decodeURIComponent(this.#rawId);
    } catch {
      return this.#close('PROFILE_INVALID_ID');
    }
    if (!isProfileId(id)) return this.#close('PROFILE_INVALID_ID');
    this.#id = id;
    if (!principal.canRead(id)) return this.#deny('AUTH_FORBIDDEN', principal);
    // watched from here on: a revoke or grant change during the load below already reaches it;
    // the registry may refuse the socket (a token over its connection limit: 4429)
    try {
      this.#unwatch = principal.watch?.({ kind: 'yjs', profile: id, close: (code) => this.#revoked(code), refresh: () => this.#refresh() });
    } catch (err) {
      this.#o.logger.warn({ profile: id, origin: `yjs:${principal.tokenId ?? principal.actor}`, code: codeOf(err) }, 'yjs socket refused by the live-connection registry');
      return this.#close(codeOf(err));
    }
    try {
      await this.#o.store.get(id); // PROFILE_NOT_FOUND / PROFILE_DELETED
    } catch (err) {
      return this.#close(codeOf(err));
    }
    if (this.#closing) return;
    if (!principal.canRead(id)) return this.#deny('AUTH_FORBIDDEN', principal);
    this.#readOnly = !principal.canWrite(id);
    this.#ctx = { actor: principal.actor, origin: `yjs:${principal.tokenId ?? principal.actor}` };
    this.#room = this.#roomFor(id);
    this.#room.join(this);
  }

  /** The token was revoked (or is otherwise gone): close now, nothing more is read or sent. */
  #revoked(code: string): void {
    if (this.#closing) return;
    this.#o.logger.info?.({ profile: this.#id, origin: this.#ctx?.origin, code }, 'yjs socket closed: token revoked');
    this.#close(code);
  }

  /** The token's access changed: close when the profile is no longer readable, else follow write access. */
  #refresh(): 'kept' | 'closed' {
    const p = this.#principal;
    if (this.#closing || !p) return 'closed';
    if (!p.canRead(this.#id)) {
      this.#deny('AUTH_FORBIDDEN', p);
      return 'closed';
    }
    this.#readOnly = !p.canWrite(this.#id);
    return 'kept';
  }

  #deny(code: 'AUTH_UNAUTHORIZED' | 'AUTH_FORBIDDEN', principal: YjsPrincipal | undefined): void {
    this.#o.audit({
      action: 'auth.denied',
      actor: principal?.actor ?? 'anonymous',
      origin: principal ? `yjs:${principal.tokenId ?? principal.actor}` : 'yjs',
      outcome: 'denied',
      ...(this.#id ? { profile: this.#id } : {}),
      details: { reason: code, endpoint: '/yjs' },
    });
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, YMessage.auth);
    encoding.writeVarUint(e, YAuth.permissionDenied);
    encoding.writeVarString(e, code);
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(encoding.toUint8Array(e));
    this.#close(code);
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#closing) return;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!isBinary) return this.#close(SyncErrorCode.YJS_BAD_MESSAGE);
    if (this.#ready && !this.#busy && this.#queue.length === 0) return this.#dispatch(bytes);
    if (this.#ready) {
      this.#queue.push(bytes);
      return;
    }
    if (this.#awaitingAuthMessage) {
      this.#awaitingAuthMessage = false;
      return this.#firstMessageAuth(bytes);
    }
    if (this.#queue.length >= this.#o.limits.maxQueuedMessages) return this.#close(SyncErrorCode.YJS_SLOW_CONSUMER);
    this.#queue.push(bytes);
  }

  #firstMessageAuth(bytes: Uint8Array): void {
    try {
      const d = decoding.createDecoder(bytes);
      if (decoding.readVarUint(d) !== YMessage.auth || decoding.readVarUint(d) !== YAuth.token) throw new Error('not an auth message');
      void this.#authorize(decoding.readVarString(d));
    } catch {
      this.#deny('AUTH_UNAUTHORIZED', undefined);
    }
  }

  /** The client's awareness update with its presence name set to the token's person, when the token names one (see presence-stamp.ts). */
  #presence(update: Uint8Array): Uint8Array {
    const person = this.#principal?.person;
    return person !== undefined ? stampPresence(update, person) : update;
  }

  /** Handles one message; returns a promise when the answer needs the store (later messages wait for it). */
  #handle(bytes: Uint8Array): Promise<void> | undefined {
    const room = this.#room!;
    try {
      const d = decoding.createDecoder(bytes);
      const type = decoding.readVarUint(d);
      if (type === YMessage.sync) {
        const sub = decoding.readVarUint(d);
        const payload = decoding.readVarUint8Array(d);
        if (sub === YSync.step1) {
          if (this.#clientSv === undefined) this.#clientSv = payload;
          return this.#answer(payload);
        } else if (sub === YSync.step2) {
          return this.#write(payload, this.#mergeContext());
        } else if (sub === YSync.update) {
          return this.#write(payload);
        } else throw new Error('unknown sync message');
      } else if (type === YMessage.awareness) {
        awarenessProtocol.applyAwarenessUpdate(room.awareness, this.#presence(decoding.readVarUint8Array(d)), this);
      } else if (type === YMessage.queryAwareness) {
        this.send(awarenessMessage(room.awareness, [...room.awareness.getStates().keys()]));
      } else if (type === YMessage.auth) {
        // a token after the connection is authenticated changes nothing (one token per socket),
        // but the message must still be well-formed
        const sub = decoding.readVarUint(d);
        if (sub !== YAuth.token && sub !== YAuth.permissionDenied) throw new Error(`unknown auth message ${sub}`);
        decoding.readVarString(d);
      } else {
        throw new Error(`unknown message type ${type}`);
      }
    } catch (err) {
      this.#o.logger.warn({ profile: this.#id, err: (err as Error).message }, 'yjs client sent a malformed message');
      this.#close(SyncErrorCode.YJS_BAD_MESSAGE);
    }
    return undefined;
  }

  /** Sync step 2 for the client's step 1: what it lacks of the store's durable state. */
  async #answer(stateVector: Uint8Array): Promise<void> {
    let update: Uint8Array;
    try {
      update = await this.#o.store.encodeStateAsUpdate(this.#id, stateVector);
    } catch (err) {
      const code = codeOf(err);
      if (code === 'PROFILE_BAD_UPDATE') this.#o.logger.warn({ profile: this.#id }, 'yjs client sent a malformed state vector');
      return this.#close(code === 'PROFILE_BAD_UPDATE' ? SyncErrorCode.YJS_BAD_MESSAGE : code);
    }
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, YMessage.sync);
    encoding.writeVarUint(e, YSync.step2);
    encoding.writeVarUint8Array(e, update);
    this.send(encoding.toUint8Array(e));
  }

  /** The client's state vector for its first step 2 (then never again: later writes are live). */
  #mergeContext(): MergeContext | undefined {
    const sv = this.#clientSv;
    this.#clientSv = 'used';
    return sv === undefined || sv === 'used' ? undefined : { remoteStateVector: sv };
  }

  #write(update: Uint8Array, merge?: MergeContext): Promise<void> | undefined {
    const id = this.#id;
    const t0 = monoMs();
    // access is checked again for every write: a change the registry did not push still bites
    if (!this.#readOnly && !this.#principal!.canWrite(id) && this.#refresh() === 'closed') return undefined;
    if (this.#readOnly) return this.#dropForViewer(update);
    const room = this.#room!;
    let relayed = false;
    // a live update reaches the room's other editors once the store has applied and checked it
    // (before it is durable); its writer gets it back, as the acknowledgement, once it is durable
    const hooks: RemoteHooks = {
      accepted: () => {
        relayed = true;
        room.relay(update, this);
      },
    };
    this.#o.store.applyRemoteUpdate(id, update, merge === undefined ? this.#ctx! : { ...this.#ctx!, merge }, merge === undefined ? hooks : undefined).then(
      (r) => {
        if (r.applied && relayed) this.send(syncUpdateMessage(update));
        this.#o.events.emit('update-received', { source: 'yjs', from: this.#ctx!.origin, id, bytes: update.length, applied: r.applied, durationMillis: monoMs() - t0 });
      },
      (err: unknown) => {
        const code = codeOf(err);
        this.#o.events.emit('update-rejected', { source: 'yjs', from: this.#ctx!.origin, id, code, durationMillis: monoMs() - t0 });
        this.#o.logger.warn({ profile: id, code, origin: this.#ctx!.origin }, 'yjs update rejected');
        // the other editors have it and the node could not store it: all of them sync again
        if (relayed) room.resync(code);
        else this.#close(code);
      },
    );
    return undefined;
  }

  /** A viewer: anything that would change the profile is dropped (counted, audited once at close). */
  async #dropForViewer(update: Uint8Array): Promise<void> {
    let contained: boolean;
    try {
      const { structs, ds } = Y.decodeUpdate(update);
      if (structs.length === 0 && ds.clients.size === 0) contained = true;
      else {
        const doc = new Y.Doc();
        Y.applyUpdate(doc, await this.#o.store.encodeStateAsUpdate(this.#id));
        contained = Y.snapshotContainsUpdate(Y.snapshot(doc), update);
        doc.destroy();
      }
    } catch {
      contained = false;
    }
    if (contained) return;
    if (this.#dropped++ === 0) {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, YMessage.auth);
      encoding.writeVarUint(e, YAuth.permissionDenied);
      encoding.writeVarString(e, 'read-only: updates are dropped');
      this.send(encoding.toUint8Array(e));
    }
  }

  #close(code: string): void {
    this.#closeWith(closeCodeFor(code), code);
  }

  #closeWith(closeCode: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#ws.close(closeCode, reason);
    } catch {
      this.#ws.terminate();
    }
    const t = setTimeout(() => this.#ws.terminate(), 2_000);
    t.unref?.();
    this.#timers.push(t);
  }

  #onClose(code: number, reason: string): void {
    for (const t of this.#timers.splice(0)) clearTimeout(t);
    this.#closing = true;
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#room?.leave(this);
    this.#onGone();
    if (this.#dropped > 0 && this.#principal) {
      this.#o.audit({
        action: 'auth.denied',
        actor: this.#principal.actor,
        origin: this.#ctx!.origin,
        outcome: 'denied',
        profile: this.#id,
        details: { reason: 'read-only', endpoint: '/yjs', droppedUpdates: this.#dropped },
      });
    }
    if (this.#principal && this.#room) {
      this.#o.events.emit('yjs-disconnected', { id: this.#id, actor: this.#principal.actor, code, reason, durationMillis: monoMs() - this.#started });
      this.#o.logger.info?.({ profile: this.#id, actor: this.#principal.actor, origin: this.#ctx?.origin, code, reason, durationMillis: Math.round(monoMs() - this.#started) }, 'yjs editor left');
    }
  }
}
