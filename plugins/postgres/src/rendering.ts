/**
 * How PostgreSQL values become core {@link Cell}s: each column's rendering, decided by its
 * (base) type, and the rendering of one value from PostgreSQL's own text (TimeZone UTC,
 * DateStyle ISO, bytea_output hex, extra_float_digits 3; the preview and profile queries set
 * them). Used by previews (preview.ts) and profiles (profile.ts).
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
import type { Cell } from '@sourced/core';

/** A column as the catalog describes it (a row of preview.ts's COLUMNS_SQL), with what rendering needs. */
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
export type ScalarRendering =
  'integer' | 'decimal' | 'float4' | 'float8' | 'boolean' | 'text' | 'timestamptz' | 'timestamp' | 'date' | 'time' | 'bytes' | 'json' | 'other';

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
      return value.startsWith('\\x')
        ? { kind: 'bytes', value: Buffer.from(value.slice(2), 'hex').toString('base64') }
        : { kind: 'bytes', value: Buffer.from(value).toString('base64') };
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
