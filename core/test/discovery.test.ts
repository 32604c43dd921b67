import { describe, expect, it } from 'vitest';
import { compareRelationKeys, compileFilter, decodeCursor, encodeCursor, InputError, EMPTY_FILTER } from '../src';

describe('discovery filters', () => {
  /** A table pattern without a dot matches the name in any schema; with a dot, schema.name. */
  it('matches globs on schemas and relations', () => {
    const f = compileFilter({ ...EMPTY_FILTER, includeSchemas: ['sales*'], excludeTables: ['tmp_*', 'sales.audit?'] });
    expect(f.schemaMatches('sales')).toBe(true);
    expect(f.schemaMatches('sales_eu')).toBe(true);
    expect(f.schemaMatches('inventory')).toBe(false);
    expect(f.relationMatches('sales', 'orders')).toBe(true);
    expect(f.relationMatches('sales', 'tmp_orders')).toBe(false);
    expect(f.relationMatches('sales', 'audit1')).toBe(false);
    expect(f.relationMatches('other', 'audit1')).toBe(true);
  });

  it('treats regex characters in patterns literally', () => {
    const f = compileFilter({ ...EMPTY_FILTER, includeTables: ['a.b(c)+'] });
    expect(f.relationMatches('a', 'b(c)+')).toBe(true);
    expect(f.relationMatches('a', 'bcc')).toBe(false);
  });

  it('reports an empty pattern by its field path', () => {
    try {
      compileFilter({ ...EMPTY_FILTER, excludeTables: ['ok', ' '] });
      expect.unreachable();
    } catch (error) {
      expect((error as InputError).violations).toEqual([{ field: 'filter.exclude_tables[1]', description: 'is empty' }]);
    }
  });
});

describe('cursors', () => {
  it('round-trip and reject garbage with the field named', () => {
    const key = { schema: 'sälës', name: 'ördérs' };
    expect(decodeCursor(encodeCursor(key))).toEqual(key);
    expect(() => decodeCursor('not-a-cursor')).toThrow(InputError);
  });

  /** The engine and every connector order relations by bytes, like PostgreSQL's "C" collation. */
  it('orders keys by bytes', () => {
    const keys = [
      { schema: 'b', name: 'a' },
      { schema: 'a', name: 'b' },
      { schema: 'a', name: 'B' },
      { schema: 'a', name: 'ä' },
    ];
    expect(keys.sort(compareRelationKeys).map((k) => `${k.schema}.${k.name}`)).toEqual(['a.B', 'a.b', 'a.ä', 'b.a']);
  });
});
