/**
 * ADAPTIVE on a loaded machine (issue 18): a discovery through a proxy that adds latency and
 * then takes it away, while two processes burn every core and the daemon's own event loop
 * stalls now and then. It must never stop making progress: every relation arrives, once.
 * (The suite that hung under load did so because the latency proxy reordered bytes when its
 * event loop ran late — test/latencyProxy.order.test.ts — not because of the daemon.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource, DiscoveryStrategy, type DiscoverDataSourceResponse } from '@sourced/api';
import { startLatencyProxy, type LatencyProxy } from './harness/latencyProxy';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { registerSecret } from './support/secretScan';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

const TABLES = 250;

/** Blocks this process's event loop (the daemon's, in-process) for `ms`. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* spin */
  }
}

describe('ADAPTIVE under load', () => {
  let pg: PostgresInstance;
  let t: TestDaemon;
  let proxy: LatencyProxy;
  const burners: ChildProcess[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    registerSecret('adaptive load test password', pg.password);
    await pg.psql(`
      CREATE SCHEMA loaded AUTHORIZATION ${pg.user};
      DO $$ BEGIN
        FOR i IN 1..${TABLES} LOOP
          EXECUTE format('CREATE TABLE loaded.t%s (id bigint PRIMARY KEY, a text, b numeric(12,2), c timestamptz, d jsonb)', lpad(i::text, 4, '0'));
        END LOOP;
      END $$;
      ALTER SCHEMA loaded OWNER TO ${pg.user};
      ANALYZE;`);
    proxy = await startLatencyProxy(pg);
    t = await startTestDaemon({ sources: { maxConnectionsPerEndpoint: 4 } });
  }, 120_000);

  afterAll(async () => {
    for (const b of burners) b.kill('SIGKILL');
    await t?.stop();
    await proxy?.close();
    await pg?.destroy();
  });

  it('keeps making progress while the machine is loaded and the latency comes and goes', async () => {
    // Two processes that keep every core of this machine busy for the whole run, at the lowest
    // priority: suites running beside this one in CI keep their share of the machine.
    for (let i = 0; i < 2; i++) burners.push(spawn('nice', ['-n', '19', process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' }));
    // The daemon's event loop stalls for 20-80 ms every 100 ms.
    let n = 0;
    const stalls = setInterval(() => busy(20 + (n++ % 4) * 20), 100);
    const expected = Number(
      (await pg.psql(`SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'loaded' AND c.relkind = 'r'`)).trim(),
    );
    proxy.delayMs = 150;
    const names: string[] = [];
    const sizes: number[] = [];
    try {
      const request = {
        dataSource: DataSource.fromPartial({
          type: 'postgres',
          primary: { host: proxy.host, port: proxy.port, database: pg.database },
          credentials: { username: pg.user, password: { source: { $case: 'inlineValue', value: pg.password } } },
        }),
        filter: { includeSchemas: ['loaded'], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false },
        strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_ADAPTIVE,
        batchSize: 0,
        resumeAfter: '',
        maxEntities: 0,
        maxDurationMs: 0,
      };
      const stream = t.dataSources.discoverDataSource(request, new Metadata(), { deadline: Date.now() + 240_000 });
      for await (const e of stream as AsyncIterable<DiscoverDataSourceResponse>) {
        if (e.event?.$case !== 'batch') continue;
        names.push(...e.event.value.relations.map((r) => `${r.schema}.${r.name}`));
        const size = e.event.value.progress?.batchSize ?? 0;
        sizes.push(size);
        // Latency on and off as the batches shrink and grow, so every chunk timing is exercised.
        proxy.delayMs = size <= 25 ? 0 : sizes.length % 3 === 0 ? 150 : 0;
      }
    } finally {
      clearInterval(stalls);
      for (const b of burners.splice(0)) b.kill('SIGKILL');
      proxy.delayMs = 0;
    }
    expect(names.length).toBe(expected);
    expect(new Set(names).size).toBe(expected);
    expect(sizes.length).toBeGreaterThan(2);
  }, 300_000);
});
