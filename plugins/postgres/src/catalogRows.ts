/**
 * The rows of discovery's catalog queries (see catalogSql.ts) and their mapping to core's
 * entities.
 */
import type { CheckConstraintEntity, ColumnEntity, ForeignKeyEntity, IndexEntity, RelationEntity, RelationKind, TriggerEntity } from '@sourced/core';
import { INDOPTION_DESC, INDOPTION_NULLS_FIRST } from './catalogIndexes';

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
  /** Materialized views: whether REFRESH has filled it; null for other kinds. */
  populated: boolean | null;
  /** pg_class.relhastriggers: the relation has (or had) triggers. */
  has_triggers: boolean;
  /** The extension the relation belongs to (pg_depend deptype 'e'), and its installed version. */
  extension: string | null;
  extension_version: string | null;
}

/**
 * One relation's columns: {@link ColumnTuple}s as JSON text, and its column comments as JSON
 * `[[attnum, text], ...]` (null when it has none).
 */
export interface ColumnRow {
  relid: string;
  columns: string;
  comments: string | null;
}

/**
 * A column as {@link COLUMNS_SQL} encodes it: attnum, name, type, base type (null when the
 * same), nullable, default (a generated column's expression), comment (null from the server:
 * filled in from {@link ColumnRow.comments}), is_array, domain, enum
 * labels, identity, generated, type oid, collation oid (the last two name no field: index
 * definitions are built from them, catalogIndexes.ts).
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
  number,
  number,
];

export interface ConstraintRow {
  relid: string;
  name: string;
  type: 'p' | 'u' | 'f' | 'c' | 'x';
  /** Attribute numbers of the key (or check's) columns. */
  keys: number[];
  /** The index a key or exclusion constraint owns; 0 for the others. */
  index_oid: string;
  ref_schema: string | null;
  ref_table: string | null;
  ref_columns: string[] | null;
  on_update: string;
  on_delete: string;
  /** A check's expression. */
  expression: string | null;
  validated: boolean;
  no_inherit: boolean;
}

export interface TriggerRow {
  relid: string;
  name: string;
  type: number;
  enabled: string;
  function_schema: string;
  function_name: string;
  definition: string;
  /** Attribute numbers of `UPDATE OF` columns. */
  update_columns: number[];
  inherited: boolean;
}

export interface IndexRow {
  relid: string;
  oid: string;
  name: string;
  is_unique: boolean;
  is_primary: boolean;
  method: string;
  partitioned: boolean;
  predicate: string | null;
  /** The server's definition, when catalogIndexes.ts cannot build it. */
  definition: string | null;
  key_count: number;
  /** Attribute numbers of the keys (0 for an expression), then of the INCLUDE columns. */
  keys: number[];
  /** Per key: operator class, collation (0: none) and indoption bits. */
  opclasses: number[];
  collations: number[];
  options: number[];
  /** The access method orders its keys (amcanorder). */
  ordered: boolean;
  valid: boolean;
  comment: string | null;
  /** Per key: the expression, or null for a column; null when no key is an expression. */
  expressions: (string | null)[] | null;
  /** Per key of an index with expressions: the collation's name when not the key's default, else ''. */
  expression_collations: string[] | null;
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
    checkConstraints: [],
    triggers: [],
    estimatedRows: Math.round(r.estimated_rows),
  };
  if (r.owner !== null) relation.owner = r.owner;
  if (r.comment !== null) relation.comment = r.comment;
  if (r.view_definition !== null) relation.viewDefinition = r.view_definition;
  if (r.partition_of !== null) relation.partitionOf = r.partition_of;
  if (r.partition_bound !== null) relation.partitionBound = r.partition_bound;
  if (r.partition_key !== null) relation.partitionKey = r.partition_key;
  if (r.foreign_server !== null) relation.foreignServer = r.foreign_server;
  if (r.populated !== null) relation.populated = r.populated;
  if (r.extension !== null) {
    relation.extension = r.extension;
    if (r.extension_version !== null) relation.extensionVersion = r.extension_version;
  }
  return relation;
}

/** A column tuple as the entity, at its 1-based position among the relation's live columns. */
export function toColumn(
  [attnum, name, dataType, baseType, nullable, defaultValue, comment, isArray, domain, enumValues, identity, generated]: ColumnTuple,
  position: number,
): ColumnEntity {
  const column: ColumnEntity = { name, ordinal: position, dataType, baseType: baseType ?? dataType, nullable, isArray, attributeNumber: attnum };
  // A generated column's expression is kept in pg_attrdef like a default, but is not one.
  if (defaultValue !== null) {
    if (generated === 's') column.generationExpression = defaultValue;
    else column.defaultValue = defaultValue;
  }
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

export function toCheck(c: ConstraintRow, columns: string[]): CheckConstraintEntity {
  return { name: c.name, expression: c.expression ?? '', enforced: true, validated: c.validated, columns, noInherit: c.no_inherit };
}

/** pg_trigger.tgtype bits (trigger.h). */
const TG_ROW = 1;
const TG_BEFORE = 2;
const TG_INSERT = 4;
const TG_DELETE = 8;
const TG_UPDATE = 16;
const TG_TRUNCATE = 32;
const TG_INSTEAD = 64;

const ENABLED: Record<string, TriggerEntity['enabled']> = { O: 'ENABLED', D: 'DISABLED', R: 'REPLICA', A: 'ALWAYS' };

/** A trigger row as the entity: tgtype's bits decoded, the WHEN condition cut from the definition. */
export function toTrigger(t: TriggerRow, updateColumns: string[]): TriggerEntity {
  const events: TriggerEntity['events'] = [];
  if (t.type & TG_INSERT) events.push('INSERT');
  if (t.type & TG_UPDATE) events.push('UPDATE');
  if (t.type & TG_DELETE) events.push('DELETE');
  if (t.type & TG_TRUNCATE) events.push('TRUNCATE');
  return {
    name: t.name,
    timing: t.type & TG_INSTEAD ? 'INSTEAD OF' : t.type & TG_BEFORE ? 'BEFORE' : 'AFTER',
    events,
    level: t.type & TG_ROW ? 'ROW' : 'STATEMENT',
    enabled: ENABLED[t.enabled] ?? 'ENABLED',
    functionSchema: t.function_schema,
    functionName: t.function_name,
    condition: triggerCondition(t.definition),
    definition: t.definition,
    actionOrder: 0,
    updateColumns,
    inherited: t.inherited,
  };
}

/**
 * The WHEN condition of a trigger, from its definition (as information_schema.triggers does: the
 * catalog keeps it as a node tree that pg_get_expr cannot print, its variables being OLD and
 * NEW), without the parentheses around it; undefined when there is none.
 */
export function triggerCondition(definition: string): string | undefined {
  const when = / FOR EACH (?:ROW|STATEMENT) WHEN \(/.exec(definition);
  if (!when) return undefined;
  const start = when.index + when[0].length;
  const end = definition.lastIndexOf(') EXECUTE ');
  return end > start ? definition.slice(start, end) : undefined;
}

/** What an index row becomes once its keys are named and its definition known. */
export interface IndexParts {
  columns: string[];
  include: string[];
  definition: string;
  collations?: string[];
  operatorClasses?: string[];
  constraintName?: string;
}

/** Sort and nulls orders of an index whose `n` keys are all ASC NULLS LAST, frozen and shared. */
const ASCENDING: (readonly [('ASC' | 'DESC')[], ('NULLS FIRST' | 'NULLS LAST')[]])[] = [];
function ascendingOrders(n: number): readonly [('ASC' | 'DESC')[], ('NULLS FIRST' | 'NULLS LAST')[]] {
  return (ASCENDING[n] ??= [
    Object.freeze(new Array<'ASC' | 'DESC'>(n).fill('ASC')) as ('ASC' | 'DESC')[],
    Object.freeze(new Array<'NULLS FIRST' | 'NULLS LAST'>(n).fill('NULLS LAST')) as ('NULLS FIRST' | 'NULLS LAST')[],
  ]);
}

export function toIndex(i: IndexRow, parts: IndexParts): IndexEntity {
  const index: IndexEntity = {
    name: i.name,
    columns: parts.columns,
    unique: i.is_unique,
    primary: i.is_primary,
    method: i.method,
    definition: parts.definition,
    valid: i.valid,
  };
  if (i.predicate !== null) index.predicate = i.predicate;
  if (parts.include.length > 0) index.includeColumns = parts.include;
  if (i.ordered) {
    let plain = true;
    for (let k = 0; k < i.key_count; k++) if (i.options[k] !== 0) plain = false;
    if (plain) {
      // The common case (every key ASC NULLS LAST) shares its lists: one pair per key count.
      [index.sortOrders, index.nullsOrders] = ascendingOrders(i.key_count);
    } else {
      const options = i.options.slice(0, i.key_count);
      index.sortOrders = options.map((o) => (o & INDOPTION_DESC ? 'DESC' : 'ASC'));
      index.nullsOrders = options.map((o) => (o & INDOPTION_NULLS_FIRST ? 'NULLS FIRST' : 'NULLS LAST'));
    }
  }
  if (parts.collations) index.collations = parts.collations;
  if (parts.operatorClasses) index.operatorClasses = parts.operatorClasses;
  if (i.comment !== null) index.comment = i.comment;
  if (parts.constraintName !== undefined) index.constraintName = parts.constraintName;
  return index;
}
