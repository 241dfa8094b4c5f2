/**
 * The commit seal: a small file outside LevelDB's own files (two of them, written in turn) that
 * says what the log had committed, so that a LevelDB that silently lost acknowledged batches
 * (damage near the end of its WAL drops them without an error; a truncated WAL or MANIFEST
 * tail too) is noticed at the next open instead of serving the older state as current.
 *
 * The file is replaced atomically (written to PROFILESYNC-SEAL.tmp, fdatasync'ed, renamed over
 * PROFILESYNC-SEAL), so a crash leaves the old seal or the new one, never a torn one: a seal
 * that does not parse is damage.
 *
 * What a seal holds (docs/storage-format.md §12):
 *   - lastLsn and the number of entries (the sum of every head's seq) of the durable state;
 *   - per stream touched since the last checkpoint: its head seq and 8 bytes of its chain hash
 *     (and, for streams created since, their encoded catalog record, so a stream whose every
 *     record was lost is still known by name);
 *   - the damage ledger: findings not yet repaired (they may be invisible after a restart).
 * A checkpoint is a LevelDB memtable flush (compactRange over an empty key range): afterwards
 * everything before it lives in table files, whose every block carries a crc32c that the open
 * check verifies. Every open is a checkpoint (LevelDB turns the WAL into a table), and close
 * flushes before writing the final, exact seal, so a stopped node's WAL is empty.
 *
 * While running, the seal is written in the background (one write in flight, at most every
 * `SEAL_INTERVAL_MS`), never on the acknowledgement path: it trails the durable state by one
 * seal write. The limit: after a crash (kill -9, power loss), the commits of that last interval
 * are protected only by LevelDB's own WAL checksums.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, equalBytes, readBytes, readU32, readU64, readVaruint, utf8, fromUtf8, varuintSize, writeU32, writeU64, writeVaruint } from './bytes.js';
import type { StoredDamage } from './damage.js';
import { DAMAGE_KINDS, type DamageKind } from './types.js';

export const SEAL_FILE = 'PROFILESYNC-SEAL';
const SEAL_TMP = 'PROFILESYNC-SEAL.tmp';
const MAGIC = utf8('PSSEAL01');
export const SEAL_INTERVAL_MS = 20;
/** more streams than this touched since the last checkpoint: take a checkpoint (memtable flush) */
export const CHECKPOINT_STREAMS = 4096;

export const FLAG_CLEAN = 1;

export interface Touched {
  seq: number;
  /** first 8 bytes of the head's chain hash */
  hash8: Uint8Array;
  /** the encoded catalog record, for streams created since the last checkpoint */
  catalog?: Uint8Array | undefined;
}

export interface Seal {
  counter: number;
  lastLsn: number;
  entries: number;
  flags: number;
  touched: Map<number, Touched>;
  damage: StoredDamage[];
}

export function encodeSeal(s: Seal): Uint8Array {
  let size = 8 + 4 + 8 + 8 + 8 + 1 + 4;
  for (const t of s.touched.values()) size += 4 + 8 + 8 + 1 + (t.catalog === undefined ? 0 : varuintSize(t.catalog.byteLength) + t.catalog.byteLength);
  const msgs = s.damage.map((d) => utf8(d.message.slice(0, 500)));
  size += 4;
  for (const m of msgs) size += 4 + 1 + 8 + 8 + varuintSize(m.byteLength) + m.byteLength;
  const b = new Uint8Array(size);
  b.set(MAGIC, 0);
  let o = 12;
  writeU64(b, o, s.counter); o += 8;
  writeU64(b, o, s.lastLsn); o += 8;
  writeU64(b, o, s.entries); o += 8;
  b[o++] = s.flags;
  writeU32(b, o, s.touched.size); o += 4;
  for (const [no, t] of s.touched) {
    writeU32(b, o, no); o += 4;
    writeU64(b, o, t.seq); o += 8;
    b.set(t.hash8.subarray(0, 8), o); o += 8;
    b[o++] = t.catalog === undefined ? 0 : 1;
    if (t.catalog !== undefined) {
      o = writeVaruint(b, o, t.catalog.byteLength);
      b.set(t.catalog, o);
      o += t.catalog.byteLength;
    }
  }
  writeU32(b, o, s.damage.length); o += 4;
  s.damage.forEach((d, i) => {
    const m = msgs[i] as Uint8Array;
    writeU32(b, o, d.no); o += 4;
    b[o++] = Math.max(0, DAMAGE_KINDS.indexOf(d.kind));
    writeU64(b, o, d.seq); o += 8;
    writeU64(b, o, Math.max(0, Math.floor(d.at))); o += 8;
    o = writeVaruint(b, o, m.byteLength);
    b.set(m, o);
    o += m.byteLength;
  });
  writeU32(b, 8, crc32(b.subarray(12)));
  return b;
}

/** Parses a seal file; throws when it is not a complete, intact seal. */
export function decodeSeal(b: Uint8Array): Seal {
  if (b.byteLength < 45 || !equalBytes(b.subarray(0, 8), MAGIC)) throw new RangeError('not a seal file');
  if (readU32(b, 8) !== crc32(b.subarray(12))) throw new RangeError('seal crc mismatch');
  let o = 12;
  const counter = readU64(b, o); o += 8;
  const lastLsn = readU64(b, o); o += 8;
  const entries = readU64(b, o); o += 8;
  const flags = b[o++] as number;
  const n = readU32(b, o); o += 4;
  const touched = new Map<number, Touched>();
  for (let i = 0; i < n; i++) {
    const no = readU32(b, o); o += 4;
    const seq = readU64(b, o); o += 8;
    const hash8 = b.slice(o, o + 8); o += 8;
    const hasCatalog = b[o++] === 1;
    const c = { o };
    const catalog = hasCatalog ? readBytes(b, c).slice() : undefined;
    o = c.o;
    touched.set(no, { seq, hash8, catalog });
  }
  const dn = readU32(b, o); o += 4;
  const damage: StoredDamage[] = [];
  for (let i = 0; i < dn; i++) {
    const no = readU32(b, o); o += 4;
    const kind = DAMAGE_KINDS[b[o++] as number] ?? 'checksum';
    const seq = readU64(b, o); o += 8;
    const at = readU64(b, o); o += 8;
    const c = { o };
    const len = readVaruint(b, c);
    const message = fromUtf8(b.subarray(c.o, c.o + len));
    o = c.o + len;
    damage.push({ no, kind: kind as DamageKind, seq, at, message });
  }
  if (o !== b.byteLength) throw new RangeError('trailing bytes in the seal');
  return { counter, lastLsn, entries, flags, touched, damage };
}

export interface SealRead {
  /** the seal, undefined when there is none or it is unreadable */
  seal: Seal | undefined;
  /** a seal file exists but does not parse (damage to the seal itself) */
  unreadable: boolean;
}

export async function readSeal(dir: string): Promise<SealRead> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(join(dir, SEAL_FILE));
  } catch {
    return { seal: undefined, unreadable: false };
  }
  try {
    return { seal: decodeSeal(bytes), unreadable: false };
  } catch {
    return { seal: undefined, unreadable: true };
  }
}

/** Replaces the seal: tmp file, fdatasync, rename (a crash leaves the old or the new one). */
export async function writeSeal(dir: string, s: Seal): Promise<void> {
  const bytes = encodeSeal(s);
  const tmp = join(dir, SEAL_TMP);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, SEAL_FILE));
}

export async function removeSeal(dir: string): Promise<void> {
  await rm(join(dir, SEAL_FILE), { force: true });
  await rm(join(dir, SEAL_TMP), { force: true });
}
