import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { InputError, SourcedError } from '../errors';
import {
  DataKeyInvalidError,
  EnvelopeContextError,
  EnvelopeFormatError,
  EnvelopeTamperedError,
  KeyProviderMissingError,
  KeyProviderUnavailableError,
  EnvelopeErrorReason,
} from './envelopeErrors';
import type { EncryptionContext, KeyProvider, KeyProviderContext } from './KeyProvider';
import { Secret } from './Secret';

/*
 * The sourced envelope, format v1 (docs/encryption.md is the normative description):
 *
 *   sourced:enc:v1:<base64url, no padding, of the bytes below>
 *
 *   off  size  field
 *   0    1     format version, 0x01
 *   1    1     algorithm, 0x01 = AES-256-GCM (96-bit nonce, 128-bit tag)
 *   2    1     n: length of the key provider name (1..64)
 *   3    n     key provider name, UTF-8 (`local`, `aws-kms`)
 *   .    2     m: length of the key id, big-endian (1..2048)
 *   .    m     key id, UTF-8
 *   .    2     w: length of the wrapped data key, big-endian (1..4096)
 *   .    w     wrapped data key (the key provider's format)
 *   .    16    context digest: the first 16 bytes of SHA-256(context)
 *   .    12    nonce
 *   .    4     c: length of the ciphertext, big-endian (0..1 MiB)
 *   .    c     ciphertext
 *   .    16    GCM tag
 *   (nothing after)
 *
 * context = UTF-8 of {"data_source_id":"<id>","field":"<field>"} (JSON, these two members in
 * this order, JSON string escaping; which is also its RFC 8785 form).
 * The value is AES-256-GCM under the data key with AAD = header ‖ context, where header is
 * every byte before the ciphertext (offsets 0 through c). The data key is 32 random bytes, fresh
 * for each value, and is wrapped by the key provider bound to the same context.
 */

/** Every v1 envelope starts with this. */
export const ENVELOPE_PREFIX = 'sourced:enc:v1:';
const FORMAT_V1 = 0x01;
const ALG_AES_256_GCM = 0x01;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const DIGEST_BYTES = 16;
/** Largest value an envelope holds: 1 MiB. */
export const MAX_PLAINTEXT_BYTES = 1 << 20;
/** Longest envelope text accepted, well above what MAX_PLAINTEXT_BYTES makes. */
export const MAX_ENVELOPE_CHARS = 1_500_000;

/** The parsed, not yet opened, parts of an envelope. Holds no plaintext. */
export interface EnvelopeHeader {
  readonly keyProvider: string;
  readonly keyId: string;
  readonly wrappedKey: Uint8Array;
  readonly contextDigest: Uint8Array;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly tag: Uint8Array;
  /** The bytes authenticated before the context: version through ciphertext length. */
  readonly header: Uint8Array;
}

/** Whether a text is (meant to be) a sourced envelope: it starts with `sourced:enc:`. */
export function looksLikeEnvelope(text: string): boolean {
  return text.startsWith('sourced:enc:');
}

/** The context's canonical bytes (see the format above). */
export function contextBytes(context: EncryptionContext): Buffer {
  return Buffer.from(JSON.stringify({ data_source_id: context.dataSourceId, field: context.field }), 'utf8');
}

function contextDigest(context: EncryptionContext): Buffer {
  return createHash('sha256').update(contextBytes(context)).digest().subarray(0, DIGEST_BYTES);
}

/** Checks a context before it is used to seal or open; an empty id or field is the caller's error. */
export function checkContext(context: EncryptionContext, fields: { dataSourceId: string; field: string }): void {
  const violations = [];
  if (!context.dataSourceId)
    violations.push({ field: fields.dataSourceId, description: 'is required: an envelope is bound to the id of the data source it belongs to' });
  if (!context.field)
    violations.push({
      field: fields.field,
      description: 'is required: an envelope is bound to the field it belongs to (credentials.password, ssl_config.key, ...)',
    });
  if (violations.length) throw new InputError(violations, { reason: 'ENCRYPTION_CONTEXT_INVALID' });
}

/** Parses an envelope's text; throws EnvelopeFormatError (INVALID_ARGUMENT) naming `field` when it is not a well-formed v1 envelope. */
export function parseEnvelope(text: string, field: string): EnvelopeHeader {
  if (typeof text !== 'string' || !text.startsWith('sourced:enc:'))
    throw new EnvelopeFormatError(field, 'is not a sourced envelope (it must start with sourced:enc:v1:)');
  if (!text.startsWith(ENVELOPE_PREFIX)) {
    throw new EnvelopeFormatError(
      field,
      `is an envelope of a format this daemon does not know (${text.slice(0, 16).replace(/[^ -~]/g, '?')}...; it reads v1)`,
      {
        reason: EnvelopeErrorReason.UNSUPPORTED,
        hint: 'Upgrade the daemon to a release that reads this envelope format, or encrypt the value again with this one.',
      },
    );
  }
  if (text.length > MAX_ENVELOPE_CHARS) throw new EnvelopeFormatError(field, `is longer than ${MAX_ENVELOPE_CHARS} characters`);
  const body = text.slice(ENVELOPE_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(body) || body.length % 4 === 1)
    throw new EnvelopeFormatError(field, 'is not base64url after sourced:enc:v1: (A-Z a-z 0-9 - _, no padding, no spaces)');
  const bytes = Buffer.from(body, 'base64url');
  // Canonical base64url only: unused bits of the last character must be zero.
  if (bytes.toString('base64url') !== body) throw new EnvelopeFormatError(field, 'is not canonical base64url after sourced:enc:v1:');
  let at = 0;
  const take = (n: number, what: string): Buffer => {
    if (at + n > bytes.length) throw new EnvelopeFormatError(field, `is cut short: it ends inside the ${what} (${bytes.length} bytes)`);
    const part = bytes.subarray(at, at + n);
    at += n;
    return part;
  };
  const version = take(1, 'format version')[0];
  if (version !== FORMAT_V1) throw new EnvelopeFormatError(field, `has format version ${version} under the v1 prefix`);
  const algorithm = take(1, 'algorithm')[0];
  if (algorithm !== ALG_AES_256_GCM) {
    throw new EnvelopeFormatError(field, `names algorithm ${algorithm}, which this daemon does not implement (1 = AES-256-GCM)`, {
      reason: EnvelopeErrorReason.UNSUPPORTED,
      hint: 'Encrypt the value again with this daemon, or upgrade it to a release that reads this algorithm.',
    });
  }
  const n = take(1, 'key provider length')[0];
  if (n < 1 || n > 64) throw new EnvelopeFormatError(field, `has a key provider name of ${n} bytes (1..64)`);
  const keyProvider = utf8(take(n, 'key provider name'), field, 'key provider name');
  if (!/^[a-z][a-z0-9-]*$/.test(keyProvider)) throw new EnvelopeFormatError(field, 'has a key provider name that is not kebab-case');
  const m = take(2, 'key id length').readUInt16BE(0);
  if (m < 1 || m > 2048) throw new EnvelopeFormatError(field, `has a key id of ${m} bytes (1..2048)`);
  const keyId = utf8(take(m, 'key id'), field, 'key id');
  const w = take(2, 'wrapped key length').readUInt16BE(0);
  if (w < 1 || w > 4096) throw new EnvelopeFormatError(field, `has a wrapped data key of ${w} bytes (1..4096)`);
  const wrappedKey = take(w, 'wrapped data key');
  const digest = take(DIGEST_BYTES, 'context digest');
  const nonce = take(NONCE_BYTES, 'nonce');
  const c = take(4, 'ciphertext length').readUInt32BE(0);
  if (c > MAX_PLAINTEXT_BYTES) throw new EnvelopeFormatError(field, `declares a ciphertext of ${c} bytes (at most ${MAX_PLAINTEXT_BYTES})`);
  const header = bytes.subarray(0, at);
  const ciphertext = take(c, 'ciphertext');
  const tag = take(TAG_BYTES, 'tag');
  if (at !== bytes.length) throw new EnvelopeFormatError(field, `has ${bytes.length - at} bytes after its tag`);
  return { keyProvider, keyId, wrappedKey, contextDigest: digest, nonce, ciphertext, tag, header };
}

function utf8(bytes: Buffer, field: string, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new EnvelopeFormatError(field, `has a ${what} that is not UTF-8`);
  }
}

/** The key providers an envelope operation may use, by name. */
export interface KeyProviders {
  get(name: string): KeyProvider | undefined;
  names(): string[];
}

/** Where an envelope was sealed or opened: never a key or a value. For the audit log and spans. */
export interface KeyUse {
  readonly keyProvider: string;
  readonly keyId: string;
}

/** Calls a key provider, turning an error that is not one of ours into UNAVAILABLE (the provider failed, not the caller). */
async function callProvider<T>(provider: KeyProvider, field: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof SourcedError) throw error;
    throw new KeyProviderUnavailableError(field, provider.id, 'the provider failed', { cause: error });
  }
}

/**
 * Seals a value: a fresh data key from the provider (its current key, or `keyId`), AES-256-GCM
 * over the value with the header and context as additional data. The data key's plaintext is
 * zeroed before this returns.
 */
export async function sealEnvelope(
  value: Secret,
  context: EncryptionContext,
  provider: KeyProvider,
  ctx: KeyProviderContext,
  options: { keyId?: string } = {},
): Promise<{ envelope: string } & KeyUse> {
  const plaintext = Buffer.from(value.reveal(), 'utf8');
  try {
    if (plaintext.length > MAX_PLAINTEXT_BYTES)
      throw new EnvelopeFormatError(ctx.field, `is ${plaintext.length} bytes; an envelope holds at most ${MAX_PLAINTEXT_BYTES}`, {
        reason: 'SECRET_TOO_LARGE',
        hint: 'Store large material (a key file) behind a secret reference instead.',
      });
    const dataKey = await callProvider(provider, ctx.field, () => provider.generateDataKey({ keyId: options.keyId, context }, ctx));
    const key = Buffer.from(dataKey.plaintext);
    try {
      if (key.length !== 32) throw new KeyProviderUnavailableError(ctx.field, provider.id, `it returned a data key of ${key.length} bytes, not 32`);
      const name = Buffer.from(provider.id, 'utf8');
      const id = Buffer.from(dataKey.keyId, 'utf8');
      const wrapped = Buffer.from(dataKey.wrapped);
      if (name.length < 1 || name.length > 64 || id.length < 1 || id.length > 2048 || wrapped.length < 1 || wrapped.length > 4096) {
        throw new KeyProviderUnavailableError(ctx.field, provider.id, 'its key id or wrapped key does not fit the envelope');
      }
      const nonce = randomBytes(NONCE_BYTES);
      const u16 = (v: number) => {
        const b = Buffer.alloc(2);
        b.writeUInt16BE(v);
        return b;
      };
      const u32 = Buffer.alloc(4);
      u32.writeUInt32BE(plaintext.length);
      const header = Buffer.concat([
        Buffer.from([FORMAT_V1, ALG_AES_256_GCM, name.length]),
        name,
        u16(id.length),
        id,
        u16(wrapped.length),
        wrapped,
        contextDigest(context),
        nonce,
        u32,
      ]);
      const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.concat([header, contextBytes(context)]));
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const bytes = Buffer.concat([header, ciphertext, cipher.getAuthTag()]);
      return { envelope: ENVELOPE_PREFIX + bytes.toString('base64url'), keyProvider: provider.id, keyId: dataKey.keyId };
    } finally {
      key.fill(0);
      if (dataKey.plaintext instanceof Uint8Array) dataKey.plaintext.fill(0);
    }
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Opens an envelope for a context: parses it, checks the context (PERMISSION_DENIED when the
 * envelope was made for another one), has its provider unwrap the data key, and authenticates
 * and decrypts the value. The value comes back as a Secret; the data key is zeroed.
 */
export async function openEnvelope(
  text: string,
  context: EncryptionContext,
  providers: KeyProviders,
  ctx: KeyProviderContext,
  label = 'encrypted',
): Promise<{ secret: Secret } & KeyUse> {
  const parsed = parseEnvelope(text, ctx.field);
  return openParsed(parsed, context, providers, ctx, label);
}

/** {@link openEnvelope} for an envelope already parsed. */
export async function openParsed(
  parsed: EnvelopeHeader,
  context: EncryptionContext,
  providers: KeyProviders,
  ctx: KeyProviderContext,
  label = 'encrypted',
): Promise<{ secret: Secret } & KeyUse> {
  const field = ctx.field;
  if (!contextDigest(context).equals(Buffer.from(parsed.contextDigest))) throw new EnvelopeContextError(field, context);
  const provider = providers.get(parsed.keyProvider);
  if (!provider) throw new KeyProviderMissingError(field, parsed.keyProvider, providers.names());
  const dataKey = Buffer.from(
    await callProvider(provider, field, () => provider.decryptDataKey({ keyId: parsed.keyId, wrapped: parsed.wrappedKey, context }, ctx)),
  );
  try {
    if (dataKey.length !== 32) throw new DataKeyInvalidError(field, parsed.keyProvider, parsed.keyId);
    const decipher = createDecipheriv('aes-256-gcm', dataKey, parsed.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.concat([parsed.header, contextBytes(context)]));
    decipher.setAuthTag(parsed.tag);
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
    } catch {
      throw new EnvelopeTamperedError(field, parsed.keyProvider, parsed.keyId);
    }
    let value: string;
    try {
      value = new TextDecoder('utf-8', { fatal: true }).decode(plain);
    } finally {
      plain.fill(0);
    }
    return { secret: new Secret(value, label), keyProvider: parsed.keyProvider, keyId: parsed.keyId };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Moves an envelope to its provider's current key (or `keyId`), for the same context, without
 * the value leaving this function: open, then seal with a fresh data key.
 */
export async function reencryptEnvelope(
  text: string,
  context: EncryptionContext,
  providers: KeyProviders,
  ctx: KeyProviderContext,
  options: { keyProvider?: string; keyId?: string } = {},
): Promise<{ envelope: string; from: KeyUse; to: KeyUse }> {
  const opened = await openEnvelope(text, context, providers, ctx);
  const name = options.keyProvider ?? opened.keyProvider;
  const provider = providers.get(name);
  if (!provider) throw new KeyProviderMissingError(ctx.field, name, providers.names());
  const sealed = await sealEnvelope(opened.secret, context, provider, ctx, { keyId: options.keyId });
  return {
    envelope: sealed.envelope,
    from: { keyProvider: opened.keyProvider, keyId: opened.keyId },
    to: { keyProvider: sealed.keyProvider, keyId: sealed.keyId },
  };
}
