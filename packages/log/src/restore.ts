/**
 * restoreLog(): replays a backup into an EMPTY data dir. Every record's crc, every entry's
 * hash and chain, the counts and the whole-file sha-256 are checked while streaming; each
 * stream stops at the until bound (lsn or ts). Entries go in large unsynced batches, one synced
 * write at the end makes them durable; snapshots and views are built on the way by the same
 * code as rebuild(). On any failure the target dir is left as it was (removed, or emptied).
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EMPTY, equalBytes, fromUtf8, readU32, readU64, ZERO_HASH } from './bytes.js';
import {
  corrupt, parseCounts, parseHeader, parseNamed, RecordReader, R_AUX, R_CATALOG, R_ENTRY, R_HEADER, R_SECTION, R_TRAILER,
  type BackupHeader,
} from './backup-format.js';
import { plainCodec } from './codec.js';
import { type Db, type Op, openLevel, writeOps } from './db.js';
import { DerivedBuilder } from './derived.js';
import { HashVerifier } from './hash-thread.js';
import { type SnapshotChain, SnapshotThread } from './snapshot-thread.js';
import { isValidStreamName } from './validate.js';
import { invalid, logError } from './errors.js';
import { FORMAT_VERSION, newMetaOps } from './format.js';
import { auxKey, entryKey, P_AUX_COPY, P_CATALOG, P_CATALOG_COPY, P_HEAD, P_VIEW, snapshotKey, streamKey } from './keys.js';
import { defaultSnapshotPolicy } from './policy.js';
import { decodePayload, encodeHead, type HeadRecord, parseEntry, payloadBody, unframe } from './records.js';
import type { LastEntryInfo, LogCodec, RestoreOptions, RestoreReport } from './types.js';

const FLUSH_OPS = 16_384;

/** Wraps what the caller's codec factory threw, so it passes the replay's "anything else is corrupt" rule. */
class CodecFactoryError extends Error {
  constructor(readonly inner: unknown) {
    super('codec factory failed');
  }
}
const MAX_DERIVED_IN_FLIGHT = 64;

async function prepareDir(dir: string): Promise<boolean> {
  try {
    const names = await readdir(dir);
    if (names.length > 0) throw logError('LOG_RESTORE_NOT_EMPTY', `restore target ${dir} is not empty`, { details: { dir } });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      await mkdir(dir, { recursive: true });
      return false;
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') throw logError('LOG_RESTORE_NOT_EMPTY', `restore target ${dir} is a file`, { details: { dir } });
    throw err;
  }
}

async function resetDir(dir: string, existed: boolean): Promise<void> {
  if (!existed) {
    await rm(dir, { recursive: true, force: true });
    return;
  }
  for (const name of await readdir(dir).catch(() => [] as string[])) await rm(join(dir, name), { recursive: true, force: true });
}

function checkOptions(o: RestoreOptions): void {
  if (typeof o !== 'object' || o === null) throw invalid('options must be an object');
  if (typeof o.dir !== 'string' || o.dir.length === 0) throw invalid('dir must be a non-empty string', { field: 'dir' });
  if (o.input === null || typeof o.input !== 'object' || typeof (o.input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function') {
    throw invalid('input must be an async iterable of bytes (e.g. fs.createReadStream)', { field: 'input' });
  }
  for (const f of ['untilLsn', 'untilTs'] as const) {
    const v = o[f];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw invalid(`${f} must be a non-negative integer`, { field: f });
  }
  if (o.materialize !== undefined && typeof o.materialize !== 'function') throw invalid('materialize must be a function', { field: 'materialize' });
}

interface StreamState {
  no: number;
  seq: number;
  hash: Uint8Array;
  lsn: number;
  ts: number;
  stopped: boolean;
  builder: DerivedBuilder;
  /** plaintext payload of the last restored entry (actor/origin for the materializer) */
  lastPlain: Uint8Array;
}

/** Restores a backup into `dir` (which must be missing or empty). */
export async function restoreLog(opts: RestoreOptions): Promise<RestoreReport> {
  const start = performance.now();
  checkOptions(opts);
  const existed = await prepareDir(opts.dir);
  let db: Db | undefined;
  const thread = new SnapshotThread();
  const hashes = new HashVerifier(({ stream, seq }) => corrupt(`entry ${stream}/${seq} does not match its hash`));
  try {
    const report = await replay(opts, async () => (db = await openLevel(opts.dir)), () => thread.chain(), hashes, start);
    await db?.close();
    db = undefined;
    return report;
  } catch (err) {
    await db?.close().catch(() => undefined);
    await resetDir(opts.dir, existed);
    throw err;
  } finally {
    await thread.close();
    await hashes.close();
  }
}

async function replay(opts: RestoreOptions, open: () => Promise<Db>, newChain: () => SnapshotChain, hashes: HashVerifier, start: number): Promise<RestoreReport> {
  const reader = new RecordReader();
  const policy = opts.snapshotPolicy ?? defaultSnapshotPolicy;
  const sections = new Map<string, Uint8Array>();
  const catalog = new Map<number, Uint8Array>();
  const streams = new Map<number, StreamState>();
  let header: BackupHeader | undefined;
  let codec: LogCodec | undefined;
  let db: Db | undefined;
  let ops: Op[] = [];
  let entries = 0;
  let skipped = 0;
  let aux = 0;
  let seen = 0;
  let trailer = false;
  let span: RestoreReport['span'];
  let current: StreamState | undefined;
  const every = 10_000;

  // one write in flight while the next batch is parsed (LevelDB serializes writes anyway)
  let writing: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (ops.length === 0 || db === undefined) return;
    const batch = ops;
    ops = [];
    await writing;
    writing = writeOps(db, batch, false);
    writing.catch(() => undefined); // surfaced by the next flush or the final await
  };
  const ready = async (): Promise<Db> => {
    if (db !== undefined) return db;
    if (header === undefined) throw corrupt('records before the header');
    const given = opts.codec;
    try {
      codec = typeof given === 'function' ? await given({ codecId: header.codecId, sections }) : given ?? plainCodec;
    } catch (err) {
      // the caller's own failure (a wrong passphrase, a missing key): its code, not "corrupt"
      throw new CodecFactoryError(err);
    }
    if (codec?.id !== header.codecId) {
      throw logError('LOG_CODEC_MISMATCH', `the backup was written with codec '${header.codecId}', restore was given '${codec?.id}'`, {
        details: { stored: header.codecId, given: codec?.id },
      });
    }
    db = await open();
    return db;
  };
  // derived records are built on a worker thread while the replay goes on; at most
  // MAX_DERIVED_IN_FLIGHT results are outstanding (bounded memory)
  const inFlight: Promise<void>[] = [];
  const derived = async (p: Promise<void>): Promise<void> => {
    // observed now: when the replay fails early nobody awaits it, and the snapshot thread's
    // close then rejects it (it must not become an unhandled rejection that kills the process)
    p.catch(() => undefined);
    inFlight.push(p);
    if (inFlight.length > MAX_DERIVED_IN_FLIGHT) await inFlight.shift();
  };
  const finishStream = async (s: StreamState | undefined): Promise<void> => {
    const materialize = opts.materialize;
    if (s === undefined) return;
    const newest = s.builder.newest();
    if (newest !== undefined) {
      const no = s.no;
      await derived(newest.then((r) => {
        ops.push({ type: 'put', key: snapshotKey(no, r.seq), value: r.value });
      }));
    }
    if (s.seq === 0 || materialize === undefined) {
      s.builder.end();
      return;
    }
    const { no, seq, lsn, ts, lastPlain } = s;
    const info = (): LastEntryInfo => {
      const f = decodePayload(lastPlain);
      return { seq, lsn, ts, actor: f.actor, origin: f.origin };
    };
    await derived(s.builder.view(materialize, info).then((view) => {
      if (view !== undefined) ops.push({ type: 'put', key: streamKey(P_VIEW, no), value: view });
    }));
  };
  const nameOf = (no: number): string => {
    const v = catalog.get(no);
    if (v === undefined || codec === undefined) throw corrupt(`entries of stream ${no} come without its catalog record`);
    try {
      const name = fromUtf8(codec.decode({ kind: 'catalog', stream: no, seq: 0 }, unframe(v, 0, 'catalog', {}).stored));
      if (!isValidStreamName(name)) throw new Error('invalid stream name');
      return name;
    } catch (err) {
      throw corrupt(`catalog record ${no} is unreadable`, err);
    }
  };

  for await (const batch of reader.batches(opts.input)) {
    for (const { type, payload } of batch) {
      try {
        if (type === R_HEADER) {
          if (header !== undefined) throw corrupt('two headers');
          header = parseHeader(payload);
          if (header.logFormat !== FORMAT_VERSION) {
            throw logError('LOG_FORMAT_UNSUPPORTED', `the backup holds storage format ${header.logFormat}; this code restores format ${FORMAT_VERSION}`, {
              details: { format: header.logFormat },
            });
          }
        } else if (type === R_SECTION) {
          if (header === undefined || db !== undefined) throw corrupt('section out of place');
          const { name, rest } = parseNamed(payload);
          sections.set(fromUtf8(name), new Uint8Array(rest));
        } else if (type === R_AUX) {
          if (db === undefined) await ready();
          const { name, rest } = parseNamed(payload);
          unframe(rest, 0, 'aux record', {});
          ops.push({ type: 'put', key: auxKey(name), value: rest });
          ops.push({ type: 'put', key: auxKey(name, P_AUX_COPY), value: rest });
          aux++;
          if (ops.length >= FLUSH_OPS) await flush();
        } else if (type === R_CATALOG) {
          if (db === undefined) await ready();
          if (payload.byteLength < 5) throw corrupt('short catalog record');
          const no = readU32(payload, 0);
          const value = payload.subarray(4);
          unframe(value, 0, `catalog record ${no}`, {});
          if (catalog.has(no)) throw corrupt(`stream ${no} listed twice`);
          catalog.set(no, value);
        } else if (type === R_ENTRY) {
          if (db === undefined) await ready();
          if (payload.byteLength < 12) throw corrupt('short entry record');
          const no = readU32(payload, 0);
          const seq = readU64(payload, 4);
          const value = payload.subarray(12);
          seen++;
          if (current?.no !== no) {
            if (streams.has(no)) throw corrupt(`entries of stream ${no} are not contiguous`);
            if (current !== undefined) await finishStream(current);
            current = { no, seq: 0, hash: ZERO_HASH, lsn: 0, ts: 0, stopped: false, lastPlain: EMPTY, builder: new DerivedBuilder(policy, codec as LogCodec, newChain, no, nameOf(no), true) };
            streams.set(no, current);
          }
          const s = current;
          if (seq !== s.seq + 1 && !s.stopped) throw corrupt(`stream ${no} jumps from seq ${s.seq} to ${seq}`);
          let e;
          try {
            e = parseEntry(value);
          } catch (err) {
            throw corrupt(`entry ${no}/${seq} is malformed`, err);
          }
          // the hash itself is recomputed on the hash thread (awaited before the final write)
          if (span === undefined) span = { firstLsn: e.lsn, lastLsn: e.lsn, firstTs: e.ts, lastTs: e.ts };
          else {
            if (e.lsn < span.firstLsn) span.firstLsn = e.lsn;
            if (e.lsn > span.lastLsn) span.lastLsn = e.lsn;
            if (e.ts < span.firstTs) span.firstTs = e.ts;
            if (e.ts > span.lastTs) span.lastTs = e.ts;
          }
          const wait = hashes.add(no, seq, value);
          if (wait !== undefined) await wait;
          if (s.stopped || (opts.untilLsn !== undefined && e.lsn > opts.untilLsn) || (opts.untilTs !== undefined && e.ts > opts.untilTs)) {
            s.stopped = true;
            skipped++;
          } else {
            if (!equalBytes(e.prevHash, s.hash)) throw corrupt(`entry ${no}/${seq} does not link to its predecessor`);
            // decode only what derived records need: the body (not for opaque '#' streams); the
            // actor/origin strings only for the last entry, when the view is materialized
            const plain = s.builder.opaque ? EMPTY : (codec as LogCodec).decode({ kind: 'entry', stream: no, seq }, e.stored);
            const body = s.builder.opaque ? EMPTY : payloadBody(plain);
            const snap = s.builder.add({ seq, hash: e.hash, body, storedBytes: e.stored.byteLength });
            s.lastPlain = plain;
            ops.push({ type: 'put', key: entryKey(no, seq), value });
            // only the newest snapshot point of a stream is written (finishStream): a pending step here
            // is a span applied on the snapshot thread, awaited (bounded) like any derived record
            if (snap !== undefined) await derived(snap.then(() => undefined));
            s.seq = seq;
            s.hash = e.hash;
            s.lsn = e.lsn;
            s.ts = e.ts;
            entries++;
          }
          if (seen % every === 0) opts.onProgress?.({ done: seen, total: header?.entries ?? seen });
          if (ops.length >= FLUSH_OPS) await flush();
        } else if (type === R_TRAILER) {
          if (header === undefined) throw corrupt('trailer before the header');
          const { counts, digest } = parseCounts(payload);
          if (!equalBytes(digest, reader.digest())) throw corrupt('sha-256 mismatch');
          if (counts.entries !== seen || counts.aux !== aux || counts.sections !== sections.size || counts.streams !== catalog.size) {
            throw corrupt('record counts do not match the trailer');
          }
          trailer = true;
        } else {
          throw corrupt(`unknown record type ${type}`);
        }
      } catch (err) {
        if (err instanceof CodecFactoryError) throw err.inner;
        const code = (err as { code?: string }).code;
        if (typeof code === 'string' && code.startsWith('LOG_') && code !== 'LOG_CORRUPT') throw err;
        // a codec decode failure or a malformed payload inside an intact record
        throw corrupt(String((err as Error)?.message ?? err), err);
      }
    }
  }
  if (!trailer || header === undefined) throw corrupt('truncated (no trailer)');
  let d: Db;
  try {
    d = await ready();
  } catch (err) {
    throw err instanceof CodecFactoryError ? err.inner : err;
  }
  if (current !== undefined) await finishStream(current);
  try {
    await Promise.all(inFlight);
  } catch (err) {
    // entries that hash-check but are not Yjs updates: the backup is not a profilesync log
    throw corrupt(String((err as Error)?.message ?? err), err);
  }
  const c = codec as LogCodec;
  let lastLsn = 0;
  let restoredStreams = 0;
  for (const s of streams.values()) {
    if (s.seq === 0) continue;
    restoredStreams++;
    lastLsn = Math.max(lastLsn, s.lsn);
    const head: HeadRecord = { seq: s.seq, lsn: s.lsn, ts: s.ts, hash: s.hash };
    ops.push({ type: 'put', key: streamKey(P_HEAD, s.no), value: encodeHead(head) });
    ops.push({ type: 'put', key: streamKey(P_CATALOG, s.no), value: catalog.get(s.no) as Uint8Array });
    ops.push({ type: 'put', key: streamKey(P_CATALOG_COPY, s.no), value: catalog.get(s.no) as Uint8Array });
  }
  await hashes.finish();
  await flush();
  await writing;
  // the meta records go last, in the one synced write: a dir without them is not a log
  await writeOps(d, newMetaOps(FORMAT_VERSION, c.id, header.createdAt).map((o) => ({ type: 'put' as const, ...o })), true);
  opts.onProgress?.({ done: seen, total: seen });
  return {
    streams: restoredStreams, entries, skipped, aux, sections, codecId: c.id, lastLsn, span, durationMillis: performance.now() - start,
  };
}
