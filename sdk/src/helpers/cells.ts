/**
 * Value renderers: a driver's value as the {@link Cell} of a kind, in exactly the form
 * `sourced.v1.Cell` documents (the conformance kit checks the form). The kind of a column is
 * decided by its type, never by a value: pick the renderer from the column's type, and render
 * every value of the column with it ({@link renderAs} falls back to `other` for a value that
 * does not fit, the one way a column of a dynamically typed source shows two kinds).
 */
import type { Cell } from '@sourced/core';

/** The kinds of a {@link Cell} that carry a value (`null` and `masked` carry none). */
export type ValueKind = Exclude<Cell['kind'], 'null' | 'masked'>;

/** The null cell (SQL NULL, a missing field of a document). */
export const NULL_CELL: Cell = Object.freeze({ kind: 'null' });

const INTEGER_TEXT = /^[+-]?\d+$/;
const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^(NaN|[+-]?Infinity)$/;

/**
 * An integer of any size as exact decimal digits: a `bigint`, a safe integer `number`, or
 * digit text (`"-9223372036854775808"`). Read 64-bit columns as `bigint` from your driver: a
 * `number` past 2^53 has already lost digits, so it is refused.
 *
 * @throws RangeError for a number that is not a safe integer, or text that is not digits.
 */
export function integerCell(value: bigint | number | string): Cell {
  if (typeof value === 'bigint') return { kind: 'integer', value: value.toString() };
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${value} is not a safe integer: read the column as bigint to keep every digit`);
    return { kind: 'integer', value: String(value) };
  }
  if (!INTEGER_TEXT.test(value)) throw new RangeError(`"${value}" is not an integer`);
  return { kind: 'integer', value };
}

/**
 * An exact decimal (NUMERIC, DECIMAL, Decimal128) as text: the driver's text as it is
 * (`"12345.6700"`, `"NaN"`), a `bigint`, or a `number` as the shortest text that reads back as
 * the same double (`0.1` → `"0.1"`; NaN → `"NaN"`, ±Infinity → `"Infinity"`/`"-Infinity"`).
 * Prefer the driver's text: a double has already rounded a wide decimal.
 *
 * @throws RangeError for text that is not a decimal number.
 */
export function decimalCell(value: string | bigint | number): Cell {
  if (typeof value === 'bigint') return { kind: 'decimal', value: value.toString() };
  if (typeof value === 'number') return { kind: 'decimal', value: Number.isNaN(value) ? 'NaN' : String(value) };
  if (!DECIMAL_TEXT.test(value)) throw new RangeError(`"${value}" is not a decimal number`);
  return { kind: 'decimal', value };
}

/** A binary floating-point number (REAL, DOUBLE, FLOAT); NaN and the infinities are carried as such. */
export function floatCell(value: number): Cell {
  return { kind: 'float', value };
}

/** A boolean. */
export function booleanCell(value: boolean): Cell {
  return { kind: 'boolean', value };
}

/** Character data, as stored. */
export function textCell(value: string): Cell {
  return { kind: 'text', value };
}

/** Anything else, in the source's own text form (intervals, UUIDs, enums, geometric types). */
export function otherCell(value: string): Cell {
  return { kind: 'other', value };
}

/**
 * A year in the contract's form: four digits for 0000-9999, else ISO 8601's expanded form
 * with a sign and astronomical numbering (1 BC is `0000`, 44 BC `-0043`, 10000 AD `+10000`).
 */
export function isoYear(year: number): string {
  if (year >= 0 && year <= 9999) return String(year).padStart(4, '0');
  return `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(4, '0')}`;
}

function checkedDate(value: Date | number): Date {
  const date = typeof value === 'number' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) throw new RangeError('an invalid Date has no timestamp');
  return date;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `HH:MM:SS[.mmm]` of a Date's UTC fields (milliseconds only when not zero). */
function utcTime(d: Date): string {
  const ms = d.getUTCMilliseconds();
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${ms ? `.${pad(ms, 3)}` : ''}`;
}

function utcDate(d: Date): string {
  return `${isoYear(d.getUTCFullYear())}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/**
 * An instant, RFC 3339 with its offset, in UTC: `2024-03-01T09:30:00.123+00:00` (milliseconds
 * when not zero), from a `Date` or epoch milliseconds; years outside 0000-9999 in the expanded
 * form ({@link isoYear}). For instants finer than milliseconds (microseconds, nanoseconds),
 * format the driver's text yourself and pass `{ kind: 'timestamp', value }`; for
 * `infinity`/`-infinity`, pass the word.
 *
 * @throws RangeError for an invalid Date.
 */
export function timestampCell(value: Date | number | 'infinity' | '-infinity'): Cell {
  if (value === 'infinity' || value === '-infinity') return { kind: 'timestamp', value };
  const d = checkedDate(value);
  return { kind: 'timestamp', value: `${utcDate(d)}T${utcTime(d)}+00:00` };
}

/**
 * A date and time without a zone (TIMESTAMP WITHOUT TIME ZONE, DATETIME), ISO 8601 without an
 * offset: `2024-03-01T09:30:00`. A `Date` is read by its UTC fields (drivers that hand a zoneless
 * value as a Date put its wall-clock time there when told the zone is UTC).
 *
 * @throws RangeError for an invalid Date.
 */
export function localTimestampCell(value: Date | number | 'infinity' | '-infinity'): Cell {
  if (value === 'infinity' || value === '-infinity') return { kind: 'local_timestamp', value };
  const d = checkedDate(value);
  return { kind: 'local_timestamp', value: `${utcDate(d)}T${utcTime(d)}` };
}

/**
 * A date, ISO 8601 (`2024-03-01`; expanded years outside 0000-9999), from a `Date` (its UTC
 * date) or text the source printed in that form.
 *
 * @throws RangeError for an invalid Date.
 */
export function dateCell(value: Date | number | string): Cell {
  if (typeof value === 'string') return { kind: 'date', value };
  return { kind: 'date', value: utcDate(checkedDate(value)) };
}

/** A time of day, possibly with an offset, as the source prints it: `09:30:00.5`, `09:30:00+02:00`. */
export function timeCell(value: string): Cell {
  return { kind: 'time', value };
}

/** Bytes (BLOB, BYTEA, BINARY) as base64 with padding (RFC 4648). */
export function bytesCell(value: Uint8Array): Cell {
  return { kind: 'bytes', value: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
}

/**
 * A structured value (a document, an array, a composite) as JSON text. `bigint`s become JSON
 * strings of their exact digits (JSON numbers past 2^53 would lose them), bytes become base64
 * strings, Dates RFC 3339 strings. Pass the driver's JSON text itself as
 * `{ kind: 'json', value: text }` when it has one: it is already what the source stored.
 */
export function jsonCell(value: unknown): Cell {
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    return v;
  }) as string | undefined;
  return { kind: 'json', value: text ?? 'null' };
}

/**
 * One value as a cell of its column's kind, or, when the value does not fit that kind (a text
 * in an INTEGER column of SQLite), as `other` with `fallbackText` (the source's own text of
 * it; `String(value)` by default). `null` and `undefined` are the null cell.
 *
 * ```ts
 * const kind = kindOfColumn(column.type);          // your mapping from the source's types
 * const cells = row.map((v) => renderAs(kind, v));
 * ```
 */
export function renderAs(kind: ValueKind, value: unknown, fallbackText?: string): Cell {
  if (value === null || value === undefined) return NULL_CELL;
  const other = (): Cell => ({ kind: 'other', value: fallbackText ?? (typeof value === 'string' ? value : safeText(value)) });
  try {
    switch (kind) {
      case 'integer':
        return typeof value === 'bigint' || typeof value === 'number' || typeof value === 'string' ? integerCell(value) : other();
      case 'decimal':
        return typeof value === 'bigint' || typeof value === 'number' || typeof value === 'string' ? decimalCell(value) : other();
      case 'float':
        return typeof value === 'number' ? floatCell(value) : typeof value === 'bigint' ? floatCell(Number(value)) : other();
      case 'boolean':
        return typeof value === 'boolean' ? booleanCell(value) : other();
      case 'text':
        return typeof value === 'string' ? textCell(value) : other();
      case 'timestamp':
        return value instanceof Date || typeof value === 'number' ? timestampCell(value) : other();
      case 'local_timestamp':
        return value instanceof Date || typeof value === 'number' ? localTimestampCell(value) : other();
      case 'date':
        return value instanceof Date ? dateCell(value) : other();
      case 'time':
        return typeof value === 'string' ? timeCell(value) : other();
      case 'bytes':
        return value instanceof Uint8Array ? bytesCell(value) : other();
      case 'json':
        return jsonCell(value);
      case 'other':
        return other();
    }
  } catch (error) {
    if (error instanceof RangeError) return other();
    throw error;
  }
}

function safeText(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'object' || typeof value === 'function') return (jsonCell(value) as Extract<Cell, { kind: 'json' }>).value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'symbol') return value.toString();
  return typeof value === 'string' ? value : '';
}
