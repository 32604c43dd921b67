import { closeSync, openSync, writeSync } from 'node:fs';
import type { Collection, Relation, Schema } from '@sourced/api';
import { collectionKindToJSON, relationKindToJSON } from '@sourced/api';

/**
 * Terminal rendering of the `sourced` client: where output goes (stdout or --output FILE), whether
 * it is a terminal, colours (ANSI codes, no dependency), the live line (a check running, discovery
 * progress) and the discovery tree. main.ts decides what to say; this file decides how it looks.
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

/** SGR colours that are the identity when colours are off. */
export class Paint {
  constructor(readonly on: boolean) {}
  private sgr(open: number, close: number, text: string): string {
    return this.on && text ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  }
  bold = (t: string) => this.sgr(1, 22, t);
  dim = (t: string) => this.sgr(2, 22, t);
  red = (t: string) => this.sgr(31, 39, t);
  green = (t: string) => this.sgr(32, 39, t);
  yellow = (t: string) => this.sgr(33, 39, t);
  cyan = (t: string) => this.sgr(36, 39, t);
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

/** Raised when --output cannot be opened: bad input. */
export class OutputFileError extends Error {}

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
    const stderr = isTerminal(process.stderr) ? (process.stderr as TermStream) : undefined;
    this.live = new LiveLine(this.tty ? (process.stdout as TermStream) : stderr);
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
  const colour = { PASSED: p.green, FAILED: p.red, WARNING: p.yellow, SKIPPED: p.dim }[status as CheckState] ?? ((t: string) => t);
  if (out.unicode) return colour({ PASSED: '✔', FAILED: '✖', WARNING: '!', SKIPPED: '–' }[status as CheckState] ?? '?');
  return `[${colour({ PASSED: 'ok  ', FAILED: 'FAIL', WARNING: 'warn', SKIPPED: 'skip' }[status as CheckState] ?? status)}]`;
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

// ---------------------------------------------------------------------------------------------
// Discovery

/** Counts and rate for the progress line. */
export interface ProgressState {
  entities: number;
  total?: number;
  ratePerSecond?: number;
}

/**
 * The discovery progress line on stderr (a terminal only): entities so far, of the total when the
 * daemon knows it, rate per second, elapsed time. Drawn at once, then at most every 100 ms (a timer
 * keeps the elapsed time moving while the daemon is quiet); `stop()` erases it.
 */
export class ProgressLine {
  private readonly started = Date.now();
  private state: ProgressState = { entities: 0 };
  private last = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly line: LiveLine,
    private readonly paint: Paint,
    private readonly intervalMs = 100,
  ) {
    if (!line.active) return;
    this.draw();
    this.timer = setInterval(() => this.draw(), intervalMs);
    this.timer.unref();
  }

  update(state: ProgressState): void {
    this.state = state;
    if (this.line.active && Date.now() - this.last >= this.intervalMs) this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.line.stop();
  }

  private draw(): void {
    this.last = Date.now();
    const elapsedMs = this.last - this.started;
    const { entities, total } = this.state;
    const rate = this.state.ratePerSecond ?? (elapsedMs > 0 ? (entities * 1000) / elapsedMs : 0);
    const count = total !== undefined && total > 0 ? `${n(entities)} of ${n(total)} entities` : `${n(entities)} entities`;
    const p = this.paint;
    this.line.set(`${p.cyan('discovering…')} ${count} ${p.dim('·')} ${n(Math.round(rate))}/s ${p.dim('·')} ${elapsed(elapsedMs)}`);
  }
}

/** 1,234 */
export function n(value: number): string {
  return value.toLocaleString('en-US');
}

/** 0.4 s, 12.3 s, 2m 05s */
export function elapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

/** "table", "materialized view", ... */
export function relationKind(r: Relation): string {
  return relationKindToJSON(r.kind).replace('RELATION_KIND_', '').toLowerCase().replace(/_/g, ' ');
}

function collectionKind(c: Collection): string {
  return collectionKindToJSON(c.kind).replace('COLLECTION_KIND_', '').toLowerCase().replace(/_/g, ' ');
}

const plural = (count: number, one: string, many = `${one}s`) => `${n(count)} ${count === 1 ? one : many}`;

/** What the tree keeps of a relation (not the whole message: a catalog can be large). */
interface RelationRow {
  name: string;
  cells: string[];
}

/**
 * Collects schemas, relations and collections as they stream and prints them as a tree at the end:
 * schema → relations (kind, columns, primary key, foreign keys, indexes, estimated rows);
 * database → collections (kind, indexes, estimated documents, inferred fields).
 */
export class DiscoveryTree {
  private readonly schemas = new Map<string, { comment: string; usable: boolean; rows: RelationRow[] }>();
  private readonly databases = new Map<string, RelationRow[]>();

  addSchema(s: Schema): void {
    const known = this.schemas.get(s.name);
    if (known) Object.assign(known, { comment: s.comment, usable: s.usable });
    else this.schemas.set(s.name, { comment: s.comment, usable: s.usable, rows: [] });
  }

  addRelation(r: Relation): void {
    if (!this.schemas.has(r.schema)) this.schemas.set(r.schema, { comment: '', usable: true, rows: [] });
    this.schemas.get(r.schema)!.rows.push({
      name: r.name,
      cells: [
        relationKind(r),
        plural(r.columns.length, 'column'),
        r.primaryKey && r.primaryKey.columns.length ? `pk (${r.primaryKey.columns.join(', ')})` : 'no pk',
        plural(r.foreignKeys.length, 'fk'),
        plural(r.indexes.length, 'index', 'indexes'),
        r.estimatedRows >= 0 ? `~${n(r.estimatedRows)} rows` : '',
      ],
    });
  }

  addCollection(c: Collection): void {
    if (!this.databases.has(c.database)) this.databases.set(c.database, []);
    this.databases.get(c.database)!.push({
      name: c.name,
      cells: [
        collectionKind(c),
        plural(c.indexes.length, 'index', 'indexes'),
        c.estimatedDocuments >= 0 ? `~${n(Number(c.estimatedDocuments))} documents` : '',
        c.schema ? plural(c.schema.fields.length, 'field') : '',
      ],
    });
  }

  /** The tree's lines. */
  render(paint: Paint, unicode: boolean): string[] {
    const [tee, elbow] = unicode ? ['├── ', '└── '] : ['|-- ', '`-- '];
    const lines: string[] = [];
    const group = (title: string, rows: RelationRow[], empty: string) => {
      lines.push(title);
      if (rows.length === 0) {
        lines.push(`${elbow}${paint.dim(empty)}`);
        return;
      }
      const widths = [Math.max(...rows.map((r) => r.name.length)), ...rows[0].cells.map((_c, i) => Math.max(...rows.map((r) => r.cells[i].length)))];
      rows.forEach((row, index) => {
        const cells = row.cells.map((c, i) => (i === 0 ? paint.dim(c.padEnd(widths[i + 1])) : c.padEnd(widths[i + 1])));
        lines.push(`${index === rows.length - 1 ? elbow : tee}${paint.bold(row.name.padEnd(widths[0]))}  ${cells.join('  ')}`.trimEnd());
      });
    };
    for (const [name, s] of this.schemas) {
      const extra = [s.comment ? ` ${unicode ? '—' : '--'} ${s.comment}` : '', s.usable ? '' : ' (not usable)'].join('');
      group(`${paint.bold(paint.cyan(name))}${paint.dim(extra)}`, s.rows, 'no relations');
    }
    for (const [name, rows] of this.databases) group(`${paint.bold(paint.cyan(name))}`, rows, 'no collections');
    return lines;
  }
}
