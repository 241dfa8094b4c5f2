/**
 * Copies of the catalog and aux records (keys.ts: `c` and `a`, at the far end of the keyspace
 * from `C` and `A`, written in the same batch). LevelDB stores neighbouring keys in one block, so
 * without them a single damaged block at the start of the first table takes every profile's name
 * (their ids would answer 404 and be free to be created again) or every token and peer (no one
 * could sign in, and the node would not know the peers that could repair it).
 *
 * At open, when a salvaged table's lost key range covers one side, or catalog records are
 * unreadable or missing, `healCopies` restores each side from the other:
 *   - the side in a lost range is taken from the other side as a whole (a dropped block can let an
 *     OLDER value of a key show through from a lower level, or bring back a deleted record: only
 *     the intact side knows the current set);
 *   - otherwise record by record: a missing or unreadable record is taken from its copy, and a
 *     missing or different copy from its record.
 * Logs written before the copies existed get them at their first open (`META_MIRRORS` marks it).
 */
import { getPoint, type Db, writeOps, type Op } from './db.js';
import { META_MIRRORS, u32Bytes } from './format.js';
import { metaKey, P_AUX, P_AUX_COPY, P_CATALOG, P_CATALOG_COPY, prefixRange } from './keys.js';
import { unframe } from './records.js';
import type { LostRange } from './salvage.js';


async function scan(db: Db, prefix: number): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const it = db.iterator(prefixRange(prefix));
  try {
    for (let batch = await it.nextv(4096); batch.length > 0; batch = await it.nextv(4096)) {
      for (const [k, v] of batch) out.set(Buffer.from(k.subarray(1)).toString('latin1'), v);
    }
  } finally {
    await it.close();
  }
  return out;
}

/** A record whose frame (crc) holds. */
function intact(v: Uint8Array | undefined): boolean {
  if (v === undefined) return false;
  try {
    unframe(v, 0, 'record', {});
    return true;
  } catch {
    return false;
  }
}

/** Whether any lost range covers some key with this prefix byte. */
export function coversPrefix(ranges: readonly LostRange[], prefix: number): boolean {
  const lo = Uint8Array.of(prefix);
  const hi = Uint8Array.of(prefix + 1);
  return ranges.some((r) => (r.before === undefined || Buffer.compare(lo, r.before) < 0) && (r.after === undefined || Buffer.compare(hi, r.after) > 0));
}

export interface HealResult {
  /** catalog records restored from their copies (stream numbers) */
  catalog: number[];
  /** aux records restored (or removed) from their copies */
  aux: number;
  /** copies written or corrected from their records */
  copies: number;
  /** families where both sides were in lost ranges: nothing to restore from */
  bothLost: ('catalog' | 'aux')[];
}

/** Restores one family (records under `main`, copies under `copy`); returns the ops and counts. */
async function family(db: Db, main: number, copy: number, lost: readonly LostRange[], mirrored: boolean): Promise<{ ops: Op[]; restored: string[]; copies: number; bothLost: boolean }> {
  const [mains, copies] = await Promise.all([scan(db, main), scan(db, copy)]);
  // before the copies exist (an older log) only the record-by-record way applies
  const mainLost = coversPrefix(lost, main) && mirrored;
  const copyLost = coversPrefix(lost, copy) && mirrored;
  const ops: Op[] = [];
  const restored: string[] = [];
  let fixedCopies = 0;
  const key = (prefix: number, k: string): Uint8Array => {
    const out = new Uint8Array(1 + k.length);
    out[0] = prefix;
    out.set(Buffer.from(k, 'latin1'), 1);
    return out;
  };
  if (mainLost && !copyLost) {
    // the copies are the truth: every record as its copy, nothing else
    for (const [k, v] of copies) {
      if (!intact(v)) continue;
      const m = mains.get(k);
      if (m === undefined || !Buffer.from(m).equals(Buffer.from(v))) {
        ops.push({ type: 'put', key: key(main, k), value: v });
        restored.push(k);
      }
    }
    for (const k of mains.keys()) {
      if (!copies.has(k)) {
        ops.push({ type: 'del', key: key(main, k) });
        restored.push(k);
      }
    }
    return { ops, restored, copies: 0, bothLost: false };
  }
  if (copyLost && !mainLost) {
    for (const [k, v] of mains) {
      const c = copies.get(k);
      if (intact(v) && (c === undefined || !Buffer.from(c).equals(Buffer.from(v)))) {
        ops.push({ type: 'put', key: key(copy, k), value: v });
        fixedCopies++;
      }
    }
    for (const k of copies.keys()) {
      if (!mains.has(k)) {
        ops.push({ type: 'del', key: key(copy, k) });
        fixedCopies++;
      }
    }
    return { ops, restored, copies: fixedCopies, bothLost: false };
  }
  // record by record (also when both sides were hit: what one side still holds intact is kept)
  for (const [k, v] of copies) {
    const m = mains.get(k);
    if (!intact(m) && intact(v)) {
      ops.push({ type: 'put', key: key(main, k), value: v });
      restored.push(k);
    }
  }
  for (const [k, v] of mains) {
    const c = copies.get(k);
    if (intact(v) && (c === undefined || !Buffer.from(c).equals(Buffer.from(v)))) {
      ops.push({ type: 'put', key: key(copy, k), value: v });
      fixedCopies++;
    }
  }
  return { ops, restored, copies: fixedCopies, bothLost: coversPrefix(lost, main) && coversPrefix(lost, copy) };
}

/** See the module comment. One synced batch; marks the log as mirrored. */
export async function healCopies(db: Db, lost: readonly LostRange[], mirrored: boolean): Promise<HealResult> {
  const cat = await family(db, P_CATALOG, P_CATALOG_COPY, lost, mirrored);
  const aux = await family(db, P_AUX, P_AUX_COPY, lost, mirrored);
  const ops = [...cat.ops, ...aux.ops, { type: 'put' as const, key: metaKey(META_MIRRORS), value: u32Bytes(1) }];
  await writeOps(db, ops, true);
  return {
    catalog: cat.restored.map((k) => Buffer.from(k, 'latin1').readUInt32BE(0)),
    aux: aux.restored.length,
    copies: cat.copies + aux.copies,
    bothLost: [...(cat.bothLost ? ['catalog' as const] : []), ...(aux.bothLost ? ['aux' as const] : [])],
  };
}

/** Whether every record already has its copy (a log written by this code, or healed once). */
export async function isMirrored(db: Db): Promise<boolean> {
  return (await getPoint(db, metaKey(META_MIRRORS))) !== undefined;
}
