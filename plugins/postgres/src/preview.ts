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
 * Each value is rendered by its column's (base) type as rendering.ts describes.
 */
import { InputError, NotAllowedError, NotFoundError, type Cell, type PreviewColumnInfo, type PreviewRead, type RelationKey } from '@sourced/core';
import type { Client, QueryArrayConfig } from 'pg';
import { isConnectionError, sqlState } from './pgErrors';
import { closedByCancel, query } from './query';
import { renderCell, renderingOf, type CatalogColumn } from './rendering';

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

/** Reads the relation, or throws TABLE_NOT_FOUND. */
async function findRelation(conn: Client, table: RelationKey, signal: AbortSignal): Promise<RelationRow> {
  const relation = (await query<RelationRow>(conn, RELATION_SQL, [table.schema, table.name], signal)).at(0);
  if (!relation) {
    throw new NotFoundError('TABLE_NOT_FOUND', `no table or view "${table.schema}"."${table.name}" (or its schema is not visible to this user)`, {
      metadata: { schema: table.schema, name: table.name },
    });
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
  const names = all
    .slice(0, max)
    .map((c) => c.name)
    .join(', ');
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
    const columns = pick(
      all,
      read.columns.map((c) => c.name),
      relation,
    );
    const renderings = columns.map(renderingOf);
    const sql = previewSelectSql(
      relation,
      columns.map((c, i) => ({ name: c.name, toJson: renderings[i] === 'to_json' })),
      key.map((k) => k.name),
    );
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
