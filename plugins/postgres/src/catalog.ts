/**
 * The catalog reads of discovery: SQL and the mapping of its rows to core's entities.
 *
 * Everything is set-based: one query for the schemas; relation keys (oid, schema, name) in
 * byte order, read ten pages ahead in one keyset query; and per page one query each for the
 * relations, their columns, constraints and indexes (`oid = ANY($1)`), whatever the page
 * size. Key columns travel as attribute numbers and are named from the page's own columns.
 * Names and filters travel only as bind parameters. Needs PostgreSQL 12 or later
 * (attgenerated, pg_partition_tree).
 */
import {
  AbortedError,
  SourcedError,
  UnavailableError,
  describeError,
  globToLikePattern,
  type ColumnEntity,
  type CompiledFilter,
  type ForeignKeyEntity,
  type IndexEntity,
  type RelationEntity,
  type RelationKey,
  type RelationKind,
  type RelationPage,
  type SchemaEntity,
} from '@sourced/core';
import type { Client } from 'pg';
import { isConnectionError, sqlState } from './pgErrors';
import { query } from './query';

/**
 * SQL condition over `pg_namespace n`: true for schemas that are not PostgreSQL's own
 * (pg_catalog, information_schema, toast and temporary schemas).
 */
export const USER_SCHEMA_SQL = `(n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_')`;

/**
 * The schema part of a filter; binds $1 include system schemas, $2 include patterns, $3
 * exclude patterns (LIKE patterns from the filter's globs, see {@link likePatterns}). LIKE,
 * not `~`: a regular expression is compiled per pattern and its cost depends on the
 * pattern's shape; LIKE with `%` and `_` is matched without backtracking.
 */
const SCHEMA_FILTER_SQL = `($1::boolean OR ${USER_SCHEMA_SQL})
  AND (cardinality($2::text[]) = 0 OR n.nspname::text LIKE ANY ($2::text[]))
  AND NOT (n.nspname::text LIKE ANY ($3::text[]))`;

const SCHEMAS_SQL = `
SELECT n.nspname::text AS name,
       pg_get_userbyid(n.nspowner)::text AS owner,
       obj_description(n.oid, 'pg_namespace') AS comment,
       has_schema_privilege(n.oid, 'USAGE') AS usable
FROM pg_namespace n
WHERE ${SCHEMA_FILTER_SQL}
ORDER BY n.nspname COLLATE "C"`;

/**
 * Whether a relation's reltuples is unknown: -1 means never analyzed since PostgreSQL 14;
 * before that a never-analyzed table shows 0 rows on 0 pages (as does an analyzed empty
 * one, which is then reported as unknown too).
 */
const unknownRows = (c: string) =>
  `(${c}.reltuples < 0 OR (${c}.reltuples = 0 AND ${c}.relpages = 0 AND current_setting('server_version_num')::int < 140000))`;

/**
 * The filter of the relations discovery reads, over `pg_class c` and `pg_namespace n`. Binds
 * $1-$3 as {@link SCHEMA_FILTER_SQL}, $4/$5 include/exclude patterns over `schema.name`,
 * $6/$7 the key to start after (null from the start).
 */
const RELATION_FILTER_SQL = `c.relkind IN ('r', 'p', 'f', 'v', 'm')
    AND ${SCHEMA_FILTER_SQL}
    AND has_schema_privilege(n.oid, 'USAGE')
    AND (cardinality($4::text[]) = 0 OR (n.nspname || '.' || c.relname) LIKE ANY ($4::text[]))
    AND NOT ((n.nspname || '.' || c.relname) LIKE ANY ($5::text[]))
    AND ($6::text IS NULL OR (n.nspname::text COLLATE "C", c.relname::text COLLATE "C") > ($6::text COLLATE "C", $7::text COLLATE "C"))`;

/**
 * The keys of the next relations in (schema, name) order under "C" collation, which is the
 * byte order core's cursor uses; binds as {@link RELATION_FILTER_SQL}, $8 the limit. It
 * reads names only, so it fetches keys for several pages at once (see {@link KeyWindow}):
 * the sort over every relation after the cursor is paid once per window, not per page.
 */
const KEYS_SQL = `
SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${RELATION_FILTER_SQL}
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"
LIMIT $8`;

/**
 * What discovery reports of the relations $1 (oids), in any order. The costly per-relation
 * functions (pg_get_viewdef locks the view) run for these rows only. A relation dropped since
 * its key was read is simply missing.
 */
const RELATIONS_SQL = `
SELECT c.oid::int8 AS oid,
       n.nspname::text AS schema,
       c.relname::text AS name,
       c.relkind::text AS kind,
       pg_get_userbyid(c.relowner)::text AS owner,
       obj_description(c.oid, 'pg_class') AS comment,
       CASE
         WHEN c.relkind = 'v' THEN -1
         WHEN c.relkind = 'p' THEN (
           SELECT CASE WHEN bool_or(${unknownRows('l')}) THEN -1 ELSE coalesce(sum(l.reltuples::float8), 0) END
           FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid
           WHERE t.isleaf)
         WHEN ${unknownRows('c')} THEN -1
         ELSE c.reltuples::float8
       END::float8 AS estimated_rows,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS view_definition,
       CASE WHEN c.relispartition THEN (
         SELECT pn.nspname || '.' || pc.relname
         FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid
         LIMIT 1) END AS partition_of,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       CASE WHEN c.relkind = 'f' THEN (
         SELECT fs.srvname::text FROM pg_foreign_table ft JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
         WHERE ft.ftrelid = c.oid) END AS foreign_server
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = ANY ($1::oid[])`;

/** How many relations pass the filter after the cursor; binds as {@link RELATION_FILTER_SQL}. */
const COUNT_SQL = `
SELECT count(*)::int8 AS n
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${RELATION_FILTER_SQL}`;

/**
 * Columns of the relations $1, one row per relation with its columns as a JSON array of
 * arrays in attnum order (see {@link ColumnTuple}): the daemon's CPU, not the source, limits a
 * large discovery, and one JSON.parse per relation costs a third of decoding a protocol row
 * per column. `is_array` uses typcategory 'A', not typelem alone: some scalar types (name,
 * point) have a typelem too. The element type (arrays) or base type (domains) also decides
 * where enum labels come from. The base type is formatted only when it differs from the type
 * (null otherwise), defaults and enum labels are looked up only for the columns that have
 * them, and comments come from one join.
 */
const COLUMNS_SQL = `
SELECT a.attrelid::int8 AS relid,
       json_agg(json_build_array(
         a.attnum,
         a.attname,
         format_type(a.atttypid, a.atttypmod),
         CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod)
              WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN format_type(t.typelem, a.atttypmod) END,
         NOT a.attnotnull,
         CASE WHEN a.atthasdef THEN (
           SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) END,
         ds.description,
         t.typcategory = 'A',
         CASE WHEN t.typtype = 'd' THEN format_type(t.oid, NULL) END,
         CASE WHEN t.typtype IN ('e', 'd') OR t.typcategory = 'A' THEN (
           SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
           FROM pg_enum e
           WHERE e.enumtypid = CASE WHEN t.typtype = 'd' THEN t.typbasetype
                                    WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem
                                    ELSE t.oid END) END,
         a.attidentity::text,
         a.attgenerated::text) ORDER BY a.attnum)::text AS columns
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_description ds ON ds.objoid = a.attrelid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = a.attnum
WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
GROUP BY a.attrelid`;

/**
 * Primary keys, unique constraints and foreign keys of the relations $1. Key columns come as
 * attribute numbers (named from the page's own columns); a foreign key's referenced table
 * and columns are looked up for foreign keys only, by index. A foreign key that references a
 * partitioned table also has one clone per partition on the same table (conparentid
 * pointing to it); those are left out.
 */
const CONSTRAINTS_SQL = `
SELECT con.conrelid::int8 AS relid,
       con.conname::text AS name,
       con.contype::text AS type,
       con.conkey AS keys,
       r.ref_schema,
       r.ref_table,
       CASE WHEN con.contype = 'f' THEN ARRAY(
         SELECT a.attname::text
         FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
         ORDER BY k.ord) END AS ref_columns,
       con.confupdtype::text AS on_update,
       con.confdeltype::text AS on_delete
FROM pg_constraint con
LEFT JOIN LATERAL (
  SELECT rn.nspname::text AS ref_schema, rc.relname::text AS ref_table
  FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  WHERE rc.oid = con.confrelid) r ON con.contype = 'f'
WHERE con.conrelid = ANY ($1::oid[])
  AND con.contype IN ('p', 'u', 'f')
  AND (con.conparentid = 0
       OR NOT EXISTS (SELECT 1 FROM pg_constraint parent WHERE parent.oid = con.conparentid AND parent.conrelid = con.conrelid))
ORDER BY con.conrelid, con.conname COLLATE "C"`;

/**
 * Indexes of the relations $1. Key columns come as attribute numbers (named from the page's
 * own columns); an expression key by `pg_get_indexdef(index, k, true)`, computed only for
 * indexes that have one. INCLUDE columns are not keys and are left out (indnkeyatts).
 */
const INDEXES_SQL = `
SELECT i.indrelid::int8 AS relid,
       ic.relname::text AS name,
       i.indisunique AS is_unique,
       i.indisprimary AS is_primary,
       (SELECT am.amname::text FROM pg_am am WHERE am.oid = ic.relam) AS method,
       CASE WHEN i.indpred IS NOT NULL THEN pg_get_expr(i.indpred, i.indrelid) END AS predicate,
       pg_get_indexdef(i.indexrelid) AS definition,
       (i.indkey::int2[])[0:i.indnkeyatts - 1] AS keys,
       CASE WHEN 0 = ANY (i.indkey::int2[]) THEN ARRAY(
         SELECT CASE WHEN i.indkey[k - 1] = 0 THEN pg_get_indexdef(i.indexrelid, k, true) END
         FROM generate_series(1, i.indnkeyatts) AS k
         ORDER BY k) END AS expressions
FROM pg_index i
JOIN LATERAL (SELECT c.relname, c.relam FROM pg_class c WHERE c.oid = i.indexrelid) ic ON true
WHERE i.indrelid = ANY ($1::oid[])
ORDER BY i.indrelid, ic.relname COLLATE "C"`;

interface SchemaRow {
  name: string;
  owner: string | null;
  comment: string | null;
  usable: boolean;
}

interface RelationRow {
  oid: string;
  schema: string;
  name: string;
  kind: string;
  owner: string | null;
  comment: string | null;
  estimated_rows: number;
  view_definition: string | null;
  partition_of: string | null;
  partition_bound: string | null;
  partition_key: string | null;
  foreign_server: string | null;
}

/** One relation's columns: {@link ColumnTuple}s as JSON text. */
interface ColumnRow {
  relid: string;
  columns: string;
}

/**
 * A column as {@link COLUMNS_SQL} encodes it: attnum, name, type, base type (null when the
 * same), nullable, default, comment, is_array, domain, enum labels, identity, generated.
 */
type ColumnTuple = [
  number,
  string,
  string,
  string | null,
  boolean,
  string | null,
  string | null,
  boolean,
  string | null,
  string[] | null,
  string,
  string,
];

interface ConstraintRow {
  relid: string;
  name: string;
  type: 'p' | 'u' | 'f';
  /** Attribute numbers of the key columns. */
  keys: number[];
  ref_schema: string | null;
  ref_table: string | null;
  ref_columns: string[] | null;
  on_update: string;
  on_delete: string;
}

interface IndexRow {
  relid: string;
  name: string;
  is_unique: boolean;
  is_primary: boolean;
  method: string;
  predicate: string | null;
  definition: string | null;
  /** Attribute numbers of the key columns, 0 for an expression. */
  keys: number[];
  /** Per key: the expression, or null for a column; null when no key is an expression. */
  expressions: (string | null)[] | null;
}

const KINDS: Record<string, RelationKind> = {
  r: 'TABLE',
  p: 'PARTITIONED_TABLE',
  f: 'FOREIGN_TABLE',
  v: 'VIEW',
  m: 'MATERIALIZED_VIEW',
};

/** pg_constraint.confupdtype / confdeltype. */
const FK_ACTIONS: Record<string, string> = {
  a: 'NO ACTION',
  r: 'RESTRICT',
  c: 'CASCADE',
  n: 'SET NULL',
  d: 'SET DEFAULT',
};

/** pg_attribute.attidentity / attgenerated. */
const GENERATED: Record<string, string> = { a: 'ALWAYS', d: 'BY DEFAULT', s: 'STORED' };

/** Schemas that pass the filter, in byte order of their names, each with whether the user may use it. */
export async function readSchemas(client: Client, filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]> {
  const rows = await read('schemas', () =>
    query<SchemaRow>(client, SCHEMAS_SQL, [filter.includeSystemSchemas, likePatterns(filter.globs.includeSchemas), likePatterns(filter.globs.excludeSchemas)], signal),
  );
  return rows.map((r) => ({ name: r.name, owner: r.owner ?? undefined, comment: r.comment ?? undefined, usable: r.usable }));
}

/** The filter's globs as LIKE patterns with PostgreSQL's default escape character (a backslash). */
const likePatterns = (globs: readonly string[]): string[] => globs.map((g) => globToLikePattern(g));

/** The binds of {@link RELATION_FILTER_SQL}. */
function filterParams(filter: CompiledFilter, after: RelationKey | undefined): unknown[] {
  return [
    filter.includeSystemSchemas,
    likePatterns(filter.globs.includeSchemas),
    likePatterns(filter.globs.excludeSchemas),
    likePatterns(filter.globs.includeTables),
    likePatterns(filter.globs.excludeTables),
    after?.schema ?? null,
    after?.name ?? null,
  ];
}

/** How many relations pass the filter after `after`: one count over pg_class. */
export async function countRelations(client: Client, filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number> {
  const rows = await read('relation count', () => query<{ n: string }>(client, COUNT_SQL, filterParams(filter, after), signal));
  return Number(rows[0]?.n ?? 0);
}

interface KeyRow {
  oid: string;
  schema: string;
  name: string;
}

/** Keys fetched per window: this many pages' worth, at most {@link MAX_WINDOW} keys. */
const WINDOW_PAGES = 10;
const MAX_WINDOW = 10_000;

/**
 * The keys of the relations after a cursor, read several pages ahead (names only: about
 * 100 bytes a key, so at most a megabyte whatever the catalog). A page takes its keys from
 * the window when it continues where the last page ended on the same connection; anything
 * else (a resumed cursor, a failover to another server, where oids differ) reads a new
 * window. A relation created inside a window after it was read is not seen, as one created
 * behind the cursor is not: discovery is not a snapshot.
 */
export class KeyWindow {
  private keys: KeyRow[] = [];
  private next = 0;
  /** True when the last read returned fewer keys than asked: nothing lies beyond the window. */
  private final = false;
  private client?: Client;
  private last?: RelationKey;

  /** The keys of the next page: up to `limit`, fewer only at the end of the catalog. */
  async take(client: Client, page: RelationPage, signal: AbortSignal): Promise<KeyRow[]> {
    if (client !== this.client || !sameKey(page.after, this.last)) {
      this.keys = [];
      this.next = 0;
      this.final = false;
      this.client = client;
    }
    const out: KeyRow[] = [];
    let after = page.after;
    while (out.length < page.limit) {
      if (this.next >= this.keys.length) {
        if (this.final) break;
        const size = Math.min(MAX_WINDOW, page.limit * WINDOW_PAGES);
        const from = after;
        this.keys = await read('relations', () => query<KeyRow>(client, KEYS_SQL, [...filterParams(page.filter, from), size], signal));
        this.next = 0;
        this.final = this.keys.length < size;
        if (this.keys.length === 0) break;
      }
      const taken = this.keys.slice(this.next, this.next + page.limit - out.length);
      this.next += taken.length;
      out.push(...taken);
      const last = taken[taken.length - 1];
      after = { schema: last.schema, name: last.name };
    }
    this.last = after;
    return out;
  }
}

function sameKey(a: RelationKey | undefined, b: RelationKey | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && a.schema === b.schema && a.name === b.name;
}

/**
 * One page of relations, each with its columns, keys and indexes: the page's keys (from
 * the window, one query per several pages), then four queries whatever the page size —
 * relations, columns, constraints, indexes by oid. Relations come in key order; one dropped
 * since its key was read is left out, and the page is topped up from the keys after it, so
 * a short page still means the end of the catalog. The three detail queries are
 * independent: with `parallel` connections they run at once, spread over the connections
 * (each on a session of its own, so no transaction spans them).
 */
export async function readRelations(
  client: Client,
  page: RelationPage,
  signal: AbortSignal,
  parallel: readonly Client[] = [],
  window: KeyWindow = new KeyWindow(),
): Promise<RelationEntity[]> {
  const out: RelationEntity[] = [];
  let after = page.after;
  while (out.length < page.limit) {
    const want = page.limit - out.length;
    const keys = await window.take(client, { ...page, after, limit: want }, signal);
    if (keys.length === 0) break;
    out.push(...(await describeRelations(client, keys, signal, parallel)));
    const last = keys[keys.length - 1];
    after = { schema: last.schema, name: last.name };
    if (keys.length < want) break; // the end of the catalog
  }
  return out;
}

/** The relations of `keys` with their columns, keys and indexes, in the order of `keys`. */
async function describeRelations(client: Client, keys: KeyRow[], signal: AbortSignal, parallel: readonly Client[]): Promise<RelationEntity[]> {
  const oids = keys.map((k) => k.oid);
  const relations = await read('relations', () => query<RelationRow>(client, RELATIONS_SQL, [oids], signal));
  if (relations.length === 0) return [];
  const found = new Map(relations.map((r) => [r.oid, r]));
  const byOid = new Map<string, RelationEntity>();
  for (const k of keys) {
    const r = found.get(k.oid);
    if (r) byOid.set(r.oid, toRelation(r));
  }
  const present = [...byOid.keys()];

  const [columns, constraints, indexes] = await spread(client, parallel, [
    (c) => read('columns', () => query<ColumnRow>(c, COLUMNS_SQL, [present], signal)),
    (c) => read('constraints', () => query<ConstraintRow>(c, CONSTRAINTS_SQL, [present], signal)),
    (c) => read('indexes', () => query<IndexRow>(c, INDEXES_SQL, [present], signal)),
  ] as const);
  for (const c of columns) {
    const relation = byOid.get(c.relid);
    if (relation) relation.columns = (JSON.parse(c.columns) as ColumnTuple[]).map(toColumn);
  }
  // Key columns arrive as attribute numbers; a relation's columns carry them as ordinals.
  const names = new Map<string, Map<number, string>>();
  const nameOf = (relid: string, attnum: number): string => {
    let byNum = names.get(relid);
    if (!byNum) {
      byNum = new Map((byOid.get(relid)?.columns ?? []).map((col) => [col.ordinal, col.name]));
      names.set(relid, byNum);
    }
    return byNum.get(attnum) ?? `#${attnum}`;
  };
  for (const c of constraints) {
    const relation = byOid.get(c.relid);
    if (!relation) continue;
    const key = { name: c.name, columns: c.keys.map((n) => nameOf(c.relid, n)) };
    if (c.type === 'p') relation.primaryKey = key;
    else if (c.type === 'u') relation.uniqueConstraints.push(key);
    else relation.foreignKeys.push(toForeignKey(c, key.columns));
  }
  for (const i of indexes) {
    const columns = i.keys.map((n, k) => (n === 0 ? (i.expressions?.[k] ?? '') : nameOf(i.relid, n)));
    byOid.get(i.relid)?.indexes.push(toIndex(i, columns));
  }
  return [...byOid.values()];
}

/**
 * Runs independent reads over the connections: read i on connection i mod n, the reads of
 * one connection one after another (a pg client runs one query at a time), the connections
 * at once.
 */
async function spread<T extends readonly ((c: Client) => Promise<unknown>)[]>(
  client: Client,
  parallel: readonly Client[],
  reads: T,
): Promise<{ -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const clients = [client, ...parallel];
  const results: unknown[] = new Array(reads.length);
  await Promise.all(
    clients.slice(0, reads.length).map(async (c, ci) => {
      for (let i = ci; i < reads.length; i += clients.length) results[i] = await reads[i](c);
    }),
  );
  return results as { -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> };
}

function toRelation(r: RelationRow): RelationEntity {
  const relation: RelationEntity = {
    entity: 'relation',
    schema: r.schema,
    name: r.name,
    kind: KINDS[r.kind],
    columns: [],
    uniqueConstraints: [],
    foreignKeys: [],
    indexes: [],
    estimatedRows: Math.round(r.estimated_rows),
  };
  if (r.owner !== null) relation.owner = r.owner;
  if (r.comment !== null) relation.comment = r.comment;
  if (r.view_definition !== null) relation.viewDefinition = r.view_definition;
  if (r.partition_of !== null) relation.partitionOf = r.partition_of;
  if (r.partition_bound !== null) relation.partitionBound = r.partition_bound;
  if (r.partition_key !== null) relation.partitionKey = r.partition_key;
  if (r.foreign_server !== null) relation.foreignServer = r.foreign_server;
  return relation;
}

function toColumn([ordinal, name, dataType, baseType, nullable, defaultValue, comment, isArray, domain, enumValues, identity, generated]: ColumnTuple): ColumnEntity {
  const column: ColumnEntity = { name, ordinal, dataType, baseType: baseType ?? dataType, nullable, isArray };
  if (defaultValue !== null) column.defaultValue = defaultValue;
  if (comment !== null) column.comment = comment;
  if (enumValues !== null) column.enumValues = enumValues;
  if (domain !== null) column.domain = domain;
  const kind = GENERATED[identity] ?? GENERATED[generated];
  if (kind) column.generated = kind;
  return column;
}

function toForeignKey(c: ConstraintRow, columns: string[]): ForeignKeyEntity {
  return {
    name: c.name,
    columns,
    referencedSchema: c.ref_schema ?? '',
    referencedTable: c.ref_table ?? '',
    referencedColumns: c.ref_columns ?? [],
    onUpdate: FK_ACTIONS[c.on_update] ?? 'NO ACTION',
    onDelete: FK_ACTIONS[c.on_delete] ?? 'NO ACTION',
  };
}

function toIndex(i: IndexRow, columns: string[]): IndexEntity {
  const index: IndexEntity = {
    name: i.name,
    columns,
    unique: i.is_unique,
    primary: i.is_primary,
    method: i.method,
    definition: i.definition ?? '',
  };
  if (i.predicate !== null) index.predicate = i.predicate;
  return index;
}

/**
 * Runs one catalog read and turns its failure into a semantic error: `UnavailableError`
 * (CONNECTION_LOST) when the connection is gone, so the engine may fail over, else
 * CATALOG_READ_FAILED with the SQLSTATE. Cancellation passes through unchanged.
 */
async function read<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof AbortedError) throw error;
    const state = sqlState(error);
    const metadata: Record<string, string> = { step: what };
    if (state) metadata.sqlstate = state;
    if (isConnectionError(error)) {
      throw new UnavailableError('CONNECTION_LOST', `the connection to PostgreSQL was lost while reading ${what}: ${describeError(error)}`, { cause: error, metadata });
    }
    throw new SourcedError('CATALOG_READ_FAILED', `reading ${what} from the PostgreSQL catalog failed: ${describeError(error)}${state ? ` (SQLSTATE ${state})` : ''}`, { cause: error, metadata });
  }
}
