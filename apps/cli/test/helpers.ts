/** Runs the real built binary (apps/cli/dist/main.js) as a child process. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(BIN)) {
    throw new Error(`${BIN} is missing: build first (\`npx -y pnpm@10.34.8 build\`; \`pnpm test\` builds before testing)`);
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
  error: { code: string; message: string; hint?: string; details?: Record<string, any> } | undefined;
}

/** Env without the caller's PROFILESYNC_* so tests are hermetic. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PROFILESYNC_') && k !== 'FORCE_COLOR') env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

export function cli(args: string[], env: Record<string, string> = {}, input?: string): RunResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: cleanEnv(env), encoding: 'utf8', input, timeout: 60_000 });
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  let error: RunResult['error'];
  const lastErr = r.stderr.trim().split('\n').filter((l) => l.startsWith('{"error"')).pop();
  if (lastErr) error = (JSON.parse(lastErr) as { error: RunResult['error'] }).error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json, error };
}

export interface Served {
  child: ChildProcess;
  info: { url: string; pid: number; publicKey: string; fingerprint: string; adminToken?: string; dataDir: string; encrypted: boolean };
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--json', '--log-level', 'warn', ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => {
      resolve({
        child,
        info: JSON.parse(line),
        stderr: () => err,
        stop(signal: NodeJS.Signals = 'SIGTERM') {
          return new Promise((res) => {
            if (child.exitCode !== null) return res(child.exitCode);
            child.once('exit', (code) => res(code));
            child.kill(signal);
          });
        },
      });
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before listening: ${err}`)));
  });
}
