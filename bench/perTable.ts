/**
 * The per-table approach of reflection-based tools (what SQLAlchemy-style inspectors do
 * table by table): list the relations, then for every relation one query per kind (columns,
 * primary key and unique constraints, foreign keys, indexes), sequentially over one
 * connection (`pg` / `mysql2`, TCP, the harness's account). Rows are fetched and dropped.
 *
 * On big catalogs this is slow, so it stops after a time budget and extrapolates linearly
 * from the relations it read (`estimated: true`).
 */
import { Client } from 'pg';
import { createConnection } from 'mysql2/promise';
import { SCHEMAS } from './catalog';
import type { SourceSpec } from './sourcedRun';

export interface PerTableResult {
  /** Measured, or extrapolated when `estimated`. */
  ms: number;
  estimated: boolean;
  relations: number;
  /** Relations actually read before the budget ran out. */
  read: number;
  queries: number;
}

const PG_LIST = `
SELECT c.oid, n.nspname, c.relname, obj_description(c.oid, 'pg_class') AS comment
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
 ORDER BY n.nspname, c.relname`;

/** One query per kind, by the relation's oid (as SQLAlchemy 1.x's PostgreSQL inspector). */
const PG_PER_TABLE = [
  `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
          (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
          col_description(a.attrelid, a.attnum)
     FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
  `SELECT con.conname, con.contype,
          ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)
     FROM pg_constraint con WHERE con.conrelid = $1 AND con.contype IN ('p', 'u')`,
  `SELECT con.conname, pg_get_constraintdef(con.oid, true), n.nspname, c.relname
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE con.conrelid = $1 AND con.contype = 'f'`,
  `SELECT i.relname, ix.indisunique, ix.indisprimary, am.amname, pg_get_indexdef(ix.indexrelid)
     FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_am am ON am.oid = i.relam
    WHERE ix.indrelid = $1`,
];

/**
 * One query per kind, by (schema, name) equality on both sides of every join, so MariaDB
 * opens only that table for each information_schema table.
 */
const MARIADB_PER_TABLE: Array<[sql: string, bindsSchemaAndNameTimes: number]> = [
  [
    `SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLUMN_COMMENT, CHARACTER_SET_NAME, COLLATION_NAME
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    1,
  ],
  [
    `SELECT tc.CONSTRAINT_NAME, tc.CONSTRAINT_TYPE, k.COLUMN_NAME
     FROM information_schema.TABLE_CONSTRAINTS tc
     JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
    WHERE tc.TABLE_SCHEMA = ? AND tc.TABLE_NAME = ? AND k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ?
      AND tc.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE')
    ORDER BY tc.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    2,
  ],
  [
    `SELECT k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE
     FROM information_schema.KEY_COLUMN_USAGE k
     JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
    WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND r.CONSTRAINT_SCHEMA = ? AND r.TABLE_NAME = ?
      AND k.REFERENCED_TABLE_NAME IS NOT NULL
    ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    2,
  ],
  [
    `SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, INDEX_TYPE
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    1,
  ],
];

/** Reads relations one by one until done or the budget is spent; extrapolates the rest. */
async function walk<T>(list: T[], budgetMs: number, started: number, listMs: number, readOne: (item: T) => Promise<number>): Promise<PerTableResult> {
  let read = 0;
  let queries = 1;
  const loopStart = performance.now();
  for (const item of list) {
    queries += await readOne(item);
    read++;
    if (performance.now() - started > budgetMs && read < list.length) break;
  }
  const loopMs = performance.now() - loopStart;
  if (read === list.length) return { ms: performance.now() - started, estimated: false, relations: list.length, read, queries };
  return { ms: listMs + (loopMs / read) * list.length, estimated: true, relations: list.length, read, queries };
}

async function perTablePostgres(source: SourceSpec, budgetMs: number): Promise<PerTableResult> {
  const client = new Client({ host: source.host, port: source.port, user: source.user, password: source.password, database: source.database });
  await client.connect();
  try {
    const started = performance.now();
    const { rows } = await client.query<{ oid: number }>(PG_LIST, [SCHEMAS]);
    const listMs = performance.now() - started;
    return await walk(rows, budgetMs, started, listMs, async (r) => {
      for (const sql of PG_PER_TABLE) await client.query(sql, [r.oid]);
      return PG_PER_TABLE.length;
    });
  } finally {
    await client.end();
  }
}

async function perTableMariadb(source: SourceSpec, budgetMs: number): Promise<PerTableResult> {
  const conn = await createConnection({ host: source.host, port: source.port, user: source.user, password: source.password, database: source.database });
  try {
    const started = performance.now();
    // Names per database, as SQLAlchemy's get_table_names / get_view_names (SHOW FULL TABLES).
    const list: Array<[string, string]> = [];
    for (const schema of SCHEMAS) {
      const [rows] = await conn.query(`SHOW FULL TABLES FROM \`${schema}\``);
      for (const row of rows as Array<Record<string, string>>) list.push([schema, Object.values(row)[0]]);
    }
    const listMs = performance.now() - started;
    const result = await walk(list, budgetMs, started, listMs, async ([schema, name]) => {
      for (const [sql, times] of MARIADB_PER_TABLE) await conn.query(sql, times === 2 ? [schema, name, schema, name] : [schema, name]);
      return MARIADB_PER_TABLE.length;
    });
    return { ...result, queries: result.queries + SCHEMAS.length - 1 };
  } finally {
    await conn.end();
  }
}

/** The per-table approach against the source, stopping after `budgetMs` (then extrapolated). */
export function measurePerTable(source: SourceSpec, budgetMs: number): Promise<PerTableResult> {
  return source.type === 'postgres' ? perTablePostgres(source, budgetMs) : perTableMariadb(source, budgetMs);
}
