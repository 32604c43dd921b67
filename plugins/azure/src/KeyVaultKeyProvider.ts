import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/identity';
import type { CryptographyClient, KeyClient, KeyVaultKey } from '@azure/keyvault-keys';
import {
  abortedErrorFrom,
  DataKeyInvalidError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KeyNotFoundError,
  KeyProviderMissingError,
  KeyProviderUnavailableError,
  Secret,
  SourcedError,
  type KeyProvider,
  type KeyProviderContext,
} from '@sourced/core';
import { tlsTrusting, type AzureAccess } from './azureAccess';
import { createCredential, LruMap, RETRY_OPTIONS } from './azureCredentials';
import { loadKeysSdk } from './azureSdk';
import { scrubAzureText } from './keyVaultErrors';
import { cloudOfVaultHost } from './keyVaultTarget';

/** The key provider's id, written into every envelope it wraps. */
export const AZURE_KEY_PROVIDER_ID = 'azure-kv-keys';
/** The wrap algorithm: RSA-OAEP with SHA-256 (Key Vault does it; the private key never leaves the vault). */
export const AZURE_WRAP_ALGORITHM = 'RSA-OAEP-256';

/** The `azure-kv-keys` key provider's settings: `pluginSettings.azure.keys` in the daemon config. */
export interface KeyVaultKeyProviderOptions {
  /**
   * The key new envelopes are wrapped under: `https://<vault>/keys/<name>` (its current version,
   * looked up at each encryption: rotating the key in Key Vault moves new envelopes) or
   * `https://<vault>/keys/<name>/<version>` (pinned). Without it only decryption works.
   */
  keyId?: string;
  /** Vault URLs (`https://<vault>`) whose keys may open envelopes, besides the vault of `keyId`. An envelope naming any other vault is refused. */
  vaults?: string[];
  /** With `clientId` and `clientSecretEnv`: authenticate as this app (client secret). */
  tenantId?: string;
  /** The app (client secret), or a user-assigned managed identity. */
  clientId?: string;
  /** The name of the environment variable holding the app's client secret (never the secret itself in the config). */
  clientSecretEnv?: string;
  /** Authenticate as the managed identity (user-assigned when `clientId` is set). Default: the default credential chain. */
  managedIdentity?: boolean;
  /** Another Entra authority (`https://host[:port]`, sovereign clouds, tests). */
  authorityHost?: string;
  /** A PEM CA file trusted, in addition to the usual ones, for the vault and the authority (tests, a private endpoint with its own CA). */
  caFile?: string;
}

/** A Key Vault key id taken apart: `https://<vault>/keys/<name>[/<version>]`. */
export interface KeyVaultKeyId {
  /** `https://host[:port]`, without a trailing slash. */
  vaultUrl: string;
  name: string;
  version?: string;
}

const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const KEY_VERSION = /^[0-9a-zA-Z]{1,64}$/;

/** Parses a Key Vault key id; undefined when it is not one. */
export function parseKeyVaultKeyId(id: string): KeyVaultKeyId | undefined {
  let url: URL;
  try {
    url = new URL(id);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash) return undefined;
  const parts = url.pathname.split('/').slice(1);
  if (parts.at(-1) === '') parts.pop();
  if (parts.length < 2 || parts.length > 3 || parts[0] !== 'keys') return undefined;
  const [, name, version] = parts as [string, string, string | undefined];
  if (!KEY_NAME.test(name) || (version !== undefined && !KEY_VERSION.test(version))) return undefined;
  return { vaultUrl: url.origin, name, ...(version ? { version } : {}) };
}

/** Reads `pluginSettings.azure.keys`; throws naming a bad setting. */
export function keyVaultKeyOptionsFrom(settings: unknown): KeyVaultKeyProviderOptions {
  const keys = (typeof settings === 'object' && settings !== null ? (settings as { keys?: unknown }).keys : undefined) ?? {};
  if (typeof keys !== 'object' || Array.isArray(keys)) {
    throw new Error('pluginSettings.azure.keys must be an object {keyId, vaults, tenantId, clientId, clientSecretEnv, managedIdentity, authorityHost, caFile}');
  }
  const raw = keys as Record<string, unknown>;
  const out: KeyVaultKeyProviderOptions = {};
  for (const name of ['keyId', 'tenantId', 'clientId', 'clientSecretEnv', 'authorityHost', 'caFile'] as const) {
    const value = raw[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '') throw new Error(`pluginSettings.azure.keys.${name} must be a non-empty string`);
    out[name] = value;
  }
  if (out.keyId !== undefined && !parseKeyVaultKeyId(out.keyId)) {
    throw new Error(`pluginSettings.azure.keys.keyId must be a Key Vault key id, https://<vault>/keys/<name>[/<version>] (got ${out.keyId})`);
  }
  if (raw.vaults !== undefined) {
    if (!Array.isArray(raw.vaults) || raw.vaults.some((v) => typeof v !== 'string' || !/^https:\/\/[^/?#@]+\/?$/.test(v))) {
      throw new Error('pluginSettings.azure.keys.vaults must be a list of vault URLs (https://<vault>)');
    }
    out.vaults = (raw.vaults as string[]).map((v) => v.replace(/\/$/, '').toLowerCase());
  }
  if (raw.managedIdentity !== undefined) {
    if (typeof raw.managedIdentity !== 'boolean') throw new Error('pluginSettings.azure.keys.managedIdentity must be true or false');
    out.managedIdentity = raw.managedIdentity;
  }
  if (out.clientSecretEnv && (!out.tenantId || !out.clientId)) {
    throw new Error('pluginSettings.azure.keys.clientSecretEnv needs tenantId and clientId (the app whose secret it holds)');
  }
  if (out.clientSecretEnv && out.managedIdentity) throw new Error('pluginSettings.azure.keys: choose clientSecretEnv or managedIdentity, not both');
  if (out.authorityHost !== undefined && !/^https:\/\/[^/?#@]+\/?$/.test(out.authorityHost)) {
    throw new Error('pluginSettings.azure.keys.authorityHost must be https://host[:port]');
  }
  return out;
}

interface RestErrorShape {
  name?: string;
  message?: string;
  statusCode?: number;
  code?: string;
  details?: { error?: { code?: string; innererror?: { code?: string }; innerError?: { code?: string } } };
}

/**
 * Azure Key Vault keys as a key provider (`azure-kv-keys`): each value's fresh 256-bit data key
 * is wrapped by Key Vault with an RSA key (`wrapKey`, RSA-OAEP-256) and unwrapped there
 * (`unwrapKey`); the private key never leaves the vault. Key Vault's wrap takes no context, so the
 * binding to the data source and field is carried by the envelope alone (its context is the
 * AES-GCM additional data, see docs/encryption.md). The envelope's key id is the key's full id
 * with its version, so rotating the key in Key Vault leaves old envelopes opening under their
 * version while new ones (and ReencryptSecret) use the current one.
 *
 * Credentials are the daemon's own (settings, not requests): a client secret from an
 * environment variable, a managed identity, or the default chain, through the plugin's shared
 * credential code. An envelope naming a vault other than the configured ones is refused before
 * any request, so a crafted envelope cannot send the daemon's token elsewhere.
 */
export function createKeyVaultKeyProvider(options: KeyVaultKeyProviderOptions = {}): KeyProvider & { close(): void } {
  const current = options.keyId ? parseKeyVaultKeyId(options.keyId) : undefined;
  const vaults = new Set([...(options.vaults ?? []), ...(current ? [current.vaultUrl.toLowerCase()] : [])]);
  const cryptoClients = new LruMap<Promise<CryptographyClient>>(64);
  const keyClients = new LruMap<Promise<KeyClient>>(8);
  let access: AzureAccess | undefined;
  let credential: TokenCredential | undefined;

  const accessOf = (): AzureAccess => {
    if (access) return access;
    const secretValue = options.clientSecretEnv ? process.env[options.clientSecretEnv] : undefined;
    if (options.clientSecretEnv && !secretValue) {
      throw new SourcedError(
        'ENCRYPTION_KEY_PROVIDER_NOT_CONFIGURED',
        `the ${AZURE_KEY_PROVIDER_ID} key provider reads its client secret from ${options.clientSecretEnv}, which is not set`,
        {
          metadata: {
            key_provider: AZURE_KEY_PROVIDER_ID,
            hint: `Set ${options.clientSecretEnv} in the daemon's environment (pluginSettings.azure.keys.clientSecretEnv).`,
          },
        },
      );
    }
    const kind = secretValue ? 'client-secret' : options.managedIdentity ? 'managed-identity' : 'default-chain';
    const who = kind === 'client-secret' ? `${options.tenantId}/${options.clientId}` : `${kind}${options.clientId ? `:${options.clientId}` : ''}`;
    let ca: string | undefined;
    try {
      ca = options.caFile ? readFileSync(options.caFile, 'utf8') : undefined;
    } catch (error) {
      throw new SourcedError(
        'ENCRYPTION_KEY_PROVIDER_NOT_CONFIGURED',
        `the ${AZURE_KEY_PROVIDER_ID} key provider cannot read its CA file ${options.caFile ?? ''}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
        { metadata: { key_provider: AZURE_KEY_PROVIDER_ID, hint: 'Fix pluginSettings.azure.keys.caFile: a PEM file the daemon can read.' } },
      );
    }
    access = {
      kind,
      tenantId: options.tenantId,
      clientId: options.clientId,
      clientSecret: secretValue ? new Secret(secretValue, `env:${options.clientSecretEnv}`) : undefined,
      vaultUrl: current?.vaultUrl ?? '',
      customVaultHost: false,
      authorityHost: options.authorityHost?.replace(/\/$/, ''),
      authorityOverridden: options.authorityHost !== undefined,
      tlsOptions: ca ? tlsTrusting(ca) : undefined,
      identity: who,
      who,
      credentialKey: who,
    };
    return access;
  };
  const credentialOf = (): TokenCredential => (credential ??= createCredential(accessOf()));
  const clientOptions = (vaultUrl: string) => {
    const host = new URL(vaultUrl);
    const a = accessOf();
    return {
      retryOptions: RETRY_OPTIONS,
      ...(a.tlsOptions ? { tlsOptions: a.tlsOptions } : {}),
      // The challenge's resource is checked against the vault's domain unless the vault is elsewhere (a stand-in, a proxy).
      disableChallengeResourceVerification: !(cloudOfVaultHost(host.hostname) && host.port === ''),
    };
  };
  const keyClient = (vaultUrl: string): Promise<KeyClient> =>
    keyClients.getOrCreate(vaultUrl, () => new Promise((resolve) => resolve(new (loadKeysSdk().KeyClient)(vaultUrl, credentialOf(), clientOptions(vaultUrl)))));
  const cryptoClient = (kid: string, vaultUrl: string): Promise<CryptographyClient> =>
    cryptoClients.getOrCreate(
      kid,
      () => new Promise((resolve) => resolve(new (loadKeysSdk().CryptographyClient)(kid, credentialOf(), clientOptions(vaultUrl)))),
    );

  const notFoundHint = (kid: string) =>
    `Key Vault has no key "${kid}": it was deleted (recover it with az keyvault key recover while it is soft-deleted) or purged, or the envelope was made with another vault. Keep a key version enabled until every envelope under it has been moved with ReencryptSecret, or encrypt the value again.`;
  const accessHint = () =>
    `Give the daemon's Azure identity (${accessOf().who}) the key permissions get, wrapKey and unwrapKey on the vault (an access policy, or the "Key Vault Crypto User" role).`;

  /** The key id as the envelope names it, checked to be a Key Vault key in an allowed vault. */
  const allowedKey = (keyId: string, field: string, needVersion: boolean): KeyVaultKeyId => {
    const parsed = parseKeyVaultKeyId(keyId);
    if (!parsed || (needVersion && !parsed.version)) {
      throw new KeyNotFoundError(
        field,
        AZURE_KEY_PROVIDER_ID,
        keyId,
        [],
        `"${keyId}" is not a Key Vault key id with a version (https://<vault>/keys/<name>/<version>); pass the envelope as EncryptSecret returned it.`,
      );
    }
    if (!vaults.has(parsed.vaultUrl.toLowerCase())) {
      throw new KeyNotFoundError(
        field,
        AZURE_KEY_PROVIDER_ID,
        keyId,
        [],
        `This daemon uses Key Vault keys only from ${vaults.size ? [...vaults].join(', ') : 'no vault (pluginSettings.azure.keys.keyId is not set)'}; an envelope naming another vault is refused without contacting it. Add the vault to pluginSettings.azure.keys.vaults if its keys are yours.`,
      );
    }
    return parsed;
  };

  const fail = (error: unknown, keyId: string, ctx: KeyProviderContext, operation: 'wrap' | 'unwrap'): Error => {
    if (ctx.signal.aborted) return abortedErrorFrom(ctx.signal);
    if (error instanceof SourcedError) return error;
    const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as RestErrorShape;
    const said = scrubAzureText(e.message ?? '', [access?.clientSecret]).slice(0, 400);
    const inner = e.details?.error?.innererror?.code ?? e.details?.error?.innerError?.code;
    const status = e.statusCode;
    if (status === 404) return new KeyNotFoundError(ctx.field, AZURE_KEY_PROVIDER_ID, keyId, [], notFoundHint(keyId));
    if (status === 403 && (inner === 'KeyDisabled' || /disabled key/i.test(said))) return new KeyDisabledError(ctx.field, AZURE_KEY_PROVIDER_ID, keyId);
    if (status === 403 || status === 401) {
      return new KeyAccessDeniedError(
        ctx.field,
        AZURE_KEY_PROVIDER_ID,
        keyId,
        `${e.code ?? (status === 401 ? 'Unauthorized' : 'Forbidden')}: ${said}`,
        accessHint(),
      );
    }
    if (status === 400 && operation === 'unwrap') return new DataKeyInvalidError(ctx.field, AZURE_KEY_PROVIDER_ID, keyId);
    if (status !== undefined && status !== 429 && status < 500) {
      return new KeyAccessDeniedError(ctx.field, AZURE_KEY_PROVIDER_ID, keyId, `Key Vault answered ${status} ${e.code ?? ''}: ${said}`, accessHint());
    }
    switch (e.name) {
      case 'AuthenticationError':
      case 'AuthenticationRequiredError':
      case 'CredentialUnavailableError':
      case 'AggregateAuthenticationError':
        if (/temporarily_unavailable|server_error|network_error|endpoints_resolution_error/.test(e.message ?? '')) break;
        return new KeyAccessDeniedError(ctx.field, AZURE_KEY_PROVIDER_ID, keyId, `no token for ${accessOf().who}: ${said}`, accessHint());
    }
    // The SDK's own checks of the key it fetched (key_ops, nbf, exp) are plain Errors.
    if (status === undefined && /expired at|can't be used before/.test(said)) return new KeyDisabledError(ctx.field, AZURE_KEY_PROVIDER_ID, keyId);
    if (status === undefined && /is not supported on key/.test(said)) {
      return new KeyAccessDeniedError(
        ctx.field,
        AZURE_KEY_PROVIDER_ID,
        keyId,
        `the key's permitted operations exclude ${operation}Key`,
        `Allow wrapKey and unwrapKey on key "${keyId}" (its key_ops), or use another key.`,
      );
    }
    return new KeyProviderUnavailableError(
      ctx.field,
      AZURE_KEY_PROVIDER_ID,
      `${status ? `HTTP ${status} ` : ''}${e.code ?? e.name ?? 'Error'}${said ? `: ${said}` : ''}`,
    );
  };

  return {
    id: AZURE_KEY_PROVIDER_ID,
    description: 'Azure Key Vault keys (wrapKey/unwrapKey, RSA-OAEP-256; the key version is in the envelope)',
    currentKeyId: () => options.keyId,
    async generateDataKey(request, ctx) {
      const keyId = request.keyId ?? options.keyId;
      if (!keyId) throw new KeyProviderMissingError(ctx.field, AZURE_KEY_PROVIDER_ID, [], true);
      const wanted = allowedKey(keyId, ctx.field, false);
      try {
        // The key (its current version unless one is named): its full id goes into the envelope.
        const key: KeyVaultKey = await (await keyClient(wanted.vaultUrl)).getKey(wanted.name, { version: wanted.version, abortSignal: ctx.signal });
        const kid = key.id ?? keyId;
        if (key.properties.enabled === false) throw new KeyDisabledError(ctx.field, AZURE_KEY_PROVIDER_ID, kid);
        if (key.keyType !== 'RSA' && key.keyType !== 'RSA-HSM') {
          throw new KeyAccessDeniedError(
            ctx.field,
            AZURE_KEY_PROVIDER_ID,
            kid,
            `it is a ${key.keyType ?? 'unknown'} key`,
            `Name an RSA key (RSA or RSA-HSM): Key Vault wraps data keys with ${AZURE_WRAP_ALGORITHM}.`,
          );
        }
        // One client per key version, kept: its token and the vault's challenge are reused.
        const crypto = await cryptoClient(kid, wanted.vaultUrl);
        const plaintext = randomBytes(32);
        const wrapped = await crypto.wrapKey(AZURE_WRAP_ALGORITHM, plaintext, { abortSignal: ctx.signal });
        return { keyId: kid, plaintext, wrapped: wrapped.result };
      } catch (error) {
        throw fail(error, keyId, ctx, 'wrap');
      }
    },
    async decryptDataKey(request, ctx) {
      const wanted = allowedKey(request.keyId, ctx.field, true);
      try {
        const crypto = await cryptoClient(request.keyId, wanted.vaultUrl);
        const out = await crypto.unwrapKey(AZURE_WRAP_ALGORITHM, request.wrapped, { abortSignal: ctx.signal });
        return out.result;
      } catch (error) {
        throw fail(error, request.keyId, ctx, 'unwrap');
      }
    },
    close() {
      credential = undefined;
      access = undefined;
    },
  };
}
