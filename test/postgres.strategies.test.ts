/**
 * Discovery strategies against a PostgreSQL of the test's own (statement logging on), with
 * a catalog of a few hundred wide tables: ADAPTIVE follows the source's latency (through a proxy that adds it), a slow client stops the reads, no
 * transaction stays open between batches, and concurrent discoveries stay within the
 * daemon's connection limit. That each preset's statement timeout reaches every session is
 * a case every connector shares (connectors.strategy.test.ts).
 */
import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { Client } from 'pg';
import { AbortedError, compileFilter, DEFAULT_SAMPLING, type RelationKey } from '../core/src';
import { KeyWindow, readRelations } from '../plugins/postgres/src/catalog';
import { query } from '../plugins/postgres/src/query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from '@sourced/api';
import type { DiscoverDataSourceRequest, DiscoverDataSourceResponse } from '@sourced/api';
import { DiscoveryStrategy, type DiscoveryBatch } from '@sourced/api';
import { startLatencyProxy, type LatencyProxy } from './harness/latencyProxy';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { statementLog } from './support/pgStatementLog';
import { registerSecret } from './support/secretScan';
import { collect, startTestDaemon, type TestDaemon } from './support/testDaemon';

const TABLES = 700;
const COLUMNS = 30;

function source(pg: PostgresInstance, at: { host: string; port: number } = pg): DataSource {
  return DataSource.fromPartial({
    type: 'postgres',
    primary: { host: at.host, port: at.port, database: pg.database },
    credentials: { username: pg.user, password: { source: { $case: 'inlineValue', value: pg.password } } },
  });
}

function request(dataSource: DataSource, over: Partial<DiscoverDataSourceRequest> = {}): DiscoverDataSourceRequest {
  return {
    dataSource,
    filter: { includeSchemas: ['wide'], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false },
    strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED,
    batchSize: 0,
    resumeAfter: '',
    maxEntities: 0,
    maxDurationMs: 0,
    ...over,
  };
}

const batchesOf = (events: DiscoverDataSourceResponse[]): DiscoveryBatch[] => events.flatMap((e) => (e.event?.$case === 'batch' ? [e.event.value] : []));
const relationCount = (events: DiscoverDataSourceResponse[]) => batchesOf(events).reduce((n, b) => n + b.relations.length, 0);

/** The daemon's sessions as the server sees them. */
async function daemonSessions(pg: PostgresInstance) {
  const out = await pg.psql(
    `SELECT pid, state, coalesce(xact_start::text, '-'), coalesce(backend_xmin::text, '-') FROM pg_stat_activity WHERE application_name = 'sourced' ORDER BY pid`,
  );
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, state, xactStart, xmin] = line.split('|');
      return { pid, state, xactStart, xmin };
    });
}

describe('discovery strategies on PostgreSQL', () => {
  let pg: PostgresInstance;
  let t: TestDaemon;

  beforeAll(async () => {
    pg = await startPostgres({ extraConf: { log_statement: 'all', log_line_prefix: '%m [%p] %a ' } });
    registerSecret('strategy test password', pg.password);
    const cols = Array.from({ length: COLUMNS }, (_, i) => `c${i} ${['text', 'bigint', 'numeric(12,2)', 'timestamptz'][i % 4]}`).join(', ');
    await pg.psql(`
      CREATE SCHEMA wide AUTHORIZATION ${pg.user};
      DO $$ BEGIN
        FOR i IN 1..${TABLES} LOOP
          EXECUTE format('CREATE TABLE wide.t%s (id bigint PRIMARY KEY, ${cols})', lpad(i::text, 4, '0'));
          EXECUTE format('COMMENT ON TABLE wide.t%s IS %L', lpad(i::text, 4, '0'), 'a wide table for strategy tests, number ' || i);
        END LOOP;
      END $$;
      ALTER SCHEMA wide OWNER TO ${pg.user};
      ANALYZE;`);
    t = await startTestDaemon({ sources: { maxConnectionsPerEndpoint: 4 } });
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    await pg?.destroy();
  });

  // Each strategy's statement timeout on every session: shared by every connector, connectors.strategy.test.ts.

  it('reads the same catalog whatever the strategy, parallel or not', async () => {
    const gentle = await t.discover(request(source(pg), { strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_CONSERVATIVE }));
    const fast = await t.discover(request(source(pg), { strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_AGGRESSIVE }));
    const relations = (events: DiscoverDataSourceResponse[]) => batchesOf(events).flatMap((b) => b.relations);
    expect(relations(fast)).toHaveLength(TABLES);
    expect(relations(fast)).toEqual(relations(gentle));
    expect(relations(fast)[0].columns).toHaveLength(COLUMNS + 1);
    // progress knows the total from the start, and counts up to it
    const progress = batchesOf(fast).map((b) => b.progress);
    expect(progress.every((p) => p?.total === TABLES)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ relations: TABLES, tables: TABLES, views: 0, batchSize: 1000, concurrency: 4 });
  });

  it('says when its entity limit stopped it, and the total is the limit', async () => {
    const events = await t.discover(request(source(pg), { maxEntities: 250 }));
    expect(relationCount(events)).toBe(250);
    expect(batchesOf(events).at(-1)?.progress?.total).toBe(250);
    const summary = events.at(-1)?.event;
    expect(summary?.$case === 'summary' && summary.value).toMatchObject({ relations: 250, stoppedEarly: true, stopReason: 'MAX_ENTITIES' });
  });

  it('stops reading while the client does not read, and holds no transaction between batches', async () => {
    const spans = () => t.spans.getFinishedSpans().filter((s) => s.name === 'sourced.discovery.batch').length;
    const before = spans();
    const stream: ClientReadableStream<DiscoverDataSourceResponse> = t.dataSources.discoverDataSource(request(source(pg), { batchSize: 10 }), new Metadata());
    const received: DiscoverDataSourceResponse[] = [];
    const firstBatch = new Promise<void>((resolve) => {
      stream.on('data', (e: DiscoverDataSourceResponse) => {
        received.push(e);
        if (e.event?.$case === 'batch' && batchesOf(received).length === 1) {
          stream.pause();
          resolve();
        }
      });
    });
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    await firstBatch;
    // 71 reads of 10 wide tables each. While the client sits on the first batch, the daemon
    // reads only until the transport is full (grpc-js buffers 16 messages on the client side,
    // HTTP/2 a window's worth, the engine one page ahead), then stops: the count stays put
    // for a whole second (on a loaded machine filling the transport may take more than one).
    let settled = spans() - before;
    for (let i = 0; i < 15; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = spans() - before;
      if (now === settled) break;
      settled = now;
    }
    const readAfterASecondMore = await new Promise<number>((r) => setTimeout(() => r(spans() - before), 1000));
    expect(readAfterASecondMore).toBe(settled);
    expect(settled).toBeLessThan(TABLES / 10 / 2);
    // ...and its sessions are idle outside any transaction: nothing blocks VACUUM or DDL
    const sessions = await daemonSessions(pg);
    expect(sessions.length).toBeGreaterThan(0);
    for (const s of sessions) expect(s).toMatchObject({ state: 'idle', xactStart: '-', xmin: '-' });
    stream.resume();
    await ended;
    expect(relationCount(received)).toBe(TABLES);
    expect(spans() - before).toBe(TABLES / 10 + 1);
  }, 60_000);

  it('leaves out a table dropped mid-run, without a short page, and never blocks the DROP', async () => {
    await pg.psql('CREATE TABLE wide.t0650_doomed (id int PRIMARY KEY)');
    const stream = t.dataSources.discoverDataSource(request(source(pg), { batchSize: 10 }), new Metadata());
    let dropped = false;
    const events = await collectWith(stream, (e) => {
      if (dropped || e.event?.$case !== 'batch') return;
      dropped = true;
      stream.pause();
      // The daemon has read the keys of the next pages already, the doomed table's among them.
      void pg.psql('DROP TABLE wide.t0650_doomed').then(() => stream.resume());
    });
    const names = batchesOf(events).flatMap((b) => b.relations.map((r) => r.name));
    expect(names).toHaveLength(TABLES);
    expect(names).not.toContain('t0650_doomed');
    // every page but the last is full: a dropped relation does not end the run early
    expect(
      batchesOf(events)
        .slice(0, -1)
        .every((b) => b.relations.length === 10),
    ).toBe(true);
  });

  /** Keys are read ten pages ahead; a relation dropped after its key was read is skipped and the page topped up. */
  it('tops a page up when a relation read ahead was dropped before its page', async () => {
    const client = new Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database });
    await client.connect();
    try {
      await pg.psql('CREATE TABLE wide.t0015_doomed (id int PRIMARY KEY)');
      const window = new KeyWindow();
      const filter = compileFilter({ includeSchemas: ['wide'], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false });
      const signal = new AbortController().signal;
      const page = (after?: RelationKey) => readRelations(client, { filter, after, limit: 10, concurrency: 1, sampling: DEFAULT_SAMPLING }, signal, [], window);
      const first = await page();
      expect(first.map((r) => r.name)).toEqual(Array.from({ length: 10 }, (_, i) => `t${String(i + 1).padStart(4, '0')}`));
      // the window holds the doomed table's key now; it goes before its page is read
      await pg.psql('DROP TABLE wide.t0015_doomed');
      const second = await page(first.at(-1));
      expect(second.map((r) => r.name)).toEqual(Array.from({ length: 10 }, (_, i) => `t${String(i + 11).padStart(4, '0')}`));
    } finally {
      await client.end();
    }
  });

  /**
   * A page that names the next one starts that page's queries as soon as its own have answered,
   * before it is returned (the first of them goes ahead of a statement given right after); the
   * call for that page takes them and sends none of its own, and a call for another page drops
   * them and reads its own. Every page holds what it should either way.
   */
  it('reads the page named next while this one is mapped, and only for the call that asks for it', async () => {
    const application = 'sourced-ahead-test';
    const client = new Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database, application_name: application });
    await client.connect();
    const statements = statementLog(pg.logFile, application);
    const relationsQueries = (log: string[]) => log.filter((q) => /pg_get_userbyid\(c\.relowner\)/.test(q)).length;
    const columnsQueries = (log: string[]) => log.filter((q) => /json_agg\(json_build_array\(\s+a\.attnum/.test(q)).length;
    const tableNames = (from: number, n: number) => Array.from({ length: n }, (_, i) => `t${String(from + i).padStart(4, '0')}`);
    try {
      const window = new KeyWindow();
      const filter = compileFilter({ includeSchemas: ['wide'], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false });
      const signal = new AbortController().signal;
      const page = (after: RelationKey | undefined, limit: number, next?: number) =>
        readRelations(
          client,
          { filter, after, limit, concurrency: 1, sampling: DEFAULT_SAMPLING, ...(next ? { next: { limit: next } } : {}) },
          signal,
          [],
          window,
        );
      await statements();
      const first = await page(undefined, 10, 10);
      await query(client, "SELECT 'given after the first page' AS marker", [], signal);
      expect(first.map((r) => r.name)).toEqual(tableNames(1, 10));
      const second = await page(first.at(-1), 10);
      expect(second.map((r) => r.name)).toEqual(tableNames(11, 10));
      const log = await statements();
      const marker = log.findIndex((q) => q.includes('given after the first page'));
      expect(marker).toBeGreaterThan(0);
      // the first page's relations and columns, then the second page's relations before the marker
      expect(relationsQueries(log.slice(0, marker))).toBe(2);
      expect(columnsQueries(log.slice(0, marker))).toBe(1);
      // the second page's columns after it, and nothing more for the call that took them
      expect(relationsQueries(log.slice(marker))).toBe(0);
      expect(columnsQueries(log.slice(marker))).toBe(1);

      // a call for another page (another size) than the one named drops what was read ahead
      const third = await page(second.at(-1), 10, 10);
      expect(third.map((r) => r.name)).toEqual(tableNames(21, 10));
      const shorter = await page(third.at(-1), 5);
      expect(shorter.map((r) => r.name)).toEqual(tableNames(31, 5));
      const rest = await page(shorter.at(-1), 10);
      expect(rest.map((r) => r.name)).toEqual(tableNames(36, 10));
      // the connection is left with nothing running
      expect(await query(client, 'SELECT 1 AS one', [], signal)).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });

  /**
   * After a failover the next page is read on another connection: what was read ahead on the
   * one left is not waited for (here its link drops every byte, as a frozen server's would),
   * and the pages after it come from the window without a gap.
   */
  it('does not wait for a page read ahead on a connection a failover left', async () => {
    const proxy = await startLatencyProxy({ host: pg.host, port: pg.port });
    const left = new Client({ host: proxy.host, port: proxy.port, user: pg.user, password: pg.password, database: pg.database });
    left.on('error', () => undefined);
    const active = new Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database });
    await left.connect();
    await active.connect();
    // every statement of the connection left spends 2 x 200 ms on the link, so the page read
    // ahead is still on its way when the link starts dropping
    const tableNames = (from: number, n: number) => Array.from({ length: n }, (_, i) => `t${String(from + i).padStart(4, '0')}`);
    try {
      const window = new KeyWindow();
      const filter = compileFilter({ includeSchemas: ['wide'], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false });
      const signal = new AbortController().signal;
      const page = (client: Client, after: RelationKey | undefined, limit: number, next?: number) =>
        readRelations(
          client,
          { filter, after, limit, concurrency: 1, sampling: DEFAULT_SAMPLING, ...(next ? { next: { limit: next } } : {}) },
          signal,
          [],
          window,
        );
      // 10 then 15: the page read ahead takes the window's last 10 keys and reads more on the link
      proxy.delayMs = 200;
      const first = await page(left, undefined, 10, 15);
      proxy.dropping = true;
      expect(first.map((r) => r.name)).toEqual(tableNames(1, 10));
      const second = await page(active, first.at(-1), 15);
      expect(second.map((r) => r.name)).toEqual(tableNames(11, 15));
      const third = await page(active, second.at(-1), 10);
      expect(third.map((r) => r.name)).toEqual(tableNames(26, 10));
    } finally {
      proxy.dropConnections();
      await active.end();
      await proxy.close();
    }
  });

  /**
   * The count reads the first window of keys with it, in one scan, and the page that starts
   * there takes that window: one statement over the relations for both. The counts equal the
   * database's own, from the start and after a cursor.
   */
  it('counts with the first window of keys, in one scan the first page takes', async () => {
    const application = 'sourced-window-test';
    const client = new Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database, application_name: application });
    await client.connect();
    const statements = statementLog(pg.logFile, application);
    try {
      const own = async (after?: string) =>
        Number(
          (
            await client.query<{ n: string }>(
              `SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'wide' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ($1::text IS NULL OR c.relname COLLATE "C" > $1::text COLLATE "C")`,
              [after ?? null],
            )
          ).rows[0]!.n,
        );
      const filter = compileFilter({ includeSchemas: ['wide'], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false });
      const signal = new AbortController().signal;
      await statements();
      const window = new KeyWindow();
      expect(await window.count(client, filter, undefined, signal)).toBe(await own());
      const first = await readRelations(client, { filter, after: undefined, limit: 10, concurrency: 1, sampling: DEFAULT_SAMPLING }, signal, [], window);
      expect(first.map((r) => r.name)).toEqual(Array.from({ length: 10 }, (_, i) => `t${String(i + 1).padStart(4, '0')}`));
      const overRelations = (await statements()).filter((q) => /FROM pg_class c\s+JOIN pg_namespace n ON n.oid = c.relnamespace\s+WHERE c.relkind IN/.test(q));
      expect(overRelations).toHaveLength(1);
      expect(overRelations[0]).toMatch(/count\(\*\)/);
      const after = { schema: 'wide', name: 't0100' };
      expect(await new KeyWindow().count(client, filter, after, signal)).toBe(await own('t0100'));
    } finally {
      await client.end();
    }
  });

  /**
   * Statements given to one connection at once (discovery's first reads share connections) run
   * one after the other, and one whose signal fires while it waits is never sent: a
   * CancelRequest is per backend, so cancelling it would have cancelled the statement running.
   * pg is never handed a second statement while one runs (it warns that pg 9 will refuse it).
   */
  it('runs statements given to one connection at once in turn, and drops a waiting one that is cancelled', async () => {
    const client = new Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database });
    await client.connect();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const running = query<{ a: number }>(client, 'SELECT 1 AS a FROM pg_sleep(0.3)', [], new AbortController().signal);
      const waiting = new AbortController();
      const dropped = query<{ b: number }>(client, 'SELECT 2 AS b', [], waiting.signal);
      const third = query<{ c: number }>(client, 'SELECT 3 AS c', [], new AbortController().signal);
      waiting.abort(new Error('not wanted any more'));
      await expect(dropped).rejects.toBeInstanceOf(AbortedError);
      expect(await running).toEqual([{ a: 1 }]);
      expect(await third).toEqual([{ c: 3 }]);
      expect(await query(client, 'SELECT 4 AS d', [], new AbortController().signal)).toEqual([{ d: 4 }]);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => /already executing a query/.test(w))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await client.end();
    }
  });

  it('keeps twenty concurrent discoveries within the connection limit, and all complete', async () => {
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await daemonSessions(pg)).length);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.discover(request(source(pg), { strategy: i % 2 ? DiscoveryStrategy.DISCOVERY_STRATEGY_AGGRESSIVE : DiscoveryStrategy.DISCOVERY_STRATEGY_ADAPTIVE })),
      ),
    );
    sampling = false;
    await sampler;
    for (const events of runs) expect(relationCount(events)).toBe(TABLES);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(4);
    // 20 × 700 wide tables: minutes on two cores shared with other suites.
  }, 300_000);

  describe('ADAPTIVE through a proxy that adds latency', () => {
    let proxy: LatencyProxy;
    beforeAll(async () => {
      proxy = await startLatencyProxy(pg);
    });
    afterAll(async () => {
      await proxy?.close();
    });

    it('shrinks its batches and parallel reads while the source is slow, and grows them again after', async () => {
      proxy.delayMs = 300; // one way: each round trip takes 600 ms more
      const stream = t.dataSources.discoverDataSource(request(source(pg, proxy), { strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_ADAPTIVE }), new Metadata(), {
        deadline: Date.now() + 60_000,
      });
      const seen: { batchSize: number; concurrency: number; slow: boolean }[] = [];
      const done = collectWith(stream, (e) => {
        if (e.event?.$case !== 'batch' || !e.event.value.progress) return;
        const { batchSize, concurrency } = e.event.value.progress;
        seen.push({ batchSize, concurrency, slow: proxy.delayMs > 0 });
        if (batchSize <= 10) proxy.delayMs = 0; // the source recovers once ADAPTIVE is at its floor
      });
      const events = await done.catch((error: Error) => {
        // What the daemon did, for whoever reads a failure here.
        const spans = t.spans
          .getFinishedSpans()
          .slice(-20)
          .map((x) => `${x.name} ${JSON.stringify(x.attributes)}`);
        throw new Error(
          `${error.message}; batches seen: ${JSON.stringify(seen)}; proxy connections: ${proxy.accepted}\n${t.logs.slice(-20).join('\n')}\n${spans.join('\n')}`,
        );
      });
      expect(relationCount(events)).toBe(TABLES);
      const slow = seen.filter((s) => s.slow);
      const fast = seen.filter((s) => !s.slow);
      // shrinking: 100 -> 50 -> 25 -> 12 -> 10, and down to one read at a time
      expect(slow.map((s) => s.batchSize)).toEqual([100, 50, 25, 12, 10].slice(0, slow.length));
      expect(slow.at(-1)).toMatchObject({ batchSize: 10, concurrency: 1 });
      // growing again once the latency is gone
      expect(Math.max(...fast.map((s) => s.batchSize))).toBeGreaterThan(100);
      expect(Math.max(...fast.map((s) => s.concurrency))).toBeGreaterThan(1);
    }, 90_000);
  });
});

/** Collects a stream while calling `each` for every event as it arrives. */
function collectWith<T>(stream: ClientReadableStream<T>, each: (e: T) => void): Promise<T[]> {
  stream.on('data', each);
  return collect(stream);
}
