/**
 * Human output (tables, colors only on a TTY and never with NO_COLOR) or --json (one JSON
 * document on stdout). Errors go to stderr in both modes (as JSON with --json).
 *
 * On a terminal, control characters in data (ANSI escape sequences, NUL, CR, bidi overrides:
 * anything a profile field could carry to rewrite the screen) are printed escaped (`\x1b`,
 * `\u202e`); only newline and tab pass, plus the color codes this module adds itself. Pipes
 * and files get the data as it is; --json escapes through JSON.
 */
export interface OutputOptions {
  json: boolean;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: Record<string, string | undefined>;
}

export function colorEnabled(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

const ANSI = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;
type Style = keyof typeof ANSI;

// C0 (but tab and newline), DEL, C1, and the Unicode bidi/format controls that reorder text
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeOne(c: string): string {
  const n = c.charCodeAt(0);
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/** `s` with every control character but tab and newline written as an escape (`\x1b`, `\u202e`). */
export function escapeControls(s: string): string {
  return s.replace(CONTROL_RE, escapeOne);
}

/** The SGR sequences `Output.style` emits; everything else escaped (for whole lines on a terminal). */
// eslint-disable-next-line no-control-regex
const OWN_SGR_RE = /(\x1b\[(?:1|2|22|31|32|33|36|39)m)/;

function escapeLine(s: string): string {
  return s
    .split(OWN_SGR_RE)
    .map((part, i) => (i % 2 === 1 ? part : escapeControls(part)))
    .join('');
}

/** Visible width of a string (ANSI escapes removed). */
export function visibleWidth(s: string): number {
  // eslint-disable-next-line no-control-regex
  return [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;
}

export function renderTable(headers: string[], rows: (string | number | boolean | null | undefined)[][], style: (s: Style, t: string) => string = (_s, t) => t): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(visibleWidth(h), ...cells.map((r) => visibleWidth(r[i] ?? ''))));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleWidth(c)))).join('  ').trimEnd();
  return [style('bold', line(headers)), ...cells.map(line)].join('\n');
}

export class Output {
  readonly json: boolean;
  readonly color: boolean;
  readonly errColor: boolean;
  /** stdout / stderr is a terminal: control characters in data are escaped */
  readonly tty: boolean;
  readonly errTty: boolean;
  #out: NodeJS.WritableStream;
  #err: NodeJS.WritableStream;

  constructor(opts: OutputOptions) {
    const env = opts.env ?? process.env;
    this.json = opts.json;
    this.#out = opts.stdout ?? process.stdout;
    this.#err = opts.stderr ?? process.stderr;
    this.color = colorEnabled(this.#out as { isTTY?: boolean }, env);
    this.errColor = colorEnabled(this.#err as { isTTY?: boolean }, env);
    this.tty = (this.#out as { isTTY?: boolean }).isTTY === true;
    this.errTty = (this.#err as { isTTY?: boolean }).isTTY === true;
  }

  /** Data for a human on stdout: escaped on a terminal, as is otherwise. */
  safe(text: string): string {
    return this.tty ? escapeControls(text) : text;
  }

  style(s: Style, text: string): string {
    if (!this.color) return text;
    const [a, b] = ANSI[s];
    return `\x1b[${a}m${text}\x1b[${b}m`;
  }

  /** Prints `data` as JSON in --json mode, else calls `human` (which prints lines). */
  result(data: unknown, human: () => void): void {
    if (this.json) this.#out.write(`${JSON.stringify(data, null, 2)}\n`);
    else human();
  }

  /** One JSON document on one line (for streams a script reads line by line). */
  jsonLine(data: unknown): void {
    this.#out.write(`${JSON.stringify(data)}\n`);
  }

  line(text = ''): void {
    this.#out.write(`${this.tty ? escapeLine(text) : text}\n`);
  }

  table(headers: string[], rows: (string | number | boolean | null | undefined)[][]): void {
    if (rows.length === 0) {
      this.line(this.style('dim', '(none)'));
      return;
    }
    const cells = this.tty ? rows.map((r) => r.map((c) => (typeof c === 'string' ? escapeControls(c) : c))) : rows;
    this.line(renderTable(headers, cells, (s, t) => this.style(s, t)));
  }

  /** key: value lines, aligned. */
  fields(pairs: [string, unknown][]): void {
    const w = Math.max(...pairs.map(([k]) => k.length));
    for (const [k, v] of pairs) {
      const text = typeof v === 'string' ? v : v === undefined || v === null ? '-' : JSON.stringify(v);
      this.line(`${this.style('bold', k.padEnd(w))}  ${this.safe(text)}`);
    }
  }

  /** Notes for humans (stderr in --json mode so stdout stays parseable). */
  note(text: string): void {
    if (this.json) this.#err.write(`${this.errTty ? escapeControls(text) : text}\n`);
    else this.line(text);
  }

  /** `details` (the node's or the command's, e.g. `missing` of a render, `path`/`rule` of a refused write) go only into the --json document. */
  /** A warning about a result whose stdout a script reads (the request body of a render): always on stderr. */
  warn(text: string): void {
    this.#err.write(`${this.errTty ? escapeControls(text) : text}\n`);
  }

  error(code: string, message: string, hint?: string, details?: Record<string, unknown>): void {
    if (this.json) {
      this.#err.write(`${JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}), ...(details && Object.keys(details).length > 0 ? { details } : {}) } })}\n`);
      return;
    }
    const red = (t: string) => (this.errColor ? `\x1b[31m${t}\x1b[39m` : t);
    const safe = (t: string) => (this.errTty ? escapeControls(t) : t);
    this.#err.write(`${red(`error ${safe(code)}`)}: ${safe(message)}\n`);
    // a refused write names its first problem in the message; the others follow, one a line
    const issues = details?.['issues'];
    if (Array.isArray(issues) && issues.length > 1) {
      for (const i of issues.slice(1) as { path?: unknown; message?: unknown }[]) this.#err.write(`  also ${safe(String(i.path))}: ${safe(String(i.message))}\n`);
    }
    if (hint) this.#err.write(`  ${safe(hint)}\n`);
  }
}
