/**
 * Glob patterns as sourced uses them in filters and policies: `*` matches any run of
 * characters (including none), `?` exactly one; everything else is literal.
 *
 * Patterns often come from callers, and the names they are matched against from servers, so
 * matching must never take more than linear time in the name for a given pattern: a glob
 * compiled to a regular expression (`^.*a.*a.*a…s$`) makes a backtracking engine (V8's,
 * PCRE) take exponential time on a name of sixty `a`s. {@link matchesGlob} is a wildcard
 * matcher without backtracking beyond the last `*`, and {@link globToLikePattern} writes a
 * glob as an SQL LIKE pattern for push-down (LIKE has no backtracking blow-up in PostgreSQL
 * or MariaDB).
 */

/** A wildcard pattern as tokens: a literal character, `ANY_RUN` (`*`, `%`) or `ONE` (`?`, `_`). */
const ANY_RUN = 0;
const ONE = 1;
type Token = string | typeof ANY_RUN | typeof ONE;

/**
 * Whether the text (as code points) matches the tokens, in at most O(|text| × |tokens|)
 * steps whatever the input: on a mismatch after an any-run, matching resumes one character
 * after where that any-run last started, never further back (earlier any-runs need not be
 * revisited: a later one can absorb whatever they would have).
 */
function matchTokens(text: readonly string[], tokens: readonly Token[]): boolean {
  let t = 0;
  let g = 0;
  let star = -1; // the token index just after the last any-run seen
  let resume = 0; // where in the text that any-run currently ends
  while (t < text.length) {
    const token = g < tokens.length ? tokens[g] : undefined;
    if (token === ANY_RUN) {
      star = ++g;
      resume = t;
    } else if (token !== undefined && (token === ONE || token === text[t])) {
      g++;
      t++;
    } else if (star >= 0) {
      g = star;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (g < tokens.length && tokens[g] === ANY_RUN) g++;
  return g === tokens.length;
}

/**
 * Whether `value` matches the glob `pattern` (the whole value), in linear time for a given
 * pattern (see {@link matchTokens}). `?` takes one code point.
 */
export function matchesGlob(value: string, pattern: string): boolean {
  return matchTokens(
    Array.from(value),
    Array.from(pattern, (ch): Token => (ch === '*' ? ANY_RUN : ch === '?' ? ONE : ch)),
  );
}

/**
 * Whether `value` matches an SQL LIKE pattern (`%` any run, `_` one character, `escape`
 * before a character makes it literal), case-sensitively, in linear time for a given pattern.
 * For patterns a server sends (MySQL grant patterns such as `shop\_%`).
 */
export function matchesLikePattern(value: string, pattern: string, escape = '\\'): boolean {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === escape && i + 1 < chars.length) tokens.push(chars[++i]);
    else tokens.push(ch === '%' ? ANY_RUN : ch === '_' ? ONE : ch);
  }
  return matchTokens(Array.from(value), tokens);
}

/** Whether the value matches any of the patterns (each in linear time, see {@link matchesGlob}). */
export function matchesAnyGlob(value: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => matchesGlob(value, p));
}

/**
 * A glob as an SQL LIKE pattern with `escape` (default `\`) as its escape character: `*`
 * becomes `%`, `?` becomes `_`, and a literal `%`, `_` or escape character is escaped. Use it
 * with `LIKE ? ESCAPE '\'` (MySQL/MariaDB) or `LIKE ANY($1)` (PostgreSQL, whose default
 * escape is `\`), under a case-sensitive, code-point collation.
 */
export function globToLikePattern(pattern: string, escape = '\\'): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '*') out += '%';
    else if (ch === '?') out += '_';
    else if (ch === '%' || ch === '_' || ch === escape) out += escape + ch;
    else out += ch;
  }
  return out;
}

/**
 * A glob as the source text of an anchored regular expression.
 *
 * @deprecated Matching such an expression with a backtracking engine (JavaScript's, PCRE's)
 * can take exponential time on a crafted pattern; use {@link matchesGlob} or, for push-down
 * into SQL, {@link globToLikePattern}.
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

/**
 * A compiled glob pattern, anchored at both ends.
 *
 * @deprecated Exponential on crafted patterns (see {@link globToRegExpSource}); use {@link matchesGlob}.
 */
export function globToRegExp(pattern: string, flags = ''): RegExp {
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- a deprecated function built on the other, both kept for the plugin API
  return new RegExp(globToRegExpSource(pattern), flags);
}
