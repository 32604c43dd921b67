/**
 * STATISTICS mode of a MySQL/MariaDB profile: it reads only what the server keeps, never the
 * table's rows:
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
 */
import type { ColumnProfile, ProfileItem, ProfileRead, StatisticsAge } from '@sourced/core';
import type { Connection } from 'mysql2';
import { atLeast, sessionOf } from './connect';
import { DENIED_ERRNOS, serverErrno } from './mysqlErrors';
import { baseTypeOf } from './preview';
import { buf, innodbStatisticsAge, isHistogrammable, num, rowCountAge, step, tableInfo, text, UNORDERED_TYPES } from './profileCommon';
import { fromMysqlHistogram, mariadbHistogram, mysqlHistogramAge, type ColumnStatsRow, type Kept } from './profileHistograms';
import { numberTextCell } from './profileValues';
import { query } from './query';

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

export async function* statisticsProfile(conn: Connection, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
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

/**
 * A mysql.column_stats row's age: a JSON_HB histogram's `collected_at` (the server's local
 * time of the ANALYZE, read in the server's time zone), else unknown — the table keeps no time.
 */
function columnStatsAge(row: Pick<ColumnStatsRow, 'hist_type' | 'histogram'> & { collected_at?: string | number | null }): StatisticsAge {
  if (row.collected_at !== undefined && row.collected_at !== null) {
    return {
      collectedAt: new Date(Number(row.collected_at) * 1000),
      source: 'mysql.column_stats JSON_HB histogram collected_at (local time in @@global.time_zone)',
    };
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
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rethrows the caught driver error unchanged, through step() so it is classified as every other read
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
