/**
 * The catalog reads of discovery: information_schema SQL, read set-based.
 *
 * information_schema is slow on large catalogs (MariaDB builds each table of it on the fly,
 * opening table definitions), so a page is read in two steps: one keyset query picks the
 * page's (schema, name) keys reading names only, then one query per kind (tables, columns,
 * indexes, foreign keys, CHECK constraints, triggers; foreign-key actions, views and
 * partitions only when the page has any) is restricted to exactly those keys with
 * `TABLE_SCHEMA IN (...) AND TABLE_NAME IN (...) AND (TABLE_SCHEMA, TABLE_NAME) IN (...)`
 * (`TABLE_SCHEMA = ?` for keys of one database), conditions on name columns only, which the
 * server evaluates before it opens a table, in chunks of 500 keys (a longer IN list would
 * defeat that, see {@link MAX_KEYS_PER_STATEMENT}). Never a round trip per table. The
 * statements that do not depend on each other run at once over the page's connections (one
 * statement per connection at a time), one after another when there is only one. Names and
 * filters travel only as `?` values; filter patterns as LIKE patterns, never REGEXP (PCRE
 * backtracks: one crafted pattern took 150 ms per name on MariaDB 10.11, LIKE under 1 ms).
 * The SQL lives in catalogSql.ts, the rows and their mapping to entities in catalogRows.ts
 * (tables, views, columns), catalogKeyRows.ts (indexes, keys, partitions) and
 * catalogObjectRows.ts (checks, triggers); schema-level objects (routines, sequences) in
 * catalogObjects.ts. This file runs the reads and assembles the pages.
 */
import type { ColumnEntity, CompiledFilter, RelationEntity, RelationKey, RelationPage, SchemaEntity, SchemaObjectsRequest } from '@sourced/core';
import type { Connection } from 'mysql2';
import { toForeignKeys, toIndexes, toPartitions, type ForeignKeyRow, type ForeignKeyRuleRow, type IndexRow, type PartitionRow } from './catalogKeyRows';
import { toCheckConstraints, toTriggers, type TriggerRow } from './catalogObjectRows';
import { databasesWithOtherKinds, readSchemaObjects } from './catalogObjects';
import {
  byteOrder,
  isJsonCheck,
  isViewType,
  keyOf,
  relationKind,
  toColumn,
  toRelation,
  type CheckRow,
  type ColumnRow,
  type PageRow,
  type SchemaRow,
  type TableRow,
  type ViewRow,
} from './catalogRows';
import { catalogSql, pageParams, RELATION_TYPES, schemaFilterParams, SYSTEM_SCHEMAS, type CatalogSql, type KeyedSelect } from './catalogSql';
import { sessionOf, type ServerVersion } from './connect';
import { ConnectionQueue, settleAll } from './connectionQueue';
import { guardedRead, type ReadReasons } from './mysqlErrors';
import { query } from './query';

/** Used by the privilege checks (checks.ts). */
export { GRANTEE_SQL, userSchemaSql } from './catalogSql';

/** How catalog reads fail: a lost connection (the engine may fail over), the time limit, anything else. */
const CATALOG_READS: ReadReasons = { timeout: 'CATALOG_READ_TIMEOUT', failed: 'CATALOG_READ_FAILED', from: ' from information_schema' };
const read = <T>(what: string, run: () => Promise<T>): Promise<T> => guardedRead(what, CATALOG_READS, run);

/**
 * Databases that pass the filter within the scope (`database`, the data source's; none named:
 * every database but the server's own), in byte order of their names, each with whether the
 * account may use it; with `objects`, each with its routines and (MariaDB) sequences, read
 * for all of them at once (see catalogObjects.ts).
 */
export async function readSchemas(
  conn: Connection,
  filter: CompiledFilter,
  signal: AbortSignal,
  database?: string,
  objects?: SchemaObjectsRequest,
  parallel?: () => Promise<readonly Connection[]>,
): Promise<SchemaEntity[]> {
  const sql = catalogSql(sessionOf(conn).version);
  const params = schemaFilterParams(filter, database);
  const rows = await read('schemas', () => query<SchemaRow>(conn, sql.schemas(filter, !!database), [...params, ...params], signal));
  const schemas = rows.map((r) => {
    const schema: SchemaEntity = { name: r.name, usable: Number(r.usable) === 1 };
    if (r.comment) schema.comment = r.comment;
    return schema;
  });
  if (!objects) return schemas;
  const objectsOf = await readSchemaObjects(
    conn,
    schemas.map((s) => s.name),
    objects,
    signal,
    read,
    parallel,
  );
  return schemas.map((s) => ({ ...s, ...objectsOf.get(s.name) }));
}

/**
 * How many relations pass the filter after `after` within the scope (`database`): one count
 * over information_schema.TABLES, relations only. MariaDB lists sequences there too, and
 * TABLE_TYPE costs it every table's definition, so there the names are counted when SHOW FULL
 * TABLES finds no table of another kind in the databases counted (see
 * databasesWithOtherKinds), and only relations, by TABLE_TYPE, when it does.
 */
export async function countRelations(
  conn: Connection,
  filter: CompiledFilter,
  after: RelationKey | undefined,
  signal: AbortSignal,
  database?: string,
): Promise<number> {
  const { version } = sessionOf(conn);
  const sql = catalogSql(version);
  // MySQL keeps TABLE_TYPE in its data dictionary: asking for it costs nothing there.
  let types = true;
  if (version.flavour === 'MariaDB') {
    const databases = database ? [database] : await listDatabases(conn, sql, filter, after, signal);
    const others = await databasesWithOtherKinds(conn, databases, [...RELATION_TYPES], signal);
    types = others === undefined || others.length > 0;
  }
  const rows = await read('relation count', () =>
    query<{ n: number | string }>(conn, sql.count(filter, !!database, types), pageParams(filter, after, database), signal),
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * The databases that pass the filter, from the cursor's on, in byte order: information_schema.SCHEMATA (the data
 * directory's listing), and the server's own when the filter includes them (SCHEMATA leaves
 * out performance_schema for an account without a privilege there, whose tables TABLES still
 * lists). The page and count statements apply the filter's patterns again.
 */
async function listDatabases(
  conn: Connection,
  sql: CatalogSql,
  filter: CompiledFilter,
  after: RelationKey | undefined,
  signal: AbortSignal,
): Promise<string[]> {
  const params = [...schemaFilterParams(filter, undefined), after?.schema ?? null, after?.schema ?? null];
  const rows = await read('databases', () => query<{ name: string }>(conn, sql.databases(filter), params, signal));
  const names = rows.map((r) => r.name);
  if (!filter.includeSystemSchemas) return names;
  for (const s of SYSTEM_SCHEMAS) if (!names.includes(s) && (!after || byteOrder(s, after.schema) >= 0)) names.push(s);
  return names.sort(byteOrder);
}

/**
 * One page of relations within the scope (`database`, see {@link readSchemas}), each with
 * its columns, keys, indexes, partitions, CHECK constraints and triggers, in the keyset's order. The keyset query picks up to `limit` keys by name alone, one
 * database at a time (so MariaDB reads one directory listing, no table definition); then tables, columns, indexes and foreign
 * keys of those keys, checks and triggers are read at once, and views, partitions and
 * foreign-key actions as soon as what they depend on shows the page has any. Each statement
 * runs on the next free connection of `[conn, ...parallel]` (one statement per connection
 * at a time; strictly one after another without `parallel`): for a page of plain tables,
 * the keyset and six statements per {@link MAX_KEYS_PER_STATEMENT} keys, plus one for the
 * foreign-key actions when there are any. Keys that are not relations (sequences) or vanished in
 * between are dropped and the page is topped up after the last key read, so a short page
 * always means the end of the catalog (the engine stops at a short page).
 */
export async function readRelations(
  conn: Connection,
  page: RelationPage,
  signal: AbortSignal,
  parallel: readonly Connection[] = [],
  database?: string,
): Promise<RelationEntity[]> {
  const { version } = sessionOf(conn);
  const sql = catalogSql(version);
  // Every statement is written for this server's version; an endpoint that spreads
  // connections over servers of other versions gets only the matching ones used.
  const queue = new ConnectionQueue([conn, ...parallel.filter((p) => sessionOf(p).version.text === version.text)]);
  // One database at a time: information_schema restricted to one TABLE_SCHEMA lists that
  // database's directory only, where a page across all of them lists every directory (the
  // keyset query of a page cost 10-30 ms of server CPU over ten databases of 1,000 tables,
  // under 1 ms over one). The data source's database, or those that pass the filter from the
  // cursor's on, listed once per page from SCHEMATA (the data directory's listing).
  const databases = database ? [database] : await queue.run((c) => listDatabases(c, sql, page.filter, page.after, signal));
  const pageSql = sql.page(page.filter, true);
  const out: RelationEntity[] = [];
  let after = page.after;
  let db = 0;
  while (out.length < page.limit && db < databases.length) {
    const want = page.limit - out.length;
    // The next `want` keys, from as many databases as it takes.
    const keys: PageRow[] = [];
    while (keys.length < want && db < databases.length) {
      const name = databases[db];
      const asked = want - keys.length;
      const more = await queue.run((c) => read('relations', () => query<PageRow>(c, pageSql, [...pageParams(page.filter, after, name), asked], signal)));
      keys.push(...more);
      if (more.length < asked) db++;
      const last = keys.at(-1);
      if (last) after = { schema: last.schema_name, name: last.name };
    }
    if (keys.length === 0) break;
    out.push(...(await describe(queue, sql, version, keys, signal)));
  }
  return out;
}

/** The relations of `keys` (those that are relations), in the keys' order, with everything that belongs to them. */
async function describe(
  queue: ConnectionQueue<Connection>,
  sql: CatalogSql,
  version: ServerVersion,
  keys: readonly PageRow[],
  signal: AbortSignal,
): Promise<RelationEntity[]> {
  const select = <R>(what: string, statement: KeyedSelect, of: readonly KeyRow[]): Promise<R[]> =>
    of.length === 0 ? Promise.resolve([]) : keyedQuery<R>(queue, what, statement, of, signal);
  const withKeys = (rows: readonly KeyRow[]): KeyRow[] => [...groupBy(rows).values()].map((group) => group[0]);

  // Tables first and columns once they are read: TABLES opens each table, which keeps its
  // definition in the server's table cache for the page's other statements, where COLUMNS
  // loads definitions without opening tables and MariaDB's definition cache (400 by default)
  // drops them before a chunk of 500 is done: started together, a run at 10,000 tables loaded
  // 3.4 definitions per table, 2.5 after (1 once the count and the sequences' read stopped
  // loading them: see countRelations).
  const tablesRead = select<TableRow>('tables', sql.tables, keys);
  const indexesRead = select<IndexRow>('indexes', sql.indexes, keys);
  // A view has no foreign keys: asking for all keys costs a view nothing and saves waiting for the tables.
  const foreignKeysRead = select<ForeignKeyRow>('foreign keys', sql.foreignKeys, keys);
  // Like foreign keys, views have neither checks nor triggers: all keys, without waiting for the tables.
  const checksRead = sql.checks ? select<CheckRow>('check constraints', sql.checks, keys) : Promise.resolve([]);
  // Columns become entities as each statement's rows arrive (they are most of a page's rows,
  // and the daemon's garbage collector pays for every row kept until the page is assembled);
  // the checks say which LONGTEXT columns are MariaDB's JSON.
  const columnsOf = new Map<string, ColumnEntity[]>();
  const columnsRead = Promise.all([tablesRead, checksRead]).then(([, checks]) => {
    const jsonColumns = new Set<string>();
    if (version.flavour === 'MariaDB') for (const c of checks) if (isJsonCheck(c)) jsonColumns.add(`${keyOf(c.schema_name, c.name)}\u0000${c.constraint_name}`);
    return keyedQuery<ColumnRow>(queue, 'columns', sql.columns, keys, signal, (rows) => {
      // A relation's columns come one after another: look the relation up once per run of rows.
      let list: ColumnEntity[] | undefined;
      let currentSchema: string | undefined;
      let currentName: string | undefined;
      for (const c of rows) {
        if (c.schema_name !== currentSchema || c.name !== currentName || !list) {
          currentSchema = c.schema_name;
          currentName = c.name;
          const key = keyOf(c.schema_name, c.name);
          list = columnsOf.get(key);
          if (!list) columnsOf.set(key, (list = []));
        }
        const json = c.data_type === 'longtext' && jsonColumns.has(`${keyOf(c.schema_name, c.name)}\u0000${c.column_name}`);
        list.push(toColumn(c, version.flavour, json));
      }
    });
  });
  const viewsRead = tablesRead.then((tables) =>
    select<ViewRow>(
      'views',
      sql.views,
      tables.filter((t) => isViewType(t.table_type)),
    ),
  );
  const partitionsRead = tablesRead.then((tables) =>
    select<PartitionRow>(
      'partitions',
      sql.partitions,
      tables.filter((t) => relationKind(t) === 'PARTITIONED_TABLE'),
    ),
  );
  const rulesRead = foreignKeysRead.then((fks) => select<ForeignKeyRuleRow>('foreign key actions', sql.foreignKeyRules, withKeys(fks)));
  const triggersRead = select<TriggerRow>('triggers', sql.triggers, keys);
  const [tables, , indexRows, fkRows, views, partitionRows, rules, checks, triggerRows] = await settleAll<
    [TableRow[], ColumnRow[], IndexRow[], ForeignKeyRow[], ViewRow[], PartitionRow[], ForeignKeyRuleRow[], CheckRow[], TriggerRow[]]
  >([tablesRead, columnsRead, indexesRead, foreignKeysRead, viewsRead, partitionsRead, rulesRead, checksRead, triggersRead]);

  const tableByKey = new Map(tables.map((t) => [keyOf(t.schema_name, t.name), t]));
  const viewByKey = new Map(views.map((v) => [keyOf(v.schema_name, v.name), v]));
  const relations = new Map<string, RelationEntity>();
  for (const k of keys) {
    const key = keyOf(k.schema_name, k.name);
    const t = tableByKey.get(key);
    if (!t || !RELATION_TYPES.has(t.table_type)) continue;
    const relation = toRelation(t, viewByKey.get(key));
    const columns = columnsOf.get(key);
    if (columns) relation.columns = columns;
    relations.set(key, relation);
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

  for (const relation of relations.values()) {
    if (relation.kind === 'VIEW') continue;
    // Read, so an empty list means none (undefined: the server has no CHECK constraints).
    if (sql.checks) relation.checkConstraints = [];
    relation.triggers = [];
  }
  for (const [key, rows] of groupBy(checks)) {
    const relation = relations.get(key);
    if (relation && relation.kind !== 'VIEW') relation.checkConstraints = toCheckConstraints(rows);
  }
  for (const [key, rows] of groupBy(triggerRows)) {
    const relation = relations.get(key);
    if (relation && relation.kind !== 'VIEW') relation.triggers = toTriggers(rows);
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
 * exact key. With `consume`, each statement's rows go to it as they arrive and are not kept
 * (the result is then empty).
 */
async function keyedQuery<R>(
  queue: ConnectionQueue<Connection>,
  what: string,
  select: KeyedSelect,
  keys: readonly KeyRow[],
  signal: AbortSignal,
  consume?: (rows: R[]) => void,
): Promise<R[]> {
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
    if (select.prefix) sql = `${select.prefix} ${sql}`;
    const rows = queue.run((c) => read(what, () => query<R>(c, sql, params, signal)));
    statements.push(
      consume
        ? rows.then((r) => {
            consume(r);
            return [];
          })
        : rows,
    );
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
