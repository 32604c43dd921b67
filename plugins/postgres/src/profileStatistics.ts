/**
 * STATISTICS mode of a PostgreSQL profile (see profile.ts for the transaction both modes run
 * in). It reads only the catalog: pg_class (with pg_stat_all_tables's ANALYZE and VACUUM
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
 */
import type { ColumnProfile, ProfileItem, ProfileRead } from '@sourced/core';
import type { Client } from 'pg';
import { ANALYZE_TIMES, HISTOGRAM, isOrdered, ROW_COUNT_TIMES, rowCountOf, statisticsAge, type TableRow } from './profileCommon';
import { query } from './query';
import { renderCell, renderingOf, type CatalogColumn } from './rendering';

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

/** STATISTICS: the table item from pg_class, then one pg_stats query for every column (and one for the extremes of their values). */
export async function* statistics(
  conn: Client,
  table: TableRow,
  columns: CatalogColumn[],
  read: ProfileRead,
  signal: AbortSignal,
): AsyncGenerator<ProfileItem> {
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
  const extremes = await statisticsExtremes(
    conn,
    columns.filter((c) => isOrdered(c, renderingOf(c)) && bounded.includes(c)),
    byName,
    signal,
  );
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
  const row = (
    await query<Record<string, string | null | undefined>>(
      conn,
      extremesSql(wanted),
      wanted.map((w) => w.values),
      signal,
    )
  ).at(0);
  wanted.forEach((w, i) => out.set(w.name, { min: row?.[`min${i}`] ?? null, max: row?.[`max${i}`] ?? null }));
  return out;
}

/** At most buckets + 1 bounds, evenly spaced over `bounds`, the first and last kept. */
export function downsample<T>(bounds: T[], buckets: number): T[] {
  if (bounds.length <= buckets + 1 || buckets < 1) return bounds;
  const out: T[] = [];
  for (let i = 0; i <= buckets; i++) out.push(bounds[Math.round((i * (bounds.length - 1)) / buckets)]);
  return out;
}
