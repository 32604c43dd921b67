/**
 * The catalog reads of discovery: information_schema SQL, read set-based.
 *
 * information_schema is slow on large catalogs (MariaDB builds each table of it on the fly,
 * opening table definitions), so a page is read in two steps: one keyset query picks the
 * page's (schema, name) keys reading names only, then one query per kind (tables, columns,
 * indexes, foreign keys; foreign-key actions, views, partitions and MariaDB's JSON checks
 * only when the page has any) is restricted to exactly those keys with
 * `TABLE_SCHEMA IN (...) AND TABLE_NAME IN (...) AND (TABLE_SCHEMA, TABLE_NAME) IN (...)`
 * (`TABLE_SCHEMA = ?` for keys of one database), conditions on name columns only, which the
 * server evaluates before it opens a table, in chunks of 500 keys (a longer IN list would
 * defeat that, see {@link MAX_KEYS_PER_STATEMENT}). Never a round trip per table. The
 * statements that do not depend on each other run at once over the page's connections (one
 * statement per connection at a time), one after another when there is only one. Names and
 * filters travel only as `?` values; filter patterns as LIKE patterns, never REGEXP (PCRE
 * backtracks: one crafted pattern took 150 ms per name on MariaDB 10.11, LIKE under 1 ms).
 */
import {
  globToLikePattern,
  type CompiledFilter,
  type RelationEntity,
  type RelationKey,
  type RelationPage,
  type SchemaEntity,
} from '@sourced/core';
import type { Connection } from 'mysql2';
import {
  isJsonCheck,
  isViewType,
  keyOf,
  relationKind,
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
import { ConnectionQueue, settleAll } from './connectionQueue';
import { guardedRead, type ReadReasons } from './mysqlErrors';
import { query } from './query';

/** How catalog reads fail: a lost connection (the engine may fail over), the time limit, anything else. */
const CATALOG_READS: ReadReasons = { timeout: 'CATALOG_READ_TIMEOUT', failed: 'CATALOG_READ_FAILED', from: ' from information_schema' };
const read = <T>(what: string, run: () => Promise<T>): Promise<T> => guardedRead(what, CATALOG_READS, run);

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
const schemaFilterSql = (column: string, filter: CompiledFilter, scoped: boolean) => `${scoped ? `${column} = ? AND ${exact(column)} = ?` : `(? OR ${userSchemaSql(column)})`}
  AND ${likeAny(column, filter.globs.includeSchemas.length, 'TRUE')}
  AND NOT ${likeAny(column, filter.globs.excludeSchemas.length, 'FALSE')}`;

/** The binds of {@link schemaFilterSql}; `database` is the data source's (undefined or empty: none named). */
function schemaFilterParams(filter: CompiledFilter, database: string | undefined): unknown[] {
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
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER', 'CREATE TEMPORARY TABLES',
  'LOCK TABLES', 'EXECUTE', 'CREATE VIEW', 'SHOW VIEW', 'CREATE ROUTINE', 'ALTER ROUTINE', 'EVENT', 'TRIGGER', 'DELETE HISTORY',
];
const TABLE_PRIVILEGES_LIST = TABLE_PRIVILEGES.map((p) => `'${p}'`).join(', ');

/**
 * A detail query restricted to given relations by {@link keyedQuery}: `head` ends with `WHERE`,
 * `where` is a further condition (or empty), `schema` and `name` are the key columns.
 */
interface KeyedSelect {
  head: string;
  where: string;
  schema: string;
  name: string;
}

/** The statements of one server version (columns differ between MySQL and MariaDB releases). */
interface CatalogSql {
  /** Statements shaped by the filter's pattern counts and whether a database is named (binds: see {@link schemaFilterParams}, {@link pageParams}). */
  schemas(filter: CompiledFilter, scoped: boolean): string;
  page(filter: CompiledFilter, scoped: boolean): string;
  count(filter: CompiledFilter, scoped: boolean): string;
  tables: KeyedSelect;
  views: KeyedSelect;
  columns: KeyedSelect;
  indexes: KeyedSelect;
  foreignKeys: KeyedSelect;
  foreignKeyRules: KeyedSelect;
  partitions: KeyedSelect;
  checks: KeyedSelect;
}

/** TABLE_TYPEs discovered as relations; sequences (MariaDB) and temporary tables are not. */
const RELATION_TYPES = new Set(['BASE TABLE', 'SYSTEM VERSIONED', 'VIEW', 'SYSTEM VIEW']);
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

const keyed = (head: string, schema: string, name: string, where = ''): KeyedSelect => ({ head, where, schema, name });

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
    count: (filter, scoped) => `
SELECT COUNT(*) AS n
FROM information_schema.TABLES t
WHERE ${pageWhere(filter, scoped)}
  AND t.TABLE_TYPE IN (${RELATION_TYPES_LIST})`,
    tables: keyed(
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, TABLE_TYPE AS table_type, ENGINE AS engine,
       TABLE_ROWS AS table_rows, CREATE_TIME AS create_time, UPDATE_TIME AS update_time,
       TABLE_COLLATION AS table_collation, TABLE_COMMENT AS table_comment, CREATE_OPTIONS AS create_options
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
    ),
    indexes: keyed(
      `SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, INDEX_NAME AS index_name, NON_UNIQUE AS non_unique,
       SEQ_IN_INDEX AS seq, COLUMN_NAME AS column_name, SUB_PART AS sub_part, INDEX_TYPE AS index_type,
       COLLATION AS collation, ${expression} AS expression, (${invisible}) AS invisible
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
    // MariaDB's JSON is LONGTEXT with a column check json_valid(`col`) named after the column.
    checks: keyed(
      `SELECT CONSTRAINT_SCHEMA AS schema_name, TABLE_NAME AS name, CONSTRAINT_NAME AS constraint_name, CHECK_CLAUSE AS check_clause
FROM information_schema.CHECK_CONSTRAINTS WHERE`,
      'CONSTRAINT_SCHEMA',
      'TABLE_NAME',
      "CHECK_CLAUSE LIKE 'json\\_valid(%'",
    ),
  };
  sqlByVersion.set(cacheKey, sql);
  return sql;
}

/**
 * Databases that pass the filter within the scope (`database`, the data source's; none named:
 * every database but the server's own), in byte order of their names, each with whether the
 * account may use it.
 */
export async function readSchemas(conn: Connection, filter: CompiledFilter, signal: AbortSignal, database?: string): Promise<SchemaEntity[]> {
  const sql = catalogSql(sessionOf(conn).version);
  const params = schemaFilterParams(filter, database);
  const rows = await read('schemas', () => query<SchemaRow>(conn, sql.schemas(filter, !!database), [...params, ...params], signal));
  return rows.map((r) => {
    const schema: SchemaEntity = { name: r.name, usable: Number(r.usable) === 1 };
    if (r.comment) schema.comment = r.comment;
    return schema;
  });
}

/** The binds of the page query's conditions ({@link pageWhere}); the count query takes the same. */
function pageParams(filter: CompiledFilter, after: RelationKey | undefined, database: string | undefined): unknown[] {
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

/** How many relations pass the filter after `after` within the scope (`database`): one count over the names (and types) of information_schema.TABLES. */
export async function countRelations(conn: Connection, filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal, database?: string): Promise<number> {
  const sql = catalogSql(sessionOf(conn).version);
  const rows = await read('relation count', () => query<{ n: number | string }>(conn, sql.count(filter, !!database), pageParams(filter, after, database), signal));
  return Number(rows[0]?.n ?? 0);
}

/**
 * One page of relations within the scope (`database`, see {@link readSchemas}), each with
 * its columns, keys, indexes and partitions, in the keyset's order. The keyset query picks up to `limit` keys by name alone (so MariaDB reads
 * directory listings only, no table definition); then tables, columns, indexes and foreign
 * keys of those keys are read at once, and views, partitions, foreign-key actions and
 * MariaDB JSON checks as soon as what they depend on shows the page has any. Each statement
 * runs on the next free connection of `[conn, ...parallel]` (one statement per connection
 * at a time; strictly one after another without `parallel`): for a page of plain tables,
 * the keyset and four statements per {@link MAX_KEYS_PER_STATEMENT} keys, plus one for the
 * foreign-key actions when there are any. Keys that are not relations (sequences) or vanished in
 * between are dropped and the page is topped up after the last key read, so a short page
 * always means the end of the catalog (the engine stops at a short page).
 */
export async function readRelations(conn: Connection, page: RelationPage, signal: AbortSignal, parallel: readonly Connection[] = [], database?: string): Promise<RelationEntity[]> {
  const { version } = sessionOf(conn);
  const sql = catalogSql(version);
  // Every statement is written for this server's version; an endpoint that spreads
  // connections over servers of other versions gets only the matching ones used.
  const queue = new ConnectionQueue([conn, ...parallel.filter((p) => sessionOf(p).version.text === version.text)]);
  const out: RelationEntity[] = [];
  let after = page.after;
  while (out.length < page.limit) {
    const want = page.limit - out.length;
    const keys = await queue.run((c) => read('relations', () => query<PageRow>(c, sql.page(page.filter, !!database), [...pageParams(page.filter, after, database), want], signal)));
    if (keys.length === 0) break;
    out.push(...(await describe(queue, sql, version, keys, signal)));
    if (keys.length < want) break;
    const last = keys[keys.length - 1];
    after = { schema: last.schema_name, name: last.name };
  }
  return out;
}

/** The relations of `keys` (those that are relations), in the keys' order, with everything that belongs to them. */
async function describe(queue: ConnectionQueue<Connection>, sql: CatalogSql, version: ServerVersion, keys: readonly PageRow[], signal: AbortSignal): Promise<RelationEntity[]> {
  const select = <R>(what: string, statement: KeyedSelect, of: readonly KeyRow[]): Promise<R[]> =>
    of.length === 0 ? Promise.resolve([]) : keyedQuery<R>(queue, what, statement, of, signal);
  const withKeys = <R extends KeyRow>(rows: readonly R[]): KeyRow[] => [...groupBy(rows).values()].map((group) => group[0]);

  // Most rows first, so that with fewer connections than statements the longest starts first.
  const columnsRead = select<ColumnRow>('columns', sql.columns, keys);
  const tablesRead = select<TableRow>('tables', sql.tables, keys);
  const indexesRead = select<IndexRow>('indexes', sql.indexes, keys);
  // A view has no foreign keys: asking for all keys costs a view nothing and saves waiting for the tables.
  const foreignKeysRead = select<ForeignKeyRow>('foreign keys', sql.foreignKeys, keys);
  const viewsRead = tablesRead.then((tables) => select<ViewRow>('views', sql.views, tables.filter((t) => isViewType(t.table_type))));
  const partitionsRead = tablesRead.then((tables) => select<PartitionRow>('partitions', sql.partitions, tables.filter((t) => relationKind(t) === 'PARTITIONED_TABLE')));
  const rulesRead = foreignKeysRead.then((fks) => select<ForeignKeyRuleRow>('foreign key actions', sql.foreignKeyRules, withKeys(fks)));
  const checksRead = columnsRead.then((columns) =>
    version.flavour === 'MariaDB' ? select<CheckRow>('check constraints', sql.checks, withKeys(columns.filter((c) => c.data_type === 'longtext'))) : [],
  );
  const [tables, columns, indexRows, fkRows, views, partitionRows, rules, checks] = await settleAll<
    [TableRow[], ColumnRow[], IndexRow[], ForeignKeyRow[], ViewRow[], PartitionRow[], ForeignKeyRuleRow[], CheckRow[]]
  >([tablesRead, columnsRead, indexesRead, foreignKeysRead, viewsRead, partitionsRead, rulesRead, checksRead]);

  const tableByKey = new Map(tables.map((t) => [keyOf(t.schema_name, t.name), t]));
  const viewByKey = new Map(views.map((v) => [keyOf(v.schema_name, v.name), v]));
  const relations = new Map<string, RelationEntity>();
  for (const k of keys) {
    const key = keyOf(k.schema_name, k.name);
    const t = tableByKey.get(key);
    if (t && RELATION_TYPES.has(t.table_type)) relations.set(key, toRelation(t, viewByKey.get(key)));
  }
  const jsonColumns = new Set<string>();
  for (const c of checks) if (isJsonCheck(c)) jsonColumns.add(`${keyOf(c.schema_name, c.name)}\u0000${c.constraint_name}`);
  // A relation's columns come one after another: look the relation up once per run of rows.
  let current: RelationEntity | undefined;
  let currentSchema: string | undefined;
  let currentName: string | undefined;
  for (const c of columns) {
    if (c.schema_name !== currentSchema || c.name !== currentName) {
      currentSchema = c.schema_name;
      currentName = c.name;
      current = relations.get(keyOf(c.schema_name, c.name));
    }
    if (!current) continue;
    const json = c.data_type === 'longtext' && jsonColumns.has(`${keyOf(c.schema_name, c.name)}\u0000${c.column_name}`);
    current.columns.push(toColumn(c, version.flavour, json));
  }
  for (const relation of relations.values()) relation.columns.sort((a, b) => a.ordinal - b.ordinal);

  for (const [key, rows] of groupBy(indexRows)) {
    const relation = relations.get(key);
    if (!relation) continue;
    const { indexes, primaryKey, unique } = toIndexes(rows, version.flavour);
    relation.indexes = indexes;
    relation.uniqueConstraints = unique;
    if (primaryKey) relation.primaryKey = primaryKey;
  }

  const ruleOf = new Map(rules.map((r) => [`${keyOf(r.schema_name, r.name)}\u0000${r.constraint_name}`, r]));
  for (const [key, rows] of groupBy(fkRows)) {
    const relation = relations.get(key);
    if (relation && relation.kind !== 'VIEW') relation.foreignKeys = toForeignKeys(rows, (name) => ruleOf.get(`${key}\u0000${name}`));
  }

  for (const [key, rows] of groupBy(partitionRows)) {
    const relation = relations.get(key);
    if (!relation) continue;
    const { partitions, key: partitionKey } = toPartitions(rows);
    relation.partitions = partitions;
    if (partitionKey) relation.partitionKey = partitionKey;
  }
  return [...relations.values()];
}

/** A row naming a relation. */
type KeyRow = { schema_name: string; name: string };

/**
 * Most relations one detail statement names. MariaDB turns an IN list of 1,000 values or
 * more into a subquery (in_predicate_conversion_threshold), which its information_schema
 * cannot evaluate before opening a table: the statement then opens every table of the
 * databases it scans (1 s instead of 0.1 s for a page of 1,000 in a database of 10,000).
 * Below that, smaller lists cost more statements; 500 measured best. A page's chunks are
 * separate statements, which run at once when there are connections for them.
 */
export const MAX_KEYS_PER_STATEMENT = 500;

/**
 * Chunks of at most this many relations are read with one `UNION ALL` branch per relation,
 * `<schema> = ? AND <name> = ?`: MariaDB then looks each table up by name instead of
 * reading its database's directory (2 ms instead of 20 ms for 25 tables of a database of
 * 10,000, so small pages in large databases stay cheap).
 */
export const MAX_KEYS_BY_NAME = 50;

/**
 * Runs a detail query for the relations `keys` (in page order), in chunks of at most
 * {@link MAX_KEYS_PER_STATEMENT}: `<schema> IN (...) AND <name> IN (...) AND (<schema>,
 * <name>) IN (...)`, or `<schema> = ? AND <name> IN (...)` for a chunk in one database, or
 * a branch per relation for a small chunk ({@link MAX_KEYS_BY_NAME}). Conditions on the name
 * columns only: MariaDB reads the directories of the named databases only and opens only the
 * named tables. The server may match names case-insensitively: callers look rows up by
 * exact key.
 */
async function keyedQuery<R>(queue: ConnectionQueue<Connection>, what: string, select: KeyedSelect, keys: readonly KeyRow[], signal: AbortSignal): Promise<R[]> {
  const where = select.where ? `${select.where} AND ` : '';
  const statements: Promise<R[]>[] = [];
  for (let i = 0; i < keys.length; i += MAX_KEYS_PER_STATEMENT) {
    const chunk = keys.slice(i, i + MAX_KEYS_PER_STATEMENT);
    let sql: string;
    let params: unknown[];
    if (chunk.length <= MAX_KEYS_BY_NAME) {
      sql = chunk.map(() => `${select.head} ${where}${select.schema} = ? AND ${select.name} = ?`).join('\nUNION ALL\n');
      params = chunk.flatMap((k) => [k.schema_name, k.name]);
    } else {
      const schemas = [...new Set(chunk.map((k) => k.schema_name))];
      const names = [...new Set(chunk.map((k) => k.name))];
      if (schemas.length === 1) {
        sql = `${select.head} ${where}${select.schema} = ? AND ${select.name} IN (?)`;
        params = [schemas[0], names];
      } else {
        sql = `${select.head} ${where}${select.schema} IN (?) AND ${select.name} IN (?) AND (${select.schema}, ${select.name}) IN (?)`;
        params = [schemas, names, chunk.map((k) => [k.schema_name, k.name])];
      }
    }
    statements.push(queue.run((c) => read(what, () => query<R>(c, sql, params, signal))));
  }
  const results = await settleAll(statements);
  // concat, not flat(): flat() is several times slower on arrays of 10,000 rows.
  return results.length === 1 ? results[0] : ([] as R[]).concat(...results);
}

function groupBy<R extends { schema_name: string; name: string }>(rows: readonly R[]): Map<string, R[]> {
  const out = new Map<string, R[]>();
  for (const r of rows) {
    const key = keyOf(r.schema_name, r.name);
    const list = out.get(key);
    if (list) list.push(r);
    else out.set(key, [r]);
  }
  return out;
}


