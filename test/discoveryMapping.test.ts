/**
 * The daemon's mapping of catalog entities to the contract (daemon/src/grpc/catalogMapping.ts,
 * discoveryMapping.ts) for the objects of issue 19: what the connector did not say stays absent
 * where the proto can tell (populated, valid, last_value, deterministic, auto_increment), and
 * is the proto's empty value elsewhere; MongoDB's validator and index options pass through.
 */
import { describe, expect, it } from 'vitest';
import type { CatalogEntity, CollectionEntity, DiscoveryEvent, RelationEntity } from '@sourced/core';
import { DiscoverDataSourceResponse } from '@sourced/api';
import { toDiscoveryResponses } from '../daemon/src/grpc/mapping';

const relation = (extra: Partial<RelationEntity>): RelationEntity => ({
  entity: 'relation',
  schema: 's',
  name: 'r',
  kind: 'TABLE',
  columns: [{ name: 'id', ordinal: 1, dataType: 'integer', baseType: 'integer', nullable: false, isArray: false }],
  uniqueConstraints: [],
  foreignKeys: [],
  indexes: [{ name: 'r_pkey', columns: ['id'], unique: true, primary: true, method: 'btree', definition: '' }],
  estimatedRows: -1,
  ...extra,
});

const batch = (entities: CatalogEntity[]): DiscoveryEvent => ({ kind: 'batch', index: 1, entities, cursor: 'c', progress: {} }) as unknown as DiscoveryEvent;

describe('catalog objects in the contract', () => {
  it('keeps unknown optional facts absent and carries the known ones', () => {
    const [unknown] = toDiscoveryResponses(batch([relation({})]), () => 'x');
    const r = unknown.event?.$case === 'batch' ? unknown.event.value.relations[0] : undefined;
    expect(r).toMatchObject({ checkConstraints: [], triggers: [], populated: undefined, autoIncrement: undefined });
    expect(r?.indexes[0]).toMatchObject({ valid: undefined, includeColumns: [], sortOrders: [], constraintName: '' });
    expect(r?.columns[0]).toMatchObject({ attributeNumber: 0, storedType: '' });

    const [known] = toDiscoveryResponses(
      batch([
        relation({
          kind: 'MATERIALIZED_VIEW',
          populated: false,
          autoIncrement: '18446744073709551615',
          columns: [
            { name: 'doc', ordinal: 1, attributeNumber: 3, dataType: 'json', storedType: 'longtext', baseType: 'json', nullable: true, isArray: false },
          ],
          checkConstraints: [{ name: 'c', expression: '(x > 0)', enforced: true, validated: false, columns: ['x'] }],
          triggers: [
            {
              name: 't',
              timing: 'INSTEAD OF',
              events: ['INSERT', 'TRUNCATE'],
              level: 'STATEMENT',
              enabled: 'REPLICA',
              definition: 'CREATE TRIGGER ...',
              actionOrder: 0,
              updateColumns: [],
            },
          ],
          indexes: [
            {
              name: 'i',
              columns: ['a', 'lower(b)'],
              unique: false,
              primary: false,
              method: 'btree',
              definition: '',
              valid: false,
              sortOrders: ['DESC', 'ASC'],
              collations: ['', 'C'],
            },
          ],
        }),
      ]),
      () => 'x',
    );
    const json = DiscoverDataSourceResponse.toJSON({ sequence: 1, ...known }) as { batch: { relations: Record<string, unknown>[] } };
    expect(json.batch.relations[0]).toMatchObject({
      populated: false,
      autoIncrement: '18446744073709551615',
      columns: [{ attributeNumber: 3, storedType: 'longtext' }],
      checkConstraints: [{ name: 'c', expression: '(x > 0)', enforced: true, columns: ['x'] }],
      triggers: [{ timing: 'INSTEAD OF', events: ['INSERT', 'TRUNCATE'], level: 'STATEMENT', enabled: 'REPLICA' }],
      indexes: [{ valid: false, sortOrders: ['DESC', 'ASC'], collations: ['', 'C'] }],
    });
    expect(json.batch.relations[0].checkConstraints).toEqual([{ name: 'c', expression: '(x > 0)', enforced: true, columns: ['x'] }]); // validated false: the proto's default
  });

  it("passes a collection's validator and options, and an index's text, wildcard and 2dsphere options", () => {
    const collection: CollectionEntity = {
      entity: 'collection',
      schema: 'db',
      name: 'people',
      kind: 'COLLECTION',
      indexes: [
        {
          name: 'text',
          keys: '{"_fts":"text","_ftsx":1}',
          unique: false,
          sparse: false,
          expireAfterSeconds: 0,
          hidden: false,
          weights: '{"bio":3}',
          defaultLanguage: 'french',
          languageOverride: 'lang',
          textIndexVersion: 3,
          options: '{"weights":{"bio":3}}',
        },
      ],
      estimatedDocuments: 2,
      capped: false,
      validator: '{"$jsonSchema":{"required":["name"]}}',
      validationLevel: 'moderate',
      validationAction: 'warn',
      clustered: true,
      options: '{"clusteredIndex":{"key":{"_id":1},"unique":true}}',
    };
    const [out] = toDiscoveryResponses(batch([collection]), () => 'x');
    const c = out.event?.$case === 'batch' ? out.event.value.collections[0] : undefined;
    expect(c).toMatchObject({
      validator: collection.validator,
      validationLevel: 'moderate',
      validationAction: 'warn',
      clustered: true,
      options: collection.options,
    });
    expect(c?.indexes[0]).toMatchObject({
      weights: '{"bio":3}',
      defaultLanguage: 'french',
      languageOverride: 'lang',
      textIndexVersion: 3,
      wildcardProjection: '',
      sphereIndexVersion: 0,
      collation: '',
    });
  });

  it('sends the schema-level objects with their schema', () => {
    const [out] = toDiscoveryResponses(
      {
        kind: 'schemas',
        schemas: [
          {
            name: 's',
            usable: true,
            sequences: [
              {
                schema: 's',
                name: 'q',
                dataType: 'bigint',
                start: '1',
                increment: '1',
                minValue: '1',
                maxValue: '9223372036854775807',
                cycle: false,
                cache: '1',
                identity: false,
              },
            ],
            routines: [
              {
                schema: 's',
                name: 'f',
                kind: 'FUNCTION',
                arguments: [{ name: 'a', type: 'integer', mode: 'VARIADIC' }],
                language: 'sql',
                securityDefiner: false,
              },
            ],
            types: [
              {
                schema: 's',
                name: 'd',
                kind: 'DOMAIN',
                baseType: 'integer',
                nullable: false,
                checkConstraints: [{ name: 'p', expression: '(VALUE > 0)', enforced: true, validated: true, columns: [] }],
              },
            ],
          },
          { name: 'bare', usable: true },
        ],
      },
      () => 'x',
    );
    const schemas = out.event?.$case === 'schemas' ? out.event.value.schemas : [];
    expect(schemas[0].sequences[0]).toMatchObject({ maxValue: '9223372036854775807', lastValue: undefined, ownedByTable: '' });
    expect(schemas[0].routines[0]).toMatchObject({
      arguments: [{ name: 'a', type: 'integer', mode: 'VARIADIC', defaultValue: '' }],
      deterministic: undefined,
      body: '',
    });
    expect(schemas[0].types[0]).toMatchObject({ kind: 'DOMAIN', nullable: false, checkConstraints: [{ name: 'p', expression: '(VALUE > 0)' }], labels: [] });
    expect(schemas[1]).toMatchObject({ sequences: [], routines: [], types: [] });
  });
});
