/**
 * Seeds the benchmark catalog (see catalog.ts) into a harness PostgreSQL or MariaDB.
 *
 * PostgreSQL: one DO block per chunk of tables, committing every 200 tables inside (one
 * transaction would run out of lock slots), two chunks at a time (two psql sessions).
 * MariaDB: one generated SQL file per chunk (`foreign_key_checks=0`, `unique_checks=0`),
 * fed with the harness's sqlFile(), one at a time. Chunks keep each client call well inside the harness's per-call time limit.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MariadbInstance } from '../test/harness/mariadb';
import type { PostgresInstance } from '../test/harness/postgres';
import {
  MARIADB_TYPES,
  PG_TYPES,
  SCHEMAS,
  extraColumns,
  hasColumnComment,
  hasForeignKey,
  hasPairIndex,
  hasTableComment,
  hasUniqueIndex,
  hasView,
  schemaOf,
} from './catalog';

/** Tables per client call; a multiple of 3, so a foreign key's target (t<i-1>) is always in the same chunk. */
const CHUNK = 1500;
/**
 * Client sessions seeding at once: two for PostgreSQL (about twice as fast on two cores),
 * one for MariaDB (its DDL is serialized inside the server; a second session only adds
 * contention: 3,000 tables took 10 s with one, 12 s with two, 20 s with three).
 */
const PG_SESSIONS = 2;
const MARIADB_SESSIONS = 1;

/**
 * mariadbd options for the benchmark server, after the harness's: the harness's 16 MiB
 * buffer pool makes every CREATE TABLE evict pages (3,000 tables: 26 s with it, 10-12 s
 * with 256 MiB). innodb_file_per_table stays on (the default: one .ibd file per table).
 */
export const MARIADB_SERVER_ARGS = ['--innodb-buffer-pool-size=256M'];

function chunks(n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let from = 1; from <= n; from += CHUNK) out.push([from, Math.min(n, from + CHUNK - 1)]);
  return out;
}

/** Runs `work` over the items, at most `limit` at once, in order of start. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const pgArray = (items: string[]) => `ARRAY[${items.map((t) => `'${t.replace(/'/g, "''")}'`).join(', ')}]`;

/**
 * The DO block for tables from..to. The conditions mirror catalog.ts (checked in TypeScript
 * below, so a change there that is not made here fails loudly).
 */
function pgChunk(from: number, to: number): string {
  return `
DO $$
DECLARE i int; s text; cols text; fk text; types text[] := ${pgArray(PG_TYPES)};
BEGIN
  FOR i IN ${from}..${to} LOOP
    s := 'bench_' || (i % 10);
    SELECT string_agg(format('c%s %s', g, types[1 + (g - 1) % 10]), ', ') INTO cols FROM generate_series(1, 6 + i % 23) g;
    fk := CASE WHEN i % 3 = 0 AND i > 1 THEN format(' CONSTRAINT fk_t%s REFERENCES %I.t%s (id)', i, 'bench_' || ((i - 1) % 10), i - 1) ELSE '' END;
    EXECUTE format('CREATE TABLE %I.t%s (id bigint PRIMARY KEY, parent_id bigint%s, %s)', s, i, fk, cols);
    EXECUTE format('CREATE INDEX ON %I.t%s (c1)', s, i);
    IF i % 2 = 0 THEN EXECUTE format('CREATE INDEX ON %I.t%s (c2, c3)', s, i); END IF;
    IF i % 5 = 0 THEN EXECUTE format('CREATE UNIQUE INDEX ON %I.t%s (c4)', s, i); END IF;
    IF i % 2 = 1 THEN EXECUTE format('COMMENT ON TABLE %I.t%s IS %L', s, i, 'bench table ' || i); END IF;
    IF i % 4 = 0 THEN EXECUTE format('COMMENT ON COLUMN %I.t%s.c1 IS %L', s, i, 'first payload column of t' || i); END IF;
    IF i % 20 = 0 THEN EXECUTE format('CREATE VIEW %I.v%s AS SELECT id, c1, c2 FROM %I.t%s', s, i, s, i); END IF;
    IF i % 200 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$;`;
}

/** Guards the hand-written conditions of pgChunk against catalog.ts. */
function checkPgMirror(): void {
  for (let i = 1; i <= 60; i++) {
    const ok =
      schemaOf(i) === `bench_${i % 10}` &&
      extraColumns(i) === 6 + (i % 23) &&
      hasForeignKey(i) === (i % 3 === 0 && i > 1) &&
      hasPairIndex(i) === (i % 2 === 0) &&
      hasUniqueIndex(i) === (i % 5 === 0) &&
      hasTableComment(i) === (i % 2 === 1) &&
      hasColumnComment(i) === (i % 4 === 0) &&
      hasView(i) === (i % 20 === 0);
    if (!ok) throw new Error('bench/seed.ts: the PostgreSQL DO block no longer matches catalog.ts');
  }
}

/** Seeds N tables into PostgreSQL; returns the time taken in ms. */
export async function seedPostgres(pg: PostgresInstance, n: number): Promise<number> {
  checkPgMirror();
  const started = performance.now();
  // Owned by the harness role, like an application's own schemas; the tables are the superuser's.
  await pg.psql(SCHEMAS.map((s) => `CREATE SCHEMA ${s}; GRANT USAGE ON SCHEMA ${s} TO ${pg.user};`).join('\n'));
  await inParallel(chunks(n), PG_SESSIONS, async ([from, to]) => {
    await pg.psql(pgChunk(from, to));
  });
  await pg.psql('ANALYZE;');
  return performance.now() - started;
}

/** CREATE TABLE (and CREATE VIEW) statements for table i in MariaDB. */
function mariadbTable(i: number): string {
  const s = schemaOf(i);
  const cols = ['id bigint NOT NULL PRIMARY KEY', 'parent_id bigint'];
  for (let g = 1; g <= extraColumns(i); g++) {
    const comment = g === 1 && hasColumnComment(i) ? ` COMMENT 'first payload column of t${i}'` : '';
    cols.push(`c${g} ${MARIADB_TYPES[(g - 1) % MARIADB_TYPES.length]}${comment}`);
  }
  cols.push('KEY ix_c1 (c1)');
  if (hasPairIndex(i)) cols.push('KEY ix_c2_c3 (c2, c3)');
  if (hasUniqueIndex(i)) cols.push('UNIQUE KEY ux_c4 (c4)');
  if (hasForeignKey(i)) cols.push(`CONSTRAINT fk_t${i} FOREIGN KEY (parent_id) REFERENCES ${schemaOf(i - 1)}.t${i - 1} (id)`);
  const comment = hasTableComment(i) ? ` COMMENT='bench table ${i}'` : '';
  let sql = `CREATE TABLE ${s}.t${i} (${cols.join(', ')}) ENGINE=InnoDB${comment};\n`;
  if (hasView(i)) sql += `CREATE VIEW ${s}.v${i} AS SELECT id, c1, c2 FROM ${s}.t${i};\n`;
  return sql;
}

/** Seeds N tables into MariaDB; returns the time taken in ms. */
export async function seedMariadb(db: MariadbInstance, n: number): Promise<number> {
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'sourced-bench-seed-'));
  try {
    await db.sql(
      SCHEMAS.map((s) => `CREATE DATABASE ${s} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; GRANT SELECT, SHOW VIEW ON ${s}.* TO '${db.user}'@'%';`).join(
        '\n',
      ),
    );
    await inParallel(chunks(n), MARIADB_SESSIONS, async ([from, to]) => {
      let sql = 'SET SESSION foreign_key_checks = 0;\nSET SESSION unique_checks = 0;\n';
      for (let i = from; i <= to; i++) sql += mariadbTable(i);
      const file = join(dir, `t${from}-${to}.sql`);
      await writeFile(file, sql);
      await db.sqlFile(file);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return performance.now() - started;
}
