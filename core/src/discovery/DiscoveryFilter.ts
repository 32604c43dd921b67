import { InputError, type FieldViolation } from '../errors';
import { globToRegExpSource, matchesAnyGlob } from '../util/glob';

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
 * The most patterns one list of a filter may hold. Every pattern is tested against every
 * schema or relation name, in the daemon and in the source's catalog query: 10,000 patterns
 * kept a PostgreSQL backend busy for 50 s.
 */
export const MAX_FILTER_PATTERNS = 256;
/** The most characters the patterns of one list may hold together. */
export const MAX_FILTER_PATTERN_CHARS = 8192;
/** The most characters of one pattern. */
export const MAX_FILTER_PATTERN_LENGTH = 256;

/** The glob patterns of a filter, table patterns qualified (`schema.name`). */
export interface FilterGlobs {
  /** Globs of the schemas to read; empty means every schema. */
  includeSchemas: string[];
  /** Globs of the schemas to skip; they win over the includes. */
  excludeSchemas: string[];
  /** Globs over `schema.name` of the relations to read (a pattern without a dot got `*.` before it); empty means every relation. */
  includeTables: string[];
  /** Globs over `schema.name` of the relations to skip; they win over the includes. */
  excludeTables: string[];
}

/**
 * A validated filter, for connectors to push down into their catalog queries and to check in
 * code. Push patterns down as SQL LIKE patterns (`globToLikePattern`: PostgreSQL
 * `LIKE ANY($1)`, MySQL `LIKE ? ESCAPE '\\'`), never as regular expressions, and test names in
 * code with {@link CompiledFilter.schemaMatches} / {@link CompiledFilter.relationMatches}
 * (linear-time wildcard matching): a backtracking regular-expression engine takes exponential
 * time on a crafted pattern.
 */
export interface CompiledFilter {
  /** The patterns as globs, for push-down (see {@link FilterGlobs}). */
  globs: FilterGlobs;
  /**
   * Anchored regular expressions (source text) of the schemas to read; empty means every schema.
   * @deprecated Exponential in backtracking engines (JavaScript, PCRE, MySQL REGEXP) on crafted patterns; use {@link CompiledFilter.globs}.
   */
  includeSchemas: string[];
  /**
   * Anchored regular expressions of the schemas to skip.
   * @deprecated See {@link CompiledFilter.includeSchemas}; use {@link CompiledFilter.globs}.
   */
  excludeSchemas: string[];
  /**
   * Anchored regular expressions over `schema.name` of the relations to read.
   * @deprecated See {@link CompiledFilter.includeSchemas}; use {@link CompiledFilter.globs}.
   */
  includeTables: string[];
  /**
   * Anchored regular expressions over `schema.name` of the relations to skip.
   * @deprecated See {@link CompiledFilter.includeSchemas}; use {@link CompiledFilter.globs}.
   */
  excludeTables: string[];
  /** Whether the database's system schemas (such as `information_schema`) are read too. */
  includeSystemSchemas: boolean;
  /** Whether a schema passes the schema patterns (linear time). */
  schemaMatches(schema: string): boolean;
  /** Whether a relation passes the table patterns (linear time). */
  relationMatches(schema: string, name: string): boolean;
}

/** What is wrong with one list of patterns: its size first (then nothing else is read), else each bad pattern. */
function listViolations(patterns: readonly string[], field: string): FieldViolation[] {
  if (patterns.length > MAX_FILTER_PATTERNS) {
    return [{ field, description: `has ${patterns.length} patterns; at most ${MAX_FILTER_PATTERNS} are allowed` }];
  }
  const total = patterns.reduce((n, p) => n + p.length, 0);
  if (total > MAX_FILTER_PATTERN_CHARS) {
    return [{ field, description: `has ${total} characters of patterns; at most ${MAX_FILTER_PATTERN_CHARS} are allowed in one list` }];
  }
  const v: FieldViolation[] = [];
  patterns.forEach((p, i) => {
    if (p.trim() === '') v.push({ field: `${field}[${i}]`, description: 'is empty' });
    else if (p.length > MAX_FILTER_PATTERN_LENGTH) v.push({ field: `${field}[${i}]`, description: `is longer than ${MAX_FILTER_PATTERN_LENGTH} characters` });
  });
  return v;
}

/** Validates and compiles a filter; bad patterns and lists past the caps are reported by field path. */
export function compileFilter(filter: DiscoveryFilter, fieldPrefix = 'filter'): CompiledFilter {
  const v: FieldViolation[] = [
    ...listViolations(filter.includeSchemas, `${fieldPrefix}.include_schemas`),
    ...listViolations(filter.excludeSchemas, `${fieldPrefix}.exclude_schemas`),
    ...listViolations(filter.includeTables, `${fieldPrefix}.include_tables`),
    ...listViolations(filter.excludeTables, `${fieldPrefix}.exclude_tables`),
  ];
  if (v.length) throw new InputError(v, { reason: 'INVALID_FILTER' });

  const table = (p: string) => (p.includes('.') ? p : `*.${p}`);
  const globs: FilterGlobs = {
    includeSchemas: [...filter.includeSchemas],
    excludeSchemas: [...filter.excludeSchemas],
    includeTables: filter.includeTables.map(table),
    excludeTables: filter.excludeTables.map(table),
  };
  return {
    globs,
    /* eslint-disable @typescript-eslint/no-deprecated -- the deprecated regular-expression fields are still filled for connectors that read them; dropping them is a breaking change of the plugin API */
    includeSchemas: globs.includeSchemas.map(globToRegExpSource),
    excludeSchemas: globs.excludeSchemas.map(globToRegExpSource),
    includeTables: globs.includeTables.map(globToRegExpSource),
    excludeTables: globs.excludeTables.map(globToRegExpSource),
    /* eslint-enable @typescript-eslint/no-deprecated */
    includeSystemSchemas: filter.includeSystemSchemas,
    schemaMatches: (s) => (globs.includeSchemas.length === 0 || matchesAnyGlob(s, globs.includeSchemas)) && !matchesAnyGlob(s, globs.excludeSchemas),
    relationMatches: (s, n) => {
      const q = `${s}.${n}`;
      return (globs.includeTables.length === 0 || matchesAnyGlob(q, globs.includeTables)) && !matchesAnyGlob(q, globs.excludeTables);
    },
  };
}
