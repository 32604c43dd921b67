import { SourcedError } from '@sourced/core';

export type IdentitySdk = typeof import('@azure/identity');
export type SecretsSdk = typeof import('@azure/keyvault-secrets');
export type KeysSdk = typeof import('@azure/keyvault-keys');

let identitySdk: IdentitySdk | undefined;
let secretsSdk: SecretsSdk | undefined;
let keysSdk: KeysSdk | undefined;

/**
 * The Azure SDK packages, required on first use: a daemon that never resolves an
 * `azure-kv://` reference never loads them (MSAL alone is a large import). They are
 * required, not imported, so the CommonJS builds load (one copy of the Azure core packages).
 * A missing package fails the look-up with a message naming it.
 */
export function loadIdentitySdk(): IdentitySdk {
  identitySdk ??= load<IdentitySdk>('@azure/identity', '4.13.1');
  return identitySdk;
}

/** See {@link loadIdentitySdk}. */
export function loadSecretsSdk(): SecretsSdk {
  secretsSdk ??= load<SecretsSdk>('@azure/keyvault-secrets', '4.11.2');
  return secretsSdk;
}

/** See {@link loadIdentitySdk}; used by the `azure-kv-keys` key provider. */
export function loadKeysSdk(): KeysSdk {
  keysSdk ??= load<KeysSdk>('@azure/keyvault-keys', '4.10.2', 'azure-kv-keys key provider');
  return keysSdk;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- T is the type of the module `name` names: require() gives no type
function load<T>(name: string, version: string, user = 'azure-key-vault provider'): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: optional packages, loaded only when an azure-kv:// reference is resolved (see above)
    return require(name) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' && (error as Error).message.includes(`'${name}'`)) {
      throw new SourcedError('AZURE_SDK_MISSING', `the ${user} needs the npm package ${name}; install it next to the daemon (npm install ${name}@${version})`);
    }
    throw error;
  }
}
