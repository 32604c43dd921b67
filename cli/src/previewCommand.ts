import { Metadata } from '@grpc/grpc-js';
import { DataSourceServiceClient, PreviewTableResponse } from '@sourced/api';
import { DiscoveryStrategy, discoveryStrategyFromJSON } from '@sourced/api';
import { Cell, type PreviewColumn, type PreviewSummary } from '@sourced/api';
import { endpointRoleToJSON } from '@sourced/api';
import type { Output, Paint } from './output';

/** The widest a column of the table format gets, characters. */
const MAX_WIDTH = 40;

/** What `sourced preview` needs from the CLI's shared plumbing. */
export interface PreviewCliArgs {
  address: string;
  channel: ConstructorParameters<typeof DataSourceServiceClient>[1];
  deadline: number;
  json: boolean;
  out: Output;
}

/** The parsed flags of `sourced preview`. */
export interface PreviewFlags {
  table: string;
  columns: string[];
  limit: number;
  strategy: DiscoveryStrategy;
  format: 'table' | 'ndjson' | 'json';
}

/** Reads `--table SCHEMA.NAME` (a dot in a name: quote it, `"my.schema".orders`), `--column`, `--limit`, `--strategy`, `--format`. */
export function previewFlags(values: Record<string, unknown>, json: boolean, usage: (message: string) => Error): PreviewFlags {
  const table = values.table as string | undefined;
  if (!table) throw usage('--table SCHEMA.NAME is required (the table, view or collection to preview)');
  const limit = values.limit === undefined ? 0 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 0) throw usage(`--limit: "${String(values.limit)}" is not a whole number`);
  let strategy = DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED;
  if (values.strategy) {
    const name = String(values.strategy).toUpperCase();
    strategy = discoveryStrategyFromJSON(name.startsWith('DISCOVERY_STRATEGY_') ? name : `DISCOVERY_STRATEGY_${name}`);
    if (strategy === DiscoveryStrategy.UNRECOGNIZED) throw usage(`--strategy: "${String(values.strategy)}" is not one of conservative, balanced, aggressive, adaptive`);
  }
  const format = values.format as string | undefined;
  if (format !== undefined && format !== 'table' && format !== 'ndjson') throw usage(`--format: "${format}" is not one of table, ndjson (--json prints the raw events)`);
  if (format !== undefined && json) throw usage('--json and --format exclude each other');
  splitTable(table, usage);
  return { table, columns: (values.column as string[] | undefined) ?? [], limit, strategy, format: json ? 'json' : ((format as 'table' | 'ndjson' | undefined) ?? 'table') };
}

/** `schema.name`, `"my.schema"."my table"`: the two names. */
export function splitTable(text: string, usage: (message: string) => Error): { schema: string; name: string } {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      if (quoted && text[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === '.' && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  if (quoted || parts.length !== 2 || !parts[0] || !parts[1]) throw usage(`--table: "${text}" is not SCHEMA.NAME (quote a name that holds a dot: "my.schema".orders)`);
  return { schema: parts[0], name: parts[1] };
}

/** Runs the preview and prints it; returns the exit code (0). */
export async function runPreview(dataSource: unknown, flags: PreviewFlags, args: PreviewCliArgs, usage: (message: string) => Error): Promise<number> {
  const { out } = args;
  const client = new DataSourceServiceClient(args.address, args.channel);
  const call = client.previewTable(
    { dataSource: dataSource as never, table: splitTable(flags.table, usage), columns: flags.columns, limit: flags.limit, strategy: flags.strategy },
    new Metadata(),
    { deadline: args.deadline },
  );
  let columns: PreviewColumn[] = [];
  const rows: Cell[][] = [];
  let summary: PreviewSummary | undefined;
  try {
    for await (const message of call as AsyncIterable<PreviewTableResponse>) {
      if (flags.format === 'json') {
        out.line(JSON.stringify(PreviewTableResponse.toJSON(message)));
        continue;
      }
      const e = message.event;
      if (e?.$case === 'header') columns = e.value.columns;
      else if (e?.$case === 'rows') {
        for (const r of e.value.rows) {
          if (flags.format === 'ndjson') out.line(JSON.stringify(Object.fromEntries(columns.map((c, i) => [c.name, Cell.toJSON(r.cells[i] ?? {})]))));
          else rows.push(r.cells);
        }
      } else if (e?.$case === 'failover') out.note(`failover to ${endpointRoleToJSON(e.value.active)}: ${e.value.reason}`);
      else if (e?.$case === 'summary') summary = e.value;
    }
  } finally {
    client.close();
  }
  if (flags.format === 'table') for (const line of renderTable(columns, rows, out.paint)) out.line(line);
  if (summary && flags.format !== 'json') {
    const more = summary.truncated ? ` (the table holds more: --limit, at most the daemon's preview.maxRows)` : '';
    const masked = summary.maskedColumns.length ? `; masked: ${summary.maskedColumns.join(', ')}` : '';
    const text = `${summary.rows} rows${more}${masked}`;
    if (flags.format === 'ndjson') out.note(text);
    else out.line(text);
  }
  return 0;
}

/** A cell as a person reads it in a table. */
export function cellText(cell: Cell, paint: Paint): string {
  const v = cell.value;
  if (!v) return '';
  switch (v.$case) {
    case 'null':
      return paint.dim('NULL');
    case 'masked':
      return paint.dim('(masked)');
    case 'boolean':
      return v.value ? 'true' : 'false';
    case 'float':
      return String(v.value);
    case 'bytesBase64':
      return `base64:${v.value}`;
    default:
      return String(v.value);
  }
}

/** Aligned columns, each at most {@link MAX_WIDTH} wide (longer values end in …), one line per row. */
export function renderTable(columns: PreviewColumn[], rows: Cell[][], paint: Paint): string[] {
  const clip = (s: string) => (visibleLength(s) > MAX_WIDTH ? `${s.slice(0, MAX_WIDTH - 1)}…` : s).replace(/[\r\n\t]/g, ' ');
  const cells = rows.map((r) => columns.map((_c, i) => clip(r[i] ? cellText(r[i], paint) : '')));
  const heads = columns.map((c) => clip(c.masked ? `${c.name} (masked)` : c.name));
  const widths = heads.map((h, i) => Math.max(visibleLength(h), ...cells.map((r) => visibleLength(r[i]))));
  const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - visibleLength(s)));
  const line = (parts: string[]) => parts.map((p, i) => pad(p, widths[i])).join('  ').trimEnd();
  return [paint.bold(line(heads)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
}

/** Length without ANSI colour codes. */
function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}
