/**
 * `sourced discover`'s tree (cli/src/discoveryView.ts) with the catalog objects of issue 19: a
 * relation's checks and triggers and an unpopulated materialized view in its row, then the
 * schema's sequences, routines and types, one row each, an extension's in one row per extension.
 * (NDJSON prints the messages whole with the contract's toJSON, so it carries them as they are.)
 */
import { describe, expect, it } from 'vitest';
import { Collection, CollectionKind, Relation, RelationKind, Schema } from '@sourced/api';
import { DiscoveryTree, schemaObjectRows } from '../cli/src/discoveryView';
import { Paint } from '../cli/src/output';

const schema = Schema.fromPartial({
  name: 'shop',
  usable: true,
  sequences: [
    { schema: 'shop', name: 'orders_id_seq', dataType: 'bigint', ownedByTable: 'orders', ownedByColumn: 'id', identity: true, lastValue: '42' },
    { schema: 'shop', name: 'free_seq', dataType: 'integer' },
  ],
  routines: [
    {
      schema: 'shop',
      name: 'add',
      kind: 'FUNCTION',
      identityArguments: 'a integer, b integer',
      returnType: 'integer',
      language: 'sql',
      volatility: 'IMMUTABLE',
    },
    { schema: 'shop', name: 'refresh', kind: 'PROCEDURE', identityArguments: '', language: 'plpgsql', volatility: 'VOLATILE', securityDefiner: true },
  ],
  types: [
    { schema: 'shop', name: 'mood', kind: 'ENUM', labels: ['sad', 'ok', 'happy'], nullable: true },
    {
      schema: 'shop',
      name: 'posint',
      kind: 'DOMAIN',
      baseType: 'integer',
      nullable: false,
      checkConstraints: [{ name: 'positive', expression: '(VALUE > 0)' }],
    },
    {
      schema: 'shop',
      name: 'pair',
      kind: 'COMPOSITE',
      attributes: [
        { name: 'a', type: 'integer' },
        { name: 'b', type: 'text' },
      ],
      nullable: true,
    },
    { schema: 'shop', name: 'span', kind: 'RANGE', subtype: 'date', nullable: true },
  ],
});

describe('the discover tree', () => {
  it('shows each sequence, routine and type of a schema as a row', () => {
    expect(schemaObjectRows(schema).map((r) => [r.name, ...r.cells.filter(Boolean)])).toEqual([
      ['orders_id_seq', 'sequence', 'bigint', 'owned by orders.id (identity)', 'last 42'],
      ['free_seq', 'sequence', 'integer'],
      ['add(a integer, b integer)', 'function', 'returns integer', 'sql', 'immutable'],
      ['refresh()', 'procedure', 'plpgsql', 'volatile, security definer'],
      ['mood', 'enum type', '3 labels'],
      ['posint', 'domain type', 'integer not null, 1 check'],
      ['pair', 'composite type', '2 attributes'],
      ['span', 'range type', 'of date'],
    ]);
  });

  /** An extension's members are one row per extension (PostGIS alone would be hundreds of rows); the schema's own keep theirs. */
  it("folds an extension's routines, types and sequences into one row per extension, after the schema's own objects", () => {
    const ext = { extension: 'citext', extensionVersion: '1.6' };
    const withExtensions = Schema.fromPartial({
      name: 'shop',
      sequences: [{ schema: 'shop', name: 'lo_seq', dataType: 'bigint', extension: 'lo', extensionVersion: '1.1' }, schema.sequences[1]],
      routines: [
        { schema: 'shop', name: 'citext', kind: 'FUNCTION', language: 'c', ...ext },
        { schema: 'shop', name: 'max', kind: 'AGGREGATE', language: 'internal', ...ext },
        schema.routines[0],
      ],
      types: [{ schema: 'shop', name: 'citext', kind: 'BASE', nullable: true, ...ext }],
    });
    expect(schemaObjectRows(withExtensions).map((r) => [r.name, ...r.cells.filter(Boolean)])).toEqual([
      ['free_seq', 'sequence', 'integer'],
      ['add(a integer, b integer)', 'function', 'returns integer', 'sql', 'immutable'],
      ['citext', 'extension', '1.6', '2 routines, 1 type'],
      ['lo', 'extension', '1.1', '1 sequence'],
    ]);
  });

  it("puts checks, triggers and an empty materialized view in the relation's row, and the schema's objects after its relations", () => {
    const tree = new DiscoveryTree();
    tree.addSchema(schema);
    tree.addRelation(
      Relation.fromPartial({
        schema: 'shop',
        name: 'orders',
        kind: RelationKind.RELATION_KIND_TABLE,
        columns: [{ name: 'id' }],
        primaryKey: { name: 'orders_pkey', columns: ['id'] },
        checkConstraints: [{ name: 'c1' }, { name: 'c2' }],
        triggers: [{ name: 't1' }],
        estimatedRows: 10,
      }),
    );
    tree.addRelation(
      Relation.fromPartial({ schema: 'shop', name: 'totals', kind: RelationKind.RELATION_KIND_MATERIALIZED_VIEW, populated: false, estimatedRows: -1 }),
    );
    tree.addCollection(
      Collection.fromPartial({
        database: 'docs',
        name: 'people',
        kind: CollectionKind.COLLECTION_KIND_COLLECTION,
        validator: '{"$jsonSchema":{}}',
        validationLevel: 'strict',
        validationAction: 'error',
        estimatedDocuments: -1,
      }),
    );
    const lines = tree.render(new Paint(false), false).map((l) => l.replace(/ +/g, ' ').trimEnd());
    expect(lines[0]).toBe('shop');
    expect(lines[1]).toBe('|-- orders table 1 column pk (id) 0 fks 0 indexes 2 checks, 1 trigger ~10 rows');
    expect(lines[2]).toBe('|-- totals materialized view 0 columns no pk 0 fks 0 indexes not populated');
    expect(lines[3]).toMatch(/^\|-- orders_id_seq sequence bigint owned by orders\.id \(identity\) last 42$/);
    expect(lines[10]).toBe('`-- span range type of date');
    expect(lines).toContain('`-- people collection 0 indexes validator (strict, error)');
  });
});
