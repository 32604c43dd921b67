/**
 * The catalog reads of discovery: SQL and the mapping of its rows to core's entities.
 *
 * Everything is set-based: one query for the schemas, and per batch of relations one
 * keyset query for the relations plus one each for their columns, constraints and indexes
 * (`oid = ANY($1)`), whatever the batch size. Names and filters travel only as bind
 * parameters. Needs PostgreSQL 12 or later (attgenerated, pg_partition_tree).
 */
import {
  AbortedError,
  SourcedError,
  UnavailableError,
  describeError,
  type ColumnEntity,
  type CompiledFilter,
  type ForeignKeyEntity,
  type IndexEntity,
  type KeyConstraintEntity,
  type RelationEntity,
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
 * exclude patterns (anchored regular expressions from core's compiled filter).
 */
const SCHEMA_FILTER_SQL = `($1::boolean OR ${USER_SCHEMA_SQL})
  AND (cardinality($2::text[]) = 0 OR n.nspname ~ ANY ($2::text[]))
  AND NOT (n.nspname ~ ANY ($3::text[]))`;

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
 * One page of relations in (schema, name) order under "C" collation, which is the byte
 * order core's cursor uses. Binds $1-$3 as {@link SCHEMA_FILTER_SQL}, $4/$5 include/exclude
 * patterns over `schema.name`, $6/$7 the key to start after (null from the start), $8 the limit.
 * The page is chosen in a subquery first, so that the costly per-relation functions
 * (pg_get_viewdef locks the view) run for the rows of the page only, not for every
 * relation after the cursor that the sort sees.
 */
const RELATIONS_SQL = `
SELECT c.oid::int8 AS oid,
       p.schema,
       p.name,
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
       fs.srvname::text AS foreign_server
FROM (
  SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm')
    AND ${SCHEMA_FILTER_SQL}
    AND has_schema_privilege(n.oid, 'USAGE')
    AND (cardinality($4::text[]) = 0 OR (n.nspname || '.' || c.relname) ~ ANY ($4::text[]))
    AND NOT ((n.nspname || '.' || c.relname) ~ ANY ($5::text[]))
    AND ($6::text IS NULL OR (n.nspname::text COLLATE "C", c.relname::text COLLATE "C") > ($6::text COLLATE "C", $7::text COLLATE "C"))
  ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"
  LIMIT $8
) p
JOIN pg_class c ON c.oid = p.oid
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
ORDER BY p.schema COLLATE "C", p.name COLLATE "C"`;

/**
 * Columns of the relations $1. `is_array` uses typcategory 'A', not typelem alone: some
 * scalar types (name, point) have a typelem too. The element type (arrays) or base type
 * (domains) also decides where enum labels come from.
 */
const COLUMNS_SQL = `
SELECT a.attrelid::int8 AS relid,
       a.attnum::int AS ordinal,
       a.attname::text AS name,
       format_type(a.atttypid, a.atttypmod) AS data_type,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod)
            WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN format_type(t.typelem, a.atttypmod)
            ELSE format_type(a.atttypid, a.atttypmod) END AS base_type,
       NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS default_value,
       col_description(a.attrelid, a.attnum) AS comment,
       t.typcategory = 'A' AS is_array,
       CASE WHEN t.typtype = 'd' THEN format_type(t.oid, NULL) END AS domain,
       CASE WHEN et.typtype = 'e' THEN (
         SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = et.oid) END AS enum_values,
       a.attidentity::text AS identity,
       a.attgenerated::text AS generated
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type et ON et.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype
                                      WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem
                                      ELSE t.oid END
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`;

/**
 * Primary keys, unique constraints and foreign keys of the relations $1, columns in key
 * order. A foreign key that references a partitioned table also has one clone per
 * partition on the same table (conparentid pointing to it); those are left out.
 */
const CONSTRAINTS_SQL = `
SELECT con.conrelid::int8 AS relid,
       con.conname::text AS name,
       con.contype::text AS type,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS columns,
       rn.nspname::text AS ref_schema,
       rc.relname::text AS ref_table,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS ref_columns,
       con.confupdtype::text AS on_update,
       con.confdeltype::text AS on_delete
FROM pg_constraint con
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.conrelid = ANY ($1::oid[])
  AND con.contype IN ('p', 'u', 'f')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint parent WHERE parent.oid = con.conparentid AND parent.conrelid = con.conrelid)
ORDER BY con.conrelid, con.conname COLLATE "C"`;

/**
 * Indexes of the relations $1. A key column is reported by its name (as in `columns` and
 * constraints, unquoted); an expression by `pg_get_indexdef(index, k, true)`. INCLUDE
 * columns are not keys and are left out (indnkeyatts).
 */
const INDEXES_SQL = `
SELECT i.indrelid::int8 AS relid,
       ic.relname::text AS name,
       i.indisunique AS is_unique,
       i.indisprimary AS is_primary,
       am.amname::text AS method,
       pg_get_expr(i.indpred, i.indrelid) AS predicate,
       pg_get_indexdef(i.indexrelid) AS definition,
       ARRAY(SELECT CASE WHEN i.indkey[k - 1] = 0 THEN pg_get_indexdef(i.indexrelid, k, true)
                         ELSE (SELECT a.attname::text FROM pg_attribute a
                               WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1]) END
             FROM generate_series(1, i.indnkeyatts) AS k
             ORDER BY k) AS columns
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
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

interface ColumnRow {
  relid: string;
  ordinal: number;
  name: string;
  data_type: string;
  base_type: string;
  nullable: boolean;
  default_value: string | null;
  comment: string | null;
  is_array: boolean;
  domain: string | null;
  enum_values: string[] | null;
  identity: string;
  generated: string;
}

interface ConstraintRow {
  relid: string;
  name: string;
  type: 'p' | 'u' | 'f';
  columns: string[];
  ref_schema: string | null;
  ref_table: string | null;
  ref_columns: string[];
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
  columns: string[];
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
    query<SchemaRow>(client, SCHEMAS_SQL, [filter.includeSystemSchemas, filter.includeSchemas, filter.excludeSchemas], signal),
  );
  return rows.map((r) => ({ name: r.name, owner: r.owner ?? undefined, comment: r.comment ?? undefined, usable: r.usable }));
}

/**
 * One page of relations, each with its columns, keys and indexes: four queries whatever
 * the page size (one when the page is empty). Relations come in the keyset query's order.
 */
export async function readRelations(client: Client, page: RelationPage, signal: AbortSignal): Promise<RelationEntity[]> {
  const { filter, after } = page;
  const relations = await read('relations', () =>
    query<RelationRow>(
      client,
      RELATIONS_SQL,
      [
        filter.includeSystemSchemas,
        filter.includeSchemas,
        filter.excludeSchemas,
        filter.includeTables,
        filter.excludeTables,
        after?.schema ?? null,
        after?.name ?? null,
        page.limit,
      ],
      signal,
    ),
  );
  if (relations.length === 0) return [];

  const byOid = new Map<string, RelationEntity>();
  for (const r of relations) byOid.set(r.oid, toRelation(r));
  const oids = [...byOid.keys()];

  const columns = await read('columns', () => query<ColumnRow>(client, COLUMNS_SQL, [oids], signal));
  for (const c of columns) byOid.get(c.relid)?.columns.push(toColumn(c));

  const constraints = await read('constraints', () => query<ConstraintRow>(client, CONSTRAINTS_SQL, [oids], signal));
  for (const c of constraints) {
    const relation = byOid.get(c.relid);
    if (!relation) continue;
    if (c.type === 'p') relation.primaryKey = toKey(c);
    else if (c.type === 'u') relation.uniqueConstraints.push(toKey(c));
    else relation.foreignKeys.push(toForeignKey(c));
  }

  const indexes = await read('indexes', () => query<IndexRow>(client, INDEXES_SQL, [oids], signal));
  for (const i of indexes) byOid.get(i.relid)?.indexes.push(toIndex(i));

  return [...byOid.values()];
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

function toColumn(c: ColumnRow): ColumnEntity {
  const column: ColumnEntity = {
    name: c.name,
    ordinal: c.ordinal,
    dataType: c.data_type,
    baseType: c.base_type,
    nullable: c.nullable,
    isArray: c.is_array,
  };
  if (c.default_value !== null) column.defaultValue = c.default_value;
  if (c.comment !== null) column.comment = c.comment;
  if (c.enum_values !== null) column.enumValues = c.enum_values;
  if (c.domain !== null) column.domain = c.domain;
  const generated = GENERATED[c.identity] ?? GENERATED[c.generated];
  if (generated) column.generated = generated;
  return column;
}

function toKey(c: ConstraintRow): KeyConstraintEntity {
  return { name: c.name, columns: c.columns };
}

function toForeignKey(c: ConstraintRow): ForeignKeyEntity {
  return {
    name: c.name,
    columns: c.columns,
    referencedSchema: c.ref_schema ?? '',
    referencedTable: c.ref_table ?? '',
    referencedColumns: c.ref_columns,
    onUpdate: FK_ACTIONS[c.on_update] ?? 'NO ACTION',
    onDelete: FK_ACTIONS[c.on_delete] ?? 'NO ACTION',
  };
}

function toIndex(i: IndexRow): IndexEntity {
  const index: IndexEntity = {
    name: i.name,
    columns: i.columns,
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
