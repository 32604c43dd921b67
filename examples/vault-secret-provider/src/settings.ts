import { readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';

/** The operator's settings of the plugin: the daemon config's `pluginSettings.vault`. */
export interface VaultSettings {
  /** Vault's address, for example `https://vault.internal:8200`; default: the `VAULT_ADDR` environment variable. */
  address?: string;
  /**
   * A file holding the token (a Vault Agent sink, a mounted Kubernetes secret), read at every
   * look-up so that a renewed token is picked up; default: the `VAULT_TOKEN` environment
   * variable. The token is never taken from the configuration text.
   */
  tokenFile?: string;
  /** Vault Enterprise namespace (`X-Vault-Namespace`); default: `VAULT_NAMESPACE`. */
  namespace?: string;
}

/** Where the token comes from. */
export type TokenSource = { kind: 'file'; path: string } | { kind: 'env'; value: string };

/** Settings after checking. */
export interface ResolvedVaultSettings {
  /** The address without a trailing slash. */
  address: string;
  token: TokenSource;
  namespace?: string;
}

const KNOWN = ['address', 'tokenFile', 'namespace'];

/**
 * Checks `pluginSettings.vault` and the environment; throws an Error naming the bad setting
 * (the daemon then lists the plugin as FAILED with it).
 */
export function parseSettings(value: unknown, env: NodeJS.ProcessEnv): ResolvedVaultSettings {
  const where = 'pluginSettings.vault';
  if (value !== undefined && value !== null && (typeof value !== 'object' || Array.isArray(value))) {
    throw new Error(`${where} must be an object such as { "address": "https://vault:8200", "tokenFile": "/run/secrets/vault-token" }`);
  }
  const s = (value ?? {}) as Record<string, unknown>;
  if ('token' in s) {
    throw new Error(`${where}.token is not accepted: a token does not belong in the configuration; put it in a file and name the file in ${where}.tokenFile (or set VAULT_TOKEN)`);
  }
  const unknown = Object.keys(s).filter((k) => !KNOWN.includes(k));
  if (unknown.length) throw new Error(`${where} has unknown settings: ${unknown.join(', ')} (known: ${KNOWN.join(', ')})`);
  for (const key of KNOWN) {
    if (s[key] !== undefined && typeof s[key] !== 'string') throw new Error(`${where}.${key} must be a string`);
  }

  const rawAddress = (s.address as string | undefined) ?? env.VAULT_ADDR;
  if (!rawAddress) throw new Error(`${where}.address (or the VAULT_ADDR environment variable) is required: Vault's address, for example https://vault.internal:8200`);
  const from = s.address !== undefined ? `${where}.address` : 'VAULT_ADDR';
  let url: URL;
  try {
    url = new URL(rawAddress);
  } catch {
    throw new Error(`${from} is not a URL: give Vault's address, for example https://vault.internal:8200`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${from} must be an http(s) URL`);
  if (url.username || url.password || url.search || url.hash) throw new Error(`${from} must hold no credentials, query or fragment`);

  let token: TokenSource;
  if (s.tokenFile !== undefined) {
    const path = s.tokenFile as string;
    if (!isAbsolute(path)) throw new Error(`${where}.tokenFile must be an absolute path`);
    try {
      if (!statSync(path).isFile()) throw new Error('not a file');
      if (readFileSync(path, 'utf8').trim() === '') throw new Error('empty');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : code ? `cannot be read (${code})` : `is ${(error as Error).message === 'empty' ? 'empty' : 'not a file'}`;
      throw new Error(`${where}.tokenFile ${path} ${why}`);
    }
    token = { kind: 'file', path };
  } else if (env.VAULT_TOKEN) {
    token = { kind: 'env', value: env.VAULT_TOKEN };
  } else {
    throw new Error(`${where}.tokenFile (or the VAULT_TOKEN environment variable) is required: the token the plugin reads secrets with`);
  }

  const namespace = (s.namespace as string | undefined) ?? env.VAULT_NAMESPACE;
  return { address: url.href.replace(/\/+$/, ''), token, ...(namespace ? { namespace } : {}) };
}
