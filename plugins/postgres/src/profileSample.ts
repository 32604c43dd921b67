/**
 * SAMPLE mode of a PostgreSQL profile (see profile.ts for the transaction both modes run in).
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
import { duj1, type ColumnProfile, type ProfileItem, type ProfileRead, type StatisticsAge } from '@sourced/core';
import type { Client } from 'pg';
import { quoteIdent } from './preview';
import { HISTOGRAM, isOrdered, ROW_COUNT_TIMES, rowCountOf, statisticsAge, TYPED_EQUALITY, type TableRow } from './profileCommon';
import { query } from './query';
import { renderCell, renderingOf, type CatalogColumn } from './rendering';

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
  const sampled = percent === undefined ? '' : ` TABLESAMPLE SYSTEM (${percent}) REPEATABLE (${seed})`;
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
  if (table.blocks <= PROBE_BLOCKS) return (await query<{ n: number }>(conn, `SELECT count(*)::float8 AS n FROM ${name}`, [], signal)).at(0)?.n ?? 0;
  const percent = Number(((100 * PROBE_BLOCKS) / table.blocks).toPrecision(6));
  const from = sampleFrom(table, percent, seed, 2 ** 31, false);
  const row = (await query<{ n: number }>(conn, `SELECT count(*)::float8 AS n FROM (SELECT ${from}) p`, [], signal)).at(0);
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
  const count = async (from: string) =>
    (await query<{ n: number }>(conn, `WITH s AS (SELECT ${from}) SELECT count(*)::float8 AS n FROM s`, [], signal))[0]?.n ?? 0;
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
    const row = (
      await query<{ n: number }>(
        conn,
        `SELECT count(*)::float8 AS n FROM (SELECT 1 FROM ${quoteIdent(table.schema)}.${quoteIdent(table.name)} LIMIT ${bound + 1}) c`,
        [],
        signal,
      )
    ).at(0);
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
      percent === undefined
        ? `${n} rows drawn at random from every row${never}`
        : `TABLESAMPLE SYSTEM (${percent}%), ${n} rows drawn at random from the blocks read${never}`,
    ...(rowCount !== undefined ? { statisticsAge: statisticsAge(table, ROW_COUNT_TIMES) } : {}),
  };
}

/** SAMPLE: counts the sample (the table item), then one statement per column over the same sample. */
export async function* sample(conn: Client, table: TableRow, columns: CatalogColumn[], read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
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
    const r = (await query<SampleRow>(conn, sql, params, signal)).at(0);
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
