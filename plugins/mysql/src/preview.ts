/**
 * PreviewTable for MySQL and MariaDB: the table and its columns from information_schema, then
 * one `SELECT <columns> FROM <db>.<table> [ORDER BY <primary key>] LIMIT ?` in a read-only
 * transaction, its values read as the raw bytes of the text protocol and rendered by the
 * column's type without loss (see {@link renderCell}).
 *
 * Names travel as `?` values in the catalog reads; in the preview statement, identifiers are
 * the catalog's own names quoted with backticks ({@link quoteIdentifier}), never text a caller
 * wrote: a name the catalog does not hold is NOT_FOUND (or an InputError for a column) before
 * any SQL is built from it.
 */
import { InputError, NotFoundError, type Cell, type PreviewColumnInfo, type PreviewRead, type RelationKey } from '@sourced/core';
import type { Connection } from 'mysql2';
import { isJsonCheck, type CheckRow } from './catalogRows';
import { sessionOf } from './connect';
import { guardedRead, type ReadReasons } from './mysqlErrors';
import { closedByCancel, query } from './query';

/** How preview reads fail: a lost connection (HYBRID fails over), the time limit, a refused privilege, anything else. */
const PREVIEW_READS: ReadReasons = { timeout: 'PREVIEW_TIMEOUT', denied: 'PREVIEW_NOT_ALLOWED', failed: 'PREVIEW_READ_FAILED' };
const step = <T>(what: string, run: () => Promise<T>): Promise<T> => guardedRead(what, PREVIEW_READS, run);

/** TABLE_TYPEs a preview reads: tables (MariaDB's system-versioned ones too) and views. */
const PREVIEW_TABLE_TYPES = new Set(['BASE TABLE', 'SYSTEM VERSIONED', 'VIEW']);

/** How many column names an unknown-column error lists at most. */
const LISTED_COLUMNS = 50;

/** Privilege errors: table/column access denied (1142, 1143), database access denied (1044). */

/** Spatial types, read as WKT through ST_AsText (the raw value is the server's internal SRID+WKB). */
export const GEOMETRY_TYPES = new Set([
  'geometry',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
  'geometrycollection',
  'geomcollection',
]);
export const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);
export const DECIMAL_TYPES = new Set(['decimal', 'numeric', 'dec', 'fixed']);
export const FLOAT_TYPES = new Set(['float', 'double', 'real']);
export const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);
export const BYTES_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'vector']);

/** The server's own databases (compared case-insensitively, as on servers with lower_case_table_names). */
const SYSTEM_DATABASES = new Set(['mysql', 'information_schema', 'performance_schema', 'sys']);

/** Whether a table is in one of the server's own databases; previews and profiles refuse them unless the daemon opts in. */
export function isSystemTable(table: RelationKey): boolean {
  return SYSTEM_DATABASES.has(table.schema.toLowerCase());
}

/**
 * Columns of the `mysql` database that hold credential material (keys lower case): account
 * password hashes (`user.authentication_string`, MariaDB's `user.Password` view column,
 * `global_priv.Priv`, whose JSON carries the hash), federated servers' passwords, a replica's
 * source password, MySQL's password history, statement logs and column statistics.
 */
const CREDENTIAL_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  'mysql.user': ['authentication_string', 'password'],
  'mysql.global_priv': ['priv'],
  'mysql.servers': ['password'],
  'mysql.slave_master_info': ['user_password'],
  'mysql.password_history': ['password'],
  // Statement logs keep CREATE USER ... IDENTIFIED BY '<password>' as sent.
  'mysql.general_log': ['argument'],
  'mysql.slow_log': ['sql_text'],
  // Persistent statistics and histograms hold sample values of the columns they describe.
  'mysql.column_stats': ['min_value', 'max_value', 'histogram'],
  'mysql.column_statistics': ['histogram'],
};

/** The credential columns of a table (masked by the engines, which compare names case-insensitively). */
export function credentialColumns(table: RelationKey): readonly string[] {
  return CREDENTIAL_COLUMNS[`${table.schema}.${table.name}`.toLowerCase()] ?? [];
}

/** Quotes a MySQL identifier with backticks, doubling the backticks inside: `` a`b `` → `` `a``b` ``. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** The base type of a column type as information_schema writes it: `bigint(20) unsigned` → `bigint`. */
export function baseTypeOf(columnType: string): string {
  return /^[a-z0-9_]+/i.exec(columnType.trim())?.[0]?.toLowerCase() ?? '';
}

interface TableRow {
  schema_name: string;
  name: string;
  table_type: string;
}

interface PreviewColumnRow {
  schema_name: string;
  name: string;
  column_name: string;
  data_type: string;
  column_type: string;
}

interface KeyColumnRow {
  schema_name: string;
  name: string;
  column_name: string;
  column_type: string;
}

/**
 * The columns of a table or view for a preview: the relation by exact schema (database) and
 * name among information_schema.TABLES (NotFoundError `TABLE_NOT_FOUND` when the account sees
 * no such table or view), its columns in ORDINAL_POSITION order with COLUMN_TYPE as the type
 * (`json` for MariaDB's JSON alias, a LONGTEXT with its json_valid check, as discovery
 * reports it). With `columns`, those in that order; an unknown one is an InputError naming
 * `columns[i]` and listing the columns there are.
 */
export async function readPreviewColumns(conn: Connection, table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]> {
  // `=` on information_schema follows the server's name rules (case-insensitive with
  // lower_case_table_names); the exact match is made here, by code point.
  const tables = await step('the table', () =>
    query<TableRow>(
      conn,
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, TABLE_TYPE AS table_type
FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
      [table.schema, table.name],
      signal,
    ),
  );
  const found = tables.find((t) => t.schema_name === table.schema && t.name === table.name && PREVIEW_TABLE_TYPES.has(t.table_type));
  if (!found) {
    throw new NotFoundError('TABLE_NOT_FOUND', `no table or view ${table.name} in database ${table.schema} that this account can see`, {
      metadata: { schema: table.schema, table: table.name },
    });
  }
  const rows = (
    await step('its columns', () =>
      query<PreviewColumnRow>(
        conn,
        `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, COLUMN_NAME AS column_name, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
ORDER BY ORDINAL_POSITION`,
        [table.schema, table.name],
        signal,
      ),
    )
  ).filter((c) => c.schema_name === table.schema && c.name === table.name);

  // MariaDB's JSON is LONGTEXT with a column check json_valid(`col`) named after the column.
  const jsonColumns = new Set<string>();
  if (sessionOf(conn).version.flavour === 'MariaDB' && rows.some((c) => c.data_type.toLowerCase() === 'longtext')) {
    const checks = await step('its JSON checks', () =>
      query<CheckRow>(
        conn,
        `SELECT CONSTRAINT_SCHEMA AS schema_name, TABLE_NAME AS name, CONSTRAINT_NAME AS constraint_name, CHECK_CLAUSE AS check_clause
FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? AND CHECK_CLAUSE LIKE 'json\\_valid(%'`,
        [table.schema, table.name],
        signal,
      ),
    );
    for (const c of checks) if (c.schema_name === table.schema && c.name === table.name && isJsonCheck(c)) jsonColumns.add(c.constraint_name);
  }
  const all: PreviewColumnInfo[] = rows.map((c) => ({
    name: c.column_name,
    type: c.data_type.toLowerCase() === 'longtext' && jsonColumns.has(c.column_name) ? 'json' : c.column_type,
  }));
  if (columns.length === 0) return all;

  const byName = new Map(all.map((c) => [c.name, c]));
  const violations = columns.flatMap((name, i) =>
    byName.has(name)
      ? []
      : [
          {
            field: `columns[${i}]`,
            description: `${JSON.stringify(name)} is not a column of ${table.schema}.${table.name}; it has ${listed(all.map((c) => c.name))}`,
          },
        ],
  );
  if (violations.length) throw new InputError(violations, { reason: 'INVALID_REQUEST' });
  return columns.map((name) => byName.get(name) as PreviewColumnInfo);
}

/**
 * The rows of a preview: `SELECT <columns> FROM <db>.<table> [ORDER BY <primary key>] LIMIT ?`
 * (`SELECT 1` for no columns, giving rows of no cells), in a read-only transaction under the
 * session's statement time limit. Ordered by the primary key when the table has one and no
 * column of it is masked (a masked column never appears in the statement at all).
 */
export async function readPreviewRows(conn: Connection, read: PreviewRead, signal: AbortSignal): Promise<Cell[][]> {
  const { schema, name } = read.table;
  const types = new Map(read.columns.map((c) => [c.name, c.type]));
  const key = (
    await step('the primary key', () =>
      query<KeyColumnRow>(
        conn,
        `SELECT s.TABLE_SCHEMA AS schema_name, s.TABLE_NAME AS name, s.COLUMN_NAME AS column_name, c.COLUMN_TYPE AS column_type
FROM information_schema.STATISTICS s
JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? AND s.INDEX_NAME = 'PRIMARY'
ORDER BY s.SEQ_IN_INDEX`,
        [schema, name, schema, name],
        signal,
      ),
    )
  ).filter((k) => k.schema_name === schema && k.name === name);
  const orderBy =
    key.length > 0 && !key.some((k) => read.isMasked(k.column_name, types.get(k.column_name) ?? k.column_type)) ? key.map((k) => k.column_name) : [];

  const sql = previewSql(read, orderBy);
  // START TRANSACTION READ ONLY scopes read-only to this statement and leaves the session as
  // it was; a view over a function that writes fails instead of writing.
  await step('the rows', () => query(conn, 'START TRANSACTION READ ONLY', [], signal));
  let rows: Record<string, Buffer | null>[];
  try {
    rows = await step('the rows', () => queryRaw<Record<string, Buffer | null>>(conn, sql, [read.limit], signal));
  } finally {
    // A cancelled statement's connection is closed already; otherwise end the transaction
    // (nothing to keep). A failure here is the connection's, and the read's error says more.
    if (!signal.aborted && !closedByCancel(conn)) await query(conn, 'ROLLBACK', [], new AbortController().signal).catch(() => undefined);
  }
  return rows.map((row) => read.columns.map((c, i) => renderCell(c.type, row[`c${i}`] ?? null)));
}

/** The preview statement: each column aliased `c<i>` (names may repeat case-insensitively), spatial values as WKT. */
export function previewSql(read: Pick<PreviewRead, 'table' | 'columns'>, orderBy: readonly string[]): string {
  const select = read.columns.length
    ? read.columns
        .map((c, i) => {
          const id = quoteIdentifier(c.name);
          return `${GEOMETRY_TYPES.has(baseTypeOf(c.type)) ? `ST_AsText(${id})` : id} AS c${i}`;
        })
        .join(', ')
    : '1';
  const order = orderBy.length ? ` ORDER BY ${orderBy.map(quoteIdentifier).join(', ')}` : '';
  return `SELECT ${select} FROM ${quoteIdentifier(read.table.schema)}.${quoteIdentifier(read.table.name)}${order} LIMIT ?`;
}

/** mysql2's typeCast that hands every value over as the bytes the server sent (null for NULL). */
const RAW = (field: { buffer(): Buffer | null }): Buffer | null => field.buffer();

/**
 * A statement through the abortable {@link query} with mysql2's `typeCast` set to {@link RAW}
 * for it: mysql2 reads the typeCast of the connection's config when the result's columns
 * arrive, and the helper takes no per-query options, so it is set on this connection's config
 * for the statement (a connection runs one statement at a time) and put back after.
 */
export async function queryRaw<R>(conn: Connection, sql: string, params: readonly unknown[], signal: AbortSignal): Promise<R[]> {
  const config = conn.config as { typeCast?: unknown };
  const previous = config.typeCast;
  config.typeCast = RAW;
  try {
    return await query<R>(conn, sql, params, signal);
  } finally {
    config.typeCast = previous;
  }
}

/**
 * One value, from the bytes of the text protocol, by the column's type (COLUMN_TYPE, or
 * `json`). The session runs in UTC (`time_zone = '+00:00'`), so a TIMESTAMP is an instant at
 * +00:00. MySQL has no boolean type (BOOLEAN is TINYINT(1) and holds -128..127): it stays an
 * integer. One column keeps one kind: values no ISO form can carry stay in their column's kind
 * as the server prints them (zero dates and dates with a zero month or day, `0000-00-00`,
 * `2024-00-00T10:00:00`; TIME, a duration of -838:59:59 to 838:59:59, `-838:59:59`).
 */
export function renderCell(type: string, raw: Buffer | null): Cell {
  if (raw === null) return { kind: 'null' };
  const base = baseTypeOf(type);
  if (BYTES_TYPES.has(base)) return { kind: 'bytes', value: raw.toString('base64') };
  const text = raw.toString('utf8');
  if (INTEGER_TYPES.has(base)) return { kind: 'integer', value: text };
  if (DECIMAL_TYPES.has(base)) return { kind: 'decimal', value: text };
  if (FLOAT_TYPES.has(base)) return { kind: 'float', value: Number(text) };
  if (TEXT_TYPES.has(base)) return { kind: 'text', value: text };
  switch (base) {
    case 'json':
      return { kind: 'json', value: text };
    case 'bit':
      // Big-endian bytes of an unsigned number of up to 64 bits.
      return { kind: 'integer', value: raw.length ? BigInt(`0x${raw.toString('hex')}`).toString() : '0' };
    case 'year':
      return { kind: 'integer', value: String(Number(text)) };
    case 'date':
      return { kind: 'date', value: text };
    case 'datetime':
      return { kind: 'local_timestamp', value: text.replace(' ', 'T') };
    case 'timestamp':
      return { kind: 'timestamp', value: `${text.replace(' ', 'T')}+00:00` };
    case 'time':
      return { kind: 'time', value: text };
    default:
      // ENUM, SET, spatial WKT, MariaDB's UUID/INET4/INET6 and types unknown here: the
      // server's text, or the bytes when they are not text.
      return isUtf8(raw) ? { kind: 'other', value: text } : { kind: 'bytes', value: raw.toString('base64') };
  }
}

function isUtf8(raw: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(raw);
    return true;
  } catch {
    return false;
  }
}

function listed(names: string[]): string {
  if (names.length === 0) return 'no columns';
  const shown = names.slice(0, LISTED_COLUMNS).join(', ');
  return names.length > LISTED_COLUMNS ? `${shown} and ${names.length - LISTED_COLUMNS} more` : shown;
}
