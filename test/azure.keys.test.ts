/**
 * The `azure-kv-keys` key provider (plugins/azure, the real @azure/keyvault-keys and
 * @azure/identity) against the Azure stand-in (Entra token authority, Key Vault keys with the
 * bearer challenge and real RSA-OAEP-256): EncryptSecret and a PostgreSQL validation and
 * discovery whose password is an Azure-wrapped envelope, rotation by key versions with
 * ReencryptSecret, and every refusal (wrong context, a context rewritten into the envelope,
 * tampering, a disabled or purged version, an unknown version, another key, another vault, an
 * app without key permissions, Key Vault down) as the right status with a hint; a fuzz pass over
 * the envelope's bytes; the leak scan covers the client secret, tokens and every data key the
 * vault wrapped. The last block runs against a real vault when its variables are set.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataSource, SecretServiceClient, type EncryptSecretResponse, type ReencryptSecretResponse } from '@sourced/api';
import { DataKeyInvalidError, KeyAccessDeniedError, KeyDisabledError, KeyNotFoundError, noopLogger } from '@sourced/core';
import { AZURE_KEY_PROVIDER_ID, createKeyVaultKeyProvider, keyVaultKeyOptionsFrom } from '@sourced/plugin-azure';
import { DEFAULT_CONFIG } from '../daemon/src';
import { collect, expectFailure, richStatusOf, startTestDaemon as startSdkTestDaemon, type TestDaemon } from '../sdk/src/testing';
import { AzureStandIn, type AzureApp } from './harness/azure/AzureStandIn';
import { superuserQuery } from './support/pg';
import { buildEnvelope, contextDigest, envelopeFields, mutatedEnvelopes } from './support/envelopeFuzz';
import { captureSource, captureText, registerSecret, spansText } from './support/secretScan';
import { check } from './support/validation';

const SECRET_ENV = 'SOURCED_TEST_KEYS_AZURE_CLIENT_SECRET';

describe('azure-kv-keys key provider through the daemon (stand-in)', () => {
  const pg = inject('postgres');
  const dir = mkdtempSync(join(tmpdir(), 'sourced-azkeys-'));
  const caFile = join(dir, 'ca.pem');
  const auditFile = join(dir, 'audit.log');
  let kv: AzureStandIn;
  let app: AzureApp;
  let t: TestDaemon;
  let secrets: SecretServiceClient;
  let v1 = '';
  let vOther = '';
  const ctx = { dataSourceId: 'orders-db', field: 'credentials.password' };

  const encrypt = (plaintext: string, keyId = '') =>
    new Promise<EncryptSecretResponse>((resolve, reject) =>
      secrets.encryptSecret({ plaintext, context: ctx, keyProvider: AZURE_KEY_PROVIDER_ID, keyId }, (e, r) => (e ? reject(e) : resolve(r))),
    );
  const reencrypt = (envelope: string) =>
    new Promise<ReencryptSecretResponse>((resolve, reject) =>
      secrets.reencryptSecret({ envelope, context: ctx, keyProvider: '', keyId: '' }, (e, r) => (e ? reject(e) : resolve(r))),
    );
  const source = (envelope: string, id = 'orders-db') =>
    DataSource.fromPartial({
      id,
      type: 'postgres',
      primary: { host: pg.host, port: pg.port, database: pg.database },
      credentials: { username: pg.user, password: { source: { $case: 'encrypted', value: envelope } } },
    });
  const discover = (ds: DataSource, maxEntities = 1) =>
    collect(t.dataSources.discoverDataSource({ dataSource: ds, strategy: 0, batchSize: 0, resumeAfter: '', maxEntities, maxDurationMs: 0 }));
  const failure = async (call: Promise<unknown>) => {
    const error = await expectFailure(call);
    const rich = richStatusOf(error);
    captureText('error statuses', JSON.stringify(rich));
    return { code: rich.grpcCode, reason: rich.errorInfo?.reason, metadata: rich.errorInfo?.metadata ?? {} };
  };
  /** The provider alone, with the daemon's settings (or another app's). */
  const provider = (who: AzureApp = app, env = SECRET_ENV) =>
    createKeyVaultKeyProvider({
      keyId: kv.keyId('sourced'),
      tenantId: who.tenantId,
      clientId: who.clientId,
      clientSecretEnv: env,
      authorityHost: kv.url,
      caFile,
    });
  const call = () => ({ signal: AbortSignal.timeout(20_000), logger: noopLogger, field: 'f' });

  beforeAll(async () => {
    kv = await AzureStandIn.start({ vaultName: 'sourced-keys' });
    app = kv.addApp();
    v1 = kv.createKey('sourced');
    vOther = kv.createKey('other');
    writeFileSync(caFile, kv.caCertPem);
    process.env[SECRET_ENV] = app.clientSecret;
    registerSecret('the app client secret', app.clientSecret);
    t = await startSdkTestDaemon({
      builtins: true,
      config: {
        pluginSettings: {
          azure: {
            keys: { keyId: kv.keyId('sourced'), tenantId: app.tenantId, clientId: app.clientId, clientSecretEnv: SECRET_ENV, authorityHost: kv.url, caFile },
          },
        },
        audit: { ...DEFAULT_CONFIG.audit, file: auditFile, stdout: false },
      } as never,
    });
    captureSource('daemon log lines', () => t.logs.join('\n'));
    captureSource('exported spans', () => spansText(t.spans.getFinishedSpans()));
    secrets = new SecretServiceClient(t.address, credentials.createInsecure());
  });
  afterAll(async () => {
    // tokens, the client secret, Entra error ids and every data key the vault wrapped or unwrapped
    for (const value of kv?.sensitiveValues() ?? []) registerSecret('an Azure stand-in token, client secret, error id or data key', value);
    delete process.env[SECRET_ENV];
    secrets?.close();
    await t?.stop();
    await kv?.stop();
    captureText('audit log', readFileSync(auditFile, 'utf8'));
    rmSync(dir, { recursive: true, force: true });
  });

  /** The round trip: the key's current version wraps (RSA-OAEP-256), its full id goes into the envelope, and validation and discovery open it. */
  it('encrypts with wrapKey under the current version, and a PostgreSQL validation and discovery decrypt with unwrapKey', async () => {
    const sealed = await encrypt(pg.password);
    expect(sealed.key).toEqual({ keyProvider: AZURE_KEY_PROVIDER_ID, keyId: kv.keyId('sourced', v1) });
    expect(kv.keyCalls.at(-1)).toMatchObject({ operation: 'wrapKey', name: 'sourced', version: v1, algorithm: 'RSA-OAEP-256', status: 200 });
    const events = await t.validate({ dataSource: source(sealed.envelope) });
    expect(check(events, 'resolve-credentials').details['password.source']).toBe(`encrypted (${AZURE_KEY_PROVIDER_ID}:${kv.keyId('sourced', v1)})`);
    expect(check(events, 'authenticate').status).toBe(1);
    expect(kv.keyCalls.at(-1)).toMatchObject({ operation: 'unwrapKey', name: 'sourced', version: v1, algorithm: 'RSA-OAEP-256', status: 200 });
    // Discovery in a database of its own (the shared fixture database's catalog is compared by other suites).
    const database = `sourced_azkeys_${process.pid}_${Date.now()}`;
    await superuserQuery(pg, `CREATE DATABASE ${database}`);
    try {
      const own = { ...pg, database };
      await superuserQuery(own, 'CREATE SCHEMA azkeys; CREATE TABLE azkeys.probe (id int primary key)');
      await superuserQuery(own, `GRANT USAGE ON SCHEMA azkeys TO ${pg.user}; GRANT SELECT ON azkeys.probe TO ${pg.user}`);
      const ds = source(sealed.envelope);
      const discovered = (await discover(DataSource.fromPartial({ ...ds, primary: { ...ds.primary, database } }), 0))
        .flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations : []))
        .filter((r) => r.schema === 'azkeys')
        .map((r) => r.name);
      expect(discovered).toEqual(['probe']);
    } finally {
      await superuserQuery(pg, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
    // The SDK met the vault's bearer challenge first, as with the real service.
    expect(kv.requests.some((r) => r.kind === 'key' && r.status === 401 && !r.authenticated)).toBe(true);
  });

  it('ListPlugins shows azure-kv-keys as a key provider of the azure plugin', async () => {
    const plugins = await t.listPlugins();
    expect(plugins.find((p) => p.id === 'azure')?.keyProviders).toEqual([AZURE_KEY_PROVIDER_ID]);
  });

  /** Key Vault's wrap has no context: the binding is the envelope's own (digest and AES-GCM additional data). */
  it('a wrong context is PERMISSION_DENIED, and a context rewritten into the envelope does not authenticate', async () => {
    const sealed = (await encrypt(pg.password)).envelope;
    expect(await failure(discover(source(sealed, 'billing-db')))).toMatchObject({ code: status.PERMISSION_DENIED, reason: 'ENVELOPE_CONTEXT_MISMATCH' });
    const f = envelopeFields(sealed);
    const moved = buildEnvelope({ ...f, contextDigest: contextDigest({ ...ctx, dataSourceId: 'billing-db' }) });
    expect(await failure(discover(source(moved, 'billing-db')))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'ENVELOPE_TAMPERED' });
    const flipped = Buffer.from(f.ciphertext);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(await failure(discover(source(buildEnvelope({ ...f, ciphertext: flipped }))))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: 'ENVELOPE_TAMPERED',
    });
  });

  it('an unknown version, another key, another vault and a non-Key Vault key id are refused with a hint', async () => {
    const f = envelopeFields((await encrypt(pg.password)).envelope);
    const unknown = kv.keyId('sourced', 'f'.repeat(32));
    const notFound = await failure(discover(source(buildEnvelope({ ...f, keyId: unknown }))));
    expect(notFound).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'ENCRYPTION_KEY_NOT_FOUND', metadata: { key_id: unknown } });
    expect(notFound.metadata.hint).toMatch(/Key Vault has no key .*ReencryptSecret/);
    expect(kv.keyCalls.at(-1)).toMatchObject({ operation: 'get', version: 'f'.repeat(32), status: 404, error: 'KeyNotFound' });

    const otherKey = kv.keyId('other', vOther);
    expect(await failure(discover(source(buildEnvelope({ ...f, keyId: otherKey }))))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: 'ENVELOPE_DATA_KEY_INVALID',
    });
    expect(kv.keyCalls.at(-1)).toMatchObject({ operation: 'unwrapKey', name: 'other', status: 400, error: 'BadParameter' });

    const before = kv.requests.length;
    const foreign = await failure(discover(source(buildEnvelope({ ...f, keyId: `https://attacker.example/keys/sourced/${v1}` }))));
    expect(foreign).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'ENCRYPTION_KEY_NOT_FOUND' });
    expect(foreign.metadata.hint).toMatch(/refused without contacting it/);
    expect(kv.requests.length).toBe(before);
    expect(await failure(discover(source(buildEnvelope({ ...f, keyId: 'not-a-key-id' }))))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: 'ENCRYPTION_KEY_NOT_FOUND',
    });
  });

  it('rotation: a new key version wraps new envelopes, old ones still open, ReencryptSecret moves them, then disabling the old version leaves the rewrapped one working (and a version gone is KeyNotFound)', async () => {
    const old = (await encrypt(pg.password)).envelope;
    const v2 = kv.createKey('sourced');
    const fresh = await encrypt(pg.password);
    expect(fresh.key?.keyId).toBe(kv.keyId('sourced', v2));
    expect(check(await t.validate({ dataSource: source(old) }), 'authenticate').status).toBe(1);

    const moved = await reencrypt(old);
    expect(moved.previousKey).toEqual({ keyProvider: AZURE_KEY_PROVIDER_ID, keyId: kv.keyId('sourced', v1) });
    expect(moved.key).toEqual({ keyProvider: AZURE_KEY_PROVIDER_ID, keyId: kv.keyId('sourced', v2) });

    kv.setKeyEnabled('sourced', v1, false);
    const disabled = await failure(discover(source(old)));
    expect(disabled).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'ENCRYPTION_KEY_DISABLED', metadata: { key_id: kv.keyId('sourced', v1) } });
    expect(disabled.metadata.hint).toMatch(/Enable key .* ReencryptSecret/);
    expect(kv.keyCalls.at(-1)).toMatchObject({ operation: 'unwrapKey', version: v1, status: 403, error: 'Forbidden/KeyDisabled' });
    const creds = check(await t.validate({ dataSource: source(old) }), 'resolve-credentials');
    expect(creds.status).toBe(2);
    expect(creds.hint).toMatch(/Enable key/);
    expect(check(await t.validate({ dataSource: source(moved.envelope) }), 'authenticate').status).toBe(1);

    kv.purgeKeyVersion('sourced', v1);
    expect(await failure(discover(source(old)))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'ENCRYPTION_KEY_NOT_FOUND' });
    expect(check(await t.validate({ dataSource: source(moved.envelope) }), 'authenticate').status).toBe(1);
    v1 = v2;
  });

  it('encrypting under a disabled current version is refused before wrapping (FAILED_PRECONDITION)', async () => {
    kv.setKeyEnabled('sourced', v1, false);
    try {
      expect(await failure(encrypt('s3cret-azure-disabled'))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'ENCRYPTION_KEY_DISABLED' });
      expect(kv.keyCalls.at(-1)).toMatchObject({ operation: 'get', status: 200 });
    } finally {
      kv.setKeyEnabled('sourced', v1, true);
    }
    registerSecret('a value sent to a disabled key', 's3cret-azure-disabled');
  });

  it('an app without key permissions or with a wrong secret is PERMISSION_DENIED (the secret never shown); Key Vault failing or down is UNAVAILABLE', async () => {
    const reader = kv.addApp({ canUseKeys: false });
    process.env[`${SECRET_ENV}_READER`] = reader.clientSecret;
    registerSecret('the reader client secret', reader.clientSecret);
    const p = provider(reader, `${SECRET_ENV}_READER`);
    try {
      const error = await p.generateDataKey({ context: ctx }, call()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyAccessDeniedError);
      expect((error as KeyAccessDeniedError).hint).toMatch(/get, wrapKey and unwrapKey/);
      expect((error as Error).message).not.toContain(reader.clientSecret);
    } finally {
      p.close();
      delete process.env[`${SECRET_ENV}_READER`];
    }

    const wrong = `${app.clientSecret.slice(0, 4)}${randomBytes(20).toString('base64url')}`;
    process.env[`${SECRET_ENV}_WRONG`] = wrong;
    registerSecret('a wrong client secret', wrong);
    const q = provider(app, `${SECRET_ENV}_WRONG`);
    try {
      const error = await q.generateDataKey({ context: ctx }, call()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyAccessDeniedError);
      expect((error as Error).message).toMatch(/invalid_client/);
      expect((error as Error).message).not.toContain(wrong);
    } finally {
      q.close();
      delete process.env[`${SECRET_ENV}_WRONG`];
    }

    const sealed = (await encrypt(pg.password)).envelope;
    kv.failNext(4, { status: 503 });
    try {
      expect(await failure(discover(source(sealed)))).toMatchObject({ code: status.UNAVAILABLE, reason: 'ENCRYPTION_KEY_PROVIDER_UNAVAILABLE' });
    } finally {
      kv.clearFaults();
    }
    kv.setDown(true);
    try {
      expect(await failure(discover(source(sealed)))).toMatchObject({ code: status.UNAVAILABLE, reason: 'ENCRYPTION_KEY_PROVIDER_UNAVAILABLE' });
      expect(check(await t.validate({ dataSource: source(sealed) }), 'resolve-credentials').status).toBe(2);
    } finally {
      kv.setDown(false);
    }
  });

  /** The provider's own errors, without the daemon: each refusal is its typed error. */
  it('the provider alone: round trip, another version is DataKeyInvalid or KeyNotFound, a disabled version KeyDisabled', async () => {
    const p = provider();
    try {
      const made = await p.generateDataKey({ context: ctx }, call());
      expect(made.keyId).toBe(kv.keyId('sourced', v1));
      expect(Buffer.from(await p.decryptDataKey({ keyId: made.keyId, wrapped: made.wrapped, context: ctx }, call())).equals(Buffer.from(made.plaintext))).toBe(
        true,
      );
      const cut = Buffer.from(made.wrapped).subarray(1);
      await expect(p.decryptDataKey({ keyId: made.keyId, wrapped: cut, context: ctx }, call())).rejects.toBeInstanceOf(DataKeyInvalidError);
      await expect(p.decryptDataKey({ keyId: kv.keyId('sourced', '0'.repeat(32)), wrapped: made.wrapped, context: ctx }, call())).rejects.toBeInstanceOf(
        KeyNotFoundError,
      );
      kv.setKeyEnabled('sourced', v1, false);
      await expect(p.decryptDataKey({ keyId: made.keyId, wrapped: made.wrapped, context: ctx }, call())).rejects.toBeInstanceOf(KeyDisabledError);
    } finally {
      kv.setKeyEnabled('sourced', v1, true);
      p.close();
    }
  });

  it('the audit log names the Azure key with its version and each outcome, never a value, envelope or data key', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const lines = readFileSync(auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { rpc?: string; outcome?: string; keys?: { operation: string; key_provider: string; key_id: string; outcome: string }[] });
    const uses = lines.flatMap((l) => l.keys ?? []).filter((k) => k.key_provider === AZURE_KEY_PROVIDER_ID);
    expect(uses.some((k) => k.operation === 'encrypt' && /\/keys\/sourced\/[0-9a-f]{32}$/.test(k.key_id) && k.outcome === 'OK')).toBe(true);
    expect(uses.some((k) => k.operation === 'decrypt' && k.outcome === 'OK')).toBe(true);
    expect(uses.some((k) => k.operation === 'reencrypt' && k.outcome === 'OK')).toBe(true);
    for (const reason of ['ENCRYPTION_KEY_DISABLED', 'ENCRYPTION_KEY_NOT_FOUND', 'ENVELOPE_DATA_KEY_INVALID', 'ENCRYPTION_KEY_PROVIDER_UNAVAILABLE']) {
      expect(
        uses.some((k) => k.outcome === reason),
        reason,
      ).toBe(true);
    }
    expect(readFileSync(auditFile, 'utf8')).not.toContain('sourced:enc:v1:');
  });

  it('fuzz: mutated Azure envelopes are always refused with a caller status, and the daemon keeps serving', async () => {
    const good = (await encrypt(pg.password)).envelope;
    const allowed = new Set([status.INVALID_ARGUMENT, status.PERMISSION_DENIED, status.FAILED_PRECONDITION]);
    let refused = 0;
    for (const { index, envelope } of mutatedEnvelopes(good, 80)) {
      const error = await expectFailure(discover(source(envelope)));
      expect(allowed.has(error.code), `mutation ${index}: ${status[error.code]} ${error.message}`).toBe(true);
      refused += 1;
    }
    expect(refused).toBeGreaterThan(70);
    expect(check(await t.validate({ dataSource: source(good) }), 'authenticate').status).toBe(1);
  });
});

/** A bad pluginSettings.azure.keys stops the plugin from loading with the setting named, never a half-configured provider. */
describe('pluginSettings.azure.keys', () => {
  it('reads the settings and names a bad one', () => {
    expect(keyVaultKeyOptionsFrom({ keys: { keyId: 'https://v.vault.azure.net/keys/k', managedIdentity: true } })).toEqual({
      keyId: 'https://v.vault.azure.net/keys/k',
      managedIdentity: true,
    });
    expect(keyVaultKeyOptionsFrom(undefined)).toEqual({});
    expect(() => keyVaultKeyOptionsFrom({ keys: { keyId: 'https://v.vault.azure.net/secrets/k' } })).toThrow(/keys\.keyId must be a Key Vault key id/);
    expect(() => keyVaultKeyOptionsFrom({ keys: { keyId: 'http://v.vault.azure.net/keys/k' } })).toThrow(/keys\.keyId/);
    expect(() => keyVaultKeyOptionsFrom({ keys: { clientSecretEnv: 'X' } })).toThrow(/needs tenantId and clientId/);
    expect(() => keyVaultKeyOptionsFrom({ keys: { vaults: ['ftp://x'] } })).toThrow(/keys\.vaults/);
    expect(() => keyVaultKeyOptionsFrom({ keys: { managedIdentity: 'yes' } })).toThrow(/managedIdentity must be true or false/);
  });

  it('a client secret variable that is not set, or an unreadable CA file, is ENCRYPTION_KEY_PROVIDER_NOT_CONFIGURED with a hint', async () => {
    const c = { signal: AbortSignal.timeout(10_000), logger: noopLogger, field: 'f' };
    const context = { dataSourceId: 'orders-db', field: 'credentials.password' };
    const keyId = 'https://sourced-test.vault.azure.net/keys/k';
    const unset = createKeyVaultKeyProvider({ keyId, tenantId: 't', clientId: 'c', clientSecretEnv: 'SOURCED_TEST_KEYS_SECRET_NOT_SET' });
    await expect(unset.generateDataKey({ context }, c)).rejects.toMatchObject({
      reason: 'ENCRYPTION_KEY_PROVIDER_NOT_CONFIGURED',
      metadata: { hint: expect.stringMatching(/Set SOURCED_TEST_KEYS_SECRET_NOT_SET/) },
    });
    const noCa = createKeyVaultKeyProvider({ keyId, managedIdentity: true, caFile: '/nonexistent/ca.pem' });
    await expect(noCa.generateDataKey({ context }, c)).rejects.toMatchObject({
      reason: 'ENCRYPTION_KEY_PROVIDER_NOT_CONFIGURED',
      message: expect.stringMatching(/ENOENT/),
    });
  });
});

/**
 * Against a real Azure Key Vault when SOURCED_TEST_AZURE_KEY_ID names an RSA key
 * (`https://<vault>.vault.azure.net/keys/<name>`) and SOURCED_TEST_AZURE_TENANT_ID,
 * SOURCED_TEST_AZURE_CLIENT_ID and SOURCED_TEST_AZURE_CLIENT_SECRET an app with the key
 * permissions get, wrapKey and unwrapKey ("Key Vault Crypto User"); SOURCED_TEST_AZURE_AUTHORITY_HOST
 * and SOURCED_TEST_AZURE_CA_FILE for an emulator. Skipped otherwise, naming what is missing. Not
 * run here (no Azure account on these machines).
 */
const REAL = ['SOURCED_TEST_AZURE_KEY_ID', 'SOURCED_TEST_AZURE_TENANT_ID', 'SOURCED_TEST_AZURE_CLIENT_ID', 'SOURCED_TEST_AZURE_CLIENT_SECRET'];
const missing = REAL.filter((name) => !process.env[name]);
describe.skipIf(missing.length > 0)(`azure-kv-keys against a real Key Vault${missing.length ? ` (skipped: ${missing.join(', ')} not set)` : ''}`, () => {
  it('wraps under the current version (its id in the envelope), unwraps, and refuses an unknown version', async () => {
    registerSecret('the real client secret', process.env.SOURCED_TEST_AZURE_CLIENT_SECRET);
    const p = createKeyVaultKeyProvider({
      keyId: process.env.SOURCED_TEST_AZURE_KEY_ID,
      tenantId: process.env.SOURCED_TEST_AZURE_TENANT_ID,
      clientId: process.env.SOURCED_TEST_AZURE_CLIENT_ID,
      clientSecretEnv: 'SOURCED_TEST_AZURE_CLIENT_SECRET',
      ...(process.env.SOURCED_TEST_AZURE_AUTHORITY_HOST ? { authorityHost: process.env.SOURCED_TEST_AZURE_AUTHORITY_HOST } : {}),
      ...(process.env.SOURCED_TEST_AZURE_CA_FILE ? { caFile: process.env.SOURCED_TEST_AZURE_CA_FILE } : {}),
    });
    const c = { signal: AbortSignal.timeout(30_000), logger: noopLogger, field: 'f' };
    const context = { dataSourceId: 'sourced-test', field: 'credentials.password' };
    try {
      const made = await p.generateDataKey({ context }, c);
      expect(made.keyId.startsWith(`${process.env.SOURCED_TEST_AZURE_KEY_ID?.replace(/\/$/, '')}/`)).toBe(true);
      expect(Buffer.from(await p.decryptDataKey({ keyId: made.keyId, wrapped: made.wrapped, context }, c)).equals(Buffer.from(made.plaintext))).toBe(true);
      const unknown = made.keyId.replace(/[^/]+$/, '0'.repeat(32));
      await expect(p.decryptDataKey({ keyId: unknown, wrapped: made.wrapped, context }, c)).rejects.toBeInstanceOf(KeyNotFoundError);
    } finally {
      p.close();
    }
  });
});
