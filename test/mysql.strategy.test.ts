import { randomBytes } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AbortedError, noopLogger, Secret, type ConnectionArgs } from '@sourced/core';
import { DataSource } from '@sourced/api';
import type { DiscoverDataSourceResponse } from '@sourced/api';
import { DiscoveryStrategy, type Relation } from '@sourced/api';
import { connectSession } from '../plugins/mysql/src/connect';
import { ConnectionQueue, settleAll } from '../plugins/mysql/src/connectionQueue';
import { endConnection, query } from '../plugins/mysql/src/query';
import { rootQuery, startMariadb, type MariadbInstance } from './harness/mariadb';
import { eventually } from './support/pg';
import { discoverCountingConnections, startTestDaemon, type TestDaemon } from './support/testDaemon';

const { CONSERVATIVE, AGGRESSIVE } = {
  CONSERVATIVE: DiscoveryStrategy.DISCOVERY_STRATEGY_CONSERVATIVE,
  AGGRESSIVE: DiscoveryStrategy.DISCOVERY_STRATEGY_AGGRESSIVE,
};

const relations = (events: DiscoverDataSourceResponse[]): Relation[] => events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations : []));

function mysqlSource(server: { host: string; port: number }, user: string, password: string): DataSource {
  return DataSource.fromPartial({
    id: 'test-mysql-strategy',
    type: 'mysql',
    primary: { host: server.host, port: server.port, database: '' },
    credentials: { username: user, password: { source: { $case: 'inlineValue', value: password } } },
  });
}

/** The fixture's relations the test account sees (test/mysql.discover.test.ts lists them). */
const FIXTURE_RELATIONS = 11;

describe('MySQL discovery strategies (MariaDB)', () => {
  const db = inject('mariadb');
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mysql'] });
  });
  afterAll(() => t.stop());

  const discoverCounting = (request: Parameters<TestDaemon['discover']>[0]) => discoverCountingConnections(t, request);

  // Each strategy's statement time limit on every session: shared by every connector, connectors.strategy.test.ts.
  describe('validation sessions keep the statement time limit of the connector', () => {
    // A server of its own with the general log in a table, so every statement of the daemon's
    // sessions can be read back; and an account of its own, so nothing else is mixed in.
    let logged: MariadbInstance;
    const user = 'sourced_strategy';
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const setStatements = async () =>
      rootQuery<{ thread_id: number; argument: string }>(
        logged,
        `SELECT thread_id, CONVERT(argument USING utf8mb4) AS argument FROM mysql.general_log
         WHERE command_type = 'Query' AND user_host LIKE ? AND CONVERT(argument USING utf8mb4) LIKE 'SET SESSION max_statement_time%'`,
        [`${user}[%`],
      );
    const limitsOf = (rows: { argument: string }[]) => rows.map((r) => Number(/max_statement_time = ([0-9.]+)/.exec(r.argument)?.[1]));

    beforeAll(async () => {
      logged = await startMariadb({ extraArgs: ['--general-log=1', '--log-output=TABLE'] });
      await logged.sql(
        [
          'CREATE DATABASE strategy_a; CREATE DATABASE strategy_b;',
          ...Array.from({ length: 6 }, (_, i) => `CREATE TABLE strategy_${i % 2 ? 'b' : 'a'}.t${i} (id int PRIMARY KEY, v varchar(10), KEY k (v));`),
          `CREATE USER '${user}'@'%' IDENTIFIED BY '${password}';`,
          `GRANT SELECT ON strategy_a.* TO '${user}'@'%'; GRANT SELECT ON strategy_b.* TO '${user}'@'%';`,
        ].join('\n'),
      );
    }, 90_000);
    afterAll(() => logged?.destroy());

    it('leaves validation sessions at the connector default of 30 s', async () => {
      await rootQuery(logged, 'TRUNCATE TABLE mysql.general_log');
      await t.validate({ dataSource: mysqlSource(logged, user, password) });
      const limits = limitsOf(await setStatements());
      expect(limits.length).toBeGreaterThan(0);
      expect(new Set(limits)).toEqual(new Set([30]));
    });
  });

  // The progress total (every batch says how many relations the run sends, from the cursor on
  // when resuming) is shared by every connector: connectors.discover.test.ts.

  describe('parallel reads', () => {
    const source = () => mysqlSource(db, db.user, db.password);

    /** Four connections reading a page at once give exactly what one connection reading alone gives. */
    it.each([
      ['default batches', 0],
      ['batches of 3 (pages topped up past the sequence)', 3],
      ['batches of 1', 1],
    ] as const)('AGGRESSIVE gives the same relations as CONSERVATIVE, %s', async (_name, batchSize) => {
      const conservative = await discoverCounting({ dataSource: source(), strategy: CONSERVATIVE, batchSize });
      expect(conservative.connections).toBe(1);
      const aggressive = await discoverCounting({ dataSource: source(), strategy: AGGRESSIVE, batchSize });
      expect(aggressive.connections).toBe(4);
      expect(relations(conservative.events)).toHaveLength(FIXTURE_RELATIONS);
      expect(relations(aggressive.events)).toEqual(relations(conservative.events));
    });

    describe('cancellation', () => {
      const user = 'sourced_cancel_parallel';
      const password = `pw-${randomBytes(8).toString('hex')}`;
      /** The connection arguments of the account of these tests. */
      const accountArgs = (): ConnectionArgs => ({
        role: 'PRIMARY',
        host: db.host,
        port: db.port,
        user,
        password: new Secret(password, 'test'),
        applicationName: 'sourced-test',
        keepAlive: false,
        connectTimeoutMs: 5000,
        credentialSources: {},
        credentialTimings: {},
      });
      const sessions = async () =>
        Number((await rootQuery<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [user]))[0].n);
      beforeAll(async () => {
        await rootQuery(db, `CREATE USER '${user}'@'%' IDENTIFIED BY ?`, [password]);
        await rootQuery(db, `GRANT SELECT, SHOW VIEW ON shop.* TO '${user}'@'%'`);
        await rootQuery(db, `GRANT SELECT ON warehouse.* TO '${user}'@'%'`);
      });

      /** Statements running on several connections at once are each stopped on their own server thread. */
      it('kills the statement of every connection a page reads through', async () => {
        const controller = new AbortController();
        const conns = await Promise.all([0, 1, 2].map(() => connectSession(accountArgs(), controller.signal, noopLogger)));
        try {
          const queue = new ConnectionQueue(conns);
          const sleeping = (seconds: number) => queue.run((c) => query(c, 'SELECT SLEEP(?) AS slept', [seconds], controller.signal));
          // three at once on three connections, and a fourth waiting for a free one
          const all = settleAll([sleeping(20), sleeping(21), sleeping(22), sleeping(23)]);
          const running = () =>
            rootQuery<{ n: number }>(db, "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'SELECT SLEEP%'", [user]);
          expect(Number((await eventually(running, (rows) => Number(rows[0].n) === 3))[0].n)).toBe(3);
          const kills = async () => Number((await rootQuery<{ Value: string }>(db, "SHOW GLOBAL STATUS LIKE 'Com_kill'"))[0].Value);
          const killsBefore = await kills();
          const started = Date.now();
          controller.abort();
          await expect(all).rejects.toBeInstanceOf(AbortedError);
          expect(Date.now() - started).toBeLessThan(4000);
          expect((await kills()) - killsBefore).toBeGreaterThanOrEqual(3);
          expect(await eventually(sessions, (n) => n === 0)).toBe(0);
        } finally {
          await Promise.all(conns.map((c) => endConnection(c)));
        }
      });

      /**
       * Statements given to one connection at once (discovery's first reads share connections)
       * run one after the other, and one cancelled while it waits is never sent: KILL QUERY is
       * per session, so killing it would have stopped the statement running.
       */
      it('runs statements given to one connection at once in turn, and drops a waiting one that is cancelled', async () => {
        const conn = await connectSession(accountArgs(), new AbortController().signal, noopLogger);
        try {
          const kills = async () => Number((await rootQuery<{ Value: string }>(db, "SHOW GLOBAL STATUS LIKE 'Com_kill'"))[0].Value);
          const killsBefore = await kills();
          const running = query<{ slept: number; a: number }>(conn, 'SELECT SLEEP(0.3) AS slept, 1 AS a', [], new AbortController().signal);
          const waiting = new AbortController();
          const dropped = query(conn, 'SELECT 2 AS b', [], waiting.signal);
          const third = query<{ c: number }>(conn, 'SELECT 3 AS c', [], new AbortController().signal);
          waiting.abort(new Error('not wanted any more'));
          await expect(dropped).rejects.toBeInstanceOf(AbortedError);
          // SLEEP answers 0 when it slept its time, 1 when it was interrupted.
          expect((await running).map((r) => [Number(r.slept), Number(r.a)])).toEqual([[0, 1]]);
          expect((await third).map((r) => Number(r.c))).toEqual([3]);
          expect(await kills()).toBe(killsBefore);
        } finally {
          await endConnection(conn);
        }
      });

      /** Cancelling an AGGRESSIVE run mid-stream closes its parallel readers too. */
      it('frees every connection of an AGGRESSIVE run when the client cancels', async () => {
        const call = t.dataSources.discoverDataSource(
          { dataSource: mysqlSource(db, user, password), batchSize: 1, strategy: AGGRESSIVE, resumeAfter: '', maxEntities: 0, maxDurationMs: 0 },
          new Metadata(),
        );
        let batches = 0;
        let during = -1;
        const ended = new Promise<string>((done) => {
          call.on('data', (e: DiscoverDataSourceResponse) => {
            if (e.event?.$case === 'batch' && ++batches === 2) {
              void sessions().then((n) => {
                during = n;
                call.cancel();
              });
            }
          });
          call.on('error', (e: { code: number }) => done(`error ${e.code}`));
          call.on('end', () => done('end'));
        });
        expect(await ended).toBe('error 1');
        expect(during).toBe(4);
        expect(await eventually(sessions, (n) => n === 0)).toBe(0);
      });
    });
  });
});
