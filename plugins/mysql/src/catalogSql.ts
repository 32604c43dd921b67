/**
 * The information_schema SQL of discovery's catalog reads, per server version (columns differ
 * between MySQL and MariaDB releases), and the binds of the filter and keyset. Names and
 * filters travel only as `?` values; filter patterns as LIKE patterns, never REGEXP.
 */
import { globToLikePattern, type CompiledFilter, type RelationKey } from '@sourced/core';
import { atLeast, SERVER_SQL_MODE_VARIABLE, type ServerVersion } from './connect';

/** The server's own databases, left out unless the filter includes system schemas. */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** A name column compared by code point and case-sensitively (LIKE follows the collation). */
const exact = (column: string) => `CONVERT(${column} USING utf8mb4) COLLATE utf8mb4_bin`;

/** SQL list of the system schemas (constants, not input). */
const SYSTEM_LIST = SYSTEM_SCHEMAS.map((s) => `'${s}'`).join(', ');

/** SQL condition on a schema-name column: true for databases that are not the server's own. */
export const userSchemaSql = (column: string) => `${exact(column)} NOT IN (${SYSTEM_LIST})`;

/**
 * The escape character of the filter's LIKE patterns: not a backslash, whose meaning in a string
 * literal depends on the server's NO_BACKSLASH_ESCAPES.
 */
const LIKE_ESCAPE = '!';

/** The filter's globs as LIKE patterns with {@link LIKE_ESCAPE}. */
const likePatterns = (globs: readonly string[]): string[] => globs.map((g) => globToLikePattern(g, LIKE_ESCAPE));

/**
 * SQL that is true when the name column matches one of `n` LIKE patterns, bound as `?` each
 * (the compiled filter caps a list at MAX_FILTER_PATTERNS); `empty` when there are none.
 */
function likeAny(column: string, n: number, empty: 'TRUE' | 'FALSE'): string {
  if (n === 0) return empty;
  return `(${Array.from({ length: n }, () => `${exact(column)} LIKE ? ESCAPE '${LIKE_ESCAPE}'`).join(' OR ')})`;
}

/**
 * The schema part of a filter on a schema-name column, shaped by the filter's pattern counts
 * and the data source's scope. `scoped` (the data source names a database): that database
 * only, `column = ?` so MariaDB reads that database's directory alone, and the exact name by
 * code point (the system-schema switch neither widens it nor drops a named system database).
 * Not scoped: every database but the server's own unless the filter includes them. Binds
 * (see {@link schemaFilterParams}): the database twice or the system-schema switch, then each
 * include pattern, each exclude pattern.
 */
const schemaFilterSql = (
  column: string,
  filter: CompiledFilter,
  scoped: boolean,
) => `${scoped ? `${column} = ? AND ${exact(column)} = ?` : `(? OR ${userSchemaSql(column)})`}
  AND ${likeAny(column, filter.globs.includeSchemas.length, 'TRUE')}
  AND NOT ${likeAny(column, filter.globs.excludeSchemas.length, 'FALSE')}`;

/** The binds of {@link schemaFilterSql}; `database` is the data source's (undefined or empty: none named). */
export function schemaFilterParams(filter: CompiledFilter, database: string | undefined): unknown[] {
  const scope = database ? [database, database] : [filter.includeSystemSchemas];
  return [...scope, ...likePatterns(filter.globs.includeSchemas), ...likePatterns(filter.globs.excludeSchemas)];
}

/**
 * The account as information_schema's GRANTEE column writes it (`'user'@'host'`), from
 * CURRENT_USER() (`user@host`; the host never contains '@', the user may).
 */
export const GRANTEE_SQL = `CONCAT('''', LEFT(CURRENT_USER(), CHAR_LENGTH(CURRENT_USER()) - CHAR_LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`;

/** Global privileges that give access to the tables of every database. */
export const TABLE_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'EVENT',
  'TRIGGER',
  'DELETE HISTORY',
];
const TABLE_PRIVILEGES_LIST = TABLE_PRIVILEGES.map((p) => `'${p}'`).join(', ');

/**
 * A detail query restricted to given relations by {@link keyedQuery}: `head` ends with `WHERE`,
 * `where` is a further condition (or empty), `schema` and `name` are the key columns;
 * `prefix`, when set, goes once before the whole statement (`SET STATEMENT ... FOR`).
 */
export interface KeyedSelect {
  head: string;
  where: string;
  schema: string;
  name: string;
  prefix?: string;
}

/** The statements of one server version (columns differ between MySQL and MariaDB releases). */
export interface CatalogSql {
  /** Statements shaped by the filter's pattern counts and whether a database is named (binds: see {@link schemaFilterParams}, {@link pageParams}). */
  schemas(filter: CompiledFilter, scoped: boolean): string;
  page(filter: CompiledFilter, scoped: boolean): string;
  /** The databases that pass the filter's schema part, from a name on (binds: {@link schemaFilterParams} unscoped, then the name twice or nulls). */
  databases(filter: CompiledFilter): string;
  /** `types`: relations only, by TABLE_TYPE (which costs MariaDB every table's definition); without, every name. */
  count(filter: CompiledFilter, scoped: boolean, types: boolean): string;
  tables: KeyedSelect;
  views: KeyedSelect;
  columns: KeyedSelect;
  indexes: KeyedSelect;
  foreignKeys: KeyedSelect;
  foreignKeyRules: KeyedSelect;
  partitions: KeyedSelect;
  /** CHECK constraints (MariaDB 10.2, MySQL 8.0.16); undefined before. */
  checks?: KeyedSelect;
  triggers: KeyedSelect;
}

/** TABLE_TYPEs discovered as relations; sequences (MariaDB) and temporary tables are not. */
export const RELATION_TYPES = new Set(['BASE TABLE', 'SYSTEM VERSIONED', 'VIEW', 'SYSTEM VIEW']);
const RELATION_TYPES_LIST = [...RELATION_TYPES].map((t) => `'${t}'`).join(', ');

/**
 * The filter and keyset of the page query (see {@link pageParams} for its binds), on the
 * name columns of information_schema.TABLES `t` only.
 */
const pageWhere = (filter: CompiledFilter, scoped: boolean) => `${schemaFilterSql('t.TABLE_SCHEMA', filter, scoped)}
  AND ${likeAny("CONCAT(t.TABLE_SCHEMA, '.', t.TABLE_NAME)", filter.globs.includeTables.length, 'TRUE')}
  AND NOT ${likeAny("CONCAT(t.TABLE_SCHEMA, '.', t.TABLE_NAME)", filter.globs.excludeTables.length, 'FALSE')}
  AND (? IS NULL
       OR CAST(t.TABLE_SCHEMA AS BINARY) > CAST(? AS BINARY)
       OR (CAST(t.TABLE_SCHEMA AS BINARY) = CAST(? AS BINARY) AND CAST(t.TABLE_NAME AS BINARY) > CAST(? AS BINARY)))`;

const keyed = (head: string, schema: string, name: string, where = '', prefix?: string): KeyedSelect =>
  prefix ? { head, where, schema, name, prefix } : { head, where, schema, name };

const sqlByVersion = new Map<string, CatalogSql>();

export function catalogSql(v: ServerVersion): CatalogSql {
  const cacheKey = `${v.flavour} ${v.major}.${v.minor}.${v.patch}`;
  const cached = sqlByVersion.get(cacheKey);
  if (cached) return cached;
  const mariadb = v.flavour === 'MariaDB';
  // SCHEMA_COMMENT: MariaDB 10.5. Functional key parts: MySQL 8.0.13. Invisible indexes:
  // MySQL 8.0 (IS_VISIBLE), MariaDB 10.6 (IGNORED).
  const schemaComment = mariadb && atLeast(v, 10, 5) ? 's.SCHEMA_COMMENT' : 'NULL';
  const expression = !mariadb && (atLeast(v, 8, 1) || (v.major === 8 && v.minor === 0 && v.patch >= 13)) ? 'EXPRESSION' : 'NULL';
  const invisible = mariadb ? (atLeast(v, 10, 6) ? "IGNORED = 'YES'" : '0') : atLeast(v, 8) ? "IS_VISIBLE = 'NO'" : '0';
  // MariaDB works out a view's column nullability and defaults when it opens the view, under
  // the reading session's sql_mode: read columns under the server's (see connect.ts). SET
  // STATEMENT: MariaDB 10.1.2. MySQL 8 keeps view columns in its data dictionary.
  const serverSqlMode = mariadb && atLeast(v, 10, 2) ? `SET STATEMENT sql_mode = ${SERVER_SQL_MODE_VARIABLE} FOR` : undefined;
  // CHECK constraints, every one (MariaDB's JSON columns are LONGTEXT with a column check
  // json_valid(`col`) named after the column, which tells them apart). MariaDB keys them by
  // table and says whether a check is a column's (LEVEL, 10.5.10); MySQL keys them by schema
  // only: TABLE_CONSTRAINTS gives the table and whether it is ENFORCED.
  const level = atLeast(v, 10, 6) ? 'LEVEL' : 'NULL';
  const checks: KeyedSelect | undefined = mariadb
    ? atLeast(v, 10, 2)
      ? keyed(
          `SELECT CONSTRAINT_SCHEMA AS schema_name, TABLE_NAME AS name, CONSTRAINT_NAME AS constraint_name, CHECK_CLAUSE AS check_clause,
       ${level} AS level, 'YES' AS enforced
FROM information_schema.CHECK_CONSTRAINTS WHERE`,
          'CONSTRAINT_SCHEMA',
          'TABLE_NAME',
        )
      : undefined
    : atLeast(v, 8, 1) || (v.major === 8 && v.minor === 0 && v.patch >= 16)
      ? keyed(
          `SELECT tc.TABLE_SCHEMA AS schema_name, tc.TABLE_NAME AS name, tc.CONSTRAINT_NAME AS constraint_name, cc.CHECK_CLAUSE AS check_clause,
       NULL AS level, tc.ENFORCED AS enforced
FROM information_schema.TABLE_CONSTRAINTS tc
JOIN information_schema.CHECK_CONSTRAINTS cc ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
WHERE tc.CONSTRAINT_TYPE = 'CHECK' AND`,
          'tc.TABLE_SCHEMA',
          'tc.TABLE_NAME',
        )
      : undefined;
  const sql: CatalogSql = {
    // Usable: the account sees a table in it, or holds a privilege on the database (which
    // may still be empty), or a global table privilege. SCHEMATA itself lists only databases
    // the account has some privilege in, unless it has SHOW DATABASES.
    schemas: (filter, scoped) => `
SELECT s.SCHEMA_NAME AS name,
       ${schemaComment} AS comment,
       (t.schema_name IS NOT NULL
        OR EXISTS (SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES p
                   WHERE p.GRANTEE = ${GRANTEE_SQL} AND s.SCHEMA_NAME LIKE p.TABLE_SCHEMA)
        OR EXISTS (SELECT 1 FROM information_schema.USER_PRIVILEGES u
                   WHERE u.GRANTEE = ${GRANTEE_SQL} AND u.PRIVILEGE_TYPE IN (${TABLE_PRIVILEGES_LIST}))) AS usable
FROM information_schema.SCHEMATA s
LEFT JOIN (SELECT DISTINCT TABLE_SCHEMA AS schema_name FROM information_schema.TABLES WHERE ${schemaFilterSql('TABLE_SCHEMA', filter, scoped)}) t
  ON CAST(t.schema_name AS BINARY) = CAST(s.SCHEMA_NAME AS BINARY)
WHERE ${schemaFilterSql('s.SCHEMA_NAME', filter, scoped)}
ORDER BY CAST(s.SCHEMA_NAME AS BINARY)`,
    // The directory listing of the data directory only; a page then reads the names of one
    // database at a time (see readRelations).
    databases: (filter) => `
SELECT s.SCHEMA_NAME AS name
FROM information_schema.SCHEMATA s
WHERE ${schemaFilterSql('s.SCHEMA_NAME', filter, false)}
  AND (? IS NULL OR CAST(s.SCHEMA_NAME AS BINARY) >= CAST(? AS BINARY))
ORDER BY CAST(s.SCHEMA_NAME AS BINARY)`,
    // Names only, so MariaDB opens no table definition to pick the page (Skip_open_table;
    // TABLE_TYPE alone would read every remaining table's .frm). Byte order of the UTF-8
    // names (BINARY) is the order of core's cursor.
    page: (filter, scoped) => `
SELECT t.TABLE_SCHEMA AS schema_name, t.TABLE_NAME AS name
FROM information_schema.TABLES t
WHERE ${pageWhere(filter, scoped)}
ORDER BY CAST(t.TABLE_SCHEMA AS BINARY), CAST(t.TABLE_NAME AS BINARY)
LIMIT ?`,
    // The page query's conditions, and only relations (a sequence would be counted but never
    // sent): TABLE_TYPE makes MariaDB read the head of each remaining table's .frm (about
    // 0.25 s for 10,000 tables), still far less than the pages.
    count: (filter, scoped, types) => `
SELECT COUNT(*) AS n
FROM information_schema.TABLES t
WHERE ${pageWhere(filter, scoped)}${types ? `\n  AND t.TABLE_TYPE IN (${RELATION_TYPES_LIST})` : ''}`,
    tables: keyed(
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, TABLE_TYPE AS table_type, ENGINE AS engine,
       TABLE_ROWS AS table_rows, CREATE_TIME AS create_time, UPDATE_TIME AS update_time,
       TABLE_COLLATION AS table_collation, TABLE_COMMENT AS table_comment, CREATE_OPTIONS AS create_options,
       AUTO_INCREMENT AS auto_increment
FROM information_schema.TABLES WHERE`,
      'TABLE_SCHEMA',
      'TABLE_NAME',
    ),
    views: keyed(
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, VIEW_DEFINITION AS view_definition, DEFINER AS definer
FROM information_schema.VIEWS WHERE`,
      'TABLE_SCHEMA',
      'TABLE_NAME',
    ),
    columns: keyed(
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, COLUMN_NAME AS column_name, ORDINAL_POSITION AS ordinal,
       COLUMN_DEFAULT AS column_default, IS_NULLABLE AS is_nullable, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type,
       CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation, EXTRA AS extra, COLUMN_COMMENT AS column_comment,
       GENERATION_EXPRESSION AS generation_expression
FROM information_schema.COLUMNS WHERE`,
      'TABLE_SCHEMA',
      'TABLE_NAME',
      '',
      serverSqlMode,
    ),
    indexes: keyed(
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, INDEX_NAME AS index_name, NON_UNIQUE AS non_unique,
       SEQ_IN_INDEX AS seq, COLUMN_NAME AS column_name, SUB_PART AS sub_part, INDEX_TYPE AS index_type,
       COLLATION AS collation, ${expression} AS expression, (${invisible}) AS invisible, INDEX_COMMENT AS index_comment
FROM information_schema.STATISTICS WHERE`,
      'TABLE_SCHEMA',
      'TABLE_NAME',
    ),
    // Foreign keys come from KEY_COLUMN_USAGE, their actions from REFERENTIAL_CONSTRAINTS in
    // a second query: MariaDB shows REFERENTIAL_CONSTRAINTS rows only to accounts with a
    // privilege on the table besides SELECT, and a join would lose the keys with them.
    foreignKeys: keyed(
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, CONSTRAINT_NAME AS constraint_name,
       COLUMN_NAME AS column_name, ORDINAL_POSITION AS ordinal, REFERENCED_TABLE_SCHEMA AS ref_schema,
       REFERENCED_TABLE_NAME AS ref_table, REFERENCED_COLUMN_NAME AS ref_column
FROM information_schema.KEY_COLUMN_USAGE WHERE`,
      'TABLE_SCHEMA',
      'TABLE_NAME',
      'REFERENCED_TABLE_NAME IS NOT NULL',
    ),
    foreignKeyRules: keyed(
      `SELECT CONSTRAINT_SCHEMA AS schema_name, TABLE_NAME AS name, CONSTRAINT_NAME AS constraint_name,
       UPDATE_RULE AS update_rule, DELETE_RULE AS delete_rule
FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE`,
      'CONSTRAINT_SCHEMA',
      'TABLE_NAME',
    ),
    partitions: keyed(
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, PARTITION_NAME AS partition_name,
       SUBPARTITION_NAME AS subpartition_name, PARTITION_ORDINAL_POSITION AS ordinal,
       PARTITION_METHOD AS method, SUBPARTITION_METHOD AS submethod, PARTITION_EXPRESSION AS expression,
       SUBPARTITION_EXPRESSION AS subexpression, PARTITION_DESCRIPTION AS description, TABLE_ROWS AS table_rows
FROM information_schema.PARTITIONS WHERE`,
      'TABLE_SCHEMA',
      'TABLE_NAME',
      'PARTITION_NAME IS NOT NULL',
    ),
    checks,
    // One row per trigger (neither server has multi-event triggers); ACTION_ORDER from MySQL
    // 5.7.2 and MariaDB 10.2.3 (FOLLOWS / PRECEDES); DEFINER as `user@host`, like ROUTINES'.
    triggers: keyed(
      `SELECT EVENT_OBJECT_SCHEMA AS schema_name, EVENT_OBJECT_TABLE AS name, TRIGGER_NAME AS trigger_name,
       EVENT_MANIPULATION AS event, ACTION_TIMING AS timing, ACTION_ORIENTATION AS orientation,
       ACTION_ORDER AS action_order, ACTION_STATEMENT AS statement, DEFINER AS definer
FROM information_schema.TRIGGERS WHERE`,
      'EVENT_OBJECT_SCHEMA',
      'EVENT_OBJECT_TABLE',
    ),
  };
  sqlByVersion.set(cacheKey, sql);
  return sql;
}

/** The binds of the page query's conditions ({@link pageWhere}); the count query takes the same. */
export function pageParams(filter: CompiledFilter, after: RelationKey | undefined, database: string | undefined): unknown[] {
  return [
    ...schemaFilterParams(filter, database),
    ...likePatterns(filter.globs.includeTables),
    ...likePatterns(filter.globs.excludeTables),
    after?.schema ?? null,
    after?.schema ?? null,
    after?.schema ?? null,
    after?.name ?? null,
  ];
}
