/**
 * Presence names are the node's, not the client's: a /yjs client's awareness states are
 * rewritten so that `user.name` is the name of the token it authenticated with (its display
 * name: issue 16, people), before the room applies or relays them. A client can still choose
 * its colour and cursor; it cannot appear to other editors as somebody else.
 *
 * Wire format (y-protocols awareness update): varUint count, then per state varUint clientID,
 * varUint clock, varString JSON state ("null" for a removed state).
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/** Returns the update with every non-null state's `user.name` set to `name` (other fields kept). */
export function stampPresence(update: Uint8Array, name: string): Uint8Array {
  const d = decoding.createDecoder(update);
  const e = encoding.createEncoder();
  const count = decoding.readVarUint(d);
  encoding.writeVarUint(e, count);
  for (let i = 0; i < count; i++) {
    encoding.writeVarUint(e, decoding.readVarUint(d));
    encoding.writeVarUint(e, decoding.readVarUint(d));
    const state: unknown = JSON.parse(decoding.readVarString(d));
    encoding.writeVarString(e, JSON.stringify(stamped(state, name)));
  }
  return encoding.toUint8Array(e);
}

function stamped(state: unknown, name: string): unknown {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) return state;
  const s = state as Record<string, unknown>;
  const user = s['user'] !== null && typeof s['user'] === 'object' && !Array.isArray(s['user']) ? (s['user'] as Record<string, unknown>) : {};
  return { ...s, user: { ...user, name } };
}
