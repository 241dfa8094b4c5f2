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
   * `server.json`, whatever port it took). With no node running on the data dir: the configured
   * address, but only for an explicit token and a data dir nobody named; else NODE_NOT_RUNNING
   * (a node on the default URL may serve another dir). Token from --token / PROFILESYNC_TOKEN /
   * PROFILESYNC_ADMIN_TOKEN, then the data dir's admin token, which is only ever sent to the
   * node that serves that dir (its `server.json`): never to whatever else answers on a port.
   */
  async client(opts: CommonOpts): Promise<ApiClient> {
    const env = this.io.env;
    const explicitUrl = opts.url ?? (env.PROFILESYNC_URL || undefined);
    const explicitToken = opts.token ?? (env.PROFILESYNC_TOKEN || undefined) ?? (env.PROFILESYNC_ADMIN_TOKEN || undefined);
    // the data dir counts only when it can matter: no explicit URL, or its admin token is needed
    const config = explicitUrl === undefined || explicitToken === undefined ? this.config(opts) : undefined;
    const running = config ? readServerFile(config.dataDir) : undefined;
    let url = explicitUrl;
    if (url === undefined) {
      const c = config as ServerConfig;
      // a dir (or config) the user named is the node they mean; only the default ./data falls back
      const named = opts.data !== undefined || opts.config !== undefined || (env.PROFILESYNC_DATA_DIR ?? '') !== '' || (env.PROFILESYNC_CONFIG ?? '') !== '';
      if (running) url = localUrl(running.host, running.port);
      else if (explicitToken !== undefined && !named) url = localUrl(c.host, c.port);
      else throw notRunning(c.dataDir, opts, `nothing was sent to ${localUrl(c.host, c.port)} (the configured address, where another dir's node may run)`);
    }
    let token = explicitToken;
    if (token === undefined) {
      const c = config as ServerConfig;
      if (explicitUrl !== undefined) {
        // the local admin token never leaves this machine, and only goes to the node that serves its dir
        if (!isLoopbackUrl(explicitUrl)) {
          throw new ProfileSyncError('AUTH_UNAUTHORIZED', `no token for ${explicitUrl}: pass --token or set PROFILESYNC_TOKEN (the local admin token is only sent to a loopback address)`);
        }
        if (!running) throw notRunning(c.dataDir, opts, `its admin token is not sent to ${explicitUrl}`);
        if (!sameNode(explicitUrl, running)) {
          const own = localUrl(running.host, running.port);
          throw new ProfileSyncError('ADMIN_TOKEN_WRONG_NODE', `${explicitUrl} is not the node running on ${c.dataDir} (that one listens at ${own}): the admin token of ${c.dataDir} is only sent to its own node`, {
            details: { url: explicitUrl, dataDir: c.dataDir, nodeUrl: own, hint: `drop --url (the CLI finds ${own} from ${c.dataDir}), or pass --token with a token of the node at ${explicitUrl}` },
          });
        }
      }
      token = await readAdminToken(c.dataDir, this.passphrase(false));
      if (token === undefined) {
        throw new ProfileSyncError('AUTH_UNAUTHORIZED', `no token: pass --token or set PROFILESYNC_TOKEN (no admin token file in ${c.dataDir})`);
      }
    }
    return new ApiClient({ url, token });
  }

  /**
   * Runs `fn` on the data dir opened in this process. When a server holds the dir (LOG_LOCKED)
   * the hint offers `--url` only to commands that take it (`remote`), else what does work while
   * the node runs (`whileRunning`), if anything.
   */
  async offline<T>(opts: CommonOpts, fn: (node: NodeHandle, config: ServerConfig) => Promise<T>, use: OfflineUse = {}): Promise<T> {
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
        ...use.open,
      });
    } catch (err) {
      if (errorCode(err) === 'LOG_LOCKED') {
        const running = readServerFile(config.dataDir);
        const url = running ? localUrl(running.host, running.port) : undefined;
        const where = running ? ` at ${url} (pid ${running.pid})` : '';
        const stop = `stop that server first (Ctrl-C where it runs, or \`kill -TERM ${running ? running.pid : 'PID'}\`), then run this again`;
        const other = use.remote ? `, or run the command against it with ${url ? `--url ${url}` : '--url URL --token TOKEN'}` : use.whileRunning ? `; ${use.whileRunning(url ?? 'URL')}` : '';
        throw new ProfileSyncError('LOG_LOCKED', `a server is running on ${config.dataDir}${where} (its log is locked)`, {
          details: { dataDir: config.dataDir, ...(url ? { url } : {}), hint: stop + other },
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

/** What a command that opens the data dir itself offers when a server holds it. */
export interface OfflineUse {
  /** more openNode options */
  open?: Partial<OpenNodeOptions>;
  /** the command takes --url (it can run against the node instead) */
  remote?: boolean;
  /** what does work while the node runs (given its URL), for commands without --url */
  whileRunning?: (url: string) => string;
}

/** NODE_NOT_RUNNING: no node serves `dataDir` (its `server.json` is missing, or its process is gone). */
function notRunning(dataDir: string, opts: CommonOpts, why: string): ProfileSyncError {
  const start = `profilesync serve${opts.data !== undefined ? ` --data ${opts.data}` : ''}${opts.config !== undefined ? ` --config ${opts.config}` : ''}`;
  return new ProfileSyncError('NODE_NOT_RUNNING', `no node is running on ${dataDir} (it has no server.json of a live node): ${why}`, {
    details: { dataDir, hint: `start it with \`${start}\` (in another terminal), or pass --url and --token for a node elsewhere` },
  });
}

/** Whether `url` reaches the node described by `running` (same port; same host, or both on this machine). */
function sameNode(url: string, running: ServerFileInfo): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  if (port !== running.port) return false;
  const own = new URL(localUrl(running.host, running.port)).hostname;
  // localUrl maps a wildcard bind to loopback: a node on 0.0.0.0 is reached on 127.0.0.1 and localhost alike
  return u.hostname === own || (isLoopbackHost(u.hostname) && isLoopbackHost(own));
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
