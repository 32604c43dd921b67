import { createHash, createHmac, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { InputError, NotAllowedError, SecretErrorReason, type Secret, type SecretProviderContext } from '@sourced/core';
import { AZURE_CLOUDS, cloudOfVaultHost, type KeyVaultTarget } from './keyVaultTarget';

/** The connection_properties that point the provider somewhere other than Azure's own endpoints. */
export const AZURE_PROPERTIES = {
  /** The vault's base URL (`https://host[:port]`), instead of the one the reference names. */
  vaultUrl: 'azure_key_vault_url',
  /** The Entra authority (`https://host[:port]`), instead of the cloud's. */
  authorityHost: 'azure_authority_host',
  /** A PEM CA certificate trusted, in addition to the usual ones, for the two addresses above. */
  caCert: 'azure_ssl_ca',
} as const;

/** How the provider authenticates. */
export type AzureCredentialKind = 'client-secret' | 'managed-identity' | 'default-chain';

/** Everything one look-up needs to know about who fetches from where. */
export interface AzureAccess {
  kind: AzureCredentialKind;
  tenantId?: string;
  /** The app (client secret), or the user-assigned identity (managed identity, default chain). */
  clientId?: string;
  clientSecret?: Secret;
  /** The vault's base URL, without a trailing slash. */
  vaultUrl: string;
  /** Whether the vault URL is outside the known Key Vault domains (the challenge's resource is then not checked against it). */
  customVaultHost: boolean;
  /** The Entra authority; undefined means the SDK's default (the public cloud, or AZURE_AUTHORITY_HOST). */
  authorityHost?: string;
  /** Whether the authority came from connection_properties (instance discovery is then off). */
  authorityOverridden: boolean;
  /** TLS settings trusting an extra CA as well as the usual ones; undefined means Node's defaults. */
  tlsOptions?: { readonly ca: string[] };
  /** Who fetches from where, for the chain's cache key: never a secret. */
  identity: string;
  /** Who fetches, for messages and logs: `<tenant>/<client>`, `managed-identity[:id]`, `default-chain[:id]`. */
  who: string;
  /** Key of the credential cache (who, with a keyed fingerprint of the client secret, and the authority). */
  credentialKey: string;
}

/**
 * Works out who fetches and from where for a data source: a client secret
 * (`cloud_config.azure_tenant_id`, `azure_client_id`, `azure_client_secret`, the secret
 * resolved through the chain), a managed identity (`use_managed_identity`, `azure_client_id`
 * as the user-assigned id), or the default credential chain. The overrides in
 * connection_properties are honoured only with a client secret from the request: the
 * daemon's own identity is never sent to an address a request chooses.
 *
 * `fingerprintKey` keys the HMAC of the client secret that goes into the identity, so two
 * callers naming the same app with different secrets never share a cached value.
 */
export async function resolveAzureAccess(target: KeyVaultTarget, context: SecretProviderContext, fingerprintKey: Buffer): Promise<AzureAccess> {
  const source = context.source;
  const cloud = source?.cloud;
  const props = source?.connectionProperties ?? {};
  const tenantId = cloud?.azureTenantId || undefined;
  const clientId = cloud?.azureClientId || undefined;

  const vaultOverride = httpsOrigin(props[AZURE_PROPERTIES.vaultUrl], AZURE_PROPERTIES.vaultUrl, true);
  const authorityOverride = httpsOrigin(props[AZURE_PROPERTIES.authorityHost], AZURE_PROPERTIES.authorityHost, false);
  const caPem = pemCertificate(props[AZURE_PROPERTIES.caCert]);
  const vaultUrl = vaultOverride ?? target.vaultUrl;
  const vaultHost = new URL(vaultUrl);
  const customVaultHost = !(cloudOfVaultHost(vaultHost.hostname) && vaultHost.port === '');

  let kind: AzureCredentialKind;
  let clientSecret: Secret | undefined;
  let who: string;
  let credentialKey: string;
  if (cloud?.azureClientSecret) {
    const field = cloud.azureClientSecret.field;
    const sibling = (name: string) => field.replace(/azure_client_secret(\..*)?$/, name);
    if (cloud.useManagedIdentity) {
      throw new InputError([
        { field: sibling('use_managed_identity'), description: 'cannot be true together with azure_client_secret; choose one way to authenticate' },
      ]);
    }
    const missing = [!tenantId && 'azure_tenant_id', !clientId && 'azure_client_id'].filter((m): m is string => Boolean(m));
    if (missing.length > 0) throw new InputError(missing.map((m) => ({ field: sibling(m), description: 'is required with azure_client_secret' })));
    if (!/^[0-9a-zA-Z.-]+$/.test(tenantId as string))
      throw new InputError([{ field: sibling('azure_tenant_id'), description: 'must be a tenant id (a GUID) or a domain name' }]);
    clientSecret = await context.resolveSecret(cloud.azureClientSecret, 'azure_client_secret');
    if (clientSecret.isEmpty) throw new InputError([{ field, description: 'resolved to an empty value' }]);
    kind = 'client-secret';
    who = `${tenantId}/${clientId}`;
    const fingerprint = createHmac('sha256', fingerprintKey).update(clientSecret.reveal()).digest('hex').slice(0, 32);
    credentialKey = `client-secret:${who}:${fingerprint}`;
  } else if (cloud?.useManagedIdentity) {
    kind = 'managed-identity';
    who = clientId ? `managed-identity:${clientId}` : 'managed-identity';
    credentialKey = who;
  } else {
    kind = 'default-chain';
    who = clientId ? `default-chain:${clientId}` : 'default-chain';
    credentialKey = who;
  }

  if (kind !== 'client-secret') {
    const refused = [
      customVaultHost && `${AZURE_PROPERTIES.vaultUrl} (${vaultUrl} is not a Key Vault address)`,
      authorityOverride && AZURE_PROPERTIES.authorityHost,
      caPem && AZURE_PROPERTIES.caCert,
    ].filter(Boolean);
    if (refused.length > 0) {
      throw new NotAllowedError(
        SecretErrorReason.ACCESS_DENIED,
        `connection_properties.${refused.join(', ')} can be used only with a client secret given in the request (cloud_config.azure_client_secret): the daemon's own Azure identity (${who}) is never sent to an address a request chooses`,
      );
    }
  }

  // A vault in a sovereign cloud takes its tokens from that cloud's authority.
  const cloudOfVault = cloudOfVaultHost(vaultHost.hostname) ?? target.cloud;
  const authorityHost = authorityOverride ?? (kind === 'client-secret' && cloudOfVault !== AZURE_CLOUDS[0] ? cloudOfVault.authorityHost : undefined);
  if (authorityHost) credentialKey += `@${authorityHost}`;
  const caFingerprint = caPem ? createHash('sha256').update(caPem).digest('hex').slice(0, 16) : undefined;
  if (caFingerprint) credentialKey += `+ca:${caFingerprint}`;

  return {
    kind,
    tenantId,
    clientId,
    clientSecret,
    vaultUrl,
    customVaultHost,
    authorityHost,
    authorityOverridden: authorityOverride !== undefined,
    tlsOptions: caPem ? tlsTrusting(caPem) : undefined,
    identity: `${credentialKey} -> ${vaultUrl}`,
    who,
    credentialKey,
  };
}

/** An `https://host[:port]` origin from a property, or undefined when it is not set. */
function httpsOrigin(value: unknown, name: string, allowPath: boolean): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const field = `data_source.connection_properties.${name}`;
  let url: URL;
  try {
    if (typeof value !== 'string') throw new TypeError('not a string'); // a Struct value may be a number, a list or an object
    url = new URL(value);
  } catch {
    throw new InputError([{ field, description: 'is not a URL' }]);
  }
  if (url.protocol !== 'https:') throw new InputError([{ field, description: 'must be an https:// URL' }]);
  if (url.username || url.password || url.search || url.hash)
    throw new InputError([{ field, description: 'must be a base URL without credentials, query or fragment' }]);
  if (!allowPath && url.pathname !== '/') throw new InputError([{ field, description: 'must be a host (https://host[:port]) without a path' }]);
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/** A CA certificate in PEM from a property, checked to parse; undefined when not set. */
function pemCertificate(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const field = `data_source.connection_properties.${AZURE_PROPERTIES.caCert}`;
  const text = typeof value === 'string' ? value : ''; // a Struct value may be a number, a list or an object: not PEM
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    throw new InputError([{ field, description: 'must be a CA certificate in PEM (-----BEGIN CERTIFICATE-----)' }]);
  try {
    new X509Certificate(text);
  } catch {
    throw new InputError([{ field, description: 'is not a readable PEM certificate' }]);
  }
  return text;
}

let extraCas: string[] | undefined;
const bundles = new Map<string, { readonly ca: string[] }>();

/**
 * TLS settings trusting an extra CA. Giving the SDK a `ca` list replaces Node's defaults,
 * so the list holds them too: Node's bundled roots and the file of NODE_EXTRA_CA_CERTS.
 * One object per CA, so the SDK's HTTPS agent (cached per TLS settings object) is reused.
 */
export function tlsTrusting(caPem: string): { readonly ca: string[] } {
  let bundle = bundles.get(caPem);
  if (!bundle) {
    if (!extraCas) {
      const file = process.env.NODE_EXTRA_CA_CERTS;
      try {
        extraCas = file ? [readFileSync(file, 'utf8')] : [];
      } catch {
        extraCas = [];
      }
    }
    bundle = Object.freeze({ ca: [...rootCertificates, ...extraCas, caPem] });
    if (bundles.size >= 16) bundles.clear();
    bundles.set(caPem, bundle);
  }
  return bundle;
}
