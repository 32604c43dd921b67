import { InputError, type SecretReference } from '@sourced/plugin-sdk';

/** What a `vault://` reference names. */
export interface VaultTarget {
  /** The KV v2 secrets engine's mount, for example `secret`. */
  mount: string;
  /** The secret's path under the mount, for example `db/orders`. */
  path: string;
  /** A version of the secret; undefined means the current one. */
  version?: number;
}

export const SYNTAX = 'vault://<mount>/<path>[?version=<n>]#<field>, for example vault://secret/db/orders#password';

/**
 * Reads `vault://<mount>/<path>[?version=<n>]`: the mount is the first path segment (mounts
 * with slashes in their name are not supported), the rest is the secret's path. The `#field`
 * is applied by the daemon's secret chain to the JSON this provider returns. Throws an
 * InputError (reason `SECRET_REFERENCE_INVALID`) naming what is wrong.
 */
export function parseVaultTarget(reference: SecretReference): VaultTarget {
  const bad = (why: string) => new InputError([{ field: 'reference', description: `${reference.uri}: ${why}; expected ${SYNTAX}` }], { reason: 'SECRET_REFERENCE_INVALID' });
  const [pathPart, query] = splitOnce(reference.target, '?');
  const segments = pathPart.split('/');
  if (segments.length < 2 || segments[0] === '') throw bad('names no mount and path');
  if (segments.some((s) => s === '')) throw bad('has an empty path segment');
  if (segments.some((s) => s === '.' || s === '..')) throw bad('has a . or .. path segment');
  if (segments.some((s) => /[\u0000-\u001f\\%]/.test(s))) throw bad('has a control character, a backslash or a percent sign');
  let version: number | undefined;
  if (query !== undefined) {
    for (const pair of query.split('&')) {
      const [key, value = ''] = splitOnce(pair, '=');
      if (key !== 'version') throw bad(`has an unknown parameter "${key}" (only version is known)`);
      if (!/^[1-9][0-9]{0,9}$/.test(value)) throw bad('has a version that is not a positive whole number');
      version = Number(value);
    }
  }
  return { mount: segments[0], path: segments.slice(1).join('/'), version };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}
