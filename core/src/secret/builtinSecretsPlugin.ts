import { definePlugin } from '../plugin/Plugin';
import { envSecretProvider, fileSecretProvider } from './builtinSecretProviders';
import { createLocalKeyProvider, keyringSourceFrom } from './localKeyProvider';

/**
 * The secret providers every daemon has, `env://` and `file://`, and the `local` key provider
 * (its keyring from `pluginSettings.builtin-secrets.keyringFile`, SOURCED_ENCRYPTION_KEYRING_FILE
 * or SOURCED_ENCRYPTION_KEYRING; without one, encrypting fails with FAILED_PRECONDITION).
 */
export const builtinSecretsPlugin = definePlugin({
  id: 'builtin-secrets',
  version: '0.1.0',
  sdk: '^1.0.0',
  description: 'environment variable and file secret providers, local key provider',
  register(registrar) {
    registrar.registerSecretProvider(envSecretProvider);
    registrar.registerSecretProvider(fileSecretProvider);
    registrar.registerKeyProvider(createLocalKeyProvider(keyringSourceFrom(registrar.settings)));
  },
});
