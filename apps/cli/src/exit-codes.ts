/**
 * Exit codes of `profilesync` (documented in docs/operations.md and apps/cli/README.md).
 * One pure function maps an error code to an exit code.
 */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  DAMAGE: 3,
  NOT_FOUND: 4,
  AUTH: 5,
  CONFLICT: 6,
  UNAVAILABLE: 7,
  INVALID: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeFor(code: string | undefined): ExitCode {
  if (code === undefined) return EXIT.ERROR;
  if (code === 'USAGE' || code === 'CONFIG_INVALID' || code.startsWith('commander.')) return EXIT.USAGE;
  if (code === 'VERIFY_DAMAGE' || code === 'LOG_CHECKSUM_MISMATCH' || code === 'LOG_CORRUPT' || code === 'LOG_BACKUP_CORRUPT' || code === 'CRYPTO_AUTH_FAILED' || code === 'PROFILE_DAMAGED' || code === 'LOG_STREAM_DAMAGED') return EXIT.DAMAGE;
  if (code.endsWith('_NOT_FOUND') || code === 'NODE_NOT_INITIALIZED' || code === 'PROFILE_DELETED' || code === 'PROFILE_VERSION_UNAVAILABLE') return EXIT.NOT_FOUND;
  if (code.startsWith('AUTH_') || code === 'CRYPTO_BAD_PASSPHRASE' || code === 'CRYPTO_BAD_RECOVERY_PHRASE' || code === 'CRYPTO_PASSPHRASE_REQUIRED' || code === 'CRYPTO_PASSPHRASE_WEAK' || code === 'ADMIN_TOKEN_UNAVAILABLE' || code === 'ADMIN_TOKEN_WRONG_NODE' || code === 'DATA_DIR_ACCESS_DENIED') return EXIT.AUTH;
  if (code.endsWith('_EXISTS') || code === 'CONFLICT_RESOLVED' || code === 'TOKEN_LAST_ADMIN' || code === 'LOG_RESTORE_NOT_EMPTY' || code === 'WEBHOOK_READONLY') return EXIT.CONFLICT;
  if (code === 'SERVER_UNREACHABLE' || code === 'NODE_NOT_RUNNING' || code === 'SERVER_ADDRESS_IN_USE' || code === 'SERVER_LISTEN_FAILED' || code === 'LOG_LOCKED' || code === 'SYNC_UNAVAILABLE' || code === 'SYNC_TIMEOUT' || code === 'SYNC_NOT_CONVERGED' || code === 'LOG_WRITE_FAILED' || code === 'LOG_DISK_FULL' || code === 'LOG_BACKUP_WRITE_FAILED' || code === 'LOG_OPEN_FAILED' || code === 'SERVER_SHUTTING_DOWN' || code === 'SERVER_STARTING' || code === 'BACKUP_IN_PROGRESS' || code === 'BACKUP_INCOMPLETE' || code === 'CHANGES_TOO_MANY_CONNECTIONS' || code === 'TOKEN_TOO_MANY_CONNECTIONS') return EXIT.UNAVAILABLE;
  if (code.startsWith('REQUEST_') || code.startsWith('PROFILE_') || code.startsWith('LABEL_') || code.startsWith('PEER_') || code === 'TOKEN_INVALID' || code === 'IMPORT_INVALID' || code === 'LOG_RESTORE_NOTHING' || code === 'AUDIT_INVALID' || code === 'CRYPTO_BAD_PUBLIC_KEY' || code === 'WEBHOOK_INVALID') return EXIT.INVALID;
  return EXIT.ERROR;
}
