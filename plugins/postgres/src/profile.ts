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
 * STATISTICS reads only the catalog: pg_class (with pg_stat_all_tables's ANALYZE and VACUUM
 * times: the statistics' age, {@link statisticsAge}), pg_attribute, then ONE query over
 * pg_stats for every column. Nothing reads the table. Per column:
 *   null_frac → nullFraction; n_distinct → distinctCount (a negative n_distinct is a fraction
 *   of the rows: × reltuples; estimates, so distinctExact false); avg_width → averageLength
 *   (absent for a variable-length column that may be stored out of line when the table has
 *   TOAST data: avg_width counts such a value as its 18-byte pointer, not its size);
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
 * way. A table never analysed (reltuples unknown) is sized from pg_relation_size and the rows
 * of {@link PROBE_BLOCKS} blocks drawn at random ({@link estimateRows}), then sampled the same
 * way. A view or foreign table cannot be sampled by blocks: n of its first
 * {@link SAMPLE_READ_FACTOR} × n rows are drawn at random by a hash of each row's text and
 * the seed ({@link viewSampleFrom}) — a uniform sample of the whole view when it has no more
 * rows than that (then counted: an exact row count), else of those first rows only, and the
 * header says so. When fewer than n rows came back without TABLESAMPLE, every row was read:
 * the row count is counted and the figures exact. Otherwise distinct counts are the Haas–Stokes Duj1 estimate
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
import { duj1, NotAllowedError, NotFoundError, type ColumnProfile, type ProfileItem, type ProfileRead, type RelationKey, type StatisticsAge } from '@sourced/core';
import type { Client } from 'pg';
import { isConnectionError, notPopulatedError, sqlState } from './pgErrors';
import { COLUMNS_SQL, pick, quoteIdent } from './preview';
import { renderCell, renderingOf, type CatalogColumn, type Rendering } from './rendering';
import { closedByCancel, query } from './query';

/** Re-exported from core, where the estimator now lives (shared with MySQL and MongoDB). */
export { duj1 };

/** The profile transaction: one snapshot for every statement, read only, the preview's text forms. */
const PROFILE_TRANSACTION_SQL = `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
       set_config('bytea_output', 'hex', true), set_config('extra_float_digits', '3', true),
       set_config('synchronize_seqscans', 'off', true)`;

/** The relation $1.$2 (as the preview finds it) with its size estimates. */
const TABLE_SQL = `
SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind,
       c.reltuples::float8 AS reltuples, c.relpages::float8 AS relpages, c.relispopulated AS populated,
       (CASE WHEN c.relkind = 'p'
             THEN (SELECT coalesce(sum(pg_relation_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t WHERE t.isleaf)
             WHEN c.relkind IN ('r', 'm') THEN pg_relation_size(c.oid) ELSE 0 END
        / current_setting('block_size')::int8)::float8 AS blocks,
       (CASE WHEN c.reltoastrelid <> 0 THEN pg_relation_size(c.reltoastrelid) ELSE 0 END)::float8 AS toast_bytes,
       (date_part('epoch', st.last_analyze) * 1000)::float8 AS last_analyze,
       (date_part('epoch', st.last_autoanalyze) * 1000)::float8 AS last_autoanalyze,
       (date_part('epoch', st.last_vacuum) * 1000)::float8 AS last_vacuum,
       (date_part('epoch', st.last_autovacuum) * 1000)::float8 AS last_autovacuum
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables st ON st.relid = c.oid
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
       (a.attlen = -1 AND a.attstorage <> 'p') AS toastable,
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
  /** The blocks the table has now (pg_relation_size; of every partition of a partitioned table). */
  blocks: number;
  /** The size of its TOAST table (values stored out of line), bytes; 0 when it has none. */
  toast_bytes: number;
  /** pg_stat_all_tables's times, ms since the epoch, null when it has none. */
  last_analyze: number | null;
  last_autoanalyze: number | null;
  last_vacuum: number | null;
  last_autovacuum: number | null;
}

type StatTime = 'last_analyze' | 'last_autoanalyze' | 'last_vacuum' | 'last_autovacuum';

/**
 * How old statistics are: the latest of pg_stat_all_tables's `times` (the later of the
 * ANALYZE times for pg_stats; those and the VACUUM times for reltuples, which both set), or
 * unknown when it has none of them (never run, or the cumulative statistics were reset since).
 */
export function statisticsAge(table: Pick<TableRow, StatTime>, times: readonly StatTime[]): StatisticsAge {
  let best: StatTime | undefined;
  for (const t of times) if (table[t] !== null && (best === undefined || (table[t] ?? 0) > (table[best] ?? 0))) best = t;
  if (best === undefined) {
    return { source: `unknown: pg_stat_all_tables has no ${times.join(', ')} time for the table (never run since its cumulative statistics were last reset, e.g. by pg_stat_reset() or a crash)` };
  }
  return { collectedAt: new Date(table[best] as number), source: `pg_stat_all_tables.${best}` };
}
const ANALYZE_TIMES: StatTime[] = ['last_analyze', 'last_autoanalyze'];
const ROW_COUNT_TIMES: StatTime[] = ['last_analyze', 'last_autoanalyze', 'last_vacuum', 'last_autovacuum'];

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
  /** A variable-length column whose values may be stored out of line (TOAST). */
  toastable: boolean | null;
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
  const columnAge = statisticsAge(table, ANALYZE_TIMES);
  yield { kind: 'table', table: { rowCount, rowCountExact: false, sampleRows: 0, source: 'pg_stats', statisticsAge: statisticsAge(table, ROW_COUNT_TIMES) } };
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
      // avg_width: the average pg_column_size of the non-null values ANALYZE read (whole bytes),
      // except that a value stored out of line counts as its 18-byte TOAST pointer: absent for a
      // column that may hold such values when the table has some (no figure rather than a wrong one).
      averageLength: s.null_frac >= 1 || (s.toastable === true && table.toast_bytes > 0) ? undefined : s.avg_width,
      mostCommon: (s.mcv ?? []).slice(0, read.mostCommonLimit).map((v, j) => ({ value: renderCell(v, rendering), frequency: mcf[j] ?? 0 })),
      histogram: downsample(bounds, read.histogramBuckets),
      types: [],
      statisticsAge: columnAge,
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

/** Blocks a never-analysed table's probe reads to learn its rows per block ({@link estimateRows}). */
export const PROBE_BLOCKS = 32;

/**
 * A never-analysed table's rows (reltuples unknown), estimated from the rows of about
 * {@link PROBE_BLOCKS} blocks drawn at random (`TABLESAMPLE SYSTEM ... REPEATABLE`) scaled to
 * its blocks now (pg_relation_size); counted when it has no more blocks than that.
 */
async function estimateRows(conn: Client, table: TableRow, seed: number, signal: AbortSignal): Promise<number> {
  const name = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  if (table.blocks <= PROBE_BLOCKS) return (await query<{ n: number }>(conn, `SELECT count(*)::float8 AS n FROM ${name}`, [], signal))[0]?.n ?? 0;
  const percent = Number(((100 * PROBE_BLOCKS) / table.blocks).toPrecision(6));
  const from = sampleFrom(table, percent, seed, 2 ** 31, false);
  const [row] = await query<{ n: number }>(conn, `SELECT count(*)::float8 AS n FROM (SELECT ${from}) p`, [], signal);
  return Math.round(((row?.n ?? 0) * 100) / percent);
}

/**
 * A view's (or foreign table's) sample: `n` rows drawn at random, by a hash of each row's text
 * and the seed, among the first `bound` rows it returns — every row when it has no more (a
 * uniform sample of the whole view); a view cannot be sampled by blocks. `bound` is
 * {@link SAMPLE_READ_FACTOR} × n: the read never goes past it. The profile transaction turns
 * synchronized sequential scans off, so every statement reads the same first rows.
 */
export function viewSampleFrom(table: { schema: string; name: string }, bound: number, seed: number, rows: number): string {
  if (!Number.isSafeInteger(rows) || rows < 1 || !Number.isSafeInteger(bound) || bound < rows) throw new Error(`bad sample size ${rows} of ${bound}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`bad seed ${seed}`);
  return `FROM (SELECT * FROM ${quoteIdent(table.schema)}.${quoteIdent(table.name)} LIMIT ${bound}) r ORDER BY md5(ROW(r.*)::text || '${seed}') LIMIT ${rows}`;
}

/** How a SAMPLE reads its rows, and what the header says of them. */
interface SamplePlan {
  from: string;
  /** Every row of the relation is in the sample: counts are exact. */
  whole: boolean;
  /** Rows in the sample. */
  sampleRows: number;
  /** The header's row count (counted when `exact`). */
  rowCount?: number;
  rowCountExact: boolean;
  /** The rows the Duj1 estimate extrapolates to (the table's, estimated), when known. */
  population?: number;
  source: string;
  sampleMethod: string;
  statisticsAge?: StatisticsAge;
}

/**
 * The plan of a SAMPLE of `n` rows (see the file's comment): a table, partitioned table or
 * materialized view by blocks drawn at random (with its reltuples, or, never analysed, the
 * rows of a probe of {@link PROBE_BLOCKS} blocks); a view or foreign table by a random draw
 * among its first {@link SAMPLE_READ_FACTOR} × n rows.
 */
async function samplePlan(conn: Client, table: TableRow, n: number, seed: number, signal: AbortSignal): Promise<SamplePlan> {
  const count = async (from: string) => (await query<{ n: number }>(conn, `WITH s AS (SELECT ${from}) SELECT count(*)::float8 AS n FROM s`, [], signal))[0]?.n ?? 0;
  const every = (rows: number): SamplePlan => ({
    from: '',
    whole: true,
    sampleRows: rows,
    rowCount: rows,
    rowCountExact: true,
    source: `every row (${rows}, fewer than the ${n} asked)`,
    sampleMethod: 'every row',
  });
  if (!['r', 'p', 'm'].includes(table.kind)) {
    const bound = SAMPLE_READ_FACTOR * n;
    const from = viewSampleFrom(table, bound, seed, n);
    const [row] = await query<{ n: number }>(conn, `SELECT count(*)::float8 AS n FROM (SELECT 1 FROM ${quoteIdent(table.schema)}.${quoteIdent(table.name)} LIMIT ${bound + 1}) c`, [], signal);
    const rows = row?.n ?? 0;
    if (rows <= n) return { ...every(rows), from };
    if (rows <= bound) {
      return {
        from,
        whole: false,
        sampleRows: n,
        rowCount: rows,
        rowCountExact: true,
        population: rows,
        source: `a sample of ${n} rows drawn at random from all ${rows} rows of the view (counted)`,
        sampleMethod: `${n} rows drawn at random from every row of the view (${rows}, read whole: at most ${bound} rows are read)`,
      };
    }
    return {
      from,
      whole: false,
      sampleRows: n,
      rowCountExact: false,
      population: bound,
      source: `a sample of ${n} rows drawn at random from the first ${bound} rows the view returned (it returns more)`,
      sampleMethod: `${n} rows drawn at random from the first ${bound} rows the view returned: it returns more, so not uniform over the whole view (a view cannot be sampled by blocks; reads stop at ${SAMPLE_READ_FACTOR} × the sample); distinct counts estimated for those ${bound} rows`,
    };
  }
  const analysed = table.reltuples > 0;
  const estimated = analysed ? table.reltuples : await estimateRows(conn, table, seed, signal);
  const sized = { kind: table.kind, reltuples: estimated, relpages: analysed ? table.relpages : table.blocks };
  const percent = samplePercent(sized, n);
  const from = sampleFrom(table, percent, seed, n, true);
  const sampled = await count(from);
  // No TABLESAMPLE and fewer rows than the LIMIT: the read reached the end, every row is in.
  if (percent === undefined && sampled < n) return { ...every(sampled), from };
  const never = analysed
    ? ''
    : table.blocks <= PROBE_BLOCKS
      ? ` (never analysed: ${estimated} rows counted)`
      : ` (never analysed: ~${estimated} rows estimated from ${PROBE_BLOCKS} blocks drawn at random)`;
  const rowCount = rowCountOf(table);
  return {
    from,
    whole: false,
    sampleRows: sampled,
    rowCount,
    rowCountExact: false,
    population: estimated > 0 ? estimated : rowCount,
    source:
      percent === undefined
        ? `a sample of ${sampled} rows (rows drawn at random from the whole table)${never}`
        : `a sample of ${sampled} rows (TABLESAMPLE SYSTEM ${percent}%, rows drawn at random from its blocks; distinct counts: Haas–Stokes Duj1 estimate)${never}`,
    sampleMethod:
      percent === undefined ? `${n} rows drawn at random from every row${never}` : `TABLESAMPLE SYSTEM (${percent}%), ${n} rows drawn at random from the blocks read${never}`,
    ...(rowCount !== undefined ? { statisticsAge: statisticsAge(table, ROW_COUNT_TIMES) } : {}),
  };
}

/** SAMPLE: counts the sample (the table item), then one statement per column over the same sample. */
async function* sample(conn: Client, table: TableRow, columns: CatalogColumn[], read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const plan = await samplePlan(conn, table, read.sampleRows, seed, signal);
  const { from, whole } = plan;
  const sampleRows = plan.sampleRows;
  const tableRows = plan.population;
  yield {
    kind: 'table',
    table: {
      rowCount: plan.rowCount,
      rowCountExact: plan.rowCountExact,
      sampleRows,
      source: plan.source,
      sampleMethod: plan.sampleMethod,
      ...(plan.statisticsAge ? { statisticsAge: plan.statisticsAge } : {}),
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
