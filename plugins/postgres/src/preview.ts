/**
 * PreviewTable for PostgreSQL: the table's columns from the catalog, then its first rows with
 * every value read as PostgreSQL's own text and rendered as a core {@link Cell} by the
 * column's (base) type.
 *
 * Identifiers in the SELECT are the catalog's own names (looked up again by exact schema,
 * table and column name when the rows are read, so a name that is not in the catalog never
 * reaches the SQL) quoted with {@link quoteIdent}; the limit is a bind parameter.
 *
 * The SELECT runs in a `BEGIN READ ONLY` transaction whose `SET LOCAL` settings fix the text
 * forms the rendering relies on (TimeZone UTC, DateStyle ISO, bytea_output hex,
 * extra_float_digits 3). A transaction rather than `default_transaction_read_only` on the
 * session: the settings and the read-only mode end with it, so the session (shared with the
 * catalog reads, and opened by the same code as discovery's) is left as it was, and a view
 * or function that tries to write (nextval(), an INSERT in a volatile function) is refused.
 *
 * Rendering (by the base type of a domain):
 *   int2, int4, int8, oid                → integer (exact digits)
 *   numeric                              → decimal ("NaN", "Infinity" included)
 *   float4, float8                       → float (NaN, ±Infinity; float4 as its exact binary value)
 *   bool                                 → boolean
 *   text, varchar, bpchar, name, "char", citext → text
 *   timestamptz                          → timestamp, RFC 3339 in UTC: "2024-03-01T09:30:00.123456+00:00"
 *   timestamp                            → local_timestamp: "2024-03-01T09:30:00.123456"
 *   date                                 → date
 *   time, timetz                         → time ("09:30:00+02:00")
 *   bytea                                → bytes (base64)
 *   json, jsonb                          → json (the text as stored / as jsonb prints it)
 *   arrays, composite types, hstore      → json, via `to_jsonb(col)::text` in the SELECT
 *   ranges, multiranges                  → json: `{"empty":false,"lower":"1","upper":"10",
 *                                          "lower_inclusive":true,"upper_inclusive":false}`, each
 *                                          bound the text its element's cell would hold (null when
 *                                          unbounded), `{"empty":true}`; a multirange is an array of those
 *   everything else (uuid, interval, inet, cidr, macaddr, money, enums, geometric,
 *   xml, tsvector, bit, ...)             → other (PostgreSQL's text)
 *
 * One column keeps one kind: the values RFC 3339 cannot write stay in their column's kind with
 * a fixed encoding (see {@link renderCell}): `infinity` and `-infinity` as those words; years
 * outside 0001-9999 in ISO 8601's expanded form with astronomical numbering (1 BC is `0000`,
 * 44 BC `-0043`, 10000 AD `+10000`).
 */
import { InputError, NotAllowedError, NotFoundError, type Cell, type PreviewColumnInfo, type PreviewRead, type RelationKey } from '@sourced/core';
import type { Client, QueryArrayConfig } from 'pg';
import { isConnectionError, sqlState } from './pgErrors';
import { closedByCancel, query } from './query';

/**
 * Whether a table is in one of PostgreSQL's own schemas: `pg_catalog`, `information_schema`,
 * and every `pg_*` schema (`pg_toast`, `pg_temp_N`; PostgreSQL reserves the prefix, so no
 * user schema has it). Previews and profiles refuse them unless the daemon opts in.
 */
export function isSystemTable(table: RelationKey): boolean {
  return table.schema === 'information_schema' || table.schema.startsWith('pg_');
}

/**
 * Columns of PostgreSQL's catalogs that hold credential material: password hashes (SCRAM
 * verifiers, md5), user-mapping and foreign-server options (`password=...`), connection
 * strings of subscriptions and WAL receivers, and the sample values statistics keep.
 */
const CREDENTIAL_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  'pg_catalog.pg_authid': ['rolpassword'],
  'pg_catalog.pg_shadow': ['passwd'],
  'pg_catalog.pg_user_mapping': ['umoptions'],
  'pg_catalog.pg_user_mappings': ['umoptions'],
  'pg_catalog.pg_foreign_server': ['srvoptions'],
  'pg_catalog.pg_foreign_data_wrapper': ['fdwoptions'],
  'pg_catalog.pg_subscription': ['subconninfo'],
  'pg_catalog.pg_stat_wal_receiver': ['conninfo'],
  'information_schema._pg_user_mappings': ['umoptions'],
  'information_schema._pg_foreign_servers': ['srvoptions'],
  'information_schema.user_mapping_options': ['option_value'],
  'information_schema.foreign_server_options': ['option_value'],
  // Statistics hold sample values of every analyzed column, rolpassword's included.
  'pg_catalog.pg_stats': ['most_common_vals', 'most_common_elems', 'histogram_bounds'],
  'pg_catalog.pg_statistic': ['stavalues1', 'stavalues2', 'stavalues3', 'stavalues4', 'stavalues5'],
  'pg_catalog.pg_stats_ext': ['most_common_vals'],
  'pg_catalog.pg_stats_ext_exprs': ['most_common_vals', 'most_common_elems', 'histogram_bounds'],
};

/** The credential columns of a table (masked by the engines unless configured otherwise). */
export function credentialColumns(table: RelationKey): readonly string[] {
  return CREDENTIAL_COLUMNS[`${table.schema}.${table.name}`] ?? [];
}

/**
 * A PostgreSQL identifier quoted the way `quote_ident()` does when it must: in double
 * quotes, each inner double quote doubled. Always quotes, so case and keywords are kept.
 */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('an identifier cannot contain a NUL character');
  return `"${name.replace(/"/g, '""')}"`;
}

/** The relation (table, partitioned table, view, materialized view, foreign table) $1.$2, if the user may see it. */
const RELATION_SQL = `
SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND has_schema_privilege(n.oid, 'USAGE')`;

/**
 * The columns of relation $1 in attnum order: name, type as format_type prints it, and what
 * the rendering needs of the base type (a domain's, followed down to a non-domain type) and,
 * for a range or multirange, of its element type. pg_range's `rngmultitypid` is read through
 * to_jsonb so the statement also runs on PostgreSQL 13 and older, which have no multiranges.
 */
export const COLUMNS_SQL = `
WITH RECURSIVE base AS (
  SELECT a.attnum, a.atttypid AS typid, 0 AS depth
  FROM pg_attribute a
  WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT b.attnum, t.typbasetype, b.depth + 1
  FROM base b JOIN pg_type t ON t.oid = b.typid
  WHERE t.typtype = 'd' AND b.depth < 16
)
SELECT a.attname::text AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       bt.typname::text AS base_name,
       (bn.nspname = 'pg_catalog') AS base_builtin,
       bt.typtype::text AS base_typtype,
       bt.typcategory::text AS base_category,
       et.typname::text AS element_name,
       (en.nspname = 'pg_catalog') AS element_builtin
FROM pg_attribute a
JOIN LATERAL (SELECT b.typid FROM base b WHERE b.attnum = a.attnum ORDER BY b.depth DESC LIMIT 1) last ON true
JOIN pg_type bt ON bt.oid = last.typid
JOIN pg_namespace bn ON bn.oid = bt.typnamespace
LEFT JOIN LATERAL (
  SELECT r.rngsubtype FROM pg_range r
  WHERE bt.typtype IN ('r', 'm') AND (r.rngtypid = bt.oid OR (to_jsonb(r) ->> 'rngmultitypid')::oid = bt.oid)
  LIMIT 1
) rng ON true
LEFT JOIN pg_type et ON et.oid = rng.rngsubtype
LEFT JOIN pg_namespace en ON en.oid = et.typnamespace
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;

/** The primary key's columns of relation $1, in key order (none for views and tables without one). */
const PRIMARY_KEY_SQL = `
SELECT a.attname::text AS name
FROM pg_constraint k
CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS key(attnum, pos)
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = key.attnum
WHERE k.conrelid = $1 AND k.contype = 'p'
ORDER BY key.pos`;

/** Session settings of the preview transaction: the text forms the rendering parses. */
const PREVIEW_TRANSACTION_SQL = `BEGIN READ ONLY;
SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
       set_config('bytea_output', 'hex', true), set_config('extra_float_digits', '3', true)`;

export interface RelationRow {
  oid: string;
  schema: string;
  name: string;
}

/** A column as the catalog describes it, with what rendering needs. */
export interface CatalogColumn {
  name: string;
  type: string;
  base_name: string;
  base_builtin: boolean;
  base_typtype: string;
  base_category: string;
  /** The element type of a range or multirange (null otherwise). */
  element_name?: string | null;
  element_builtin?: boolean | null;
}

/** How a value of a scalar type is rendered. */
export type ScalarRendering = 'integer' | 'decimal' | 'float4' | 'float8' | 'boolean' | 'text' | 'timestamptz' | 'timestamp' | 'date' | 'time' | 'bytes' | 'json' | 'other';

/**
 * How a column is read (`to_json`: through `to_jsonb(col)::text` in the SELECT) and rendered;
 * a range or multirange is read as PostgreSQL's text and rendered as JSON, its bounds by the
 * element's rendering (`range:date`, `multirange:integer`).
 */
export type Rendering = ScalarRendering | 'to_json' | `range:${ScalarRendering}` | `multirange:${ScalarRendering}`;

const BUILTIN_RENDERING: Record<string, ScalarRendering> = {
  int2: 'integer',
  int4: 'integer',
  int8: 'integer',
  oid: 'integer',
  numeric: 'decimal',
  float4: 'float4',
  float8: 'float8',
  bool: 'boolean',
  text: 'text',
  varchar: 'text',
  bpchar: 'text',
  name: 'text',
  char: 'text',
  timestamptz: 'timestamptz',
  timestamp: 'timestamp',
  date: 'date',
  time: 'time',
  timetz: 'time',
  bytea: 'bytes',
  json: 'json',
  jsonb: 'json',
};

/** How a column of this (base) type is read and rendered. */
export function renderingOf(c: CatalogColumn): Rendering {
  // Arrays (typcategory A; some scalar types such as point have a typelem too) and composite types.
  if (c.base_category === 'A' || c.base_typtype === 'c') return 'to_json';
  if (c.base_typtype === 'r' || c.base_typtype === 'm') {
    const element = scalarRendering(c.element_name ?? '', c.element_builtin === true);
    return c.base_typtype === 'r' ? `range:${element}` : `multirange:${element}`;
  }
  if (c.base_name === 'hstore' && !c.base_builtin) return 'to_json';
  return scalarRendering(c.base_name, c.base_builtin);
}

/** A scalar type's rendering; extension types: citext is text. */
function scalarRendering(name: string, builtin: boolean): ScalarRendering {
  if (builtin) return BUILTIN_RENDERING[name] ?? 'other';
  return name === 'citext' ? 'text' : 'other';
}

/** Reads the relation, or throws TABLE_NOT_FOUND. */
async function findRelation(conn: Client, table: RelationKey, signal: AbortSignal): Promise<RelationRow> {
  const [relation] = await query<RelationRow>(conn, RELATION_SQL, [table.schema, table.name], signal);
  if (!relation) {
    throw new NotFoundError(
      'TABLE_NOT_FOUND',
      `no table or view "${table.schema}"."${table.name}" (or its schema is not visible to this user)`,
      { metadata: { schema: table.schema, name: table.name } },
    );
  }
  return relation;
}

/** `wanted` among the catalog's columns, in that order (none when empty); an InputError naming each unknown one. */
export function pick<T extends { name: string }>(all: T[], wanted: readonly string[], relation: RelationRow): T[] {
  const byName = new Map(all.map((c) => [c.name, c]));
  const violations = [];
  const out: T[] = [];
  for (const [i, name] of wanted.entries()) {
    const column = byName.get(name);
    if (column) out.push(column);
    else violations.push({ field: `columns[${i}]`, description: `no column "${name}" in ${relation.schema}.${relation.name}; it has: ${listNames(all)}` });
  }
  if (violations.length) throw new InputError(violations, { reason: 'INVALID_REQUEST' });
  return out;
}

function listNames(all: { name: string }[], max = 100): string {
  if (all.length === 0) return '(no columns)';
  const names = all.slice(0, max).map((c) => c.name).join(', ');
  return all.length > max ? `${names} and ${all.length - max} more` : names;
}

/**
 * The columns of a table for a preview: the relation by exact schema and name, its columns
 * (attnum order, or the order of `columns`), each with its type as format_type() prints it.
 */
export async function readPreviewColumns(conn: Client, table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]> {
  const relation = await findRelation(conn, table, signal);
  const all = await query<CatalogColumn>(conn, COLUMNS_SQL, [relation.oid], signal);
  // Empty means every column here; in readPreviewRows it means none (every column masked).
  return (columns.length ? pick(all, columns, relation) : all).map(({ name, type }) => ({ name, type }));
}

/**
 * The first `read.limit` rows of `read.columns` (primary key order when there is one), every
 * value rendered as a Cell. The relation and columns are looked up in the catalog again, so
 * the SQL holds only catalog names.
 */
export async function readPreviewRows(conn: Client, read: PreviewRead, signal: AbortSignal): Promise<Cell[][]> {
  await query(conn, PREVIEW_TRANSACTION_SQL, [], signal);
  try {
    const relation = await findRelation(conn, read.table, signal);
    const [all, key] = [
      await query<CatalogColumn>(conn, COLUMNS_SQL, [relation.oid], signal),
      await query<{ name: string }>(conn, PRIMARY_KEY_SQL, [relation.oid], signal),
    ];
    const columns = pick(all, read.columns.map((c) => c.name), relation);
    const renderings = columns.map(renderingOf);
    const sql = previewSelectSql(relation, columns.map((c, i) => ({ name: c.name, toJson: renderings[i] === 'to_json' })), key.map((k) => k.name));
    const config: QueryArrayConfig = { text: sql, rowMode: 'array', types: { getTypeParser: () => (value: string) => value } };
    // query() passes its `sql` to client.query, which takes a QueryConfig as well as text.
    const rows = await query<never>(conn, config as unknown as string, [read.limit], signal);
    await query(conn, 'COMMIT', [], signal);
    return (rows as unknown as (string | null)[][]).map((row) => row.map((value, i) => renderCell(value, renderings[i] ?? 'other')));
  } catch (error) {
    if (!signal.aborted && !closedByCancel(conn) && !isConnectionError(error)) await conn.query('ROLLBACK').catch(() => undefined);
    if (sqlState(error) === '42501') {
      throw new NotAllowedError('TABLE_NOT_READABLE', `cannot read ${read.table.schema}.${read.table.name}: ${(error as Error).message}`, {
        metadata: { schema: read.table.schema, name: read.table.name },
      });
    }
    throw error;
  }
}

/**
 * `SELECT <columns> FROM <schema>.<table> [ORDER BY <key>] LIMIT $1`, every identifier quoted;
 * with no columns, `SELECT FROM ...` (rows of no values).
 */
export function previewSelectSql(relation: { schema: string; name: string }, columns: { name: string; toJson: boolean }[], key: string[]): string {
  const list = columns.map((c) => (c.toJson ? `to_jsonb(${quoteIdent(c.name)})::text` : quoteIdent(c.name))).join(', ');
  const order = key.length ? ` ORDER BY ${key.map(quoteIdent).join(', ')}` : '';
  return `SELECT ${list} FROM ${quoteIdent(relation.schema)}.${quoteIdent(relation.name)}${order} LIMIT $1`;
}

/**
 * One value, as PostgreSQL's text (TimeZone UTC, DateStyle ISO, bytea hex), as a Cell. Every
 * value of a column gets the column's kind: the instants, timestamps and dates RFC 3339 has
 * no form for keep it too, as `infinity` / `-infinity`, or with the year in ISO 8601's
 * expanded form and astronomical numbering ({@link isoYear}: 44 BC is `-0043`, 10000 AD
 * `+10000`). A range or multirange is JSON ({@link rangeJson}).
 */
export function renderCell(value: string | null, rendering: Rendering): Cell {
  if (value === null) return { kind: 'null' };
  if (rendering.startsWith('range:') || rendering.startsWith('multirange:')) {
    const [shape, element] = rendering.split(':') as ['range' | 'multirange', ScalarRendering];
    return { kind: 'json', value: rangeJson(value, shape, element) };
  }
  switch (rendering) {
    case 'integer':
      return { kind: 'integer', value };
    case 'decimal':
      return { kind: 'decimal', value };
    case 'float8':
      return { kind: 'float', value: Number(value) };
    case 'float4':
      // The float4's exact binary value (PostgreSQL prints the shortest text that identifies it).
      return { kind: 'float', value: Math.fround(Number(value)) };
    case 'boolean':
      return { kind: 'boolean', value: value === 't' || value === 'true' };
    case 'text':
      return { kind: 'text', value };
    case 'timestamptz': {
      const m = TIMESTAMPTZ.exec(value);
      // No match: `infinity` or `-infinity`, kept as they are.
      return { kind: 'timestamp', value: m ? `${isoDate(m[1], m[2], m[5])}T${m[3]}${offset(m[4])}` : value };
    }
    case 'timestamp': {
      const m = TIMESTAMP.exec(value);
      return { kind: 'local_timestamp', value: m ? `${isoDate(m[1], m[2], m[4])}T${m[3]}` : value };
    }
    case 'date': {
      const m = DATE.exec(value);
      return { kind: 'date', value: m ? isoDate(m[1], m[2], m[3]) : value };
    }
    case 'time': {
      const m = TIME.exec(value);
      return { kind: 'time', value: m ? `${m[1]}${m[2] ? offset(m[2]) : ''}` : value };
    }
    case 'bytes':
      return value.startsWith('\\x') ? { kind: 'bytes', value: Buffer.from(value.slice(2), 'hex').toString('base64') } : { kind: 'bytes', value: Buffer.from(value).toString('base64') };
    case 'json':
    case 'to_json':
      return { kind: 'json', value };
    default:
      return { kind: 'other', value };
  }
}

/**
 * ISO dates, timestamps and instants as PostgreSQL prints them with DateStyle ISO: a year of
 * four or more digits, ` BC` at the end for years before 1 AD. `infinity` and `-infinity` do
 * not match; RFC 3339 has no form for either, nor for the other years outside 0001-9999.
 */
const TIMESTAMPTZ = /^(\d{4,})(-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2}(?::\d{2}){0,2})( BC)?$/;
const TIMESTAMP = /^(\d{4,})(-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)( BC)?$/;
const DATE = /^(\d{4,})(-\d{2}-\d{2})( BC)?$/;
const TIME = /^(\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2}(?::\d{2}){0,2})?$/;

/** A date's text with its year by {@link isoYear}: `0044`, `-03-15`, ` BC` → `-0043-03-15`. */
function isoDate(year: string, monthDay: string, bc: string | undefined): string {
  return `${isoYear(Number(year), bc !== undefined)}${monthDay}`;
}

/**
 * A year in ISO 8601's numbering (astronomical: 1 BC is 0, 2 BC is -1) and form: four digits
 * for 0000-9999, a sign and at least four digits outside (`-0043`, `+10000`), as ISO 8601's
 * expanded representation and java.time write them.
 */
export function isoYear(year: number, bc: boolean): string {
  const astronomical = bc ? 1 - year : year;
  const digits = String(Math.abs(astronomical)).padStart(4, '0');
  if (astronomical < 0) return `-${digits}`;
  return astronomical > 9999 ? `+${digits}` : digits;
}

/** "+00" → "+00:00"; "+05:30" stays; an offset with seconds ("+00:19:32", historic zones) stays as PostgreSQL prints it. */
function offset(text: string): string {
  return /^[+-]\d{2}$/.test(text) ? `${text}:00` : text;
}

/** One range as JSON: whether it is empty, its bounds (element cells' text, null when unbounded) and their inclusivity. */
interface RangeJson {
  empty: boolean;
  lower?: string | null;
  upper?: string | null;
  lower_inclusive?: boolean;
  upper_inclusive?: boolean;
}

/**
 * A range or multirange from PostgreSQL's text (`[1,10)`, `empty`, `(,"2024-01-01 00:00:00+00"]`,
 * `{[1,3),[5,7)}`) as JSON: `{"empty":false,"lower":"1","upper":"10","lower_inclusive":true,
 * "upper_inclusive":false}` or `{"empty":true}`; a multirange as an array of those. Each bound
 * is the text a cell of the element type holds (integers and decimals exact, instants RFC 3339
 * or the special encodings of {@link renderCell}), null when that side is unbounded.
 */
export function rangeJson(text: string, shape: 'range' | 'multirange', element: ScalarRendering): string {
  if (shape === 'range') return JSON.stringify(parseRange(text, { at: 0 }, element));
  const cursor = { at: 1 };
  const ranges: RangeJson[] = [];
  if (text[0] !== '{') throw new Error(`not a multirange: ${text}`);
  while (cursor.at < text.length && text[cursor.at] !== '}') {
    ranges.push(parseRange(text, cursor, element));
    if (text[cursor.at] === ',') cursor.at++;
  }
  return JSON.stringify(ranges);
}

/** One range of `text` from `cursor.at`, which it moves past the range. */
function parseRange(text: string, cursor: { at: number }, element: ScalarRendering): RangeJson {
  if (text.startsWith('empty', cursor.at)) {
    cursor.at += 'empty'.length;
    return { empty: true };
  }
  const open = text[cursor.at++];
  if (open !== '[' && open !== '(') throw new Error(`not a range: ${text}`);
  const lower = parseBound(text, cursor);
  if (text[cursor.at++] !== ',') throw new Error(`not a range: ${text}`);
  const upper = parseBound(text, cursor);
  const close = text[cursor.at++];
  if (close !== ']' && close !== ')') throw new Error(`not a range: ${text}`);
  return {
    empty: false,
    lower: lower === null ? null : boundText(lower, element),
    upper: upper === null ? null : boundText(upper, element),
    lower_inclusive: lower !== null && open === '[',
    upper_inclusive: upper !== null && close === ']',
  };
}

/**
 * One bound as range_out writes it: nothing (unbounded), a bare value, or a double-quoted one
 * in which `""` is a quote and a backslash escapes the next character.
 */
function parseBound(text: string, cursor: { at: number }): string | null {
  let out = '';
  let quoted = false;
  let any = false;
  for (; cursor.at < text.length; cursor.at++) {
    const ch = text[cursor.at];
    if (quoted) {
      if (ch === '\\') out += text[++cursor.at] ?? '';
      else if (ch === '"' && text[cursor.at + 1] === '"') out += text[++cursor.at];
      else if (ch === '"') quoted = false;
      else out += ch;
    } else if (ch === '"') {
      quoted = true;
      any = true;
    } else if (ch === ',' || ch === ')' || ch === ']') {
      break;
    } else {
      out += ch;
      any = true;
    }
  }
  return any ? out : null;
}

/** A bound's text as the element's cell holds it (a float as the shortest text that reads back to it). */
function boundText(value: string, element: ScalarRendering): string {
  const cell = renderCell(value, element);
  return 'value' in cell ? String(cell.value) : value;
}
