import { describe, expect, it } from 'vitest';
import {
  InputError,
  NotAllowedError,
  NotFoundError,
  normalizeDataSource,
  parseSecretReference,
  Secret,
  UnavailableError,
  type DataSourceInput,
  type SecretProviderContext,
  type SecretReference,
  noopLogger,
} from '@sourced/core';
import { parseKeyVaultTarget, resolveAzureAccess, scrubAzureText, toKeyVaultError, type AzureAccess } from '@sourced/plugin-azure';

const ref = (text: string) => parseSecretReference(text) as SecretReference;
const resolver = { resolve: (t: string) => (t === 'postgres' ? t : undefined), known: () => ['postgres'] };
const KEY = Buffer.alloc(32, 7);

/** A provider context for a data source, resolving inline client secrets only. */
function contextFor(input: Partial<DataSourceInput>): SecretProviderContext {
  return {
    signal: new AbortController().signal,
    source: normalizeDataSource({ type: 'postgres', primary: { host: 'h' }, ...input }, resolver),
    logger: noopLogger,
    async resolveSecret(secretInput) {
      if (secretInput.kind === 'inline') return secretInput.value;
      throw new Error('only inline secrets in this test');
    },
  };
}

const clientSecret = (secret: string, extra: Record<string, unknown> = {}): Partial<DataSourceInput> => ({
  cloudConfig: { azureTenantId: 'tenant-1', azureClientId: 'client-1', azureClientSecret: { inlineValue: secret }, ...extra },
});

describe('azure-kv references', () => {
  /** A bare vault name is a public-cloud vault; a host name picks its cloud; versions are kept. */
  it('parses vault names, vault host names of each cloud, and versions', () => {
    expect(parseKeyVaultTarget(ref('azure-kv://My-Vault/db-password'))).toMatchObject({
      vault: 'my-vault',
      vaultUrl: 'https://my-vault.vault.azure.net',
      secretName: 'db-password',
      version: undefined,
    });
    expect(parseKeyVaultTarget(ref('azure-kv://my-vault.vault.azure.net/db-password/0123abcd'))).toMatchObject({
      vaultUrl: 'https://my-vault.vault.azure.net',
      version: '0123abcd',
    });
    expect(parseKeyVaultTarget(ref('azure-kv://my-vault.vault.azure.cn/db'))).toMatchObject({
      vaultUrl: 'https://my-vault.vault.azure.cn',
      cloud: { authorityHost: 'https://login.chinacloudapi.cn' },
    });
    expect(parseKeyVaultTarget(ref('azure-kv://my-vault.vault.usgovcloudapi.net/db'))).toMatchObject({
      cloud: { authorityHost: 'https://login.microsoftonline.us' },
    });
    // the fragment is core's: the provider sees the reference without it
    expect(parseKeyVaultTarget(ref('azure-kv://my-vault/db-json#creds.password'))).toMatchObject({ secretName: 'db-json' });
  });

  /** A malformed reference is an input error that says what is wrong and what is expected. */
  it('rejects malformed references with the expected syntax', () => {
    const bad: [string, RegExp][] = [
      ['azure-kv://my-vault', /needs a vault and a secret name/],
      ['azure-kv://my-vault/a/b/c', /needs a vault and a secret name/],
      ['azure-kv://my-vault//x', /needs a vault and a secret name/],
      ['azure-kv://ab/x', /"ab" is not a valid vault name/],
      ['azure-kv://my--vault/x', /not a valid vault name/],
      ['azure-kv://vault-/x', /not a valid vault name/],
      ['azure-kv://evil.example.com/x', /evil\.example\.com is not a Key Vault host name/],
      ['azure-kv://my-vault/db_password', /"db_password" is not a valid secret name/],
      ['azure-kv://my-vault/db/v-1', /"v-1" is not a valid secret version/],
    ];
    for (const [text, why] of bad) {
      let error: unknown;
      try {
        parseKeyVaultTarget(ref(text));
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(InputError);
      expect((error as InputError).reason).toBe('SECRET_REFERENCE_INVALID');
      expect((error as Error).message).toMatch(why);
      expect((error as Error).message).toContain('expected azure-kv://<vault-name or vault host>/<secret-name>[/<version>][#json.path]');
    }
  });
});

describe('who fetches from where', () => {
  const target = parseKeyVaultTarget(ref('azure-kv://my-vault/db'));

  /** The identity names tenant and client and the vault, with a fingerprint that differs per client secret and never holds it. */
  it('keys a client secret identity by a fingerprint of the secret', async () => {
    const a = await resolveAzureAccess(target, contextFor(clientSecret('secret-AAAAAAAA')), KEY);
    const a2 = await resolveAzureAccess(target, contextFor(clientSecret('secret-AAAAAAAA')), KEY);
    const b = await resolveAzureAccess(target, contextFor(clientSecret('secret-BBBBBBBB')), KEY);
    expect(a.kind).toBe('client-secret');
    expect(a.who).toBe('tenant-1/client-1');
    expect(a.identity).toMatch(/^client-secret:tenant-1\/client-1:[0-9a-f]{32} -> https:\/\/my-vault\.vault\.azure\.net$/);
    expect(a2.identity).toBe(a.identity);
    expect(b.identity).not.toBe(a.identity);
    expect(a.identity).not.toContain('AAAAAAAA');
    expect(a.customVaultHost).toBe(false);
    expect(a.authorityHost).toBeUndefined();
  });

  /** Managed identity (system or user-assigned) and the default chain are named without secrets. */
  it('names managed identity and the default chain', async () => {
    expect((await resolveAzureAccess(target, contextFor({ cloudConfig: { useManagedIdentity: true } }), KEY)).identity).toBe(
      'managed-identity -> https://my-vault.vault.azure.net',
    );
    expect((await resolveAzureAccess(target, contextFor({ cloudConfig: { useManagedIdentity: true, azureClientId: 'uami-1' } }), KEY)).identity).toBe(
      'managed-identity:uami-1 -> https://my-vault.vault.azure.net',
    );
    expect((await resolveAzureAccess(target, contextFor({}), KEY)).identity).toBe('default-chain -> https://my-vault.vault.azure.net');
  });

  /** A sovereign-cloud vault takes its tokens from that cloud's authority. */
  it('derives the authority of a sovereign cloud', async () => {
    const cn = parseKeyVaultTarget(ref('azure-kv://my-vault.vault.azure.cn/db'));
    const access = await resolveAzureAccess(cn, contextFor(clientSecret('s3cret-value')), KEY);
    expect(access).toMatchObject({ vaultUrl: 'https://my-vault.vault.azure.cn', authorityHost: 'https://login.chinacloudapi.cn', authorityOverridden: false });
  });

  /** The overrides point a request's own client secret anywhere, but never the daemon's own identity. */
  it('honours the overrides only with a client secret from the request', async () => {
    const overrides = { connectionProperties: { azure_key_vault_url: 'https://kv.internal:8443/', azure_authority_host: 'https://login.internal' } };
    const own = await resolveAzureAccess(target, contextFor({ ...clientSecret('s3cret-value'), ...overrides }), KEY);
    expect(own).toMatchObject({
      vaultUrl: 'https://kv.internal:8443',
      customVaultHost: true,
      authorityHost: 'https://login.internal',
      authorityOverridden: true,
    });
    expect(own.identity).toContain('@https://login.internal -> https://kv.internal:8443');
    for (const cloudConfig of [{ useManagedIdentity: true }, {}]) {
      await expect(resolveAzureAccess(target, contextFor({ cloudConfig, ...overrides }), KEY)).rejects.toThrow(NotAllowedError);
    }
    // a real Key Vault address is fine for the daemon's identity too
    const other = await resolveAzureAccess(
      target,
      contextFor({ cloudConfig: { useManagedIdentity: true }, connectionProperties: { azure_key_vault_url: 'https://other.vault.azure.net' } }),
      KEY,
    );
    expect(other).toMatchObject({ vaultUrl: 'https://other.vault.azure.net', customVaultHost: false });
  });

  /** Incomplete or contradictory cloud_config and bad override values are input errors naming the field. */
  it('rejects incomplete credentials and bad overrides', async () => {
    await expect(resolveAzureAccess(target, contextFor({ cloudConfig: { azureClientSecret: { inlineValue: 'x' } } }), KEY)).rejects.toThrow(
      /data_source\.cloud_config\.azure_tenant_id: is required with azure_client_secret; data_source\.cloud_config\.azure_client_id: is required/,
    );
    await expect(
      resolveAzureAccess(target, contextFor({ cloudConfig: { azureTenantId: 'a/b', azureClientId: 'c', azureClientSecret: { inlineValue: 'x' } } }), KEY),
    ).rejects.toThrow(/azure_tenant_id: must be a tenant id/);
    await expect(resolveAzureAccess(target, contextFor(clientSecret('x', { useManagedIdentity: true })), KEY)).rejects.toThrow(
      /use_managed_identity: cannot be true together with azure_client_secret/,
    );
    await expect(
      resolveAzureAccess(target, contextFor({ ...clientSecret('x'), connectionProperties: { azure_key_vault_url: 'http://kv' } }), KEY),
    ).rejects.toThrow(/azure_key_vault_url: must be an https:\/\/ URL/);
    await expect(resolveAzureAccess(target, contextFor({ ...clientSecret('x'), connectionProperties: { azure_ssl_ca: 'not a pem' } }), KEY)).rejects.toThrow(
      /azure_ssl_ca: must be a CA certificate in PEM/,
    );
  });
});

describe('Azure errors', () => {
  const secret = new Secret('Zq8~k3JfLmN0pQrStUvWxYz123456789abcd', 'inline');
  const access: AzureAccess = {
    kind: 'client-secret',
    tenantId: 'tenant-1',
    clientId: 'client-1',
    clientSecret: secret,
    vaultUrl: 'https://my-vault.vault.azure.net',
    customVaultHost: false,
    authorityOverridden: false,
    identity: 'x',
    who: 'tenant-1/client-1',
    credentialKey: 'x',
  };
  const facts = { target: parseKeyVaultTarget(ref('azure-kv://my-vault/db/abc123')), access };
  const map = (error: object) => toKeyVaultError(error, facts);

  /** Entra's trace and correlation ids, timestamps, tokens and any piece of the client secret are removed. */
  it('scrubs provider text', () => {
    const msal =
      "invalid_client: Error(s): 7000215 - Timestamp: 2025-01-02 03:04:05Z - Description: AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'client-1'. Trace ID: 0b5e7f4c-1f0e-4a43-9b6e-3b2f0c9d1a00 Correlation ID: 9d1f1b8e-4c36-4b8a-a9b1-2f5c7d8e9f10 Timestamp: 2025-01-02 03:04:05Z - Correlation ID: 9d1f1b8e-4c36-4b8a-a9b1-2f5c7d8e9f10 - Trace ID: 0b5e7f4c-1f0e-4a43-9b6e-3b2f0c9d1a00";
    expect(scrubAzureText(msal)).toBe(
      "invalid_client: Error(s): 7000215 - Description: AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'client-1'.",
    );
    const leaky = `sent client_secret=${secret.reveal()}&scope=x with Authorization: Bearer abcdefghijklmnop.qrstuv and eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiIxIn0.c2ln; hint Zq8***; fragment k3JfLmN0pQ; x-ms-request-id: 3f2a1b4c-0000-1111-2222-333344445555`;
    const clean = scrubAzureText(leaky, [secret]);
    for (const piece of ['k3JfLmN0', 'abcdefghijklmnop', 'eyJhbGci', 'Zq8*', '3f2a1b4c']) expect(clean).not.toContain(piece);
    expect(clean).toContain('client_secret=[REDACTED]');
    expect(clean).toContain('Bearer [REDACTED]');
  });

  /** Each Azure failure maps to its stable reason, with a message that names the vault, secret and version. */
  it('maps SDK errors to stable reasons', () => {
    const restError = (statusCode: number | undefined, code: string, message: string, extra: object = {}) => ({
      name: 'RestError',
      statusCode,
      code,
      message,
      ...extra,
    });
    const cases: [object, Function, string, RegExp][] = [
      [
        restError(404, 'SecretNotFound', 'A secret with (name/id) db/abc123 was not found'),
        NotFoundError,
        'SECRET_NOT_FOUND',
        /^secret db version abc123 was not found in vault my-vault$/,
      ],
      [
        restError(403, 'Forbidden', "The user, group or application 'appid=client-1' does not have secrets get permission"),
        NotAllowedError,
        'SECRET_ACCESS_DENIED',
        /^tenant-1\/client-1 may not read secret db version abc123 in vault my-vault \(Forbidden: /,
      ],
      [
        restError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', { details: { error: { innererror: { code: 'SecretDisabled' } } } }),
        NotAllowedError,
        'SECRET_ACCESS_DENIED',
        /is disabled$/,
      ],
      [
        restError(401, 'Unauthorized', 'AKV10032: Invalid issuer.'),
        NotAllowedError,
        'SECRET_PROVIDER_CREDENTIALS_INVALID',
        /did not accept the token of tenant-1\/client-1/,
      ],
      [restError(429, 'Throttled', 'Too many requests'), UnavailableError, 'SECRET_PROVIDER_THROTTLED', /vault my-vault throttled the request/],
      [restError(503, 'ServiceUnavailable', 'busy'), UnavailableError, 'SECRET_PROVIDER_UNREACHABLE', /answered 503 ServiceUnavailable/],
      [
        restError(undefined, 'ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:443'),
        UnavailableError,
        'SECRET_PROVIDER_UNREACHABLE',
        /could not reach vault my-vault: ECONNREFUSED/,
      ],
      [
        restError(undefined, 'ENOTFOUND', 'getaddrinfo ENOTFOUND'),
        UnavailableError,
        'SECRET_PROVIDER_UNREACHABLE',
        /does not resolve \(ENOTFOUND\); check the vault name/,
      ],
      [
        restError(undefined, 'SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'),
        UnavailableError,
        'SECRET_PROVIDER_UNREACHABLE',
        /not trusted.*azure_ssl_ca/,
      ],
      [
        {
          name: 'AuthenticationRequiredError',
          message:
            'invalid_client: Error(s): 7000215 - Description: AADSTS7000215: Invalid client secret provided. Trace ID: 0b5e7f4c-1f0e-4a43-9b6e-3b2f0c9d1a00',
        },
        NotAllowedError,
        'SECRET_PROVIDER_CREDENTIALS_INVALID',
        /refused the credentials of tenant-1\/client-1 \(invalid_client: AADSTS7000215: Invalid client secret provided\.\)$/,
      ],
      [
        {
          name: 'AuthenticationError',
          statusCode: 400,
          message: 'x',
          errorResponse: { error: 'unauthorized_client', errorDescription: 'AADSTS700016: Application not found.' },
        },
        NotAllowedError,
        'SECRET_PROVIDER_CREDENTIALS_INVALID',
        /unauthorized_client: AADSTS700016/,
      ],
      [
        { name: 'AuthenticationRequiredError', message: 'temporarily_unavailable: Error(s): - Description: slow down' },
        UnavailableError,
        'SECRET_PROVIDER_THROTTLED',
        /throttled the token request/,
      ],
      [
        { name: 'AuthenticationRequiredError', message: 'server_error: Error(s): - Description: AADSTS90033: A transient error' },
        UnavailableError,
        'SECRET_PROVIDER_UNREACHABLE',
        /failed to issue a token/,
      ],
      [
        { name: 'CredentialUnavailableError', message: 'endpoints_resolution_error: See https://aka.ms/msal.js.errors#endpoints_resolution_error' },
        UnavailableError,
        'SECRET_PROVIDER_UNREACHABLE',
        /unreachable, or it does not know tenant tenant-1/,
      ],
      [
        { name: 'CredentialUnavailableError', message: 'The current credential is not configured to acquire tokens for tenant other-tenant.' },
        NotAllowedError,
        'SECRET_PROVIDER_CREDENTIALS_INVALID',
        /belongs to tenant other-tenant/,
      ],
      [
        { name: 'AggregateAuthenticationError', message: 'ChainedTokenCredential authentication failed.' },
        NotAllowedError,
        'SECRET_PROVIDER_CREDENTIALS_INVALID',
        /default Azure credential chain found no usable credential/,
      ],
      [{ name: 'AbortError', message: 'The operation was aborted.' }, UnavailableError, 'SECRET_PROVIDER_UNREACHABLE', /aborted/],
    ];
    for (const [error, type, reason, message] of cases) {
      const mapped = map(error);
      expect(mapped, JSON.stringify(error)).toBeInstanceOf(type);
      expect(mapped.reason).toBe(reason);
      expect(mapped.message).toMatch(message);
      expect(mapped.message).not.toMatch(/Trace ID|0b5e7f4c/);
      expect(mapped.cause).toBeUndefined();
    }
  });

  /** A managed identity that is not there is a credentials problem, not an outage. */
  it('reports a missing managed identity as invalid credentials', () => {
    const mi = toKeyVaultError(
      { name: 'CredentialUnavailableError', message: 'ManagedIdentityCredential: Network unreachable. Message: network_error' },
      { ...facts, access: { ...access, kind: 'managed-identity', clientSecret: undefined, who: 'managed-identity' } },
    );
    expect(mi).toBeInstanceOf(NotAllowedError);
    expect(mi.message).toBe('no usable Azure credential for managed-identity: ManagedIdentityCredential: Network unreachable. Message: network_error');
  });
});
