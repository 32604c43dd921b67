import { SourcedError } from '@sourced/core';

export type IdentitySdk = typeof import('@azure/identity');
export type SecretsSdk = typeof import('@azure/keyvault-secrets');

let identitySdk: IdentitySdk | undefined;
let secretsSdk: SecretsSdk | undefined;

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

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- T is the type of the module `name` names: require() gives no type
function load<T>(name: string, version: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: optional packages, loaded only when an azure-kv:// reference is resolved (see above)
    return require(name) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' && (error as Error).message.includes(`'${name}'`)) {
      throw new SourcedError(
        'AZURE_SDK_MISSING',
        `the azure-key-vault provider needs the npm package ${name}; install it next to the daemon (npm install ${name}@${version})`,
      );
    }
    throw error;
  }
}
