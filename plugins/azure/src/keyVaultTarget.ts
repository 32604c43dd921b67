import { InputError, type SecretReference } from '@sourced/core';

/** An Azure cloud: where its vaults live and which Entra authority issues their tokens. */
export interface AzureCloud {
  name: string;
  /** The vault host suffix, with its leading dot: `.vault.azure.net`. */
  vaultSuffix: string;
  /** The Entra authority of the cloud. */
  authorityHost: string;
}

/** The clouds a vault host name can name; the first is the default for a bare vault name. */
export const AZURE_CLOUDS: readonly AzureCloud[] = [
  { name: 'AzurePublicCloud', vaultSuffix: '.vault.azure.net', authorityHost: 'https://login.microsoftonline.com' },
  { name: 'AzureChinaCloud', vaultSuffix: '.vault.azure.cn', authorityHost: 'https://login.chinacloudapi.cn' },
  { name: 'AzureUSGovernment', vaultSuffix: '.vault.usgovcloudapi.net', authorityHost: 'https://login.microsoftonline.us' },
];

/** What an `azure-kv://` reference names. */
export interface KeyVaultTarget {
  /** The vault as written in the reference (a name or a host name), lower-cased. */
  vault: string;
  /** `https://<name><suffix>`, without a trailing slash. */
  vaultUrl: string;
  cloud: AzureCloud;
  secretName: string;
  /** A specific version; undefined means the current one. */
  version?: string;
}

/** Key Vault names: 3–24 letters, digits and single dashes, starting with a letter, not ending with a dash. */
const VAULT_NAME = /^(?=.{3,24}$)[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;
/** Secret names: 1–127 letters, digits and dashes. */
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
/** Versions: Key Vault makes 32 hex digits; accept any letters and digits. */
const VERSION = /^[0-9a-zA-Z]{1,64}$/;

const SYNTAX = 'azure-kv://<vault-name or vault host>/<secret-name>[/<version>][#json.path]';

/**
 * Parses `azure-kv://vault/secret[/version]`: the vault is a bare name (public cloud,
 * `https://<name>.vault.azure.net`) or a full vault host name of a known cloud
 * (`my-vault.vault.azure.net`, `.vault.azure.cn`, `.vault.usgovcloudapi.net`).
 * Throws InputError (reason `SECRET_REFERENCE_INVALID`) naming what is wrong.
 */
export function parseKeyVaultTarget(reference: SecretReference): KeyVaultTarget {
  const invalid = (why: string) =>
    new InputError([{ field: 'reference', description: `${reference.uri}: ${why}; expected ${SYNTAX}` }], { reason: 'SECRET_REFERENCE_INVALID' });
  const parts = reference.target.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) throw invalid('needs a vault and a secret name');
  const [vaultPart, secretName, version] = parts as [string, string, string | undefined];
  const vault = vaultPart.toLowerCase();
  let cloud: AzureCloud | undefined;
  let name = vault;
  if (vault.includes('.')) {
    cloud = AZURE_CLOUDS.find((c) => vault.endsWith(c.vaultSuffix));
    if (!cloud) {
      throw invalid(
        `${vaultPart} is not a Key Vault host name (${AZURE_CLOUDS.map((c) => `*${c.vaultSuffix}`).join(', ')}); give another address in connection_properties.azure_key_vault_url`,
      );
    }
    name = vault.slice(0, -cloud.vaultSuffix.length);
  }
  if (!VAULT_NAME.test(name)) throw invalid(`"${name}" is not a valid vault name (3–24 letters, digits and single dashes, starting with a letter)`);
  if (!SECRET_NAME.test(secretName)) throw invalid(`"${secretName}" is not a valid secret name (1–127 letters, digits and dashes)`);
  if (version !== undefined && !VERSION.test(version)) throw invalid(`"${version}" is not a valid secret version`);
  cloud ??= AZURE_CLOUDS[0];
  return { vault, vaultUrl: `https://${name}${cloud.vaultSuffix}`, cloud, secretName, version };
}

/** The cloud whose vault domain a host name is in, if any. */
export function cloudOfVaultHost(host: string): AzureCloud | undefined {
  const h = host.toLowerCase();
  return AZURE_CLOUDS.find((c) => h.endsWith(c.vaultSuffix) && VAULT_NAME.test(h.slice(0, -c.vaultSuffix.length)));
}
