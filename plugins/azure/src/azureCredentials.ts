import type { TokenCredential } from '@azure/identity';
import type { AzureAccess } from './azureAccess';
import { loadIdentitySdk } from './azureSdk';

/** Small SDK retries: they cover a dropped keep-alive connection; the secret chain does throttling back-off. */
export const RETRY_OPTIONS = { maxRetries: 1, retryDelayInMs: 200, maxRetryDelayInMs: 1000 };

/**
 * The @azure/identity credential for an access decision: client secret (with an overridden
 * authority taken as it is), managed identity (optionally user-assigned), or the default chain.
 * Shared by the Key Vault provider and the Entra database tokens.
 */
export function createCredential(access: AzureAccess): TokenCredential {
  const identity = loadIdentitySdk();
  const common = { retryOptions: RETRY_OPTIONS, ...(access.tlsOptions ? { tlsOptions: access.tlsOptions } : {}) };
  if (access.kind === 'client-secret') {
    return new identity.ClientSecretCredential(access.tenantId as string, access.clientId as string, access.clientSecret?.reveal() as string, {
      ...common,
      ...(access.authorityHost ? { authorityHost: access.authorityHost } : {}),
      // A given authority is taken as it is: no look-up of it at login.microsoftonline.com.
      ...(access.authorityOverridden ? { disableInstanceDiscovery: true } : {}),
    });
  }
  if (access.kind === 'managed-identity') {
    return access.clientId ? new identity.ManagedIdentityCredential({ ...common, clientId: access.clientId }) : new identity.ManagedIdentityCredential(common);
  }
  return new identity.DefaultAzureCredential({
    ...common,
    ...(access.clientId ? { managedIdentityClientId: access.clientId, workloadIdentityClientId: access.clientId } : {}),
  });
}

/** A small map that forgets its least recently used entry; a rejected promise is forgotten at once. */
export class LruMap<V extends Promise<unknown>> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly max: number) {}

  getOrCreate(key: string, create: () => V): V {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const value = create();
    value.catch(() => {
      if (this.entries.get(key) === value) this.entries.delete(key);
    });
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, value);
    return value;
  }
}
