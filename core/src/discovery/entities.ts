/** Catalog entities as connectors produce them and the daemon streams them. */
import type { CheckConstraintEntity, SchemaObjects, TriggerEntity } from './catalogObjects';

export type * from './catalogObjects';

/**
 * A schema (a database, for MySQL). Its schema-level objects ({@link SchemaObjects}) are there
 * only when `listSchemas` was asked for them.
 */
export interface SchemaEntity extends SchemaObjects {
  /** The schema's name (the database's, for MySQL). */
  name: string;
  /** The owning role; undefined where the database records none (MySQL). */
  owner?: string;
  /** The schema's comment; undefined when it has none. */
  comment?: string;
  /** Whether the connecting user may use it. */
  usable: boolean;
}

/** A column of a relation. */
export interface ColumnEntity {
  /** The column's name. */
  name: string;
  /** From 1. */
  ordinal: number;
  /** The type as the database prints it, for example `character varying(40)`, `integer[]`. */
  dataType: string;
  /** The base type: for arrays the element type, for domains the domain's base type. */
  baseType: string;
  /** Whether the column accepts NULL. */
  nullable: boolean;
  /** The default expression as the database prints it; undefined when there is none. */
  defaultValue?: string;
  /** The column's comment; undefined when it has none. */
  comment?: string;
  /** Whether the column holds arrays (PostgreSQL); `baseType` is then the element type. */
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
  /** The engine's own column number (PostgreSQL attnum, with gaps after dropped columns); undefined where there is none. */
  attributeNumber?: number;
  /** The type the server stores when it differs from `dataType` (MariaDB JSON: `longtext`); undefined when the same. */
  storedType?: string;
}

/** A primary key or unique constraint. */
export interface KeyConstraintEntity {
  /** The constraint's name. */
  name: string;
  /** Its columns, in key order. */
  columns: string[];
}

/** A foreign key. */
export interface ForeignKeyEntity {
  /** The constraint's name. */
  name: string;
  /** The referencing columns, in key order. */
  columns: string[];
  /** The schema of the referenced table. */
  referencedSchema: string;
  /** The referenced table. */
  referencedTable: string;
  /** The referenced columns, aligned with `columns`. */
  referencedColumns: string[];
  /** The referential action on update: `NO ACTION`, `RESTRICT`, `CASCADE`, `SET NULL` or `SET DEFAULT`. */
  onUpdate: string;
  /** The referential action on delete, in the same words as `onUpdate`. */
  onDelete: string;
}

/** An index. */
export interface IndexEntity {
  /** The index's name. */
  name: string;
  /** Column names or expressions, in key order. */
  columns: string[];
  /** Whether the index enforces uniqueness. */
  unique: boolean;
  /** Whether it is the primary key's index. */
  primary: boolean;
  /** The access method as the database names it: `btree`, `gin` (PostgreSQL), `BTREE`, `FULLTEXT` (MySQL). */
  method: string;
  /** The WHERE condition of a partial index; undefined for a full one. */
  predicate?: string;
  /** The index as DDL: `CREATE INDEX ...` (PostgreSQL), or the `KEY ...` clause SHOW CREATE TABLE prints (MySQL). */
  definition: string;
  /** Prefix length of each key, aligned with `columns`; 0 means the whole value (MySQL). */
  prefixLengths?: number[];
  /** Hidden from the optimizer (MySQL invisible, MariaDB ignored). */
  invisible?: boolean;
  /** Non-key (INCLUDE) columns, in order. */
  includeColumns?: string[];
  /** `ASC` or `DESC` per key, aligned with `columns`; undefined when the method has no order or the engine does not say. */
  sortOrders?: ('ASC' | 'DESC')[];
  /** `NULLS FIRST` or `NULLS LAST` per key, aligned with `columns`. */
  nullsOrders?: ('NULLS FIRST' | 'NULLS LAST')[];
  /** Per key: the collation when not the default, `''` otherwise; undefined when no key has one. */
  collations?: string[];
  /** Per key: the operator class when not the default, `''` otherwise; undefined when no key has one. */
  operatorClasses?: string[];
  /** The index's comment; undefined when none. */
  comment?: string;
  /** False for an index that cannot be used (PostgreSQL indisvalid); undefined when the engine does not say. */
  valid?: boolean;
  /** The constraint this index implements (primary key, unique, exclusion); undefined when none. */
  constraintName?: string;
}

/** A partition of a MySQL table. */
export interface PartitionEntity {
  /** The partition's name. */
  name: string;
  /** `RANGE`, `LIST`, `HASH`, `KEY`, with sub-partitioning `RANGE/HASH`. */
  method: string;
  /** The partitioning expression or column list; with sub-partitioning `expression/subexpression`. */
  expression: string;
  /** The bound, for example `2024` for VALUES LESS THAN (2024). */
  description: string;
  /** Rows in the partition by the table statistics (an estimate). */
  estimatedRows: number;
  /** Position among the table's partitions, from 1. */
  ordinal: number;
}

/** The kind of a relation. */
export type RelationKind = 'TABLE' | 'PARTITIONED_TABLE' | 'FOREIGN_TABLE' | 'VIEW' | 'MATERIALIZED_VIEW';

/** A table-like object with everything that belongs to it. */
export interface RelationEntity {
  /** Tells a relation from a collection in a {@link CatalogEntity}. */
  entity: 'relation';
  /** The schema (the database, for MySQL). */
  schema: string;
  /** The relation's name. */
  name: string;
  /** Table, partitioned table, foreign table, view or materialized view. */
  kind: RelationKind;
  /** The owning role; undefined where the database records none (MySQL). */
  owner?: string;
  /** The relation's comment; undefined when it has none. */
  comment?: string;
  /** Its columns, in ordinal order. */
  columns: ColumnEntity[];
  /** The primary key; undefined when there is none. */
  primaryKey?: KeyConstraintEntity;
  /** Unique constraints, the primary key not among them. */
  uniqueConstraints: KeyConstraintEntity[];
  /** The foreign keys it declares. */
  foreignKeys: ForeignKeyEntity[];
  /** Its indexes, the primary key's included. */
  indexes: IndexEntity[];
  /** From statistics; -1 when never analyzed. */
  estimatedRows: number;
  /** The query of a view or materialized view; undefined for tables. */
  viewDefinition?: string;
  /** `schema.table` of the parent, for a partition. */
  partitionOf?: string;
  /** The bound of a partition (PostgreSQL `FOR VALUES FROM (...) TO (...)`); undefined unless a partition. */
  partitionBound?: string;
  /** The partition key of a partitioned table (PostgreSQL `RANGE (created_at)`). */
  partitionKey?: string;
  /** The foreign server of a foreign table. */
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
  /** CHECK constraints, in name order. */
  checkConstraints?: CheckConstraintEntity[];
  /** Triggers, in name order. */
  triggers?: TriggerEntity[];
  /** A materialized view's: whether it holds data; undefined for other kinds or when unknown. */
  populated?: boolean;
  /** MySQL/MariaDB AUTO_INCREMENT (the next value), decimal text; may lag (information_schema caches it). */
  autoIncrement?: string;
  /**
   * The extension it belongs to (PostgreSQL: pg_depend deptype `e`, for example `postgis` for
   * spatial_ref_sys); undefined for the schema's own relations.
   */
  extension?: string;
  /** The installed version of {@link RelationEntity.extension} (pg_extension.extversion); undefined when not an extension's. */
  extensionVersion?: string;
}

/** The kind of a MongoDB collection. */
export type CollectionKind = 'COLLECTION' | 'VIEW' | 'TIMESERIES';

/** An index of a collection. */
export interface CollectionIndexEntity {
  /** The index's name. */
  name: string;
  /** The key document as relaxed Extended JSON, for example `{"email":1}`. */
  keys: string;
  /** Whether the index enforces uniqueness. */
  unique: boolean;
  /** Whether the index skips documents that lack the indexed fields. */
  sparse: boolean;
  /** TTL in seconds; 0 when not a TTL index. */
  expireAfterSeconds: number;
  /** Partial filter expression as JSON. */
  partialFilter?: string;
  /** Whether the index is hidden from the query planner. */
  hidden: boolean;
  /** Text index: field weights as JSON. */
  weights?: string;
  /** Text index: default_language. */
  defaultLanguage?: string;
  /** Text index: language_override. */
  languageOverride?: string;
  /** Text index: textIndexVersion. */
  textIndexVersion?: number;
  /** Wildcard index: wildcardProjection as JSON. */
  wildcardProjection?: string;
  /** 2dsphere index: 2dsphereIndexVersion. */
  sphereIndexVersion?: number;
  /** Collation as JSON; undefined for simple binary comparison. */
  collation?: string;
  /** Every option listIndexes reports (without key, name, v), as relaxed Extended JSON. */
  options?: string;
}

/** How often one BSON type was seen at a field path. */
export interface FieldTypeCount {
  /** The type's name, for example `string`, `int`, `objectId` (MongoDB `$type` names). */
  type: string;
  /** Values of that type seen at the path. */
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
  /** Documents in the sample. */
  sampledDocuments: number;
  /** Field paths, in order of first appearance (a parent before its children). */
  fields: InferredField[];
  /** True when the field cap cut the list short. */
  truncated: boolean;
}

/**
 * A MongoDB collection, view or time-series collection. `schema` holds the database name,
 * so collections share the relations' deterministic (schema, name) order and cursor.
 */
export interface CollectionEntity {
  /** Tells a collection from a relation in a {@link CatalogEntity}. */
  entity: 'collection';
  /** The database. */
  schema: string;
  /** The collection's name. */
  name: string;
  /** Collection, view or time-series collection. */
  kind: CollectionKind;
  /** The collection or view a view reads from; undefined unless a view. */
  viewOn?: string;
  /** A view's pipeline as a JSON array. */
  pipeline?: string;
  /** Time-series options as JSON. */
  timeseries?: string;
  /** Its indexes (none for a view). */
  indexes: CollectionIndexEntity[];
  /** -1 when unknown (views). */
  estimatedDocuments: number;
  /** The schema inferred from sampled documents; undefined when sampling failed, timed out or was not allowed. */
  schemaInference?: InferredSchema;
  /** Whether it is a capped collection. */
  capped: boolean;
  /** The validator document as relaxed Extended JSON; undefined when none. */
  validator?: string;
  /** `off`, `strict` or `moderate`; undefined when not set. */
  validationLevel?: string;
  /** `error` or `warn`; undefined when not set. */
  validationAction?: string;
  /** Whether it is a clustered collection. */
  clustered?: boolean;
  /** Every option listCollections reports, as relaxed Extended JSON. */
  options?: string;
}

/** What a batch of discovery carries: relations (SQL) or collections (MongoDB). */
export type CatalogEntity = RelationEntity | CollectionEntity;

/** The position of a relation in the deterministic discovery order. */
export interface RelationKey {
  /** The relation's schema. */
  schema: string;
  /** The relation's name. */
  name: string;
}

/**
 * Compares relation keys in discovery order: by schema then name, by UTF-8 bytes (the
 * order of PostgreSQL's "C" collation), so that every connector and the engine agree.
 */
export function compareRelationKeys(a: RelationKey, b: RelationKey): number {
  return Buffer.compare(Buffer.from(a.schema), Buffer.from(b.schema)) || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
}
