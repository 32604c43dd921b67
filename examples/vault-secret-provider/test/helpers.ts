import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { noopLogger, parseSecretReference, type SecretProviderContext, type SecretReference } from '@sourced/plugin-sdk';

/** The built plugin, loaded by the daemon from its path as an operator would. */
export const PLUGIN = resolve(__dirname, '../dist/index.js');

/** A fresh folder with a token file in it (mode 0600, as a Vault Agent sink writes it). */
export function tokenFile(token: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sourced-vault-')), 'token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

export function ref(text: string): SecretReference {
  const parsed = parseSecretReference(text);
  if (!parsed) throw new Error(`not a reference: ${text}`);
  return parsed;
}

/** The context the daemon's secret chain gives a provider, for calling one directly. */
export function providerContext(signal: AbortSignal = new AbortController().signal): SecretProviderContext {
  return {
    signal,
    logger: noopLogger,
    resolveSecret: () => Promise.reject(new Error('the vault provider resolves no other secret')),
  };
}

/** The secret policy and chain an operator writes to let data sources use vault:// references. */
export const VAULT_SECRETS = {
  allowedReferences: ['vault://secret/*'],
  dynamicStrategies: false,
  order: ['reference' as const],
  cacheTtlMs: 0,
  staleIfErrorMs: 0,
  providerTimeoutMs: 5000,
};
