/**
 * sourced-plugin-vault: a secret provider for HashiCorp Vault's KV version 2, scheme `vault`.
 * An example of a third-party plugin: it imports only `@sourced/plugin-sdk`.
 *
 * ```yaml
 * plugins: [/opt/sourced/plugins/sourced-plugin-vault/dist/index.js]
 * pluginSettings:
 *   vault: { address: https://vault.internal:8200, tokenFile: /run/secrets/vault-token }
 * secrets:
 *   allowedReferences: [env://SOURCED_*, "vault://secret/*"]
 * ```
 *
 * A data source then says `credentials.password.reference: vault://secret/db/orders#password`.
 */
import { definePlugin } from '@sourced/plugin-sdk';
import { VaultSecretProvider } from './VaultSecretProvider';
import { parseSettings } from './settings';

export default definePlugin({
  id: 'vault',
  version: '1.0.0',
  sdk: '^1.0.0',
  description: 'HashiCorp Vault KV version 2 secrets (vault://mount/path#field)',
  register(registrar) {
    const settings = parseSettings(registrar.settings, process.env);
    if (new URL(settings.address).protocol === 'http:' && !/^http:\/\/(127\.|localhost[:/]|\[::1\])/.test(`${settings.address}/`)) {
      registrar.logger.warn('Vault is reached over plain http: the token and the secrets cross the network unencrypted; use https', { address: settings.address });
    }
    registrar.registerSecretProvider(new VaultSecretProvider(settings));
    registrar.logger.info('reading secrets from Vault', { address: settings.address, namespace: settings.namespace, token: settings.token.kind === 'file' ? settings.token.path : 'VAULT_TOKEN' });
  },
});

export { VaultSecretProvider } from './VaultSecretProvider';
export { parseVaultTarget, type VaultTarget } from './reference';
export type { ResolvedVaultSettings, VaultSettings } from './settings';
