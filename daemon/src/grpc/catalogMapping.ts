/**
 * Catalog entities (core) as the contract's messages: schemas with their sequences, routines and
 * types; relations with columns, keys, indexes, checks and triggers; collections. Absent optional
 * texts become the proto's empty string; optional booleans and texts the proto marks `optional`
 * stay absent, so "unknown" differs from false or "".
 */
import type {
  CheckConstraintEntity,
  CollectionEntity,
  CollectionIndexEntity,
  ColumnEntity,
  IndexEntity,
  RelationEntity,
  RoutineEntity,
  SchemaEntity,
  SequenceEntity,
  TriggerEntity,
  UserTypeEntity,
} from '@sourced/core';
import {
  CollectionKind,
  RelationKind,
  type CheckConstraint,
  type Collection,
  type CollectionIndex,
  type Column,
  type Index,
  type Relation,
  type Routine,
  type Schema,
  type Sequence,
  type Trigger,
  type UserType,
} from '@sourced/api';
import { ENTITY_COLUMNS, type WireRelation } from './discoveryEncoding';
import { toTimestamp } from './mappingCommon';

/**
 * The empty list every absent repeated field shares: a discovery maps hundreds of thousands of
 * columns and indexes, most with empty lists (issue 18). Frozen: the encoder only reads it.
 */
const NONE: never[] = Object.freeze([]) as unknown as never[];

/** A schema with its schema-level objects (empty lists when the connector read none). */
export function toSchema(s: SchemaEntity): Schema {
  return {
    name: s.name,
    owner: s.owner ?? '',
    comment: s.comment ?? '',
    usable: s.usable,
    sequences: (s.sequences ?? NONE).map(toSequence),
    routines: (s.routines ?? NONE).map(toRoutine),
    types: (s.types ?? NONE).map(toUserType),
  };
}

function toSequence(q: SequenceEntity): Sequence {
  return {
    schema: q.schema,
    name: q.name,
    dataType: q.dataType,
    start: q.start,
    increment: q.increment,
    minValue: q.minValue,
    maxValue: q.maxValue,
    cycle: q.cycle,
    cache: q.cache,
    ownedBySchema: q.ownedBySchema ?? '',
    ownedByTable: q.ownedByTable ?? '',
    ownedByColumn: q.ownedByColumn ?? '',
    identity: q.identity,
    lastValue: q.lastValue,
    lastValueSource: q.lastValueSource ?? '',
    owner: q.owner ?? '',
    comment: q.comment ?? '',
    extension: q.extension ?? '',
    extensionVersion: q.extensionVersion ?? '',
  };
}

function toRoutine(r: RoutineEntity): Routine {
  return {
    schema: r.schema,
    name: r.name,
    kind: r.kind,
    arguments: r.arguments.map((a) => ({ name: a.name, type: a.type, mode: a.mode, defaultValue: a.defaultValue ?? '' })),
    returnType: r.returnType ?? '',
    language: r.language,
    volatility: r.volatility ?? '',
    deterministic: r.deterministic,
    securityDefiner: r.securityDefiner,
    comment: r.comment ?? '',
    body: r.body ?? '',
    identityArguments: r.identityArguments ?? '',
    owner: r.owner ?? '',
    extension: r.extension ?? '',
    extensionVersion: r.extensionVersion ?? '',
  };
}

function toCheck(c: CheckConstraintEntity): CheckConstraint {
  return { name: c.name, expression: c.expression, enforced: c.enforced, validated: c.validated, columns: c.columns, noInherit: c.noInherit ?? false };
}

function toUserType(t: UserTypeEntity): UserType {
  return {
    schema: t.schema,
    name: t.name,
    kind: t.kind,
    labels: t.labels ?? NONE,
    baseType: t.baseType ?? '',
    nullable: t.nullable,
    defaultValue: t.defaultValue ?? '',
    checkConstraints: (t.checkConstraints ?? NONE).map(toCheck),
    attributes: (t.attributes ?? NONE).map((a) => ({ name: a.name, type: a.type, collation: a.collation ?? '' })),
    subtype: t.subtype ?? '',
    comment: t.comment ?? '',
    owner: t.owner ?? '',
    collation: t.collation ?? '',
    extension: t.extension ?? '',
    extensionVersion: t.extensionVersion ?? '',
  };
}

function toTrigger(t: TriggerEntity): Trigger {
  return {
    name: t.name,
    timing: t.timing,
    events: t.events,
    level: t.level,
    enabled: t.enabled,
    functionSchema: t.functionSchema ?? '',
    functionName: t.functionName ?? '',
    condition: t.condition ?? '',
    definition: t.definition,
    actionOrder: t.actionOrder,
    updateColumns: t.updateColumns,
    inherited: t.inherited ?? false,
    definer: t.definer ?? '',
  };
}

function toColumn(c: ColumnEntity): Column {
  return {
    name: c.name,
    ordinal: c.ordinal,
    dataType: c.dataType,
    baseType: c.baseType,
    nullable: c.nullable,
    defaultValue: c.defaultValue ?? '',
    comment: c.comment ?? '',
    isArray: c.isArray,
    enumValues: c.enumValues ?? NONE,
    domain: c.domain ?? '',
    generated: c.generated ?? '',
    generationExpression: c.generationExpression ?? '',
    charset: c.charset ?? '',
    collation: c.collation ?? '',
    extra: c.extra ?? '',
    attributeNumber: c.attributeNumber ?? 0,
    storedType: c.storedType ?? '',
  };
}

function toIndex(i: IndexEntity): Index {
  return {
    name: i.name,
    columns: i.columns,
    unique: i.unique,
    primary: i.primary,
    method: i.method,
    predicate: i.predicate ?? '',
    definition: i.definition,
    prefixLengths: i.prefixLengths ?? NONE,
    invisible: i.invisible ?? false,
    includeColumns: i.includeColumns ?? NONE,
    sortOrders: i.sortOrders ?? NONE,
    nullsOrders: i.nullsOrders ?? NONE,
    collations: i.collations ?? NONE,
    operatorClasses: i.operatorClasses ?? NONE,
    comment: i.comment ?? '',
    valid: i.valid,
    constraintName: i.constraintName ?? '',
  };
}

const KIND: Record<RelationEntity['kind'], RelationKind> = {
  TABLE: RelationKind.RELATION_KIND_TABLE,
  PARTITIONED_TABLE: RelationKind.RELATION_KIND_PARTITIONED_TABLE,
  FOREIGN_TABLE: RelationKind.RELATION_KIND_FOREIGN_TABLE,
  VIEW: RelationKind.RELATION_KIND_VIEW,
  MATERIALIZED_VIEW: RelationKind.RELATION_KIND_MATERIALIZED_VIEW,
};

/**
 * A relation with everything that belongs to it. `entityColumns`: its columns stay entities
 * for discoveryEncoding.ts to write (`columns` empty), for the daemon's own wire only.
 */
export function toRelation(r: RelationEntity, entityColumns = false): Relation {
  const relation: WireRelation = {
    schema: r.schema,
    name: r.name,
    kind: KIND[r.kind],
    comment: r.comment ?? '',
    owner: r.owner ?? '',
    columns: entityColumns ? NONE : r.columns.map(toColumn),
    primaryKey: r.primaryKey,
    uniqueConstraints: r.uniqueConstraints,
    foreignKeys: r.foreignKeys,
    indexes: r.indexes.map(toIndex),
    estimatedRows: r.estimatedRows,
    viewDefinition: r.viewDefinition ?? '',
    partitionOf: r.partitionOf ?? '',
    partitionBound: r.partitionBound ?? '',
    partitionKey: r.partitionKey ?? '',
    foreignServer: r.foreignServer ?? '',
    engine: r.engine ?? '',
    collation: r.collation ?? '',
    createdAt: r.createdAt ?? '',
    updatedAt: r.updatedAt ?? '',
    createdTime: toTimestamp(r.createdAt),
    updatedTime: toTimestamp(r.updatedAt),
    partitions: r.partitions ?? NONE,
    checkConstraints: (r.checkConstraints ?? NONE).map(toCheck),
    triggers: (r.triggers ?? NONE).map(toTrigger),
    populated: r.populated,
    autoIncrement: r.autoIncrement,
    extension: r.extension ?? '',
    extensionVersion: r.extensionVersion ?? '',
  };
  // For the wire (discoveryEncoding.ts): the columns go out from their entities.
  if (entityColumns) relation[ENTITY_COLUMNS] = r.columns;
  return relation;
}

const COLLECTION_KIND: Record<CollectionEntity['kind'], CollectionKind> = {
  COLLECTION: CollectionKind.COLLECTION_KIND_COLLECTION,
  VIEW: CollectionKind.COLLECTION_KIND_VIEW,
  TIMESERIES: CollectionKind.COLLECTION_KIND_TIMESERIES,
};

function toCollectionIndex(i: CollectionIndexEntity): CollectionIndex {
  return {
    name: i.name,
    keys: i.keys,
    unique: i.unique,
    sparse: i.sparse,
    expireAfterSeconds: i.expireAfterSeconds,
    partialFilter: i.partialFilter ?? '',
    hidden: i.hidden,
    weights: i.weights ?? '',
    defaultLanguage: i.defaultLanguage ?? '',
    languageOverride: i.languageOverride ?? '',
    textIndexVersion: i.textIndexVersion ?? 0,
    wildcardProjection: i.wildcardProjection ?? '',
    sphereIndexVersion: i.sphereIndexVersion ?? 0,
    collation: i.collation ?? '',
    options: i.options ?? '',
  };
}

/** A collection with its indexes, options and inferred schema. */
export function toCollection(c: CollectionEntity): Collection {
  return {
    database: c.schema,
    name: c.name,
    kind: COLLECTION_KIND[c.kind],
    viewOn: c.viewOn ?? '',
    pipeline: c.pipeline ?? '',
    timeseries: c.timeseries ?? '',
    indexes: c.indexes.map(toCollectionIndex),
    estimatedDocuments: c.estimatedDocuments,
    schema: c.schemaInference,
    capped: c.capped,
    validator: c.validator ?? '',
    validationLevel: c.validationLevel ?? '',
    validationAction: c.validationAction ?? '',
    clustered: c.clustered ?? false,
    options: c.options ?? '',
  };
}
