import { definePlugin, PLUGIN_API_VERSION } from '../plugin/Plugin';
import { envSecretProvider, fileSecretProvider } from './builtinSecretProviders';

/** The secret providers every daemon has: `env://` and `file://`. */
export const builtinSecretsPlugin = definePlugin({
  id: 'builtin-secrets',
  version: '0.1.0',
  apiVersion: PLUGIN_API_VERSION,
  description: 'environment variable and file secret providers',
  register(registrar) {
    registrar.registerSecretProvider(envSecretProvider);
    registrar.registerSecretProvider(fileSecretProvider);
  },
});
