import { definePlugin } from '../plugin/Plugin';
import { envSecretProvider, fileSecretProvider } from './builtinSecretProviders';

/** The secret providers every daemon has: `env://` and `file://`. */
export const builtinSecretsPlugin = definePlugin({
  id: 'builtin-secrets',
  version: '0.1.0',
  sdk: '^1.0.0',
  description: 'environment variable and file secret providers',
  register(registrar) {
    registrar.registerSecretProvider(envSecretProvider);
    registrar.registerSecretProvider(fileSecretProvider);
  },
});
