/**
 * `backup FILE` (offline on a stopped data dir, or online from a running node) and
 * `restore FILE [--until TIME|SEQ]` (offline, into a data dir that holds no node).
 *
 * A backup is the log's backup stream (entries verbatim as stored, aux records: tokens,
 * peers) plus the files a node needs to read it: keyring.json for encrypted dirs (still
 * wrapped by the passphrase), identity.json for plaintext dirs. It is written to FILE.partial,
 * fsynced, checked end to end and renamed, so FILE is never a half-written backup.
 *
 * Restore replays it into a data dir that holds no node, stopping at --until (a time, or an
 * lsn: the SEQ of `restore --until`), rebuilds the views, then issues a NEW admin token for
 * the operator (old tokens keep working; the old admin.token file is not part of a backup).
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ProfileSyncError, errorCode } from '@profilesync/errors';
import type { LogCodec } from '@profilesync/log';
import type { Keyring } from '@profilesync/crypto';
import { isNodeDir, nodePaths } from '@profilesync/server/local';
import { addLocal, addRemote, type Cli, type CommonOpts } from '../context.js';
import { createByteProgress, createProgress } from '../progress.js';
import { parseUntil } from '../until.js';

/**
 * `backup FILE --url URL`: POST /api/backup streamed into FILE.partial, then checked end to end
 * (every record's crc, the trailer's counts and sha-256) and renamed: a connection that drops
 * mid-way leaves no FILE (BACKUP_INCOMPLETE).
 */
async function onlineBackup(cli: Cli, o: CommonOpts, file: string) {
  const api = await cli.client(o);
  const { commitBackupFile, discardPartial } = await import('@profilesync/server');
  const partial = `${file}.partial`;
  const res = await api.stream('POST', '/api/backup');
  const progress = createByteProgress({ label: 'backup', stream: cli.io.stderr });
  let writeFailed: NodeJS.ErrnoException | undefined;
  try {
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (c: Buffer) => progress.add(c.byteLength));
    const out = createWriteStream(partial, { mode: 0o600 });
    out.once('error', (err) => (writeFailed = err));
    await pipeline(body, out);
  } catch (err) {
    // this side could not write (a directory in the way, no permission, a full disk), or the node stopped sending
    const why = writeFailed
      ? new ProfileSyncError('LOG_BACKUP_WRITE_FAILED', `the backup could not be written: ${writeFailed.code && !writeFailed.message.startsWith(writeFailed.code) ? `${writeFailed.code} ${writeFailed.message}` : writeFailed.message}`, { details: { file: partial, errno: writeFailed.code }, cause: writeFailed })
      : new ProfileSyncError('BACKUP_INCOMPLETE', `the node at ${api.url} stopped sending the backup before its end (${(err as Error).message}); nothing was kept — the node's log says why`, { cause: err });
    throw discardPartial(partial, why);
  } finally {
    progress.stop();
  }
  let checked;
  try {
    checked = await commitBackupFile(partial, file);
  } catch (err) {
    if (errorCode(err) === 'LOG_BACKUP_CORRUPT') {
      throw new ProfileSyncError('BACKUP_INCOMPLETE', `the backup received from ${api.url} does not check out (${(err as Error).message}); nothing was kept — the node's log says why`, { cause: err });
    }
    throw err;
  }
  return { file, online: true, url: api.url, encrypted: checked.header.codecId !== 'plain', streams: checked.streams, entries: checked.entries, aux: checked.aux, sections: checked.sections, bytes: checked.bytes, sha256: checked.sha256, lastLsn: checked.header.lastLsn };
}

/** The backup file's directory must exist (checked before the data dir is opened: a clean USAGE error, not a stream crash). */
function checkBackupTarget(file: string): void {
  const dir = dirname(resolve(file));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new ProfileSyncError('USAGE', `cannot write the backup ${file}: the directory ${dir} does not exist`, { details: { file, dir } });
  if (existsSync(file) && statSync(file).isDirectory()) throw new ProfileSyncError('USAGE', `cannot write the backup ${file}: it is a directory`, { details: { file } });
}

/** Entries of `dir` (none when it does not exist). */
function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return [dir];
    throw err;
  }
}

/** `profilesync restore FILE --data DIR [--until X]`, quoted for a shell where needed. */
function restoreCommand(file: string, dir: string, until: string | undefined): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  return `profilesync restore ${q(file)} --data ${q(dir)}${until !== undefined ? ` --until ${q(until)}` : ''}`;
}

/** A sibling of `dir` (as the user wrote it) that does not exist yet: DIR-restored, DIR-restored-2, ... */
function freshDir(dir: string, cwd: string): string {
  const base = `${dir.replace(/[\\/]+$/, '')}-restored`;
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? base : `${base}-${i}`;
    if (!existsSync(resolve(cwd, candidate))) return candidate;
  }
}

/** LOG_RESTORE_NOTHING: the --until bound lies before every entry of the backup. */
function nothingRestored(file: string, until: string, span: { firstLsn: number; lastLsn: number; firstTs: number; lastTs: number }, dir: string): ProfileSyncError {
  const first = new Date(span.firstTs).toISOString();
  const last = new Date(span.lastTs).toISOString();
  return new ProfileSyncError('LOG_RESTORE_NOTHING', `--until ${until} is before every entry of ${file}: its entries run from ${first} to ${last} (lsn ${span.firstLsn} to ${span.lastLsn}); nothing was restored and ${dir} was left as it was`, {
    details: { file, until, firstAt: first, lastAt: last, firstLsn: span.firstLsn, lastLsn: span.lastLsn, hint: `pick an --until from ${first} (or lsn ${span.firstLsn}) on; \`--until ${last}\` keeps every entry` },
  });
}

export function registerBackup(program: Command, cli: Cli): void {
  addRemote(
    program
      .command('backup <file>')
      .description('write a checked backup: of the stopped data dir, or streamed online from a running node (--url, or the node running on --data)'),
  ).action(async (file: string, o: CommonOpts) => {
    checkBackupTarget(file);
    const out = cli.output(o);
    if (cli.isRemote(o)) {
      const report = await onlineBackup(cli, o, file);
      out.result(report, () => out.line(`backup ${file} (online from ${report.url}): ${report.entries} entries in ${report.streams} streams, ${report.bytes} bytes, lsn <= ${report.lastLsn}, sha256 ${report.sha256.slice(0, 16)}...`));
      return;
    }
    const { writeBackupFile } = await import('@profilesync/server');
    const report = await cli.offline(o, async (node, config) => {
      const progress = createProgress({ label: 'backup', stream: cli.io.stderr });
      try {
        return await writeBackupFile(node.log, config.dataDir, node.encrypted, file, (p) => progress.update(p.done, p.total));
      } finally {
        progress.stop();
      }
    }, { remote: true });
    out.result(report, () => out.line(`backup ${file}: ${report.entries} entries in ${report.streams} streams, ${report.bytes} bytes, lsn <= ${report.lastLsn}, sha256 ${report.sha256.slice(0, 16)}...`));
  });

  addLocal(program.command('restore <file>').description('replay a backup into a data dir that holds no node (--data), optionally only up to --until'))
    .option('--until <time|seq>', 'stop at this ISO-8601 time or lsn (per profile, a prefix of its history)')
    .action(async (file: string, o: CommonOpts & { until?: string }) => {
      const until = parseUntil(o.until);
      const { plainCodec, restoreLog } = await import('@profilesync/log');
      const { PROFILE_SNAPSHOT_POLICY, materializeProfile } = await import('@profilesync/core');
      const { AT_REST_CODEC_ID, IDENTITY_FILE, KEYRING_FILE, createAtRestCodec, unlockKeyring } = await import('@profilesync/crypto');
      const { TokenStore, openNode, writeAdminTokenFile, writeSecretFile } = await import('@profilesync/server');
      const config = cli.config(o);
      const notEmpty = (what: string) =>
        new ProfileSyncError('LOG_RESTORE_NOT_EMPTY', `${config.dataDir} ${what}: a restore only writes into a new or empty dir (nothing was changed)`, {
          details: { dir: config.dataDir, hint: `restore into a dir that does not exist yet (the restore creates it): \`${restoreCommand(file, freshDir(o.data ?? config.dataDir, cli.io.cwd), o.until)}\`` },
        });
      if (isNodeDir(config.dataDir)) throw notEmpty('already holds a node');
      const foreign = entriesOf(config.dataDir);
      if (foreign.length > 0) throw notEmpty(`is not empty (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''})`);
      if (!existsSync(file) || !statSync(file).isFile()) throw new ProfileSyncError('USAGE', `no backup file ${file}`);
      const existed = existsSync(config.dataDir);
      const paths = nodePaths(config.dataDir);
      const written: string[] = [];
      let keyring: Keyring | undefined;
      const progress = createProgress({ label: 'restore', stream: cli.io.stderr });
      let report;
      try {
        const codec = async ({ codecId, sections }: { codecId: string; sections: ReadonlyMap<string, Uint8Array> }): Promise<LogCodec> => {
          if (codecId === plainCodec.id) {
            const identity = sections.get(IDENTITY_FILE);
            if (identity) {
              writeSecretFile(join(config.dataDir, IDENTITY_FILE), identity);
              written.push(join(config.dataDir, IDENTITY_FILE));
            }
            return plainCodec;
          }
          if (codecId !== AT_REST_CODEC_ID) throw new ProfileSyncError('LOG_CODEC_MISMATCH', `backup uses codec ${codecId}, which this build cannot read`);
          const ring = sections.get(KEYRING_FILE);
          if (!ring) throw new ProfileSyncError('LOG_BACKUP_CORRUPT', 'encrypted backup without its keyring section');
          writeSecretFile(join(config.dataDir, KEYRING_FILE), ring);
          written.push(join(config.dataDir, KEYRING_FILE));
          keyring = await unlockKeyring(config.dataDir, { passphrase: await cli.passphrase(false)({ reason: 'unlock', dataDir: config.dataDir }) });
          return createAtRestCodec(keyring);
        };
        mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
        report = await restoreLog({ dir: paths.logDir, input: createReadStream(file), codec, materialize: materializeProfile, snapshotPolicy: PROFILE_SNAPSHOT_POLICY, onProgress: (p) => progress.update(p.done, p.total), ...until });
        // an --until before every entry would leave a node with nothing in it: refused, and removed below
        if (report.entries === 0 && report.skipped > 0 && report.span !== undefined) throw nothingRestored(file, o.until ?? '', report.span, config.dataDir);
      } catch (err) {
        // nothing of a failed restore stays behind: the files written here, and the dir if this run made it
        await keyring?.close();
        keyring = undefined;
        for (const f of written) rmSync(f, { force: true });
        if (existed) for (const name of entriesOf(config.dataDir)) rmSync(join(config.dataDir, name), { recursive: true, force: true });
        else rmSync(config.dataDir, { recursive: true, force: true });
        throw err;
      } finally {
        progress.stop();
        await keyring?.close();
      }
      // a fresh admin token for whoever restored (the old admin.token file is not in the backup)
      const admin = await (async () => {
        const node = await openNode({ dataDir: config.dataDir, passphrase: cli.passphrase(false) });
        try {
          const tokens = await TokenStore.open(node.log);
          const suffix = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
          const { info, token } = await tokens.create({ name: `admin-restore-${suffix}`, role: 'admin', profiles: null }, 'restore');
          await node.store.recordAudit({ action: 'token.create', actor: 'restore', origin: 'cli', outcome: 'ok', details: { id: info.id, role: 'admin', reason: 'restore' } });
          return { token, file: writeAdminTokenFile(config.dataDir, node.keyring, token), id: info.id };
        } finally {
          await node.close();
        }
      })();
      const result = { dataDir: config.dataDir, streams: report.streams, entries: report.entries, skipped: report.skipped, lastLsn: report.lastLsn, durationMillis: report.durationMillis, adminToken: admin.token, adminTokenFile: admin.file };
      const out = cli.output(o);
      out.result(result, () => {
        out.line(`restored ${report.entries} entries (${report.skipped} after --until skipped) in ${report.streams} streams into ${config.dataDir}, lsn <= ${report.lastLsn}`);
        out.line(`new admin token (shown once; also in ${admin.file}):`);
        out.line(`  ${admin.token}`);
      });
    });
}
