/** Catalog entities as connectors produce them and the daemon streams them. */

/** A schema (a database, for MySQL). */
export interface SchemaEntity {
  name: string;
  owner?: string;
  comment?: string;
  /** Whether the connecting user may use it. */
  usable: boolean;
}

/** A column of a relation. */
export interface ColumnEntity {
  name: string;
  /** From 1. */
  ordinal: number;
  /** The type as the database prints it, for example `character varying(40)`, `integer[]`. */
  dataType: string;
  /** The base type: for arrays the element type, for domains the domain's base type. */
  baseType: string;
  nullable: boolean;
  defaultValue?: string;
  comment?: string;
  isArray: boolean;
  /** Labels of an enum type, in order. */
  enumValues?: string[];
  /** The domain's name, when the column's type is a domain. */
  domain?: string;
  /** `ALWAYS`/`BY DEFAULT` identity, or `STORED` generated expression. */
  generated?: string;
}

/** A primary key or unique constraint. */
export interface KeyConstraintEntity {
  name: string;
  columns: string[];
}

/** A foreign key. */
export interface ForeignKeyEntity {
  name: string;
  columns: string[];
  referencedSchema: string;
  referencedTable: string;
  referencedColumns: string[];
  onUpdate: string;
  onDelete: string;
}

/** An index. */
export interface IndexEntity {
  name: string;
  /** Column names or expressions, in key order. */
  columns: string[];
  unique: boolean;
  primary: boolean;
  method: string;
  predicate?: string;
  definition: string;
}

/** The kind of a relation. */
export type RelationKind = 'TABLE' | 'PARTITIONED_TABLE' | 'FOREIGN_TABLE' | 'VIEW' | 'MATERIALIZED_VIEW';

/** A table-like object with everything that belongs to it. */
export interface RelationEntity {
  schema: string;
  name: string;
  kind: RelationKind;
  owner?: string;
  comment?: string;
  columns: ColumnEntity[];
  primaryKey?: KeyConstraintEntity;
  uniqueConstraints: KeyConstraintEntity[];
  foreignKeys: ForeignKeyEntity[];
  indexes: IndexEntity[];
  /** From statistics; -1 when never analyzed. */
  estimatedRows: number;
  viewDefinition?: string;
  /** `schema.table` of the parent, for a partition. */
  partitionOf?: string;
  partitionBound?: string;
  partitionKey?: string;
  foreignServer?: string;
}

/** The position of a relation in the deterministic discovery order. */
export interface RelationKey {
  schema: string;
  name: string;
}

/**
 * Compares relation keys in discovery order: by schema then name, by UTF-8 bytes (the
 * order of PostgreSQL's "C" collation), so that every connector and the engine agree.
 */
export function compareRelationKeys(a: RelationKey, b: RelationKey): number {
  return Buffer.compare(Buffer.from(a.schema), Buffer.from(b.schema)) || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
}
