/**
 * @sourced/plugin-azure: the Azure cloud provider plugin of sourced. Registers the Key Vault
 * secret provider (`azure-kv://vault/secret[/version][#json.path]`), the Entra database tokens and
 * the Key Vault keys key provider (`azure-kv-keys`, envelope encryption).
 */
import { definePlugin } from '@sourced/core';
import { KeyVaultSecretProvider } from './KeyVaultSecretProvider';
import { EntraDatabaseTokenProvider } from './entraDatabaseTokens';
import { createKeyVaultKeyProvider, keyVaultKeyOptionsFrom } from './KeyVaultKeyProvider';

/** The plugin; each daemon that loads it gets its own provider (and its own client cache). */
export default definePlugin({
  id: 'azure',
  version: '0.1.0',
  sdk: '^1.0.0',
  description:
    'Azure: Key Vault secrets (azure-kv://) and Entra ID database tokens, Key Vault keys for envelopes (azure-kv-keys), with client secret, managed identity or the default credential chain',
  register(r) {
    r.registerSecretProvider(new KeyVaultSecretProvider());
    r.registerDatabaseTokenProvider(new EntraDatabaseTokenProvider());
    // Envelope encryption (docs/encryption.md): pluginSettings.azure.keys.keyId names the key new envelopes use.
    r.registerKeyProvider(createKeyVaultKeyProvider(keyVaultKeyOptionsFrom(r.settings)));
  },
});

export { KeyVaultSecretProvider, type KeyVaultSecretProviderOptions } from './KeyVaultSecretProvider';
export { AZURE_PROPERTIES, resolveAzureAccess, type AzureAccess, type AzureCredentialKind } from './azureAccess';
export { AZURE_CLOUDS, parseKeyVaultTarget, cloudOfVaultHost, type AzureCloud, type KeyVaultTarget } from './keyVaultTarget';
export { scrubAzureText, toKeyVaultError } from './keyVaultErrors';
export { EntraDatabaseTokenProvider, ENTRA_DATABASE_SCOPE } from './entraDatabaseTokens';
export {
  createKeyVaultKeyProvider,
  keyVaultKeyOptionsFrom,
  parseKeyVaultKeyId,
  AZURE_KEY_PROVIDER_ID,
  AZURE_WRAP_ALGORITHM,
  type KeyVaultKeyProviderOptions,
  type KeyVaultKeyId,
} from './KeyVaultKeyProvider';
