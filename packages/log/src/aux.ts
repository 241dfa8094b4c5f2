/**
 * Aux records: small named values (tokens, peers, settings) stored through the codec as kind
 * 'aux'. The key is codec.keyFor(name) (or the utf8 name); the name also travels inside the
 * value and is checked on read, so a record copied under another key is rejected.
 */
import { auxNameKey } from './codec.js';
import { isNoSpace, type DbHolder, writeOps } from './db.js';
import { logError, readFailure } from './errors.js';
import { auxKey, P_AUX, P_AUX_COPY, prefixRange } from './keys.js';
import { decodeAuxPlain, encodeAuxPlain, frame, unframe } from './records.js';
import type { LogCodec } from './types.js';

const EMPTY_HEADER = new Uint8Array(0);
const PLACE = { kind: 'aux', stream: 0, seq: 0 } as const;

function decodeAux(codec: LogCodec, v: Uint8Array): { name: string; value: Uint8Array } {
  const { stored } = unframe(v, 0, 'aux record', {});
  const plain = codec.decode(PLACE, stored);
  try {
    return decodeAuxPlain(plain);
  } catch (err) {
    throw logError('LOG_CORRUPT', 'aux record is malformed', { cause: err });
  }
}

export async function getAux(holder: DbHolder, codec: LogCodec, name: string): Promise<Uint8Array | undefined> {
  const key = auxKey(auxNameKey(codec, name));
  let v: Uint8Array | undefined;
  try {
    v = await holder.run((db) => db.get(key));
  } catch (err) {
    throw readFailure(err, `aux record ${name}`, { name });
  }
  if (v === undefined) return undefined;
  const rec = decodeAux(codec, v);
  if (rec.name !== name) throw logError('LOG_CHECKSUM_MISMATCH', `aux record ${name} holds another record`, { details: { name } });
  return rec.value;
}

export async function putAux(holder: DbHolder, codec: LogCodec, name: string, value: Uint8Array): Promise<void> {
  const nameKey = auxNameKey(codec, name);
  const v = frame(EMPTY_HEADER, codec.encode(PLACE, encodeAuxPlain(name, value)));
  try {
    // the record and its copy at the other end of the keyspace, in one batch (mirrors.ts)
    await holder.run((db) => writeOps(db, [{ type: 'put', key: auxKey(nameKey), value: v }, { type: 'put', key: auxKey(nameKey, P_AUX_COPY), value: v }], true));
  } catch (err) {
    holder.markWriteFailed();
    throw logError(isNoSpace(err) ? 'LOG_DISK_FULL' : 'LOG_WRITE_FAILED', `aux record ${name} was not written`, { cause: err, details: { name } });
  }
}

export async function deleteAux(holder: DbHolder, codec: LogCodec, name: string): Promise<void> {
  const nameKey = auxNameKey(codec, name);
  try {
    await holder.run((db) => writeOps(db, [{ type: 'del', key: auxKey(nameKey) }, { type: 'del', key: auxKey(nameKey, P_AUX_COPY) }], true));
  } catch (err) {
    holder.markWriteFailed();
    throw logError(isNoSpace(err) ? 'LOG_DISK_FULL' : 'LOG_WRITE_FAILED', `aux record ${name} was not deleted`, { cause: err, details: { name } });
  }
}

/** Names starting with `prefix`, sorted. With keyFor the keys are opaque, so every record is decoded. */
export async function listAux(holder: DbHolder, codec: LogCodec, prefix: string): Promise<string[]> {
  const range = codec.keyFor === undefined && prefix.length > 0 ? auxPrefixRange(prefix) : prefixRange(P_AUX);
  const names: string[] = [];
  try {
    await holder.run(async (db) => {
      names.length = 0;
      for await (const v of db.values(range)) {
        const rec = decodeAux(codec, v);
        if (rec.name.startsWith(prefix)) names.push(rec.name);
      }
    });
  } catch (err) {
    throw readFailure(err, 'aux records', { prefix });
  }
  return names.sort();
}

/** Keys of plain-named aux records starting with `prefix`. */
function auxPrefixRange(prefix: string): { gte: Uint8Array; lt?: Uint8Array } {
  const p = auxKey(new TextEncoder().encode(prefix));
  // the smallest key above every key starting with p: increment the last byte below 0xff
  const end = p.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return { gte: p, lt: end.subarray(0, i + 1) };
    }
  }
  return { gte: p };
}
