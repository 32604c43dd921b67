import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { DataSource } from '@sourced/api';
import { METRICS, SHOP } from './fixtures/mongodb/fixture';
import { rootQuery } from './harness/mariadb';
import { mongoSource } from './harness/mongo/sources';
import { registerSecret } from './support/secretScan';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';
import { scopeBehaviour, type ScopeEngine } from './shared/scope.behaviour';

// The data source scope cases every connector shares (test/shared/scope.behaviour.ts), on the
// servers of the global setup. What the expected catalogs hold comes from each server itself,
// asked by the test as the same account. MariaDB's system-schema rules stay in mysql.scope.test.ts.

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * An account of the suite's own on the shared MariaDB: SELECT on shop and warehouse and no SHOW
 * DATABASES, so the databases it can see are these whatever other test files create on the
 * server meanwhile; information_schema and SHOW DATABASES answer for it.
 */
const mysql: ScopeEngine = {
  label: 'MySQL (MariaDB)',
  async account() {
    const shared = inject('mariadb');
    const user = `sourced_scope_${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(9).toString('hex')}`;
    registerSecret('scope test password', password);
    await rootQuery(shared, `CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await rootQuery(shared, `GRANT SELECT, SHOW VIEW ON shop.* TO '${user}'@'%'`);
    await rootQuery(shared, `GRANT SELECT ON warehouse.* TO '${user}'@'%'`);
    const asAccount = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
      const conn = await createConnection({ host: shared.host, port: shared.port, user, password });
      try {
        return (await conn.query(sql, params))[0] as T[];
      } finally {
        await conn.end();
      }
    };
    return {
      source: (database) =>
        DataSource.fromPartial({
          id: 'test-mysql-scope',
          type: 'mysql',
          primary: { host: shared.host, port: shared.port, database },
          credentials: { username: user, password: { source: { $case: 'inlineValue', value: password } } },
        }),
      named: 'shop',
      inside: { schema: 'shop', name: 'customers' },
      outside: { schema: 'warehouse', name: 'stock' },
      // tables, system-versioned tables and views, in byte order of (schema, name)
      entitiesIn: async (databases) =>
        (
          await asAccount<{ s: string; n: string }>(
            `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?) AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'VIEW')`,
            [databases],
          )
        )
          .map((r) => `${r.s}.${r.n}`)
          .sort(byBytes),
      visibleDatabases: async () =>
        (await asAccount<{ Database: string }>('SHOW DATABASES'))
          .map((r) => r.Database)
          .filter((d) => !['mysql', 'information_schema', 'performance_schema', 'sys'].includes(d.toLowerCase()))
          .sort(byBytes),
      canReadOutside: async () => Number((await asAccount<{ n: number }>('SELECT COUNT(*) AS n FROM warehouse.stock'))[0]?.n) > 0,
      close: async () => void (await rootQuery(shared, `DROP USER '${user}'@'%'`)),
    };
  },
};

/** The fixture's test user on the shared MongoDB; listDatabases (authorizedDatabases) and listCollections through the official driver answer for it. */
const mongodb: ScopeEngine = {
  label: 'MongoDB',
  async account() {
    const mongo = inject('mongodb');
    const client = new MongoClient(`mongodb://${mongo.host}:${mongo.port}/?directConnection=true`, {
      auth: { username: mongo.user, password: mongo.password },
      authSource: 'admin',
    });
    await client.connect();
    const collectionsIn = async (databases: string[]) => {
      const out: string[] = [];
      for (const db of databases) {
        for (const c of await client.db(db).listCollections({}, { nameOnly: true, authorizedCollections: true }).toArray())
          if (!c.name.startsWith('system.')) out.push(`${db}.${c.name}`);
      }
      return out.sort((a, b) => byBytes(a.split('.')[0], b.split('.')[0]) || byBytes(a, b));
    };
    const [first] = await collectionsIn([METRICS]);
    const outside = { schema: METRICS, name: first.slice(METRICS.length + 1) };
    const [own] = await collectionsIn([SHOP]);
    return {
      source: (database) => mongoSource(mongo, { primary: { host: mongo.host, port: mongo.port, database } }),
      named: SHOP,
      inside: { schema: SHOP, name: own.slice(SHOP.length + 1) },
      outside,
      entitiesIn: collectionsIn,
      visibleDatabases: async () =>
        ((await client.db('admin').command({ listDatabases: 1, nameOnly: true, authorizedDatabases: true })).databases as { name: string }[])
          .map((d) => d.name)
          .filter((n) => !['admin', 'local', 'config'].includes(n))
          .sort(byBytes),
      canReadOutside: async () => (await client.db(outside.schema).collection(outside.name).findOne({})) !== null,
      close: () => client.close(),
    };
  },
};

// One daemon with the built-in plugins for every engine of the file.
let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(() => t.stop());

describe.each([mysql, mongodb].map((e) => [e.label, e] as const))('%s data source scope', (_label, engine) => scopeBehaviour(engine, () => t));
