/**
 * A next step for every coded error the CLI prints. CLI wording first (flags and commands a
 * person types), then the "what to do" column of the error tables (hints.generated.ts, built
 * from the same READMEs as docs/errors.md), then a rule per family. A test checks that every
 * code in docs/errors.md gets one.
 */
import { DOC_HINTS } from './hints.generated.js';

const CLI_HINTS: Readonly<Record<string, string>> = {
  USAGE: 'see `profilesync <command> --help` for the arguments it takes',
  CONFIG_INVALID: 'fix the config key named in the message (file, PROFILESYNC_* variable or flag); see docs/configuration.md',
  INTERNAL: 'this is a bug: report it with the command you ran (and the x-request-id of the failing request, from the node\'s log)',
  SERVER_UNREACHABLE: 'start one with `profilesync serve`, or pass --url (PROFILESYNC_URL)',
  SERVER_STARTING: 'the node is still opening its data dir: retry in a moment (`curl URL/readyz` says when it is ready)',
  SERVER_SHUTTING_DOWN: 'the node is stopping: retry once it has restarted',
  AUTH_UNAUTHORIZED: 'pass a valid token with --token (PROFILESYNC_TOKEN); a revoked or unknown token stays refused: ask an admin for a new one (`profilesync token create`); the first admin token is in <data>/admin.token',
  AUTH_FORBIDDEN: 'this token\'s role or profile grants do not allow it: use a token with the right role (`profilesync token create NAME --role editor`)',
  CRYPTO_PASSPHRASE_REQUIRED: 'set PROFILESYNC_PASSPHRASE or run on a terminal',
  CRYPTO_BAD_PASSPHRASE: 'check PROFILESYNC_PASSPHRASE; lost it? `profilesync keys recover` with the recovery phrase',
  NODE_NOT_INITIALIZED: 'run `profilesync init --data DIR` (or start `profilesync serve`, which creates it), or pass the right --data',
  NODE_EXISTS: 'pick another --data dir (this one already holds a node)',
  NODE_NOT_ENCRYPTED: 'only encrypted dirs have data keys and a recovery phrase',
  NODE_IDENTITY_NOT_FOUND: 'start the node once (`profilesync serve`); it creates the identity',
  VERIFY_DAMAGE: '`profilesync verify --repair` rebuilds derived data; damaged entries need `profilesync restore` of a backup',
  SYNC_NOT_CONVERGED: 'check `profilesync peer list` (connected? lag?) and retry with a longer --timeout',
  SYNC_UNAVAILABLE: 'this node runs without peer sync',
  PROFILE_NOT_FOUND: 'list the ids with `profilesync profile list`',
  CONFLICT_NOT_FOUND: 'list the conflicts with `profilesync profile conflicts ID` (run `profilesync sync` first if another node found it)',
  CONFLICT_RESOLVED: 'it is closed already (perhaps by another node): `profilesync profile conflicts ID` shows who kept what',
  PROFILE_DELETED: 'the profile is deleted (its labels answer this too); its history stays readable with `profilesync profile history ID`, and `profilesync profile revert ID @N` brings it back',
  PROFILE_EXISTS: 'pick another --id, or change the existing profile with `profilesync profile set ID ...`',
  PROFILE_BAD_VERSION: 'a version is @N (the N-th in `profilesync profile history ID`), a label name, or a full version reference',
  PROFILE_VERSION_UNAVAILABLE: 'list the versions with `profilesync profile history ID`',
  PROFILE_INVALID: 'fix the field named in the message (see docs/profile-model.md for the rules)',
  PROFILE_INVALID_ID: 'ids are 1-128 of A-Z a-z 0-9 . _ : - and start with a letter or digit',
  LABEL_NOT_FOUND: 'the profile\'s labels are listed by `profilesync profile get ID`',
  TOKEN_NOT_FOUND: 'list the token ids with `profilesync token list`',
  TOKEN_LAST_ADMIN: 'create another admin token first (`profilesync token create NAME --role admin`)',
  PEER_NOT_FOUND: 'list the peer ids with `profilesync peer list`',
  PEER_INVALID: 'a peer is `ws://HOST:PORT/sync` with --key from `profilesync keys show` on that node',
  CACHE_NOT_FOUND: 'list the cache names with `profilesync cache stats`',
  REQUEST_INVALID: 'fix the value named in the message',
  AUDIT_INVALID: 'see `profilesync audit --help` for the forms --since and --until take',
  IMPORT_INVALID: 'import takes the output of `profilesync export` (JSON, or --format log)',
  LOG_LOCKED: 'another process (a running node) holds the data dir: stop it first, or use another --data dir',
  NODE_NOT_RUNNING: 'start the node on that dir (`profilesync serve --data DIR`), or pass --url and --token for a node elsewhere',
  ADMIN_TOKEN_WRONG_NODE: 'drop --url to reach the node running on the data dir, or pass --token with a token of the node at that URL',
  LOG_BACKUP_CORRUPT: 'use another copy of the backup; nothing was restored',
  BACKUP_INCOMPLETE: 'run the backup again; if it fails again, the node\'s log (a `backup failed` line) says why',
  BACKUP_IN_PROGRESS: 'another backup of the node is running: retry when it is done',
  LOG_RESTORE_NOT_EMPTY: 'name a dir that does not exist yet: `profilesync restore FILE --data NEW_DIR` (the restore creates it)',
  LOG_RESTORE_NOTHING: 'pick an --until between the first and the last entry time of the backup (the message names them), or leave --until out',
  ADMIN_TOKEN_UNAVAILABLE: 'pass --token; a restore issues a fresh admin token',
};

/** The hint for `code` (undefined only for codes no table knows and no family rule covers). */
export function hintFor(code: string): string | undefined {
  const direct = CLI_HINTS[code] ?? DOC_HINTS[code];
  if (direct !== undefined) return direct;
  if (/^HTTP_\d{3}$/.test(code)) return 'the URL answered, but not as a profilesync node: check --url (PROFILESYNC_URL)';
  if (code.startsWith('commander.')) return CLI_HINTS.USAGE;
  if (code.endsWith('_NOT_FOUND')) return 'check the id or name (the matching `list` command shows what exists)';
  return undefined;
}
