/**
 * `profilesync serve`, `init [--encrypt]`, `keys show|rotate|recover`.
 */
import type { Command } from 'commander';
import { ProfileSyncError } from '@profilesync/errors';
import type { AdminTokenResult } from '@profilesync/server';
import { isNodeDir } from '@profilesync/server/local';
import { addLocal, type Cli, type CommonOpts } from '../context.js';
import { getPassphrase, promptHidden } from '../prompt.js';

function adminTokenLines(t: AdminTokenResult): string[] {
  if (!t.token) return [];
  return ['admin token (shown once; the local CLI reads it from the file):', `  ${t.token}`, `  saved to ${t.file}`];
}

export function registerNode(program: Command, cli: Cli): void {
  addLocal(program.command('serve').description('run the node: HTTP API + WebSockets'))
    .option('--host <host>', 'bind address (default 127.0.0.1)')
    .option('--port <port>', 'TCP port (default 7878; 0 = any free port)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .option('--encrypt', 'create the data dir encrypted when it does not exist yet')
    .action(async (o: CommonOpts & { host?: string; port?: string; logLevel?: string; encrypt?: boolean }) => {
      const config = cli.config(o, { host: o.host, port: o.port, log_level: o.logLevel, ...(o.encrypt ? { encryption: true } : {}) });
      const { startServer } = await import('@profilesync/server');
      const out = cli.output(o);
      let adminToken: AdminTokenResult | undefined;
      const server = await startServer(config, { passphrase: cli.passphrase(), env: cli.io.env, onAdminToken: (t) => (adminToken = t) });
      const info = {
        url: server.url,
        dataDir: config.dataDir,
        encrypted: server.node.encrypted,
        publicKey: server.publicKey,
        fingerprint: server.fingerprint,
        ...(adminToken?.token ? { adminToken: adminToken.token, adminTokenFile: adminToken.file } : {}),
        ...(server.node.recoveryPhrase ? { recoveryPhrase: server.node.recoveryPhrase } : {}),
        pid: process.pid,
      };
      if (out.json) out.jsonLine(info);
      else {
        out.line(`profilesync listening on ${server.url}`);
        out.line(`  data dir   ${config.dataDir}${server.node.encrypted ? ' (encrypted)' : ''}`);
        out.line(`  public key ${server.publicKey}`);
        out.line(`  fingerprint ${server.fingerprint}`);
        if (server.node.recoveryPhrase) out.line(`  RECOVERY PHRASE (write it down, shown once): ${server.node.recoveryPhrase}`);
        for (const l of adminTokenLines(adminToken ?? { created: false })) out.line(l);
      }
      let stopping = false;
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) {
            cli.io.stderr.write(`second ${signal}: exiting now\n`);
            process.exit(1);
          }
          stopping = true;
          server.close().then(resolve, (err: unknown) => {
            cli.io.stderr.write(`shutdown failed: ${(err as Error).message}\n`);
            process.exitCode = 1;
            resolve();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
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
