/** The identity codec and the codec-dependent aux key. */
import { utf8 } from './bytes.js';
import type { LogCodec, Place } from './types.js';

/** Stores payloads as they are (no encryption). Its id is recorded in every new DB. */
export const plainCodec: LogCodec = Object.freeze({
  id: 'plain',
  encode: (_place: Place, plaintext: Uint8Array): Uint8Array => plaintext,
  decode: (_place: Place, stored: Uint8Array): Uint8Array => stored,
});

/**
 * Key bytes of an aux record: `codec.keyFor(name)` when the codec offers it (an encrypting
 * codec returns e.g. an HMAC of the name, so names do not leak), else the utf8 name.
 */
export function auxNameKey(codec: LogCodec, name: string): Uint8Array {
  if (codec.keyFor === undefined) return utf8(name);
  const k = codec.keyFor(name);
  if (!(k instanceof Uint8Array) || k.byteLength === 0) throw new TypeError('codec.keyFor must return non-empty bytes');
  return k;
}
