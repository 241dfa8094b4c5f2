/**
 * openLog(): the EventLog. Public methods validate (LOG_INVALID_ARGUMENT, LOG_CLOSED,
 * LOG_STREAM_NOT_FOUND) and delegate to the primitives: writer (group commit), reader
 * (verified reads), snapshots, verify, rebuild, aux.
 */
import type { BackupSource } from './backup.js';
import { asU8 } from './bytes.js';
import * as aux from './aux.js';
import { plainCodec } from './codec.js';
import { type Db, DbHolder, getPoint, openLevel } from './db.js';
import { type ManifestRebuild, rebuildManifest } from './manifest.js';
import { Emitter } from './emitter.js';
import { invalid, logError, readFailure } from './errors.js';
import { META_REBUILT, META_SEALED, prepareFormat, u32Bytes, u64Bytes } from './format.js';
import { metaKey, P_AUX, P_AUX_COPY, P_CATALOG, P_CATALOG_COPY, P_ENTRY, P_HEAD, P_VIEW, streamKey } from './keys.js';
import { coversPrefix, type HealResult, healCopies, isMirrored } from './mirrors.js';
import { defaultSnapshotPolicy } from './policy.js';
import { decodeEntry, iterateRaw, type ReadContext, resolveRange } from './reader.js';
import { rebuildStream } from './rebuild.js';
import { readViewSeq, unframe, VIEW_HEADER_BYTES } from './records.js';
import { SnapshotThread } from './snapshot-thread.js';
import { SnapshotWorker } from './snapshot-worker.js';
import { loadState } from './snapshots.js';
import { StreamTable } from './table.js';
import { checkTablesWithSizes, type TableDamage } from './tables.js';
import { type LostRange, salvageTable } from './salvage.js';
import { readFile } from 'node:fs/promises';
import { DamageRegistry, type StoredDamage } from './damage.js';
import { checkSeal, Sealer } from './sealer.js';
import { FLAG_CLEAN, readSeal, SEAL_FILE } from './seal.js';
import { currentManifest, encodeOpenIndex, OPEN_INDEX_KEY, type OpenIndex, takeOpenIndex } from './open-index.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type {
  AppendAck, AppendInput, DamageReport, EntryRecord, EventLog, LoadedState, LogCodec, LogEventName, LogEvents, LogInfo, Materializer,
  OpenLogOptions, ReadRange, SnapshotPolicy, StreamHead, VerifyReport,
} from './types.js';
import { checkAppendInput, checkAuxName, checkAuxValue, checkRange, checkStream, isOpaqueStream } from './validate.js';
import { verifyLog } from './verify.js';
import { GroupCommitWriter } from './writer.js';


function checkOptions(o: unknown): OpenLogOptions {
  if (typeof o !== 'object' || o === null) throw invalid('options must be an object');
  const opts = o as OpenLogOptions;
  if (typeof opts.dir !== 'string' || opts.dir.length === 0) throw invalid('dir must be a non-empty string', { field: 'dir' });
  const c = opts.codec;
  if (c !== undefined && (typeof c !== 'object' || typeof c.id !== 'string' || c.id.length === 0 || typeof c.encode !== 'function' || typeof c.decode !== 'function')) {
    throw invalid('codec must have an id, encode and decode', { field: 'codec' });
  }
  if (c?.encodeInto !== undefined && (typeof c.encodeInto !== 'function' || !Number.isSafeInteger(c.overhead) || (c.overhead as number) < 0)) {
    throw invalid('codec.encodeInto needs a function and a non-negative integer codec.overhead', { field: 'codec' });
  }
  if (c?.batchSealer !== undefined && (typeof c.batchSealer !== 'function' || !Number.isSafeInteger(c.overhead) || (c.overhead as number) < 0)) {
    throw invalid('codec.batchSealer needs a function and a non-negative integer codec.overhead', { field: 'codec' });
  }
  if (opts.clock !== undefined && typeof opts.clock !== 'function') throw invalid('clock must be a function', { field: 'clock' });
  if (opts.snapshotPolicy !== undefined && typeof opts.snapshotPolicy !== 'function') throw invalid('snapshotPolicy must be a function', { field: 'snapshotPolicy' });
  const r = opts.restStates;
  if (r !== undefined && r !== false) {
    const ms = (v: unknown) => v === undefined || (Number.isSafeInteger(v) && (v as number) >= 0);
    if (typeof r !== 'object' || r === null || !ms(r.quietMs) || !ms(r.closeBudgetMs)) {
      throw invalid('restStates must be false or { quietMs?, closeBudgetMs? } (non-negative integers, ms)', { field: 'restStates' });
    }
  }
  const m = opts.maxBatchEntries;
  if (m !== undefined && (!Number.isSafeInteger(m) || m < 1)) throw invalid('maxBatchEntries must be a positive integer', { field: 'maxBatchEntries' });
  return opts;
}

/** Opens (creating when missing) the log in `options.dir`. */
export async function openLog(options: OpenLogOptions): Promise<EventLog> {
  const started = performance.now();
  const opts = checkOptions(options);
  const codec = opts.codec ?? plainCodec;
  const clock = opts.clock ?? Date.now;
  const check = opts.checkTables !== false;
  // before LevelDB opens (which starts a new MANIFEST): an open index is current only for this one
  const manifestAtOpen = currentManifest(opts.dir);
  let rebuilt: ManifestRebuild | undefined;
  let found = check ? await tableDamage(opts.dir) : { damage: [], lost: [], manifest: undefined };
  if (found.manifest !== undefined) {
    // CURRENT or the MANIFEST cannot be trusted: rebuild it from the files (manifest.ts)
    rebuilt = await rebuildManifest(opts.dir, found.manifest);
    found = await tableDamage(opts.dir);
  }
  let db: Db;
  try {
    db = await openLevel(opts.dir, opts.wrapDb);
  } catch (err) {
    // LevelDB refuses what the checks passed: the same rebuild, once
    if (!check || rebuilt !== undefined || (err as { code?: string }).code !== 'LOG_CORRUPT') throw err;
    rebuilt = await rebuildManifest(opts.dir, `LevelDB refused to open it: ${String((err as Error).cause ?? (err as Error).message)}`);
    found = await tableDamage(opts.dir);
    db = await openLevel(opts.dir, opts.wrapDb);
  }
  try {
    // the open index is taken (read and deleted) before any other write of this open (open-index.ts)
    const index = await takeOpenIndex(db, codec);
    // lost format records are written again only in a dir that carries this log's commit seal (never in a foreign DB)
    const ours = opts.seal !== false && existsSync(join(opts.dir, SEAL_FILE));
    const { formatVersion, createdAt, recovered } = await prepareFormat(db, opts.dir, codec, clock, opts.migrations ?? new Map(), ours);
    // catalog and aux records a damaged block took come back from their copies (mirrors.ts)
    const lost = [...(rebuilt?.lost ?? []), ...found.lost];
    const ranges = lost.flatMap((l) => l.ranges);
    const table = new StreamTable();
    const fromIndex = index !== undefined && ours && lost.length === 0 && rebuilt === undefined && recovered === undefined
      && index.manifest === manifestAtOpen && await indexIsCurrent(opts.dir, index, formatVersion);
    if (fromIndex) table.adopt(index);
    else await table.load(db, codec);
    const mirrored = await isMirrored(db);
    let heal: HealResult | undefined;
    if (!mirrored || [P_CATALOG, P_CATALOG_COPY, P_AUX, P_AUX_COPY].some((p) => coversPrefix(ranges, p))
      || table.problems.some((p) => p.kind === 'catalog') || table.unnamedHeads().length > 0) {
      heal = await healCopies(db, ranges, mirrored);
      if (heal.catalog.length > 0) await table.load(db, codec);
    }
    const holder = new DbHolder(opts.dir, db, opts.wrapDb);
    const log = new Log(opts, holder, table, codec, clock, formatVersion, createdAt);
    if (heal !== undefined && mirrored) log.noteHealed(heal);
    // names (and tokens, peers) stay known unless a record and its copy were both lost, or the
    // copies did not exist yet
    const known = (main: number, copy: number) => mirrored ? !(coversPrefix(ranges, main) && coversPrefix(ranges, copy)) : !coversPrefix(ranges, main);
    log.markLost(lost, { catalog: known(P_CATALOG, P_CATALOG_COPY), aux: known(P_AUX, P_AUX_COPY) });
    if (recovered !== undefined) log.repairedAtOpen.push({ no: 0, kind: 'meta', seq: 0, at: clock(), message: recovered });
    if (rebuilt !== undefined) log.noteRebuilt(rebuilt);
    await log.checkAtOpen(db, opts.seal !== false);
    // after a rebuild every chain is verified: what a lost table took shows there
    if (rebuilt !== undefined) await log.verify();
    log.openedFrom = fromIndex ? 'open-index' : 'scan';
    log.openMillis = performance.now() - started;
    return log;
  } catch (err) {
    await db.close().catch(() => undefined);
    throw readFailure(err, `the catalog and heads in ${opts.dir}`, { dir: opts.dir });
  }
}

/** An open index is current when the seal found is the clean one its close wrote (same counter and lastLsn). */
async function indexIsCurrent(dir: string, index: OpenIndex, formatVersion: number): Promise<boolean> {
  if (index.formatVersion !== formatVersion) return false;
  const { seal } = await readSeal(dir);
  return seal !== undefined && (seal.flags & FLAG_CLEAN) !== 0 && seal.counter === index.sealCounter && seal.lastLsn === index.lastLsn;
}

/**
 * Checks CURRENT, the MANIFEST and the table files before LevelDB reads them (see tables.ts).
 * A table LevelDB cannot read safely is salvaged; `manifest` says why LevelDB's metadata cannot
 * be trusted (the caller rebuilds it, then checks again). Damage must show twice: a compaction in
 * another process may be moving files while we read (that process holds the lock: the open then
 * fails with LOG_LOCKED).
 */
async function tableDamage(dir: string): Promise<{ damage: TableDamage[]; lost: { file: string; ranges: LostRange[] }[]; manifest: string | undefined }> {
  let { damage, sizes, manifest } = await checkTablesWithSizes(dir);
  if (damage.length > 0 || manifest !== undefined) {
    const second = await checkTablesWithSizes(dir);
    const again = new Set(second.damage.map((d) => `${d.file}@${d.offset}:${d.safe}`));
    damage = damage.filter((d) => again.has(`${d.file}@${d.offset}:${d.safe}`));
    manifest = second.manifest === undefined ? undefined : manifest;
  }
  if (manifest !== undefined) return { damage: [], lost: [], manifest };
  // a table LevelDB cannot read safely is salvaged (its intact blocks kept), never a node-wide refusal
  const lost: { file: string; ranges: LostRange[] }[] = [];
  for (const file of new Set(damage.filter((d) => !d.safe).map((d) => d.file))) {
    const size = sizes.get(file);
    let bytes: Uint8Array;
    try {
      bytes = size === undefined ? new Uint8Array(0) : await readFile(join(dir, file));
    } catch {
      bytes = new Uint8Array(0); // a missing table: rebuilt empty at its MANIFEST size
    }
    const fail = (why: string): never => {
      const first = damage.find((d) => d.file === file) as TableDamage;
      throw logError('LOG_CORRUPT', `the log in ${dir} is damaged (${first.message}) and the table cannot be salvaged (${why}): restore from a backup`, {
        details: { dir, file, offset: first.offset, damage: damage.map((d) => d.message) },
      });
    };
    if (size === undefined) fail('its size is unknown');
    try {
      lost.push({ file, ranges: await salvageTable(dir, file, bytes, size as number) });
    } catch (err) {
      fail(String((err as Error).message));
    }
  }
  return { damage, lost, manifest: undefined };
}

class Log implements EventLog {
  readonly dir: string;
  readonly formatVersion: number;
  readonly #createdAt: number;
  readonly #holder: DbHolder;
  readonly #table: StreamTable;
  readonly #codec: LogCodec;
  readonly #emitter = new Emitter<LogEvents>();
  readonly #ctx: ReadContext;
  readonly #writer: GroupCommitWriter;
  readonly #snapshots: SnapshotWorker;
  /** builds snapshots (background work and rebuild) off the main thread */
  readonly #thread = new SnapshotThread((err) => this.#emitter.emit('snapshot-thread-failed', { message: err.message }));
  readonly #policy: SnapshotPolicy;
  readonly #clock: () => number;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #damage: DamageRegistry;
  #sealer: Sealer | undefined;

  constructor(opts: OpenLogOptions, holder: DbHolder, table: StreamTable, codec: LogCodec, clock: () => number, formatVersion: number, createdAt: number) {
    this.dir = opts.dir;
    this.formatVersion = formatVersion;
    this.#createdAt = createdAt;
    this.#holder = holder;
    this.#table = table;
    this.#codec = codec;
    this.#clock = clock;
    this.#policy = opts.snapshotPolicy ?? defaultSnapshotPolicy;
    this.#ctx = { holder, codec, emitter: this.#emitter, snapshotSeqs: table.snapshotSeqs };
    this.#snapshots = new SnapshotWorker(this.#ctx, table, this.#policy, this.#thread, opts.restStates);
    this.#writer = new GroupCommitWriter({
      holder, table, codec, clock, emitter: this.#emitter, maxBatchEntries: opts.maxBatchEntries ?? 4096,
      onCommitted: (streams) => {
        this.#sealer?.committed(streams);
        this.#snapshots.notify(streams);
      },
    });
    this.#damage = new DamageRegistry((no, d) => {
      this.#emitter.emit('damaged', { stream: no === 0 ? '' : table.nameOf(no) ?? `#${no}`, seq: d.seq, kind: d.kind, message: d.message, at: d.at });
      this.#sealer?.damageChanged();
    });
    // a read that meets a bad entry marks its stream: it is never read as intact again
    this.#emitter.on('corruption', (b) => {
      if (b.kind === 'view' || b.kind === 'snapshot' || b.kind === 'aux') return;
      const no = this.#table.numberOf(b.stream);
      if (no !== undefined) this.#mark(no, b.kind, b.seq, b.message);
    });
  }

  #mark(no: number, kind: StoredDamage['kind'], seq: number, message: string): void {
    this.#damage.mark({ no, kind, seq, message, at: this.#clock() });
    this.#sealer?.damageChanged();
  }

  /**
   * Marks every stream with records in a salvaged table's lost key ranges (heads, entries and
   * catalog records are gone there; views and snapshots are derived and rebuilt). Aux or meta
   * records in a lost range are node-level findings.
   */
  markLost(lost: { file: string; ranges: LostRange[] }[], healed: { catalog: boolean; aux: boolean } = { catalog: false, aux: false }): void {
    const at = this.#clock();
    for (const { file, ranges } of lost) {
      if (ranges.length === 0) {
        this.repairedAtOpen.push({ no: 0, kind: 'table', seq: 0, at, message: `table ${file} was salvaged (a damaged index, filter or meta index block, or footer): every data block was intact, nothing is lost; the original is in lost/` });
        continue;
      }
      // stream numbers marked for this table (once each, however many of its ranges they overlap)
      const marked = new Set<number>();
      for (const r of ranges) {
        const msg = `table ${file} was salvaged: the records between ${r.after === undefined ? 'its start' : Buffer.from(r.after).toString('hex')} and ${r.before === undefined ? 'its end' : Buffer.from(r.before).toString('hex')} were in damaged blocks (the original is in lost/)`;
        // without the catalog's copies, streams whose every record was there are not known by name
        if (!healed.catalog) this.#damage.mark({ no: 0, kind: 'table', seq: 0, message: msg, at });
        const numbers = new Set<number>(this.#table.numbers());
        for (let no = 1; no < this.#table.nextNo; no++) numbers.add(no);
        for (const no of numbers) {
          // catalog records restored from their copies are not lost (healed.catalog)
          for (const prefix of healed.catalog ? [P_ENTRY, P_HEAD] : [P_CATALOG, P_ENTRY, P_HEAD]) {
            // a stream's records of this prefix span [prefix no 0.., prefix no ff..]: overlap with the range
            const lo = streamKey(prefix, no);
            const hi = new Uint8Array(14).fill(0xff);
            hi.set(lo, 0);
            const overlaps = (r.before === undefined || Buffer.compare(lo, r.before) < 0) && (r.after === undefined || Buffer.compare(hi, r.after) > 0);
            if (overlaps) {
              this.#damage.mark({ no, kind: 'table', seq: 0, message: msg, at });
              marked.add(no);
              break;
            }
          }
        }
        // aux records restored from their copies are not lost; lost format records are written
        // again by the open (prepareFormat: reported as repaired)
        if (!healed.aux && coversPrefix([r], P_AUX)) {
          this.#damage.mark({ no: 0, kind: 'table', seq: 0, message: `aux records (tokens, peers) may be lost: ${msg}`, at });
        }
      }
      if (healed.catalog) {
        this.repairedAtOpen.push({ no: 0, kind: 'table', seq: 0, at, message: `table ${file} was salvaged: the records in its damaged block(s) are gone; ${this.#describeMarked(marked)} (the original is in lost/)` });
      }
    }
  }

  /**
   * "N profile(s) with records there are marked damaged", counting profile streams only: the
   * node's reserved streams ('#audit', ...) are named apart, streams whose name is lost counted apart.
   */
  #describeMarked(marked: ReadonlySet<number>): string {
    let profiles = 0;
    const reserved: string[] = [];
    let unnamed = 0;
    for (const no of marked) {
      const name = this.#table.nameOf(no);
      if (name === undefined) unnamed++;
      else if (isOpaqueStream(name)) reserved.push(`'${name}'`);
      else profiles++;
    }
    const parts = [`${profiles} profile(s) with records there are marked damaged`];
    if (reserved.length > 0) parts.push(`and the node's own stream(s) ${reserved.sort().join(', ')}`);
    if (unnamed > 0) parts.push(`and ${unnamed} stream(s) whose name is lost`);
    return parts.join(', ');
  }

  /** What the open repaired itself (reported by damage().repaired; not damage that stays). */
  readonly repairedAtOpen: StoredDamage[] = [];
  /** set by openLog */
  openedFrom: LogInfo['openedFrom'] = 'scan';
  openMillis = 0;

  /** The MANIFEST was rebuilt at this open (manifest.ts): reported; tables that could not be kept are node findings. */
  noteRebuilt(r: ManifestRebuild): void {
    const at = this.#clock();
    const parts = [`LevelDB's MANIFEST was rebuilt from the table files (${r.reason}); the originals are in lost/`];
    if (r.abandoned.length > 0) parts.push(`unfinished table(s) no MANIFEST listed moved to lost/: ${r.abandoned.join(', ')}`);
    if (r.lost.length > 0) parts.push(`damaged table(s) salvaged: ${r.lost.map((l) => l.file).join(', ')}`);
    this.repairedAtOpen.push({ no: 0, kind: 'manifest', seq: 0, at, message: parts.join('; ') });
    for (const f of r.dropped) {
      this.#damage.mark({ no: 0, kind: 'table', seq: 0, at, message: `table ${f} could not be salvaged and is in lost/: its records are gone (which streams held them is unknown; every chain was verified)` });
    }
  }

  /** Catalog and aux records restored from their copies at this open (reported as repaired). */
  noteHealed(h: HealResult): void {
    const at = this.#clock();
    if (h.catalog.length > 0) this.repairedAtOpen.push({ no: 0, kind: 'catalog', seq: 0, at, message: `${h.catalog.length} catalog record(s) (profile names) restored from their copies` });
    if (h.aux > 0) this.repairedAtOpen.push({ no: 0, kind: 'aux', seq: 0, at, message: `${h.aux} aux record(s) (tokens, peers, settings) restored from their copies` });
    if (h.copies > 0) this.repairedAtOpen.push({ no: 0, kind: 'aux', seq: 0, at, message: `${h.copies} copies of catalog/aux records written again from the records` });
  }

  markNode(kind: StoredDamage['kind'], message: string): void {
    this.#damage.mark({ no: 0, kind, seq: 0, message, at: this.#clock() });
  }

  /** The open-time checks beyond the table files: heads and catalog, and the commit seal. */
  async checkAtOpen(db: unknown, seal: boolean): Promise<void> {
    const at = this.#clock();
    for (const p of this.#table.problems) {
      if (p.kind === 'head' && this.#table.broken.has(p.streamNo)) this.#damage.mark({ no: p.streamNo, kind: 'head', seq: p.seq, message: p.message, at });
      else if (p.kind === 'catalog') this.#damage.mark({ no: p.streamNo, kind: 'catalog', seq: 0, message: p.message, at });
    }
    if (!seal) return;
    const deps = { dir: this.dir, holder: this.#holder, table: this.#table, damage: this.#damage, codec: this.#codec, emitter: this.#emitter, clock: this.#clock };
    const check = await checkSeal(deps, db as never);
    // no seal file: a new log (or one from before seals, or restored), unless this log wrote one before
    const lost = check.first && (await getPoint(db as Db, metaKey(META_SEALED))) !== undefined;
    if (check.unreadable || lost) {
      // this open could not compare with the seal; a new one is written at once (not damage that stays)
      const what = lost ? `missing (${SEAL_FILE} was deleted, or the dir was copied without it)` : 'unreadable (damaged)';
      this.repairedAtOpen.push({ no: 0, kind: 'seal', seq: 0, at, message: `the commit seal was ${what} and is written again: a lost tail of the write-ahead log could not be ruled out for this open` });
    }
    this.#sealer = new Sealer(deps, check.counter);
    // every open is a checkpoint (LevelDB turned its WAL into a table): seal the state as found
    this.#sealer.damageChanged();
    if (check.first && !lost) {
      // the first seal of this log is on disk before the record that says one exists
      await this.#sealer.drain();
      await (db as Db).put(metaKey(META_SEALED), u32Bytes(1), { sync: true });
    }
  }

  #open(): void {
    if (this.#closed) throw logError('LOG_CLOSED', `the log in ${this.dir} is closed`, { details: { dir: this.dir } });
  }

  #damaged(no: number, name: string): Error {
    const findings = this.#damage.findings(no);
    const first = findings[0];
    return logError('LOG_STREAM_DAMAGED', `stream ${name} is damaged${first === undefined ? '' : ` (${first.kind}: ${first.message})`}; repair it from a peer or a backup`, {
      details: { stream: name, findings: findings.map((f) => ({ kind: f.kind, seq: f.seq, message: f.message })) },
    });
  }

  #stream(stream: unknown, allowDamaged = false): { no: number; name: string } {
    const name = checkStream(stream);
    const no = this.#table.numberOf(name);
    if (no !== undefined && !allowDamaged && this.#damage.has(no)) throw this.#damaged(no, name);
    if (no === undefined || this.#table.head(no) === undefined) {
      throw logError('LOG_STREAM_NOT_FOUND', `no stream named ${name}`, { details: { stream: name } });
    }
    return { no, name };
  }

  #checkWritable(input: AppendInput): void {
    const no = this.#table.numberOf(input.stream);
    if (no !== undefined && (this.#damage.has(no) || this.#table.broken.has(no))) throw this.#damaged(no, input.stream);
  }

  append(input: AppendInput): Promise<AppendAck> {
    // not an async function: one promise less per append on the hot path
    try {
      this.#open();
      this.#checkWritable(checkAppendInput(input));
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#writer.submitOne(input);
  }

  async appendMany(inputs: AppendInput[]): Promise<AppendAck[]> {
    this.#open();
    if (!Array.isArray(inputs)) throw invalid('appendMany takes an array');
    for (const i of inputs) this.#checkWritable(checkAppendInput(i));
    if (inputs.length === 0) return [];
    return this.#writer.submit(inputs);
  }

  streams(): string[] {
    this.#open();
    return this.#table.names();
  }

  head(stream: string): StreamHead | undefined {
    this.#open();
    const no = this.#table.numberOf(checkStream(stream));
    const h = no === undefined ? undefined : this.#table.head(no);
    return h === undefined ? undefined : { seq: h.seq, lsn: h.lsn, ts: h.ts, hash: new Uint8Array(h.hash) };
  }

  read(stream: string, range?: ReadRange): AsyncIterable<EntryRecord> {
    return this.#read(stream, range);
  }

  async *#read(stream: string, range?: ReadRange): AsyncGenerator<EntryRecord> {
    this.#open();
    const r = checkRange(range);
    const { no, name } = this.#stream(stream, r.allowDamaged === true);
    const head = this.#table.head(no);
    if (head === undefined || r.limit === 0) return;
    const { from, to } = await resolveRange(this.#ctx, no, name, head, r);
    if (from > to) return;
    let n = 0;
    for await (const { seq, parsed } of iterateRaw(this.#ctx, no, name, head, from, to, r.reverse === true)) {
      yield decodeEntry(this.#ctx, no, name, seq, parsed);
      if (r.limit !== undefined && ++n >= r.limit) return;
    }
  }

  damage(): DamageReport {
    this.#open();
    const report = this.#damage.report((no) => this.#table.nameOf(no));
    report.repaired = this.repairedAtOpen.map((d) => ({ stream: '', seq: 0, kind: d.kind, message: d.message, at: d.at }));
    return report;
  }

  isDamaged(stream: string): boolean {
    this.#open();
    const no = this.#table.numberOf(checkStream(stream));
    return no !== undefined && this.#damage.has(no);
  }

  async replaceStream(stream: string, inputs: Omit<AppendInput, 'stream'>[]): Promise<AppendAck[]> {
    this.#open();
    const name = checkStream(stream);
    if (!Array.isArray(inputs) || inputs.length === 0) throw invalid('replaceStream takes a non-empty array of entries');
    const full = inputs.map((i) => checkAppendInput({ ...i, stream: name }));
    const old = this.#table.numberOf(name);
    const acks = await this.#writer.submit(full, true);
    const now = this.#table.numberOf(name) as number;
    if (old !== undefined) {
      this.#damage.clear(old);
      this.#sealer?.damageChanged();
    }
    this.#emitter.emit('repaired', { stream: name, oldStream: old ?? 0, newStream: now, entries: acks.length });
    return acks;
  }

  async getView(stream: string, opts?: { current?: boolean }): Promise<Uint8Array | undefined> {
    this.#open();
    const { no, name } = this.#stream(stream);
    const headSeq = this.#table.head(no)?.seq;
    let v: Uint8Array | undefined;
    try {
      v = await this.#holder.run((db) => getPoint(db, streamKey(P_VIEW, no)));
    } catch (err) {
      throw readFailure(err, `the view of ${name}`, { stream: name });
    }
    if (v === undefined) return undefined;
    try {
      const { header, stored } = unframe(v, VIEW_HEADER_BYTES, `view of ${name}`, { stream: name });
      const seq = readViewSeq(header);
      // not the head's view: the caller replays (a view is derived data, never served for another state)
      if (opts?.current === true && seq !== headSeq) return undefined;
      return asU8(this.#codec.decode({ kind: 'view', stream: no, seq }, stored));
    } catch (err) {
      // derived data: report it and let the caller replay (loadState + materialize)
      this.#emitter.emit('corruption', { stream: name, seq: 0, kind: 'view', message: String((err as Error).message) });
      return undefined;
    }
  }

  async loadState(stream: string, opts?: { untilSeq?: number }): Promise<LoadedState> {
    this.#open();
    const until = opts?.untilSeq;
    if (until !== undefined && (!Number.isSafeInteger(until) || until < 1)) throw invalid('untilSeq must be an integer >= 1', { field: 'untilSeq' });
    const { no, name } = this.#stream(stream);
    if (isOpaqueStream(name)) throw invalid(`${name} is a reserved stream of opaque bodies, not a Yjs document`, { stream: name });
    const head = this.#table.head(no);
    if (head === undefined) throw logError('LOG_STREAM_NOT_FOUND', `no stream named ${name}`, { details: { stream: name } });
    return loadState(this.#ctx, no, name, head, Math.min(until ?? head.seq, head.seq));
  }

  async getAux(name: string): Promise<Uint8Array | undefined> {
    this.#open();
    return aux.getAux(this.#holder, this.#codec, checkAuxName(name));
  }

  async putAux(name: string, value: Uint8Array): Promise<void> {
    this.#open();
    const n = checkAuxName(name);
    const v = checkAuxValue(value);
    await this.#writer.ensureWritable(); // after a failed write, reopen first (or LOG_DISK_FULL)
    return aux.putAux(this.#holder, this.#codec, n, v);
  }

  async deleteAux(name: string): Promise<void> {
    this.#open();
    const n = checkAuxName(name);
    await this.#writer.ensureWritable();
    return aux.deleteAux(this.#holder, this.#codec, n);
  }

  async listAux(prefix: string): Promise<string[]> {
    this.#open();
    return aux.listAux(this.#holder, this.#codec, checkAuxName(prefix, true));
  }

  async verify(opts?: { onProgress?: (p: LogEvents['verify-progress']) => void }): Promise<VerifyReport> {
    this.#open();
    const report = await verifyLog(this.#ctx, (p) => {
      this.#emitter.emit('verify-progress', p);
      opts?.onProgress?.(p);
    }, (no) => this.#table.isRetired(no));
    const known = new Set(report.broken.map((b) => `${b.stream}|${b.seq}|${b.kind}`));
    for (const p of this.#table.problems) {
      if (p.kind === 'head' && this.#table.broken.has(p.streamNo) && !known.has(`${p.stream}|${p.seq}|${p.kind}`)) report.broken.push(p);
    }
    // what the registry knows that a walk cannot see (a rolled-back WAL tail, a lost batch)
    for (const d of this.#damage.all()) {
      const name = d.no === 0 ? '' : this.#table.nameOf(d.no) ?? `#${d.no}`;
      if (d.no !== 0 && this.#table.isRetired(d.no)) continue;
      if (!known.has(`${name}|${d.seq}|${d.kind}`)) {
        report.broken.push({ stream: name, seq: d.seq, kind: d.kind as never, message: d.message });
        known.add(`${name}|${d.seq}|${d.kind}`);
      }
    }
    // entry-level findings of current segments mark their streams; retired segments' findings no longer count
    const retiredNames = new Set<string>();
    let retired = 0;
    for (const no of this.#table.numbers()) {
      if (this.#table.isRetired(no)) {
        retired++;
        retiredNames.add(`#${no}`);
      }
    }
    report.broken = report.broken.filter((b) => !retiredNames.has(b.stream));
    for (const b of report.broken) {
      if (b.kind === 'view' || b.kind === 'snapshot' || b.kind === 'aux' || b.kind === 'key' || b.stream === '') continue;
      // an unreadable head record that open rebuilt from the last verified entry loses nothing
      if (b.kind === 'head' && b.seq === 0) continue;
      const no = this.#table.numberOf(b.stream);
      if (no !== undefined && !this.#damage.has(no)) this.#mark(no, b.kind, b.seq, b.message);
    }
    report.retired = retired;
    report.ok = report.broken.length === 0;
    return report;
  }

  async rebuild(materialize: Materializer, opts?: { onProgress?: (p: LogEvents['rebuild-progress']) => void }): Promise<{ streams: number; durationMillis: number }> {
    this.#open();
    if (materialize !== undefined && typeof materialize !== 'function') throw invalid('materialize must be a function');
    const start = performance.now();
    // damaged streams cannot be replayed: they wait for a repair (replaceStream); retired segments are not read
    const numbers = this.#table.current().filter((no) => !this.#damage.has(no));
    await this.#snapshots.pause();
    try {
      let done = 0;
      for (const no of numbers) {
        const name = this.#table.nameOf(no) as string;
        const newChain = () => this.#thread.chain();
        await this.#writer.exclusive(() => rebuildStream({ ctx: this.#ctx, table: this.#table, policy: this.#policy, newChain }, no, name, materialize));
        this.#snapshots.reset(no);
        const p = { done: ++done, total: numbers.length, stream: name };
        this.#emitter.emit('rebuild-progress', p);
        opts?.onProgress?.(p);
      }
      // one synced write makes the unsynced rebuild batches durable (LevelDB syncs its whole log)
      const at = u64Bytes(this.#clock());
      await this.#holder.run((db) => db.put(metaKey(META_REBUILT), at, { sync: true }));
    } finally {
      this.#snapshots.resume();
    }
    return { streams: numbers.length, durationMillis: performance.now() - start };
  }

  on<E extends LogEventName>(event: E, listener: (payload: LogEvents[E]) => void): () => void {
    return this.#emitter.on(event, listener);
  }

  info(): LogInfo {
    this.#open();
    return {
      dir: this.dir, formatVersion: this.formatVersion, codecId: this.#codec.id, streams: this.#table.names().length,
      lastLsn: this.#table.lastLsn, createdAt: this.#createdAt, openedFrom: this.openedFrom, openMillis: Math.round(this.openMillis * 10) / 10,
    };
  }

  /** Used by backupLog(): a LevelDB snapshot and the heads at the same instant. */
  async backupView(): Promise<Awaited<ReturnType<BackupSource['backupView']>>> {
    this.#open();
    const db = await this.#holder.current();
    let snap: { close(): Promise<void> } | undefined;
    try {
      snap = typeof db.snapshot === 'function' ? (db.snapshot() as unknown as { close(): Promise<void> }) : undefined;
    } catch {
      snap = undefined;
    }
    const streams = [];
    for (const no of this.#table.current()) {
      const h = this.#table.head(no);
      if (h !== undefined) streams.push({ no, name: this.#table.nameOf(no) as string, seq: h.seq, hash: h.hash, lsn: h.lsn });
    }
    return {
      db, options: snap === undefined ? {} : { snapshot: snap }, codecId: this.#codec.id, createdAt: this.#createdAt, streams,
      release: async () => {
        await snap?.close().catch(() => undefined);
      },
    };
  }

  async idle(): Promise<void> {
    this.#open();
    await this.#writer.drain();
    await this.#snapshots.drain();
    await this.#sealer?.drain();
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      await this.#writer.drain();
      // the rest states still due (bounded time), so the next run's cold loads read no tails
      await this.#snapshots.settle();
      await this.#snapshots.stop();
      await this.#thread.close();
      // the open index (every name and head in one record, for the next open), then the memtable
      // flush and the exact final seal: a stopped node's WAL is empty
      await this.#sealer?.close(async (db, counter) => {
        const manifest = currentManifest(this.dir);
        const ix = manifest === undefined ? undefined : this.#table.toOpenIndex(this.formatVersion, counter, manifest);
        if (ix !== undefined) await db.put(OPEN_INDEX_KEY, encodeOpenIndex(ix, this.#codec));
      });
      await this.#holder.close();
    })();
    return this.#closing;
  }
}
