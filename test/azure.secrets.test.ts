/**
 * The Azure Key Vault secrets provider through the daemon, against a stand-in (and the real service with a subscription).
 *
 * Why one file (~450 lines): the stand-in cases share one Key Vault and Entra ID stand-in and one daemon; the real-service
 * block mirrors them and runs only with a subscription.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_CONFIG } from '../daemon/src';
import { DataSource } from '@sourced/api';
import type { ValidateDataSourceResponse } from '@sourced/api';
import type { ListPluginsResponse } from '@sourced/api';
import { AzureStandIn, type AzureApp } from './harness/azure/AzureStandIn';
import { registerSecret } from './support/secretScan';
import { AZURE_PLUGINS, check, everythingVisible, failedLinks, keyVaultSource, passed, type KeyVaultSourceOptions } from './harness/azure/sources';
import { eventually } from './support/pg';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

const CLIENT_SECRET_ENV = 'SOURCED_SECRET_AZURE_CLIENT_SECRET';
/** The provider time limit of the daemon in the timeout test (the suite's daemon keeps the default 10 s). */
const SHORT_PROVIDER_TIMEOUT_MS = 1000;

describe('Azure Key Vault secrets (stand-in)', () => {
  const pg = inject('postgres');
  let kv: AzureStandIn;
  let app: AzureApp;
  let t: TestDaemon;
  /** Every event and error any test saw, for the final leak check. */
  const seen: unknown[] = [];
  /** Client secrets the tests sent that no app has (they must not leak either). */
  const wrongSecrets: string[] = [];
  /** What other daemons of the suite showed (their events are in `seen`). */
  const otherOutput: string[] = [];

  const daemon = (overrides: Partial<typeof DEFAULT_CONFIG.secrets> = {}) =>
    startTestDaemon({
      plugins: AZURE_PLUGINS,
      secrets: { ...DEFAULT_CONFIG.secrets, ...overrides },
    });

  /** Validates through `on` (default: the suite's daemon), remembering everything for the leak check. */
  async function validate(options: KeyVaultSourceOptions, on: TestDaemon = t): Promise<ValidateDataSourceResponse[]> {
    try {
      const events = await on.validate({ dataSource: keyVaultSource(pg, kv, options) });
      seen.push(events);
      return events;
    } catch (error) {
      seen.push(error);
      throw error;
    }
  }

  beforeAll(async () => {
    kv = await AzureStandIn.start({ vaultName: 'sourced-test' });
    app = kv.addApp();
    kv.setSecret('pg-password', pg.password);
    t = await daemon();
  });
  afterAll(async () => {
    delete process.env[CLIENT_SECRET_ENV];
    // tokens, client secrets and Entra error ids: the harness-wide scan checks them across the file
    for (const value of kv?.sensitiveValues() ?? []) registerSecret('an Azure stand-in token, client secret or error id', value);
    await t?.stop();
    await kv?.stop();
  });

  /** The plugin loads from its package and registers the azure-kv scheme. */
  it('registers the azure-key-vault provider for azure-kv://', async () => {
    const { plugins } = await new Promise<ListPluginsResponse>((ok, fail) => t.plugins.listPlugins({}, (e, r) => (e ? fail(e) : ok(r))));
    expect(plugins.find((p) => p.id === 'azure')).toMatchObject({
      version: '0.1.0',
      secretProviders: ['azure-kv'],
      module: '@sourced/plugin-azure',
      loadError: '',
    });
  });

  /** The real ClientSecretCredential runs end to end: challenge, OpenID configuration, token, then the authenticated read. */
  it('resolves the password from Key Vault with a client secret and validation passes', async () => {
    kv.clearRequests();
    const events = await validate({ app });
    expect(passed(events)).toBe(true);
    expect(check(events, 'resolve-credentials').details['password.source']).toBe('azure-kv://sourced-test/pg-password');
    expect(check(events, 'authenticate').state).toBe('PASSED');
    expect(kv.requests.map((r) => [r.kind, r.status, r.authenticated])).toEqual([
      ['secret', 401, false],
      ['openid-configuration', 200, false],
      ['token', 200, false],
      ['secret', 200, true],
    ]);
    const token = kv.requests.find((r) => r.kind === 'token');
    expect(token).toMatchObject({ tenantId: app.tenantId, clientId: app.clientId, grantType: 'client_credentials', scope: 'https://vault.azure.net/.default' });
    expect(kv.requests.at(-1)).toMatchObject({ secretName: 'pg-password', clientId: app.clientId, apiVersion: expect.stringMatching(/^(7\.\d|20\d\d-)/) });
  });

  /** A resolved secret is cached: the next validation reads no vault. */
  it('serves a second look-up from the cache', async () => {
    const before = kv.secretCalls('pg-password');
    const events = await validate({ app });
    expect(passed(events)).toBe(true);
    expect(kv.secretCalls('pg-password')).toBe(before);
  });

  /** The client secret can itself be a reference (here env://SOURCED_SECRET_*), resolved through the chain. */
  it('takes the client secret from an env:// reference, typed or in the loose cloud_config', async () => {
    process.env[CLIENT_SECRET_ENV] = app.clientSecret;
    kv.setSecret('pg-env', pg.password);
    const typed = await validate({ app, reference: 'azure-kv://sourced-test/pg-env', clientSecret: { reference: `env://${CLIENT_SECRET_ENV}` } });
    expect(passed(typed)).toBe(true);
    expect(check(typed, 'resolve-credentials').details['password.source']).toBe('azure-kv://sourced-test/pg-env');

    kv.setSecret('pg-loose', pg.password);
    const loose = await validate({
      reference: 'azure-kv://sourced-test/pg-loose',
      connectionProperties: {
        cloud_config: { azure_tenant_id: app.tenantId, azure_client_id: app.clientId, azure_client_secret: `env://${CLIENT_SECRET_ENV}` },
      },
    });
    expect(passed(loose)).toBe(true);
    expect(kv.secretCalls('pg-loose')).toBe(1);
  });

  /** A version in the reference reads that version; without one, the current version is read. */
  it('reads a given version, the current one by default, and names a missing or disabled version', async () => {
    const good = kv.setSecret('pg-versioned', pg.password);
    kv.setSecret('pg-versioned', 'not-the-password');
    const old = await validate({ app, reference: `azure-kv://sourced-test/pg-versioned/${good}` });
    expect(passed(old)).toBe(true);
    expect(kv.requests.at(-1)).toMatchObject({ secretName: 'pg-versioned', version: good, status: 200 });

    const current = await validate({ app, reference: 'azure-kv://sourced-test/pg-versioned' });
    expect(check(current, 'resolve-credentials').state).toBe('PASSED');
    expect(check(current, 'authenticate').state).toBe('FAILED');

    const missing = await validate({ app, reference: 'azure-kv://sourced-test/pg-versioned/0123456789abcdef0123456789abcdef' });
    expect(check(missing, 'resolve-credentials').message).toContain(
      'secret pg-versioned version 0123456789abcdef0123456789abcdef was not found in vault sourced-test',
    );

    const disabled = kv.setSecret('pg-versioned', pg.password, { enabled: false });
    const from = t.logs.length;
    const off = await validate({ app, reference: `azure-kv://sourced-test/pg-versioned/${disabled}` });
    expect(check(off, 'resolve-credentials').message).toContain(`secret pg-versioned version ${disabled} in vault sourced-test`);
    expect(check(off, 'resolve-credentials').message).toContain('is disabled');
    expect(failedLinks(t, from)).toContainEqual({ link: 'azure-kv://sourced-test/pg-versioned/' + disabled, reason: 'SECRET_ACCESS_DENIED' });
  });

  /** `#password` picks a field of a JSON secret; the source names the reference without the fragment. */
  it('extracts a field of a JSON secret', async () => {
    kv.setSecret('pg-json', JSON.stringify({ username: pg.user, password: pg.password }), { contentType: 'application/json' });
    const events = await validate({ app, reference: 'azure-kv://sourced-test/pg-json#password' });
    expect(passed(events)).toBe(true);
    expect(check(events, 'resolve-credentials').details['password.source']).toBe('azure-kv://sourced-test/pg-json');

    const wrongField = await validate({ app, reference: 'azure-kv://sourced-test/pg-json#secret.pass' });
    expect(check(wrongField, 'resolve-credentials').state).toBe('FAILED');
  });

  /** A missing secret is NOT_FOUND, naming the vault and the secret. */
  it('reports a missing secret as not found', async () => {
    const from = t.logs.length;
    const events = await validate({ app, reference: 'azure-kv://sourced-test/no-such-secret' });
    const rc = check(events, 'resolve-credentials');
    expect(rc.state).toBe('FAILED');
    expect(rc.message).toContain('azure-kv://sourced-test/no-such-secret: secret no-such-secret was not found in vault sourced-test');
    expect(failedLinks(t, from)).toEqual([{ link: 'azure-kv://sourced-test/no-such-secret', reason: 'SECRET_NOT_FOUND' }]);
    expect(check(events, 'authenticate').state).toBe('SKIPPED');
  });

  /** An app without `secrets get` is ACCESS_DENIED, and the message says who may not read what. */
  it('reports an app without access as access denied', async () => {
    const reader = kv.addApp({ canReadSecrets: false });
    const from = t.logs.length;
    const events = await validate({ app: reader });
    const rc = check(events, 'resolve-credentials');
    expect(rc.message).toContain(`${reader.tenantId}/${reader.clientId} may not read secret pg-password in vault sourced-test`);
    expect(rc.message).toContain('does not have secrets get permission');
    expect(failedLinks(t, from)).toEqual([{ link: 'azure-kv://sourced-test/pg-password', reason: 'SECRET_ACCESS_DENIED' }]);
  });

  /** A wrong client secret is INVALID_CREDENTIALS with Entra's reason, scrubbed of its trace and correlation ids. */
  it('reports a wrong client secret as invalid credentials', async () => {
    const wrong = `${app.clientSecret.slice(0, 10)}-wrong-${Math.random().toString(36).slice(2)}`;
    wrongSecrets.push(wrong);
    const from = t.logs.length;
    const events = await validate({ app, reference: 'azure-kv://sourced-test/pg-password', clientSecret: { inline: wrong } });
    const rc = check(events, 'resolve-credentials');
    expect(rc.message).toContain(`refused the credentials of ${app.tenantId}/${app.clientId} (invalid_client: AADSTS7000215: Invalid client secret provided.`);
    expect(rc.message).not.toMatch(/Trace ID|Correlation ID|Timestamp/);
    expect(failedLinks(t, from)).toEqual([{ link: 'azure-kv://sourced-test/pg-password', reason: 'SECRET_PROVIDER_CREDENTIALS_INVALID' }]);
    expect(everythingVisible(t, seen)).not.toContain(wrong);
  });

  /** A token the vault no longer accepts (401 after the challenge) is INVALID_CREDENTIALS. */
  it('reports a token the vault rejects as invalid credentials', async () => {
    const revoked = kv.addApp();
    kv.setSecret('pg-revoked', pg.password);
    const first = await validate({ app: revoked, reference: 'azure-kv://sourced-test/pg-password' });
    expect(passed(first)).toBe(true);
    kv.revokeTokens(revoked.clientId);
    const from = t.logs.length;
    const events = await validate({ app: revoked, reference: 'azure-kv://sourced-test/pg-revoked' });
    expect(check(events, 'resolve-credentials').message).toContain(
      `vault sourced-test (${kv.url}) did not accept the token of ${revoked.tenantId}/${revoked.clientId} (Unauthorized: AKV10022`,
    );
    expect(failedLinks(t, from)).toEqual([{ link: 'azure-kv://sourced-test/pg-revoked', reason: 'SECRET_PROVIDER_CREDENTIALS_INVALID' }]);
  });

  /** The cache is keyed by who fetches: naming a cached secret's app with a wrong client secret gets nothing from the cache. */
  it('never serves a cached value to a caller with other credentials', async () => {
    const other = `other-${Math.random().toString(36).slice(2)}`;
    wrongSecrets.push(other);
    const events = await validate({ app, clientSecret: { inline: other } });
    expect(check(events, 'resolve-credentials').state).toBe('FAILED');
    expect(check(events, 'resolve-credentials').message).toContain('invalid_client');
  });

  /** The daemon's own identity (managed identity, default chain) is never sent to an address the request chose. */
  it('refuses the overrides without a client secret from the request', async () => {
    kv.clearRequests();
    for (const cloudConfig of [{ useManagedIdentity: true }, {}]) {
      const from = t.logs.length;
      const events = await validate({ cloudConfig });
      expect(check(events, 'resolve-credentials').message).toMatch(/can be used only with a client secret given in the request/);
      expect(failedLinks(t, from)).toEqual([{ link: 'azure-kv://sourced-test/pg-password', reason: 'SECRET_ACCESS_DENIED' }]);
    }
    expect(kv.requests).toEqual([]);
  });

  /** A vault that cannot be reached is UNREACHABLE, and the chain falls back to connection_properties.password. */
  it('falls back to the next link when the vault is down or failing', async () => {
    kv.setSecret('pg-down', pg.password);
    kv.setDown(true);
    try {
      const from = t.logs.length;
      const events = await validate({ app, reference: 'azure-kv://sourced-test/pg-down', connectionProperties: { password: pg.password } });
      expect(passed(events)).toBe(true);
      expect(check(events, 'resolve-credentials').details['password.source']).toBe('connection_properties.password');
      expect(failedLinks(t, from)).toEqual([{ link: 'azure-kv://sourced-test/pg-down', reason: 'SECRET_PROVIDER_UNREACHABLE' }]);
    } finally {
      kv.setDown(false);
    }

    kv.failNext(2, { status: 503 });
    const from = t.logs.length;
    const failing = await validate({ app, reference: 'azure-kv://sourced-test/pg-down', connectionProperties: { password: pg.password } });
    expect(passed(failing)).toBe(true);
    expect(failedLinks(t, from)).toEqual([{ link: 'azure-kv://sourced-test/pg-down', reason: 'SECRET_PROVIDER_UNREACHABLE' }]);
    expect(check(failing, 'resolve-credentials').details['password.source']).toBe('connection_properties.password');
    expect(kv.requests.filter((r) => r.secretName === 'pg-down').map((r) => r.status)).toEqual([503, 503]);
  });

  /** A vault slower than the provider time limit is abandoned (the SDK request is aborted) and the chain moves on. */
  it('times out a slow vault and aborts its request', async () => {
    const impatient = await daemon({ providerTimeoutMs: SHORT_PROVIDER_TIMEOUT_MS });
    kv.setSecret('pg-slow', pg.password);
    kv.setDelay(30_000);
    try {
      const from = impatient.logs.length;
      const started = Date.now();
      const events = await validate({ app, reference: 'azure-kv://sourced-test/pg-slow', connectionProperties: { password: pg.password } }, impatient);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(passed(events)).toBe(true);
      expect(check(events, 'resolve-credentials').details['password.source']).toBe('connection_properties.password');
      expect(failedLinks(impatient, from)).toEqual([{ link: 'azure-kv://sourced-test/pg-slow', reason: 'SECRET_PROVIDER_TIMEOUT' }]);
      const aborted = await eventually(
        async () => kv.requests.filter((r) => r.secretName === 'pg-slow' && r.aborted).length,
        (n) => n > 0,
      );
      expect(aborted).toBeGreaterThan(0);
    } finally {
      kv.setDelay(0);
      otherOutput.push(everythingVisible(impatient, []));
      await impatient.stop();
    }
  });

  /** Throttling (429) is retried with back-off until the vault answers. */
  it('retries throttled reads and then succeeds', async () => {
    kv.setSecret('pg-throttled', pg.password);
    kv.failNext(2, { status: 429, retryAfterSeconds: 1 });
    const events = await validate({ app, reference: 'azure-kv://sourced-test/pg-throttled' });
    expect(passed(events)).toBe(true);
    expect(kv.requests.filter((r) => r.secretName === 'pg-throttled').map((r) => r.status)).toEqual([429, 429, 200]);
  });

  /** Throttling that does not stop ends as THROTTLED after the chain's attempts, not as a hang. */
  it('gives up on persistent throttling with a throttled reason', async () => {
    kv.setSecret('pg-busy', pg.password);
    kv.failNext(20, { status: 429 });
    try {
      const from = t.logs.length;
      const events = await validate({ app, reference: 'azure-kv://sourced-test/pg-busy' });
      expect(check(events, 'resolve-credentials').message).toContain('throttled azure-kv://sourced-test/pg-busy 3 times');
      expect(failedLinks(t, from)).toEqual([{ link: 'azure-kv://sourced-test/pg-busy', reason: 'SECRET_PROVIDER_THROTTLED' }]);
      expect(kv.secretCalls('pg-busy')).toBe(3);
    } finally {
      kv.clearFaults();
    }
  });

  /** Concurrent look-ups of one reference make a single vault call. */
  it('makes one vault call for 20 concurrent look-ups', async () => {
    kv.setSecret('pg-concurrent', pg.password);
    const runs = await Promise.all(Array.from({ length: 20 }, () => validate({ app, reference: 'azure-kv://sourced-test/pg-concurrent' })));
    expect(runs.map((events) => check(events, 'resolve-credentials').state)).toEqual(Array(20).fill('PASSED'));
    expect(runs.every(passed)).toBe(true);
    expect(kv.secretCalls('pg-concurrent')).toBe(1);
  });

  /** After the cache TTL a rotated secret is read again and its new value used. */
  it('picks up a rotated secret after the TTL', async () => {
    const short = await daemon({ cacheTtlMs: 300 });
    try {
      kv.setSecret('pg-rotating', 'the-old-password');
      const before = await validate({ app, reference: 'azure-kv://sourced-test/pg-rotating' }, short);
      expect(check(before, 'authenticate').state).toBe('FAILED');
      kv.setSecret('pg-rotating', pg.password);
      const after = await eventually(
        () => validate({ app, reference: 'azure-kv://sourced-test/pg-rotating' }, short),
        (events) => passed(events),
        10_000,
      );
      expect(passed(after)).toBe(true);
      expect(kv.secretCalls('pg-rotating')).toBeGreaterThanOrEqual(2);
    } finally {
      otherOutput.push(everythingVisible(short, []));
      await short.stop();
    }
  });

  /** No client secret, token, password, or provider request id appears in any event, error, log line or span. */
  it('leaks no secret anywhere', async () => {
    const visible = [everythingVisible(t, seen), ...otherOutput].join('\n');
    expect(visible.length).toBeGreaterThan(1000);
    // the password, every token issued, every client secret (right and wrong), the provider's trace and correlation ids
    const sensitive = [pg.password, ...kv.sensitiveValues(), ...wrongSecrets];
    expect(sensitive.length).toBeGreaterThanOrEqual(10);
    for (const value of sensitive) expect(visible.includes(value), `a sensitive value of ${value.length} characters is visible`).toBe(false);
  });
});

/** What the real-service suite needs from the environment, or which variables are missing. */
function realKeyVault() {
  const names = [
    'SOURCED_TEST_AZURE_KEY_VAULT_URL',
    'SOURCED_TEST_AZURE_TENANT_ID',
    'SOURCED_TEST_AZURE_CLIENT_ID',
    'SOURCED_TEST_AZURE_CLIENT_SECRET',
    'SOURCED_TEST_AZURE_SECRET_NAME',
  ] as const;
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length > 0) return { missing };
  const env = (n: (typeof names)[number]) => process.env[n] as string;
  return {
    missing,
    config: {
      vaultUrl: env('SOURCED_TEST_AZURE_KEY_VAULT_URL').replace(/\/+$/, ''),
      tenantId: env('SOURCED_TEST_AZURE_TENANT_ID'),
      clientId: env('SOURCED_TEST_AZURE_CLIENT_ID'),
      clientSecret: env('SOURCED_TEST_AZURE_CLIENT_SECRET'),
      secretName: env('SOURCED_TEST_AZURE_SECRET_NAME'),
      /** Optional: an authority other than the public cloud's (a sovereign cloud is derived from the vault host). */
      authorityHost: process.env.SOURCED_TEST_AZURE_AUTHORITY_HOST,
      /** Optional: a PEM file of a CA to trust for a vault or authority outside Azure (an emulator, a TLS proxy). */
      caPem: process.env.SOURCED_TEST_AZURE_CA_FILE ? readFileSync(process.env.SOURCED_TEST_AZURE_CA_FILE, 'utf8') : undefined,
    },
  };
}

const REAL = realKeyVault();

describe.skipIf(!REAL.config)(
  `Azure Key Vault secrets (real service)${REAL.config ? '' : `: skipped, set ${REAL.missing.join(', ')} (the secret may hold any value; only its resolution is checked)`}`,
  () => {
    const pg = inject('postgres');
    // the body is collected even when skipped: a placeholder keeps it from failing then
    const real = REAL.config ?? {
      vaultUrl: 'https://unset.vault.azure.net',
      tenantId: '',
      clientId: '',
      clientSecret: '',
      secretName: '',
      authorityHost: undefined,
      caPem: undefined,
    };
    const host = new URL(real.vaultUrl).hostname;
    const knownHost = /\.vault\.(azure\.net|azure\.cn|usgovcloudapi\.net)$/.test(host);
    /** A vault on a Key Vault domain is named by its host; any other URL goes in the override. */
    const reference = (name: string) => (knownHost ? `azure-kv://${host}/${name}` : `azure-kv://real-vault/${name}`);
    let t: TestDaemon;
    const seen: unknown[] = [];

    const source = (name: string, clientSecret = real.clientSecret) =>
      DataSource.fromPartial({
        type: 'postgres',
        primary: { host: pg.host, port: pg.port, database: pg.database },
        credentials: { username: pg.user, password: { source: { $case: 'reference', value: reference(name) } } },
        cloudConfig: {
          azureTenantId: real.tenantId,
          azureClientId: real.clientId,
          azureClientSecret: { source: { $case: 'inlineValue', value: clientSecret } },
        },
        connectionProperties: {
          ...(knownHost ? {} : { azure_key_vault_url: real.vaultUrl }),
          ...(real.authorityHost ? { azure_authority_host: real.authorityHost } : {}),
          ...(real.caPem ? { azure_ssl_ca: real.caPem } : {}),
        },
      });
    const validate = async (name: string, clientSecret?: string) => {
      const events = await t.validate({ dataSource: source(name, clientSecret) });
      seen.push(events);
      return events;
    };

    beforeAll(async () => {
      t = await startTestDaemon({
        plugins: AZURE_PLUGINS,
        secrets: { ...DEFAULT_CONFIG.secrets, allowedReferences: [...DEFAULT_CONFIG.secrets.allowedReferences, 'https://*'] },
      });
    });
    afterAll(() => t?.stop());

    /** The real SDK resolves the secret through the real challenge and token flow. */
    it('resolves the secret with a client secret', async () => {
      const events = await validate(real.secretName);
      const rc = check(events, 'resolve-credentials');
      expect(rc.state, rc.message).toBe('PASSED');
      expect(rc.details['password.source']).toBe(reference(real.secretName));
    });

    /** A missing secret is NOT_FOUND. */
    it('reports a missing secret as not found', async () => {
      const name = `sourced-missing-${Math.random().toString(36).slice(2)}`;
      const from = t.logs.length;
      const events = await validate(name);
      expect(check(events, 'resolve-credentials').message).toContain(`secret ${name} was not found`);
      expect(failedLinks(t, from)).toEqual([{ link: reference(name), reason: 'SECRET_NOT_FOUND' }]);
    });

    /** A wrong client secret is INVALID_CREDENTIALS, and Entra's ids do not reach the message. */
    it('reports a wrong client secret as invalid credentials', async () => {
      const from = t.logs.length;
      const events = await validate(real.secretName, `wrong-${Math.random().toString(36).slice(2)}`);
      expect(check(events, 'resolve-credentials').message).not.toMatch(/Trace ID|Correlation ID/);
      expect(failedLinks(t, from)).toEqual([{ link: reference(real.secretName), reason: 'SECRET_PROVIDER_CREDENTIALS_INVALID' }]);
    });

    /** The client secret appears in no event, log line or span. */
    it('leaks no client secret', () => {
      expect(everythingVisible(t, seen).includes(real.clientSecret)).toBe(false);
    });
  },
);
