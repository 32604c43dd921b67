import { randomBytes } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { NotFoundError, SecretErrorReason, SourcedError, type SecretProvider, type SecretProviderContext, type SecretReference } from '@sourced/core';
import { resolveAzureAccess, type AzureAccess } from './azureAccess';
import { createCredential, LruMap, RETRY_OPTIONS } from './azureCredentials';
import { loadSecretsSdk } from './azureSdk';
import { toKeyVaultError } from './keyVaultErrors';
import { parseKeyVaultTarget } from './keyVaultTarget';

export interface KeyVaultSecretProviderOptions {
  /** Most SecretClients kept (one per identity and vault). Default 64. */
  maxClients?: number;
}

/**
 * The SDK's own retries: one, quickly. The chain retries throttling with back-off and
 * bounds each call by its time limit, so the SDK must not spend that time on its own.
 */

/**
 * `azure-kv://vault/secret[/version]`: secrets of Azure Key Vault, through
 * `@azure/keyvault-secrets` and `@azure/identity`. Who fetches is decided per data source
 * (see {@link resolveAzureAccess}); a SecretClient is kept per identity and vault, a
 * credential per identity, so tokens and the vault's challenge are reused across look-ups.
 */
export class KeyVaultSecretProvider implements SecretProvider {
  readonly id = 'azure-key-vault';
  readonly schemes = ['azure-kv'] as const;
  readonly description = 'Azure Key Vault secrets (azure-kv://vault/secret[/version][#json.path])';

  /** Keys the client-secret fingerprints in identities; never leaves the process. */
  private readonly fingerprintKey = randomBytes(32);
  private readonly clients: LruMap<Promise<SecretClient>>;
  private readonly credentials: LruMap<Promise<TokenCredential>>;

  constructor(options: KeyVaultSecretProviderOptions = {}) {
    const max = options.maxClients ?? 64;
    this.clients = new LruMap(max);
    this.credentials = new LruMap(max);
  }

  /** `<tenant>/<client>` (with a keyed fingerprint of its secret), `managed-identity[:id]` or `default-chain[:id]`, and the vault URL. */
  async identity(reference: SecretReference, context: SecretProviderContext): Promise<string> {
    const access = await resolveAzureAccess(parseKeyVaultTarget(reference), context, this.fingerprintKey);
    return access.identity;
  }

  async resolve(reference: SecretReference, context: SecretProviderContext): Promise<string> {
    const target = parseKeyVaultTarget(reference);
    const access = await resolveAzureAccess(target, context, this.fingerprintKey);
    try {
      const client = await this.client(access, context);
      const secret = await client.getSecret(target.secretName, { version: target.version, abortSignal: context.signal });
      if (secret.value === undefined) {
        throw new NotFoundError(
          SecretErrorReason.NOT_FOUND,
          `secret ${target.secretName}${target.version ? ` version ${target.version}` : ''} in vault ${target.vault} has no value`,
        );
      }
      return secret.value;
    } catch (error) {
      if (error instanceof SourcedError) throw error;
      throw toKeyVaultError(error, { target, access });
    }
  }

  private client(access: AzureAccess, context: SecretProviderContext): Promise<SecretClient> {
    return this.clients.getOrCreate(access.identity, async () => {
      const { SecretClient } = loadSecretsSdk();
      const credential = await this.credential(access);
      context.logger.debug('azure key vault client created', { vault: access.vaultUrl, identity: access.who, authority: access.authorityHost ?? 'default' });
      return new SecretClient(access.vaultUrl, credential, {
        retryOptions: RETRY_OPTIONS,
        ...(access.tlsOptions ? { tlsOptions: access.tlsOptions } : {}),
        // Key Vault's challenge names the resource its tokens are for; it is checked against
        // the vault's domain unless the vault lives elsewhere (a stand-in, a proxy).
        disableChallengeResourceVerification: access.customVaultHost,
      });
    });
  }

  private credential(access: AzureAccess): Promise<TokenCredential> {
    // A promise (rejected if createCredential throws), so that concurrent calls share one credential.
    return this.credentials.getOrCreate(access.credentialKey, () => new Promise<TokenCredential>((resolve) => resolve(createCredential(access))));
  }
}
