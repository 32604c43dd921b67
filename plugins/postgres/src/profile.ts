/**
 * ProfileTable for PostgreSQL.
 *
 * Both modes run in one `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY` transaction whose
 * `SET LOCAL` settings are the preview's (TimeZone UTC, DateStyle ISO, bytea_output hex,
 * extra_float_digits 3), so every value comes back in the text form the preview's
 * {@link renderCell} parses; the snapshot is the same for every statement, so SAMPLE's
 * per-column queries see the same sample (see below). The table is looked up by exact schema
 * and name in pg_class (with reltuples and relpages), its columns in pg_attribute (the
 * preview's catalog query), and only catalog names reach the SQL, quoted with
 * {@link quoteIdent}.
 *
 * STATISTICS reads only the catalog: pg_class, pg_attribute, then ONE query over pg_stats for
 * every column. Nothing reads the table. Per column:
 *   null_frac → nullFraction; n_distinct → distinctCount (a negative n_distinct is a fraction
 *   of the rows: × reltuples; estimates, so distinctExact false); avg_width → averageLength;
 *   most_common_vals (anyarray, read as `::text::text[]`, each element the type's own text
 *   form) with most_common_freqs → mostCommon, rendered by the column's type like the preview;
 *   histogram_bounds → histogram (numeric and temporal columns only), downsampled to the
 *   requested number of buckets; min/max (ordered types) are the smallest and largest of the
 *   most common values and the histogram bounds together — PostgreSQL keeps the most common
 *   values out of the histogram, so the bounds alone miss a common extreme — compared by the
 *   server in the column's type and collation (one more statement, over those values passed
 *   as parameters, reading no table). They are what ANALYZE saw in its sample as of its last
 *   run: estimates, labelled as such.
 *   A column pg_stats has no row for (never analysed, added since, or not readable by this
 *   user) is `noStatistics`. Masked columns and array/composite columns: most_common_vals and
 *   histogram_bounds are selected only for the columns named in the query's $4/$5 (the
 *   statement log shows which), so a masked column's values never leave the server.
 *   pg_stats rows of the whole inheritance tree are preferred (what a SELECT reads).
 *
 * SAMPLE reads at most `sampleRows` rows, drawn at random over the whole table when it is a
 * table, partitioned table or materialized view with a row estimate (reltuples > 0):
 * `SELECT ... FROM t TABLESAMPLE SYSTEM (p) REPEATABLE (seed) ORDER BY md5(tableoid || ctid ||
 * seed) LIMIT n`, with p drawing about one block per row wanted, as ANALYZE does (see
 * {@link samplePercent}: at most the blocks of 20 × n rows, at least those of 3 × n and ten),
 * and the n rows kept drawn at random among the rows of those blocks (not the first ones
 * read, which came from a few blocks: a column that follows the physical order looked like
 * one value). A small table is read whole (no TABLESAMPLE) and n of its rows drawn the same
 * way. Views and never-analysed tables get `LIMIT n`, the first rows read, and say so. When
 * fewer than n rows came back without TABLESAMPLE, every row was read: the row count is
 * counted and the figures exact. Otherwise distinct counts are the Haas–Stokes Duj1 estimate
 * for the table ({@link duj1}, ANALYZE's estimator) from the sample's distinct values and
 * those seen once. The session's statement timeout (the strategy's) applies. The first
 * statement counts the sample (the table item); then one statement per column computes,
 * set-based over `WITH s AS (<the sample>)`: count(*), count(col), count(DISTINCT col), the
 * values seen once, avg(pg_column_size(col)), and for unmasked columns min/max (ordered
 * types), the top values (GROUP BY ... ORDER BY count DESC LIMIT k) and a histogram
 * (percentile_disc(array[...]) WITHIN GROUP, numeric and temporal types). The same seed and
 * snapshot give every statement the same blocks and the same order, so the same rows. Each
 * column is yielded as soon as its statement returns. Types without an equality (json,
 * point, xml, ...) are grouped and counted by their text form; arrays and composite types by
 * `to_jsonb(col)::text`.
 */
import { duj1, NotAllowedError, NotFoundError, type ColumnProfile, type ProfileItem, type ProfileRead, type RelationKey } from '@sourced/core';
import type { Client } from 'pg';
import { isConnectionError, notPopulatedError, sqlState } from './pgErrors';
import { COLUMNS_SQL, pick, quoteIdent, renderCell, renderingOf, type CatalogColumn, type Rendering } from './preview';
import { closedByCancel, query } from './query';

/** Re-exported from core, where the estimator now lives (shared with MySQL and MongoDB). */
export { duj1 };

/** The profile transaction: one snapshot for every statement, read only, the preview's text forms. */
const PROFILE_TRANSACTION_SQL = `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
       set_config('bytea_output', 'hex', true), set_config('extra_float_digits', '3', true)`;

/** The relation $1.$2 (as the preview finds it) with its size estimates. */
const TABLE_SQL = `
SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind,
       c.reltuples::float8 AS reltuples, c.relpages::float8 AS relpages, c.relispopulated AS populated
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND has_schema_privilege(n.oid, 'USAGE')`;

/**
 * pg_stats of columns $3 of $1.$2; values (most common, histogram) only of the columns in $4
 * (most common) and $5 (histogram). The whole inheritance tree's row first when there are two.
 * With each row, the column's type without its modifier and its collation (relation $6), both
 * as SQL names: what the extremes of the statistics' values are computed in.
 */
const STATS_SQL = `
SELECT DISTINCT ON (s.attname) s.attname::text AS name, s.null_frac::float8 AS null_frac,
       s.n_distinct::float8 AS n_distinct, s.avg_width::float8 AS avg_width,
       CASE WHEN s.attname = ANY($4) THEN s.most_common_vals::text::text[] END AS mcv,
       CASE WHEN s.attname = ANY($4) THEN s.most_common_freqs::float8[] END AS mcf,
       CASE WHEN s.attname = ANY($5) THEN s.histogram_bounds::text::text[] END AS histogram,
       format_type(a.atttypid, NULL) AS value_type,
       CASE WHEN co.oid IS NOT NULL THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation
FROM pg_stats s
LEFT JOIN pg_attribute a ON a.attrelid = $6::oid AND a.attname = s.attname
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
WHERE s.schemaname = $1 AND s.tablename = $2 AND s.attname = ANY($3)
ORDER BY s.attname, s.inherited DESC`;

/**
 * The extremes of statistics' values, computed by the server in the column's type and
 * collation: `(SELECT min(v)::text FROM unnest($i::text[]::T[]) v)` per column, T and the
 * collation from the catalog ({@link STATS_SQL}), the values as parameters.
 */
export function extremesSql(columns: { type: string; collation: string | null }[]): string {
  if (!columns.length) throw new Error('no columns');
  const list = columns.flatMap((c, i) => {
    const v = c.collation ? `v COLLATE ${c.collation}` : 'v';
    const values = `unnest($${i + 1}::text[]::${c.type}[]) v`;
    return [`(SELECT min(${v})::text FROM ${values}) AS min${i}`, `(SELECT max(${v})::text FROM ${values}) AS max${i}`];
  });
  return `SELECT ${list.join(', ')}`;
}

interface TableRow {
  oid: string;
  schema: string;
  name: string;
  kind: string;
  reltuples: number;
  relpages: number;
  populated: boolean;
}

interface StatsRow {
  name: string;
  null_frac: number;
  n_distinct: number;
  avg_width: number;
  mcv: string[] | null;
  mcf: number[] | null;
  histogram: string[] | null;
  value_type: string | null;
  collation: string | null;
}

interface SampleRow {
  total: number;
  nonnull: number;
  distinct_count: number;
  singletons: number;
  avg_width: number | null;
  min?: string | null;
  max?: string | null;
  histogram?: string[] | null;
  top_values?: string[] | null;
  top_counts?: number[] | null;
}

/** Renderings whose values order (min/max aggregates exist). */
const ORDERED = new Set<Rendering>(['integer', 'decimal', 'float4', 'float8', 'timestamptz', 'timestamp', 'date', 'time']);
/** Text types with min/max. */
const ORDERED_TEXT = new Set(['text', 'varchar', 'bpchar', 'citext']);
/** Numeric and temporal renderings: the ones with a histogram. */
const HISTOGRAM = ORDERED;
/** Renderings compared and grouped as the type itself; the others by their text form. */
const TYPED_EQUALITY = new Set<Rendering>(['integer', 'decimal', 'float4', 'float8', 'boolean', 'text', 'timestamptz', 'timestamp', 'date', 'time', 'bytes']);

/** Whether a column's values order (min/max). */
function isOrdered(c: CatalogColumn, r: Rendering): boolean {
  return ORDERED.has(r) || (r === 'text' && ORDERED_TEXT.has(c.base_name));
}

/**
 * The profile of `read.columns` of `read.table`: the table item first, then each column as
 * soon as it is done. See the file's comment for what each mode reads.
 */
export async function* profileTable(conn: Client, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  await query(conn, PROFILE_TRANSACTION_SQL, [], signal);
  let finished = false;
  let failure: unknown;
  try {
    const [table] = await query<TableRow>(conn, TABLE_SQL, [read.table.schema, read.table.name], signal);
    if (!table) throw notFound(read.table);
    // A materialized view created WITH NO DATA has no rows and no statistics: refresh it first.
    if (!table.populated) throw notPopulatedError(read.table);
    const all = await query<CatalogColumn>(conn, COLUMNS_SQL, [table.oid], signal);
    const columns = pick(all, read.columns.map((c) => c.name), table);
    if (read.mode === 'SAMPLE') yield* sample(conn, table, columns, read, signal);
    else yield* statistics(conn, table, columns, read, signal);
    await query(conn, 'COMMIT', [], signal);
    finished = true;
  } catch (error) {
    failure = error;
    if (sqlState(error) === '42501') {
      throw new NotAllowedError('TABLE_NOT_READABLE', `cannot read ${read.table.schema}.${read.table.name}: ${(error as Error).message}`, {
        metadata: { schema: read.table.schema, name: read.table.name },
      });
    }
    throw error;
  } finally {
    // Also when the consumer stops early (the generator's return()): end the transaction.
    if (!finished && !signal.aborted && !closedByCancel(conn) && !isConnectionError(failure)) await conn.query('ROLLBACK').catch(() => undefined);
  }
}

function notFound(table: RelationKey): NotFoundError {
  return new NotFoundError('TABLE_NOT_FOUND', `no table or view "${table.schema}"."${table.name}" (or its schema is not visible to this user)`, {
    metadata: { schema: table.schema, name: table.name },
  });
}

/** reltuples as a row count: undefined when never analysed (-1) or a view. */
function rowCountOf(table: TableRow): number | undefined {
  return table.reltuples < 0 || table.kind === 'v' ? undefined : table.reltuples;
}

/** STATISTICS: the table item from pg_class, then one pg_stats query for every column (and one for the extremes of their values). */
async function* statistics(conn: Client, table: TableRow, columns: CatalogColumn[], read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  const rowCount = rowCountOf(table);
  yield { kind: 'table', table: { rowCount, rowCountExact: false, sampleRows: 0, source: 'pg_stats' } };
  const renderings = columns.map(renderingOf);
  const valued = columns.filter((c, i) => !read.isMasked(c.name, c.type) && renderings[i] !== 'to_json');
  // Histogram bounds are read for histogrammed columns (reported) and ordered ones (their extremes).
  const bounded = valued.filter((c) => HISTOGRAM.has(renderingOf(c)) || isOrdered(c, renderingOf(c)));
  const rows = await query<StatsRow>(
    conn,
    STATS_SQL,
    [table.schema, table.name, columns.map((c) => c.name), valued.map((c) => c.name), bounded.map((c) => c.name), table.oid],
    signal,
  );
  const byName = new Map(rows.map((r) => [r.name, r]));
  const extremes = await statisticsExtremes(conn, columns.filter((c) => isOrdered(c, renderingOf(c)) && bounded.includes(c)), byName, signal);
  for (const [i, c] of columns.entries()) {
    const rendering = renderings[i] ?? 'other';
    const s = byName.get(c.name);
    if (!s) {
      yield { kind: 'column', column: { name: c.name, type: c.type, distinctExact: false, mostCommon: [], histogram: [], types: [], noStatistics: true } };
      continue;
    }
    let distinctCount: number | undefined;
    if (s.n_distinct > 0) distinctCount = s.n_distinct;
    else if (s.n_distinct < 0) distinctCount = rowCount !== undefined && rowCount > 0 ? Math.round(-s.n_distinct * rowCount) : undefined;
    else distinctCount = s.null_frac >= 1 ? 0 : undefined; // 0: unknown, unless every value is NULL
    const bounds = HISTOGRAM.has(rendering) ? (s.histogram ?? []).map((v) => renderCell(v, rendering)) : [];
    const mcf = s.mcf ?? [];
    const extreme = extremes.get(c.name);
    const column: ColumnProfile = {
      name: c.name,
      type: c.type,
      nullFraction: s.null_frac,
      distinctCount,
      distinctExact: false,
      // avg_width: the average pg_column_size of the non-null values ANALYZE read (whole bytes).
      averageLength: s.null_frac >= 1 ? undefined : s.avg_width,
      mostCommon: (s.mcv ?? []).slice(0, read.mostCommonLimit).map((v, j) => ({ value: renderCell(v, rendering), frequency: mcf[j] ?? 0 })),
      histogram: downsample(bounds, read.histogramBuckets),
      types: [],
      ...(extreme?.min != null ? { min: renderCell(extreme.min, rendering) } : {}),
      ...(extreme?.max != null ? { max: renderCell(extreme.max, rendering) } : {}),
    };
    yield { kind: 'column', column };
  }
}

/**
 * Min and max of what pg_stats keeps of each column: its most common values together with its
 * histogram bounds (PostgreSQL keeps the most common values out of the histogram, so the
 * histogram alone misses an extreme that is common, and a column whose every value is common
 * has no histogram at all). The server compares them in the column's type and collation.
 * These are the extremes ANALYZE saw in its sample (every row up to 300 × the statistics
 * target), as of the last ANALYZE: estimates.
 */
async function statisticsExtremes(
  conn: Client,
  columns: CatalogColumn[],
  stats: Map<string, StatsRow>,
  signal: AbortSignal,
): Promise<Map<string, { min: string | null; max: string | null }>> {
  const wanted = columns.flatMap((c) => {
    const s = stats.get(c.name);
    const values = [...(s?.mcv ?? []), ...(s?.histogram ?? [])];
    return s?.value_type && values.length ? [{ name: c.name, type: s.value_type, collation: s.collation, values }] : [];
  });
  const out = new Map<string, { min: string | null; max: string | null }>();
  if (!wanted.length) return out;
  const [row] = await query<Record<string, string | null>>(conn, extremesSql(wanted), wanted.map((w) => w.values), signal);
  wanted.forEach((w, i) => out.set(w.name, { min: row?.[`min${i}`] ?? null, max: row?.[`max${i}`] ?? null }));
  return out;
}

/** At most buckets + 1 bounds, evenly spaced over `bounds`, the first and last kept. */
export function downsample<T>(bounds: T[], buckets: number): T[] {
  if (bounds.length <= buckets + 1 || buckets < 1) return bounds;
  const out: T[] = [];
  for (let i = 0; i <= buckets; i++) out.push(bounds[Math.round((i * (bounds.length - 1)) / buckets)] as T);
  return out;
}

/** Rows a sample may read at most per row it keeps (the blocks drawn hold this many times `rows`). */
export const SAMPLE_READ_FACTOR = 20;

/**
 * The TABLESAMPLE SYSTEM percentage for a uniform sample of `rows` rows of `table`, or
 * undefined when the whole table is read (it is small) or nothing can be sampled (a view, a
 * table never analysed: reltuples unknown). The blocks drawn number `rows` (one per row kept,
 * as ANALYZE draws them, so a column that follows the physical order is seen across the
 * table), at most as many as hold {@link SAMPLE_READ_FACTOR} × `rows` rows, at least as many
 * as hold 3 × `rows` rows and at least ten; the rows kept are then drawn at random among the
 * rows of those blocks ({@link sampleFrom}).
 */
export function samplePercent(table: { kind: string; reltuples: number; relpages: number }, rows: number): number | undefined {
  if (!isSampleable(table)) return undefined;
  const pages = Math.max(1, table.relpages);
  const perPage = Math.max(1, table.reltuples / pages);
  const blocks = Math.max(10, (3 * rows) / perPage, Math.min(rows, (SAMPLE_READ_FACTOR * rows) / perPage));
  const p = (100 * blocks) / pages;
  return p >= 100 ? undefined : Number(p.toPrecision(6));
}

/** Whether rows of `table` can be drawn at random (a table, partitioned table or materialized view with a row estimate). */
export function isSampleable(table: { kind: string; reltuples: number }): boolean {
  return ['r', 'p', 'm'].includes(table.kind) && table.reltuples > 0;
}

/**
 * `FROM <t> [TABLESAMPLE SYSTEM (p) REPEATABLE (seed)] [ORDER BY md5(tableoid, ctid, seed)] LIMIT n`:
 * numbers the code computed, names quoted from the catalog. With `shuffle`, the rows kept are
 * drawn at random (by a hash of each row's address and the seed, so every statement of the
 * profile keeps the same rows) among those read, not the first ones read.
 */
export function sampleFrom(table: { schema: string; name: string }, percent: number | undefined, seed: number, rows: number, shuffle = false): string {
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`bad sample size ${rows}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`bad seed ${seed}`);
  const sampled = percent === undefined ? '' : ` TABLESAMPLE SYSTEM (${Number(percent)}) REPEATABLE (${seed})`;
  const order = shuffle ? ` ORDER BY md5(tableoid::text || ctid::text || '${seed}')` : '';
  return `FROM ${quoteIdent(table.schema)}.${quoteIdent(table.name)}${sampled}${order} LIMIT ${rows}`;
}

/** One column's statement over the sample: counts, and unless masked, min/max, top values and histogram. */
export function sampleColumnSql(from: string, column: CatalogColumn, masked: boolean, mostCommon: number, buckets: number): { sql: string; params: unknown[] } {
  const rendering = renderingOf(column);
  const col = quoteIdent(column.name);
  const key = rendering === 'to_json' ? `to_jsonb(${col})::text` : TYPED_EQUALITY.has(rendering) ? col : `${col}::text`;
  const list = [
    'count(*)::float8 AS total',
    'count(v)::float8 AS nonnull',
    'count(DISTINCT k)::float8 AS distinct_count',
    '(SELECT count(*) FROM (SELECT 1 FROM s WHERE k IS NOT NULL GROUP BY k HAVING count(*) = 1) once)::float8 AS singletons',
    'avg(pg_column_size(v))::float8 AS avg_width',
  ];
  const params: unknown[] = [];
  let top = '';
  if (!masked) {
    if (isOrdered(column, rendering)) list.push('min(v)::text AS min', 'max(v)::text AS max');
    if (HISTOGRAM.has(rendering) && buckets > 0) {
      params.push(Array.from({ length: buckets + 1 }, (_, i) => i / buckets));
      list.push(`(percentile_disc($${params.length}::float8[]) WITHIN GROUP (ORDER BY v))::text[] AS histogram`);
    }
    if (mostCommon > 0) {
      if (!Number.isSafeInteger(mostCommon)) throw new Error(`bad limit ${mostCommon}`);
      top = `,\ntop AS (SELECT k, count(*)::float8 AS n FROM s WHERE k IS NOT NULL GROUP BY k ORDER BY n DESC, k LIMIT ${mostCommon})`;
      list.push('(SELECT array_agg(k::text ORDER BY n DESC, k) FROM top) AS top_values', '(SELECT array_agg(n ORDER BY n DESC, k) FROM top) AS top_counts');
    }
  }
  const sql = `WITH s AS (SELECT ${col} AS v, ${key} AS k ${from})${top}\nSELECT ${list.join(', ')} FROM s`;
  return { sql, params };
}

/** SAMPLE: counts the sample (the table item), then one statement per column over the same sample. */
async function* sample(conn: Client, table: TableRow, columns: CatalogColumn[], read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  const percent = samplePercent(table, read.sampleRows);
  const seed = Math.floor(Math.random() * 2 ** 31);
  const shuffle = isSampleable(table);
  const from = sampleFrom(table, percent, seed, read.sampleRows, shuffle);
  const [counted] = await query<{ n: number }>(conn, `WITH s AS (SELECT ${from}) SELECT count(*)::float8 AS n FROM s`, [], signal);
  const sampleRows = counted?.n ?? 0;
  // No TABLESAMPLE and fewer rows than the LIMIT: the read reached the end, every row is in.
  const whole = percent === undefined && sampleRows < read.sampleRows;
  const tableRows = rowCountOf(table);
  const how = !shuffle
    ? 'the first rows read, no TABLESAMPLE'
    : percent === undefined
      ? 'rows drawn at random from the whole table'
      : `TABLESAMPLE SYSTEM ${percent}%, rows drawn at random from its blocks; distinct counts: Haas–Stokes Duj1 estimate`;
  yield {
    kind: 'table',
    table: whole
      ? { rowCount: sampleRows, rowCountExact: true, sampleRows, source: `every row (${sampleRows}, fewer than the ${read.sampleRows} asked)`, sampleMethod: 'every row' }
      : {
          rowCount: tableRows,
          rowCountExact: false,
          sampleRows,
          source: `a sample of ${sampleRows} rows (${how})`,
          sampleMethod: !shuffle
            ? 'the first rows read (no TABLESAMPLE: a view, or a table never analysed)'
            : percent === undefined
              ? `${read.sampleRows} rows drawn at random from every row`
              : `TABLESAMPLE SYSTEM (${percent}%), ${read.sampleRows} rows drawn at random from the blocks read`,
        },
  };
  for (const c of columns) {
    const rendering = renderingOf(c);
    const masked = read.isMasked(c.name, c.type);
    const { sql, params } = sampleColumnSql(from, c, masked, read.mostCommonLimit, read.histogramBuckets);
    const [r] = await query<SampleRow>(conn, sql, params, signal);
    const total = r?.total ?? 0;
    const counts = r?.top_counts ?? [];
    const column: ColumnProfile = {
      name: c.name,
      type: c.type,
      nullFraction: total > 0 && r ? (total - r.nonnull) / total : undefined,
      // Every row read: the count. Otherwise the Duj1 estimate for the table (rows known), or the sample's count.
      distinctCount: whole || tableRows === undefined ? (r?.distinct_count ?? 0) : duj1(total, r?.distinct_count ?? 0, r?.singletons ?? 0, tableRows),
      distinctExact: whole,
      averageLength: r?.avg_width ?? undefined,
      mostCommon: total > 0 ? (r?.top_values ?? []).map((v, j) => ({ value: renderCell(v, rendering), frequency: (counts[j] ?? 0) / total })) : [],
      histogram: (r?.histogram ?? []).map((v) => renderCell(v, rendering)),
      types: [],
      ...(r?.min != null ? { min: renderCell(r.min, rendering) } : {}),
      ...(r?.max != null ? { max: renderCell(r.max, rendering) } : {}),
    };
    yield { kind: 'column', column };
  }
}
