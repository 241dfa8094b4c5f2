/**
 * A /yjs room: the in-memory Y.Doc of one profile (loaded from the store's durable state,
 * then kept equal to it by the store's change events), its awareness, and its clients.
 * Clients are answered only once the room is loaded (y-websocket bug #81).
 */
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import type { ChangeEvent, ProfileStore } from '@profilesync/core';

export const YMessage = { sync: 0, awareness: 1, auth: 2, queryAwareness: 3 } as const;
export const YSync = { step1: 0, step2: 1, update: 2 } as const;
/** auth sub-messages: 0 = permission denied (y-protocols/auth), 1 = token (profilesync: first-message auth) */
export const YAuth = { permissionDenied: 0, token: 1 } as const;

export interface RoomMember {
  /** awareness client ids this member controls */
  readonly controlled: Set<number>;
  send(message: Uint8Array): void;
  /** the room is loaded: send the opening messages, then handle what was queued */
  ready(): void;
  /** the room could not load, or its profile is gone (deleted): close with this code */
  failed(code: string): void;
}

export function syncUpdateMessage(update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, YMessage.sync);
  encoding.writeVarUint(e, YSync.update);
  encoding.writeVarUint8Array(e, update);
  return encoding.toUint8Array(e);
}

export function awarenessMessage(awareness: awarenessProtocol.Awareness, clients: number[]): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, YMessage.awareness);
  encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, clients));
  return encoding.toUint8Array(e);
}

/** The origin of awareness updates relayed from other fleet nodes (never relayed back). */
export const RELAYED = Symbol('relayed');

/** A relay of the room's awareness to other nodes (the fleet's presence). */
export interface RoomRelay {
  publish(update: Uint8Array): void;
  close(): void;
}

export class YjsRoom {
  readonly id: string;
  readonly doc = new Y.Doc({ gc: false });
  readonly awareness: awarenessProtocol.Awareness;
  readonly members = new Set<RoomMember>();
  #loaded = false;
  #failed: string | undefined;
  #buffered: ChangeEvent[] = [];
  #relay: RoomRelay | undefined;
  readonly #onEmpty: (room: YjsRoom) => void;

  constructor(id: string, store: ProfileStore, onEmpty: (room: YjsRoom) => void) {
    this.id = id;
    this.#onEmpty = onEmpty;
    this.awareness = new awarenessProtocol.Awareness(this.doc);
    this.awareness.setLocalState(null);
    this.awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      const changed = [...added, ...updated, ...removed];
      const member = origin as RoomMember | null;
      if (member && this.members.has(member)) {
        for (const c of added) member.controlled.add(c);
        for (const c of removed) member.controlled.delete(c);
      }
      const msg = awarenessMessage(this.awareness, changed);
      for (const m of this.members) m.send(msg);
      if (this.#relay && origin !== RELAYED) this.#relay.publish(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed));
    });
    void this.#load(store);
  }

  /** Relays local awareness changes to other nodes from now on. */
  attachRelay(relay: RoomRelay): void {
    this.#relay?.close();
    this.#relay = relay;
  }

  /** An awareness update from another node: applied and broadcast here, never relayed back. */
  applyRelayed(update: Uint8Array): void {
    awarenessProtocol.applyAwarenessUpdate(this.awareness, update, RELAYED);
  }

  /** The states this node's clients control, as one awareness update (undefined: none). */
  localStates(): Uint8Array | undefined {
    const ids = [...this.members].flatMap((m) => [...m.controlled]).filter((c) => this.awareness.getStates().has(c));
    return ids.length === 0 ? undefined : awarenessProtocol.encodeAwarenessUpdate(this.awareness, ids);
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  join(member: RoomMember): void {
    this.members.add(member);
    if (this.#loaded) member.ready();
    else if (this.#failed !== undefined) member.failed(this.#failed);
  }

  leave(member: RoomMember): void {
    if (!this.members.delete(member)) return;
    if (member.controlled.size > 0) awarenessProtocol.removeAwarenessStates(this.awareness, [...member.controlled], null);
    if (this.members.size === 0) this.destroy();
  }

  /** A durable change of this profile: fold it into the room doc and broadcast it. */
  onChange(e: ChangeEvent): void {
    if (!this.#loaded) {
      this.#buffered.push(e);
      return;
    }
    Y.applyUpdate(this.doc, e.update, 'store');
    const msg = syncUpdateMessage(e.update);
    for (const m of this.members) m.send(msg);
    // a deleted profile takes its sockets with it (4410): no more reads, no writes to a tombstone
    if (e.view.deleted) for (const m of [...this.members]) m.failed('PROFILE_DELETED');
  }

  destroy(): void {
    this.#relay?.close();
    this.#relay = undefined;
    this.awareness.destroy();
    this.doc.destroy();
    this.#onEmpty(this);
  }

  async #load(store: ProfileStore): Promise<void> {
    try {
      const state = await store.encodeStateAsUpdate(this.id);
      Y.applyUpdate(this.doc, state, 'store');
      for (const e of this.#buffered.splice(0)) Y.applyUpdate(this.doc, e.update, 'store');
      this.#loaded = true;
    } catch (err) {
      this.#failed = (err as { code?: string }).code ?? 'SYNC_INTERNAL';
      for (const m of [...this.members]) m.failed(this.#failed);
      return;
    }
    for (const m of [...this.members]) m.ready();
  }
}
