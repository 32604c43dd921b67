/** `sourced preview FILE --table SCHEMA.NAME`: the first rows of a table as aligned columns, NDJSON or the raw events. */
import { Metadata } from '@grpc/grpc-js';
import { Cell, DataSourceServiceClient, endpointRoleToJSON, PreviewTableResponse, type PreviewColumn, type PreviewSummary } from '@sourced/api';
import { clientContext } from './client';
import { strategyOf } from './discoverCommand';
import { readDataSourceFile } from './dataSourceFile';
import { EXIT } from './errors';
import type { PreviewOptions } from './options';
import { plural } from './discoveryView';
import { alignedRows, type Paint } from './output';

/** The widest a column of the table format gets, characters. */
const MAX_WIDTH = 40;

/** Runs the preview and prints it; returns the exit code (0). */
export async function runPreview(file: string, options: PreviewOptions): Promise<number> {
  const dataSource = readDataSourceFile(file);
  const { address, channel, deadline, json, out } = clientContext(options);
  const format = json ? 'json' : (options.format ?? 'table');
  const client = new DataSourceServiceClient(address, channel);
  const call = client.previewTable(
    {
      dataSource,
      table: { schema: options.table.schema, name: options.table.name },
      columns: options.column,
      limit: options.limit,
      strategy: strategyOf(options.strategy),
    },
    new Metadata(),
    { deadline },
  );
  let columns: PreviewColumn[] = [];
  const rows: Cell[][] = [];
  let summary: PreviewSummary | undefined;
  try {
    try {
      for await (const message of call as AsyncIterable<PreviewTableResponse>) {
        if (format === 'json') {
          out.line(JSON.stringify(PreviewTableResponse.toJSON(message)));
          continue;
        }
        const e = message.event;
        if (e?.$case === 'header') columns = e.value.columns;
        else if (e?.$case === 'rows') {
          for (const r of e.value.rows) {
            if (format === 'ndjson') out.line(JSON.stringify(Object.fromEntries(columns.map((c, i) => [c.name, Cell.toJSON(r.cells[i] ?? {})]))));
            else rows.push(r.cells);
          }
        } else if (e?.$case === 'failover') out.note(`failover to ${endpointRoleToJSON(e.value.active)}: ${e.value.reason}`);
        else if (e?.$case === 'summary') summary = e.value;
      }
    } finally {
      client.close();
    }
    if (format === 'table') for (const line of renderTable(columns, rows, out.paint)) out.line(line);
    if (summary && format !== 'json') {
      const more = summary.truncated ? ` (the table holds more: --limit, at most the daemon's preview.maxRows)` : '';
      const masked = summary.maskedColumns.length ? `; masked: ${summary.maskedColumns.join(', ')}` : '';
      const text = `${plural(summary.rows, 'row')}${more}${masked}`;
      if (format === 'ndjson') out.note(text);
      else out.line(text);
    }
  } finally {
    out.close();
  }
  return EXIT.OK;
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
    case 'bytes':
      // only sent to a request that asks for raw bytes (binary_cells), which the CLI does not
      return `base64:${Buffer.from(v.value).toString('base64')}`;
    default:
      return v.value;
  }
}

/**
 * Aligned columns (cli-table3, without borders): the names in bold, a dashed line, one line per
 * row; a column is at most {@link MAX_WIDTH} wide (a longer value ends in …).
 */
export function renderTable(columns: PreviewColumn[], rows: Cell[][], paint: Paint): string[] {
  const flat = (s: string) => s.replace(/[\r\n\t]/g, ' ');
  const cells = rows.map((r) => columns.map((_c, i) => flat(r[i] ? cellText(r[i], paint) : '')));
  const heads = columns.map((c) => flat(c.masked ? `${c.name} (masked)` : c.name));
  const widths = heads.map((h, i) => Math.min(MAX_WIDTH, Math.max(visibleLength(h), ...cells.map((r) => visibleLength(r[i])))));
  return alignedRows([heads.map((h) => paint.bold(h)), widths.map((w) => '-'.repeat(w)), ...cells], widths);
}

/** Length without ANSI colour codes. */
function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}
