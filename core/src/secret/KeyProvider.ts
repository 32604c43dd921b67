import type { Logger } from '../logging/Logger';

/**
 * What an envelope is bound to: the data source and the field of its description the value
 * belongs to. Both are authenticated with the ciphertext (and given to the key provider as its
 * encryption context), so an envelope moved to another data source or another field does not
 * open. Neither is secret.
 */
export interface EncryptionContext {
  /** The caller's id of the data source (`DataSource.id`); must not be empty. */
  readonly dataSourceId: string;
  /** The field path in the data source, without `data_source.`: `credentials.password`, `ssl_config.key`. */
  readonly field: string;
}

/** What a key provider receives with each call. */
export interface KeyProviderContext {
  /** Fires when the caller gives up or the provider's time limit passes; pass it to the SDK. */
  readonly signal: AbortSignal;
  /** A logger for the provider. Never log a data key or a plaintext. */
  readonly logger: Logger;
  /** The request path of the value (`data_source.credentials.password.encrypted`), for the errors the provider raises. */
  readonly field: string;
}

/** A fresh data key: its plaintext (used once, then zeroed by the caller) and the same key wrapped by a key-encryption key. */
export interface GeneratedDataKey {
  /** The key-encryption key's id as the provider will need it to unwrap (for AWS KMS the key ARN; for `local` the keyring id). */
  readonly keyId: string;
  /** 32 random bytes (AES-256). */
  readonly plaintext: Uint8Array;
  /** The data key wrapped under `keyId`, bound to the context; opaque to sourced. */
  readonly wrapped: Uint8Array;
}

/**
 * Stable reasons of the errors key providers raise (see envelopeErrors.ts for the classes;
 * the daemon maps them to gRPC codes).
 */
export const KeyErrorReason = {
  /** KeyNotFoundError: FAILED_PRECONDITION, the key id is not known to the provider (never existed, or retired). */
  KEY_NOT_FOUND: 'ENCRYPTION_KEY_NOT_FOUND',
  /** KeyDisabledError: FAILED_PRECONDITION, the key exists but is disabled (or pending deletion). */
  KEY_DISABLED: 'ENCRYPTION_KEY_DISABLED',
  /** KeyProviderMissingError: FAILED_PRECONDITION, the provider has no key to encrypt with (no keyring configured). */
  NOT_CONFIGURED: 'ENCRYPTION_KEY_PROVIDER_NOT_CONFIGURED',
  /** DataKeyInvalidError: INVALID_ARGUMENT, the wrapped data key does not open under the key (altered, or wrapped by another keyring). */
  UNWRAP_FAILED: 'ENVELOPE_DATA_KEY_INVALID',
  /** KeyAccessDeniedError: PERMISSION_DENIED, the provider refused the daemon's identity the key. */
  ACCESS_DENIED: 'ENCRYPTION_KEY_ACCESS_DENIED',
  /** KeyProviderUnavailableError: UNAVAILABLE, the provider could not be reached or failed on its side. */
  UNAVAILABLE: 'ENCRYPTION_KEY_PROVIDER_UNAVAILABLE',
} as const;

/**
 * Wraps and unwraps data keys for envelope encryption (`use_encryption`). Registered by a
 * plugin through `registrar.registerKeyProvider`, like a secret provider. The envelope itself
 * (AES-256-GCM over the value, the context as additional data) is sourced's; a key provider
 * only protects the 256-bit data key of each value, bound to the same context.
 *
 * A provider must never put a data key, a plaintext or a credential into an error message or
 * a log line; raise the errors of {@link KeyErrorReason}.
 */
export interface KeyProvider {
  /** Kebab-case name, written into every envelope it wraps: `local`, `aws-kms`, `azure-kv-keys`. At most 64 bytes. */
  readonly id: string;
  /** One-line description for `ListPlugins`. */
  readonly description?: string;
  /** A fresh data key wrapped under `keyId`, or under the provider's current key when absent. */
  generateDataKey(request: { keyId?: string; context: EncryptionContext }, ctx: KeyProviderContext): Promise<GeneratedDataKey>;
  /** The plaintext data key of `wrapped`, which `generateDataKey` made under `keyId` for the same context. */
  decryptDataKey(request: { keyId: string; wrapped: Uint8Array; context: EncryptionContext }, ctx: KeyProviderContext): Promise<Uint8Array>;
  /** The id new envelopes are wrapped under (for rotation: an envelope under another id is moved by ReencryptSecret). */
  currentKeyId?(): string | undefined;
}
