/**
 * A /yjs room: the editors of one profile on this node, and their awareness. The profile's
 * state is the store's: a joining client is answered from the store's durable state, and
 * every change reaches the room's clients once:
 * - an update a client of the room wrote is relayed to the other clients as soon as the store
 *   has applied and checked it (`relay`, before it is durable); its writer gets it back (the
 *   echo that acknowledges it) once it is durable;
 * - every other durable change (the API, the CLI, peers, the node's own version records) is
 *   broadcast to all clients from the store's change events.
 * If a write the room already relayed cannot be made durable, every client is closed with a
 * 45xx code (`resync`): the providers reconnect and sync again, and their step 2 gives the node
 * back whatever it lacks. Clients are answered only with the store's durable state (never
 * before the profile is loaded: y-websocket bug #81).
 */
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import type { ChangeEvent } from '@profilesync/core';

export const YMessage = { sync: 0, awareness: 1, auth: 2, queryAwareness: 3 } as const;
export const YSync = { step1: 0, step2: 1, update: 2 } as const;
/** auth sub-messages: 0 = permission denied (y-protocols/auth), 1 = token (profilesync: first-message auth) */
export const YAuth = { permissionDenied: 0, token: 1 } as const;

export interface RoomMember {
  /** awareness client ids this member controls */
  readonly controlled: Set<number>;
  send(message: Uint8Array): void;
  /** the member joined: send the opening messages, then handle what was queued */
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
  /** only for the awareness (its client id and its 'destroy'): the profile's state is the store's */
  readonly #awarenessDoc = new Y.Doc();
  readonly awareness: awarenessProtocol.Awareness;
  readonly members = new Set<RoomMember>();
  #relay: RoomRelay | undefined;
  readonly #onEmpty: (room: YjsRoom) => void;

  constructor(id: string, onEmpty: (room: YjsRoom) => void) {
    this.id = id;
    this.#onEmpty = onEmpty;
    this.awareness = new awarenessProtocol.Awareness(this.#awarenessDoc);
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

  join(member: RoomMember): void {
    this.members.add(member);
    member.ready();
  }

  leave(member: RoomMember): void {
    if (!this.members.delete(member)) return;
    if (member.controlled.size > 0) awarenessProtocol.removeAwarenessStates(this.awareness, [...member.controlled], null);
    if (this.members.size === 0) this.destroy();
  }

  /** An update `from` wrote, applied and checked by the store (not durable yet): to every other member. */
  relay(update: Uint8Array, from: RoomMember): void {
    if (this.members.size < 2) return;
    const msg = syncUpdateMessage(update);
    for (const m of this.members) if (m !== from) m.send(msg);
  }

  /** A durable change of this profile: broadcast it (unless the room relayed it already). */
  onChange(e: ChangeEvent): void {
    if (e.relayed !== true) {
      const msg = syncUpdateMessage(e.update);
      for (const m of this.members) m.send(msg);
    }
    // a deleted profile takes its sockets with it (4410): no more reads, no writes to a tombstone
    if (e.view.deleted) for (const m of [...this.members]) m.failed('PROFILE_DELETED');
  }

  /** A relayed write could not be made durable: every member reconnects and syncs again (`code` maps to a 45xx close). */
  resync(code: string): void {
    for (const m of [...this.members]) m.failed(code);
  }

  destroy(): void {
    this.#relay?.close();
    this.#relay = undefined;
    this.awareness.destroy();
    this.#awarenessDoc.destroy();
    this.#onEmpty(this);
  }
}
