/**
 * The catalog reads of discovery: information_schema SQL, read set-based.
 *
 * information_schema is slow on large catalogs (MariaDB builds each table of it on the fly,
 * opening table definitions), so a page is read in two steps: one keyset query picks the
 * page's (schema, name) keys reading names only, then one query per kind (tables, columns,
 * indexes, foreign keys; foreign-key actions, views, partitions and MariaDB's JSON checks
 * only when the page has any) is restricted to exactly those keys with
 * `TABLE_SCHEMA IN (...) AND TABLE_NAME IN (...)
 * AND (TABLE_SCHEMA, TABLE_NAME) IN (...)`, conditions on name columns only, which the server
 * evaluates before it opens a table. Never a round trip per table. Names and filters travel
 * only as `?` values.
 */
import {
  AbortedError,
  SourcedError,
  UnavailableError,
  describeError,
  type CompiledFilter,
  type RelationEntity,
  type RelationPage,
  type SchemaEntity,
} from '@sourced/core';
import type { Connection } from 'mysql2';
import {
  isJsonCheck,
  keyOf,
  toColumn,
  toForeignKeys,
  toIndexes,
  toPartitions,
  toRelation,
  type CheckRow,
  type ColumnRow,
  type ForeignKeyRow,
  type ForeignKeyRuleRow,
  type IndexRow,
  type PageRow,
  type PartitionRow,
  type SchemaRow,
  type TableRow,
  type ViewRow,
} from './catalogRows';
import { atLeast, sessionOf, type ServerVersion } from './connect';
import { isConnectionError, serverErrno } from './mysqlErrors';
import { query } from './query';

/** The server's own databases, left out unless the filter includes system schemas. */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** A name column compared by code point and case-sensitively (REGEXP follows the collation). */
const exact = (column: string) => `CONVERT(${column} USING utf8mb4) COLLATE utf8mb4_bin`;

/** SQL list of the system schemas (constants, not input). */
const SYSTEM_LIST = SYSTEM_SCHEMAS.map((s) => `'${s}'`).join(', ');

/** SQL condition on a schema-name column: true for databases that are not the server's own. */
export const userSchemaSql = (column: string) => `${exact(column)} NOT IN (${SYSTEM_LIST})`;

/**
 * The schema part of a filter on a schema-name column. Binds: include system schemas, the
 * include regex twice, the exclude regex twice (see {@link schemaFilterParams}). Several
 * patterns are one regex of anchored alternatives, so one `REGEXP` tests them all.
 */
const schemaFilterSql = (column: string) => `(? OR ${userSchemaSql(column)})
  AND (? IS NULL OR ${exact(column)} REGEXP ?)
  AND (? IS NULL OR NOT (${exact(column)} REGEXP ?))`;

function alternatives(patterns: readonly string[]): string | null {
  return patterns.length === 0 ? null : patterns.join('|');
}

function schemaFilterParams(filter: CompiledFilter): unknown[] {
  const include = alternatives(filter.includeSchemas);
  const exclude = alternatives(filter.excludeSchemas);
  return [filter.includeSystemSchemas, include, include, exclude, exclude];
}

/**
 * The account as information_schema's GRANTEE column writes it (`'user'@'host'`), from
 * CURRENT_USER() (`user@host`; the host never contains '@', the user may).
 */
export const GRANTEE_SQL = `CONCAT('''', LEFT(CURRENT_USER(), CHAR_LENGTH(CURRENT_USER()) - CHAR_LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`;

/** Global privileges that give access to the tables of every database. */
export const TABLE_PRIVILEGES = [
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER', 'CREATE TEMPORARY TABLES',
  'LOCK TABLES', 'EXECUTE', 'CREATE VIEW', 'SHOW VIEW', 'CREATE ROUTINE', 'ALTER ROUTINE', 'EVENT', 'TRIGGER', 'DELETE HISTORY',
];
const TABLE_PRIVILEGES_LIST = TABLE_PRIVILEGES.map((p) => `'${p}'`).join(', ');

/** Restricts a query to the page's relations; binds schemas, names and (schema, name) pairs. */
const inPage = (schema: string, name: string) => `${schema} IN (?) AND ${name} IN (?) AND (${schema}, ${name}) IN (?)`;

/** The statements of one server version (columns differ between MySQL and MariaDB releases). */
interface CatalogSql {
  schemas: string;
  page: string;
  tables: string;
  views: string;
  columns: string;
  indexes: string;
  foreignKeys: string;
  foreignKeyRules: string;
  partitions: string;
  checks: string;
}

const sqlByVersion = new Map<string, CatalogSql>();

function catalogSql(v: ServerVersion): CatalogSql {
  const cacheKey = `${v.flavour} ${v.major}.${v.minor}.${v.patch}`;
  const cached = sqlByVersion.get(cacheKey);
  if (cached) return cached;
  const mariadb = v.flavour === 'MariaDB';
  // SCHEMA_COMMENT: MariaDB 10.5. Functional key parts: MySQL 8.0.13. Invisible indexes:
  // MySQL 8.0 (IS_VISIBLE), MariaDB 10.6 (IGNORED).
  const schemaComment = mariadb && atLeast(v, 10, 5) ? 's.SCHEMA_COMMENT' : 'NULL';
  const expression = !mariadb && (atLeast(v, 8, 1) || (v.major === 8 && v.minor === 0 && v.patch >= 13)) ? 'EXPRESSION' : 'NULL';
  const invisible = mariadb ? (atLeast(v, 10, 6) ? "IGNORED = 'YES'" : '0') : atLeast(v, 8) ? "IS_VISIBLE = 'NO'" : '0';
  const sql: CatalogSql = {
    // Usable: the account sees a table in it, or holds a privilege on the database (which
    // may still be empty), or a global table privilege. SCHEMATA itself lists only databases
    // the account has some privilege in, unless it has SHOW DATABASES.
    schemas: `
SELECT s.SCHEMA_NAME AS name,
       ${schemaComment} AS comment,
       (t.schema_name IS NOT NULL
        OR EXISTS (SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES p
                   WHERE p.GRANTEE = ${GRANTEE_SQL} AND s.SCHEMA_NAME LIKE p.TABLE_SCHEMA)
        OR EXISTS (SELECT 1 FROM information_schema.USER_PRIVILEGES u
                   WHERE u.GRANTEE = ${GRANTEE_SQL} AND u.PRIVILEGE_TYPE IN (${TABLE_PRIVILEGES_LIST}))) AS usable
FROM information_schema.SCHEMATA s
LEFT JOIN (SELECT DISTINCT TABLE_SCHEMA AS schema_name FROM information_schema.TABLES WHERE ${schemaFilterSql('TABLE_SCHEMA')}) t
  ON CAST(t.schema_name AS BINARY) = CAST(s.SCHEMA_NAME AS BINARY)
WHERE ${schemaFilterSql('s.SCHEMA_NAME')}
ORDER BY CAST(s.SCHEMA_NAME AS BINARY)`,
    // Names only, so MariaDB opens no table definition to pick the page (Skip_open_table;
    // TABLE_TYPE alone would read every remaining table's .frm). Byte order of the UTF-8
    // names (BINARY) is the order of core's cursor.
    page: `
SELECT t.TABLE_SCHEMA AS schema_name, t.TABLE_NAME AS name
FROM information_schema.TABLES t
WHERE ${schemaFilterSql('t.TABLE_SCHEMA')}
  AND (? IS NULL OR ${exact("CONCAT(t.TABLE_SCHEMA, '.', t.TABLE_NAME)")} REGEXP ?)
  AND (? IS NULL OR NOT (${exact("CONCAT(t.TABLE_SCHEMA, '.', t.TABLE_NAME)")} REGEXP ?))
  AND (? IS NULL
       OR CAST(t.TABLE_SCHEMA AS BINARY) > CAST(? AS BINARY)
       OR (CAST(t.TABLE_SCHEMA AS BINARY) = CAST(? AS BINARY) AND CAST(t.TABLE_NAME AS BINARY) > CAST(? AS BINARY)))
ORDER BY CAST(t.TABLE_SCHEMA AS BINARY), CAST(t.TABLE_NAME AS BINARY)
LIMIT ?`,
    tables: `
SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, TABLE_TYPE AS table_type, ENGINE AS engine,
       TABLE_ROWS AS table_rows, CREATE_TIME AS create_time, UPDATE_TIME AS update_time,
       TABLE_COLLATION AS table_collation, TABLE_COMMENT AS table_comment, CREATE_OPTIONS AS create_options
FROM information_schema.TABLES
WHERE ${inPage('TABLE_SCHEMA', 'TABLE_NAME')}`,
    views: `
SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, VIEW_DEFINITION AS view_definition, DEFINER AS definer
FROM information_schema.VIEWS
WHERE ${inPage('TABLE_SCHEMA', 'TABLE_NAME')}`,
    columns: `
SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, COLUMN_NAME AS column_name, ORDINAL_POSITION AS ordinal,
       COLUMN_DEFAULT AS column_default, IS_NULLABLE AS is_nullable, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type,
       CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation, EXTRA AS extra, COLUMN_COMMENT AS column_comment,
       GENERATION_EXPRESSION AS generation_expression
FROM information_schema.COLUMNS
WHERE ${inPage('TABLE_SCHEMA', 'TABLE_NAME')}`,
    indexes: `
SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, INDEX_NAME AS index_name, NON_UNIQUE AS non_unique,
       SEQ_IN_INDEX AS seq, COLUMN_NAME AS column_name, SUB_PART AS sub_part, INDEX_TYPE AS index_type,
       COLLATION AS collation, ${expression} AS expression, (${invisible}) AS invisible
FROM information_schema.STATISTICS
WHERE ${inPage('TABLE_SCHEMA', 'TABLE_NAME')}`,
    // Foreign keys come from KEY_COLUMN_USAGE, their actions from REFERENTIAL_CONSTRAINTS in
    // a second query: MariaDB shows REFERENTIAL_CONSTRAINTS rows only to accounts with a
    // privilege on the table besides SELECT, and a join would lose the keys with them.
    foreignKeys: `
SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, CONSTRAINT_NAME AS constraint_name,
       COLUMN_NAME AS column_name, ORDINAL_POSITION AS ordinal, REFERENCED_TABLE_SCHEMA AS ref_schema,
       REFERENCED_TABLE_NAME AS ref_table, REFERENCED_COLUMN_NAME AS ref_column
FROM information_schema.KEY_COLUMN_USAGE
WHERE REFERENCED_TABLE_NAME IS NOT NULL AND ${inPage('TABLE_SCHEMA', 'TABLE_NAME')}`,
    foreignKeyRules: `
SELECT CONSTRAINT_SCHEMA AS schema_name, TABLE_NAME AS name, CONSTRAINT_NAME AS constraint_name,
       UPDATE_RULE AS update_rule, DELETE_RULE AS delete_rule
FROM information_schema.REFERENTIAL_CONSTRAINTS
WHERE ${inPage('CONSTRAINT_SCHEMA', 'TABLE_NAME')}`,
    partitions: `
SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, PARTITION_NAME AS partition_name,
       SUBPARTITION_NAME AS subpartition_name, PARTITION_ORDINAL_POSITION AS ordinal,
       PARTITION_METHOD AS method, SUBPARTITION_METHOD AS submethod, PARTITION_EXPRESSION AS expression,
       SUBPARTITION_EXPRESSION AS subexpression, PARTITION_DESCRIPTION AS description, TABLE_ROWS AS table_rows
FROM information_schema.PARTITIONS
WHERE PARTITION_NAME IS NOT NULL AND ${inPage('TABLE_SCHEMA', 'TABLE_NAME')}`,
    // MariaDB's JSON is LONGTEXT with a column check json_valid(`col`) named after the column.
    checks: `
SELECT CONSTRAINT_SCHEMA AS schema_name, TABLE_NAME AS name, CONSTRAINT_NAME AS constraint_name, CHECK_CLAUSE AS check_clause
FROM information_schema.CHECK_CONSTRAINTS
WHERE CHECK_CLAUSE LIKE 'json\\_valid(%' AND ${inPage('CONSTRAINT_SCHEMA', 'TABLE_NAME')}`,
  };
  sqlByVersion.set(cacheKey, sql);
  return sql;
}

/** Databases that pass the filter, in byte order of their names, each with whether the account may use it. */
export async function readSchemas(conn: Connection, filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]> {
  const sql = catalogSql(sessionOf(conn).version);
  const params = schemaFilterParams(filter);
  const rows = await read('schemas', () => query<SchemaRow>(conn, sql.schemas, [...params, ...params], signal));
  return rows.map((r) => {
    const schema: SchemaEntity = { name: r.name, usable: Number(r.usable) === 1 };
    if (r.comment) schema.comment = r.comment;
    return schema;
  });
}

/** TABLE_TYPEs discovered as relations; sequences (MariaDB) and temporary tables are not. */
const RELATION_TYPES = new Set(['BASE TABLE', 'SYSTEM VERSIONED', 'VIEW', 'SYSTEM VIEW']);

/**
 * One page of relations, each with its columns, keys, indexes and partitions: six queries
 * whatever the page size (one when the page is empty: the keyset, tables, columns, indexes,
 * foreign keys, and their actions when there are any), plus one each for views, partitions
 * and MariaDB JSON checks when the page has any. Relations come in the keyset's order.
 */
export async function readRelations(conn: Connection, page: RelationPage, signal: AbortSignal): Promise<RelationEntity[]> {
  const { version } = sessionOf(conn);
  const sql = catalogSql(version);
  const tables = await readPageTables(conn, sql, page, signal);
  if (tables.length === 0) return [];

  const all = inPageParams(tables);
  const viewKeys = tables.filter((t) => t.table_type === 'VIEW' || t.table_type === 'SYSTEM VIEW');
  const views = viewKeys.length > 0 ? await read('views', () => query<ViewRow>(conn, sql.views, inPageParams(viewKeys), signal)) : [];
  const viewByKey = new Map(views.map((v) => [keyOf(v.schema_name, v.name), v]));
  const relations = new Map<string, RelationEntity>();
  for (const t of tables) {
    const key = keyOf(t.schema_name, t.name);
    relations.set(key, toRelation(t, viewByKey.get(key)));
  }
  const at = (row: { schema_name: string; name: string }) => relations.get(keyOf(row.schema_name, row.name));

  const columns = await read('columns', () => query<ColumnRow>(conn, sql.columns, all, signal));
  const jsonColumns = new Set<string>();
  if (version.flavour === 'MariaDB' && columns.some((c) => c.data_type === 'longtext')) {
    const checks = await read('check constraints', () => query<CheckRow>(conn, sql.checks, all, signal));
    for (const c of checks) if (isJsonCheck(c)) jsonColumns.add(`${keyOf(c.schema_name, c.name)}\u0000${c.constraint_name}`);
  }
  columns.sort((a, b) => Number(a.ordinal) - Number(b.ordinal));
  for (const c of columns) {
    const json = c.data_type === 'longtext' && jsonColumns.has(`${keyOf(c.schema_name, c.name)}\u0000${c.column_name}`);
    at(c)?.columns.push(toColumn(c, version.flavour, json));
  }

  const indexRows = await read('indexes', () => query<IndexRow>(conn, sql.indexes, all, signal));
  for (const [key, rows] of groupBy(indexRows)) {
    const relation = relations.get(key);
    if (!relation) continue;
    const { indexes, primaryKey, unique } = toIndexes(rows, version.flavour);
    relation.indexes = indexes;
    relation.uniqueConstraints = unique;
    if (primaryKey) relation.primaryKey = primaryKey;
  }

  const tableKeys = tables.filter((t) => !viewKeys.includes(t));
  if (tableKeys.length > 0) {
    const fkRows = await read('foreign keys', () => query<ForeignKeyRow>(conn, sql.foreignKeys, inPageParams(tableKeys), signal));
    if (fkRows.length > 0) {
      const withKeys = [...groupBy(fkRows).values()].map((rows) => rows[0]);
      const rules = await read('foreign key actions', () => query<ForeignKeyRuleRow>(conn, sql.foreignKeyRules, inPageParams(withKeys), signal));
      const ruleOf = new Map(rules.map((r) => [`${keyOf(r.schema_name, r.name)}\u0000${r.constraint_name}`, r]));
      for (const [key, rows] of groupBy(fkRows)) {
        const relation = relations.get(key);
        if (relation) relation.foreignKeys = toForeignKeys(rows, (name) => ruleOf.get(`${key}\u0000${name}`));
      }
    }
  }

  const partitioned = tables.filter((t) => relations.get(keyOf(t.schema_name, t.name))?.kind === 'PARTITIONED_TABLE');
  if (partitioned.length > 0) {
    const partitionRows = await read('partitions', () => query<PartitionRow>(conn, sql.partitions, inPageParams(partitioned), signal));
    for (const [key, rows] of groupBy(partitionRows)) {
      const relation = relations.get(key);
      if (!relation) continue;
      const { partitions, key: partitionKey } = toPartitions(rows);
      relation.partitions = partitions;
      if (partitionKey) relation.partitionKey = partitionKey;
    }
  }
  return [...relations.values()];
}

/**
 * The TABLES rows of the page, in keyset order: the keyset query picks up to `limit` keys by
 * name alone (so MariaDB reads directory listings only, no table definition), then the
 * tables query reads those keys' rows. Keys that are not relations (sequences) or vanished
 * in between are dropped and the page is topped up after the last key read, so a short
 * page always means the end of the catalog (the engine stops at a short page). Normally one
 * round of two queries.
 */
async function readPageTables(conn: Connection, sql: CatalogSql, page: RelationPage, signal: AbortSignal): Promise<TableRow[]> {
  const { filter } = page;
  const includeTables = alternatives(filter.includeTables);
  const excludeTables = alternatives(filter.excludeTables);
  const out: TableRow[] = [];
  let after = page.after;
  while (out.length < page.limit) {
    const want = page.limit - out.length;
    const keys = await read('relations', () =>
      query<PageRow>(
        conn,
        sql.page,
        [
          ...schemaFilterParams(filter),
          includeTables,
          includeTables,
          excludeTables,
          excludeTables,
          after?.schema ?? null,
          after?.schema ?? null,
          after?.schema ?? null,
          after?.name ?? null,
          want,
        ],
        signal,
      ),
    );
    if (keys.length === 0) break;
    const rows = await read('tables', () => query<TableRow>(conn, sql.tables, inPageParams(keys), signal));
    const byKey = new Map(rows.map((t) => [keyOf(t.schema_name, t.name), t]));
    for (const k of keys) {
      const t = byKey.get(keyOf(k.schema_name, k.name));
      if (t && RELATION_TYPES.has(t.table_type)) out.push(t);
    }
    if (keys.length < want) break;
    const last = keys[keys.length - 1];
    after = { schema: last.schema_name, name: last.name };
  }
  return out;
}

/** Binds {@link inPage}: the schemas, the names, and the (schema, name) pairs of `rows`. */
function inPageParams(rows: readonly { schema_name: string; name: string }[]): unknown[] {
  return [[...new Set(rows.map((k) => k.schema_name))], [...new Set(rows.map((k) => k.name))], rows.map((k) => [k.schema_name, k.name])];
}

function groupBy<R extends { schema_name: string; name: string }>(rows: R[]): Map<string, R[]> {
  const out = new Map<string, R[]>();
  for (const r of rows) {
    const key = keyOf(r.schema_name, r.name);
    const list = out.get(key);
    if (list) list.push(r);
    else out.set(key, [r]);
  }
  return out;
}

/** Statement time limit errors: MariaDB max_statement_time, MySQL max_execution_time. */
const TIMEOUT_ERRNOS = new Set([1969, 3024]);

/**
 * Runs one catalog read and turns its failure into a semantic error: `UnavailableError`
 * (CONNECTION_LOST) when the connection is gone, so the engine may fail over; else
 * CATALOG_READ_TIMEOUT or CATALOG_READ_FAILED with the server's error number. Cancellation
 * passes through unchanged.
 */
async function read<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof AbortedError) throw error;
    const errno = serverErrno(error);
    const metadata: Record<string, string> = { step: what };
    if (errno !== undefined) metadata.errno = String(errno);
    if (isConnectionError(error)) {
      throw new UnavailableError('CONNECTION_LOST', `the connection to MySQL was lost while reading ${what}: ${describeError(error)}`, { cause: error, metadata });
    }
    if (errno !== undefined && TIMEOUT_ERRNOS.has(errno)) {
      throw new SourcedError('CATALOG_READ_TIMEOUT', `reading ${what} from information_schema took longer than the statement time limit: ${describeError(error)}`, { cause: error, metadata });
    }
    throw new SourcedError('CATALOG_READ_FAILED', `reading ${what} from information_schema failed: ${describeError(error)}${errno !== undefined ? ` (error ${errno})` : ''}`, { cause: error, metadata });
  }
}
