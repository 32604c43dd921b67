import { describe, expect, it } from 'vitest';
import { classifyJsValue, inferSchema, SchemaInferrer, type ValueClassifier } from '../src';

const schemaOf = (docs: Record<string, unknown>[], maxFields = 1000) => inferSchema(docs, { maxFields });
const field = (docs: Record<string, unknown>[], path: string) => schemaOf(docs).fields.find((f) => f.path === path);

describe('schema inference', () => {
  /** Nested documents give dotted paths; a parent comes before its children, in order of first appearance. */
  it('lists nested paths in order of first appearance', () => {
    const schema = schemaOf([
      { a: 1, b: { c: 'x', d: { e: true } } },
      { f: null, b: { g: 2 } },
    ]);
    expect(schema.fields.map((f) => f.path)).toEqual(['a', 'b', 'b.c', 'b.d', 'b.d.e', 'f', 'b.g']);
    expect(schema.sampledDocuments).toBe(2);
    expect(schema.truncated).toBe(false);
  });

  /** Array elements add `[]`; a document counts once per path, each value counts once per type. */
  it('counts array elements by value and documents once', () => {
    const docs = [{ tags: ['a', 'b', 'c'] }, { tags: [] }, { tags: ['d', 7] }, {}];
    expect(field(docs, 'tags')).toEqual({ path: 'tags', types: [{ type: 'array', count: 3 }], documents: 3, frequency: 0.75 });
    expect(field(docs, 'tags[]')).toEqual({
      path: 'tags[]',
      types: [
        { type: 'string', count: 4 },
        { type: 'int', count: 1 },
      ],
      documents: 2,
      frequency: 0.5,
    });
  });

  /** Documents inside arrays give `items[].sku`; arrays inside arrays give `m[][]`. */
  it('follows documents and arrays inside arrays', () => {
    const docs = [{ items: [{ sku: 'a', qty: 1 }, { sku: 'b' }], m: [[1, 2], [3]] }, { items: [{ qty: 2.5 }] }];
    const schema = schemaOf(docs);
    expect(schema.fields.map((f) => f.path)).toEqual(['items', 'items[]', 'items[].sku', 'items[].qty', 'm', 'm[]', 'm[][]']);
    expect(field(docs, 'items[].sku')).toMatchObject({ documents: 1, types: [{ type: 'string', count: 2 }] });
    expect(field(docs, 'items[].qty')).toMatchObject({
      documents: 2,
      types: [
        { type: 'double', count: 1 },
        { type: 'int', count: 1 },
      ],
    });
    expect(field(docs, 'm[][]')).toMatchObject({ documents: 1, types: [{ type: 'int', count: 3 }] });
  });

  /** Mixed types at one path are all reported, most frequent first, ties by name. */
  it('reports mixed types most frequent first', () => {
    const docs = [{ v: 'a' }, { v: 1 }, { v: 'b' }, { v: null }, { v: { x: 1 } }, { v: 2 ** 40 }, { v: 10n }];
    expect(field(docs, 'v')?.types).toEqual([
      { type: 'string', count: 2 },
      { type: 'double', count: 1 },
      { type: 'int', count: 1 },
      { type: 'long', count: 1 },
      { type: 'null', count: 1 },
      { type: 'object', count: 1 },
    ]);
    expect(field(docs, 'v.x')).toMatchObject({ documents: 1, frequency: 1 / 7 });
  });

  /** A rare field keeps its exact frequency: documents holding it over documents sampled. */
  it('gives rare fields their frequency', () => {
    const docs = Array.from({ length: 200 }, (_, i) => (i % 40 === 3 ? { a: i, rare: 'x' } : { a: i }));
    expect(field(docs, 'rare')).toMatchObject({ documents: 5, frequency: 5 / 200 });
    expect(field(docs, 'a')).toMatchObject({ documents: 200, frequency: 1 });
  });

  /** The field cap keeps the first paths seen, keeps counting them, and says it truncated. */
  it('caps the number of fields and says so', () => {
    const docs = [
      { a: 1, b: { c: 1 } },
      { a: 2, d: 1, e: 1 },
    ];
    const schema = schemaOf(docs, 3);
    expect(schema.fields.map((f) => f.path)).toEqual(['a', 'b', 'b.c']);
    expect(schema.fields[0]).toMatchObject({ documents: 2 });
    expect(schema.truncated).toBe(true);
    expect(schemaOf(docs, 5).truncated).toBe(false);
  });

  it('handles an empty sample', () => {
    expect(schemaOf([])).toEqual({ sampledDocuments: 0, fields: [], truncated: false });
  });

  /** A connector's classifier names driver types; unknown ones fall back to the JavaScript names. */
  it('uses the classifier it is given', () => {
    class ObjectIdLike {
      readonly _bsontype = 'ObjectId';
    }
    const classify: ValueClassifier = (v) => (v instanceof ObjectIdLike ? { type: 'objectId', shape: 'scalar' } : classifyJsValue(v));
    const inferrer = new SchemaInferrer({ maxFields: 10, classify });
    inferrer.add({ _id: new ObjectIdLike(), at: new Date(0), bytes: new Uint8Array(2), re: /x/ });
    expect(inferrer.result().fields.map((f) => [f.path, f.types[0].type])).toEqual([
      ['_id', 'objectId'],
      ['at', 'date'],
      ['bytes', 'binData'],
      ['re', 'regex'],
    ]);
  });

  /** Nesting beyond maxDepth is counted at its path but not entered. */
  it('stops descending at maxDepth', () => {
    const schema = inferSchema([{ a: { b: { c: { d: 1 } } } }], { maxFields: 100, maxDepth: 2 });
    expect(schema.fields.map((f) => f.path)).toEqual(['a', 'a.b']);
  });
});
