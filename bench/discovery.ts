/**
 * Discovery benchmark: seeds N tables into a throwaway PostgreSQL, then measures sourced's
 * discovery through gRPC (time to the first relation, total time, relations per second, the
 * daemon's peak RSS growth) against the floor: the same catalog read with set-based queries
 * through psql into /dev/null. Reports; asserts nothing.
 *
 *   npm run bench                      # N = 1000
 *   npm run bench -- 5000 10000        # several sizes
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { DEFAULT_CONFIG, startDaemon } from '../daemon/src';
import { DataSource } from '../daemon/src/gen/sourced/v1/data_source';
import { DataSourceServiceClient, type DiscoverDataSourceResponse } from '../daemon/src/gen/sourced/v1/data_source_service';
import { startPostgres, type PostgresInstance } from '../test/harness/postgres';

const run = promisify(execFile);

/** About ten schemas, 8-30 columns, primary keys, a foreign key on every third table, one to three indexes, comments. */
async function seed(pg: PostgresInstance, tables: number): Promise<void> {
  await pg.psql(`
    DO $$
    DECLARE i int; s text; cols text; ncols int;
    BEGIN
      FOR i IN 0..9 LOOP EXECUTE format('CREATE SCHEMA IF NOT EXISTS bench_%s', i); END LOOP;
      FOR i IN 1..${tables} LOOP
        s := 'bench_' || (i % 10);
        ncols := 8 + (i % 23);
        SELECT string_agg(format('c%s %s', g, CASE g % 4 WHEN 0 THEN 'text' WHEN 1 THEN 'bigint' WHEN 2 THEN 'numeric(12,2)' ELSE 'timestamptz' END), ', ')
          INTO cols FROM generate_series(1, ncols) g;
        EXECUTE format('CREATE TABLE %I.t%s (id bigint PRIMARY KEY, parent_id bigint, %s)', s, i, cols);
        EXECUTE format('CREATE INDEX ON %I.t%s (c1)', s, i);
        IF i % 2 = 0 THEN EXECUTE format('CREATE INDEX ON %I.t%s (c2, c3)', s, i); END IF;
        IF i % 3 = 0 AND i > 1 THEN
          EXECUTE format('ALTER TABLE %I.t%s ADD FOREIGN KEY (parent_id) REFERENCES %I.t%s (id)', s, i, 'bench_' || ((i - 1) % 10), i - 1);
        END IF;
        EXECUTE format('COMMENT ON TABLE %I.t%s IS %L', s, i, 'bench table ' || i);
        -- commit in chunks: one transaction would run out of lock slots
        IF i % 200 = 0 THEN COMMIT; END IF;
      END LOOP;
    END $$;
    GRANT USAGE ON SCHEMA ${Array.from({ length: 10 }, (_, i) => `bench_${i}`).join(', ')} TO ${pg.user};
    ANALYZE;`);
}

/** The floor: every relation, column, constraint and index in four set-based queries. */
async function floor(pg: PostgresInstance): Promise<number> {
  const sql = `
    SELECT c.oid, n.nspname, c.relname, c.relkind, obj_description(c.oid, 'pg_class'), c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'bench_%' AND c.relkind IN ('r','p','v','m','f');
    SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE n.nspname LIKE 'bench_%' AND c.relkind IN ('r','p','v','m','f') AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT conrelid, conname, contype, conkey, confrelid, confkey FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname LIKE 'bench_%';
    SELECT indrelid, indexrelid, pg_get_indexdef(indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'bench_%';`;
  const started = performance.now();
  await run('psql', ['-X', '-q', '-h', pg.host, '-p', String(pg.port), '-U', pg.user, '-d', pg.database, '-c', sql, '-o', '/dev/null'], {
    env: { ...process.env, PGPASSWORD: pg.password },
    maxBuffer: 1 << 30,
  });
  return performance.now() - started;
}

async function discover(address: string, pg: PostgresInstance, batchSize: number) {
  const client = new DataSourceServiceClient(address, credentials.createInsecure());
  const dataSource = DataSource.fromPartial({
    type: 'postgres',
    primary: { host: pg.host, port: pg.port, database: pg.database },
    credentials: { username: pg.user, password: { source: { $case: 'inlineValue', value: pg.password } } },
  });
  const started = performance.now();
  let first = 0;
  let relations = 0;
  let columns = 0;
  const stream = client.discoverDataSource({ dataSource, batchSize, strategy: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0, filter: { includeSchemas: ['bench_*'], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false } }, new Metadata());
  for await (const e of stream as AsyncIterable<DiscoverDataSourceResponse>) {
    if (e.event?.$case === 'batch') {
      if (!first) first = performance.now() - started;
      relations += e.event.value.relations.length;
      for (const r of e.event.value.relations) columns += r.columns.length;
    }
  }
  client.close();
  return { first, total: performance.now() - started, relations, columns };
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  if (sizes.length === 0) sizes.push(1000);
  const daemon = await startDaemon({ config: { ...structuredClone(DEFAULT_CONFIG), listen: '127.0.0.1:0', logLevel: 'warn' }, logSink: () => undefined, env: {} });
  const rows: string[] = [];
  try {
    for (const n of sizes) {
      const pg = await startPostgres();
      try {
        process.stderr.write(`seeding ${n} tables...\n`);
        await seed(pg, n);
        await floor(pg); // warm the catalog caches for both sides
        const floorMs = Math.min(await floor(pg), await floor(pg));
        for (const batch of [100, 500]) {
          const rssBefore = process.memoryUsage().rss;
          let peak = rssBefore;
          const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
          const r = await discover(daemon.address, pg, batch);
          clearInterval(sampler);
          rows.push(
            `| ${n} | ${batch} | ${r.relations} | ${r.first.toFixed(0)} | ${r.total.toFixed(0)} | ${((r.relations / r.total) * 1000).toFixed(0)} | ${floorMs.toFixed(0)} | ${(r.total / floorMs).toFixed(2)} | ${((peak - rssBefore) / 2 ** 20).toFixed(1)} |`,
          );
        }
      } finally {
        await pg.destroy();
      }
    }
  } finally {
    await daemon.stop();
  }
  process.stdout.write(
    [
      '| tables | batch | relations | first batch ms | total ms | relations/s | floor ms (psql) | total / floor | RSS growth MiB (client and daemon in one process) |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
    ].join('\n') + '\n',
  );
}

void main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exitCode = 1;
});
