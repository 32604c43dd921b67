/**
 * What both modes of a PostgreSQL profile share: the table's row (pg_class with its size
 * estimates and pg_stat_all_tables's times), the statistics' age, and which renderings order
 * (min/max), have a histogram or compare as their type.
 */
import type { StatisticsAge } from '@sourced/core';
import type { CatalogColumn, Rendering } from './rendering';

/** The relation $1.$2 (as the preview finds it) with its size estimates. */
export const TABLE_SQL = `
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

export interface TableRow {
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

export type StatTime = 'last_analyze' | 'last_autoanalyze' | 'last_vacuum' | 'last_autovacuum';

/**
 * How old statistics are: the latest of pg_stat_all_tables's `times` (the later of the
 * ANALYZE times for pg_stats; those and the VACUUM times for reltuples, which both set), or
 * unknown when it has none of them (never run, or the cumulative statistics were reset since).
 */
export function statisticsAge(table: Pick<TableRow, StatTime>, times: readonly StatTime[]): StatisticsAge {
  let best: StatTime | undefined;
  for (const t of times) if (table[t] !== null && (best === undefined || (table[t] ?? 0) > (table[best] ?? 0))) best = t;
  if (best === undefined) {
    return {
      source: `unknown: pg_stat_all_tables has no ${times.join(', ')} time for the table (never run since its cumulative statistics were last reset, e.g. by pg_stat_reset() or a crash)`,
    };
  }
  return { collectedAt: new Date(table[best] as number), source: `pg_stat_all_tables.${best}` };
}
export const ANALYZE_TIMES: StatTime[] = ['last_analyze', 'last_autoanalyze'];
export const ROW_COUNT_TIMES: StatTime[] = ['last_analyze', 'last_autoanalyze', 'last_vacuum', 'last_autovacuum'];

/** Renderings whose values order (min/max aggregates exist). */
const ORDERED = new Set<Rendering>(['integer', 'decimal', 'float4', 'float8', 'timestamptz', 'timestamp', 'date', 'time']);
/** Text types with min/max. */
const ORDERED_TEXT = new Set(['text', 'varchar', 'bpchar', 'citext']);
/** Numeric and temporal renderings: the ones with a histogram. */
export const HISTOGRAM = ORDERED;
/** Renderings compared and grouped as the type itself; the others by their text form. */
export const TYPED_EQUALITY = new Set<Rendering>([
  'integer',
  'decimal',
  'float4',
  'float8',
  'boolean',
  'text',
  'timestamptz',
  'timestamp',
  'date',
  'time',
  'bytes',
]);

/** Whether a column's values order (min/max). */
export function isOrdered(c: CatalogColumn, r: Rendering): boolean {
  return ORDERED.has(r) || (r === 'text' && ORDERED_TEXT.has(c.base_name));
}

/** reltuples as a row count: undefined when never analysed (-1) or a view. */
export function rowCountOf(table: TableRow): number | undefined {
  return table.reltuples < 0 || table.kind === 'v' ? undefined : table.reltuples;
}
