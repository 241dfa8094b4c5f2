/**
 * Test/bench helper: a real redis-server on a free 127.0.0.1 port, in a temp dir, with
 * persistence off. Fails (never skips) when redis-server is missing, naming the package.
 *
 *   const server = await startRedisServer();
 *   ... server.url ...
 *   await server.kill();      // SIGKILL, like a crash
 *   await server.restart();   // same port; empty dataset unless started with { persist: true }
 *   await server.stop();
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { createClient } from 'redis';
import { join } from 'node:path';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly running: boolean;
  /** SIGKILL (a crash); resolves when the process is gone */
  kill(): Promise<void>;
  /** starts again on the same port (after kill/stop) and waits for PING */
  restart(): Promise<void>;
  /** SIGTERM, waits, removes the temp dir */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

function ensureBinary(): void {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      'redis-server is not on PATH; the cache tests need a real one. Install the Debian package: ' +
        '`sudo apt-get install -y redis-server` (scripts/ensure-system-deps.sh does it in CI).',
    );
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Asks whoever listens on `port`: PING, then INFO server. The pid of the redis-server that
 * answered +PONG, or undefined (nothing there, not ready, not redis).
 */
function answeringPid(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (pid: number | undefined): void => {
      s.destroy();
      resolve(pid);
    };
    s.setTimeout(500, () => done(undefined));
    s.on('error', () => done(undefined));
    s.on('connect', () => s.write('PING\r\nINFO server\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n') && !buf.startsWith('+PONG')) return done(undefined);
      const m = /process_id:(\d+)\r\n/.exec(buf);
      if (m !== null) done(Number(m[1]));
    });
  });
}

/** Whether nothing listens on 127.0.0.1:`port` now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A free port BELOW the kernel's ephemeral range (32768-60999 on Linux by default), for a
 * server that a test kills and restarts on the same port: a port from freePort() (bind to 0)
 * is in that range, and while the server is down the kernel may give it to any other socket
 * (another test's server, an outgoing connection), which would then answer in its place.
 */
async function stablePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

export interface RedisServerOptions {
  /** a fixed port (default: a free one) */
  port?: number;
  /** keep data across kill/restart: append-only file, fsync on every write (default off) */
  persist?: boolean;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  ensureBinary();
  const dir = mkdtempSync(join(tmpdir(), 'profilesync-redis-'));
  let port = options.port ?? 0;
  const persistence = options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let proc: ChildProcess | undefined;

  const launch = async (): Promise<boolean> => {
    const p = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir,
        '--protected-mode', 'no', '--loglevel', 'warning', '--daemonize', 'no'],
      { stdio: 'ignore' },
    );
    live.add(p);
    p.once('exit', () => live.delete(p));
    proc = p;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (p.exitCode !== null || p.signalCode !== null) return false; // e.g. port taken
      // the server that answers must be this process (not another one that took the port)
      const pid = await answeringPid(port);
      if (pid !== undefined && pid === p.pid) return true;
      if (pid !== undefined) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    p.kill('SIGKILL');
    await exited(p);
    return false;
  };

  for (let attempt = 0; ; attempt++) {
    if (options.port === undefined) port = await stablePort();
    if (await launch()) break;
    if (attempt >= 4) throw new Error(`redis-server did not answer PING on 127.0.0.1:${port}`);
    if (options.port !== undefined) await new Promise((r) => setTimeout(r, 100));
  }

  const server: RedisServer = {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    get running() {
      return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
    },
    async kill() {
      if (proc && server.running) {
        proc.kill('SIGKILL');
        await exited(proc);
      }
    },
    async restart() {
      if (server.running) return;
      for (let i = 0; i < 50; i++) {
        if (await launch()) return;
        await new Promise((r) => setTimeout(r, 50)); // the port may still be in TIME_WAIT / held
      }
      throw new Error(`redis-server could not restart on port ${port}`);
    },
    async stop() {
      if (proc && server.running) {
        const p = proc;
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 5000);
        await exited(p);
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/**
 * A plain node-redis client (default options, offline queue on), for tests and the
 * bench's bare-GET baseline. Lives here so callers outside this package (test/bench)
 * resolve `redis` through this package's dependencies.
 */
const plainClient = (url: string) => createClient({ url });
export type BareRedisClient = ReturnType<typeof plainClient>;

export async function bareRedisClient(url: string): Promise<BareRedisClient> {
  const client = plainClient(url);
  client.on('error', () => {});
  await client.connect();
  return client;
}
