/**
 * Progress for long work (backup, restore, replay, verify, import): a cli-progress bar with
 * rate and ETA on a TTY stderr; plain periodic lines otherwise (at most one per interval,
 * plus the final one). Never on stdout, so --json output stays clean.
 */
import cliProgress from 'cli-progress';

export interface ProgressSink {
  update(done: number, total: number): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** plain mode: minimum ms between lines */
  intervalMs?: number;
  clock?: () => number;
  /** disable entirely (e.g. --quiet) */
  enabled?: boolean;
}

/** rate (units/s) and ETA (s) from elapsed time; pure, tested alone. */
export function rateAndEta(done: number, total: number, elapsedMs: number): { rate: number; etaSeconds: number | null } {
  if (elapsedMs <= 0 || done <= 0) return { rate: 0, etaSeconds: null };
  const rate = (done / elapsedMs) * 1000;
  const left = Math.max(0, total - done);
  return { rate, etaSeconds: rate > 0 ? left / rate : null };
}

export function formatPlainLine(label: string, done: number, total: number, elapsedMs: number): string {
  const { rate, etaSeconds } = rateAndEta(done, total, elapsedMs);
  const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
  const eta = etaSeconds === null ? '?' : `${Math.ceil(etaSeconds)}s`;
  return `${label}: ${done}/${total} (${pct}%) ${Math.round(rate)}/s ETA ${eta}`;
}

class PlainProgress implements ProgressSink {
  #label: string;
  #stream: NodeJS.WritableStream;
  #interval: number;
  #clock: () => number;
  #start: number;
  #last = -Infinity;
  #done = 0;
  #total = 0;
  #printedFinal = false;

  constructor(o: Required<Pick<ProgressOptions, 'label' | 'intervalMs' | 'clock'>> & { stream: NodeJS.WritableStream }) {
    this.#label = o.label;
    this.#stream = o.stream;
    this.#interval = o.intervalMs;
    this.#clock = o.clock;
    this.#start = o.clock();
  }

  update(done: number, total: number): void {
    this.#done = done;
    this.#total = total;
    const now = this.#clock();
    if (now - this.#last >= this.#interval || (done >= total && !this.#printedFinal)) {
      this.#last = now;
      if (done >= total) this.#printedFinal = true;
      this.#stream.write(`${formatPlainLine(this.#label, done, total, now - this.#start)}\n`);
    }
  }

  stop(): void {
    if (!this.#printedFinal && this.#total > 0) this.update(this.#total > this.#done ? this.#done : this.#total, this.#total);
  }
}

class BarProgress implements ProgressSink {
  #bar: cliProgress.SingleBar;
  #started = false;

  constructor(label: string, stream: NodeJS.WritableStream) {
    this.#bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  update(done: number, total: number): void {
    const rate = this.#rate(done);
    if (!this.#started) {
      this.#bar.start(total, done, { rate });
      this.#started = true;
    } else {
      this.#bar.setTotal(total);
      this.#bar.update(done, { rate });
    }
  }

  #t0 = Date.now();
  #rate(done: number): number {
    return Math.round(rateAndEta(done, done, Date.now() - this.#t0).rate);
  }

  stop(): void {
    if (this.#started) this.#bar.stop();
  }
}

class NoProgress implements ProgressSink {
  update(): void {}
  stop(): void {}
}

export function createProgress(opts: ProgressOptions): ProgressSink {
  if (opts.enabled === false) return new NoProgress();
  const stream = opts.stream ?? process.stderr;
  if ((stream as { isTTY?: boolean }).isTTY) return new BarProgress(opts.label, stream);
  return new PlainProgress({ label: opts.label, stream, intervalMs: opts.intervalMs ?? 2000, clock: opts.clock ?? Date.now });
}

const MB = 1024 * 1024;

/** `label: 12.3 MB (40.1 MB/s)` */
export function formatBytesLine(label: string, bytes: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (bytes / MB / elapsedMs) * 1000 : 0;
  return `${label}: ${(bytes / MB).toFixed(1)} MB (${rate.toFixed(1)} MB/s)`;
}

/**
 * Progress of a byte stream of unknown length (an online backup): a line rewritten in place on
 * a TTY, one plain line per interval otherwise, and the final figure on stop().
 */
export function createByteProgress(opts: ProgressOptions): { add(n: number): void; stop(): void } {
  if (opts.enabled === false) return { add() {}, stop() {} };
  const stream = opts.stream ?? process.stderr;
  const tty = (stream as { isTTY?: boolean }).isTTY === true;
  const clock = opts.clock ?? Date.now;
  const interval = tty ? 200 : (opts.intervalMs ?? 2000);
  const start = clock();
  let last = start;
  let bytes = 0;
  const print = (final: boolean) => {
    const line = formatBytesLine(opts.label, bytes, clock() - start);
    stream.write(tty ? `\r${line}\u001b[K${final ? '\n' : ''}` : `${line}\n`);
  };
  return {
    add(n: number) {
      bytes += n;
      const now = clock();
      if (now - last >= interval) {
        last = now;
        print(false);
      }
    },
    stop() {
      print(true);
    },
  };
}
