/**
 * The daemon's own encoding of discovery batches (daemon/src/grpc/discoveryEncoding.ts): the
 * columns are written from the connector's entities, not through a contract object each. The
 * yardstick is the generated code: the same event mapped the ordinary way and encoded by
 * ts-proto must decode to the same message, for columns with every field, with none, and with
 * empty values; and `Column` must have no field the encoder does not write.
 */
import { describe, expect, it } from 'vitest';
import type { CatalogEntity, ColumnEntity, DiscoveryEvent, RelationEntity } from '@sourced/core';
import { Column, DiscoverDataSourceResponse, DiscoveryProgress } from '@sourced/api';
import { toDiscoveryResponses } from '../daemon/src/grpc/mapping';
import { COLUMN_FIELDS, encodeDiscoverResponse } from '../daemon/src/grpc/discoveryEncoding';

const full: ColumnEntity = {
  name: 'Prïce "x"',
  ordinal: 3,
  dataType: 'numeric(12,2)',
  baseType: 'numeric',
  nullable: true,
  defaultValue: "'0'::numeric",
  comment: 'a comment, with ünïcode ✓',
  isArray: true,
  enumValues: ['a', 'b', ''],
  domain: 'money_d',
  generated: 'STORED',
  generationExpression: '(a + b)',
  charset: 'utf8mb4',
  collation: 'utf8mb4_bin',
  extra: 'on update CURRENT_TIMESTAMP',
  attributeNumber: 300,
  storedType: 'longtext',
};
const bare: ColumnEntity = { name: 'id', ordinal: 1, dataType: 'integer', baseType: 'integer', nullable: false, isArray: false };
const empties: ColumnEntity = { ...bare, name: '', ordinal: 0, dataType: '', baseType: '', defaultValue: '', comment: '', enumValues: [], attributeNumber: 0 };

const relation = (name: string, columns: ColumnEntity[]): RelationEntity => ({
  entity: 'relation',
  schema: 's',
  name,
  kind: 'TABLE',
  columns,
  uniqueConstraints: [{ name: 'u', columns: ['id'] }],
  foreignKeys: [],
  indexes: [{ name: `${name}_pkey`, columns: ['id'], unique: true, primary: true, method: 'btree', definition: 'CREATE ...' }],
  comment: 'c',
  estimatedRows: 42,
});

const collection = {
  entity: 'collection',
  database: 'db',
  schema: 'db',
  name: 'c',
  kind: 'COLLECTION',
  indexes: [],
  estimatedDocuments: 3,
} as unknown as CatalogEntity;

const batch = (entities: CatalogEntity[]): DiscoveryEvent =>
  ({
    kind: 'batch',
    index: 7,
    entities,
    cursor: 'cursor-7',
    progress: { ...DiscoveryProgress.fromPartial({ relations: 3, columns: 4, batches: 7 }), elapsedMs: 12.5 },
  }) as unknown as DiscoveryEvent;

/** What a client decodes from the daemon's bytes, and from ts-proto's for the ordinary mapping. */
function bothWays(event: DiscoveryEvent, sequence: number): { ours: DiscoverDataSourceResponse[]; generated: DiscoverDataSourceResponse[] } {
  const ours = [...toDiscoveryResponses(event, () => 'mid', { entityColumns: true })].map((r) =>
    DiscoverDataSourceResponse.decode(encodeDiscoverResponse({ ...r, sequence })),
  );
  const generated = [...toDiscoveryResponses(event, () => 'mid')].map((r) =>
    DiscoverDataSourceResponse.decode(DiscoverDataSourceResponse.encode({ ...r, sequence }).finish()),
  );
  return { ours, generated };
}

describe('discovery batches encoded from entities', () => {
  it('writes every field Column has', () => {
    expect([...COLUMN_FIELDS].sort()).toEqual(Object.keys(Column.fromPartial({})).sort());
  });

  it('decodes to what the generated encoder gives, for full, bare and empty columns, with collections and progress', () => {
    const event = batch([relation('a', [full, bare, empties]), relation('b', []), collection, relation('c', [bare])]);
    const { ours, generated } = bothWays(event, 41);
    expect(ours).toEqual(generated);
    const relations = ours[0].event?.$case === 'batch' ? ours[0].event.value.relations : [];
    expect(relations.map((r) => r.columns.length)).toEqual([3, 0, 1]);
    expect(relations[0].columns[0]).toEqual(Column.fromPartial({ ...full }));
  });

  it('splits a very wide batch into the same messages', () => {
    const wide = Array.from({ length: 3 }, (_, i) =>
      relation(
        `w${i}`,
        Array.from({ length: 2600 }, (_, k) => ({ ...bare, name: `c${k}`, ordinal: k + 1 })),
      ),
    );
    const { ours, generated } = bothWays(batch(wide), 0);
    expect(ours.length).toBeGreaterThan(1);
    expect(ours).toEqual(generated);
  });

  it('leaves every other event to the generated encoder, byte for byte', () => {
    const events: DiscoveryEvent[] = [
      { kind: 'warning', code: 'X', message: 'm' } as unknown as DiscoveryEvent,
      { kind: 'schemas', schemas: [{ name: 's', usable: true }] } as unknown as DiscoveryEvent,
    ];
    for (const event of events) {
      for (const r of toDiscoveryResponses(event, () => '', { entityColumns: true })) {
        expect(encodeDiscoverResponse({ ...r, sequence: 5 })).toEqual(Buffer.from(DiscoverDataSourceResponse.encode({ ...r, sequence: 5 }).finish()));
      }
    }
  });
});
