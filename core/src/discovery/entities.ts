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
  /** `ALWAYS`/`BY DEFAULT` identity, or `STORED`/`VIRTUAL` generated column. */
  generated?: string;
  /** The expression of a generated column. */
  generationExpression?: string;
  /** Character set of a text column (MySQL). */
  charset?: string;
  /** Collation of a text column. */
  collation?: string;
  /** Extra attributes as the database reports them (`auto_increment`, `on update current_timestamp()`). */
  extra?: string;
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
  /** Prefix length of each key, aligned with `columns`; 0 means the whole value (MySQL). */
  prefixLengths?: number[];
  /** Hidden from the optimizer (MySQL invisible, MariaDB ignored). */
  invisible?: boolean;
}

/** A partition of a MySQL table. */
export interface PartitionEntity {
  name: string;
  /** `RANGE`, `LIST`, `HASH`, `KEY`, with sub-partitioning `RANGE/HASH`. */
  method: string;
  expression: string;
  /** The bound, for example `2024` for VALUES LESS THAN (2024). */
  description: string;
  estimatedRows: number;
  ordinal: number;
}

/** The kind of a relation. */
export type RelationKind = 'TABLE' | 'PARTITIONED_TABLE' | 'FOREIGN_TABLE' | 'VIEW' | 'MATERIALIZED_VIEW';

/** A table-like object with everything that belongs to it. */
export interface RelationEntity {
  entity: 'relation';
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
  /** Storage engine (MySQL). */
  engine?: string;
  /** Default collation of the table (MySQL). */
  collation?: string;
  /** RFC 3339, when the database records it. */
  createdAt?: string;
  /** RFC 3339, when the database records it. */
  updatedAt?: string;
  /** Partitions of a MySQL table, in order. */
  partitions?: PartitionEntity[];
}

/** The kind of a MongoDB collection. */
export type CollectionKind = 'COLLECTION' | 'VIEW' | 'TIMESERIES';

/** An index of a collection. */
export interface CollectionIndexEntity {
  name: string;
  /** The key document as relaxed Extended JSON, for example `{"email":1}`. */
  keys: string;
  unique: boolean;
  sparse: boolean;
  /** TTL in seconds; 0 when not a TTL index. */
  expireAfterSeconds: number;
  /** Partial filter expression as JSON. */
  partialFilter?: string;
  hidden: boolean;
}

/** How often one BSON type was seen at a field path. */
export interface FieldTypeCount {
  type: string;
  count: number;
}

/** A field path found by schema inference. */
export interface InferredField {
  /** Dotted path; array elements add `[]` (`tags[]`, `items[].sku`). */
  path: string;
  /** Types seen, most frequent first. */
  types: FieldTypeCount[];
  /** Sampled documents that hold the path. */
  documents: number;
  /** documents / sampled documents. */
  frequency: number;
}

/** The schema inferred from a sample of documents. */
export interface InferredSchema {
  sampledDocuments: number;
  fields: InferredField[];
  /** True when the field cap cut the list short. */
  truncated: boolean;
}

/**
 * A MongoDB collection, view or time-series collection. `schema` holds the database name,
 * so collections share the relations' deterministic (schema, name) order and cursor.
 */
export interface CollectionEntity {
  entity: 'collection';
  /** The database. */
  schema: string;
  name: string;
  kind: CollectionKind;
  viewOn?: string;
  /** A view's pipeline as a JSON array. */
  pipeline?: string;
  /** Time-series options as JSON. */
  timeseries?: string;
  indexes: CollectionIndexEntity[];
  /** -1 when unknown (views). */
  estimatedDocuments: number;
  schemaInference?: InferredSchema;
  capped: boolean;
}

/** What a batch of discovery carries: relations (SQL) or collections (MongoDB). */
export type CatalogEntity = RelationEntity | CollectionEntity;

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
