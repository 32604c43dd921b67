/**
 * Rows of the information_schema reads and their mapping to core's entities. Pure functions:
 * everything here is testable without a server.
 */
import type { ColumnEntity, RelationEntity } from '@sourced/core';
import type { Flavour } from './connect';

/** mysql2 returns BIGINT and DECIMAL as strings (bigNumberStrings); small integers as numbers. */
type Num = number | string;

export interface SchemaRow {
  name: string;
  comment: string | null;
  usable: Num;
}

export interface PageRow {
  schema_name: string;
  name: string;
}

export interface TableRow {
  schema_name: string;
  name: string;
  table_type: string;
  engine: string | null;
  table_rows: Num | null;
  create_time: string | null;
  update_time: string | null;
  table_collation: string | null;
  table_comment: string | null;
  create_options: string | null;
  /** The next AUTO_INCREMENT value; null when the table has no auto-increment column. */
  auto_increment: Num | null;
}

export interface ViewRow {
  schema_name: string;
  name: string;
  view_definition: string | null;
  definer: string | null;
}

export interface ColumnRow {
  schema_name: string;
  name: string;
  column_name: string;
  ordinal: Num;
  column_default: string | null;
  is_nullable: string;
  data_type: string;
  column_type: string;
  charset: string | null;
  collation: string | null;
  extra: string | null;
  column_comment: string | null;
  generation_expression: string | null;
}

export interface CheckRow {
  schema_name: string;
  name: string;
  constraint_name: string;
  check_clause: string;
  /** MariaDB 10.6+: `Column` (the check is named after its column) or `Table`; null elsewhere. */
  level?: string | null;
  /** MySQL: `YES`/`NO` (TABLE_CONSTRAINTS.ENFORCED); MariaDB always enforces. */
  enforced?: string | null;
}

/** The map key of a relation: schema and name, exactly (the server's IN lists may match case-insensitively). */
export function keyOf(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

/**
 * Compares strings by UTF-8 bytes, the order of the catalog keyset, without encoding them
 * (sorting every relation's indexes, checks and triggers by name allocated two buffers per
 * comparison). UTF-8 bytes order as code points do; UTF-16 units order differently only
 * where a surrogate (a code point above U+FFFF) meets a unit from U+E000 up.
 */
export function byteOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate && (xSurrogate ? y >= 0xe000 : x >= 0xe000)) return xSurrogate ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Whether a TABLE_TYPE is a view's. */
export function isViewType(tableType: string): boolean {
  return tableType === 'VIEW' || tableType === 'SYSTEM VIEW';
}

/** The kind of relation a TABLES row describes (partitioned: CREATE_OPTIONS says so). */
export function relationKind(t: TableRow): RelationEntity['kind'] {
  if (isViewType(t.table_type)) return 'VIEW';
  return /\bpartitioned\b/i.test(t.create_options ?? '') ? 'PARTITIONED_TABLE' : 'TABLE';
}

/** A relation without its parts yet. */
export function toRelation(t: TableRow, view: ViewRow | undefined): RelationEntity {
  const kind = relationKind(t);
  const isView = kind === 'VIEW';
  const relation: RelationEntity = {
    entity: 'relation',
    schema: t.schema_name,
    name: t.name,
    kind,
    columns: [],
    uniqueConstraints: [],
    foreignKeys: [],
    indexes: [],
    estimatedRows: isView || t.table_rows === null ? -1 : Number(t.table_rows),
  };
  // The server reports the comment of every view as 'VIEW'.
  if (t.table_comment && !(isView && t.table_comment === 'VIEW')) relation.comment = t.table_comment;
  if (t.engine) relation.engine = t.engine;
  if (t.table_collation) relation.collation = t.table_collation;
  const created = toRfc3339(t.create_time);
  if (created) relation.createdAt = created;
  const updated = toRfc3339(t.update_time);
  if (updated) relation.updatedAt = updated;
  if (view?.view_definition) relation.viewDefinition = view.view_definition;
  if (view?.definer) relation.owner = view.definer;
  if (t.auto_increment !== null && !isView) relation.autoIncrement = String(t.auto_increment);
  return relation;
}

/**
 * A catalog DATETIME (`2024-05-01 12:00:00`, in the session's UTC) as RFC 3339
 * (`2024-05-01T12:00:00Z`); undefined for NULL and zero dates.
 */
export function toRfc3339(value: string | null): string | undefined {
  if (!value || value.startsWith('0000-00-00')) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)/.exec(value);
  return m ? `${m[1]}T${m[2]}Z` : undefined;
}

/** Types whose literal defaults MySQL reports unquoted and that are printed unquoted. */
const NUMERIC_TYPES = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'integer',
  'bigint',
  'decimal',
  'numeric',
  'float',
  'double',
  'real',
  'bit',
  'year',
  'bool',
  'boolean',
]);

/**
 * The default as an SQL expression, the way MariaDB 10.2+ reports it (`'pending'`, `0`,
 * `current_timestamp()`); undefined when there is none or it is NULL. MySQL reports literals
 * unquoted and expressions with DEFAULT_GENERATED in EXTRA, so its literals are quoted here.
 */
export function toDefault(c: ColumnRow, flavour: Flavour): string | undefined {
  const value = c.column_default;
  if (value === null) return undefined;
  if (flavour === 'MariaDB') return value === 'NULL' ? undefined : value;
  if (/DEFAULT_GENERATED/i.test(c.extra ?? '') || NUMERIC_TYPES.has(c.data_type.toLowerCase())) return value;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * The values of an `enum(...)` or `set(...)` column type, in order. The server prints each
 * as a quoted literal with `''` for a quote (and, in some versions, backslash escapes).
 */
export function parseEnumValues(columnType: string): string[] | undefined {
  const m = /^(?:enum|set)\((.*)\)$/is.exec(columnType.trim());
  if (!m) return undefined;
  const body = m[1];
  const values: string[] = [];
  let i = 0;
  while (i < body.length) {
    if (body[i] !== "'") {
      i++;
      continue;
    }
    let value = '';
    i++;
    while (i < body.length) {
      const ch = body[i];
      if (ch === "'" && body[i + 1] === "'") {
        value += "'";
        i += 2;
      } else if (ch === "'") {
        i++;
        break;
      } else if (ch === '\\' && i + 1 < body.length) {
        value += body[i + 1];
        i += 2;
      } else {
        value += ch;
        i++;
      }
    }
    values.push(value);
  }
  return values;
}

/**
 * A column; `jsonChecked` marks a MariaDB JSON column (LONGTEXT with a json_valid check): it is
 * reported as declared (`json`), with what the server stores (`longtext`) as `storedType`.
 */
export function toColumn(c: ColumnRow, flavour: Flavour, jsonChecked: boolean): ColumnEntity {
  const column: ColumnEntity = {
    name: c.column_name,
    ordinal: Number(c.ordinal),
    dataType: jsonChecked ? 'json' : c.column_type,
    baseType: c.data_type,
    nullable: c.is_nullable === 'YES',
    isArray: false,
  };
  if (jsonChecked) column.storedType = c.column_type;
  const defaultValue = toDefault(c, flavour);
  if (defaultValue !== undefined) column.defaultValue = defaultValue;
  if (c.column_comment) column.comment = c.column_comment;
  const dataType = c.data_type.toLowerCase();
  if (dataType === 'enum' || dataType === 'set') {
    const values = parseEnumValues(c.column_type);
    if (values) column.enumValues = values;
  }
  const extra = c.extra ?? '';
  const generated = /\b(VIRTUAL|STORED|PERSISTENT)\s+GENERATED\b/i.exec(extra)?.[1]?.toUpperCase();
  if (generated) {
    column.generated = generated === 'VIRTUAL' ? 'VIRTUAL' : 'STORED';
    if (c.generation_expression) column.generationExpression = c.generation_expression;
  }
  if (c.charset) column.charset = c.charset;
  if (c.collation) column.collation = c.collation;
  if (extra) column.extra = extra;
  return column;
}

/** Whether a MariaDB column check is the one its JSON type alias adds: json_valid(`col`). */
export function isJsonCheck(check: Pick<CheckRow, 'constraint_name' | 'check_clause'>): boolean {
  return check.check_clause === `json_valid(\`${check.constraint_name.replace(/`/g, '``')}\`)`;
}
