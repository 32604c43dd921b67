import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect } from 'vitest';
import { STRATEGY_PRESETS } from '@sourced/core';
import { DataSource, DiscoveryStrategy, type DiscoverDataSourceResponse } from '@sourced/api';
import { mongoFixture, TEST_USER, VISIBLE_COLLECTIONS } from './fixtures/mongodb/fixture';
import { rootQuery, startMariadb, type MariadbInstance } from './harness/mariadb';
import { startMongoStandIn, type MongoStandIn } from './harness/mongo/MongoStandIn';
import { mongoSource } from './harness/mongo/sources';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { registerSecret } from './support/secretScan';
import { discoverCountingConnections, startTestDaemon, type TestDaemon } from './support/testDaemon';
import { statementLimitBehaviour, type StatementLimitEngine, type StrategyName } from './shared/statementLimits.behaviour';

// The statement-limit cases every connector shares (test/shared/statementLimits.behaviour.ts),
// run once per connector on a server of the suite's own that shows what the daemon's sessions
// set: PostgreSQL's statement log, MariaDB's general log, the MongoDB stand-in's commands. The
// rest of each engine's strategy tests stays in postgres.strategies, mysql.strategy and
// mongodb.strategy.test.ts.

const STRATEGY: Record<StrategyName, DiscoveryStrategy> = {
  CONSERVATIVE: DiscoveryStrategy.DISCOVERY_STRATEGY_CONSERVATIVE,
  BALANCED: DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED,
  AGGRESSIVE: DiscoveryStrategy.DISCOVERY_STRATEGY_AGGRESSIVE,
  ADAPTIVE: DiscoveryStrategy.DISCOVERY_STRATEGY_ADAPTIVE,
};
const ALL: StrategyName[] = ['CONSERVATIVE', 'BALANCED', 'AGGRESSIVE', 'ADAPTIVE'];
const batchesOf = (events: DiscoverDataSourceResponse[]) => events.flatMap((e) => (e.event?.$case === 'batch' ? [e.event.value] : []));

const postgres = ((): StatementLimitEngine => {
  // Enough tables that AGGRESSIVE's first page is read through all its parallel sessions.
  const TABLES = 200;
  let pg: PostgresInstance;
  let t: TestDaemon;
  let logOffset = 0;
  /** Server log lines written since the last call. */
  const newLogLines = async () => {
    const text = await readFile(pg.logFile, 'utf8');
    const fresh = text.slice(logOffset);
    logOffset = text.length;
    return fresh.split('\n');
  };
  /** statement_timeout each daemon session set (application name sourced), by backend pid, from the statement log. */
  const statementTimeouts = (lines: string[]) => {
    const byPid = new Map<string, string>();
    let pending: string | undefined; // pid of a set_config statement whose parameters follow
    for (const line of lines) {
      const head = /^\S+ \S+ \S+ \[(\d+)\] (\S*) (LOG|DETAIL): {2}(.*)$/.exec(line);
      if (!head) continue; // a continuation line of a multi-line statement
      const [, pid, app, level, text] = head;
      if (app !== 'sourced') continue;
      if (level === 'LOG') pending = text.includes("set_config('statement_timeout'") ? pid : undefined;
      else if (pid === pending) {
        const m = /parameters: \$1 = '(\d+)ms'/.exec(text);
        if (m) byPid.set(pid, m[1]);
        pending = undefined;
      }
    }
    return byPid;
  };
  return {
    label: 'PostgreSQL',
    async setup() {
      pg = await startPostgres({ extraConf: { log_statement: 'all', log_line_prefix: '%m [%p] %a ' } });
      registerSecret('shared strategy PostgreSQL password', pg.password);
      await pg.psql(`
        CREATE SCHEMA wide AUTHORIZATION ${pg.user};
        DO $$ BEGIN
          FOR i IN 1..${TABLES} LOOP
            EXECUTE format('CREATE TABLE wide.t%s (id bigint PRIMARY KEY, a text, b numeric(12,2), c timestamptz)', lpad(i::text, 4, '0'));
          END LOOP;
        END $$;
        ALTER SCHEMA wide OWNER TO ${pg.user};
        ANALYZE;`);
      t = await startTestDaemon({ sources: { maxConnectionsPerEndpoint: 4 } });
      await newLogLines();
    },
    async teardown() {
      await t?.stop();
      await pg?.destroy();
    },
    strategies: ALL,
    async observe(name) {
      const events = await t.discover({
        dataSource: DataSource.fromPartial({
          type: 'postgres',
          primary: { host: pg.host, port: pg.port, database: pg.database },
          credentials: { username: pg.user, password: { source: { $case: 'inlineValue', value: pg.password } } },
        }),
        filter: { includeSchemas: ['wide'], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false },
        strategy: STRATEGY[name],
        maxEntities: 100,
      });
      expect(batchesOf(events).reduce((n, b) => n + b.relations.length, 0)).toBe(100);
      // the log line prefix carries the application name: every session counted is the daemon's
      const seen = statementTimeouts(await newLogLines());
      return { limits: [...seen.values()].map(Number), sessions: seen.size };
    },
    // One session, or AGGRESSIVE's four parallel readers (the daemon's limit per endpoint here).
    sessions: (name) => (name === 'AGGRESSIVE' ? [4, 4] : [1, 1]),
  };
})();

const mysql = ((): StatementLimitEngine => {
  // A server of its own with the general log in a table, so every statement of the daemon's
  // sessions can be read back; and an account of its own, so nothing else is mixed in.
  let logged: MariadbInstance;
  let t: TestDaemon;
  const user = 'sourced_strategy';
  const password = `pw-${randomBytes(8).toString('hex')}`;
  registerSecret('shared strategy MariaDB password', password);
  const source = () =>
    DataSource.fromPartial({
      id: 'test-mysql-strategy',
      type: 'mysql',
      primary: { host: logged.host, port: logged.port, database: '' },
      credentials: { username: user, password: { source: { $case: 'inlineValue', value: password } } },
    });
  return {
    label: 'MySQL (MariaDB)',
    async setup() {
      [logged, t] = await Promise.all([
        startMariadb({ extraArgs: ['--general-log=1', '--log-output=TABLE'] }),
        startTestDaemon({ plugins: ['@sourced/plugin-mysql'] }),
      ]);
      await logged.sql(
        [
          'CREATE DATABASE strategy_a; CREATE DATABASE strategy_b;',
          ...Array.from({ length: 6 }, (_, i) => `CREATE TABLE strategy_${i % 2 ? 'b' : 'a'}.t${i} (id int PRIMARY KEY, v varchar(10), KEY k (v));`),
          `CREATE USER '${user}'@'%' IDENTIFIED BY '${password}';`,
          `GRANT SELECT ON strategy_a.* TO '${user}'@'%'; GRANT SELECT ON strategy_b.* TO '${user}'@'%';`,
        ].join('\n'),
      );
    },
    async teardown() {
      await t?.stop();
      await logged?.destroy();
    },
    strategies: ALL,
    async observe(name) {
      await rootQuery(logged, 'TRUNCATE TABLE mysql.general_log');
      const { events, connections } = await discoverCountingConnections(t, { dataSource: source(), strategy: STRATEGY[name], batchSize: 2 });
      expect(batchesOf(events).flatMap((b) => b.relations)).toHaveLength(6);
      const rows = await rootQuery<{ thread_id: number; argument: string }>(
        logged,
        `SELECT thread_id, CONVERT(argument USING utf8mb4) AS argument FROM mysql.general_log
         WHERE command_type = 'Query' AND user_host LIKE ? AND CONVERT(argument USING utf8mb4) LIKE 'SET SESSION max_statement_time%'`,
        [`${user}[%`],
      );
      // one SET per session the daemon counted: the run's session plus the strategy's parallel readers
      expect(new Set(rows.map((r) => r.thread_id)).size).toBe(connections);
      return { limits: rows.map((r) => Number(/max_statement_time = ([0-9.]+)/.exec(r.argument)?.[1]) * 1000), sessions: connections };
    },
    // As many sessions as the strategy reads through at once (ADAPTIVE may add one after each fast batch).
    sessions: (name) => [STRATEGY_PRESETS[name].minConcurrency, STRATEGY_PRESETS[name].maxConcurrency],
  };
})();

const mongodb = ((): StatementLimitEngine => {
  // A stand-in of its own, which shows every command the daemon sends.
  const password = 'Pa55-strategy-test';
  let server: MongoStandIn;
  let t: TestDaemon;
  let commands: { name: string; maxTimeMS: unknown }[] = [];
  const CATALOG = ['listDatabases', 'listCollections', 'listIndexes', 'count'];
  /** The sampling limit the daemon sends by default (10 s), capped at the statement limit. */
  const SAMPLING: Record<StrategyName, number> = { CONSERVATIVE: 5_000, BALANCED: 10_000, AGGRESSIVE: 10_000, ADAPTIVE: 10_000 };
  return {
    label: 'MongoDB',
    async setup() {
      [server, t] = await Promise.all([
        startMongoStandIn({
          dataset: mongoFixture({ test: password, shop: 'Pa55-shop', admin: 'Pa55-admin' }),
          onCommand: (command, _db, appName) => {
            if (appName === 'sourced') commands.push({ name: Object.keys(command)[0] ?? '', maxTimeMS: command.maxTimeMS });
          },
        }),
        startTestDaemon({ plugins: ['@sourced/plugin-mongodb'] }),
      ]);
    },
    async teardown() {
      await t?.stop();
      await server?.stop();
    },
    strategies: ['CONSERVATIVE', 'BALANCED', 'AGGRESSIVE'],
    async observe(name) {
      commands = [];
      // every database the user may list
      const dataSource = mongoSource({ host: server.host, port: server.port, user: TEST_USER, password, database: '' } as Parameters<typeof mongoSource>[0]);
      const { events, connections } = await discoverCountingConnections(t, { dataSource, strategy: STRATEGY[name], batchSize: 4 });
      expect(batchesOf(events).flatMap((b) => b.collections.map((c) => `${c.database}.${c.name}`))).toEqual(VISIBLE_COLLECTIONS);
      const catalog = commands.filter((c) => CATALOG.includes(c.name));
      // every kind of catalog command carries it; the sampling aggregates keep their own limit
      expect([...new Set(catalog.map((c) => c.name))].sort()).toEqual([...CATALOG].sort());
      expect([...new Set(commands.filter((c) => c.name === 'aggregate').map((c) => c.maxTimeMS))]).toEqual([SAMPLING[name]]);
      return { limits: catalog.map((c) => Number(c.maxTimeMS)), sessions: connections };
    },
    // Parallel reads come from the one client's pool.
    sessions: () => [1, 1],
  };
})();

describe.each([postgres, mysql, mongodb].map((e) => [e.label, e] as const))('%s discovery statement limits', (_label, engine) =>
  statementLimitBehaviour(engine),
);
