/**
 * What every command needs: output, config, the remote target (URL + token) and offline
 * access to a data dir (with a clear message when a server holds it).
 */
import { Command } from 'commander';
import { ProfileSyncError, errorCode } from '@profilesync/errors';
import { isLoopbackHost, loadConfig, readAdminToken, readServerFile, type PassphraseProvider, type ServerConfig, type ServerFileInfo } from '@profilesync/server/local';
import type { NodeHandle, OpenNodeOptions } from '@profilesync/server';
import { ApiClient, localUrl } from './client.js';
import { Output } from './output.js';
import { getPassphrase } from './prompt.js';

export interface CommonOpts {
  json?: boolean;
  data?: string;
  config?: string;
  url?: string;
  token?: string;
}

export interface CliIO {
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export function addJson(cmd: Command): Command {
  return cmd.option('--json', 'machine-readable JSON on stdout');
}

/** Options of commands that work on a local data dir. */
export function addLocal(cmd: Command): Command {
  return addJson(cmd).option('--data <dir>', 'data directory (default ./data, or PROFILESYNC_DATA_DIR)').option('--config <file>', 'TOML config file (or PROFILESYNC_CONFIG)');
}

/** Options of commands that talk to a running node. */
export function addRemote(cmd: Command): Command {
  return addLocal(cmd)
    .option('--url <url>', 'node URL (or PROFILESYNC_URL; default: the configured host:port)')
    .option('--token <token>', 'API token (or PROFILESYNC_TOKEN; default: the data dir\'s admin token)');
}

/**
 * The action of a `... <id>` command that DELETEs one thing on the node: prints `{ [key]: id }`
 * with --json, else `line(id)`.
 */
export function deleteAction(cli: Cli, path: (id: string) => string, key: string, line: (id: string) => string): (id: string, o: CommonOpts) => Promise<void> {
  return async (id, o) => {
    const api = await cli.client(o);
    await api.delete(path(id));
    const out = cli.output(o);
    out.result({ [key]: id }, () => out.line(line(id)));
  };
}

export class Cli {
  readonly io: CliIO;

  constructor(io: CliIO) {
    this.io = io;
  }

  output(opts: CommonOpts): Output {
    return new Output({ json: opts.json === true, stdout: this.io.stdout, stderr: this.io.stderr, env: this.io.env });
  }

  config(opts: CommonOpts, flags: Record<string, string | number | boolean | undefined> = {}): ServerConfig {
    return loadConfig({
      ...(opts.config !== undefined ? { file: opts.config } : {}),
      env: this.io.env,
      cwd: this.io.cwd,
      flags: { ...(opts.data !== undefined ? { data_dir: opts.data } : {}), ...flags },
    });
  }

  /** PROFILESYNC_PASSPHRASE, else a hidden prompt on a TTY. */
  passphrase(confirmOnCreate = true): PassphraseProvider {
    return ({ reason }) => getPassphrase({ env: this.io.env }, { confirm: reason === 'create' && confirmOnCreate, purpose: reason === 'create' ? 'new data dir' : 'unlock the data dir' });
  }

  /** The node running on the data dir (its `server.json`), if one is. */
  runningNode(opts: CommonOpts): ServerFileInfo | undefined {
    return readServerFile(this.config(opts).dataDir);
  }

  /** Whether a command that works offline or remotely should go remote: --url / PROFILESYNC_URL, or a node runs on the data dir. */
  isRemote(opts: CommonOpts): boolean {
    return opts.url !== undefined || (this.io.env.PROFILESYNC_URL ?? '') !== '' || this.runningNode(opts) !== undefined;
  }

  /**
   * The node to talk to: --url / PROFILESYNC_URL, else the node running on the data dir (its
   * `server.json`, whatever port it took), else the configured address; token from --token /
   * PROFILESYNC_TOKEN / PROFILESYNC_ADMIN_TOKEN, then the local admin token.
   */
  async client(opts: CommonOpts): Promise<ApiClient> {
    const env = this.io.env;
    let url = opts.url ?? (env.PROFILESYNC_URL || undefined);
    let config: ServerConfig | undefined;
    if (url === undefined) {
      config = this.config(opts);
      const running = readServerFile(config.dataDir);
      url = running ? localUrl(running.host, running.port) : localUrl(config.host, config.port);
    }
    let token = opts.token ?? (env.PROFILESYNC_TOKEN || undefined) ?? (env.PROFILESYNC_ADMIN_TOKEN || undefined);
    if (token === undefined) {
      // the local admin token never leaves this machine: only for the configured address or a loopback URL
      if (config === undefined && !isLoopbackUrl(url)) {
        throw new ProfileSyncError('AUTH_UNAUTHORIZED', `no token for ${url}: pass --token or set PROFILESYNC_TOKEN (the local admin token is only sent to a loopback address)`);
      }
      config ??= this.config(opts);
      token = await readAdminToken(config.dataDir, this.passphrase(false));
      if (token === undefined) {
        throw new ProfileSyncError('AUTH_UNAUTHORIZED', `no token: pass --token or set PROFILESYNC_TOKEN (no admin token file in ${config.dataDir})`);
      }
    }
    return new ApiClient({ url, token });
  }

  /** Runs `fn` on the data dir opened in this process; explains LOG_LOCKED (a server holds it). */
  async offline<T>(opts: CommonOpts, fn: (node: NodeHandle, config: ServerConfig) => Promise<T>, extra: Partial<OpenNodeOptions> = {}): Promise<T> {
    const config = this.config(opts);
    const { openNode } = await import('@profilesync/server');
    let node: NodeHandle;
    try {
      node = await openNode({
        dataDir: config.dataDir,
        passphrase: this.passphrase(),
        hotCacheBytes: config.cache.hotBytes,
        maxDocs: config.cache.maxDocs,
        maxProfileBytes: config.maxProfileBytes,
        ...extra,
      });
    } catch (err) {
      if (errorCode(err) === 'LOG_LOCKED') {
        const running = readServerFile(config.dataDir);
        const where = running ? ` at ${localUrl(running.host, running.port)} (pid ${running.pid})` : '';
        throw new ProfileSyncError('LOG_LOCKED', `a server is running on ${config.dataDir}${where} (its log is locked)`, {
          details: { hint: `stop that server first (Ctrl-C or SIGTERM)${running ? `, or run the command against it with --url ${localUrl(running.host, running.port)}` : ', or run the command against it with --url URL'}` },
          cause: err,
        });
      }
      throw err;
    }
    try {
      return await fn(node, config);
    } finally {
      await node.close();
    }
  }
}

/** Whether a URL points at this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return isLoopbackHost(host);
}
