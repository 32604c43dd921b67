/**
 * ProfileTable for MySQL and MariaDB.
 *
 * STATISTICS reads only what the server keeps, never the table's rows:
 * - the table: information_schema.TABLES (TABLE_ROWS, the storage engine's estimate; none for a view);
 * - MariaDB: the engine-independent statistics of mysql.column_stats (filled by
 *   `ANALYZE TABLE t PERSISTENT FOR ALL`): min_value, max_value, nulls_ratio, avg_length,
 *   avg_frequency (distinct ≈ non-null rows / avg_frequency) and the histogram, decoded as
 *   MariaDB stored it (see {@link mariadbHistogram}: the values at the requested shares of
 *   the rows, repeated bounds kept; SINGLE/DOUBLE_PREC_HB for numeric and BIT columns only).
 *   A BIT's min_value/max_value are its decimal text, reported as the number. Reading it needs
 *   `GRANT SELECT ON mysql.column_stats TO <account>`; without it the profile says so in its
 *   source and reports only index cardinality;
 * - MySQL 8.0+: the histograms of information_schema.COLUMN_STATISTICS (`ANALYZE TABLE t
 *   UPDATE HISTOGRAM ON c`): null fraction, min/max, distinct values, most common values of a
 *   singleton histogram, bounds of an equi-height one;
 * - both: information_schema.STATISTICS CARDINALITY of the indexes a column leads, as a
 *   distinct estimate.
 * A column with none of these is `noStatistics`.
 *
 * SAMPLE is bounded: MySQL has no TABLESAMPLE. A table of fewer than n rows is read whole
 * (exact figures). Otherwise, with a one-column integer primary key, the sample is about a
 * hundred ranges of the key from random points between its least and greatest value
 * ({@link keyRanges}; a range after a gap in the key is a little likelier, and two close
 * points can overlap); without one, the first n rows in storage order, and the header says
 * so. Every statement over the table reads the same derived table, in one read-only
 * transaction (InnoDB's consistent snapshot: the same rows each time); counts over a sample
 * of part of the table are the sample's (labelled SAMPLED, not extrapolated). A BIT column is read as its number (`CAST(b AS UNSIGNED)`), so min, max,
 * the most common values and the histogram are numbers. The average length is the storage
 * size in bytes of a non-null value, the figure mysql.column_stats avg_length keeps: the
 * type's fixed size ({@link fixedStorageBytes}) or, for strings, binary strings, JSON and
 * spatial values, the average LENGTH() in bytes. Masked columns: counts and the average
 * length only (rows, non-null rows, distinct values); their values are never selected out of
 * the derived table.
 *
 * Identifiers in SQL are the catalog's own names quoted with backticks; everything else
 * travels as `?` values.
 */
import {
  type Cell,
  type ColumnProfile,
  type PreviewColumnInfo,
  type ProfileItem,
  type ProfileRead,
} from '@sourced/core';
import type { Connection } from 'mysql2';
import { atLeast, sessionOf, type ServerVersion } from './connect';
import { DENIED_ERRNOS, guardedRead, serverErrno, type ReadReasons } from './mysqlErrors';
import {
  DECIMAL_TYPES,
  FLOAT_TYPES,
  GEOMETRY_TYPES,
  INTEGER_TYPES,
  baseTypeOf,
  queryRaw,
  quoteIdentifier,
  renderCell,
} from './preview';
import { closedByCancel, query } from './query';

/** How profile reads fail: a lost connection (HYBRID fails over), the time limit, a refused privilege, anything else. */
const PROFILE_READS: ReadReasons = { timeout: 'PROFILE_TIMEOUT', denied: 'PROFILE_NOT_ALLOWED', failed: 'PROFILE_READ_FAILED' };
const step = <T>(what: string, run: () => Promise<T>): Promise<T> => guardedRead(what, PROFILE_READS, run);

/** Types whose values order on a line: a histogram makes sense for them. */
const TEMPORAL_TYPES = new Set(['date', 'datetime', 'timestamp', 'time', 'year']);
/** Types MIN/MAX say nothing useful about (or cannot order). */
const UNORDERED_TYPES = new Set(['json', ...GEOMETRY_TYPES]);

export function isNumeric(type: string): boolean {
  const base = baseTypeOf(type);
  return INTEGER_TYPES.has(base) || DECIMAL_TYPES.has(base) || FLOAT_TYPES.has(base);
}
export function isHistogrammable(type: string): boolean {
  return isNumeric(type) || TEMPORAL_TYPES.has(baseTypeOf(type)) || baseTypeOf(type) === 'bit';
}

/** The profile of a table: its header, then each column as it is done. */
export async function* readProfile(conn: Connection, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  if (read.mode === 'SAMPLE') yield* sampleProfile(conn, read, signal);
  else yield* statisticsProfile(conn, read, signal);
}

// ---------------------------------------------------------------------------------------------
// STATISTICS

interface TableRowsRow {
  schema_name: string;
  name: string;
  table_rows: number | string | null;
  engine: string | null;
}

interface ColumnStatsRow {
  db_name: string | Buffer;
  table_name: string | Buffer;
  column_name: string | Buffer;
  min_value: Buffer | string | null;
  max_value: Buffer | string | null;
  nulls_ratio: string | number | null;
  avg_length: string | number | null;
  avg_frequency: string | number | null;
  hist_type: string | null;
  histogram: Buffer | string | null;
}

interface CardinalityRow {
  schema_name: string;
  name: string;
  column_name: string;
  cardinality: number | string | null;
}

interface HistogramRow {
  schema_name: string;
  name: string;
  column_name: string;
  histogram: string | Record<string, unknown> | null;
}

/** What the server keeps about one column. */
interface Kept {
  nullFraction?: number;
  distinct?: number;
  min?: Cell;
  max?: Cell;
  averageLength?: number;
  mostCommon: { value: Cell; frequency: number }[];
  histogram: Cell[];
}

async function* statisticsProfile(conn: Connection, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  const { schema, name } = read.table;
  const version = sessionOf(conn).version;
  const rowCount = await tableRows(conn, read, signal);
  const sources = ['information_schema.TABLES (TABLE_ROWS, an estimate)'];
  const kept = new Map<string, Kept>();
  const masked = new Set(read.columns.filter((c) => read.isMasked(c.name, c.type)).map((c) => c.name));
  const types = new Map(read.columns.map((c) => [c.name, c.type]));

  if (version.flavour === 'MariaDB') {
    const stats = await columnStats(conn, read, masked, signal);
    if (stats === 'denied') {
      sources.push(
        'mysql.column_stats is not readable by this account (it needs GRANT SELECT ON mysql.column_stats), so column statistics are missing: only index cardinality is reported',
      );
    } else {
      sources.push('mysql.column_stats (engine-independent statistics of ANALYZE TABLE … PERSISTENT FOR ALL)');
      for (const row of stats) {
        const column = text(row.column_name);
        const type = types.get(column);
        if (type === undefined) continue;
        kept.set(column, fromColumnStats(row, type, rowCount, masked.has(column), read.histogramBuckets));
      }
    }
  } else if (atLeast(version, 8, 0)) {
    sources.push('information_schema.COLUMN_STATISTICS (histograms of ANALYZE TABLE … UPDATE HISTOGRAM)');
    const rows = await step('the column histograms', () =>
      query<HistogramRow>(
        conn,
        `SELECT SCHEMA_NAME AS schema_name, TABLE_NAME AS name, COLUMN_NAME AS column_name, HISTOGRAM AS histogram
FROM information_schema.COLUMN_STATISTICS WHERE SCHEMA_NAME = ? AND TABLE_NAME = ?`,
        [schema, name],
        signal,
      ),
    );
    for (const row of rows) {
      if (row.schema_name !== schema || row.name !== name) continue;
      const type = types.get(row.column_name);
      if (type === undefined || row.histogram === null) continue;
      const h = typeof row.histogram === 'string' ? (JSON.parse(row.histogram) as Record<string, unknown>) : row.histogram;
      kept.set(row.column_name, fromMysqlHistogram(h, type, masked.has(row.column_name), read));
    }
  }

  const cardinality = await indexCardinality(conn, read, signal);
  if (cardinality.size) sources.push('information_schema.STATISTICS (index cardinality)');
  yield { kind: 'table', table: { rowCount, rowCountExact: false, sampleRows: 0, source: sources.join('; ') } };

  for (const c of read.columns) {
    if (signal.aborted) return;
    const k = kept.get(c.name);
    const indexed = cardinality.get(c.name);
    if (!k && indexed === undefined) {
      yield { kind: 'column', column: { name: c.name, type: c.type, distinctExact: false, mostCommon: [], histogram: [], types: [], noStatistics: true } };
      continue;
    }
    const column: ColumnProfile = {
      name: c.name,
      type: c.type,
      nullFraction: k?.nullFraction,
      distinctCount: k?.distinct ?? indexed,
      distinctExact: false,
      averageLength: k?.averageLength,
      mostCommon: k?.mostCommon ?? [],
      histogram: k?.histogram ?? [],
      types: [],
    };
    if (k?.min) column.min = k.min;
    if (k?.max) column.max = k.max;
    yield { kind: 'column', column };
  }
}

/** information_schema.TABLES TABLE_ROWS (undefined for a view or when the engine keeps none). */
async function tableRows(conn: Connection, read: ProfileRead, signal: AbortSignal): Promise<number | undefined> {
  const { schema, name } = read.table;
  const rows = await step('the table', () =>
    query<TableRowsRow>(
      conn,
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, TABLE_ROWS AS table_rows, ENGINE AS engine
FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
      [schema, name],
      signal,
    ),
  );
  const row = rows.find((r) => r.schema_name === schema && r.name === name);
  return row && row.table_rows !== null ? Number(row.table_rows) : undefined;
}

/**
 * MariaDB's mysql.column_stats rows of the table, or `denied` when the account may not read it.
 * A masked column's min, max and histogram are not even selected.
 */
async function columnStats(conn: Connection, read: ProfileRead, masked: ReadonlySet<string>, signal: AbortSignal): Promise<ColumnStatsRow[] | 'denied'> {
  const { schema, name } = read.table;
  const hidden = [...masked];
  const unlessMasked = (expr: string) => (hidden.length ? `CASE WHEN column_name IN (${hidden.map(() => '?').join(', ')}) THEN NULL ELSE ${expr} END` : expr);
  const sql = `SELECT db_name, table_name, column_name, ${unlessMasked('min_value')} AS min_value, ${unlessMasked('max_value')} AS max_value,
nulls_ratio, avg_length, avg_frequency, hist_type, ${unlessMasked('histogram')} AS histogram
FROM mysql.column_stats WHERE db_name = ? AND table_name = ?`;
  try {
    const rows = await query<ColumnStatsRow>(conn, sql, [...hidden, ...hidden, ...hidden, schema, name], signal);
    return rows.filter((r) => text(r.db_name) === schema && text(r.table_name) === name);
  } catch (error) {
    const errno = serverErrno(error);
    if (errno !== undefined && DENIED_ERRNOS.has(errno)) return 'denied';
    return step('mysql.column_stats', () => Promise.reject(error));
  }
}

function fromColumnStats(row: ColumnStatsRow, type: string, rowCount: number | undefined, masked: boolean, buckets: number): Kept {
  const nulls = num(row.nulls_ratio);
  const avgFrequency = num(row.avg_frequency);
  const k: Kept = { nullFraction: nulls, averageLength: num(row.avg_length), mostCommon: [], histogram: [] };
  if (rowCount !== undefined && avgFrequency !== undefined) {
    k.distinct = avgFrequency > 0 ? Math.round((rowCount * (1 - (nulls ?? 0))) / avgFrequency) : 0;
  }
  if (masked) return k;
  const ordered = !UNORDERED_TYPES.has(baseTypeOf(type));
  // min_value/max_value hold the value's text (a BIT's as a decimal number).
  if (ordered && row.min_value !== null) k.min = numberTextCell(type, buf(row.min_value));
  if (ordered && row.max_value !== null) k.max = numberTextCell(type, buf(row.max_value));
  if (isHistogrammable(type) && row.histogram !== null && row.hist_type) k.histogram = mariadbHistogram(row, type, buckets);
  return k;
}

/**
 * Bounds of an equi-depth histogram of `buckets` buckets (the values at the shares 0, 1/buckets,
 * …, 1 of the non-null rows) from MariaDB's own stored histogram. Repeated bounds are kept: in
 * a skewed column one value fills several buckets, and saying so is the point.
 * - SINGLE_PREC_HB / DOUBLE_PREC_HB: N values of 1 or 2 bytes, each a bucket's upper end as a
 *   position between min_value and max_value (0..255 or 0..65535, truncated when stored):
 *   ANALYZE ends bucket k (of N + 1, each holding 1/(N + 1) of the non-null rows) at the first
 *   value whose cumulative count passes k/(N + 1) of them. So min, the N ends and max are the
 *   values at the shares j/(N + 1); each wanted share takes the nearest. Positions are made
 *   into values for numeric and BIT columns only (rounded for integers; exact when the range
 *   is narrower than the precision, else within (max − min)/65535 or /255).
 * - JSON_HB (10.8+): buckets with `start` (or `start_hex`), `size` (share of the rows) and
 *   `ndv`, the last with `end`. A share that falls in a bucket of one value is that value; in
 *   a bucket of several, the nearer of the bucket's start and the next bucket's start (or the
 *   last bucket's end).
 */
export function mariadbHistogram(row: Pick<ColumnStatsRow, 'hist_type' | 'histogram' | 'min_value' | 'max_value'>, type: string, buckets: number): Cell[] {
  const raw = buf(row.histogram);
  if (buckets < 1) return [];
  if (row.hist_type === 'JSON_HB') {
    const points = jsonHistogramQuantiles(raw, buckets);
    return points ? points.map((p) => renderCell(type, p)) : [];
  }
  const bit = baseTypeOf(type) === 'bit';
  if ((!isNumeric(type) && !bit) || row.min_value === null || row.max_value === null) return [];
  const width = row.hist_type === 'DOUBLE_PREC_HB' ? 2 : row.hist_type === 'SINGLE_PREC_HB' ? 1 : 0;
  if (!width) return [];
  const min = Number(buf(row.min_value).toString('utf8'));
  const max = Number(buf(row.max_value).toString('utf8'));
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  const positions = [0];
  for (let i = 0; i + width <= raw.length; i += width) positions.push(width === 2 ? raw.readUInt16LE(i) / 0xffff : raw.readUInt8(i) / 0xff);
  positions.push(1);
  const integer = bit || INTEGER_TYPES.has(baseTypeOf(type));
  const values = positions.map((p, j) => (j === 0 ? min : j === positions.length - 1 ? max : min + p * (max - min))).map((v) => (integer ? Math.round(v) : v));
  const cellType = bit ? 'bigint unsigned' : type;
  return thin(values, buckets).map((v) => renderCell(cellType, Buffer.from(String(v))));
}

/** The values of a JSON_HB histogram at the shares 0, 1/buckets, …, 1 (see {@link mariadbHistogram}); undefined when it cannot be read. */
function jsonHistogramQuantiles(raw: Buffer, buckets: number): Buffer[] | undefined {
  let hb: Record<string, unknown>[];
  try {
    const h = JSON.parse(raw.toString('utf8')) as { histogram_hb?: Record<string, unknown>[] };
    hb = Array.isArray(h.histogram_hb) ? h.histogram_hb : [];
  } catch {
    return undefined;
  }
  const value = (b: Record<string, unknown> | undefined, key: 'start' | 'end'): Buffer | undefined => {
    const plainText = b?.[key];
    const hex = b?.[`${key}_hex`];
    if (typeof plainText === 'string') return Buffer.from(plainText, 'utf8');
    if (typeof hex === 'string') return Buffer.from(hex, 'hex');
    return undefined;
  };
  const last = hb[hb.length - 1];
  const end = value(last, 'end');
  if (!hb.length || !end) return undefined;
  // Each bucket's share of the rows before it; the shares as stored may not sum to exactly 1.
  const sizes = hb.map((b) => Math.max(0, Number(b['size']) || 0));
  const total = sizes.reduce((a, b) => a + b, 0) || 1;
  const before: number[] = [];
  sizes.reduce((acc, size, i) => ((before[i] = acc / total), acc + size), 0);
  const EPSILON = 1e-9;
  const out: Buffer[] = [];
  for (let i = 0; i <= buckets; i++) {
    const q = i / buckets;
    if (i === buckets) {
      out.push(end);
      continue;
    }
    // The bucket holding the share q: the last whose start share is at most q.
    let k = 0;
    while (k + 1 < hb.length && (before[k + 1] ?? 1) <= q + EPSILON) k++;
    const start = value(hb[k], 'start');
    if (!start) return undefined;
    const next = k + 1 < hb.length ? value(hb[k + 1], 'start') : end;
    const after = k + 1 < hb.length ? (before[k + 1] ?? 1) : 1;
    const single = Number(hb[k]?.['ndv']) === 1;
    out.push(single || !next || q - (before[k] ?? 0) <= after - q ? start : next);
  }
  return out;
}

/**
 * MySQL 8's histogram JSON: `null-values`, `histogram-type` singleton (buckets
 * `[value, cumulative frequency]`) or equi-height (`[lower, upper, cumulative frequency,
 * distinct]`); strings come as `base64:type<n>:<base64>`. Frequencies are shares of all rows.
 */
export function fromMysqlHistogram(h: Record<string, unknown>, type: string, masked: boolean, read: Pick<ProfileRead, 'mostCommonLimit' | 'histogramBuckets'>): Kept {
  const buckets = Array.isArray(h['buckets']) ? (h['buckets'] as unknown[][]) : [];
  const nullFraction = typeof h['null-values'] === 'number' ? h['null-values'] : undefined;
  const k: Kept = { nullFraction, mostCommon: [], histogram: [] };
  const cell = (v: unknown): Cell => renderCell(type, mysqlHistogramValue(v));
  if (h['histogram-type'] === 'singleton') {
    // Over the sampled rows: the distinct values there are at least, not the table's.
    k.distinct = buckets.length;
    if (masked || !buckets.length) return k;
    k.min = cell(buckets[0][0]);
    k.max = cell(buckets[buckets.length - 1][0]);
    let previous = 0;
    const freq = buckets.map((b) => {
      const cumulative = Number(b[1]);
      const f = cumulative - previous;
      previous = cumulative;
      return { value: b[0], frequency: f };
    });
    k.mostCommon = freq
      .sort((a, b) => b.frequency - a.frequency)
      .slice(0, read.mostCommonLimit)
      .map((f) => ({ value: cell(f.value), frequency: f.frequency }));
    return k;
  }
  if (h['histogram-type'] === 'equi-height') {
    k.distinct = buckets.reduce((n, b) => n + Number(b[3] ?? 0), 0);
    if (masked || !buckets.length) return k;
    k.min = cell(buckets[0][0]);
    k.max = cell(buckets[buckets.length - 1][1]);
    if (isHistogrammable(type)) k.histogram = thin([buckets[0][0], ...buckets.map((b) => b[1])], read.histogramBuckets).map(cell);
  }
  return k;
}

/** A value of a MySQL histogram as the text protocol would send it. */
function mysqlHistogramValue(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') {
    const m = /^base64:type\d+:(.*)$/s.exec(v);
    if (m) return Buffer.from(m[1], 'base64');
    return Buffer.from(v, 'utf8');
  }
  return Buffer.from(String(v), 'utf8');
}

/** information_schema.STATISTICS CARDINALITY of the indexes a column leads (the largest), by column. */
async function indexCardinality(conn: Connection, read: ProfileRead, signal: AbortSignal): Promise<Map<string, number>> {
  const { schema, name } = read.table;
  const rows = await step('the index statistics', () =>
    query<CardinalityRow>(
      conn,
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, COLUMN_NAME AS column_name, MAX(CARDINALITY) AS cardinality
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND SEQ_IN_INDEX = 1
GROUP BY TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME`,
      [schema, name],
      signal,
    ),
  );
  const out = new Map<string, number>();
  for (const r of rows) if (r.schema_name === schema && r.name === name && r.cardinality !== null) out.set(r.column_name, Number(r.cardinality));
  return out;
}

/** At most `buckets + 1` of the points, evenly spread, the first and last kept. */
export function thin<T>(points: T[], buckets: number): T[] {
  if (points.length <= buckets + 1) return points;
  const out: T[] = [];
  for (let i = 0; i <= buckets; i++) out.push(points[Math.round((i * (points.length - 1)) / buckets)]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// SAMPLE

type RawRow = Record<string, Buffer | null>;

/** Where a sample's rows come from: its derived table `(…) s` over a select list, and the parameters it takes. */
export interface SampleRows {
  sql(list: string): string;
  params: unknown[];
}

/** The first `n` rows in storage order: `(SELECT <list> FROM t LIMIT ?) s`. */
export function firstRows(from: string, n: number): SampleRows {
  return { sql: (list) => `(SELECT ${list} FROM ${from} LIMIT ?) s`, params: [n] };
}

/**
 * Rows of random primary-key ranges: for each start, the `per` rows from it in key order,
 * `((SELECT <list> FROM t WHERE pk >= ? ORDER BY pk LIMIT per) UNION ALL …) s`. The starts are
 * parameters; the snapshot of the read-only transaction keeps the rows the same in every
 * statement.
 */
export function keyRanges(from: string, key: string, starts: readonly number[], per: number): SampleRows {
  if (!starts.length || !Number.isSafeInteger(per) || per < 1) throw new Error('bad key ranges');
  const id = quoteIdentifier(key);
  return {
    sql: (list) => `(${starts.map(() => `(SELECT ${list} FROM ${from} WHERE ${id} >= ? ORDER BY ${id} LIMIT ${per})`).join(' UNION ALL ')}) s`,
    params: [...starts],
  };
}

/** Rows a key range holds in a sample of `n` rows: about a hundred ranges. */
export function rowsPerRange(n: number): number {
  return Math.max(1, Math.ceil(n / 100));
}

/** The table's primary key when it is one integer column, else undefined. */
async function integerKey(conn: Connection, read: ProfileRead, signal: AbortSignal): Promise<string | undefined> {
  const rows = await step('the primary key', () =>
    query<{ name: string; data_type: string }>(
      conn,
      `SELECT k.COLUMN_NAME AS name, c.DATA_TYPE AS data_type FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME
WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND k.CONSTRAINT_NAME = 'PRIMARY' ORDER BY k.ORDINAL_POSITION`,
      [read.table.schema, read.table.name],
      signal,
    ),
  );
  return rows.length === 1 && rows[0] && INTEGER_TYPES.has(String(rows[0].data_type).toLowerCase()) ? rows[0].name : undefined;
}

/**
 * SAMPLE. One read-only transaction. First a bounded count (`LIMIT n`): a table of fewer
 * rows is read whole (exact figures). Otherwise, when the primary key is one integer column,
 * the sample is about a hundred ranges of the key starting at random points between its
 * least and greatest value ({@link keyRanges}): spread over the whole table, not the first
 * rows in storage order. A table without such a key gets the first `n` rows, and says so.
 */
async function* sampleProfile(conn: Connection, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  const version = sessionOf(conn).version;
  const n = read.sampleRows;
  const estimate = await tableRows(conn, read, signal);
  const from = `${quoteIdentifier(read.table.schema)}.${quoteIdentifier(read.table.name)}`;
  const key = await integerKey(conn, read, signal);
  await step('the sample', () => query(conn, 'START TRANSACTION READ ONLY', [], signal));
  try {
    const count = async (rows: SampleRows) =>
      Number((await step('the sample', () => queryRaw<RawRow>(conn, `SELECT COUNT(*) AS n FROM ${rows.sql('1 AS one')}`, rows.params, signal)))[0]?.n?.toString() ?? 0);
    let rows = firstRows(from, n);
    let sampled = await count(rows);
    const whole = sampled < n;
    let method = whole ? 'every row' : `the first ${n} rows in storage order (no integer primary key: not random)`;
    if (!whole && key !== undefined) {
      const id = quoteIdentifier(key);
      const [ends] = await step('the sample', () => queryRaw<RawRow>(conn, `SELECT MIN(${id}) AS lo, MAX(${id}) AS hi FROM ${from}`, [], signal));
      const [lo, hi] = [Number(ends?.lo?.toString()), Number(ends?.hi?.toString())];
      if (Number.isSafeInteger(lo) && Number.isSafeInteger(hi)) {
        const per = rowsPerRange(n);
        const starts = Array.from({ length: Math.ceil(n / per) }, () => lo + Math.floor(Math.random() * (hi - lo + 1))).sort((x, y) => x - y);
        rows = keyRanges(from, key, starts, per);
        sampled = await count(rows);
        method = `${starts.length} ranges of ${per} rows at random points of the primary key ${key}`;
      }
    }
    yield {
      kind: 'table',
      table: {
        rowCount: whole ? sampled : estimate,
        rowCountExact: whole,
        sampleRows: sampled,
        source: whole
          ? `a bounded read of at most ${n} rows (SELECT … LIMIT ${n}), which read the whole table: ${sampled} rows`
          : `a sample of ${sampled} rows: ${method}; row count: information_schema.TABLES (TABLE_ROWS, an estimate)`,
        sampleMethod: method,
      },
    };
    for (const c of read.columns) {
      if (signal.aborted) return;
      yield { kind: 'column', column: await sampleColumn(conn, read, c, rows, sampled, version, signal) };
    }
  } finally {
    // A cancelled statement's connection is closed already; otherwise end the transaction.
    if (!signal.aborted && !closedByCancel(conn)) await query(conn, 'ROLLBACK', [], new AbortController().signal).catch(() => undefined);
  }
}

/**
 * A value whose bytes are its text where the type's own rendering expects something else:
 * a BIT as a decimal number (what MIN/MAX, CAST(… AS UNSIGNED) and mysql.column_stats give),
 * rendered as the integer it is; every other type as the preview renders it.
 */
export function numberTextCell(type: string, raw: Buffer | null): Cell {
  return renderCell(baseTypeOf(type) === 'bit' ? 'bigint unsigned' : type, raw);
}

/**
 * The storage size in bytes of every non-null value of a fixed-size type (what MariaDB's
 * mysql.column_stats avg_length reports for it), or undefined for a type whose values vary
 * in size (strings, binary strings, JSON, spatial: their LENGTH() in bytes is measured).
 */
export function fixedStorageBytes(type: string): number | undefined {
  const base = baseTypeOf(type);
  const args = /\(([^)]*)\)/.exec(type)?.[1];
  const n = (i: number, fallback: number) => {
    const v = Number(args?.split(',')[i]?.trim());
    return Number.isFinite(v) && args !== undefined && args.split(',')[i] !== undefined ? v : fallback;
  };
  const fraction = () => Math.ceil(n(0, 0) / 2);
  switch (base) {
    case 'tinyint':
      return 1;
    case 'smallint':
      return 2;
    case 'mediumint':
      return 3;
    case 'int':
    case 'integer':
      return 4;
    case 'bigint':
      return 8;
    case 'float':
      return n(0, 0) > 24 ? 8 : 4;
    case 'double':
    case 'real':
      return 8;
    case 'decimal':
    case 'numeric':
    case 'dec':
    case 'fixed': {
      const precision = n(0, 10);
      const scale = n(1, 0);
      const digits = (d: number) => Math.floor(d / 9) * 4 + [0, 1, 1, 2, 2, 3, 3, 4, 4][d % 9];
      return digits(precision - scale) + digits(scale);
    }
    case 'date':
      return 3;
    case 'year':
      return 1;
    case 'time':
      return 3 + fraction();
    case 'datetime':
      return 5 + fraction();
    case 'timestamp':
      return 4 + fraction();
    case 'bit':
      return Math.floor((n(0, 1) + 7) / 8);
    case 'enum':
      return (args?.split(',').length ?? 1) > 255 ? 2 : 1;
    case 'set': {
      const members = args?.split(',').length ?? 1;
      return members <= 8 ? 1 : members <= 16 ? 2 : members <= 24 ? 3 : members <= 32 ? 4 : 8;
    }
    case 'inet4':
      return 4;
    case 'inet6':
    case 'uuid':
      return 16;
    default:
      return undefined;
  }
}

/**
 * The sample's SQL for one column: `(SELECT <v> AS v[, LENGTH(<col>) AS l] FROM <t> …) s` ({@link SampleRows}).
 * v is the column, as WKT for spatial types and as its number for BIT (so MIN, MAX, DISTINCT
 * and the histogram work on numbers, not on the bytes); l, the size in bytes of a value of a
 * type whose values vary in size (the average length).
 */
export function sampleOf(column: PreviewColumnInfo, rows: SampleRows): string {
  const id = quoteIdentifier(column.name);
  const base = baseTypeOf(column.type);
  const v = GEOMETRY_TYPES.has(base) ? `ST_AsText(${id})` : base === 'bit' ? `CAST(${id} AS UNSIGNED)` : id;
  const l = fixedStorageBytes(column.type) === undefined ? `, LENGTH(${id}) AS l` : '';
  return rows.sql(`${v} AS v${l}`);
}

async function sampleColumn(
  conn: Connection,
  read: ProfileRead,
  c: PreviewColumnInfo,
  rows: SampleRows,
  sampled: number,
  version: ServerVersion,
  signal: AbortSignal,
): Promise<ColumnProfile> {
  const n = rows.params; // the sample's own parameters, first in every statement over it
  const sample = sampleOf(c, rows);
  const masked = read.isMasked(c.name, c.type);
  const base = baseTypeOf(c.type);
  const ordered = !masked && !UNORDERED_TYPES.has(base);
  const fixed = fixedStorageBytes(c.type);
  // Values rendered from the sample's v: a BIT's is its number.
  const cell = (raw: Buffer | null) => numberTextCell(c.type, raw);
  const what = `column ${c.name}`;
  const aggregates = [
    'COUNT(*) AS n',
    'COUNT(v) AS nn',
    'COUNT(DISTINCT v) AS d',
    ...(ordered ? ['MIN(v) AS mn', 'MAX(v) AS mx'] : []),
    ...(fixed === undefined ? ['AVG(l) AS al'] : []),
  ];
  const [agg] = await step(what, () => queryRaw<RawRow>(conn, `SELECT ${aggregates.join(', ')} FROM ${sample}`, n, signal));
  const count = Number(agg?.n?.toString() ?? 0);
  const nonNull = Number(agg?.nn?.toString() ?? 0);
  const profile: ColumnProfile = {
    name: c.name,
    type: c.type,
    nullFraction: count > 0 ? (count - nonNull) / count : undefined,
    distinctCount: Number(agg?.d?.toString() ?? 0),
    distinctExact: true,
    mostCommon: [],
    histogram: [],
    types: [],
  };
  // The average storage size in bytes of a non-null value (as mysql.column_stats avg_length).
  if (fixed !== undefined && nonNull > 0) profile.averageLength = fixed;
  else if (agg?.al) profile.averageLength = Number(agg.al.toString());
  if (masked) return profile;
  if (ordered && agg?.mn !== undefined && agg.mn !== null) profile.min = cell(agg.mn);
  if (ordered && agg?.mx !== undefined && agg.mx !== null) profile.max = cell(agg.mx);

  if (read.mostCommonLimit > 0 && nonNull > 0) {
    const top = await step(what, () =>
      queryRaw<RawRow>(conn, `SELECT v, COUNT(*) AS f FROM ${sample} WHERE v IS NOT NULL GROUP BY v ORDER BY f DESC, v LIMIT ?`, [...n, read.mostCommonLimit], signal),
    );
    const examined = count || sampled;
    profile.mostCommon = top.map((r) => ({ value: cell(r.v ?? null), frequency: Number(r.f?.toString() ?? 0) / examined }));
  }

  // Window functions: MariaDB 10.2+, MySQL 8.0+. The last row of each of `buckets` equal
  // groups of the sorted non-null values, and the first: equi-depth bounds.
  const windows = version.flavour === 'MariaDB' ? atLeast(version, 10, 2) : atLeast(version, 8, 0);
  if (windows && isHistogrammable(c.type) && nonNull > 0 && read.histogramBuckets > 0) {
    const b = read.histogramBuckets;
    const bounds = await step(what, () =>
      queryRaw<RawRow>(
        conn,
        `SELECT v FROM (SELECT v, ROW_NUMBER() OVER (ORDER BY v) AS r, COUNT(*) OVER () AS c FROM ${sample} WHERE v IS NOT NULL) h
WHERE r = 1 OR (r * ?) DIV c > ((r - 1) * ?) DIV c ORDER BY r`,
        [...n, b, b],
        signal,
      ),
    );
    profile.histogram = bounds.map((r) => cell(r.v ?? null));
  }
  return profile;
}

// ---------------------------------------------------------------------------------------------

function text(v: string | Buffer): string {
  return typeof v === 'string' ? v : v.toString('utf8');
}
function buf(v: Buffer | string | null): Buffer {
  if (v === null) return Buffer.alloc(0);
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}
function num(v: string | number | null): number | undefined {
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

