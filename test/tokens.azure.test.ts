import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudProvider, DataSource, Location } from '@sourced/api';
import type { ValidateDataSourceResponse } from '@sourced/api';
import { AzureStandIn, type AzureApp } from './harness/azure/AzureStandIn';
import { AZURE_PLUGINS, everythingVisible } from './harness/azure/sources';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { registerSecret } from './support/secretScan';
import { checkOf, inline, sslConfig } from './support/tlsChecks';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

const DATABASE_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';

describe('Microsoft Entra ID database tokens (azure-entra) through the daemon', () => {
  let pg: PostgresInstance;
  let kv: AzureStandIn;
  let app: AzureApp;
  let t: TestDaemon;
  /** The token the stand-in issues for the database scope: the role's password. */
  const token = `eyJ0eXAiOiJKV1Qi.${randomBytes(600).toString('base64url')}.sig`;
  const seen: unknown[] = [];

  beforeAll(async () => {
    [pg, kv, t] = await Promise.all([startPostgres({ tls: true }), AzureStandIn.start(), startTestDaemon({ plugins: AZURE_PLUGINS })]);
    app = kv.addApp({ canReadSecrets: false });
    kv.setDatabaseToken(token);
    registerSecret('the Entra database token', token);
    registerSecret('the test app client secret', app.clientSecret);
    await pg.psql(`ALTER ROLE "${pg.user}" PASSWORD '${token}';`);
  });
  afterAll(async () => {
    await t?.stop();
    await kv?.stop();
    await pg?.destroy();
  });

  const source = (
    cloudConfig: Record<string, unknown>,
    connectionProperties: Record<string, unknown> = { azure_authority_host: kv.url, azure_ssl_ca: kv.caCertPem },
  ) =>
    DataSource.fromPartial({
      id: 'entra-pg',
      type: 'postgres',
      location: Location.LOCATION_CLOUD,
      cloudProvider: CloudProvider.CLOUD_PROVIDER_AZURE,
      primary: { host: pg.host, port: pg.port, database: pg.database },
      credentials: { username: pg.user },
      sslConfig: sslConfig({ ca: pg.caCertPem }),
      cloudConfig: { useIamAuth: true, ...cloudConfig },
      connectionProperties,
    });
  const clientSecret = () => ({ azureTenantId: app.tenantId, azureClientId: app.clientId, azureClientSecret: inline(app.clientSecret) });

  async function validate(dataSource: DataSource, on: TestDaemon = t): Promise<ValidateDataSourceResponse[]> {
    try {
      const events = await on.validate({ dataSource });
      seen.push(events);
      return events;
    } catch (error) {
      seen.push(error);
      throw error;
    }
  }

  /** The real ClientSecretCredential asks the stand-in's authority for the database scope; the token is the password. */
  it('authenticates with a token for the ossrdbms scope from a client secret', async () => {
    kv.clearRequests();
    const events = await validate(source(clientSecret()));
    expect(checkOf(events, 'authenticate').state).toBe('PASSED');
    expect(checkOf(events, 'resolve-credentials').details['password.source']).toMatch(/^azure-entra token \(expires \d{4}-\d\d-\d\dT/);
    const tokenRequests = kv.requests.filter((r) => r.kind === 'token');
    expect(tokenRequests.length).toBeGreaterThanOrEqual(1);
    expect(tokenRequests.every((r) => r.scope === DATABASE_SCOPE && r.status === 200)).toBe(true);

    // A second validation mints again (one getToken per connection); the credential serves its cached token.
    const again = await validate(source(clientSecret()));
    expect(checkOf(again, 'authenticate').state).toBe('PASSED');
    const mints = t.spans.getFinishedSpans().filter((s) => s.name === 'sourced.token.mint' && s.attributes['sourced.token.provider'] === 'azure-entra');
    expect(mints.length).toBeGreaterThanOrEqual(2);
    expect(kv.requests.filter((r) => r.kind === 'token').length).toBe(tokenRequests.length);
  });

  it('reports a wrong client secret as refused by Entra, without the secret', async () => {
    const wrong = `${app.clientSecret}x`;
    registerSecret('a wrong client secret', wrong);
    const events = await validate(source({ ...clientSecret(), azureClientSecret: inline(wrong) }));
    const rc = checkOf(events, 'resolve-credentials');
    expect(rc.state).toBe('FAILED');
    expect(rc.message).toContain('refused a database token (https://ossrdbms-aad.database.windows.net/.default)');
    expect(rc.message).toContain('AADSTS7000215');
    expect(rc.message).not.toMatch(/Trace ID|Correlation ID/);
    expect(JSON.stringify(events)).not.toContain(wrong);
  });

  it("refuses the authority override for the daemon's own identity", async () => {
    const events = await validate(source({ useManagedIdentity: true }));
    const rc = checkOf(events, 'resolve-credentials');
    expect(rc.state).toBe('FAILED');
    expect(rc.message).toContain('azure_authority_host');
  });

  it('names @sourced/plugin-azure when no loaded plugin provides Azure tokens', async () => {
    const bare = await startTestDaemon({ plugins: ['@sourced/plugin-postgres'] });
    try {
      let text: string;
      try {
        text = JSON.stringify(await validate(source(clientSecret()), bare));
      } catch (error) {
        text = String((error as Error).message);
      }
      expect(text).toContain('@sourced/plugin-azure');
      expect(everythingVisible(bare, [])).not.toContain(app.clientSecret);
    } finally {
      await bare.stop();
    }
  });

  it('shows neither the token nor the client secret in events, logs or spans', () => {
    const visible = everythingVisible(t, seen);
    expect(visible).not.toContain(token);
    expect(visible).not.toContain(app.clientSecret);
  });
});
