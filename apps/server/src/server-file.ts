/**
 * `<data>/server.json`: a running node says where it listens. Written when the node is ready,
 * removed when it stops; `{ format, url, host, port, pid, startedAt }`. The CLI reads it so
 * that commands given only `--data` reach the node on whatever port it runs (and its LOG_LOCKED
 * message names that URL). A file left by a node that died (kill -9, power loss) is ignored:
 * its pid is no longer alive on this machine.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { dataDirAccessDenied } from './paths.js';

export const SERVER_FILE = 'server.json';
const FORMAT = 'profilesync-server/v1';

export interface ServerFileInfo {
  url: string;
  host: string;
  port: number;
  pid: number;
  startedAt: string;
}

export function serverFilePath(dataDir: string): string {
  return join(dataDir, SERVER_FILE);
}

/** Writes the file atomically (0600: it names no secret, but it is nobody else's business). */
export function writeServerFile(dataDir: string, info: ServerFileInfo): void {
  const path = serverFilePath(dataDir);
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ format: FORMAT, ...info }, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Removes the file if it is this process's (a newer node may have replaced it). */
export function removeServerFile(dataDir: string, pid: number = process.pid): void {
  let info: ServerFileInfo | undefined;
  try {
    info = readServerFileRaw(dataDir);
  } catch {
    return; // not ours to read, so not ours to remove
  }
  if (info && info.pid === pid) rmSync(serverFilePath(dataDir), { force: true });
}

/**
 * The file's contents, or undefined (none, or malformed). A file (or dir) this user may not
 * read is DATA_DIR_ACCESS_DENIED: a node may well run there, as another user, and "no node is
 * running" would send the operator the wrong way.
 */
function readServerFileRaw(dataDir: string): ServerFileInfo | undefined {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(serverFilePath(dataDir), 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw dataDirAccessDenied(dataDir, code);
    return undefined;
  }
  const d = data as Partial<ServerFileInfo> & { format?: unknown };
  if (d.format !== FORMAT || typeof d.url !== 'string' || typeof d.host !== 'string' || typeof d.port !== 'number' || typeof d.pid !== 'number' || typeof d.startedAt !== 'string') return undefined;
  if (!/^https?:\/\//.test(d.url) || !Number.isInteger(d.port) || d.port <= 0 || d.port > 65535 || !Number.isInteger(d.pid) || d.pid <= 0) return undefined;
  return { url: d.url, host: d.host, port: d.port, pid: d.pid, startedAt: d.startedAt };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running node of `dataDir`, or undefined (no file, a malformed one, or its process is gone); DATA_DIR_ACCESS_DENIED when this user may not read it. */
export function readServerFile(dataDir: string): ServerFileInfo | undefined {
  const info = readServerFileRaw(dataDir);
  return info && alive(info.pid) ? info : undefined;
}
