/**
 * Role-based access once authentication is on: default deny, RPC grants, and data-source
 * grants (connector type, target host, secret reference) that one role must give together.
 * Real grpc-js clients with bearer tokens, a real PostgreSQL behind the granted calls.
 */
import { randomBytes } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataSource } from '@sourced/api';
import { ListPluginsRequest, type ListPluginsResponse } from '@sourced/api';
import { hashToken } from '../daemon/src/security/authenticate';
import { pgSource } from './support/pg';
import { registerSecret } from './support/secretScan';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const token = (name: string) => `${name}-${randomBytes(12).toString('hex')}`;

describe('RBAC', () => {
  const pg = inject('postgres');
  const tokens = { reader: token('reader'), pluginsOnly: token('plugins'), nobody: token('nobody'), other: token('other') };
  let t: TestDaemon;

  const auth = (who: keyof typeof tokens) => {
    const m = new Metadata();
    m.set('authorization', `Bearer ${tokens[who]}`);
    return m;
  };
  const listPlugins = (who: keyof typeof tokens) =>
    new Promise<ListPluginsResponse>((resolve, reject) =>
      t.plugins.listPlugins(ListPluginsRequest.fromPartial({}), auth(who), (e, r) => (e ? reject(e) : resolve(r))),
    );
  const discover = (who: keyof typeof tokens, dataSource: DataSource) =>
    collect(t.dataSources.discoverDataSource({ dataSource, strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 1, maxDurationMs: 0 }, auth(who)));
  const denial = async (call: Promise<unknown>) => {
    const rich = richStatusOf(await expectFailure(call));
    return { code: rich.grpcCode, reason: rich.errorInfo?.reason, grant: rich.errorInfo?.metadata?.grant, message: rich.message };
  };

  beforeAll(async () => {
    for (const [name, value] of Object.entries(tokens)) registerSecret(`${name} token`, value);
    t = await startTestDaemon({
      plugins: ['@sourced/plugin-postgres', '@sourced/plugin-mysql'],
      auth: { tokens: Object.entries(tokens).map(([principal, value]) => ({ principal, sha256: hashToken(value) })) },
      rbac: {
        roles: {
          'pg-reader': {
            rpcs: ['sourced.v1.DataSourceService/*', 'sourced.v1.PluginService/*'],
            connectors: ['postgres'],
            hosts: ['127.0.0.1', '*.internal'],
            secrets: ['env://SOURCED_SECRET_TEAM_A_*'],
          },
          'plugin-viewer': { rpcs: ['sourced.v1.PluginService/ListPlugins'], connectors: [], hosts: [], secrets: [] },
          'other-hosts': { rpcs: ['sourced.v1.DataSourceService/*'], connectors: ['*'], hosts: ['10.*'], secrets: ['*'] },
        },
        bindings: { reader: ['pg-reader'], pluginsOnly: ['plugin-viewer'], other: ['other-hosts'] },
      },
    });
  });
  afterAll(() => t?.stop());

  it('lets a role do what it grants', async () => {
    expect((await listPlugins('reader')).plugins.length).toBeGreaterThan(0);
    expect((await listPlugins('pluginsOnly')).plugins.length).toBeGreaterThan(0);
    const events = await discover('reader', pgSource(pg));
    expect(events.some((e) => e.event?.$case === 'batch')).toBe(true);
  });

  it('denies by default: an authenticated principal without a role may call nothing', async () => {
    expect(await denial(listPlugins('nobody'))).toMatchObject({ code: status.PERMISSION_DENIED, reason: 'MISSING_GRANT', grant: 'rpc' });
  });

  it('denies an RPC no role grants, naming it', async () => {
    const d = await denial(discover('pluginsOnly', pgSource(pg)));
    expect(d).toMatchObject({ code: status.PERMISSION_DENIED, grant: 'rpc' });
    expect(d.message).toContain('sourced.v1.DataSourceService/DiscoverDataSource');
    expect(d.message).toContain('plugin-viewer');
  });

  it('denies a connector, a host or a secret reference the role does not grant, naming the missing grant', async () => {
    const mysql = DataSource.fromPartial({ type: 'mysql', primary: { host: '127.0.0.1', port: 3306 }, credentials: { username: 'x' } });
    expect(await denial(discover('reader', mysql))).toMatchObject({ code: status.PERMISSION_DENIED, grant: 'connector' });

    const elsewhere = pgSource(pg, { primary: { host: 'db.elsewhere.example', port: pg.port, database: pg.database } });
    const host = await denial(discover('reader', elsewhere));
    expect(host).toMatchObject({ grant: 'host' });
    expect(host.message).toContain('db.elsewhere.example');

    const foreignSecret = pgSource(pg, {
      credentials: { username: pg.user, password: { source: { $case: 'reference', value: 'env://SOURCED_SECRET_TEAM_B_DB' } } },
    });
    const secret = await denial(discover('reader', foreignSecret));
    expect(secret).toMatchObject({ grant: 'secret' });
    expect(secret.message).toContain('env://SOURCED_SECRET_TEAM_B_DB (data_source.credentials.password.reference)');

    // no password at all: the daemon would read SOURCED_SECRET_<ID>_PASSWORD, so the id is a reference too
    const byId = pgSource(pg, { id: 'team-b-db', credentials: { username: pg.user } });
    const dynamic = await denial(discover('reader', byId));
    expect(dynamic).toMatchObject({ grant: 'secret' });
    expect(dynamic.message).toContain('env://SOURCED_SECRET_TEAM_B_DB_PASSWORD (data_source.id)');
  });

  it('does not combine the grants of two roles into one call', async () => {
    // "other" may reach 10.* with any connector; "reader" may reach 127.0.0.1 with postgres.
    // Neither role grants 127.0.0.1 to "other", whatever "reader" may do.
    expect(await denial(discover('other', pgSource(pg)))).toMatchObject({ code: status.PERMISSION_DENIED, grant: 'host' });
  });
});
