/**
 * The rows of discovery's catalog queries (see catalogSql.ts) and their mapping to core's
 * entities.
 */
import type { ColumnEntity, ForeignKeyEntity, IndexEntity, RelationEntity, RelationKind } from '@sourced/core';

export interface SchemaRow {
  name: string;
  owner: string | null;
  comment: string | null;
  usable: boolean;
}

export interface RelationRow {
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
export interface ColumnRow {
  relid: string;
  columns: string;
}

/**
 * A column as {@link COLUMNS_SQL} encodes it: attnum, name, type, base type (null when the
 * same), nullable, default, comment, is_array, domain, enum labels, identity, generated.
 */
export type ColumnTuple = [
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

export interface ConstraintRow {
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

export interface IndexRow {
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

export interface KeyRow {
  oid: string;
  schema: string;
  name: string;
}

export function toRelation(r: RelationRow): RelationEntity {
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

export function toColumn([
  ordinal,
  name,
  dataType,
  baseType,
  nullable,
  defaultValue,
  comment,
  isArray,
  domain,
  enumValues,
  identity,
  generated,
]: ColumnTuple): ColumnEntity {
  const column: ColumnEntity = { name, ordinal, dataType, baseType: baseType ?? dataType, nullable, isArray };
  if (defaultValue !== null) column.defaultValue = defaultValue;
  if (comment !== null) column.comment = comment;
  if (enumValues !== null) column.enumValues = enumValues;
  if (domain !== null) column.domain = domain;
  const kind = GENERATED[identity] ?? GENERATED[generated];
  if (kind) column.generated = kind;
  return column;
}

export function toForeignKey(c: ConstraintRow, columns: string[]): ForeignKeyEntity {
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

export function toIndex(i: IndexRow, columns: string[]): IndexEntity {
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
