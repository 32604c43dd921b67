/**
 * Profiles of SQLite tables and views (the `profile` capability).
 *
 * STATISTICS: SQLite keeps a row estimate per table in `sqlite_stat1` once `ANALYZE` has run
 * (the first number of the row whose `idx` is NULL, or of any of the table's indexes); no
 * per-column figure is read (`sqlite_stat4` samples are not decoded), so every column says
 * `noStatistics`.
 *
 * SAMPLE: the first statement reads at most n + 1 rows' worth of `count(*)`. When the table
 * holds at most n rows, every row is read: the row count is counted and every figure is EXACT.
 * A larger table is read as its first n rows in primary-key (or rowid) order — SQLite has no
 * TABLESAMPLE, and this example keeps to the simple, honest case — and the header says so;
 * its figures are then SAMPLED (the row count from `sqlite_stat1` when there is one) and its
 * distinct counts the sample's own, not extrapolated.
 *
 * Per column, over `WITH s AS (SELECT col AS v FROM t ORDER BY key LIMIT n)`, all in one read
 * transaction (one snapshot): `count(*)`, `count(v)`, `count(DISTINCT v)`, `min(v)`/`max(v)`
 * (SQLite's order across storage classes and the column's collation), the average storage
 * size of a non-null value (see {@link STORAGE_BYTES}), and unless masked the most common
 * values (`GROUP BY v ORDER BY count(*) DESC, v`) and for INTEGER, REAL and NUMERIC columns
 * histogram bounds (percentile_disc: the value at row ⌈i·m/b⌉ of the m non-null values in
 * order, repeats kept). Values are rendered as the preview renders them.
 */
import type { ColumnProfile, ProfileItem, ProfileRead, RelationKey } from '@sourced/plugin-sdk';
import type { SqliteDatabase } from './database';
import { primaryKeyOrder, qualified, renderCell, tableColumns, textOf } from './preview';
import { quoteIdentifier, typeAffinity } from './sql';

/**
 * SQL for the bytes SQLite stores a non-null value in (its record payload, without the
 * header's serial type): an INTEGER 0, 1, 2, 3, 4, 6 or 8 bytes by its size (0 for the
 * constants 0 and 1), a REAL 8, TEXT and BLOB their length in bytes.
 */
export const STORAGE_BYTES = (v: string) => `CASE typeof(${v})
  WHEN 'integer' THEN CASE WHEN ${v} IN (0, 1) THEN 0 WHEN ${v} BETWEEN -128 AND 127 THEN 1 WHEN ${v} BETWEEN -32768 AND 32767 THEN 2
    WHEN ${v} BETWEEN -8388608 AND 8388607 THEN 3 WHEN ${v} BETWEEN -2147483648 AND 2147483647 THEN 4
    WHEN ${v} BETWEEN -140737488355328 AND 140737488355327 THEN 6 ELSE 8 END
  WHEN 'real' THEN 8 ELSE length(CAST(${v} AS BLOB)) END`;

/** The row estimate `ANALYZE` left in sqlite_stat1, or undefined (never analysed, or a view). */
function statRows(db: SqliteDatabase, table: RelationKey): number | undefined {
  const schema = quoteIdentifier(table.schema);
  const hasStat = db.prepare(`SELECT 1 FROM ${schema}.sqlite_schema WHERE name = 'sqlite_stat1'`).get() !== undefined;
  if (!hasStat) return undefined;
  const stat = db.prepare(`SELECT stat FROM ${schema}.sqlite_stat1 WHERE tbl = ? ORDER BY idx IS NOT NULL LIMIT 1`).pluck().get(table.name) as string | undefined;
  const rows = Number(stat?.split(' ')[0]);
  return Number.isFinite(rows) ? rows : undefined;
}

/** The profile of one table (see the module comment). */
export async function* profileTable(db: SqliteDatabase, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  const all = tableColumns(db, read.table);
  if (read.mode === 'STATISTICS') {
    yield { kind: 'table', table: { rowCount: statRows(db, read.table), rowCountExact: false, sampleRows: 0, source: 'sqlite_stat1' } };
    for (const c of read.columns) yield { kind: 'column', column: { name: c.name, type: c.type, distinctExact: false, mostCommon: [], histogram: [], types: [], noStatistics: true } };
    return;
  }

  const n = read.sampleRows;
  const order = primaryKeyOrder(all);
  const sample = `SELECT * FROM ${qualified(read.table)}${order} LIMIT ${Number(n)}`;
  db.prepare('BEGIN').run();
  try {
    const seen = db.prepare(`SELECT count(*) FROM (SELECT 1 FROM ${qualified(read.table)} LIMIT ?)`).pluck().get(n + 1) as number;
    const whole = seen <= n;
    const rows = Math.min(seen, n);
    yield {
      kind: 'table',
      table: whole
        ? { rowCount: rows, rowCountExact: true, sampleRows: rows, source: `every row (${rows})`, sampleMethod: 'every row' }
        : { rowCount: statRows(db, read.table), rowCountExact: false, sampleRows: rows, source: `the first ${rows} rows`, sampleMethod: `the first ${rows} rows in ${order ? 'primary-key' : 'rowid'} order` },
    };
    for (const c of read.columns) {
      // a turn of the event loop between statements, so a cancel is seen
      await new Promise((resolve) => setImmediate(resolve));
      if (signal.aborted) return;
      yield { kind: 'column', column: profileColumn(db, sample, c, read, whole) };
    }
  } finally {
    db.prepare('COMMIT').run();
  }
}

/** One column's figures over the sample (every row when `whole`). */
function profileColumn(db: SqliteDatabase, sample: string, c: { name: string; type: string }, read: ProfileRead, whole: boolean): ColumnProfile {
  const col = quoteIdentifier(c.name);
  const withSample = `WITH s AS (SELECT ${col} AS v FROM (${sample}))`;
  const counts = db
    .prepare(
      `${withSample} SELECT count(*) AS total, count(v) AS nonnull, count(DISTINCT v) AS distinct_count, avg(${STORAGE_BYTES('v')}) AS avg_bytes,
         min(v) AS mn, ${textOf('min(v)')} AS mn_text, max(v) AS mx, ${textOf('max(v)')} AS mx_text FROM s`,
    )
    .safeIntegers(true)
    .get() as { total: bigint; nonnull: bigint; distinct_count: bigint; avg_bytes: number | null; mn: unknown; mn_text: string; mx: unknown; mx_text: string };
  const total = Number(counts.total);
  const nonnull = Number(counts.nonnull);
  const profile: ColumnProfile = {
    name: c.name,
    type: c.type,
    nullFraction: total === 0 ? undefined : (total - nonnull) / total,
    distinctCount: Number(counts.distinct_count),
    distinctExact: whole,
    averageLength: counts.avg_bytes ?? undefined,
    mostCommon: [],
    histogram: [],
    types: [],
  };
  if (read.isMasked(c.name, c.type) || nonnull === 0) return profile;
  profile.min = renderCell(counts.mn, counts.mn_text, c.type);
  profile.max = renderCell(counts.mx, counts.mx_text, c.type);
  const top = db
    .prepare(`${withSample} SELECT v, ${textOf('v')} AS t, count(*) AS n FROM s WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT ?`)
    .safeIntegers(true)
    .all(read.mostCommonLimit) as { v: unknown; t: string; n: bigint }[];
  profile.mostCommon = top.map((r) => ({ value: renderCell(r.v, r.t, c.type), frequency: Number(r.n) / total }));
  const affinity = typeAffinity(c.type === 'ANY' ? '' : c.type);
  if (read.histogramBuckets > 0 && (affinity === 'INTEGER' || affinity === 'REAL' || affinity === 'NUMERIC')) {
    const b = read.histogramBuckets;
    const bounds = db
      .prepare(
        `${withSample} SELECT v, ${textOf('v')} AS t FROM (SELECT v, row_number() OVER (ORDER BY v) AS r, count(*) OVER () AS m FROM s WHERE v IS NOT NULL)
         WHERE r = 1 OR (r * ?) / m > ((r - 1) * ?) / m ORDER BY r`,
      )
      .safeIntegers(true)
      .all(BigInt(b), BigInt(b)) as { v: unknown; t: string }[]; // BigInt: bound as an INTEGER, so `/` divides integers
    profile.histogram = bounds.map((r) => renderCell(r.v, r.t, c.type));
  }
  return profile;
}
