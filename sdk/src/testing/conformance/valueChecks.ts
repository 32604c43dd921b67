/**
 * What the kit checks in the values of a stream, as pure functions: a SAMPLE profile's
 * figures, and the cells of a preview (one kind per column, each value in its kind's form).
 */
import { FigureMethod, ProfileMode, type ColumnProfile, type ProfileTableResponse } from '@sourced/api';
import type { Cell as PreviewCell } from '@sourced/api';
import { profileOf } from '../startTestDaemon';

/** The SAMPLE profile the kit asks for: at most 200 rows, 5 most common values, 4 histogram buckets. */
export const SAMPLE_REQUEST = { mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 200, mostCommonLimit: 5, histogramBuckets: 4 } as const;

const METHOD_NAMES: Partial<Record<number, string>> = {
  [FigureMethod.FIGURE_METHOD_EXACT]: 'EXACT',
  [FigureMethod.FIGURE_METHOD_STATISTICS]: 'STATISTICS',
  [FigureMethod.FIGURE_METHOD_SAMPLED]: 'SAMPLED',
};

const share = (x: number) => Number.isFinite(x) && x >= 0 && x <= 1;

/**
 * Problems with a SAMPLE profile of `table` asked for with {@link SAMPLE_REQUEST}; empty when
 * it is well formed. Each names the table, the column and what was expected against what came.
 */
export function sampleProfileProblems(table: string, events: readonly ProfileTableResponse[]): string[] {
  const out: string[] = [];
  events.forEach((e, i) => {
    if (e.sequence !== i + 1) out.push(`${table}: event ${i + 1} has sequence number ${e.sequence} (expected ${i + 1})`);
  });
  if (events[0]?.event?.$case !== 'header') out.push(`${table}: expected the header as the first event, got ${events[0]?.event?.$case ?? 'no event'}`);
  if (events.at(-1)?.event?.$case !== 'summary') out.push(`${table}: expected the summary as the last event, got ${events.at(-1)?.event?.$case ?? 'no event'}`);
  const { header, columns, summary } = profileOf(events);
  if (!header) return out;
  if (header.mode !== ProfileMode.PROFILE_MODE_SAMPLE)
    out.push(`${table}: header.mode: expected SAMPLE (${ProfileMode.PROFILE_MODE_SAMPLE}), got ${header.mode}`);
  if (header.sampleRows > SAMPLE_REQUEST.sampleRows)
    out.push(`${table}: header.sample_rows: expected at most the ${SAMPLE_REQUEST.sampleRows} rows asked for, got ${header.sampleRows}`);
  if (!header.sampleMethod.trim()) out.push(`${table}: header.sample_method: expected how the rows were chosen (for example "every row"), got ""`);
  if (header.rowCount !== undefined && !(header.rowCount >= 0)) out.push(`${table}: header.row_count: expected a count >= 0, got ${header.rowCount}`);
  if (columns.length === 0) out.push(`${table}: expected one column event per column, got none`);
  if (summary && summary.columns !== columns.length)
    out.push(`${table}: summary.columns: expected the ${columns.length} column events sent, got ${summary.columns}`);
  const names = new Set<string>();
  for (const c of columns) {
    if (names.has(c.name)) out.push(`${table}: column "${c.name}" was profiled twice`);
    names.add(c.name);
    out.push(...columnProblems(table, c, header.rowCountExact ? header.rowCount : undefined, header.sampleRows));
  }
  return out;
}

function columnProblems(table: string, c: ColumnProfile, exactRows: number | undefined, sampleRows: number): string[] {
  const out: string[] = [];
  const at = `${table}, column "${c.name || '(no name)'}"`;
  if (!c.name) out.push(`${at}: expected a name, got ""`);
  if (c.nullFraction !== undefined && !share(c.nullFraction)) out.push(`${at}: null_fraction: expected a share 0..1, got ${c.nullFraction}`);
  if (c.distinctCount !== undefined && !(c.distinctCount >= 0)) out.push(`${at}: distinct_count: expected a count >= 0, got ${c.distinctCount}`);
  // A sample that read part of the table cannot know the table's distinct count.
  if (c.distinctExact && exactRows !== undefined && sampleRows < exactRows)
    out.push(`${at}: distinct_exact: expected false (the sample read ${sampleRows} of ${exactRows} rows), got true`);
  if (c.mostCommon.length > SAMPLE_REQUEST.mostCommonLimit)
    out.push(`${at}: most_common: expected at most the ${SAMPLE_REQUEST.mostCommonLimit} values asked for, got ${c.mostCommon.length}`);
  c.mostCommon.forEach((v, i) => {
    if (!(v.frequency > 0 && v.frequency <= 1)) out.push(`${at}: most_common[${i}].frequency: expected a share in (0, 1], got ${v.frequency}`);
    if (i > 0 && v.frequency > c.mostCommon[i - 1].frequency)
      out.push(`${at}: most_common: expected most frequent first, got ${c.mostCommon[i - 1].frequency} before ${v.frequency}`);
  });
  const total = c.mostCommon.reduce((sum, v) => sum + v.frequency, 0);
  if (total > 1 + 1e-9) out.push(`${at}: most_common: expected frequencies that add up to at most 1, got ${total}`);
  if (c.histogramBounds.length > SAMPLE_REQUEST.histogramBuckets + 1)
    out.push(
      `${at}: histogram_bounds: expected at most ${SAMPLE_REQUEST.histogramBuckets + 1} bounds (${SAMPLE_REQUEST.histogramBuckets} buckets asked for), got ${c.histogramBounds.length}`,
    );
  c.types.forEach((t) => {
    if (!share(t.frequency)) out.push(`${at}: types["${t.type}"].frequency: expected a share 0..1, got ${t.frequency}`);
  });
  if (c.masked && (c.min || c.max || c.mostCommon.length || c.histogramBounds.length))
    out.push(`${at}: a masked column: expected no values (min, max, most common, histogram), got some`);
  // SAMPLE figures come from the sample (or every row), never from the database's statistics.
  for (const [figure, method] of Object.entries(c.methods ?? {}) as [string, FigureMethod][]) {
    if (method === FigureMethod.FIGURE_METHOD_STATISTICS)
      out.push(`${at}: methods.${figure}: expected SAMPLED or EXACT in SAMPLE mode, got ${METHOD_NAMES[method]}`);
  }
  return out;
}

/** The kind of a wire cell (`integer`, `null`, `masked`, ...). */
export function cellKind(cell: PreviewCell): string {
  return cell.value?.$case ?? '(none)';
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^(NaN|[+-]?Infinity|[+-]?inf(inity)?)$/i;
const YEAR = '([+-]\\d{4,}|\\d{4})';
const DATE = new RegExp(`^${YEAR}-\\d{2}-\\d{2}$|^-?infinity$`);
const TIME = '\\d{2,}:\\d{2}(:\\d{2}(\\.\\d+)?)?';
const OFFSET = '(Z|[+-]\\d{2}(:?\\d{2}(:\\d{2})?)?)';
const TIMESTAMP = new RegExp(`^${YEAR}-\\d{2}-\\d{2}T${TIME}${OFFSET}$|^-?infinity$`);
const LOCAL_TIMESTAMP = new RegExp(`^${YEAR}-\\d{2}-\\d{2}T${TIME}$|^-?infinity$`);
const TIME_OF_DAY = new RegExp(`^-?${TIME}${OFFSET}?$`);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Why a cell's value is not in its kind's form (sourced.v1.Cell); undefined when it is. */
export function cellFormProblem(cell: PreviewCell): string | undefined {
  const v = cell.value;
  if (!v) return 'a cell without a value';
  const bad = (form: string) => `${v.$case} ${JSON.stringify(v.value)} is not ${form}`;
  switch (v.$case) {
    case 'integer':
      return INTEGER.test(v.value) ? undefined : bad('decimal digits with an optional sign');
    case 'decimal':
      return DECIMAL.test(v.value) ? undefined : bad('an exact decimal as text');
    case 'timestamp':
      return TIMESTAMP.test(v.value) ? undefined : bad('RFC 3339 with an offset');
    case 'localTimestamp':
      return LOCAL_TIMESTAMP.test(v.value) ? undefined : bad('an ISO 8601 date and time without an offset');
    case 'date':
      return DATE.test(v.value) || /^0000-\d{2}-\d{2}$/.test(v.value) ? undefined : bad('an ISO 8601 date');
    case 'time':
      return TIME_OF_DAY.test(v.value) ? undefined : bad('a time of day');
    case 'bytesBase64':
      return BASE64.test(v.value) ? undefined : bad('base64 with padding (RFC 4648)');
    case 'json':
      try {
        JSON.parse(v.value);
        return undefined;
      } catch {
        return bad('JSON text');
      }
    default:
      return undefined;
  }
}

/**
 * Problems with the cells of a preview: each value in its kind's form, and one kind per
 * column (null and masked aside). Each names the row, the column and what came.
 */
export function previewCellProblems(table: string, columns: readonly string[], rows: readonly PreviewCell[][]): string[] {
  const out: string[] = [];
  const kinds = new Map<number, { kind: string; row: number }>();
  rows.forEach((cells, r) => {
    cells.forEach((cell, i) => {
      const at = `${table}, row ${r + 1}, column ${columns[i] ?? i + 1}`;
      const problem = cellFormProblem(cell);
      if (problem) out.push(`${at}: ${problem}`);
      const kind = cellKind(cell);
      if (kind === 'null' || kind === 'masked') return;
      const first = kinds.get(i);
      if (!first) kinds.set(i, { kind, row: r + 1 });
      else if (first.kind !== kind) out.push(`${at}: expected kind ${first.kind} (as in row ${first.row}: one kind per column), got ${kind}`);
    });
  });
  return out;
}
