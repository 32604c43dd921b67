/**
 * Rows of the key and index reads (STATISTICS, KEY_COLUMN_USAGE, REFERENTIAL_CONSTRAINTS,
 * PARTITIONS) and their mapping to core's entities. Pure functions, testable without a server.
 */
import type { ForeignKeyEntity, IndexEntity, KeyConstraintEntity, PartitionEntity } from '@sourced/core';
import { byteOrder } from './catalogRows';
import type { Flavour } from './connect';

/** mysql2 returns BIGINT and DECIMAL as strings (bigNumberStrings); small integers as numbers. */
type Num = number | string;

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
  index_comment: string | null;
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
    const index: IndexEntity = {
      name,
      columns,
      unique: isUnique,
      primary: isPrimary,
      method: first.index_type,
      definition: indexDefinition(name, parts, prefixLengths, isUnique, isPrimary, invisible, flavour),
      prefixLengths,
      invisible,
    };
    // STATISTICS.COLLATION: A, D, or NULL where the index keeps no order (FULLTEXT, HASH).
    if (parts.every((p) => p.collation === 'A' || p.collation === 'D')) index.sortOrders = parts.map((p) => (p.collation === 'D' ? 'DESC' : 'ASC'));
    if (first.index_comment) index.comment = first.index_comment;
    // A PRIMARY KEY or UNIQUE constraint is the index of the same name.
    if (isUnique) index.constraintName = name;
    indexes.push(index);
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
