/**
 * Closed pipes. When the reader of stdout goes away (`profilesync profile list | head -1`),
 * writes fail with EPIPE; with no 'error' listener Node throws that from an event and the
 * process dies with a stack. The CLI instead treats it as "nobody reads the rest": further
 * writes to that stream are dropped, the command finishes (closing the data dir properly) and
 * exits with its own code. A failure other than a closed pipe is still reported on stderr.
 */

const CLOSED_PIPE = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END', 'ECONNRESET']);

export interface GuardedStream extends NodeJS.WritableStream {
  on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): this;
}

const closed = new WeakSet<object>();

/** Whether the reader of `stream` has gone away. */
export function pipeClosed(stream: object): boolean {
  return closed.has(stream);
}

/** Installs the closed-pipe handling on each stream (idempotent). */
export function guardPipes(...streams: NodeJS.WritableStream[]): void {
  for (const stream of streams) {
    const s = stream as NodeJS.WritableStream & { __psGuarded?: boolean; destroyed?: boolean };
    if (s.__psGuarded) continue;
    s.__psGuarded = true;
    const write = s.write.bind(s) as (...args: unknown[]) => boolean;
    s.write = ((...args: unknown[]) => {
      if (closed.has(s) || s.destroyed) {
        // drop the chunk, but honour a callback so awaited writes do not hang
        const cb = args.find((a) => typeof a === 'function') as ((err?: Error | null) => void) | undefined;
        if (cb) queueMicrotask(() => cb(null));
        return true;
      }
      return write(...args);
    }) as typeof s.write;
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err && CLOSED_PIPE.has(err.code ?? '')) {
        closed.add(s);
        return;
      }
      // not a closed pipe: say so where it can still be read (never throw from an event)
      if (s !== process.stderr && !closed.has(process.stderr)) process.stderr.write(`output failed: ${err?.message ?? String(err)}\n`);
      closed.add(s);
      process.exitCode = process.exitCode || 1;
    });
  }
}
