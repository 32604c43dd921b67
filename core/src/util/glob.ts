/**
 * Glob patterns as sourced uses them in filters and policies: `*` matches any run of
 * characters (including none), `?` exactly one; everything else is literal.
 */
export function globToRegExpSource(pattern: string): string {
  let out = '^';
  for (const ch of pattern) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return `${out}$`;
}

/** A compiled glob pattern, anchored at both ends. */
export function globToRegExp(pattern: string, flags = ''): RegExp {
  return new RegExp(globToRegExpSource(pattern), flags);
}

/** Whether the value matches any of the patterns. */
export function matchesAnyGlob(value: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => globToRegExp(p).test(value));
}
