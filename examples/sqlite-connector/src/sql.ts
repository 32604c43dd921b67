/**
 * Small readers of the SQL text SQLite keeps in `sqlite_schema.sql` (SQLite has no catalog
 * column for view bodies, index expressions or partial-index predicates).
 */

/** Quotes an identifier for SQL text (only used for schema names from `pragma_database_list`). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Index of the character after a quoted token starting at `i` (`"…"`, `'…'`, `` `…` ``, `[…]`). */
function skipQuoted(sql: string, i: number): number {
  const open = sql[i];
  const close = open === '[' ? ']' : open;
  let j = i + 1;
  while (j < sql.length) {
    if (sql[j] === close) {
      if (close !== ']' && sql[j + 1] === close) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return j;
}

const isQuote = (c: string | undefined) => c === '"' || c === "'" || c === '`' || c === '[';

/** Index of the `)` that closes the `(` at `open`, skipping quotes and nested parentheses; -1 when none. */
function matchingParen(sql: string, open: number): number {
  let depth = 0;
  for (let i = open; i < sql.length; ) {
    const c = sql[i];
    if (isQuote(c)) {
      i = skipQuoted(sql, i);
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
    i++;
  }
  return -1;
}

/** Splits on commas outside quotes and parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    if (isQuote(c)) {
      i = skipQuoted(text, i);
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
    i++;
  }
  parts.push(text.slice(start).trim());
  return parts;
}

/**
 * Moves past whitespace and one word or quoted name at `i`, returning the index after it and
 * the token (upper-cased when it is a bare word).
 */
function nextToken(sql: string, i: number): { end: number; token: string } {
  while (i < sql.length && /\s/.test(sql[i])) i++;
  if (isQuote(sql[i])) {
    const end = skipQuoted(sql, i);
    return { end, token: sql.slice(i, end) };
  }
  const m = /^[^\s("'`[.,)]+|^[(.,)]/.exec(sql.slice(i));
  if (!m) return { end: sql.length, token: '' };
  return { end: i + m[0].length, token: m[0].toUpperCase() };
}

/**
 * The SELECT of a `CREATE [TEMP] VIEW [IF NOT EXISTS] [schema.]name [(columns)] AS select`
 * statement; the whole text when it does not parse.
 */
export function viewBody(sql: string): string {
  let { end, token } = nextToken(sql, 0);
  if (token !== 'CREATE') return sql.trim();
  ({ end, token } = nextToken(sql, end));
  if (token === 'TEMP' || token === 'TEMPORARY') ({ end, token } = nextToken(sql, end));
  if (token !== 'VIEW') return sql.trim();
  ({ end, token } = nextToken(sql, end));
  if (token === 'IF') {
    ({ end } = nextToken(sql, end)); // NOT
    ({ end } = nextToken(sql, end)); // EXISTS
    ({ end, token } = nextToken(sql, end));
  }
  // token is the name (or the schema); a dot continues it.
  let after = nextToken(sql, end);
  if (after.token === '.') {
    ({ end } = nextToken(sql, after.end));
    after = nextToken(sql, end);
  }
  if (after.token === '(') {
    const close = matchingParen(sql, sql.indexOf('(', end));
    if (close < 0) return sql.trim();
    after = nextToken(sql, close + 1);
  }
  if (after.token !== 'AS') return sql.trim();
  return sql.slice(after.end).trim();
}

/** What a `CREATE [UNIQUE] INDEX … ON table (keys) [WHERE predicate]` statement says. */
export interface IndexSql {
  /** The key terms as written, without a trailing ASC/DESC. */
  keys: string[];
  predicate?: string;
}

/** Reads the key terms and the partial-index predicate of a CREATE INDEX statement; undefined when it does not parse. */
export function parseIndexSql(sql: string): IndexSql | undefined {
  // The first "(" after the ON keyword opens the key list (names are skipped token by token).
  let i = 0;
  let sawOn = false;
  while (i < sql.length) {
    const { end, token } = nextToken(sql, i);
    if (token === '') return undefined;
    if (token === 'ON') sawOn = true;
    else if (token === '(' && sawOn) {
      const open = sql.indexOf('(', i);
      const close = matchingParen(sql, open);
      if (close < 0) return undefined;
      const keys = splitTopLevel(sql.slice(open + 1, close)).map((k) => k.replace(/\s+(ASC|DESC)\s*$/i, '').trim());
      const rest = sql.slice(close + 1).trim();
      const where = /^WHERE\s+([\s\S]*)$/i.exec(rest);
      return { keys, predicate: where ? where[1].trim() : undefined };
    }
    i = end;
  }
  return undefined;
}

/** The module of a `CREATE VIRTUAL TABLE … USING module(…)` statement. */
export function virtualTableModule(sql: string | null): string | undefined {
  return sql ? /\bUSING\s+([A-Za-z_][A-Za-z0-9_]*)/i.exec(sql)?.[1]?.toLowerCase() : undefined;
}

/**
 * The type affinity of a declared column type, by SQLite's rules (datatype3.html, 3.1):
 * INT → INTEGER; CHAR, CLOB, TEXT → TEXT; BLOB or no type → BLOB; REAL, FLOA, DOUB → REAL;
 * anything else NUMERIC.
 */
export function typeAffinity(declared: string): 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC' {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'INTEGER';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'TEXT';
  if (t.includes('BLOB') || t.trim() === '') return 'BLOB';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'REAL';
  return 'NUMERIC';
}
