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
 * The statistics' age: the row count's (and an index cardinality's) is InnoDB's last
 * recalculation, mysql.innodb_table_stats.last_update (TABLE_ROWS is adjusted since for rows
 * written); a column of mysql.column_stats has one only when its histogram is JSON_HB
 * (`collected_at`, the server's local time), else it is "unknown" and says why.
 *
 * SAMPLE is bounded: MySQL has no TABLESAMPLE. A table of fewer than n rows is read whole
 * (exact figures). Otherwise, with a one-column integer primary key, the sample is about a
 * hundred ranges of the key from random points between its least and greatest value, each
 * ending before the next one's start ({@link keyRanges}; a range after a gap in the key is a
 * little likelier); a view, or a table without such a key, reads at most 20 × n rows and
 * draws n of them at random ({@link drawnRows}: uniform when that is every row, else over
 * those first rows only, and the header says so). Every statement over the table reads the
 * same derived table, in one read-only transaction (InnoDB's consistent snapshot: the same
 * rows each time); distinct counts over a sample of part of the table are the Haas–Stokes
 * Duj1 estimate (SAMPLED). A BIT column is read as its number (`CAST(b AS UNSIGNED)`), so min, max,
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
  duj1,
  type Cell,
  type ColumnProfile,
  type PreviewColumnInfo,
  type ProfileItem,
  type ProfileRead,
  type StatisticsAge,
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
  table_type: string | null;
}

/** What information_schema.TABLES says of the table. */
interface TableInfo {
  /** TABLE_ROWS (undefined for a view or when the engine keeps none). */
  rows?: number;
  engine?: string;
  view: boolean;
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
  /** A JSON_HB histogram's collected_at, seconds since the epoch. */
  collected_at?: string | number | null;
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
  /** How old it is. */
  age?: StatisticsAge;
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
  const info = await tableInfo(conn, read, signal);
  const rowCount = info.rows;
  const innodbAge = await innodbStatisticsAge(conn, read, info, signal);
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
        kept.set(column, { ...fromColumnStats(row, type, rowCount, masked.has(column), read.histogramBuckets), age: columnStatsAge(row) });
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
      kept.set(row.column_name, { ...fromMysqlHistogram(h, type, masked.has(row.column_name), read), age: mysqlHistogramAge(h) });
    }
  }

  const cardinality = await indexCardinality(conn, read, signal);
  if (cardinality.size) sources.push('information_schema.STATISTICS (index cardinality)');
  yield { kind: 'table', table: { rowCount, rowCountExact: false, sampleRows: 0, source: sources.join('; '), statisticsAge: rowCountAge(innodbAge) } };

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
    // The column's own statistics' age; a column known only by its index, InnoDB's statistics'.
    const age = k ? k.age : innodbAge;
    if (age) column.statisticsAge = age;
    yield { kind: 'column', column };
  }
}

/** information_schema.TABLES: TABLE_ROWS (undefined for a view or when the engine keeps none), the engine, whether it is a view. */
async function tableInfo(conn: Connection, read: ProfileRead, signal: AbortSignal): Promise<TableInfo> {
  const { schema, name } = read.table;
  const rows = await step('the table', () =>
    query<TableRowsRow>(
      conn,
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, TABLE_ROWS AS table_rows, ENGINE AS engine, TABLE_TYPE AS table_type
FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
      [schema, name],
      signal,
    ),
  );
  const row = rows.find((r) => r.schema_name === schema && r.name === name);
  return {
    ...(row && row.table_rows !== null ? { rows: Number(row.table_rows) } : {}),
    ...(row?.engine ? { engine: row.engine } : {}),
    view: row?.table_type === 'VIEW',
  };
}

/**
 * How old InnoDB's persistent statistics of the table are: mysql.innodb_table_stats.last_update
 * (the last recalculation, which also wrote the index statistics behind CARDINALITY), read as
 * an instant (UNIX_TIMESTAMP of the TIMESTAMP column). Unknown, and said why, for another
 * engine, a table without persistent statistics (STATS_PERSISTENT=0) and an account that may
 * not read the table. Undefined for a view.
 */
async function innodbStatisticsAge(conn: Connection, read: ProfileRead, info: TableInfo, signal: AbortSignal): Promise<StatisticsAge | undefined> {
  if (info.view) return undefined;
  if (info.engine?.toLowerCase() !== 'innodb') return { source: `unknown: the ${info.engine ?? 'table\'s'} engine keeps no time of its statistics` };
  try {
    const [row] = await query<{ t: string | number | null }>(
      conn,
      'SELECT UNIX_TIMESTAMP(last_update) AS t FROM mysql.innodb_table_stats WHERE database_name = ? AND table_name = ?',
      [read.table.schema, read.table.name],
      signal,
    );
    if (!row || row.t === null) return { source: 'unknown: mysql.innodb_table_stats has no row for the table (its statistics are not persistent: STATS_PERSISTENT=0)' };
    return { collectedAt: new Date(Number(row.t) * 1000), source: 'mysql.innodb_table_stats.last_update' };
  } catch (error) {
    const errno = serverErrno(error);
    if (errno !== undefined && DENIED_ERRNOS.has(errno)) {
      return { source: 'unknown: mysql.innodb_table_stats is not readable by this account (GRANT SELECT ON mysql.innodb_table_stats)' };
    }
    return step('mysql.innodb_table_stats', () => Promise.reject(error));
  }
}

/** The row count's age: InnoDB's last recalculation, TABLE_ROWS being adjusted since for the rows written. */
function rowCountAge(age: StatisticsAge | undefined): StatisticsAge | undefined {
  if (!age?.collectedAt) return age;
  return { ...age, source: `${age.source} (InnoDB's last statistics recalculation; TABLE_ROWS is adjusted since for the rows inserted and deleted)` };
}

/**
 * A mysql.column_stats row's age: a JSON_HB histogram's `collected_at` (the server's local
 * time of the ANALYZE, read in the server's time zone), else unknown — the table keeps no time.
 */
function columnStatsAge(row: Pick<ColumnStatsRow, 'hist_type' | 'histogram'> & { collected_at?: string | number | null }): StatisticsAge {
  if (row.collected_at !== undefined && row.collected_at !== null) {
    return { collectedAt: new Date(Number(row.collected_at) * 1000), source: 'mysql.column_stats JSON_HB histogram collected_at (local time in @@global.time_zone)' };
  }
  return { source: 'unknown: mysql.column_stats keeps no collection time (only a JSON_HB histogram records one)' };
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
nulls_ratio, avg_length, avg_frequency, hist_type, ${unlessMasked('histogram')} AS histogram,
CASE WHEN hist_type = 'JSON_HB' THEN UNIX_TIMESTAMP(CONVERT_TZ(CAST(JSON_UNQUOTE(JSON_EXTRACT(CONVERT(histogram USING utf8mb4), '$.collected_at')) AS DATETIME), @@global.time_zone, '+00:00')) END AS collected_at
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

/** A MySQL 8 histogram's `last-updated` (UTC, "2017-03-24 13:32:40.000000"), else unknown. */
export function mysqlHistogramAge(h: Record<string, unknown>): StatisticsAge {
  const text = h['last-updated'];
  const at = typeof text === 'string' ? new Date(`${text.trim().replace(' ', 'T')}Z`) : undefined;
  if (at && Number.isFinite(at.getTime())) return { collectedAt: at, source: 'information_schema.COLUMN_STATISTICS histogram last-updated' };
  return { source: 'unknown: the histogram has no last-updated' };
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
 * `n` rows drawn at random among the first `bound` rows the table or view returns:
 * `(SELECT <list> FROM (SELECT * FROM t LIMIT bound) r ORDER BY MD5(CONCAT(seed, QUOTE(c1), ',', …)) LIMIT n) s`,
 * ordered by a hash of each row's values (`columns`, NULL as `NULL`) and the seed, so every
 * statement over it, in the same snapshot, keeps the same rows.
 */
export function drawnRows(from: string, columns: readonly string[], bound: number, n: number, seed: number): SampleRows {
  if (!columns.length || !Number.isSafeInteger(bound) || !Number.isSafeInteger(n) || n < 1 || bound < n || !Number.isSafeInteger(seed)) throw new Error('bad draw');
  const hash = `MD5(CONCAT('${seed}', ${columns.map((c) => `QUOTE(r.${quoteIdentifier(c)})`).join(", ',', ")}))`;
  return { sql: (list) => `(SELECT ${list} FROM (SELECT * FROM ${from} LIMIT ${bound}) r ORDER BY ${hash} LIMIT ${n}) s`, params: [] };
}

/** Rows a bounded draw reads at most per row it keeps ({@link drawnRows}). */
export const SAMPLE_READ_FACTOR = 20;

/**
 * Rows of random primary-key ranges that never overlap: for each start (ascending), the
 * `per` rows from it in key order that come before the next start (or up to `end`),
 * `((SELECT <list> FROM t WHERE pk >= ? AND pk < ? ORDER BY pk LIMIT per) UNION ALL …) s`. A
 * row is never read twice (a duplicate would look like a value seen twice, and bias the
 * distinct estimate). The bounds are parameters; the snapshot of the read-only transaction
 * keeps the rows the same in every statement.
 */
export function keyRanges(from: string, key: string, starts: readonly number[], per: number, end: number): SampleRows {
  if (!starts.length || !Number.isSafeInteger(per) || per < 1) throw new Error('bad key ranges');
  const id = quoteIdentifier(key);
  const sorted = [...new Set(starts)].sort((x, y) => x - y);
  return {
    sql: (list) => `(${sorted.map(() => `(SELECT ${list} FROM ${from} WHERE ${id} >= ? AND ${id} < ? ORDER BY ${id} LIMIT ${per})`).join(' UNION ALL ')}) s`,
    params: sorted.flatMap((start, i) => [start, sorted[i + 1] ?? end]),
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
 * least and greatest value, none reaching into the next ({@link keyRanges}): spread over the
 * whole table, not the first rows in storage order. A view, or a table without such a key, is read no further than
 * {@link SAMPLE_READ_FACTOR} × n rows, and n of them are drawn at random ({@link drawnRows}):
 * a uniform sample when that is every row (then counted), else of those first rows only, and
 * the header says so. Distinct counts over part of the table are the Haas–Stokes Duj1
 * estimate (core's {@link duj1}) for the rows sampled from: the table's TABLE_ROWS for key
 * ranges, the rows read for a draw.
 */
async function* sampleProfile(conn: Connection, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  const version = sessionOf(conn).version;
  const n = read.sampleRows;
  const info = await tableInfo(conn, read, signal);
  const estimate = info.rows;
  const from = `${quoteIdentifier(read.table.schema)}.${quoteIdentifier(read.table.name)}`;
  const key = info.view ? undefined : await integerKey(conn, read, signal);
  const innodbAge = await innodbStatisticsAge(conn, read, info, signal);
  await step('the sample', () => query(conn, 'START TRANSACTION READ ONLY', [], signal));
  try {
    const count = async (rows: SampleRows) =>
      Number((await step('the sample', () => queryRaw<RawRow>(conn, `SELECT COUNT(*) AS n FROM ${rows.sql('1 AS one')}`, rows.params, signal)))[0]?.n?.toString() ?? 0);
    let rows = firstRows(from, n);
    let sampled = await count(rows);
    const whole = sampled < n;
    let method = 'every row';
    let rowCount = whole ? sampled : info.view ? undefined : estimate;
    let rowCountExact = whole;
    // The rows the distinct counts are extrapolated to (Duj1); undefined: not extrapolated.
    let population: number | undefined;
    let drawn = false;
    if (!whole && key !== undefined) {
      const id = quoteIdentifier(key);
      const [ends] = await step('the sample', () => queryRaw<RawRow>(conn, `SELECT MIN(${id}) AS lo, MAX(${id}) AS hi FROM ${from}`, [], signal));
      const [lo, hi] = [Number(ends?.lo?.toString()), Number(ends?.hi?.toString())];
      if (Number.isSafeInteger(lo) && Number.isSafeInteger(hi)) {
        const per = rowsPerRange(n);
        const starts = Array.from({ length: Math.ceil(n / per) }, () => lo + Math.floor(Math.random() * (hi - lo + 1))).sort((x, y) => x - y);
        rows = keyRanges(from, key, starts, per, hi + 1);
        sampled = await count(rows);
        method = `${starts.length} ranges of ${per} rows at random points of the primary key ${key}`;
        population = estimate;
        drawn = true;
      }
    }
    if (!whole && !drawn) {
      const what = info.view ? 'view' : 'table';
      const bound = SAMPLE_READ_FACTOR * n;
      const seed = Math.floor(Math.random() * 2 ** 31);
      const counted = await count({ sql: () => `(SELECT 1 FROM ${from} LIMIT ${bound + 1}) s`, params: [] });
      rows = drawnRows(from, read.columns.map((c) => c.name), bound, n, seed);
      sampled = await count(rows);
      if (counted <= bound) {
        rowCount = counted;
        rowCountExact = true;
        population = counted;
        method = `${n} rows drawn at random from every row of the ${what} (${counted}, read whole: at most ${bound} rows are read)`;
      } else {
        population = bound;
        method = `${n} rows drawn at random from the first ${bound} rows the ${what} returned: it has more, so not uniform over the whole ${what} (${info.view ? 'a view' : 'no one-column integer primary key'}: reads stop at ${SAMPLE_READ_FACTOR} × the sample); distinct counts estimated for those ${bound} rows`;
      }
    }
    const rowCountSource = rowCountExact ? `counted (${rowCount})` : 'information_schema.TABLES (TABLE_ROWS, an estimate)';
    yield {
      kind: 'table',
      table: {
        rowCount,
        rowCountExact,
        sampleRows: sampled,
        source: whole
          ? `a bounded read of at most ${n} rows (SELECT … LIMIT ${n}), which read the whole ${info.view ? 'view' : 'table'}: ${sampled} rows`
          : `a sample of ${sampled} rows: ${method}; row count: ${rowCountSource}; distinct counts: Haas–Stokes Duj1 estimate`,
        sampleMethod: method,
        ...(!rowCountExact && rowCount !== undefined ? { statisticsAge: rowCountAge(innodbAge) } : {}),
      },
    };
    for (const c of read.columns) {
      if (signal.aborted) return;
      yield { kind: 'column', column: await sampleColumn(conn, read, c, rows, sampled, whole ? undefined : population, version, signal) };
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
  population: number | undefined,
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
    distinctExact: population === undefined,
    mostCommon: [],
    histogram: [],
    types: [],
  };
  // Part of the table: the Haas–Stokes Duj1 estimate of the distinct values of the `population`
  // rows from the sample's distinct values and those seen once (f1).
  if (population !== undefined && profile.distinctCount) {
    const [once] = await step(what, () =>
      queryRaw<RawRow>(conn, `SELECT COUNT(*) AS f1 FROM (SELECT v FROM ${sample} WHERE v IS NOT NULL GROUP BY v HAVING COUNT(*) = 1) o`, n, signal),
    );
    profile.distinctCount = duj1(count, profile.distinctCount, Number(once?.f1?.toString() ?? 0), population);
  }
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

