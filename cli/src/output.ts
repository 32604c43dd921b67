import { closeSync, openSync, writeSync } from 'node:fs';
import Table from 'cli-table3';
import picocolors from 'picocolors';
import { OutputFileError } from './errors';

/**
 * Terminal rendering of the `sourced` client: where output goes (stdout or --output FILE), whether
 * it is a terminal, colours (picocolors, switched on or off by {@link colorEnabled}), aligned
 * columns (cli-table3 without borders), the live line (a check running, discovery progress) and
 * the check lines of validation (discoveryView.ts draws discovery). The commands decide what to say;
 * this file decides how it looks.
 */

/** Control sequences: carriage return + erase the whole line. */
const CLEAR_LINE = '\r\x1b[2K';

/** A stream that may be a terminal (process.stdout, process.stderr). */
interface TermStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** Whether a stream is an interactive terminal. */
export function isTerminal(stream: { isTTY?: boolean }): boolean {
  return stream.isTTY === true;
}

/**
 * Colours or not, in this order: --no-color turns them off; FORCE_COLOR turns them on (off when
 * "0" or "false"), even without a terminal, as in Node itself; NO_COLOR (non-empty) turns them
 * off; otherwise they are on for a terminal whose TERM is not "dumb".
 */
export function colorEnabled(tty: boolean, noColorFlag: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (noColorFlag) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !['0', 'false'].includes(force.trim().toLowerCase());
  if (env.NO_COLOR) return false;
  return tty && env.TERM !== 'dumb';
}

/**
 * Unicode marks (✔ ✖ ! –) for a terminal; the plain ASCII ones (ok, FAIL, warn, skip) for files,
 * pipes and whoever asked for no colour (NO_COLOR, --no-color).
 */
export function unicodeEnabled(tty: boolean, noColorFlag: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return tty && !noColorFlag && !env.NO_COLOR && env.TERM !== 'dumb';
}

/**
 * The colours the client uses (picocolors' SGR codes), the identity when colours are off. The
 * decision is {@link colorEnabled}'s, not picocolors' own guess: that one looks at process.stdout
 * and the process's arguments, while the output may be a file (--output) or stderr.
 */
export class Paint {
  readonly bold: (t: string) => string;
  readonly dim: (t: string) => string;
  readonly red: (t: string) => string;
  readonly green: (t: string) => string;
  readonly yellow: (t: string) => string;
  readonly cyan: (t: string) => string;
  constructor(readonly on: boolean) {
    const c = picocolors.createColors(on);
    // An empty text stays empty (no codes around nothing).
    const keepEmpty = (format: (t: string) => string) => (t: string) => (t ? format(t) : t);
    this.bold = keepEmpty(c.bold);
    this.dim = keepEmpty(c.dim);
    this.red = keepEmpty(c.red);
    this.green = keepEmpty(c.green);
    this.yellow = keepEmpty(c.yellow);
    this.cyan = keepEmpty(c.cyan);
  }
}

/** Cell borders of a table without borders: columns two spaces apart. */
const NO_BORDERS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

/**
 * Rows of cells as aligned lines (cli-table3: colour codes and wide characters measured right):
 * columns two spaces apart, no borders, no trailing blanks. A column with a width in `colWidths`
 * is cut to it, a longer value ending in …; the others are as wide as their widest cell.
 */
export function alignedRows(rows: string[][], colWidths?: (number | null)[]): string[] {
  if (rows.length === 0 || rows[0].length === 0) return [];
  const table = new Table({
    chars: NO_BORDERS,
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [], compact: true },
    ...(colWidths ? { colWidths } : {}),
  });
  table.push(...rows);
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd());
}

/**
 * A line on a terminal that is rewritten in place (a running check, progress). Does nothing on a
 * stream that is not a terminal. Longer text is cut to the terminal's width so it never wraps
 * (a wrapped line could not be erased with one carriage return).
 */
export class LiveLine {
  private shown = false;
  constructor(private readonly stream: TermStream | undefined) {}

  get active(): boolean {
    return this.stream !== undefined;
  }

  private text = '';

  set(text: string): void {
    if (!this.stream) return;
    const width = this.stream.columns ?? 0;
    this.text = width > 1 ? fit(text, width - 1) : text;
    this.stream.write(`${CLEAR_LINE}${this.text}`);
    this.shown = true;
  }

  /** Erases the line; `restore()` draws it again. */
  clear(): void {
    if (!this.stream || !this.shown) return;
    this.stream.write(CLEAR_LINE);
    this.shown = false;
  }

  /** Draws the last text again after a clear() (the progress line, under output that scrolled past). */
  restore(): void {
    if (!this.stream || this.shown || !this.text) return;
    this.stream.write(`${CLEAR_LINE}${this.text}`);
    this.shown = true;
  }

  /** Erases the line for good. */
  stop(): void {
    this.clear();
    this.text = '';
  }
}

/** Cuts text to `width` visible characters, keeping the escape codes (and resetting them). */
function fit(text: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\x1b') {
      const end = text.indexOf('m', i);
      if (end > 0) {
        out += text.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible === width) return `${out}\x1b[0m`;
    out += text[i];
    visible++;
  }
  return out;
}

export interface OutputOptions {
  /** --output FILE: written there (created or truncated) instead of stdout. */
  file?: string;
  /** --no-color. */
  noColor?: boolean;
}

export { OutputFileError };

/**
 * Where a command's (non-progress) output goes: stdout, or the --output file. A write ends the live
 * line (a running check becomes its result). The progress line is only in the way when the output
 * goes to the same terminal: it is erased, the output written, and it is drawn again below.
 */
export class Output {
  readonly tty: boolean;
  readonly paint: Paint;
  readonly unicode: boolean;
  /** The live line: on the output if it is a terminal, otherwise on stderr if that is one. */
  readonly live: LiveLine;
  /** Progress (discovery): always on stderr, only when it is a terminal. */
  readonly progress: LiveLine;
  private fd: number | undefined;

  private constructor(fd: number | undefined, noColor: boolean) {
    this.fd = fd;
    this.tty = fd === undefined && isTerminal(process.stdout);
    this.paint = new Paint(colorEnabled(this.tty, noColor));
    this.unicode = unicodeEnabled(this.tty, noColor);
    const stderr = isTerminal(process.stderr) ? process.stderr : undefined;
    this.live = new LiveLine(this.tty ? process.stdout : stderr);
    this.progress = new LiveLine(stderr);
  }

  static open(options: OutputOptions = {}): Output {
    if (options.file === undefined) return new Output(undefined, options.noColor === true);
    if (options.file === '') throw new OutputFileError('--output needs a FILE');
    let fd: number;
    try {
      fd = openSync(options.file, 'w');
    } catch (error) {
      throw new OutputFileError(`--output: cannot write ${options.file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    return new Output(fd, options.noColor === true);
  }

  /** Writes text as is (callers end their lines with \n). */
  write(text: string): void {
    this.live.clear();
    if (this.fd !== undefined) {
      writeSync(this.fd, text);
      return;
    }
    if (this.tty) this.progress.clear();
    process.stdout.write(text);
    if (this.tty) this.progress.restore();
  }

  /** Writes one line. */
  line(text = ''): void {
    this.write(`${text}\n`);
  }

  /** A line for a person on stderr (warnings, summaries beside machine output). */
  note(text: string): void {
    this.live.clear();
    this.progress.clear();
    process.stderr.write(`${text}\n`);
    this.progress.restore();
  }

  /** Erases the live lines and closes the file. */
  close(): void {
    this.live.stop();
    this.progress.stop();
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

export type CheckState = 'PASSED' | 'FAILED' | 'WARNING' | 'SKIPPED';

export interface CheckLine {
  status: string;
  title: string;
  secondary: boolean;
  durationMs: number;
  message: string;
  hint: string;
}

/** `[ok  ]` or `✔`, coloured by outcome. */
export function checkMark(status: string, out: { unicode: boolean; paint: Paint }): string {
  const p = out.paint;
  // `status` comes from the daemon: a state this client does not know gets no colour and a plain mark.
  const colours: Partial<Record<string, (t: string) => string>> = { PASSED: p.green, FAILED: p.red, WARNING: p.yellow, SKIPPED: p.dim };
  const colour = colours[status] ?? ((t: string) => t);
  const marks: Partial<Record<string, string>> = out.unicode
    ? { PASSED: '✔', FAILED: '✖', WARNING: '!', SKIPPED: '–' }
    : { PASSED: 'ok  ', FAILED: 'FAIL', WARNING: 'warn', SKIPPED: 'skip' };
  if (out.unicode) return colour(marks[status] ?? '?');
  return `[${colour(marks[status] ?? status)}]`;
}

/** The final line(s) of a check: mark, title, duration, message; the hint on its own indented line. */
export function formatCheck(c: CheckLine, out: { unicode: boolean; paint: Paint }): string[] {
  const p = out.paint;
  const role = c.secondary ? ' (secondary)' : '';
  const mark = checkMark(c.status, out);
  const lines = [`${mark} ${c.title}${role} ${p.dim(`(${c.durationMs.toFixed(1)} ms)`)}: ${c.message}`];
  // The hint lines up under the title: after "[FAIL] " (7) or "✖ " (2).
  if (c.hint) lines.push(`${' '.repeat(out.unicode ? 2 : 7)}${p.cyan('hint:')} ${c.hint}`);
  return lines;
}

/** The live line while a check runs. */
export function formatRunning(title: string, secondary: boolean, out: { unicode: boolean; paint: Paint }): string {
  return `${out.unicode ? '  ' : '       '}${out.paint.dim(`running ${title}${secondary ? ' (secondary)' : ''}…`)}`;
}
