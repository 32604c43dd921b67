/**
 * Scope of a MySQL/MariaDB data source (issue 16, item 8) and the server's own schemas: what
 * every connector's scope shares (a named database only, every visible database when none is
 * named, NOT_FOUND outside it) runs in connectors.scope.test.ts; this suite keeps MariaDB's
 * system schemas, which stay out of a named database's scope even on a daemon that allows them.
 */
import { Metadata } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_PREVIEW_SETTINGS } from '../core/src';
import { DataSource } from '@sourced/api';
import type { PreviewTableRequest, ProfileTableRequest } from '@sourced/api';
import { ProfileMode } from '@sourced/api';
import { rootQuery } from './harness/mariadb';
import type { ServerInfo } from './support/globalSetup';
import { registerSecret } from './support/secretScan';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

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
  const db: ServerInfo = { ...shared, user: `sourced_scope_${randomBytes(4).toString('hex')}`, password: `pw-${randomBytes(9).toString('hex')}` };
  registerSecret('scope test password', db.password);
  let t: TestDaemon;
  /** A daemon that allows the servers' own schemas: scope still applies. */
  let open: TestDaemon;
  beforeAll(async () => {
    for (const sql of [
      `CREATE USER '${db.user}'@'%' IDENTIFIED BY '${db.password}'`,
      `GRANT SELECT, SHOW VIEW ON shop.* TO '${db.user}'@'%'`,
      `GRANT SELECT ON warehouse.* TO '${db.user}'@'%'`,
    ])
      await rootQuery(shared, sql);
    [t, open] = await Promise.all([
      startTestDaemon({ plugins: ['@sourced/plugin-mysql'] }),
      startTestDaemon({
        plugins: ['@sourced/plugin-mysql'],
        preview: {
          ...DEFAULT_PREVIEW_SETTINGS,
          maskColumns: [...DEFAULT_PREVIEW_SETTINGS.maskColumns],
          maskTypes: [],
          allowSystemSchemas: true,
          maskCredentialColumns: true,
        },
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([t?.stop(), open?.stop()]);
    await rootQuery(shared, `DROP USER IF EXISTS '${db.user}'@'%'`);
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

  /** information_schema is outside a named database's scope, even on a daemon that allows the servers' own schemas; with none named it is looked up; mysql.user stays refused. */
  it("keeps the server's own schemas out of a named database's scope", async () => {
    for (const call of [
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
