import type { RelationKey } from '../discovery/entities';
import type { Cell, PreviewColumnInfo } from './preview';

/* What a profiler reads and returns (see {@link Profiler}); ProfileEngine re-exports these. */

/** Where a profile's figures come from (see proto `sourced.v1.ProfileMode`). */
export type ProfileMode = 'STATISTICS' | 'SAMPLE';

/**
 * How a profile figure was obtained (see proto `sourced.v1.FigureMethod`): `EXACT`, computed
 * from every row now; `STATISTICS`, read from the database's own statistics (an estimate as
 * old as their last collection); `SAMPLED`, computed over a sample of the table.
 */
export type FigureMethod = 'EXACT' | 'STATISTICS' | 'SAMPLED';

/** How each figure of a column was obtained; a connector may leave it to the engine (the profile engine fills in the rest). */
export interface ColumnFigureMethods {
  /** `nullFraction`. */
  nullFraction?: FigureMethod;
  /** `distinctCount`. */
  distinctCount?: FigureMethod;
  /** `min` and `max`. */
  minMax?: FigureMethod;
  /** `mostCommon`. */
  mostCommon?: FigureMethod;
  /** `histogram`. */
  histogram?: FigureMethod;
  /** `averageLength`. */
  averageLength?: FigureMethod;
}

/**
 * How old the statistics behind STATISTICS figures are (see proto `sourced.v1.StatisticsAge`):
 * when the server last collected them, where it keeps that time.
 */
export interface StatisticsAge {
  /** When the server last collected them; undefined when it keeps no such time (then `source` says why). */
  collectedAt?: Date;
  /** Where `collectedAt` was read, or why it is unknown, for people (`pg_stat_user_tables.last_autoanalyze`). */
  source: string;
}

/** The profile of one column, as a connector reports it. Absent figures are unknown. */
export interface ColumnProfile {
  /** The column's name (MongoDB: the top-level field). */
  name: string;
  /** Its type as the source names it. */
  type: string;
  /** Share of rows where it is NULL (documents: missing or null), 0..1. */
  nullFraction?: number;
  /** Distinct non-null values. */
  distinctCount?: number;
  /**
   * Whether `distinctCount` is the table's exact count. In SAMPLE mode the engine keeps it only
   * when the sample read every row (the header's `rowCountExact` with `rowCount` = `sampleRows`).
   */
  distinctExact: boolean;
  /** Smallest value, when the type orders (STATISTICS: the statistics' lowest bound). */
  min?: Cell;
  /** Largest value, when the type orders (STATISTICS: the statistics' highest bound). */
  max?: Cell;
  /**
   * The average storage size in bytes of a non-null value, as the database counts it (the
   * same figure in both modes): PostgreSQL pg_column_size / avg_width, MySQL/MariaDB the
   * value's bytes as mysql.column_stats avg_length (fixed types their size, strings their
   * LENGTH()), MongoDB the value's BSON size. Never characters or the text of a number.
   */
  averageLength?: number;
  /** Most common values, most frequent first, with their share of rows (0..1). */
  mostCommon: { value: Cell; frequency: number }[];
  /** Equi-depth histogram bounds of a numeric or temporal column, ascending. */
  histogram: Cell[];
  /** Share of each value type (document stores). */
  types: { type: string; frequency: number }[];
  /** STATISTICS mode: the database keeps no statistics of this column. */
  noStatistics?: boolean;
  /** How each figure was obtained; unset ones are filled in by the engine from the mode. */
  methods?: ColumnFigureMethods;
  /** How old the statistics of its STATISTICS figures are (the engine drops it when no figure is STATISTICS). */
  statisticsAge?: StatisticsAge;
}

/** The table as a whole, reported before its columns. */
export interface TableProfile {
  /** Rows: counted when `rowCountExact`, else the database's estimate; undefined when unknown. */
  rowCount?: number;
  /** Whether `rowCount` was counted rather than estimated. */
  rowCountExact: boolean;
  /** Rows a SAMPLE read (0 in STATISTICS mode). */
  sampleRows: number;
  /** Where the figures come from, for people: `pg_stats`, `a sample of 10000 rows`. */
  source: string;
  /** SAMPLE: how the rows were chosen, for people (`TABLESAMPLE SYSTEM (2.5%)`, `$sample`, `every row`). */
  sampleMethod?: string;
  /** How old the row count's statistics are, when it is an estimate (the engine drops it when the row count is counted). */
  statisticsAge?: StatisticsAge;
}

/** What a profile yields, in order: the table, then each column as soon as it is done. */
export type ProfileItem = { kind: 'table'; table: TableProfile } | { kind: 'column'; column: ColumnProfile };

/** What a connector is asked to profile. */
export interface ProfileRead {
  /** The table, resolved by {@link Previewer.previewColumns}. */
  table: RelationKey;
  /** The columns to profile, in this order (resolved from the catalog). */
  columns: readonly PreviewColumnInfo[];
  /** Where the figures come from: the database's statistics, or a bounded sample. */
  mode: ProfileMode;
  /** SAMPLE: rows to read at most. Never more: SAMPLE does not scan a table. */
  sampleRows: number;
  /** Most common values per column, at most. */
  mostCommonLimit: number;
  /** Histogram buckets, at most. */
  histogramBuckets: number;
  /**
   * Whether a column's values are masked: report counts only (null fraction, distinct count)
   * and no value (no min, max, most common values or histogram) — do not even read them where
   * the source allows.
   */
  isMasked(name: string, type?: string): boolean;
}
