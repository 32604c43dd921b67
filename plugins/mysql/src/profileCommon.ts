/**
 * What both modes of a MySQL/MariaDB profile share: how a read fails, which types order and
 * have a histogram, what information_schema.TABLES says of the table, and the age of InnoDB's
 * statistics (the row count's and an index cardinality's).
 */
import type { ProfileRead, StatisticsAge } from '@sourced/core';
import type { Connection } from 'mysql2';
import { DENIED_ERRNOS, guardedRead, serverErrno, type ReadReasons } from './mysqlErrors';
import { DECIMAL_TYPES, FLOAT_TYPES, GEOMETRY_TYPES, INTEGER_TYPES, baseTypeOf } from './preview';
import { query } from './query';

/** How profile reads fail: a lost connection (HYBRID fails over), the time limit, a refused privilege, anything else. */
const PROFILE_READS: ReadReasons = { timeout: 'PROFILE_TIMEOUT', denied: 'PROFILE_NOT_ALLOWED', failed: 'PROFILE_READ_FAILED' };
export const step = <T>(what: string, run: () => Promise<T>): Promise<T> => guardedRead(what, PROFILE_READS, run);

/** Types whose values order on a line: a histogram makes sense for them. */
const TEMPORAL_TYPES = new Set(['date', 'datetime', 'timestamp', 'time', 'year']);
/** Types MIN/MAX say nothing useful about (or cannot order). */
export const UNORDERED_TYPES = new Set(['json', ...GEOMETRY_TYPES]);

export function isNumeric(type: string): boolean {
  const base = baseTypeOf(type);
  return INTEGER_TYPES.has(base) || DECIMAL_TYPES.has(base) || FLOAT_TYPES.has(base);
}
export function isHistogrammable(type: string): boolean {
  return isNumeric(type) || TEMPORAL_TYPES.has(baseTypeOf(type)) || baseTypeOf(type) === 'bit';
}

interface TableRowsRow {
  schema_name: string;
  name: string;
  table_rows: number | string | null;
  engine: string | null;
  table_type: string | null;
}

/** What information_schema.TABLES says of the table. */
export interface TableInfo {
  /** TABLE_ROWS (undefined for a view or when the engine keeps none). */
  rows?: number;
  engine?: string;
  view: boolean;
}

/** information_schema.TABLES: TABLE_ROWS (undefined for a view or when the engine keeps none), the engine, whether it is a view. */
export async function tableInfo(conn: Connection, read: ProfileRead, signal: AbortSignal): Promise<TableInfo> {
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
export async function innodbStatisticsAge(conn: Connection, read: ProfileRead, info: TableInfo, signal: AbortSignal): Promise<StatisticsAge | undefined> {
  if (info.view) return undefined;
  if (info.engine?.toLowerCase() !== 'innodb') return { source: `unknown: the ${info.engine ?? "table's"} engine keeps no time of its statistics` };
  try {
    const row = (
      await query<{ t: string | number | null }>(
        conn,
        'SELECT UNIX_TIMESTAMP(last_update) AS t FROM mysql.innodb_table_stats WHERE database_name = ? AND table_name = ?',
        [read.table.schema, read.table.name],
        signal,
      )
    ).at(0);
    if (!row || row.t === null)
      return { source: 'unknown: mysql.innodb_table_stats has no row for the table (its statistics are not persistent: STATS_PERSISTENT=0)' };
    return { collectedAt: new Date(Number(row.t) * 1000), source: 'mysql.innodb_table_stats.last_update' };
  } catch (error) {
    const errno = serverErrno(error);
    if (errno !== undefined && DENIED_ERRNOS.has(errno)) {
      return { source: 'unknown: mysql.innodb_table_stats is not readable by this account (GRANT SELECT ON mysql.innodb_table_stats)' };
    }
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rethrows the caught driver error unchanged, through step() so it is classified as every other read
    return step('mysql.innodb_table_stats', () => Promise.reject(error));
  }
}

/** The row count's age: InnoDB's last recalculation, TABLE_ROWS being adjusted since for the rows written. */
export function rowCountAge(age: StatisticsAge | undefined): StatisticsAge | undefined {
  if (!age?.collectedAt) return age;
  return { ...age, source: `${age.source} (InnoDB's last statistics recalculation; TABLE_ROWS is adjusted since for the rows inserted and deleted)` };
}

export function text(v: string | Buffer): string {
  return typeof v === 'string' ? v : v.toString('utf8');
}
export function buf(v: Buffer | string | null): Buffer {
  if (v === null) return Buffer.alloc(0);
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}
export function num(v: string | number | null): number | undefined {
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}
