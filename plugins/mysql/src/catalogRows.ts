/**
 * Rows of the information_schema reads and their mapping to core's entities. Pure functions:
 * everything here is testable without a server.
 */
import type { ColumnEntity, ForeignKeyEntity, IndexEntity, KeyConstraintEntity, PartitionEntity, RelationEntity } from '@sourced/core';
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

export interface IndexRow {
  schema_name: string;
  name: string;
  index_name: string;
  non_unique: Num;
  seq: Num;
  column_name: string | null;
  sub_part: Num | null;
  index_type: string;
  /** 'A' ascending, 'D' descending, null (FULLTEXT, HASH). */
  collation: string | null;
  expression: string | null;
  invisible: Num;
}

export interface ForeignKeyRow {
  schema_name: string;
  name: string;
  constraint_name: string;
  column_name: string;
  ordinal: Num;
  ref_schema: string;
  ref_table: string;
  ref_column: string;
}

export interface ForeignKeyRuleRow {
  schema_name: string;
  name: string;
  constraint_name: string;
  update_rule: string;
  delete_rule: string;
}

export interface PartitionRow {
  schema_name: string;
  name: string;
  partition_name: string;
  subpartition_name: string | null;
  ordinal: Num;
  method: string | null;
  submethod: string | null;
  expression: string | null;
  subexpression: string | null;
  description: string | null;
  table_rows: Num | null;
}

export interface CheckRow {
  schema_name: string;
  name: string;
  constraint_name: string;
  check_clause: string;
}

/** The map key of a relation: schema and name, exactly (the server's IN lists may match case-insensitively). */
export function keyOf(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

/** Compares strings by UTF-8 bytes, the order of the catalog keyset. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
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

/** A column; `jsonChecked` marks a MariaDB JSON column (LONGTEXT with a json_valid check). */
export function toColumn(c: ColumnRow, flavour: Flavour, jsonChecked: boolean): ColumnEntity {
  const column: ColumnEntity = {
    name: c.column_name,
    ordinal: Number(c.ordinal),
    dataType: jsonChecked ? 'json' : c.column_type,
    baseType: c.data_type,
    nullable: c.is_nullable === 'YES',
    isArray: false,
  };
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
export function isJsonCheck(check: CheckRow): boolean {
  return check.check_clause === `json_valid(\`${check.constraint_name.replace(/`/g, '``')}\`)`;
}

/** Quotes an identifier for a definition string. */
function quoteId(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** The indexes of one relation (rows of STATISTICS), with the primary key and unique constraints they back. */
export function toIndexes(rows: IndexRow[], flavour: Flavour): { indexes: IndexEntity[]; primaryKey?: KeyConstraintEntity; unique: KeyConstraintEntity[] } {
  const byName = new Map<string, IndexRow[]>();
  for (const r of rows) {
    const parts = byName.get(r.index_name) ?? [];
    parts.push(r);
    byName.set(r.index_name, parts);
  }
  const indexes: IndexEntity[] = [];
  let primaryKey: KeyConstraintEntity | undefined;
  const unique: KeyConstraintEntity[] = [];
  for (const [name, parts] of [...byName].sort(([a], [b]) => byteOrder(a, b))) {
    parts.sort((a, b) => Number(a.seq) - Number(b.seq));
    const first = parts[0];
    const columns = parts.map((p) => p.column_name ?? p.expression ?? '');
    // As the server reports SUB_PART: MariaDB says 32 for the key part of a SPATIAL index (the
    // bytes of its bounding box), which SHOW CREATE TABLE does not print (indexDefinition).
    const prefixLengths = parts.map((p) => (p.sub_part === null ? 0 : Number(p.sub_part)));
    const isUnique = Number(first.non_unique) === 0;
    const isPrimary = name === 'PRIMARY';
    const invisible = Number(first.invisible) === 1;
    indexes.push({
      name,
      columns,
      unique: isUnique,
      primary: isPrimary,
      method: first.index_type,
      definition: indexDefinition(name, parts, prefixLengths, isUnique, isPrimary, invisible, flavour),
      prefixLengths,
      invisible,
    });
    if (isPrimary) primaryKey = { name, columns };
    else if (isUnique) unique.push({ name, columns });
  }
  return { indexes, primaryKey, unique };
}

/**
 * The index as SHOW CREATE TABLE would print it: `PRIMARY KEY (...)`, `UNIQUE KEY`,
 * `FULLTEXT KEY`, `SPATIAL KEY` or `KEY`, key parts with prefix lengths, expressions in
 * parentheses and DESC, `USING BTREE|HASH`, and IGNORED (MariaDB) or INVISIBLE (MySQL).
 */
function indexDefinition(
  name: string,
  parts: IndexRow[],
  prefixLengths: number[],
  isUnique: boolean,
  isPrimary: boolean,
  invisible: boolean,
  flavour: Flavour,
): string {
  const type = parts[0].index_type.toUpperCase();
  const kind = isPrimary ? 'PRIMARY KEY' : type === 'FULLTEXT' ? 'FULLTEXT KEY' : type === 'SPATIAL' ? 'SPATIAL KEY' : isUnique ? 'UNIQUE KEY' : 'KEY';
  const keyParts = parts.map((p, i) => {
    const base = p.column_name !== null ? quoteId(p.column_name) : `(${p.expression ?? ''})`;
    const prefix = prefixLengths[i] > 0 && type !== 'SPATIAL' ? `(${prefixLengths[i]})` : '';
    const desc = p.collation === 'D' ? ' DESC' : '';
    return `${base}${prefix}${desc}`;
  });
  const using = type === 'BTREE' || type === 'HASH' ? ` USING ${type}` : '';
  const hidden = invisible ? (flavour === 'MariaDB' ? ' IGNORED' : ' INVISIBLE') : '';
  return `${kind}${isPrimary ? '' : ` ${quoteId(name)}`} (${keyParts.join(',')})${using}${hidden}`;
}

/**
 * The foreign keys of one relation (rows of KEY_COLUMN_USAGE) with their actions (from
 * REFERENTIAL_CONSTRAINTS). An action the server does not show the account is empty.
 */
export function toForeignKeys(rows: ForeignKeyRow[], ruleOf: (constraint: string) => ForeignKeyRuleRow | undefined): ForeignKeyEntity[] {
  const byName = new Map<string, ForeignKeyRow[]>();
  for (const r of rows) {
    const parts = byName.get(r.constraint_name) ?? [];
    parts.push(r);
    byName.set(r.constraint_name, parts);
  }
  return [...byName]
    .sort(([a], [b]) => byteOrder(a, b))
    .map(([name, parts]) => {
      parts.sort((a, b) => Number(a.ordinal) - Number(b.ordinal));
      const rule = ruleOf(name);
      return {
        name,
        columns: parts.map((p) => p.column_name),
        referencedSchema: parts[0].ref_schema,
        referencedTable: parts[0].ref_table,
        referencedColumns: parts.map((p) => p.ref_column),
        onUpdate: rule?.update_rule ?? '',
        onDelete: rule?.delete_rule ?? '',
      };
    });
}

/**
 * The partitions of one relation (rows of PARTITIONS, one per subpartition when there are
 * any) and the partition key: `RANGE (year(sold_on))`, with `SUBPARTITION BY HASH (...)`.
 */
export function toPartitions(rows: PartitionRow[]): { partitions: PartitionEntity[]; key?: string } {
  const byName = new Map<string, PartitionRow[]>();
  for (const r of rows) {
    const parts = byName.get(r.partition_name) ?? [];
    parts.push(r);
    byName.set(r.partition_name, parts);
  }
  const partitions = [...byName].map(([name, parts]): PartitionEntity => {
    const first = parts[0];
    return {
      name,
      method: first.submethod ? `${first.method ?? ''}/${first.submethod}` : (first.method ?? ''),
      expression: first.subexpression ? `${first.expression ?? ''}/${first.subexpression}` : (first.expression ?? ''),
      description: first.description ?? '',
      estimatedRows: parts.reduce((sum, p) => sum + (p.table_rows === null ? 0 : Number(p.table_rows)), 0),
      ordinal: Number(first.ordinal),
    };
  });
  partitions.sort((a, b) => a.ordinal - b.ordinal);
  const first = rows.at(0);
  if (!first) return { partitions };
  const key = `${first.method ?? ''} (${first.expression ?? ''})${first.submethod ? ` SUBPARTITION BY ${first.submethod} (${first.subexpression ?? ''})` : ''}`;
  return { partitions, key };
}
