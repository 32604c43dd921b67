/**
 * Catalog objects beyond tables and columns (issue 19): checks and triggers (they come with their
 * relation), sequences, routines and user-defined types (they come with their schema). Each
 * mirrors a message of proto/sourced/v1/discovery.proto; see its comments for what every value
 * means per engine. Numbers a bigint can hold are decimal text, so they arrive exactly.
 */

/** A CHECK constraint of a table or a domain. */
export interface CheckConstraintEntity {
  /** The constraint's name. */
  name: string;
  /** The boolean expression as the database prints it, without the CHECK keyword. */
  expression: string;
  /** Whether the server enforces it (false for MySQL 8 NOT ENFORCED). */
  enforced: boolean;
  /** Whether existing rows were checked (false for PostgreSQL NOT VALID). */
  validated: boolean;
  /** The columns it references, in attribute order; empty when the engine does not say. */
  columns: string[];
  /** PostgreSQL NO INHERIT. */
  noInherit?: boolean;
}

/** When a trigger fires. */
export type TriggerTiming = 'BEFORE' | 'AFTER' | 'INSTEAD OF';
/** What fires a trigger. */
export type TriggerEvent = 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';

/** A trigger of a table or view. */
export interface TriggerEntity {
  /** The trigger's name. */
  name: string;
  /** `BEFORE`, `AFTER` or `INSTEAD OF`. */
  timing: TriggerTiming;
  /** The events that fire it, in the order INSERT, UPDATE, DELETE, TRUNCATE. */
  events: TriggerEvent[];
  /** `ROW` or `STATEMENT`. */
  level: 'ROW' | 'STATEMENT';
  /** `ENABLED`, `DISABLED`, `REPLICA` or `ALWAYS` (PostgreSQL tgenabled O, D, R, A). */
  enabled: 'ENABLED' | 'DISABLED' | 'REPLICA' | 'ALWAYS';
  /** Schema of the function it calls (PostgreSQL); undefined when the body is inline (MySQL). */
  functionSchema?: string;
  /** Name of the function it calls (PostgreSQL); undefined when the body is inline. */
  functionName?: string;
  /** Its WHEN condition (PostgreSQL); undefined when none. */
  condition?: string;
  /** PostgreSQL: the CREATE TRIGGER statement; MySQL/MariaDB: the body (ACTION_STATEMENT). */
  definition: string;
  /** MySQL/MariaDB ACTION_ORDER, from 1; 0 in PostgreSQL (triggers fire in name order). */
  actionOrder: number;
  /** The columns of an UPDATE OF trigger; empty otherwise. */
  updateColumns: string[];
  /** A clone of the parent partitioned table's trigger (PostgreSQL 13+). */
  inherited?: boolean;
  /**
   * MySQL/MariaDB: the DEFINER (`user@host`), whose privileges the body runs with. Undefined in
   * PostgreSQL, where a trigger has no definer: its function runs as the user whose statement
   * fires it, or as the function's owner when it is SECURITY DEFINER (see that routine's
   * `owner` and `securityDefiner`).
   */
  definer?: string;
}

/** A sequence (schema-level). */
export interface SequenceEntity {
  /** The schema. */
  schema: string;
  /** The sequence's name. */
  name: string;
  /** The value type, for example `bigint`. */
  dataType: string;
  /** START WITH, decimal text. */
  start: string;
  /** INCREMENT BY, decimal text. */
  increment: string;
  /** MINVALUE, decimal text. */
  minValue: string;
  /** MAXVALUE, decimal text. */
  maxValue: string;
  /** Whether it wraps around. */
  cycle: boolean;
  /** CACHE size, decimal text. */
  cache: string;
  /** Schema of the owning column's table; undefined when no column owns it. */
  ownedBySchema?: string;
  /** Table of the owning column; undefined when no column owns it. */
  ownedByTable?: string;
  /** The owning column; undefined when no column owns it. */
  ownedByColumn?: string;
  /** Whether it is an identity column's sequence. */
  identity: boolean;
  /** The last value handed out, decimal text; undefined when never used or not readable. */
  lastValue?: string;
  /** How `lastValue` was read, for example `pg_sequences.last_value`; undefined when not read. */
  lastValueSource?: string;
  /** The owning role (PostgreSQL). */
  owner?: string;
  /** The sequence's comment; undefined when none. */
  comment?: string;
  /**
   * The extension it belongs to (PostgreSQL: a member of an extension, pg_depend deptype `e`,
   * made by CREATE EXTENSION or ALTER EXTENSION ... ADD); undefined for the schema's own.
   */
  extension?: string;
  /** The installed version of {@link SequenceEntity.extension} (pg_extension.extversion); undefined when not an extension's. */
  extensionVersion?: string;
}

/** The mode of a routine's argument. */
export type ArgumentMode = 'IN' | 'OUT' | 'INOUT' | 'VARIADIC' | 'TABLE';

/** One argument of a routine. */
export interface RoutineArgumentEntity {
  /** The name; empty for an unnamed argument. */
  name: string;
  /** The type as the database prints it. */
  type: string;
  /** `IN`, `OUT`, `INOUT`, `VARIADIC` or `TABLE` (a column of RETURNS TABLE). */
  mode: ArgumentMode;
  /** The default expression; undefined when none. */
  defaultValue?: string;
}

/** The kind of a routine. */
export type RoutineKind = 'FUNCTION' | 'PROCEDURE' | 'AGGREGATE' | 'WINDOW';

/** A function or procedure (schema-level). */
export interface RoutineEntity {
  /** The schema. */
  schema: string;
  /** The routine's name (PostgreSQL overloads share it; `identityArguments` tells them apart). */
  name: string;
  /** `FUNCTION`, `PROCEDURE`, `AGGREGATE` or `WINDOW`. */
  kind: RoutineKind;
  /** Arguments in declaration order, OUT and TABLE ones included. */
  arguments: RoutineArgumentEntity[];
  /** The result type as the database prints it; undefined for a procedure. */
  returnType?: string;
  /** The language, for example `plpgsql`, `sql` (MySQL/MariaDB `SQL`). */
  language: string;
  /** `IMMUTABLE`, `STABLE` or `VOLATILE` (PostgreSQL); undefined where the engine has none. */
  volatility?: 'IMMUTABLE' | 'STABLE' | 'VOLATILE';
  /** The DETERMINISTIC characteristic (MySQL/MariaDB); undefined in PostgreSQL. */
  deterministic?: boolean;
  /** SECURITY DEFINER. */
  securityDefiner: boolean;
  /** The routine's comment; undefined when none. */
  comment?: string;
  /** The source; only when the request asked for bodies ({@link SchemaObjectsRequest}). */
  body?: string;
  /** The argument list that identifies it among overloads (PostgreSQL); undefined where names are unique. */
  identityArguments?: string;
  /** The owning role (PostgreSQL) or DEFINER (MySQL/MariaDB). */
  owner?: string;
  /**
   * The extension it belongs to (PostgreSQL: a member of an extension, pg_depend deptype `e`,
   * made by CREATE EXTENSION or ALTER EXTENSION ... ADD); undefined for the schema's own.
   */
  extension?: string;
  /** The installed version of {@link RoutineEntity.extension} (pg_extension.extversion); undefined when not an extension's. */
  extensionVersion?: string;
}

/** An attribute of a composite type. */
export interface TypeAttributeEntity {
  /** The attribute's name. */
  name: string;
  /** Its type as the database prints it. */
  type: string;
  /** Its collation when not the type's default; undefined otherwise. */
  collation?: string;
}

/** The kind of a user-defined type. */
export type UserTypeKind = 'ENUM' | 'DOMAIN' | 'COMPOSITE' | 'RANGE' | 'BASE';

/** A user-defined type (schema-level). */
export interface UserTypeEntity {
  /** The schema. */
  schema: string;
  /** The type's name. */
  name: string;
  /** `ENUM`, `DOMAIN`, `COMPOSITE`, `RANGE` or `BASE`. */
  kind: UserTypeKind;
  /** ENUM: labels in sort order. */
  labels?: string[];
  /** DOMAIN: the underlying type. */
  baseType?: string;
  /** DOMAIN: false for NOT NULL; true for the other kinds. */
  nullable: boolean;
  /** DOMAIN: the default expression; undefined when none. */
  defaultValue?: string;
  /** DOMAIN: its CHECK constraints, in name order. */
  checkConstraints?: CheckConstraintEntity[];
  /** COMPOSITE: its attributes in order. */
  attributes?: TypeAttributeEntity[];
  /** RANGE: the element type. */
  subtype?: string;
  /** The type's comment; undefined when none. */
  comment?: string;
  /** The owning role. */
  owner?: string;
  /** DOMAIN: its collation when not the base type's default. */
  collation?: string;
  /**
   * The extension it belongs to (PostgreSQL: a member of an extension, pg_depend deptype `e`,
   * made by CREATE EXTENSION or ALTER EXTENSION ... ADD); undefined for the schema's own.
   */
  extension?: string;
  /** The installed version of {@link UserTypeEntity.extension} (pg_extension.extversion); undefined when not an extension's. */
  extensionVersion?: string;
}

/** The schema-level objects of one schema (see {@link SchemaObjectsRequest}). */
export interface SchemaObjects {
  /** Sequences, in name order. */
  sequences?: SequenceEntity[];
  /** Routines, in (name, identity arguments) order. */
  routines?: RoutineEntity[];
  /** User-defined types, in name order. */
  types?: UserTypeEntity[];
}

/**
 * Asks `listSchemas` for the schema-level objects of the schemas it returns (sequences,
 * routines, user types). Without it a connector returns the schemas alone.
 */
export interface SchemaObjectsRequest {
  /** Also read each routine's source (`RoutineEntity.body`); false by default. */
  routineBodies: boolean;
  /**
   * Reads the strategy allows at once against the source (as `RelationPage.concurrency`):
   * when more than 1, `listSchemas` gets up to this many minus one further connections to
   * read the kinds of objects at once (the same connections the pages then use).
   */
  concurrency?: number;
}
