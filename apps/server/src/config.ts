/**
 * Node configuration: embedded defaults < TOML file < PROFILESYNC_* environment < CLI flags.
 * One table (CONFIG_KEYS) names every key with its env var, flag, type and default; it drives
 * parsing, validation messages (which always name the bad key and where it came from) and
 * docs/configuration.md.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ProfileSyncError } from '@profilesync/errors';
import { suggest } from '@profilesync/model';
import { checkEvents, checkName, checkProfiles, checkSecret, checkSecretEnv, checkUrl, type WebhookFileEntry, type WebhookTuning } from './webhooks/config.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type MetricsAuth = 'auto' | 'token' | 'none';

export interface PeerConfig {
  url: string;
  /** the peer's Ed25519 public key (base64url, as printed by `profilesync keys show`) */
  key: string;
  name?: string;
}

export interface ServerConfig {
  dataDir: string;
  host: string;
  port: number;
  /** create an encrypted data dir on first start (an existing dir keeps its own mode) */
  encryption: boolean;
  /** scrypt N = 2^scryptLogN when creating an encrypted dir */
  scryptLogN: number;
  logLevel: LogLevel;
  bodyLimit: number;
  maxProfileBytes: number;
  shutdownTimeoutMs: number;
  /** redisUrl: '' = none (the node's `responses` cache stays off) */
  cache: { hotBytes: number; maxDocs: number; redisUrl: string };
  metrics: { auth: MetricsAuth };
  sync: { timeoutMs: number };
  changes: { heartbeatMs: number; maxConnections: number };
  /** open live connections (/yjs sockets, change feed streams) one token may hold */
  tokens: { maxConnections: number };
  /** the fleet bus (Redis Streams); `url` empty = no fleet */
  bus: BusConfig;
  /** scheduled backups: every `intervalMinutes` (0 = off) into `dir` (relative: against the data dir), newest `keep` kept */
  backup: { intervalMinutes: number; dir: string; keep: number };
  versions: { idleMs: number };
  peers: PeerConfig[];
  /** `[[webhooks]]` of the config file (secrets come from the named environment variables) */
  webhooks: WebhookFileEntry[];
  webhook: WebhookTuning;
  /** where the config file was read from, if any */
  configFile?: string;
}

export interface BusConfig {
  /** redis:// or rediss:// URL; '' = this node is not in a fleet */
  url: string;
  /** the fleet key: 32 bytes, base64 ('' without a bus) */
  key: string;
  /** this node's HTTP base URL as other members reach it ('' = the bound address) */
  advertiseUrl: string;
  prefix: string;
  maxLen: number;
  maxAgeMs: number;
  seeds: number;
  antiEntropyMs: number;
}

type KeyType = 'string' | 'port' | 'int' | 'bool' | 'enum';

export interface ConfigKey {
  /** dotted TOML key */
  key: string;
  /** path into ServerConfig */
  path: string[];
  type: KeyType;
  values?: readonly string[];
  min?: number;
  max?: number;
  env: string;
  /** for strings: a shape the value must have, and how to say it */
  pattern?: { re: RegExp; says: string };
  flag?: string;
  default: string | number | boolean;
  doc: string;
}

const MiB = 1024 * 1024;

export const CONFIG_KEYS: readonly ConfigKey[] = [
  { key: 'data_dir', path: ['dataDir'], type: 'string', env: 'PROFILESYNC_DATA_DIR', flag: '--data', default: './data', doc: 'data directory (log, keyring, identity, admin token); relative paths resolve against the config file\'s folder, or the working dir' },
  { key: 'host', path: ['host'], type: 'string', env: 'PROFILESYNC_HOST', flag: '--host', default: '127.0.0.1', doc: 'address to bind' },
  { key: 'port', path: ['port'], type: 'port', env: 'PROFILESYNC_PORT', flag: '--port', default: 7878, doc: 'TCP port (0 = any free port)' },
  { key: 'encryption', path: ['encryption'], type: 'bool', env: 'PROFILESYNC_ENCRYPTION', flag: '--encrypt', default: false, doc: 'create the data dir encrypted at rest on first start (needs PROFILESYNC_PASSPHRASE or a TTY)' },
  { key: 'scrypt_log_n', path: ['scryptLogN'], type: 'int', min: 10, max: 22, env: 'PROFILESYNC_SCRYPT_LOG_N', default: 17, doc: 'passphrase KDF cost for NEW encrypted dirs: scrypt N = 2^value (r 8, p 1); each +1 doubles time and memory (17 = 128 MiB); lower values only for tests' },
  { key: 'log_level', path: ['logLevel'], type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], env: 'PROFILESYNC_LOG_LEVEL', flag: '--log-level', default: 'info', doc: 'structured log level (pino, JSON lines on stderr)' },
  { key: 'body_limit', path: ['bodyLimit'], type: 'int', min: 1024, max: 64 * MiB, env: 'PROFILESYNC_BODY_LIMIT', default: 2 * MiB, doc: 'largest accepted request body, bytes (413 REQUEST_TOO_LARGE above)' },
  { key: 'max_profile_bytes', path: ['maxProfileBytes'], type: 'int', min: 1024, max: 64 * MiB, env: 'PROFILESYNC_MAX_PROFILE_BYTES', default: 1 * MiB, doc: 'largest materialized profile, bytes (PROFILE_TOO_LARGE above)' },
  { key: 'shutdown_timeout_ms', path: ['shutdownTimeoutMs'], type: 'int', min: 0, max: 600_000, env: 'PROFILESYNC_SHUTDOWN_TIMEOUT_MS', default: 10_000, doc: 'graceful shutdown: how long in-flight requests may take before sockets are closed' },
  { key: 'cache.hot_bytes', path: ['cache', 'hotBytes'], type: 'int', min: 65536, max: 64 * 1024 * MiB, env: 'PROFILESYNC_CACHE_HOT_BYTES', default: 64 * MiB, doc: 'bytes of materialized views kept in the hot LRU' },
  { key: 'cache.max_docs', path: ['cache', 'maxDocs'], type: 'int', min: 1, max: 1_000_000, env: 'PROFILESYNC_CACHE_MAX_DOCS', default: 1000, doc: 'live Y.Docs kept in memory' },
  { key: 'cache.redis.url', path: ['cache', 'redisUrl'], type: 'string', pattern: { re: /^rediss?:\/\/\S+$/, says: 'a redis:// or rediss:// URL' }, env: 'PROFILESYNC_CACHE_REDIS_URL', default: '', doc: 'Redis for the node\'s caches: the `responses` cache (LLM answers shared with apps using @profilesync/client with the same URL) lives there, with a fallback to memory while Redis is down; unset = no `responses` cache' },
  { key: 'metrics.auth', path: ['metrics', 'auth'], type: 'enum', values: ['auto', 'token', 'none'], env: 'PROFILESYNC_METRICS_AUTH', default: 'auto', doc: '/metrics access: auto = open on a loopback bind, token otherwise; token = always a token; none = always open' },
  { key: 'changes.heartbeat_ms', path: ['changes', 'heartbeatMs'], type: 'int', min: 100, max: 3_600_000, env: 'PROFILESYNC_CHANGES_HEARTBEAT_MS', default: 15_000, doc: 'GET /api/changes: a comment line is sent this often on an idle stream (keeps proxies and clients from timing out)' },
  { key: 'changes.max_connections', path: ['changes', 'maxConnections'], type: 'int', min: 1, max: 1_000_000, env: 'PROFILESYNC_CHANGES_MAX_CONNECTIONS', default: 10_000, doc: 'GET /api/changes: most open change feed streams (503 CHANGES_TOO_MANY_CONNECTIONS above)' },
  { key: 'tokens.max_connections', path: ['tokens', 'maxConnections'], type: 'int', min: 1, max: 1_000_000, env: 'PROFILESYNC_TOKENS_MAX_CONNECTIONS', default: 256, doc: 'open /yjs sockets and change feed streams one token may hold (429 TOKEN_TOO_MANY_CONNECTIONS / close 4429 above)' },
  { key: 'backup.interval_minutes', path: ['backup', 'intervalMinutes'], type: 'int', min: 0, max: 34_560, env: 'PROFILESYNC_BACKUP_INTERVAL_MINUTES', default: 0, doc: 'scheduled backups: one every N minutes while the node runs (0 = off); the first is due one interval after the newest backup in backup.dir' },
  { key: 'backup.dir', path: ['backup', 'dir'], type: 'string', env: 'PROFILESYNC_BACKUP_DIR', default: 'backups', doc: 'folder of the scheduled backups (profilesync-<UTC time>.bak); a relative path resolves against the data dir. Put it on another disk' },
  { key: 'backup.keep', path: ['backup', 'keep'], type: 'int', min: 1, max: 10_000, env: 'PROFILESYNC_BACKUP_KEEP', default: 7, doc: 'scheduled backups kept: after each one, the oldest beyond this many are deleted' },
  { key: 'webhook.timeout_ms', path: ['webhook', 'timeoutMs'], type: 'int', min: 100, max: 300_000, env: 'PROFILESYNC_WEBHOOK_TIMEOUT_MS', default: 10_000, doc: 'a webhook request that gets no answer within this many ms counts as failed (and is retried)' },
  { key: 'webhook.max_attempts', path: ['webhook', 'maxAttempts'], type: 'int', min: 1, max: 100, env: 'PROFILESYNC_WEBHOOK_MAX_ATTEMPTS', default: 15, doc: 'attempts per webhook delivery before it is given up (logged as failed)' },
  { key: 'webhook.retry_base_ms', path: ['webhook', 'retryBaseMs'], type: 'int', min: 1, max: 3_600_000, env: 'PROFILESYNC_WEBHOOK_RETRY_BASE_MS', default: 1000, doc: 'first retry delay of a failed webhook delivery; doubles per attempt, with 50-100% jitter' },
  { key: 'webhook.retry_max_ms', path: ['webhook', 'retryMaxMs'], type: 'int', min: 1, max: 86_400_000, env: 'PROFILESYNC_WEBHOOK_RETRY_MAX_MS', default: 600_000, doc: 'longest retry delay of a webhook delivery' },
  { key: 'versions.idle_ms', path: ['versions', 'idleMs'], type: 'int', min: 1, max: 86_400_000, env: 'PROFILESYNC_VERSIONS_IDLE_MS', default: 5000, doc: 'a run of content changes becomes a version after this idle gap, ms (one version per run, not per keystroke)' },
  { key: 'sync.timeout_ms', path: ['sync', 'timeoutMs'], type: 'int', min: 1, max: 3_600_000, env: 'PROFILESYNC_SYNC_TIMEOUT_MS', default: 30_000, doc: 'default timeout of POST /api/sync and `profilesync sync`' },
  { key: 'bus.url', path: ['bus', 'url'], type: 'string', env: 'PROFILESYNC_BUS_URL', default: '', doc: 'redis:// or rediss:// URL of the fleet bus (Redis >= 7.0); unset = no fleet' },
  { key: 'bus.key', path: ['bus', 'key'], type: 'string', env: 'PROFILESYNC_FLEET_KEY', default: '', doc: 'the fleet key, 32 random bytes in base64 (`openssl rand -base64 32`); the same on every member; required with bus.url' },
  { key: 'bus.advertise_url', path: ['bus', 'advertiseUrl'], type: 'string', env: 'PROFILESYNC_BUS_ADVERTISE_URL', default: '', doc: 'this node\'s HTTP base URL (http://HOST:PORT) as the other members reach it; unset = the bound address (required when host is 0.0.0.0 or ::)' },
  { key: 'bus.prefix', path: ['bus', 'prefix'], type: 'string', env: 'PROFILESYNC_BUS_PREFIX', default: 'profilesync:fleet', doc: 'Redis key prefix of the fleet (several fleets may share one Redis)' },
  { key: 'bus.max_len', path: ['bus', 'maxLen'], type: 'int', min: 100, max: 100_000_000, env: 'PROFILESYNC_BUS_MAX_LEN', default: 10_000, doc: 'entries kept per shard stream (approximately; 16 shards): the window a node may fall behind before it repairs over /sync' },
  { key: 'bus.max_age_ms', path: ['bus', 'maxAgeMs'], type: 'int', min: 0, max: 365 * 24 * 3_600_000, env: 'PROFILESYNC_BUS_MAX_AGE_MS', default: 24 * 3_600_000, doc: 'entries older than this are trimmed (0 = by length only)' },
  { key: 'bus.seeds', path: ['bus', 'seeds'], type: 'int', min: 0, max: 16, env: 'PROFILESYNC_BUS_SEEDS', default: 2, doc: 'while the bus is unreachable, standing /sync sessions with this many members (ring neighbours) carry changes live (0 = none)' },
  { key: 'bus.anti_entropy_ms', path: ['bus', 'antiEntropyMs'], type: 'int', min: 0, max: 86_400_000, env: 'PROFILESYNC_BUS_ANTI_ENTROPY_MS', default: 600_000, doc: 'a digest repair with one random live member this often, a backstop (0 = off)' },
];

export const DEFAULT_PORT = 7878;

export interface LoadConfigOptions {
  /** TOML file path (or PROFILESYNC_CONFIG) */
  file?: string;
  /** environment (defaults to process.env) */
  env?: Record<string, string | undefined>;
  /** values from CLI flags, keyed by dotted config key (e.g. { port: '8080', data_dir: 'x' }) */
  flags?: Record<string, string | number | boolean | undefined>;
  /** base for relative paths when not from a file (defaults to process.cwd()) */
  cwd?: string;
}

type Source = 'default' | 'file' | 'env' | 'flag';

function invalid(key: string, source: string, message: string): ProfileSyncError {
  return new ProfileSyncError('CONFIG_INVALID', `config ${key} (${source}): ${message}`, { details: { key, source } });
}

/** Parses one raw value of a key; strings (env, flags) are coerced to the key's type. */
export function coerceConfigValue(def: ConfigKey, raw: unknown, source: string): string | number | boolean {
  switch (def.type) {
    case 'string': {
      if (typeof raw !== 'string' || raw.trim() === '') throw invalid(def.key, source, 'must be a non-empty string');
      if (def.pattern && !def.pattern.re.test(raw)) throw invalid(def.key, source, `must be ${def.pattern.says}`);
      return raw;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|1|yes|on)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(false|0|no|off)$/i.test(raw)) return false;
      throw invalid(def.key, source, 'must be a boolean (true/false)');
    }
    case 'enum': {
      if (typeof raw !== 'string' || !def.values!.includes(raw)) {
        throw invalid(def.key, source, `must be one of ${def.values!.join(', ')}`);
      }
      return raw;
    }
    case 'port':
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      const min = def.type === 'port' ? 0 : (def.min ?? 0);
      const max = def.type === 'port' ? 65535 : (def.max ?? Number.MAX_SAFE_INTEGER);
      if (!Number.isSafeInteger(n) || n < min || n > max) throw invalid(def.key, source, `must be an integer in ${min}..${max}`);
      return n;
    }
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let obj = target;
  for (const p of path.slice(0, -1)) obj = (obj[p] ??= {}) as Record<string, unknown>;
  obj[path[path.length - 1]!] = value;
}

/** "unknown key", with the key meant when it is close (config keys are snake_case: `idleMs` is `idle_ms`). */
function unknownKey(dotted: string, known: ReadonlySet<string>): string {
  const snake = dotted.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  if (snake !== dotted && known.has(snake)) return `unknown key; did you mean '${snake}'? (config keys are snake_case)`;
  const near = suggest(dotted, [...known]);
  return near === undefined ? 'unknown key' : `unknown key; ${near}`;
}

/** Flattens a parsed TOML table into dotted keys, rejecting unknown keys by name. */
function flattenFile(table: Record<string, unknown>, file: string): Map<string, unknown> {
  const known = new Set(CONFIG_KEYS.map((k) => k.key));
  const sections = new Set(CONFIG_KEYS.filter((k) => k.key.includes('.')).map((k) => k.key.split('.')[0]!));
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(table)) {
    if (k === 'peers' || k === 'webhooks') continue;
    if (sections.has(k)) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(k, file, 'must be a table');
      const walk = (prefix: string, t: Record<string, unknown>): void => {
        for (const [k2, v2] of Object.entries(t)) {
          const dotted = `${prefix}.${k2}`;
          if (known.has(dotted)) out.set(dotted, v2);
          else if ([...known].some((x) => x.startsWith(`${dotted}.`)) && typeof v2 === 'object' && v2 !== null && !Array.isArray(v2)) walk(dotted, v2 as Record<string, unknown>);
          else throw invalid(dotted, file, unknownKey(dotted, known));
        }
      };
      walk(k, v as Record<string, unknown>);
    } else if (known.has(k)) {
      out.set(k, v);
    } else {
      throw invalid(k, file, unknownKey(k, known));
    }
  }
  return out;
}

const PEER_KEY_RE = /^[A-Za-z0-9_-]{43}={0,1}$/;

/**
 * Validates one peer: a [[peers]] entry of the config file (`source` = the file's path, named in
 * the error like every other config key) or a run-time `peer add` (no source: the error names
 * only the field).
 */
export function validatePeer(raw: unknown, where: string, source?: string): PeerConfig {
  const bad = (key: string, message: string): ProfileSyncError =>
    source === undefined ? new ProfileSyncError('CONFIG_INVALID', `${key}: ${message}`, { details: { key } }) : invalid(key, source, message);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(where, 'must be a table with url and key');
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!['url', 'key', 'name'].includes(k)) throw bad(`${where}.${k}`, 'unknown key');
  }
  let url: URL;
  try {
    url = new URL(String(r.url));
  } catch {
    throw bad(`${where}.url`, 'must be a ws:// or wss:// URL');
  }
  if (typeof r.url !== 'string' || (url.protocol !== 'ws:' && url.protocol !== 'wss:')) {
    throw bad(`${where}.url`, 'must be a ws:// or wss:// URL');
  }
  if (typeof r.key !== 'string' || !PEER_KEY_RE.test(r.key)) {
    throw bad(`${where}.key`, 'must be a base64url Ed25519 public key (43 characters, from `profilesync keys show`)');
  }
  if (r.name !== undefined && (typeof r.name !== 'string' || r.name.length === 0 || r.name.length > 100)) {
    throw bad(`${where}.name`, 'must be a string of 1..100 characters');
  }
  return r.name === undefined ? { url: r.url, key: r.key } : { url: r.url, key: r.key, name: r.name as string };
}

/** Validates one [[webhooks]] entry: url, secret_env (the variable must be set), events, profiles, name. */
export function validateWebhookEntry(raw: unknown, where: string, file: string, env: Record<string, string | undefined>): WebhookFileEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(where, file, 'must be a table with url and secret_env');
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!['url', 'secret_env', 'events', 'profiles', 'name'].includes(k)) throw invalid(`${where}.${k}`, file, k === 'secret' ? 'secrets are never config: name an environment variable with secret_env' : 'unknown key');
  }
  const fail = (field: string, message: string) => invalid(`${where}.${field}`, file, message);
  const secretEnv = checkSecretEnv(r.secret_env, 'secret_env', fail);
  const secret = env[secretEnv];
  if (secret === undefined || secret === '') throw fail('secret_env', `the environment variable ${secretEnv} is not set`);
  checkSecret(secret, 'secret_env', (_f, m) => invalid(`${where}.secret_env`, secretEnv, `the secret ${m}`));
  return { url: checkUrl(r.url, 'url', fail), secretEnv, events: checkEvents(r.events, 'events', fail), profiles: checkProfiles(r.profiles, 'profiles', fail), name: checkName(r.name, 'name', fail) };
}

/**
 * Builds a validated ServerConfig. Throws ProfileSyncError CONFIG_INVALID naming the key and
 * its source (file path, env var or flag) on the first bad value.
 */
export function loadConfig(opts: LoadConfigOptions = {}): ServerConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file = opts.file ?? (env.PROFILESYNC_CONFIG || undefined);

  let fileValues = new Map<string, unknown>();
  let peersRaw: unknown = undefined;
  let webhooksRaw: unknown = undefined;
  let fileDir = cwd;
  if (file !== undefined) {
    const path = resolve(cwd, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ProfileSyncError('CONFIG_INVALID', `config file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { details: { key: 'config', source: path }, cause: err });
    }
    let table: Record<string, unknown>;
    try {
      table = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      throw new ProfileSyncError('CONFIG_INVALID', `config file ${path} is not valid TOML: ${(err as Error).message.split('\n')[0]}`, { details: { key: 'config', source: path }, cause: err });
    }
    fileValues = flattenFile(table, path);
    peersRaw = table.peers;
    webhooksRaw = table.webhooks;
    fileDir = dirname(path);
  }

  const out: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const def of CONFIG_KEYS) {
    let value: string | number | boolean = def.default;
    let source: Source = 'default';
    if (fileValues.has(def.key)) {
      value = coerceConfigValue(def, fileValues.get(def.key), file!);
      source = 'file';
    }
    const envValue = env[def.env];
    if (envValue !== undefined && envValue !== '') {
      value = coerceConfigValue(def, envValue, def.env);
      source = 'env';
    }
    const flagValue = opts.flags?.[def.key];
    if (flagValue !== undefined) {
      value = coerceConfigValue(def, flagValue, def.flag ?? def.key);
      source = 'flag';
    }
    if (def.key === 'data_dir') value = resolve(source === 'file' ? fileDir : cwd, value as string);
    setPath(out, def.path, value);
    sources.set(def.key, source === 'file' ? file! : source === 'env' ? def.env : source === 'flag' ? (def.flag ?? def.key) : 'default');
  }
  checkBus(out as unknown as ServerConfig, sources);

  const peers: PeerConfig[] = [];
  if (peersRaw !== undefined) {
    if (!Array.isArray(peersRaw)) throw invalid('peers', file!, 'must be an array of tables ([[peers]])');
    peersRaw.forEach((p, i) => peers.push(validatePeer(p, `peers[${i}]`, file!)));
  }
  out.peers = peers;
  const webhooks: WebhookFileEntry[] = [];
  if (webhooksRaw !== undefined) {
    if (!Array.isArray(webhooksRaw)) throw invalid('webhooks', file!, 'must be an array of tables ([[webhooks]])');
    webhooksRaw.forEach((h, i) => webhooks.push(validateWebhookEntry(h, `webhooks[${i}]`, file!, env)));
  }
  out.webhooks = webhooks;
  if (file !== undefined) out.configFile = resolve(cwd, file);
  return out as unknown as ServerConfig;
}

const FLEET_KEY_RE = /^[A-Za-z0-9+/_-]{43}={0,1}$/;

/** The bus keys belong together: a URL needs a valid key; the advertised URL must be reachable. */
function checkBus(c: ServerConfig, sources: Map<string, string>): void {
  const b = c.bus;
  if (b.url === '') return;
  const src = (k: string): string => sources.get(k) ?? 'default';
  let u: URL | undefined;
  try {
    u = new URL(b.url);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'redis:' && u.protocol !== 'rediss:')) throw invalid('bus.url', src('bus.url'), 'must be a redis:// or rediss:// URL');
  if (b.key === '') throw invalid('bus.key', src('bus.key'), 'is required with bus.url: the same 32-byte base64 fleet key on every member (PROFILESYNC_FLEET_KEY; make one with `openssl rand -base64 32`)');
  const key = b.key.trim();
  if (!FLEET_KEY_RE.test(key) || Buffer.from(key.replace(/-/g, '+').replace(/_/g, '/'), 'base64').length !== 32) {
    throw invalid('bus.key', src('bus.key'), 'must be 32 random bytes in base64 (44 characters; `openssl rand -base64 32`)');
  }
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(b.prefix)) throw invalid('bus.prefix', src('bus.prefix'), 'must be 1..64 of [A-Za-z0-9._:-]');
  if (b.advertiseUrl !== '') {
    let a: URL | undefined;
    try {
      a = new URL(b.advertiseUrl);
    } catch {
      a = undefined;
    }
    if (!a || (a.protocol !== 'http:' && a.protocol !== 'https:') || (a.pathname !== '/' && a.pathname !== '') || a.search !== '' || a.hash !== '') {
      throw invalid('bus.advertise_url', src('bus.advertise_url'), 'must be an http:// or https:// base URL (scheme, host and port only)');
    }
  } else if (/^(0\.0\.0\.0|::|\[::\])$/.test(c.host)) {
    throw invalid('bus.advertise_url', src('bus.advertise_url'), `is required when host is ${c.host}: the URL other members reach this node at (e.g. http://10.0.0.5:7878)`);
  }
}

/** The embedded defaults (no file, no env, no flags), e.g. for tests and docs. */
export function defaultConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return { ...loadConfig({ env: {} }), ...overrides };
}

/** Whether a bind address is loopback-only (the /metrics `auto` policy opens metrics there). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
