import { describe, expect, it } from 'vitest';
import {
  compareRelationKeys,
  compileFilter,
  decodeCursor,
  encodeCursor,
  InputError,
  EMPTY_FILTER,
  MAX_FILTER_PATTERN_CHARS,
  MAX_FILTER_PATTERNS,
} from '../src';

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

  /** Issue 15: a list of patterns is capped in count and in total length, each reported by its field with the limit. */
  it('caps the number and the total length of the patterns of each list', () => {
    const violations = (filter: Partial<typeof EMPTY_FILTER>) => {
      try {
        compileFilter({ ...EMPTY_FILTER, ...filter });
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        expect((error as InputError).reason).toBe('INVALID_FILTER');
        return (error as InputError).violations;
      }
      return [];
    };
    expect(violations({ includeSchemas: Array.from({ length: MAX_FILTER_PATTERNS }, (_, i) => `s${i}`) })).toEqual([]);
    expect(violations({ includeSchemas: Array.from({ length: 10_000 }, (_, i) => `s${i}`) })).toEqual([
      { field: 'filter.include_schemas', description: `has 10000 patterns; at most ${MAX_FILTER_PATTERNS} are allowed` },
    ]);
    const long = Array.from({ length: 40 }, () => 'x'.repeat(250));
    expect(violations({ excludeTables: long })).toEqual([
      { field: 'filter.exclude_tables', description: `has 10000 characters of patterns; at most ${MAX_FILTER_PATTERN_CHARS} are allowed in one list` },
    ]);
  });

  /** Issue 15: the crafted pattern that froze the daemon is matched at once, in code (the matchers are linear). */
  it('matches a crafted pattern against a long name at once', () => {
    const f = compileFilter({ ...EMPTY_FILTER, includeSchemas: [`${'*a'.repeat(20)}*s`], includeTables: [`${'*a'.repeat(20)}*s`] });
    const started = performance.now();
    expect(f.schemaMatches('a'.repeat(60))).toBe(false);
    expect(f.relationMatches('a'.repeat(60), 'a'.repeat(60))).toBe(false);
    expect(f.schemaMatches(`${'a'.repeat(60)}s`)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(f.globs.includeTables).toEqual([`*.${'*a'.repeat(20)}*s`]);
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
