/**
 * `profilesync serve`, `init [--encrypt]`, `keys show|rotate|recover`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ProfileSyncError } from '@profilesync/errors';
import type { AdminTokenResult } from '@profilesync/server';
import type { Logger } from 'pino';
import { colorEnabled } from '../output.js';
import { isNodeDir } from '@profilesync/server/local';
import { addLocal, type Cli, type CommonOpts } from '../context.js';
import { getPassphrase, promptHidden } from '../prompt.js';

function adminTokenLines(t: AdminTokenResult): string[] {
  if (!t.token) return [];
  return ['admin token (shown once; the local CLI reads it from the file):', `  ${t.token}`, `  saved to ${t.file}`];
}

export type LogFormat = 'pretty' | 'json';

/** `--log-format`: pretty on a terminal, JSON lines otherwise, unless asked. */
export function resolveLogFormat(value: string | undefined, stderr: { isTTY?: boolean }): LogFormat {
  if (value === undefined || value === 'auto') return stderr.isTTY === true ? 'pretty' : 'json';
  if (value === 'pretty' || value === 'json') return value;
  throw new ProfileSyncError('USAGE', `--log-format takes pretty, json or auto, got ${JSON.stringify(value)}`);
}

/** The node's logger on stderr: pino JSON lines, or pino-pretty's readable lines (written synchronously, in order). */
async function createLogger(level: string, format: LogFormat, color: boolean): Promise<Logger> {
  const { default: pino } = await import('pino');
  if (format === 'json') return pino({ level, base: { svc: 'profilesync' } }, pino.destination({ fd: 2, sync: false }));
  const { default: pretty } = await import('pino-pretty');
  return pino({ level, base: { svc: 'profilesync' } }, pretty({ destination: 2, sync: true, colorize: color, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,svc' }));
}

/** Where the admin token lives, said at every start (not only the first). */
function adminTokenWhere(dataDir: string, env: Record<string, string | undefined>, created: AdminTokenResult | undefined): { source: 'file' | 'sealed-file' | 'env' | 'none'; file?: string; text: string } {
  const plain = join(dataDir, 'admin.token');
  const sealed = join(dataDir, 'admin.token.sealed');
  if (created?.token && created.file) return { source: created.file.endsWith('.sealed') ? 'sealed-file' : 'file', file: created.file, text: `${created.file} (created now, printed below once)` };
  if (existsSync(plain)) return { source: 'file', file: plain, text: `${plain} (the CLI on this machine reads it: \`cat ${plain}\` to sign in to the dashboard)` };
  if (existsSync(sealed)) return { source: 'sealed-file', file: sealed, text: `${sealed} (sealed; the CLI opens it with the passphrase)` };
  if (env.PROFILESYNC_ADMIN_TOKEN) return { source: 'env', text: 'PROFILESYNC_ADMIN_TOKEN (preset; no file is written)' };
  return { source: 'none', text: 'no admin token file here (it was removed): use a token made with `profilesync token create`, or restore a backup (restore issues a new one)' };
}

export function registerNode(program: Command, cli: Cli): void {
  addLocal(program.command('serve').description('run the node: HTTP API + WebSockets'))
    .option('--host <host>', 'bind address (default 127.0.0.1)')
    .option('--port <port>', 'TCP port (default 7878; 0 = any free port)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .option('--log-format <format>', 'pretty (readable lines), json (one JSON object a line) or auto: pretty on a terminal, JSON otherwise (or PROFILESYNC_LOG_FORMAT)')
    .option('--encrypt', 'create the data dir encrypted when it does not exist yet')
    .action(async (o: CommonOpts & { host?: string; port?: string; logLevel?: string; logFormat?: string; encrypt?: boolean }) => {
      const config = cli.config(o, { host: o.host, port: o.port, log_level: o.logLevel, ...(o.encrypt ? { encryption: true } : {}) });
      const { startServer } = await import('@profilesync/server');
      const out = cli.output(o);
      let adminToken: AdminTokenResult | undefined;
      const logFormat = resolveLogFormat(o.logFormat ?? (cli.io.env.PROFILESYNC_LOG_FORMAT || undefined), cli.io.stderr);
      const logger = await createLogger(config.logLevel, logFormat, colorEnabled(cli.io.stderr, cli.io.env));
      const server = await startServer(config, { passphrase: cli.passphrase(), env: cli.io.env, onAdminToken: (t) => (adminToken = t), logger });
      const where = adminTokenWhere(config.dataDir, cli.io.env, adminToken);
      const info = {
        url: server.url,
        dataDir: config.dataDir,
        encrypted: server.node.encrypted,
        publicKey: server.publicKey,
        fingerprint: server.fingerprint,
        ...(adminToken?.token ? { adminToken: adminToken.token } : {}),
        ...(where.file ? { adminTokenFile: where.file } : {}),
        adminTokenSource: where.source,
        ...(server.node.recoveryPhrase ? { recoveryPhrase: server.node.recoveryPhrase } : {}),
        pid: process.pid,
      };
      // the handlers are in place BEFORE the banner's last line says "stop with Ctrl-C": a Ctrl-C
      // typed (or a SIGTERM sent by a script) the moment the line shows is a clean stop, never
      // Node's default exit that leaves server.json and skips the shutdown
      let stoppingAt: number | undefined;
      const stopped = new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          if (stoppingAt !== undefined) {
            // Ctrl-C reaches every process of the terminal's group and package managers forward it
            // too: a duplicate within a second is the same request, a later one means "now"
            if (Date.now() - stoppingAt < 1000) return;
            cli.io.stderr.write(`second ${signal}: exiting now\n`);
            process.exit(1);
          }
          stoppingAt = Date.now();
          // one line when the signal arrives (the shutdown ends with `closed`): a restart's stop and start line up in the log
          logger.info({ signal }, 'stopping');
          if (!out.json && cli.io.stdout.isTTY) out.line('stopping (Ctrl-C again after a second to exit at once)...');
          server.close().then(resolve, (err: unknown) => {
            cli.io.stderr.write(`shutdown failed: ${(err as Error).message}\n`);
            process.exitCode = 1;
            resolve();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      if (out.json) out.jsonLine(info);
      else {
        const b = (t: string) => out.style('bold', t);
        out.line(`${out.style('green', 'profilesync is ready')} at ${b(server.url)}  (dashboard; /readyz, /metrics, /openapi.json)`);
        out.line(`  data dir     ${config.dataDir}${server.node.encrypted ? ' (encrypted)' : ''}`);
        out.line(`  public key   ${server.publicKey}`);
        out.line(`  fingerprint  ${server.fingerprint}`);
        out.line(`  admin token  ${where.text}`);
        if (config.backup.intervalMinutes > 0) out.line(`  backups      every ${config.backup.intervalMinutes} min into ${server.backups.dir} (keep ${config.backup.keep})`);
        if (server.node.recoveryPhrase) out.line(`  ${b('RECOVERY PHRASE')} (write it down, shown once): ${server.node.recoveryPhrase}`);
        for (const l of adminTokenLines(adminToken ?? { created: false })) out.line(l);
        out.line(out.style('dim', `  logs go to stderr (${logFormat}); stop with Ctrl-C`));
      }
      await stopped;
    });

  addLocal(program.command('init').description('create a data dir: identity, log, first admin token (and a keyring with --encrypt)'))
    .option('--encrypt', 'encrypt at rest (passphrase: prompt, or PROFILESYNC_PASSPHRASE)')
    .action(async (o: CommonOpts & { encrypt?: boolean }) => {
      const config = cli.config(o);
      if (isNodeDir(config.dataDir)) throw new ProfileSyncError('NODE_EXISTS', `${config.dataDir} already holds a profilesync node`);
      const { TokenStore, ensureAdminToken, openNode } = await import('@profilesync/server');
      const node = await openNode({ dataDir: config.dataDir, create: true, encrypt: o.encrypt === true, passphrase: cli.passphrase(), scrypt: { N: 2 ** config.scryptLogN } });
      let admin: AdminTokenResult;
      try {
        const tokens = await TokenStore.open(node.log);
        const preset = cli.io.env.PROFILESYNC_ADMIN_TOKEN || undefined;
        admin = await ensureAdminToken(tokens, config.dataDir, node.keyring, preset);
        if (admin.created) await node.store.recordAudit({ action: 'token.create', actor: 'bootstrap', origin: 'cli', outcome: 'ok', details: { id: admin.tokenId, name: 'admin', role: 'admin', preset: preset !== undefined } });
      } finally {
        await node.close();
      }
      const out = cli.output(o);
      const info = {
        dataDir: config.dataDir,
        encrypted: node.encrypted,
        publicKey: node.identity.publicKeyText,
        fingerprint: node.identity.fingerprint,
        ...(node.recoveryPhrase ? { recoveryPhrase: node.recoveryPhrase } : {}),
        ...(admin.token ? { adminToken: admin.token, adminTokenFile: admin.file } : {}),
      };
      out.result(info, () => {
        out.line(`initialized ${config.dataDir}${node.encrypted ? ' (encrypted at rest)' : ''}`);
        out.line(`public key  ${info.publicKey}`);
        out.line(`fingerprint ${info.fingerprint}`);
        if (node.recoveryPhrase) {
          out.line('');
          out.line(out.style('bold', 'RECOVERY PHRASE (24 words, shown once; it unlocks the data if the passphrase is lost):'));
          out.line(`  ${node.recoveryPhrase}`);
        }
        for (const l of adminTokenLines(admin)) out.line(l);
      });
    });

  const keys = program.command('keys').description('node identity and at-rest keys');
  addLocal(keys.command('show').description('print this node\'s public key (for `peer add` on the other node); needs no passphrase, works while the node runs')).action(async (o: CommonOpts) => {
    const config = cli.config(o);
    if (!isNodeDir(config.dataDir)) throw new ProfileSyncError('NODE_NOT_INITIALIZED', `no profilesync node in ${config.dataDir}`);
    const { readPublicIdentity } = await import('@profilesync/crypto');
    // public data only: keyring.json's clear public key (encrypted dirs) or identity.json; no unlock, no log lock
    const identity = await readPublicIdentity(config.dataDir);
    if (!identity) {
      throw new ProfileSyncError('NODE_IDENTITY_NOT_FOUND', `${config.dataDir} has no node identity yet`, {
        details: { hint: 'start the node once (`profilesync serve`); it creates the identity' },
      });
    }
    const info = { publicKey: identity.publicKeyText, fingerprint: identity.fingerprint };
    const out = cli.output(o);
    out.result(info, () => {
      out.line(info.publicKey);
      out.line(out.style('dim', `fingerprint ${info.fingerprint}`));
    });
  });

  addLocal(keys.command('rotate').description('new data key for new writes (old keys stay, so history stays readable); the server must be stopped')).action(async (o: CommonOpts) => {
    const r = await cli.offline(o, async (node) => {
      if (!node.keyring) throw new ProfileSyncError('NODE_NOT_ENCRYPTED', 'this data dir is not encrypted; there is no data key to rotate');
      const { keyId } = await node.keyring.rotateDataKey();
      await node.store.recordAudit({ action: 'key.rotate', actor: 'cli', origin: 'cli', outcome: 'ok', details: { keyId } });
      return { keyId, keys: node.keyring.keys.length };
    });
    const out = cli.output(o);
    out.result(r, () => out.line(`data key ${r.keyId} is now active (${r.keys} keys held)`));
  });

  addLocal(keys.command('recover').description('unlock with the recovery phrase and set a new passphrase (PROFILESYNC_RECOVERY_PHRASE / PROFILESYNC_NEW_PASSPHRASE, or prompts)')).action(async (o: CommonOpts) => {
    const config = cli.config(o);
    const { checkPassphrase, isEncryptedDir, unlockKeyring } = await import('@profilesync/crypto');
    if (!(await isEncryptedDir(config.dataDir))) throw new ProfileSyncError('NODE_NOT_ENCRYPTED', `${config.dataDir} is not an encrypted data dir`);
    const env = cli.io.env;
    // a weak new passphrase given in the environment is refused before anything is unlocked
    if (env.PROFILESYNC_NEW_PASSPHRASE) checkPassphrase(env.PROFILESYNC_NEW_PASSPHRASE);
    const phrase = env.PROFILESYNC_RECOVERY_PHRASE || (await promptHidden('Recovery phrase (24 words): '));
    const keyring = await unlockKeyring(config.dataDir, { recoveryPhrase: phrase });
    try {
      const next = env.PROFILESYNC_NEW_PASSPHRASE || (await getPassphrase({ env: { ...env, PROFILESYNC_PASSPHRASE: undefined } }, { confirm: true, purpose: 'new passphrase' }));
      checkPassphrase(next);
      await keyring.resetPassphrase(next);
    } finally {
      await keyring.close();
    }
    const out = cli.output(o);
    out.result({ recovered: true, dataDir: config.dataDir }, () => out.line('new passphrase set; the recovery phrase stays valid'));
  });
}
