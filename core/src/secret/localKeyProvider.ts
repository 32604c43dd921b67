import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { DataKeyInvalidError, KeyDisabledError, KeyNotFoundError, KeyProviderMissingError } from './envelopeErrors';
import { contextBytes } from './envelope';
import type { EncryptionContext, GeneratedDataKey, KeyProvider, KeyProviderContext } from './KeyProvider';

/**
 * The `local` key provider: a keyring of 256-bit key-encryption keys the operator gives the
 * daemon, each with an id, one of them current (new envelopes), the others kept to open older
 * envelopes until ReencryptSecret has moved them (then they can be retired: removed).
 *
 * The keyring is JSON:
 *
 *   {"current": "2026-12", "keys": {"2026-11": "<base64 of 32 bytes>", "2026-12": "<base64>"},
 *    "disabled": ["2026-10"]}
 *
 * from the file `SOURCED_ENCRYPTION_KEYRING_FILE` (re-read when it changes) or the variable
 * `SOURCED_ENCRYPTION_KEYRING` (read at start), or the plugin settings
 * `pluginSettings.builtin-secrets.keyringFile`.
 *
 * A data key is wrapped as nonce (12) ‖ AES-256-GCM(KEK, data key) (32) ‖ tag (16), with AAD
 * `sourced:local:v1` 0x00 key id 0x00 context (the envelope's context bytes).
 */

/** A parsed keyring. */
export interface Keyring {
  readonly current: string;
  readonly keys: ReadonlyMap<string, Buffer>;
  readonly disabled: ReadonlySet<string>;
}

/** Environment variable: the keyring's JSON. */
export const KEYRING_VARIABLE = 'SOURCED_ENCRYPTION_KEYRING';
/** Environment variable: the path of a file holding the keyring's JSON. */
export const KEYRING_FILE_VARIABLE = 'SOURCED_ENCRYPTION_KEYRING_FILE';

const WRAP_LABEL = 'sourced:local:v1';

/** Parses a keyring's JSON; the errors name the problem, never a key. */
export function parseKeyring(text: string, where: string): Keyring {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${where}: the keyring is not JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${where}: the keyring must be an object {current, keys, disabled?}`);
  const { current, keys, disabled } = raw as { current?: unknown; keys?: unknown; disabled?: unknown };
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) throw new Error(`${where}: keys must be an object of key id to base64 key`);
  const map = new Map<string, Buffer>();
  for (const [id, value] of Object.entries(keys)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id))
      throw new Error(`${where}: key id "${id.slice(0, 40)}" must be 1-128 of A-Z a-z 0-9 . _ : - (starting with a letter or digit)`);
    const bytes = typeof value === 'string' && /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : undefined;
    if (!bytes || bytes.length !== 32) throw new Error(`${where}: key "${id}" must be the base64 of 32 random bytes (openssl rand -base64 32)`);
    map.set(id, bytes);
  }
  if (typeof current !== 'string' || !map.has(current))
    throw new Error(`${where}: current must name one of the keys (${[...map.keys()].join(', ') || 'none given'})`);
  const off = new Set<string>();
  if (disabled !== undefined) {
    if (!Array.isArray(disabled) || disabled.some((d) => typeof d !== 'string')) throw new Error(`${where}: disabled must be a list of key ids`);
    for (const d of disabled as string[]) off.add(d);
  }
  if (off.has(current)) throw new Error(`${where}: the current key "${current}" cannot be disabled`);
  return { current, keys: map, disabled: off };
}

/** Where the keyring comes from. */
export interface LocalKeyringSource {
  /** A file holding the keyring (re-read when its size or modification time changes). */
  file?: string;
  /** The keyring's JSON itself. */
  json?: string;
}

/** The keyring source from the plugin settings and the environment (a file wins over inline JSON). */
export function keyringSourceFrom(settings: unknown, env: NodeJS.ProcessEnv = process.env): LocalKeyringSource {
  const s = (typeof settings === 'object' && settings !== null ? settings : {}) as { keyringFile?: unknown };
  if (s.keyringFile !== undefined && typeof s.keyringFile !== 'string') throw new Error('pluginSettings.builtin-secrets.keyringFile must be a path');
  const file = s.keyringFile ?? (env[KEYRING_FILE_VARIABLE] || undefined);
  return file ? { file } : { json: env[KEYRING_VARIABLE] || undefined };
}

function wrapAad(keyId: string, context: EncryptionContext): Buffer {
  return Buffer.concat([Buffer.from(`${WRAP_LABEL}\u0000${keyId}\u0000`, 'utf8'), contextBytes(context)]);
}

/** Creates the `local` key provider. A keyring that is given but invalid throws here (the plugin then fails to load, with the reason). */
export function createLocalKeyProvider(source: LocalKeyringSource): KeyProvider {
  let keyring: Keyring | undefined = source.json ? parseKeyring(source.json, KEYRING_VARIABLE) : undefined;
  let stamp = '';
  const load = (): Keyring | undefined => {
    if (!source.file) return keyring;
    const st = statSync(source.file, { throwIfNoEntry: false });
    if (!st) throw new Error(`keyring file ${source.file} does not exist`);
    const now = `${st.size}:${st.mtimeMs}:${st.ino}`;
    if (now !== stamp || !keyring) {
      keyring = parseKeyring(readFileSync(source.file, 'utf8'), source.file);
      stamp = now;
    }
    return keyring;
  };
  if (source.file) load();
  const ring = (field: string): Keyring => {
    let r: Keyring | undefined;
    try {
      r = load();
    } catch {
      // A keyring file that became unreadable or invalid: the last good one stays in use.
      r = keyring;
    }
    if (!r) throw new KeyProviderMissingError(field, 'local', [], true);
    return r;
  };
  const key = (r: Keyring, keyId: string, field: string): Buffer => {
    const k = r.keys.get(keyId);
    if (!k) throw new KeyNotFoundError(field, 'local', keyId, [...r.keys.keys()]);
    if (r.disabled.has(keyId)) throw new KeyDisabledError(field, 'local', keyId);
    return k;
  };
  return {
    id: 'local',
    description: 'a keyring of 256-bit keys from SOURCED_ENCRYPTION_KEYRING_FILE or SOURCED_ENCRYPTION_KEYRING',
    currentKeyId: () => {
      try {
        return load()?.current;
      } catch {
        return keyring?.current;
      }
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- the key-provider contract is asynchronous; this one has nothing to await, and async makes its throws rejections
    async generateDataKey(request, ctx: KeyProviderContext): Promise<GeneratedDataKey> {
      const r = ring(ctx.field);
      const keyId = request.keyId ?? r.current;
      const kek = key(r, keyId, ctx.field);
      const dataKey = randomBytes(32);
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', kek, nonce, { authTagLength: 16 });
      cipher.setAAD(wrapAad(keyId, request.context));
      const wrapped = Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
      return { keyId, plaintext: dataKey, wrapped };
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- see generateDataKey
    async decryptDataKey(request, ctx: KeyProviderContext): Promise<Uint8Array> {
      const r = ring(ctx.field);
      const kek = key(r, request.keyId, ctx.field);
      const wrapped = Buffer.from(request.wrapped);
      if (wrapped.length !== 12 + 32 + 16) throw new DataKeyInvalidError(ctx.field, 'local', request.keyId);
      const decipher = createDecipheriv('aes-256-gcm', kek, wrapped.subarray(0, 12), { authTagLength: 16 });
      decipher.setAAD(wrapAad(request.keyId, request.context));
      decipher.setAuthTag(wrapped.subarray(44));
      try {
        return Buffer.concat([decipher.update(wrapped.subarray(12, 44)), decipher.final()]);
      } catch {
        throw new DataKeyInvalidError(ctx.field, 'local', request.keyId);
      }
    },
  };
}
