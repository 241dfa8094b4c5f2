/**
 * Presence names of per-person tokens are the node's, not the client's: when the token a /yjs
 * client authenticated with names a person (its display name, set by an admin: issue 16,
 * people), the client's awareness states are rewritten so that `user.name` is that name, before
 * the room applies or relays them. The client still chooses its colour and cursor; it cannot
 * appear to other editors as somebody else. A token that names no person (one shared by a
 * team) keeps the names its clients give, which is how people sharing it are told apart.
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
