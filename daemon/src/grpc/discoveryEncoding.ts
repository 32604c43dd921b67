/**
 * The wire encoding of DiscoverDataSource's responses, with one shortcut for the bulk of a
 * discovery: a batch's columns are written straight from the connector's entities, without a
 * contract object per column (issue 18: a 10,000-table catalog has 190,000 columns, and their
 * objects were a tenth of what a run allocated; the mapping and the generated encoders were
 * about a third of the daemon's CPU). Everything else goes through the generated encoders.
 *
 * The mapping ({@link toDiscoveryResponses} with `entityColumns`) leaves a relation's
 * `columns` empty and keeps its entities under {@link ENTITY_COLUMNS}; {@link
 * encodeDiscoverResponse} writes them as the relation's field 5 after its other fields (field
 * order on the wire is free; decoders merge). {@link encodeColumnEntity} writes what
 * `catalogMapping.toColumn` and the generated `Column.encode` would, field for field:
 * test/discoveryEncoding.test.ts decodes both and compares, and fails when `Column` gains a
 * field this file does not write.
 */
import type { ColumnEntity } from '@sourced/core';
import { BinaryWriter, Collection, DiscoverDataSourceResponse, DiscoveryProgress, Relation, type DataSourceServiceService } from '@sourced/api';

/** Where a mapped relation keeps its columns as entities (a symbol: the generated code never sees it). */
export const ENTITY_COLUMNS: unique symbol = Symbol('sourced.entityColumns');

/** A relation as the mapping makes it for the wire: `columns` empty, the entities beside them. */
export type WireRelation = Relation & { [ENTITY_COLUMNS]?: readonly ColumnEntity[] };

/** The fields of `Column` that {@link encodeColumnEntity} writes (the test compares them with the generated message's). */
export const COLUMN_FIELDS = [
  'name',
  'ordinal',
  'dataType',
  'baseType',
  'nullable',
  'defaultValue',
  'comment',
  'isArray',
  'enumValues',
  'domain',
  'generated',
  'generationExpression',
  'charset',
  'collation',
  'extra',
  'attributeNumber',
  'storedType',
] as const;

/**
 * One column as `sourced.v1.Column` (proto/sourced/v1/discovery.proto; tag = field << 3 | wire
 * type): absent and empty texts, false and 0 are left out, as proto3 does.
 */
export function encodeColumnEntity(c: ColumnEntity, w: BinaryWriter): void {
  if (c.name) w.uint32(10).string(c.name);
  if (c.ordinal) w.uint32(16).uint32(c.ordinal);
  if (c.dataType) w.uint32(26).string(c.dataType);
  if (c.baseType) w.uint32(34).string(c.baseType);
  if (c.nullable) w.uint32(40).bool(true);
  if (c.defaultValue) w.uint32(50).string(c.defaultValue);
  if (c.comment) w.uint32(58).string(c.comment);
  if (c.isArray) w.uint32(64).bool(true);
  if (c.enumValues) for (const v of c.enumValues) w.uint32(74).string(v);
  if (c.domain) w.uint32(82).string(c.domain);
  if (c.generated) w.uint32(90).string(c.generated);
  if (c.generationExpression) w.uint32(98).string(c.generationExpression);
  if (c.charset) w.uint32(106).string(c.charset);
  if (c.collation) w.uint32(114).string(c.collation);
  if (c.extra) w.uint32(122).string(c.extra);
  if (c.attributeNumber) w.uint32(128).uint32(c.attributeNumber);
  if (c.storedType) w.uint32(138).string(c.storedType);
}

/** A relation: the generated encoder for its fields, then its entity columns as field 5. */
function encodeRelation(r: WireRelation, w: BinaryWriter): void {
  Relation.encode(r, w);
  const columns = r[ENTITY_COLUMNS];
  if (columns === undefined) return;
  for (const c of columns) {
    encodeColumnEntity(c, w.uint32(42).fork());
    w.join();
  }
}

/**
 * A response as its bytes (the service's `responseSerialize`): a batch's envelope and relations
 * here, the rest by the generated encoders. The bytes are not copied into a second buffer.
 */
export function encodeDiscoverResponse(m: DiscoverDataSourceResponse): Buffer {
  const w = new BinaryWriter();
  if (m.event?.$case === 'batch') {
    // DiscoverDataSourceResponse: sequence = 1, batch = 3; DiscoveryBatch: index = 1,
    // relations = 2, cursor = 3, collections = 4, progress = 5.
    if (m.sequence !== 0) w.uint32(8).uint64(m.sequence);
    const b = m.event.value;
    w.uint32(26).fork();
    if (b.index !== 0) w.uint32(8).uint32(b.index);
    for (const r of b.relations) {
      encodeRelation(r, w.uint32(18).fork());
      w.join();
    }
    if (b.cursor !== '') w.uint32(26).string(b.cursor);
    for (const c of b.collections) Collection.encode(c, w.uint32(34).fork()).join();
    if (b.progress !== undefined) DiscoveryProgress.encode(b.progress, w.uint32(42).fork()).join();
    w.join();
  } else {
    DiscoverDataSourceResponse.encode(m, w);
  }
  const bytes = w.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The DataSourceService definition with DiscoverDataSource's responses written by {@link encodeDiscoverResponse}. */
export function withDiscoveryEncoding<S extends typeof DataSourceServiceService>(service: S): S {
  return { ...service, discoverDataSource: { ...service.discoverDataSource, responseSerialize: encodeDiscoverResponse } };
}
