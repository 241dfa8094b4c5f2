/**
 * Presence across the fleet: awareness (cursors, who is here) of /yjs rooms travels between
 * nodes over the bus's ephemeral channels, one keyed channel per profile (the bus sees an HMAC,
 * not the id), sealed with the fleet key. Only nodes with the room open listen. When a room
 * opens, the node asks the others for their clients' states (a query); each answers with the
 * states its own clients control. Nothing is retained: presence is ephemeral, and states of a
 * node that vanished expire on the others after y-protocols' 30 s timeout.
 */
import type { Bus } from '@profilesync/bus';
import type { SyncLogger } from '../events.js';
import { decodePresence, encodePresence, PresenceType } from './codec.js';
import { SealKind, textContext, type Sealer } from './seal.js';

/** What a /yjs room gives the relay. */
export interface PresenceRoom {
  /** applies an awareness update from another node (origin: the relay) */
  apply(update: Uint8Array): void;
  /** an awareness update with the states this node's clients control (undefined: none) */
  localStates(): Uint8Array | undefined;
}

/** The hook the /yjs endpoint calls when a room opens; the returned handle relays its local changes. */
export interface PresenceHook {
  open(profileId: string, room: PresenceRoom): { publish(update: Uint8Array): void; close(): void };
}

export class PresenceRelay implements PresenceHook {
  readonly #bus: Bus;
  readonly #sealer: Sealer;
  readonly #member: string;
  readonly #logger: SyncLogger;
  readonly #counts = { sent: 0, received: 0, dropped: 0 };

  constructor(opts: { bus: Bus; sealer: Sealer; member: string; logger: SyncLogger }) {
    this.#bus = opts.bus;
    this.#sealer = opts.sealer;
    this.#member = opts.member;
    this.#logger = opts.logger;
  }

  get counts(): Readonly<{ sent: number; received: number; dropped: number }> {
    return this.#counts;
  }

  open(profileId: string, room: PresenceRoom): { publish(update: Uint8Array): void; close(): void } {
    const channel = this.#sealer.channelFor(profileId);
    const context = textContext(channel);
    const send = (type: (typeof PresenceType)[keyof typeof PresenceType], payload: Uint8Array): void => {
      if (!this.#bus.connected) return; // ephemeral: nothing is queued while the bus is away
      const sealed = this.#sealer.seal(SealKind.presence, context, encodePresence({ type, member: this.#member, profile: profileId, payload }));
      this.#counts.sent++;
      this.#bus.broadcast(channel, sealed).catch(() => this.#counts.dropped++);
    };
    const stop = this.#bus.listen(channel, (sealed) => {
      let m;
      try {
        m = decodePresence(this.#sealer.open(SealKind.presence, context, sealed));
      } catch (err) {
        this.#counts.dropped++;
        this.#logger.debug?.({ code: (err as { code?: string }).code }, 'fleet presence: a message did not open');
        return;
      }
      if (m.member === this.#member || m.profile !== profileId) return;
      this.#counts.received++;
      if (m.type === PresenceType.query) {
        const states = room.localStates();
        if (states) send(PresenceType.awareness, states);
        return;
      }
      try {
        room.apply(m.payload);
      } catch {
        this.#counts.dropped++;
      }
    });
    // subscriptions are asynchronous: ask twice, once now and once shortly after
    send(PresenceType.query, new Uint8Array(0));
    const again = setTimeout(() => send(PresenceType.query, new Uint8Array(0)), 250);
    again.unref?.();
    return {
      publish: (update) => send(PresenceType.awareness, update),
      close: () => {
        clearTimeout(again);
        stop();
      },
    };
  }
}
