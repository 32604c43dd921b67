/**
 * The __TITLE__ secret provider: resolves `__ID__://KEY` (and `#json.path`, which the daemon's
 * secret chain applies) to a value. This one reads a JSON object of KEY → value from a file, so
 * that the kit passes out of the box; replace `lookUp` with your store's client.
 *
 * What the daemon expects (docs/plugins.md "A secret provider"):
 * - return the raw value (a string or bytes); never put it into an error, a log line or a span;
 * - a reference to nothing: `NotFoundError(SecretErrorReason.NOT_FOUND, ...)`, every time;
 * - a malformed reference: an `InputError` naming the field (the chain passes the request path);
 * - refused access: `NotAllowedError(SecretErrorReason.ACCESS_DENIED, ...)`; bad credentials of
 *   your own: `NotAllowedError(SecretErrorReason.INVALID_CREDENTIALS, ...)`; throttled or down:
 *   `UnavailableError(SecretErrorReason.THROTTLED | UNREACHABLE, ...)`;
 * - honour `context.signal` (the caller's cancel, the chain's time limit);
 * - `identity()` names who fetches (part of the cache key; never a secret).
 * The chain adds the operator's policy (secrets.allowedReferences), caching, time limits,
 * retries of THROTTLED and tracing: do none of these yourself.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { InputError, NotFoundError, SecretErrorReason, UnavailableError, throwIfAborted, type SecretProvider } from '@sourced/plugin-sdk';

/** The operator's settings: `pluginSettings.__ID__`. */
export interface __IDENT__Settings {
  /** The JSON file of KEY → value (absolute path). Replace with your store's address and how to authenticate (a token file, the environment). */
  file: string;
}

/** Checks `pluginSettings.__ID__`; throws an Error naming the bad setting. */
export function parseSettings(value: unknown): __IDENT__Settings {
  const where = 'pluginSettings.__ID__';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} must be an object such as { "file": "/etc/sourced/__ID__.json" }`);
  const { file, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new Error(`${where} has unknown settings: ${unknown.join(', ')} (known: file)`);
  if (typeof file !== 'string' || !isAbsolute(file)) throw new Error(`${where}.file must be an absolute path`);
  return { file };
}

/** The key of a reference: `__ID__://db/orders` → `db/orders`. */
const KEY = /^[A-Za-z0-9._/-]{1,256}$/;

/** The provider the plugin registers. */
export function __IDENT__Provider(settings: __IDENT__Settings): SecretProvider {
  async function lookUp(key: string, signal: AbortSignal): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(settings.file, { encoding: 'utf8', signal });
    } catch (error) {
      throwIfAborted(signal);
      throw new UnavailableError(SecretErrorReason.UNREACHABLE, `cannot read the __TITLE__ store (${(error as NodeJS.ErrnoException).code ?? 'error'}); check pluginSettings.__ID__.file`);
    }
    const value: unknown = (JSON.parse(text) as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : undefined;
  }
  return {
    id: '__ID__',
    schemes: ['__ID__'],
    description: '__TITLE__ secrets',
    async resolve(reference, { signal }) {
      if (!KEY.test(reference.target)) {
        throw new InputError([{ field: 'reference', description: `${reference.uri} is not __ID__://KEY (letters, digits, . _ / -)` }]);
      }
      const value = await lookUp(reference.target, signal);
      // The message names the reference (safe: it names a value, never holds one).
      if (value === undefined) throw new NotFoundError(SecretErrorReason.NOT_FOUND, `no secret at ${reference.uri}`);
      return value;
    },
    identity: () => `file:${settings.file}`,
  };
}
