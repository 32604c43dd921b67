/**
 * Scope of a MySQL/MariaDB data source (issue 16, item 8): one that names a database is
 * discovered, previewed and profiled as that database only; one that names none covers every
 * database the account can see except the server's own. The expected catalogs come from the
 * server itself (information_schema and SHOW DATABASES, queried by the test as the same
 * account), on the shared MariaDB holding several databases (shop, warehouse, vault, the
 * harness's own).
 */
import { Metadata } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_PREVIEW_SETTINGS } from '../core/src';
import { DataSource } from '@sourced/api';
import type { DiscoverDataSourceResponse, PreviewTableRequest, ProfileTableRequest } from '@sourced/api';
import type { DiscoveryFilter } from '@sourced/api';
import { ProfileMode } from '@sourced/api';
import { rootQuery } from './harness/mariadb';
import type { ServerInfo } from './support/globalSetup';
import { registerSecret } from './support/secretScan';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const SYSTEM = ['mysql', 'information_schema', 'performance_schema', 'sys'];
const filter = (f: Partial<DiscoveryFilter> = {}): DiscoveryFilter => ({ includeSchemas: [], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false, ...f });
const schemaNames = (events: DiscoverDataSourceResponse[]) => events.flatMap((e) => (e.event?.$case === 'schemas' ? e.event.value.schemas.map((s) => s.name) : []));
const relationNames = (events: DiscoverDataSourceResponse[]) => events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations.map((r) => `${r.schema}.${r.name}`) : []));
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function mysqlSource(server: ServerInfo, database: string): DataSource {
  return DataSource.fromPartial({
    id: 'test-mysql-scope',
    type: 'mysql',
    primary: { host: server.host, port: server.port, database },
    credentials: { username: server.user, password: { source: { $case: 'inlineValue', value: server.password } } },
  });
}

describe('MySQL data source scope (MariaDB)', () => {
  const shared = inject('mariadb');
  /**
   * The suite's own account on the shared server: SELECT on shop and warehouse and no SHOW
   * DATABASES, so the databases it can see are these whatever other test files create on the
   * server meanwhile (the fixture's account sees every database, which made "every database
   * the account can see" race with them).
   */
  const db: ServerInfo = { ...shared, user: 'sourced_scope', password: `pw-${randomBytes(9).toString('hex')}` };
  registerSecret('scope test password', db.password);
  let t: TestDaemon;
  /** A daemon that allows the servers' own schemas: scope still applies. */
  let open: TestDaemon;
  /** Queries as the test's account, on a session of the test's own. */
  const asAccount = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
    const conn = await createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
    try {
      return (await conn.query(sql, params))[0] as T[];
    } finally {
      await conn.end();
    }
  };
  /** The relations information_schema shows the account in `databases` (tables, system-versioned tables and views), in byte order. */
  const relationsIn = async (databases: string[]) =>
    (
      await asAccount<{ s: string; n: string }>(
        `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?) AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'VIEW')`,
        [databases],
      )
    )
      .map((r) => `${r.s}.${r.n}`)
      .sort(byBytes);

  beforeAll(async () => {
    for (const sql of [
      `CREATE USER IF NOT EXISTS 'sourced_scope'@'%' IDENTIFIED BY '${db.password}'`,
      "GRANT SELECT, SHOW VIEW ON shop.* TO 'sourced_scope'@'%'",
      "GRANT SELECT ON warehouse.* TO 'sourced_scope'@'%'",
    ])
      await rootQuery(shared, sql);
    [t, open] = await Promise.all([
      startTestDaemon({ plugins: ['@sourced/plugin-mysql'] }),
      startTestDaemon({ plugins: ['@sourced/plugin-mysql'], preview: { ...DEFAULT_PREVIEW_SETTINGS, maskColumns: [...DEFAULT_PREVIEW_SETTINGS.maskColumns], maskTypes: [], allowSystemSchemas: true, maskCredentialColumns: true } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([t?.stop(), open?.stop()]);
  });

  const previewRequest = (database: string, schema: string, name: string): PreviewTableRequest => ({
    dataSource: mysqlSource(db, database),
    table: { schema, name },
    columns: [],
    limit: 3,
    strategy: 0,
  });
  const profileRequest = (database: string, schema: string, name: string): ProfileTableRequest => ({
    dataSource: mysqlSource(db, database),
    table: { schema, name },
    columns: [],
    mode: ProfileMode.PROFILE_MODE_STATISTICS,
    sampleRows: 0,
    mostCommonLimit: 0,
    histogramBuckets: 0,
    strategy: 0,
  });

  /** A data source naming `shop` discovers shop and nothing else, whatever the filter asks (system schemas included). */
  it('discovers only the database a data source names', async () => {
    const expected = await relationsIn(['shop']);
    expect(expected.length).toBeGreaterThan(0);
    for (const f of [filter(), filter({ includeSystemSchemas: true }), filter({ includeSchemas: ['*'] })]) {
      const events = await t.discover({ dataSource: mysqlSource(db, 'shop'), filter: f });
      expect(schemaNames(events)).toEqual(['shop']);
      expect(relationNames(events)).toEqual(expected);
      const last = events.at(-1)?.event;
      expect(last?.$case === 'summary' ? last.value.relations : -1).toBe(expected.length);
    }
  });

  /** With no database named: every database the account can see (SHOW DATABASES as that account) except the server's own. */
  it('discovers every database the account can see but the system ones when none is named', async () => {
    const visible = (await asAccount<{ Database: string }>('SHOW DATABASES')).map((r) => r.Database);
    const expected = visible.filter((d) => !SYSTEM.includes(d.toLowerCase())).sort(byBytes);
    expect(expected).toEqual(['shop', 'warehouse']);
    const events = await t.discover({ dataSource: mysqlSource(db, '') });
    expect(schemaNames(events)).toEqual(expected);
    expect(relationNames(events)).toEqual(await relationsIn(expected));
  });

  /** A preview or profile of a table in another database is NOT_FOUND, with a stable reason and a hint; the named database's tables are read. */
  it('refuses to preview or profile a table outside the named database', async () => {
    // The account may read warehouse.stock: only the scope keeps it out.
    expect((await asAccount<{ n: number }>('SELECT COUNT(*) AS n FROM warehouse.stock'))[0]?.n).toBeGreaterThan(0);
    const rows = await collect(t.dataSources.previewTable(previewRequest('shop', 'shop', 'customers'), new Metadata()));
    expect(rows.at(-1)?.event?.$case).toBe('summary');

    for (const call of [
      () => collect(t.dataSources.previewTable(previewRequest('shop', 'warehouse', 'stock'), new Metadata())),
      () => collect(t.dataSources.profileTable(profileRequest('shop', 'warehouse', 'stock'), new Metadata())),
      // The servers' own schemas too, even on a daemon that allows them.
      () => collect(open.dataSources.previewTable(previewRequest('shop', 'information_schema', 'TABLES'), new Metadata())),
      () => collect(open.dataSources.profileTable(profileRequest('shop', 'information_schema', 'TABLES'), new Metadata())),
    ]) {
      const error = await expectFailure(call());
      expect(error.code).toBe(5);
      const status = richStatusOf(error);
      expect(status.errorInfo?.reason).toBe('TABLE_OUT_OF_SCOPE');
      expect(status.errorInfo?.metadata).toMatchObject({ database: 'shop', field: 'table.schema' });
      expect(status.errorInfo?.metadata.hint).toMatch(/data_source\.primary\.database/);
      expect(error.details).toMatch(/database "shop"/);
    }
    // The same table through a data source naming its database, or none.
    for (const database of ['warehouse', '']) {
      const events = await collect(t.dataSources.previewTable(previewRequest(database, 'warehouse', 'stock'), new Metadata()));
      expect(events.at(-1)?.event?.$case).toBe('summary');
    }
    // With no database named, a daemon that allows system schemas looks them up (information_schema's
    // system views are not previewed, so the catalog answers TABLE_NOT_FOUND), the scope refuses nothing.
    const system = await expectFailure(collect(open.dataSources.previewTable(previewRequest('', 'information_schema', 'TABLES'), new Metadata())));
    expect(richStatusOf(system).errorInfo?.reason).toBe('TABLE_NOT_FOUND');
    // And the default daemon refuses them as before, named database or not.
    for (const database of ['shop', '']) {
      const error = await expectFailure(collect(t.dataSources.previewTable(previewRequest(database, 'mysql', 'user'), new Metadata())));
      expect([error.code, richStatusOf(error).errorInfo?.reason]).toEqual([7, 'SYSTEM_TABLE_NOT_ALLOWED']);
    }
  });
});
