/**
 * Fleet nodes as real processes: the built `profilesync serve` binary started with the example
 * config files of docs/operations.md (written as they are), a real redis-server, free ports.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = join(ROOT, 'apps/cli/dist/main.js');
export const ADMIN = 'fleet-e2e-admin-token-0123456789';

export function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (\`pnpm build\`; \`pnpm test\` builds before testing)`);
}

/** The three TOML blocks between the fleet-example markers of docs/operations.md: { 'node-a.toml': text, ... }. */
export function exampleConfigs(): Record<string, string> {
  const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const start = doc.indexOf('<!-- fleet-example:start');
  const end = doc.indexOf('<!-- fleet-example:end -->');
  if (start < 0 || end < start) throw new Error('docs/operations.md has no fleet-example markers');
  const out: Record<string, string> = {};
  for (const m of doc.slice(start, end).matchAll(/```toml\n(# (\S+\.toml)\n[\s\S]*?)```/g)) out[m[2]!] = m[1]!;
  return out;
}

/** Env without the caller's PROFILESYNC_* (hermetic). */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PROFILESYNC_') && k !== 'FORCE_COLOR') env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

export class NodeProc {
  child: ChildProcess | undefined;
  url = '';
  stderr = '';
  #exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly configFile: string,
    readonly port: number,
    readonly env: Record<string, string>,
  ) {}

  get dataDir(): string {
    return join(this.dir, `./${this.name}`);
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** `profilesync serve --config <file>` (+ a free port and the test's Redis through the documented overrides). */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'serve', '--config', this.configFile, '--port', String(this.port), '--json', '--log-level', 'warn'], {
      cwd: this.dir,
      env: cleanEnv({ PROFILESYNC_ADMIN_TOKEN: ADMIN, ...this.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      this.stderr += c.toString();
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    });
    this.#exited = new Promise((r) => child.once('exit', () => r()));
    const info = await new Promise<{ url: string }>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', (line) => resolve(JSON.parse(line) as { url: string }));
      child.once('exit', (code) => reject(new Error(`${this.name} exited (${code}) before listening: ${this.stderr}`)));
    });
    this.url = info.url;
  }

  async kill(): Promise<void> {
    if (this.running) this.child!.kill('SIGKILL');
    await this.#exited;
  }

  async stop(): Promise<void> {
    if (this.running) this.child!.kill('SIGTERM');
    await this.#exited;
  }

  /** `profilesync verify --data DIR --json` (the node must be stopped). */
  verify(): { code: number; json: { ok: boolean; entries: number; broken: unknown[] } } {
    const r = spawnSync(process.execPath, [BIN, 'verify', '--data', this.dataDir, '--json'], { cwd: this.dir, env: cleanEnv({}), encoding: 'utf8', timeout: 120_000 });
    return { code: r.status ?? -1, json: JSON.parse(r.stdout || 'null') as { ok: boolean; entries: number; broken: unknown[] } };
  }
}

export function writeExampleConfigs(dir: string): string[] {
  const files = exampleConfigs();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return Object.keys(files);
}

export async function api<T = any>(base: string, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<{ status: number; body: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}
