import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, InputError, NotAllowedError, NotFoundError, SourcedError, UnavailableError } from '@sourced/plugin-sdk';
import { CheckStatus, DataSource, PluginState, startTestDaemon, type TestDaemon } from '@sourced/plugin-sdk/testing';
import { VaultSecretProvider, type ResolvedVaultSettings } from '../dist/index.js';
import { PLUGIN, providerContext, ref, tokenFile, VAULT_SECRETS } from './helpers';
import { VaultStandIn } from './vaultStandIn';

const TOKEN = 'hvs.CAESIstandin-reader-token-0001';
const NARROW = 'hvs.CAESIstandin-narrow-token-0002';
const PASSWORD = 'orders-pw-7f3a9c';
const OLD_PASSWORD = 'orders-pw-previous';

/** Every value no message may hold. */
const SECRETS = [TOKEN, NARROW, PASSWORD, OLD_PASSWORD, 'api-key-55', 'gone-value'];

async function failure(call: Promise<unknown>): Promise<SourcedError> {
  try {
    await call;
  } catch (error) {
    const text = `${(error as Error).message} ${JSON.stringify(error)}`;
    for (const s of SECRETS) expect(text.includes(s), 'an error message holds a secret').toBe(false);
    return error as SourcedError;
  }
  throw new Error('the look-up succeeded but was expected to fail');
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('the Vault provider against the Vault stand-in', () => {
  let vault: VaultStandIn;
  let file: string;
  let provider: VaultSecretProvider;
  const settings = (over: Partial<ResolvedVaultSettings> = {}): ResolvedVaultSettings => ({ address: vault.address, token: { kind: 'file', path: file }, ...over });

  beforeAll(async () => {
    vault = await new VaultStandIn().start();
    vault
      .addToken({ token: TOKEN, read: ['secret/data/*'] })
      .addToken({ token: NARROW, read: ['secret/data/app/*'] })
      .put('secret', 'db/orders', { username: 'orders_app', password: OLD_PASSWORD })
      .put('secret', 'db/orders', { username: 'orders_app', password: PASSWORD, port: 5432 })
      .put('secret', 'app/api', { key: 'api-key-55' })
      .put('secret', 'db/gone', { password: 'gone-value' })
      .deleteLatest('secret', 'db/gone')
      .put('secret', 'busy', { x: '1' })
      .fault('secret', 'busy', { status: 429 })
      .put('secret', 'broken', { x: '1' })
      .fault('secret', 'broken', { status: 500 })
      .put('secret', 'sealed', { x: '1' })
      .fault('secret', 'sealed', { status: 503 })
      .put('secret', 'slow', { x: '1' })
      .fault('secret', 'slow', { delayMs: 5000 });
    file = tokenFile(TOKEN);
    provider = new VaultSecretProvider(settings());
  });
  afterAll(() => vault?.stop());

  it('reads the KV v2 data as JSON, with the token header, from /v1/<mount>/data/<path>', async () => {
    const before = vault.requests.length;
    const value = await provider.resolve(ref(`vault://secret/db/orders#password`), providerContext());
    expect(JSON.parse(value)).toEqual({ username: 'orders_app', password: PASSWORD, port: 5432 });
    expect(vault.requests.slice(before)).toEqual([{ method: 'GET', url: '/v1/secret/data/db/orders', token: TOKEN, namespace: undefined }]);
  });

  it('reads an older version with ?version=n', async () => {
    const value = await provider.resolve(ref('vault://secret/db/orders?version=1#password'), providerContext());
    expect(JSON.parse(value).password).toBe(OLD_PASSWORD);
    expect(vault.requests.at(-1)?.url).toBe('/v1/secret/data/db/orders?version=1');
  });

  it('maps a missing secret, a deleted version and a missing mount to NotFoundError SECRET_NOT_FOUND', async () => {
    const missing = await failure(provider.resolve(ref('vault://secret/db/nothing#password'), providerContext()));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ reason: 'SECRET_NOT_FOUND', message: 'Vault has no secret vault://secret/db/nothing' });
    const deleted = await failure(provider.resolve(ref('vault://secret/db/gone#password'), providerContext()));
    expect(deleted).toMatchObject({ reason: 'SECRET_NOT_FOUND', message: 'Vault has no secret vault://secret/db/gone (version 1 was deleted)' });
    const noMount = await failure(provider.resolve(ref('vault://kv/db/orders#password'), providerContext()));
    expect(noMount).toBeInstanceOf(NotFoundError);
    expect(await failure(provider.resolve(ref('vault://secret/db/orders?version=9'), providerContext()))).toMatchObject({ reason: 'SECRET_NOT_FOUND' });
  });

  it('maps 403 to NotAllowedError: SECRET_ACCESS_DENIED for a policy, SECRET_PROVIDER_CREDENTIALS_INVALID for a bad token', async () => {
    const narrow = new VaultSecretProvider(settings({ token: { kind: 'file', path: tokenFile(NARROW) } }));
    expect(JSON.parse(await narrow.resolve(ref('vault://secret/app/api#key'), providerContext()))).toEqual({ key: 'api-key-55' });
    const denied = await failure(narrow.resolve(ref('vault://secret/db/orders#password'), providerContext()));
    expect(denied).toBeInstanceOf(NotAllowedError);
    expect(denied.reason).toBe('SECRET_ACCESS_DENIED');
    expect(denied.message).toContain('grant its policy "read" on secret/data/db/orders');

    const wrong = new VaultSecretProvider(settings({ token: { kind: 'file', path: tokenFile('hvs.not-a-token') } }));
    const invalid = await failure(wrong.resolve(ref('vault://secret/db/orders#password'), providerContext()));
    expect(invalid).toBeInstanceOf(NotAllowedError);
    expect(invalid.reason).toBe('SECRET_PROVIDER_CREDENTIALS_INVALID');
    expect(invalid.message).not.toContain('hvs.not-a-token');
  });

  it('maps 429 to THROTTLED, 5xx and network failures to SECRET_PROVIDER_UNREACHABLE', async () => {
    const busy = await failure(provider.resolve(ref('vault://secret/busy#x'), providerContext()));
    expect(busy).toBeInstanceOf(UnavailableError);
    expect(busy.reason).toBe('SECRET_PROVIDER_THROTTLED');
    expect(await failure(provider.resolve(ref('vault://secret/broken#x'), providerContext()))).toMatchObject({ reason: 'SECRET_PROVIDER_UNREACHABLE', message: 'Vault answered the read of vault://secret/broken with HTTP 500' });
    expect((await failure(provider.resolve(ref('vault://secret/sealed#x'), providerContext()))).message).toContain('(Vault is sealed)');
    const down = new VaultSecretProvider(settings({ address: `http://127.0.0.1:${await closedPort()}` }));
    const unreachable = await failure(down.resolve(ref('vault://secret/db/orders#password'), providerContext()));
    expect(unreachable).toBeInstanceOf(UnavailableError);
    expect(unreachable.reason).toBe('SECRET_PROVIDER_UNREACHABLE');
    expect(unreachable.message).toContain('ECONNREFUSED');
  });

  it('stops when its signal fires, and the request is dropped', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(provider.resolve(ref('vault://secret/slow#x'), providerContext(controller.signal)));
    expect(error).toBeInstanceOf(AbortedError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses malformed references with an InputError (SECRET_REFERENCE_INVALID) and sends nothing', async () => {
    const before = vault.requests.length;
    for (const text of ['vault://secret', 'vault://secret/', 'vault:///db/orders', 'vault://secret/a//b', 'vault://secret/../sys/x', 'vault://secret/db?ver=2', 'vault://secret/db?version=0']) {
      const error = await failure(provider.resolve(ref(text), providerContext()));
      expect(error, text).toBeInstanceOf(InputError);
      expect(error.reason).toBe('SECRET_REFERENCE_INVALID');
      expect((error as InputError).violations[0].field).toBe('reference');
    }
    expect(vault.requests.length).toBe(before);
  });

  it('reads the token file at every look-up, so a renewed token is used', async () => {
    const rotating = tokenFile('hvs.expired');
    const p = new VaultSecretProvider(settings({ token: { kind: 'file', path: rotating } }));
    expect((await failure(p.resolve(ref('vault://secret/db/orders#password'), providerContext()))).reason).toBe('SECRET_PROVIDER_CREDENTIALS_INVALID');
    writeFileSync(rotating, TOKEN);
    expect(JSON.parse(await p.resolve(ref('vault://secret/db/orders#password'), providerContext())).password).toBe(PASSWORD);
  });

  it('sends X-Vault-Namespace when a namespace is set', async () => {
    const enterprise = await new VaultStandIn('team-a').start();
    try {
      enterprise.addToken({ token: TOKEN, read: ['secret/data/*'] }).put('secret', 'db/orders', { password: PASSWORD });
      const withNs = new VaultSecretProvider(settings({ address: enterprise.address, namespace: 'team-a' }));
      expect(JSON.parse(await withNs.resolve(ref('vault://secret/db/orders#password'), providerContext())).password).toBe(PASSWORD);
      expect(enterprise.requests.at(-1)?.namespace).toBe('team-a');
      const without = new VaultSecretProvider(settings({ address: enterprise.address }));
      expect((await failure(without.resolve(ref('vault://secret/db/orders#password'), providerContext()))).reason).toBe('SECRET_ACCESS_DENIED');
    } finally {
      await enterprise.stop();
    }
  });
});

describe('the Vault plugin in a daemon', () => {
  let vault: VaultStandIn;
  let t: TestDaemon;
  let closed: number;

  beforeAll(async () => {
    vault = await new VaultStandIn().start();
    vault.addToken({ token: TOKEN, read: ['secret/data/*'] }).put('secret', 'db/orders', { username: 'orders_app', password: PASSWORD });
    closed = await closedPort();
    t = await startTestDaemon({
      plugins: [PLUGIN],
      builtins: true, // the PostgreSQL connector, whose resolve-credentials check shows the look-up
      config: { pluginSettings: { vault: { address: vault.address, tokenFile: tokenFile(TOKEN) } }, secrets: VAULT_SECRETS },
    });
  });
  afterAll(async () => {
    await t?.stop();
    await vault?.stop();
  });

  const postgresWith = (reference: string) =>
    DataSource.fromPartial({ type: 'postgres', primary: { host: '127.0.0.1', port: closed, database: 'orders' }, credentials: { username: 'orders_app', password: { source: { $case: 'reference', value: reference } } } });
  const resolveCheck = async (reference: string) => {
    const events = await t.validate({ dataSource: postgresWith(reference) });
    const check = events.flatMap((e) => (e.event?.$case === 'checkFinished' ? [e.event.value] : [])).find((c) => c.checkId === 'resolve-credentials');
    if (!check) throw new Error('no resolve-credentials check');
    return check;
  };

  it('is listed as loaded with the vault scheme', async () => {
    const plugin = (await t.listPlugins()).find((p) => p.id === 'vault');
    expect(plugin).toMatchObject({ state: PluginState.PLUGIN_STATE_LOADED, secretProviders: ['vault'], sdkRange: '^1.0.0', module: PLUGIN });
  });

  it("resolves a data source's password from Vault (validation's resolve-credentials check)", async () => {
    const check = await resolveCheck('vault://secret/db/orders#password');
    expect(check.status).toBe(CheckStatus.CHECK_STATUS_PASSED);
    expect(check.message).toContain('password from vault://secret/db/orders');
    expect(check.details['password.source']).toContain('vault://secret/db/orders');
  });

  it('reports a missing secret and a missing field at that check, without values', async () => {
    const missing = await resolveCheck('vault://secret/db/nothing#password');
    expect(missing.status).toBe(CheckStatus.CHECK_STATUS_FAILED);
    expect(missing.message).toContain('Vault has no secret vault://secret/db/nothing');
    const field = await resolveCheck('vault://secret/db/orders#pasword');
    expect(field.status).toBe(CheckStatus.CHECK_STATUS_FAILED);
    expect(field.message).toContain('no field "pasword"');
    expect(t.emitted().includes(PASSWORD) || t.emitted().includes(TOKEN)).toBe(false);
  });
});

describe('the Vault plugin settings', () => {
  const saved = { ...process.env };
  beforeAll(() => {
    delete process.env.VAULT_ADDR;
    delete process.env.VAULT_TOKEN;
    delete process.env.VAULT_NAMESPACE;
  });
  afterAll(() => {
    for (const key of ['VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_NAMESPACE']) if (saved[key] !== undefined) process.env[key] = saved[key];
  });

  it.each([
    [undefined, 'pluginSettings.vault.address (or the VAULT_ADDR environment variable) is required'],
    [{ address: 'http://127.0.0.1:8200' }, 'pluginSettings.vault.tokenFile (or the VAULT_TOKEN environment variable) is required'],
    [{ address: 'http://127.0.0.1:8200', token: 'hvs.inline' }, 'pluginSettings.vault.token is not accepted'],
    [{ address: 'http://127.0.0.1:8200', tokenFile: '/no/such/token' }, 'pluginSettings.vault.tokenFile /no/such/token does not exist'],
    [{ address: 'vault.internal:8200', tokenFile: '/no/such/token' }, 'pluginSettings.vault.address must be an http(s) URL'],
    [{ address: 'https://user:pw@vault:8200', tokenFile: '/no/such/token' }, 'must hold no credentials, query or fragment'],
  ])('refuses to load with %j', async (settings, message) => {
    const t = await startTestDaemon({ plugins: [PLUGIN], config: { pluginSettings: settings === undefined ? {} : { vault: settings } } });
    try {
      const plugin = (await t.listPlugins()).find((p) => p.module === PLUGIN);
      expect(plugin?.state).toBe(PluginState.PLUGIN_STATE_FAILED);
      expect(plugin?.loadError).toContain(message);
      expect(plugin?.loadError).not.toContain('hvs.inline');
    } finally {
      await t.stop();
    }
  });

  it('takes the address and token from VAULT_ADDR and VAULT_TOKEN', async () => {
    process.env.VAULT_ADDR = 'http://127.0.0.1:8200';
    process.env.VAULT_TOKEN = 'hvs.from-env';
    const t = await startTestDaemon({ plugins: [PLUGIN] });
    try {
      expect((await t.listPlugins()).find((p) => p.id === 'vault')?.state).toBe(PluginState.PLUGIN_STATE_LOADED);
      expect(t.emitted()).not.toContain('hvs.from-env');
    } finally {
      await t.stop();
      delete process.env.VAULT_ADDR;
      delete process.env.VAULT_TOKEN;
    }
  });
});
