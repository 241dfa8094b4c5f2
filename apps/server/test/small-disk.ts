/**
 * Test support: a real small file system (tmpfs of a given size) mounted on a temp dir, and a
 * filler that takes every free byte of it. Mounting needs root (CI runs as root here) or
 * password-less sudo; otherwise `mountSmallDisk` throws and says so — the disk-full test then
 * fails with that message instead of pretending (no skip).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  dir: string;
  /** bytes still free */
  free(): number;
  /** writes a filler file until the disk is full (ENOSPC); returns its size */
  fill(): number;
  /** removes the filler: space returns */
  drain(): void;
  unmount(): void;
}

function privileged(cmd: string, args: string[]): void {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root) execFileSync(cmd, args, { stdio: 'pipe' });
  else execFileSync('sudo', ['-n', cmd, ...args], { stdio: 'pipe' });
}

export function mountSmallDisk(sizeBytes: number): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), 'ps-smalldisk-'));
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const gid = typeof process.getgid === 'function' ? process.getgid() : 0;
  try {
    privileged('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700,uid=${uid},gid=${gid}`, 'tmpfs', dir]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `the disk-full test needs a small real file system: 'mount -t tmpfs' failed (${String((err as Error).message).split('\n')[0]}). ` +
        'Run the tests as root (CI does) or with password-less sudo.',
    );
  }
  const filler = join(dir, 'filler.bin');
  return {
    dir,
    free() {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    },
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      let size = 0;
      try {
        for (;;) {
          try {
            size += writeSync(fd, chunk);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
            // the last pages: smaller writes until not even one byte fits
            let n = chunk.length >> 1;
            while (n >= 1) {
              try {
                size += writeSync(fd, chunk.subarray(0, n));
              } catch {
                n >>= 1;
              }
            }
            return size;
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    drain() {
      rmSync(filler, { force: true });
    },
    unmount() {
      try {
        unlinkSync(filler);
      } catch {
        // already drained
      }
      try {
        privileged('umount', ['-l', dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
