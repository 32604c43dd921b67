/**
 * The floor: the whole benchmark catalog (relations, columns, constraints, indexes) read with
 * a handful of set-based queries through the command-line client (`psql -A -t`, `mariadb
 * --batch --quick`) into /dev/null, over TCP as the harness's account (as the daemon
 * connects), one session, one statement after the other. Best of two after a warm-up run,
 * which also warms the server's catalog caches for everything measured after.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SCHEMAS } from './catalog';
import type { SourceSpec } from './sourcedRun';

const PG_FLOOR_SQL = `
SELECT c.oid, n.nspname, c.relname, c.relkind, obj_description(c.oid, 'pg_class'), c.reltuples, pg_get_userbyid(c.relowner),
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname LIKE 'bench\\_%' AND c.relkind IN ('r', 'p', 'v', 'm', 'f');
SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE n.nspname LIKE 'bench\\_%' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped;
SELECT con.conrelid, con.conname, con.contype, con.conkey, con.confrelid::regclass::text, con.confkey, con.confupdtype, con.confdeltype
  FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
 WHERE n.nspname LIKE 'bench\\_%';
SELECT i.indrelid, i.indexrelid, i.indisunique, i.indisprimary, pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname LIKE 'bench\\_%';`;

const IN_BENCH = `IN (${SCHEMAS.map((s) => `'${s}'`).join(', ')})`;

/** information_schema as a set-based tool reads it, restricted to the bench databases. */
const MARIADB_FLOOR_SQL = `
SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_ROWS, TABLE_COLLATION, CREATE_TIME, UPDATE_TIME, TABLE_COMMENT
  FROM information_schema.TABLES WHERE TABLE_SCHEMA ${IN_BENCH};
SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA ${IN_BENCH};
SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE, COLUMN_TYPE,
       CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, COLUMN_COMMENT, GENERATION_EXPRESSION
  FROM information_schema.COLUMNS WHERE TABLE_SCHEMA ${IN_BENCH};
SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA ${IN_BENCH};
SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, ORDINAL_POSITION, REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
  FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA ${IN_BENCH};
SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE, REFERENCED_TABLE_NAME
  FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA ${IN_BENCH};
SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA ${IN_BENCH};
SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, INDEX_TYPE, IGNORED
  FROM information_schema.STATISTICS WHERE TABLE_SCHEMA ${IN_BENCH};`;

/** The shared floors' files (../shared/bench beside the project, or SOURCED_SHARED_BENCH). */
const SHARED_DIR = process.env['SOURCED_SHARED_BENCH'] ?? resolve(__dirname, '../../shared/bench');
export const SHARED_FLOOR = { postgres: join(SHARED_DIR, 'floor-postgres.sql'), mariadb: join(SHARED_DIR, 'floor-mariadb.sql') };

/** Whether the shared floors are there to run. */
export const sharedFloorsPresent = (): boolean => existsSync(SHARED_FLOOR.postgres) && existsSync(SHARED_FLOOR.mariadb);

/** Runs a client with its output going to /dev/null (its input from `stdinFile` if given); resolves with the wall time in ms. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, stdinFile?: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const devNull = openSync('/dev/null', 'w');
    const input = stdinFile === undefined ? 'ignore' : openSync(stdinFile, 'r');
    const started = performance.now();
    const child = spawn(cmd, args, { env, stdio: [input, devNull, 'pipe'] });
    closeSync(devNull);
    if (typeof input === 'number') closeSync(input);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - started;
      if (code === 0 && !stderr.trim()) resolve(ms);
      else reject(new Error(`${cmd} exited with ${code}: ${stderr.trim()}`));
    });
  });
}

/** The environment without the caller's PG* and MYSQL* variables. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG') && !k.startsWith('MYSQL')) env[k] = v;
  return { ...env, LC_ALL: 'C', LANG: 'C', ...extra };
}

function readOnce(source: SourceSpec): Promise<number> {
  if (source.type === 'postgres') {
    // Unaligned, tuples only: aligned output would cost psql a pass over every row for the widths.
    return timed(
      'psql',
      [
        '-X',
        '-q',
        '-A',
        '-t',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        source.host,
        '-p',
        String(source.port),
        '-U',
        source.user,
        '-d',
        source.database,
        '-c',
        PG_FLOOR_SQL,
      ],
      cleanEnv({ PGPASSWORD: source.password }),
    );
  }
  const client = process.env['SOURCED_MARIADB_CLIENT'] ?? 'mariadb';
  return timed(
    client,
    [
      '--no-defaults',
      '--protocol=TCP',
      '-h',
      source.host,
      '-P',
      String(source.port),
      '-u',
      source.user,
      '--batch',
      '--skip-column-names',
      '--quick',
      '-e',
      MARIADB_FLOOR_SQL,
    ],
    cleanEnv({ MYSQL_PWD: source.password }),
  );
}

/** Best of two after a warm-up, in ms. */
export async function measureFloor(source: SourceSpec): Promise<number> {
  await readOnce(source);
  const a = await readOnce(source);
  const b = await readOnce(source);
  return Math.min(a, b);
}

/**
 * The shared floor (../shared/bench, written outside this project): the cheapest honest read
 * of what a discovery returns, set-based, through the database's own client into /dev/null,
 * as its README says to run it. One run, in ms; the caller pairs runs with sourced's.
 */
export function sharedFloorOnce(source: SourceSpec): Promise<number> {
  if (source.type === 'postgres') {
    return timed(
      'psql',
      ['-X', '-h', source.host, '-p', String(source.port), '-U', source.user, '-d', source.database, '-f', SHARED_FLOOR.postgres, '-o', '/dev/null'],
      cleanEnv({ PGPASSWORD: source.password }),
    );
  }
  const client = process.env['SOURCED_MARIADB_CLIENT'] ?? 'mariadb';
  return timed(
    client,
    ['--no-defaults', '--protocol=TCP', '-h', source.host, '-P', String(source.port), '-u', source.user, '-N', '-B'],
    cleanEnv({ MYSQL_PWD: source.password }),
    SHARED_FLOOR.mariadb,
  );
}
