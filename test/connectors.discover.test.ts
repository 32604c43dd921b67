import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject } from 'vitest';
import { DataSource, type Collection, type Relation } from '@sourced/api';
import { HOLD_SAMPLE_SIZE, HR, METRICS, SHOP, VISIBLE_COLLECTIONS } from './fixtures/mongodb/fixture';
import { rootQuery } from './harness/mariadb';
import { mongoSource, openConnections } from './harness/mongo/sources';
import { registerSecret } from './support/secretScan';
import { pgSource, superuserQuery } from './support/pg';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';
import { discoveryBehaviour, type DiscoveryEngine } from './shared/discovery.behaviour';

// The discovery cases every connector shares (test/shared/discovery.behaviour.ts), run once per
// connector against the servers of the global setup. What describes one engine's catalog (its
// types, keys, indexes, partitions, documents) and its filters stay in postgres.discover,
// mysql.discover and mongodb.discover.test.ts.

const pg = inject('postgres');
const postgres: DiscoveryEngine = {
  label: 'PostgreSQL',
  dbSystem: 'postgres',
  port: pg.port,
  source: () => pgSource(pg),
  // Every relation of the fixture the test role may see, in byte order of (schema, name).
  all: [
    'inventory.products',
    'inventory.stock',
    'inventory.supplier_feed',
    'inventory.warehouses',
    'sales.customer_order_totals',
    'sales.customers',
    'sales.daily_revenue',
    'sales.events',
    'sales.events_2024_h1',
    'sales.events_2024_h2',
    'sales.order_lines',
    'sales.orders',
  ],
  entities: (batch) => batch.relations,
  qualifiedName: (r) => `${(r as Relation).schema}.${(r as Relation).name}`,
  columns: (r) => (r as Relation).columns.length,
  lastProgress: { tables: 10, views: 2, statementTimeoutMs: 30_000, pauseMs: 0 },
  totalFilters: [
    ['a schema filter', { includeSchemas: ['inv*'] }, 4],
    ['a relation filter', { includeTables: ['sales.order*'], excludeTables: ['*lines'] }, 1],
  ],
  cancelAfterBatch: 2,
  /** A role of its own, so sessions of suites running in parallel cannot blur the count (pg_stat_activity). */
  async cancellation() {
    const role = `sourced_cancel_${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    registerSecret('the cancellation role password', password);
    await superuserQuery(pg, `CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE pg_read_all_data`);
    return {
      source: pgSource(pg, { credentials: { username: role, password: { source: { $case: 'inlineValue', value: password } } } }),
      openSessions: async () => Number((await superuserQuery<{ n: string }>(pg, 'select count(*) as n from pg_stat_activity where usename = $1', [role]))[0].n),
      drop: async () => void (await superuserQuery(pg, `DROP ROLE ${role}`)),
    };
  },
};

const db = inject('mariadb');
const mysqlSource = (user = db.user, password = db.password) =>
  DataSource.fromPartial({
    id: 'test-mysql',
    type: 'mysql',
    primary: { host: db.host, port: db.port, database: '' },
    credentials: { username: user, password: { source: { $case: 'inlineValue', value: password } } },
  });
const mysql: DiscoveryEngine = {
  label: 'MySQL (MariaDB)',
  dbSystem: 'mysql',
  port: db.port,
  source: () => mysqlSource(),
  // The shared server also holds other suites' databases, made while this file runs: the fixture's two only.
  filter: { includeSchemas: ['shop', 'warehouse'] },
  all: [
    'shop.audit_log',
    'shop.customer_order_totals',
    'shop.customers',
    'shop.order_lines',
    'shop.orders',
    'shop.products',
    'shop.sales_by_year',
    'warehouse.locations',
    'warehouse.sessions',
    'warehouse.stock',
    'warehouse.warehouses',
  ],
  entities: (batch) => batch.relations,
  qualifiedName: (r) => `${(r as Relation).schema}.${(r as Relation).name}`,
  columns: (r) => (r as Relation).columns.length,
  lastProgress: { tables: 10, views: 1, statementTimeoutMs: 30_000, pauseMs: 0 },
  totalFilters: [
    ['a database filter', { includeSchemas: ['ware*'] }, 4],
    ['a relation filter', { includeTables: ['shop.order*'], excludeTables: ['*lines'] }, 1],
  ],
  cancelAfterBatch: 2,
  /** An account of its own, so that the other suites' sessions never count (the process list). */
  async cancellation() {
    const user = `sourced_cancel_${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    registerSecret('the cancellation account password', password);
    await rootQuery(db, `CREATE USER '${user}'@'%' IDENTIFIED BY ?`, [password]);
    await rootQuery(db, `GRANT SELECT, SHOW VIEW ON shop.* TO '${user}'@'%'`);
    await rootQuery(db, `GRANT SELECT ON warehouse.* TO '${user}'@'%'`);
    return {
      source: mysqlSource(user, password),
      openSessions: async () =>
        Number((await rootQuery<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [user]))[0].n),
      drop: async () => void (await rootQuery(db, `DROP USER '${user}'@'%'`)),
    };
  },
};

const mongo = inject('mongodb');
let openDuringRun = -1;
const mongodb: DiscoveryEngine = {
  label: 'MongoDB',
  dbSystem: 'mongodb',
  port: mongo.port,
  // No database named: every database the user may list (one that names a database is scoped to it, see connectors.scope.test.ts).
  source: () => mongoSource(mongo, { primary: { host: mongo.host, port: mongo.port, database: '' } }),
  all: VISIBLE_COLLECTIONS,
  entities: (batch) => batch.collections,
  qualifiedName: (c) => `${(c as Collection).database}.${(c as Collection).name}`,
  // A real server's $sample returns documents in random order, and with it the order in which paths first appear.
  comparable: (cs) =>
    mongo.standIn
      ? cs
      : (cs as unknown as Collection[]).map((c) => ({
          ...c,
          schema: c.schema && { ...c.schema, fields: [...c.schema.fields].sort((a, b) => (a.path < b.path ? -1 : 1)) },
        })),
  totalFilters: [
    ['a database filter', { includeSchemas: ['sourced_m*'] }, VISIBLE_COLLECTIONS.filter((n) => n.startsWith(`${METRICS}.`)).length],
    ['a collection filter', { includeTables: [`${SHOP}.*orders`], excludeSchemas: [HR] }, 2],
  ],
  cancelAfterBatch: 1,
  /**
   * The daemon's own connections (appName sourced, $currentOp as the server answers it), while
   * a sample is running: the stand-in holds the next collection's sample, so there is time to
   * look before the cancel; a real server answers at once, so the cancel comes straight away.
   */
  async cancellation() {
    openDuringRun = -1;
    return {
      source: mongodb.source(),
      request: { sampling: { sampleSize: HOLD_SAMPLE_SIZE, maxTimeMs: 0, maxFields: 0 } },
      openSessions: () => openConnections(mongo, 'sourced'),
      beforeCancel: mongo.standIn
        ? async () => {
            openDuringRun = await openConnections(mongo, 'sourced');
            expect(openDuringRun).toBeGreaterThan(0);
          }
        : undefined,
    };
  },
  request: { sampling: { sampleSize: 0, maxTimeMs: 0, maxFields: 0 } },
};

// One daemon with the built-in plugins for every engine of the file.
let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(() => t.stop());

describe.each([postgres, mysql, mongodb].map((e) => [e.label, e] as const))('%s discovery', (_label, engine) => discoveryBehaviour(engine, () => t));
