/**
 * Previews of SQLite tables and views (the `preview` capability): the columns from the
 * catalog, the rows in primary-key order, each value rendered as a {@link Cell}.
 *
 * SQLite is dynamically typed: a column's declared type only gives it an *affinity*, and a
 * value keeps its own storage class (INTEGER, REAL, TEXT, BLOB, NULL). A column keeps one
 * kind, chosen by its affinity; a value whose storage class does not fit that kind is
 * rendered as `other` with SQLite's own text of it (`CAST(v AS TEXT)`, a BLOB as its literal
 * `X'00FF'`), read in the same statement: the one way a SQLite column can show two kinds:
 *
 * | affinity | storage class | cell |
 * | --- | --- | --- |
 * | INTEGER | INTEGER | `integer` (exact: read as BigInt) |
 * | REAL | REAL or INTEGER | `float` |
 * | NUMERIC | INTEGER or REAL | `decimal` (the integer exactly; a REAL as the shortest text that reads back as the same double) |
 * | TEXT | TEXT | `text` |
 * | BLOB (also no declared type) | BLOB | `bytes` (base64) |
 * | any | NULL | `null` |
 *
 * Dates and times have no storage class of their own in SQLite: they are TEXT, REAL or
 * INTEGER values, rendered as such.
 */
import { InputError, NotFoundError, type Cell, type PreviewColumnInfo, type PreviewRead, type RelationKey } from '@sourced/plugin-sdk';
import type { SqliteDatabase } from './database';
import { quoteIdentifier, typeAffinity } from './sql';

/** A column of a previewed table, with what a preview needs beyond its name and type. */
export interface SqliteColumn extends PreviewColumnInfo {
  /** Position in the primary key (1-based), 0 when not part of it. */
  pk: number;
}

/** `"schema"."table"`, both names quoted. */
export function qualified(table: RelationKey): string {
  return `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.name)}`;
}

/**
 * The columns of a table or view as the catalog gives them (hidden columns of virtual tables
 * left out; generated columns kept), or NOT_FOUND `TABLE_NOT_FOUND` when the schema (an
 * attached database) or the table is not there.
 */
export function tableColumns(db: SqliteDatabase, table: RelationKey): SqliteColumn[] {
  const schemas = db.prepare('SELECT name FROM pragma_database_list').pluck().all() as string[];
  const found =
    schemas.includes(table.schema) &&
    db.prepare(`SELECT 1 FROM ${quoteIdentifier(table.schema)}.sqlite_schema WHERE name = ? AND type IN ('table', 'view')`).get(table.name) !== undefined;
  if (!found) {
    throw new NotFoundError('TABLE_NOT_FOUND', `no table or view "${table.schema}"."${table.name}" in this file`, { metadata: { schema: table.schema, name: table.name } });
  }
  const rows = db
    .prepare('SELECT name, type, pk FROM pragma_table_xinfo(?, ?) WHERE hidden <> 1 ORDER BY cid')
    .all(table.name, table.schema) as { name: string; type: string; pk: number }[];
  return rows.map((r) => ({ name: r.name, type: r.type || 'ANY', pk: r.pk }));
}

/** `wanted` among the columns, in that order (every column when empty); an InputError naming each unknown one. */
export function pickColumns(all: SqliteColumn[], wanted: readonly string[], table: RelationKey): SqliteColumn[] {
  if (wanted.length === 0) return all;
  const byName = new Map(all.map((c) => [c.name, c]));
  const violations = wanted.flatMap((name, i) => (byName.has(name) ? [] : [{ field: `columns[${i}]`, description: `no column "${name}" in ${table.schema}.${table.name}` }]));
  if (violations.length) throw new InputError(violations, { reason: 'INVALID_REQUEST' });
  return wanted.map((name) => byName.get(name) as SqliteColumn);
}

/** ` ORDER BY <primary key>` when the table has a declared one, else nothing (a rowid table then reads in rowid order). */
export function primaryKeyOrder(columns: SqliteColumn[]): string {
  const key = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  return key.length ? ` ORDER BY ${key.map((c) => quoteIdentifier(c.name)).join(', ')}` : '';
}

/** At most `read.limit` rows of `read.columns`, in primary-key order, values read exactly (integers as BigInt). */
export function previewRows(db: SqliteDatabase, read: PreviewRead): Cell[][] {
  const all = tableColumns(db, read.table);
  if (read.columns.length === 0) {
    const n = db.prepare(`SELECT count(*) FROM (SELECT 1 FROM ${qualified(read.table)} LIMIT ?)`).pluck().get(read.limit) as number;
    return Array.from({ length: n }, () => []);
  }
  // Each column twice: its value, and SQLite's text of it (for a value that does not fit the column's kind).
  const list = read.columns.map((c) => `${quoteIdentifier(c.name)}, ${textOf(quoteIdentifier(c.name))}`).join(', ');
  const statement = db.prepare(`SELECT ${list} FROM ${qualified(read.table)}${primaryKeyOrder(all)} LIMIT ?`).raw(true).safeIntegers(true);
  const rows = statement.all(read.limit) as unknown[][];
  return rows.map((row) => read.columns.map((c, i) => renderCell(row[2 * i], String(row[2 * i + 1]), c.type)));
}

/** SQL for SQLite's text of an expression's value: `CAST(v AS TEXT)`, a BLOB as its literal `X'…'`. */
export function textOf(expression: string): string {
  return `CASE typeof(${expression}) WHEN 'blob' THEN 'X''' || hex(${expression}) || '''' ELSE CAST(${expression} AS TEXT) END`;
}

/** One value as a cell of its column's kind (see the module comment); `text` is SQLite's text of it. */
export function renderCell(value: unknown, text: string, declaredType: string): Cell {
  if (value === null || value === undefined) return { kind: 'null' };
  switch (typeAffinity(declaredType === 'ANY' ? '' : declaredType)) {
    case 'INTEGER':
      if (typeof value === 'bigint') return { kind: 'integer', value: value.toString() };
      break;
    case 'REAL':
      if (typeof value === 'number' || typeof value === 'bigint') return { kind: 'float', value: Number(value) };
      break;
    case 'NUMERIC':
      if (typeof value === 'bigint') return { kind: 'decimal', value: value.toString() };
      if (typeof value === 'number' && Number.isFinite(value)) return { kind: 'decimal', value: String(value) };
      break;
    case 'TEXT':
      if (typeof value === 'string') return { kind: 'text', value };
      break;
    case 'BLOB':
      if (Buffer.isBuffer(value)) return { kind: 'bytes', value: value.toString('base64') };
      break;
  }
  return { kind: 'other', value: text };
}
