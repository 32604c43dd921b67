import { InputError, type FieldViolation } from '../errors';
import { globToRegExp, globToRegExpSource } from '../util/glob';

/** What discovery reads. Patterns are globs (`*`, `?`), case-sensitive. */
export interface DiscoveryFilter {
  includeSchemas: string[];
  excludeSchemas: string[];
  /** A pattern without a dot matches the relation name; with a dot, `schema.name`. */
  includeTables: string[];
  excludeTables: string[];
  includeSystemSchemas: boolean;
}

/** The filter that reads everything but system schemas. */
export const EMPTY_FILTER: DiscoveryFilter = {
  includeSchemas: [],
  excludeSchemas: [],
  includeTables: [],
  excludeTables: [],
  includeSystemSchemas: false,
};

/**
 * A filter compiled to anchored regular expressions, for connectors to push down into
 * their catalog queries (PostgreSQL `~ ANY(...)`, MySQL `REGEXP`) and for checks in code.
 * A table pattern is compiled against `schema.name` (a pattern without a dot gets `*.` before it).
 */
export interface CompiledFilter {
  /** Anchored regular expressions (source text) of the schemas to read; empty means every schema. */
  includeSchemas: string[];
  /** Anchored regular expressions of the schemas to skip; they win over the includes. */
  excludeSchemas: string[];
  /** Anchored regular expressions over `schema.name` of the relations to read; empty means every relation. */
  includeTables: string[];
  /** Anchored regular expressions over `schema.name` of the relations to skip; they win over the includes. */
  excludeTables: string[];
  /** Whether the database's system schemas (such as `information_schema`) are read too. */
  includeSystemSchemas: boolean;
  /** Whether a schema passes the schema patterns. */
  schemaMatches(schema: string): boolean;
  /** Whether a relation passes the table patterns. */
  relationMatches(schema: string, name: string): boolean;
}

/** Validates and compiles a filter; bad patterns are reported by field path. */
export function compileFilter(filter: DiscoveryFilter, fieldPrefix = 'filter'): CompiledFilter {
  const v: FieldViolation[] = [];
  const check = (patterns: string[], field: string) =>
    patterns.forEach((p, i) => {
      if (p.trim() === '') v.push({ field: `${fieldPrefix}.${field}[${i}]`, description: 'is empty' });
      else if (p.length > 256) v.push({ field: `${fieldPrefix}.${field}[${i}]`, description: 'is longer than 256 characters' });
    });
  check(filter.includeSchemas, 'include_schemas');
  check(filter.excludeSchemas, 'exclude_schemas');
  check(filter.includeTables, 'include_tables');
  check(filter.excludeTables, 'exclude_tables');
  if (v.length) throw new InputError(v, { reason: 'INVALID_FILTER' });

  const table = (p: string) => globToRegExpSource(p.includes('.') ? p : `*.${p}`);
  const compiled = {
    includeSchemas: filter.includeSchemas.map(globToRegExpSource),
    excludeSchemas: filter.excludeSchemas.map(globToRegExpSource),
    includeTables: filter.includeTables.map(table),
    excludeTables: filter.excludeTables.map(table),
    includeSystemSchemas: filter.includeSystemSchemas,
  };
  const inc = filter.includeSchemas.map((p) => globToRegExp(p));
  const exc = filter.excludeSchemas.map((p) => globToRegExp(p));
  const tinc = compiled.includeTables.map((s) => new RegExp(s));
  const texc = compiled.excludeTables.map((s) => new RegExp(s));
  return {
    ...compiled,
    schemaMatches: (s) => (inc.length === 0 || inc.some((r) => r.test(s))) && !exc.some((r) => r.test(s)),
    relationMatches: (s, n) => {
      const q = `${s}.${n}`;
      return (tinc.length === 0 || tinc.some((r) => r.test(q))) && !texc.some((r) => r.test(q));
    },
  };
}
