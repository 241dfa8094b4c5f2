/**
 * Public contract of @profilesync/log. Other packages (core, crypto, cli) code
 * against these types; extend them freely, rename nothing without updating callers.
 *
 * Vocabulary
 * - stream: one append-only chain of entries, named by a string (a profile id, or a
 *   reserved internal name starting with '#', e.g. '#audit'). Internally each stream
 *   gets a compact stream number; names never appear in LevelDB keys.
 * - seq: per-stream sequence number, 1, 2, 3, ... without gaps.
 * - lsn: log sequence number, global across streams, strictly increasing in commit
 *   order (a batch's entries get consecutive lsns). `restore --until SEQ` means lsn.
 * - ts: milliseconds since the epoch from the injected clock, forced monotonic per
 *   stream (never smaller than the previous entry's ts), so time ranges are seq ranges.
 */

/** What a stored value is; bound into every at-rest ciphertext with stream and seq. */
export type RecordKind = 'entry' | 'view' | 'snapshot' | 'catalog' | 'aux';

/** Where a stored value lives. `stream` is the internal stream number (0 when none), `seq` 0 when none. */
export interface Place {
  readonly kind: RecordKind;
  readonly stream: number;
  readonly seq: number;
}

/**
 * Codec hook: seals payloads before they reach LevelDB and opens them after reads.
 * The log never sees keys. The identity codec (`plainCodec`) is the default.
 * `decode` must throw a ProfileSyncError (e.g. CRYPTO_AUTH_FAILED) on a bad payload,
 * never return garbage. The codec id is stored in the DB at creation; opening a DB
 * with a different codec id fails with LOG_CODEC_MISMATCH.
 */
export interface LogCodec {
  readonly id: string;
  encode(place: Place, plaintext: Uint8Array): Uint8Array;
  decode(place: Place, stored: Uint8Array): Uint8Array;
  /**
   * Optional: the LevelDB key bytes for an aux record name (e.g. an HMAC of the name under a
   * stable name key), so aux names never appear on disk. Must be deterministic and stable for
   * the life of the DB. Without it the key is the utf8 name. The name itself is also stored
   * inside the encoded aux value and checked on read (a record moved to another key is rejected).
   */
  keyFor?(name: string): Uint8Array;
  /**
   * Optional fast path, used by the writer when both members are present: every encode
   * output is exactly `overhead` bytes longer than its plaintext, and
   * `encodeInto(place, plaintext, out, offset)` writes what `encode(place, plaintext)` would
   * return (same layout, same checks; a fresh nonce is still a fresh nonce) into
   * `out[offset, offset + plaintext.length + overhead)`, so the log seals straight into the
   * buffer that already holds room for its own header (no copy, no re-framing).
   */
  readonly overhead?: number;
  encodeInto?(place: Place, plaintext: Uint8Array, out: Uint8Array, offset: number): void;
  /**
   * Optional, used by the writer when `overhead` is present: a sealer for one write batch, so
   * a codec can seal all of a batch's records together (e.g. one nonce and one cipher call per
   * batch instead of one per record). The writer calls `add` for each record (same contract as
   * `encodeInto`; the plaintext and the room must stay untouched until `seal`), then `seal()`
   * once; only after `seal()` are the records' bytes final.
   */
  batchSealer?(): BatchSealer;
}

/** Seals the records of one write batch together (LogCodec.batchSealer). */
export interface BatchSealer {
  add(place: Place, plaintext: Uint8Array, out: Uint8Array, offset: number): void;
  seal(): void;
}

export interface AppendInput {
  /** stream name: a profile id or a reserved '#name' */
  stream: string;
  /** the Yjs update (opaque to the log) */
  body: Uint8Array;
  actor: string;
  /** 'local', 'api:<tokenId>', 'peer:<peerId>', ... (opaque to the log) */
  origin: string;
  /** one line of what changed, e.g. "systemMessage, parameters.temperature" */
  summary?: string;
  /** opaque version reference of the state after this entry (core: portable version ref) */
  version?: Uint8Array;
  /**
   * The materialized view after this entry (opaque bytes). Written in the same atomic
   * batch as the entry; when a batch holds several entries of one stream only the last
   * view is written.
   */
  view?: Uint8Array;
}

export interface AppendAck {
  stream: string;
  seq: number;
  lsn: number;
  ts: number;
  /** sha-256 chain hash of this entry */
  hash: Uint8Array;
}

export interface EntryRecord {
  stream: string;
  seq: number;
  lsn: number;
  ts: number;
  actor: string;
  origin: string;
  summary: string;
  version: Uint8Array | undefined;
  body: Uint8Array;
  /** chain hash of the previous entry of this stream (32 zero bytes for seq 1) */
  prevHash: Uint8Array;
  hash: Uint8Array;
}

export interface StreamHead {
  seq: number;
  lsn: number;
  ts: number;
  hash: Uint8Array;
}

export interface ReadRange {
  fromSeq?: number;
  toSeq?: number;
  /** inclusive time bounds (ms); ts is monotonic per stream, so this is a seq range */
  fromTs?: number;
  toTs?: number;
  /** only entries with lsn <= untilLsn */
  untilLsn?: number;
  limit?: number;
  reverse?: boolean;
  /**
   * Read a stream known to be damaged (repair tools): every entry is still verified, so the
   * intact ones are served and the first bad one raises its precise code. Without it, reads of
   * a damaged stream fail with LOG_STREAM_DAMAGED.
   */
  allowDamaged?: boolean;
}

export interface LoadedState {
  /** a Yjs update holding the whole state at `seq` (snapshot merged with the tail) */
  state: Uint8Array;
  seq: number;
  /** seq of the snapshot used, 0 when replayed from the first entry */
  snapshotSeq: number;
  /** number of tail entries merged after the snapshot */
  tailEntries: number;
  /**
   * The parts `state` is merged from: the snapshot (when one was used) followed by the tail
   * bodies in seq order. Applying them in order to a fresh Y.Doc (inside one doc.transact)
   * gives the same document as applying `state`, and is faster (`state` is computed lazily on
   * first access).
   */
  updates: Uint8Array[];
}

export interface SnapshotPolicyInput {
  /** entries appended to the stream since its last snapshot */
  entriesSince: number;
  /**
   * bytes of stored entry payloads appended since the last snapshot (the codec's output:
   * body + actor/origin/summary/version; counted without decoding, so encrypted logs pay no
   * decryption for it)
   */
  bytesSince: number;
  /** seq of the last snapshot, 0 when none */
  lastSnapshotSeq: number;
  headSeq: number;
}

/** Pure function: whether to write a snapshot of the stream now. */
export type SnapshotPolicy = (input: SnapshotPolicyInput) => boolean;

export type BrokenKind =
  | 'checksum'        // stored bytes do not match the entry's hash
  | 'chain'           // prevHash does not match the previous entry's hash
  | 'gap'             // a seq is missing
  | 'head'            // the head does not match the last entry
  | 'decode'          // the entry cannot be decoded (format or codec/auth failure)
  | 'view'            // the materialized view is missing or unreadable (derived: rebuild fixes it)
  | 'snapshot'        // a snapshot is unreadable or disagrees with the log (derived: rebuild fixes it)
  | 'catalog'         // a stream number has no readable name
  | 'aux'             // an aux record is unreadable or sits under another name's key
  | 'key'             // a key outside the known keyspace, or a record without its stream
  | 'rollback' | 'table' | 'wal' | 'seal' | 'manifest' | 'meta'; // open-time findings (see DamageKind)

/** Kinds of damage the registry records: a BrokenKind, or what the open checks find. */
export const DAMAGE_KINDS = [
  'checksum', 'chain', 'gap', 'head', 'decode', 'view', 'snapshot', 'catalog', 'aux', 'key',
  'rollback', // the commit seal says more was committed than the log holds (a lost WAL tail)
  'table', // a damaged LevelDB table block holds records of the stream
  'wal', // LevelDB's write-ahead log is damaged (its damaged batches are dropped)
  'seal', // the commit seal itself is unreadable (a rollback cannot be ruled out)
  'manifest', // LevelDB's MANIFEST is damaged (repaired from the table files)
  'meta', // the log's format records were lost and written again
] as const;

export type DamageKind = (typeof DAMAGE_KINDS)[number];

export interface DamageRecord {
  /** the stream name ('' for node-level findings, `#N` when its name is unreadable) */
  stream: string;
  seq: number;
  kind: DamageKind;
  message: string;
  /** ms since the epoch when it was found */
  at: number;
}

export interface DamageReport {
  /** damaged streams (current chain segments only); `named` is false when only the number is known */
  streams: { stream: string; named: boolean; findings: DamageRecord[] }[];
  /** findings that belong to no stream (a damaged seal, WAL, MANIFEST, aux records) */
  node: DamageRecord[];
  /**
   * damage this open found and repaired itself, e.g. a MANIFEST rebuilt from the table files
   * (kind 'manifest'): reported, not damage that stays (what it cost shows in streams/node)
   */
  repaired: DamageRecord[];
}

export interface BrokenRecord {
  stream: string;
  seq: number;
  kind: BrokenKind;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  streams: number;
  entries: number;
  broken: BrokenRecord[];
  /** chain segments replaced by a repair (kept, not read; their damage is no longer current) */
  retired?: number;
  durationMillis: number;
}

/** The last entry of a stream, as handed to a Materializer (views carry updatedAt/updatedBy). */
export interface LastEntryInfo {
  seq: number;
  lsn: number;
  ts: number;
  actor: string;
  origin: string;
}

/**
 * Turns the merged Yjs state of a stream (plus facts about its last entry) into its
 * materialized view bytes (core supplies it). Must be deterministic: the same inputs give
 * the same bytes (invariant 5). Return undefined for streams without a view ('#audit').
 */
export type Materializer = (stream: string, state: Uint8Array, last: LastEntryInfo) => Uint8Array | undefined;

export interface Progress {
  done: number;
  total: number;
}

export interface LogEvents {
  appended: { stream: string; seq: number; lsn: number; bytes: number; durationMillis: number };
  /**
   * durationMillis: from cutting the batch to its acks (building it, then the synced write);
   * writeMillis: the synced LevelDB write alone (write() issued until it completed)
   */
  'batch-committed': { entries: number; streams: number; bytes: number; durationMillis: number; writeMillis: number };
  'batch-failed': { entries: number; code: string; durationMillis: number };
  'snapshot-written': { stream: string; seq: number; bytes: number; durationMillis: number };
  /** a rest state (the stream's state at its head, outside the snapshot policy) was written: quiet stream or clean close */
  'rest-written': { stream: string; seq: number; bytes: number; durationMillis: number };
  'verify-progress': Progress & { stream: string; broken: number };
  'rebuild-progress': Progress & { stream: string };
  'backup-progress': Progress;
  'restore-progress': Progress;
  /** corruption detected during normal operation (reads, snapshot work); derived data falls back to replay */
  corruption: BrokenRecord;
  /** the DB was reopened after a failed batch (LevelDB refuses writes after a failed sync) */
  reopened: { durationMillis: number };
  /** a stream (or the node, stream '') was found damaged for the first time; its reads now fail with LOG_STREAM_DAMAGED */
  damaged: DamageRecord;
  /** a damaged stream was replaced by a new chain segment (replaceStream) */
  repaired: { stream: string; oldStream: number; newStream: number; entries: number };
  /** the commit seal was written (in the background, or exactly at close) */
  sealed: { lastLsn: number; touched: number; durationMillis: number; clean: boolean };
  /** a background seal write or checkpoint failed (retried; reads and appends go on) */
  'seal-failed': { message: string };
  /** the snapshot worker thread failed: snapshots are built on the main thread from now on (same bytes, more main-thread CPU) */
  'snapshot-thread-failed': { message: string };
}

export type LogEventName = keyof LogEvents;

export interface EventLog {
  readonly dir: string;
  /** storage format version of the open DB */
  readonly formatVersion: number;

  /** Durable append: resolves after the batch holding it was written with sync: true. */
  append(input: AppendInput): Promise<AppendAck>;
  /** Several appends committed atomically in one batch (all or none). */
  appendMany(inputs: AppendInput[]): Promise<AppendAck[]>;

  /** Names of all streams (no I/O). */
  streams(): string[];
  /** Head of a stream (no I/O), undefined for an unknown stream. */
  head(stream: string): StreamHead | undefined;
  /** Entries of a stream in seq order (or reverse); every entry is verified before it is yielded. */
  read(stream: string, range?: ReadRange): AsyncIterable<EntryRecord>;
  /**
   * The persisted materialized view, verified and decoded; undefined when the stream has none.
   * With `current: true`, only a view written with the stream's head entry (undefined otherwise:
   * the head's batch carried no view, or an older view showed through after damage).
   */
  getView(stream: string, opts?: { current?: boolean }): Promise<Uint8Array | undefined>;
  /** Latest snapshot + tail merged (optionally only up to `untilSeq`). Throws LOG_STREAM_NOT_FOUND. */
  loadState(stream: string, opts?: { untilSeq?: number }): Promise<LoadedState>;

  /** Small named records (tokens, peers, settings) stored through the codec as kind 'aux'. */
  getAux(name: string): Promise<Uint8Array | undefined>;
  putAux(name: string, value: Uint8Array): Promise<void>;
  deleteAux(name: string): Promise<void>;
  listAux(prefix: string): Promise<string[]>;

  /** Walks every chain and derived record; reports each broken record. Never throws on corruption. */
  verify(opts?: { onProgress?: (p: LogEvents['verify-progress']) => void }): Promise<VerifyReport>;
  /** Recreates snapshots and views from the log alone (derived data only). */
  rebuild(materialize: Materializer, opts?: { onProgress?: (p: LogEvents['rebuild-progress']) => void }): Promise<{ streams: number; durationMillis: number }>;

  on<E extends LogEventName>(event: E, listener: (payload: LogEvents[E]) => void): () => void;

  /**
   * What is known to be damaged (no I/O): found at open (table check, commit seal, heads,
   * catalog), by reads that met a bad record, and by verify(). Reads and appends of a damaged
   * stream fail with LOG_STREAM_DAMAGED until it is replaced (replaceStream).
   */
  damage(): DamageReport;
  /** Whether the stream's current chain is known to be damaged (no I/O). */
  isDamaged(stream: string): boolean;
  /**
   * Repair: writes `inputs` as a NEW chain segment of the stream (a new internal stream number,
   * seq 1.., one atomic durable batch); the name then refers to it and the old segment is
   * retired (kept, no longer read). Works for damaged and intact streams alike.
   */
  replaceStream(stream: string, inputs: Omit<AppendInput, 'stream'>[]): Promise<AppendAck[]>;

  /** Facts about the open log (no I/O). */
  info(): LogInfo;

  /** Resolves when no batch is in flight or queued and background snapshot work is done. */
  idle(): Promise<void>;

  /** Finishes in-flight batches, then closes the DB. Further calls fail with LOG_CLOSED. */
  close(): Promise<void>;
}

export interface OpenLogOptions {
  dir: string;
  codec?: LogCodec;
  /** injectable clock (ms since epoch) */
  clock?: () => number;
  snapshotPolicy?: SnapshotPolicy;
  /** format migrations, keyed by the version they migrate from (tests inject their own) */
  migrations?: ReadonlyMap<number, Migration>;
  /**
   * Test hook: wraps the underlying LevelDB (e.g. to inject write failures).
   * Receives the opened database and returns the one the log uses.
   */
  wrapDb?: (db: unknown) => unknown;
  /** Upper bound of entries per group-commit batch (default 4096; an appendMany is never split). */
  maxBatchEntries?: number;
  /**
   * Keep the commit seal (default true): a file beside LevelDB's recording what was committed,
   * checked at open so a silently lost WAL tail is detected (see seal.ts).
   */
  seal?: boolean;
  /**
   * Check the crc32c of every block of every live LevelDB table file before opening (default
   * true). LevelDB does not verify blocks on read and aborts the process on some malformed keys;
   * with the check, damage is a LOG_CORRUPT at open (or a verify() report) instead. Costs one
   * read of the table files per open (~150+ MB/s).
   */
  checkTables?: boolean;
  /**
   * Rest states (docs/storage-format.md §8): a stream with a tail after its newest snapshot gets
   * its state at the head written once no batch touched it for `quietMs` (default 2000), and a
   * clean close writes the ones still due for at most `closeBudgetMs` (default 3000), so cold
   * loads read no tail and merge nothing. `false` writes none (the existing ones are still read).
   */
  restStates?: { quietMs?: number; closeBudgetMs?: number } | false;
}

export interface LogInfo {
  dir: string;
  formatVersion: number;
  codecId: string;
  streams: number;
  /** highest lsn committed so far (0 for an empty log) */
  lastLsn: number;
  /** ms since the epoch when the DB was created (from the injected clock) */
  createdAt: number;
  /** how this open found the catalog and heads: the open index a clean close wrote, or a scan of every record (docs/storage-format.md §14) */
  openedFrom: 'open-index' | 'scan';
  /** how long openLog took (table check, LevelDB open, catalog and heads, seal check), ms */
  openMillis: number;
}

export interface BackupOptions {
  onProgress?: (p: Progress) => void;
  /**
   * Extra named sections written after the header (e.g. the crypto keyring file); restore hands
   * them back. Names: 1-255 utf8 bytes.
   */
  sections?: Record<string, Uint8Array>;
}

export interface BackupReport {
  streams: number;
  entries: number;
  aux: number;
  sections: number;
  bytes: number;
  /** hex sha-256 of the whole backup file except its trailer record (also stored in the trailer) */
  sha256: string;
  /** highest lsn included */
  lastLsn: number;
  durationMillis: number;
}

export interface RestoreOptions {
  /** target data dir: must not exist or be empty (LOG_RESTORE_NOT_EMPTY otherwise) */
  dir: string;
  /** the backup byte stream (e.g. fs.createReadStream(file)) */
  input: AsyncIterable<Uint8Array>;
  /**
   * The codec of the backed-up log (its id must match the backup's). A function receives the
   * backup's codec id and sections first (e.g. to unlock a keyring stored in a section).
   */
  codec?: LogCodec | ((info: { codecId: string; sections: ReadonlyMap<string, Uint8Array> }) => LogCodec | Promise<LogCodec>);
  /** keep only entries with lsn <= untilLsn (per stream, a prefix) */
  untilLsn?: number;
  /** keep only entries with ts <= untilTs (ms; per stream, a prefix) */
  untilTs?: number;
  /** builds the views after the entries are restored; without it views are not written */
  materialize?: Materializer;
  snapshotPolicy?: SnapshotPolicy;
  clock?: () => number;
  onProgress?: (p: Progress) => void;
}

export interface RestoreReport {
  streams: number;
  entries: number;
  /** entries present in the backup but beyond the until bound */
  skipped: number;
  aux: number;
  sections: Map<string, Uint8Array>;
  codecId: string;
  lastLsn: number;
  /**
   * lsn and ts (ms) bounds of every entry in the backup, restored or skipped (undefined when it
   * holds no entry): what a caller names when an until bound keeps nothing
   */
  span: { firstLsn: number; lastLsn: number; firstTs: number; lastTs: number } | undefined;
  durationMillis: number;
}

export interface Migration {
  from: number;
  to: number;
  description: string;
  /** runs with exclusive access to the open DB (an abstract-level database) */
  run(db: unknown): Promise<void>;
}
