import { InputError, NotAllowedError, SourcedError, UnavailableError, brandErrorClass } from '../errors';
import { KeyErrorReason } from './KeyProvider';

/*
 * The typed errors of envelope encryption. Each has a stable `reason`, a `hint` for the fix
 * (also in its metadata, so ErrorInfo carries it) and the request `field` it is about. None
 * ever holds a plaintext, a data key or an envelope's ciphertext. gRPC codes (the daemon's edge):
 * InputError → INVALID_ARGUMENT, NotAllowedError → PERMISSION_DENIED, UnavailableError →
 * UNAVAILABLE, any other SourcedError → FAILED_PRECONDITION.
 */

/** Stable reasons of the envelope's own errors (key errors: {@link KeyErrorReason}). */
export const EnvelopeErrorReason = {
  /** EnvelopeFormatError: INVALID_ARGUMENT, not a sourced envelope, cut short, trailing bytes, a length out of bounds, bad base64url. */
  MALFORMED: 'ENVELOPE_MALFORMED',
  /** EnvelopeFormatError: INVALID_ARGUMENT, a format version or algorithm this build does not know. */
  UNSUPPORTED: 'ENVELOPE_UNSUPPORTED',
  /** EnvelopeTamperedError: INVALID_ARGUMENT, the ciphertext, nonce, tag or header was altered (AES-GCM authentication failed). */
  TAMPERED: 'ENVELOPE_TAMPERED',
  /** EnvelopeContextError: PERMISSION_DENIED, the envelope was made for another data source or field. */
  CONTEXT_MISMATCH: 'ENVELOPE_CONTEXT_MISMATCH',
  /** KeyProviderMissingError: FAILED_PRECONDITION, the envelope names a key provider no loaded plugin provides. */
  PROVIDER_NOT_LOADED: 'ENCRYPTION_KEY_PROVIDER_NOT_LOADED',
} as const;

function meta(field: string, hint: string, extra: Record<string, string> = {}): Record<string, string> {
  return { field, hint, ...extra };
}

/** INVALID_ARGUMENT: the envelope's bytes are not a well-formed v1 envelope. */
export class EnvelopeFormatError extends InputError {
  /** What the caller can do about it, for people (also in the error's metadata as `hint`). */
  readonly hint: string;
  constructor(field: string, problem: string, options: { reason?: string; hint?: string } = {}) {
    const hint =
      options.hint ?? 'Pass the envelope exactly as EncryptSecret returned it (one line starting with sourced:enc:v1:); do not edit, trim or re-encode it.';
    const reason = options.reason ?? EnvelopeErrorReason.MALFORMED;
    super([{ field, description: problem }], { reason, metadata: meta(field, hint) });
    this.hint = hint;
  }
}
brandErrorClass(EnvelopeFormatError, 'EnvelopeFormatError');

/** INVALID_ARGUMENT: authentication of the value failed; someone or something changed the envelope. */
export class EnvelopeTamperedError extends InputError {
  /** What the caller can do about it, for people (also in the error's metadata as `hint`). */
  readonly hint = 'The envelope was altered after EncryptSecret made it; restore it from where the platform stored it, or encrypt the value again.';
  constructor(field: string, keyProvider: string, keyId: string) {
    super([{ field, description: 'the envelope does not authenticate: its ciphertext, nonce, tag or header was altered' }], {
      reason: EnvelopeErrorReason.TAMPERED,
      metadata: meta(field, 'The envelope was altered after EncryptSecret made it; restore it from where the platform stored it, or encrypt the value again.', {
        key_provider: keyProvider,
        key_id: keyId,
      }),
    });
  }
}
brandErrorClass(EnvelopeTamperedError, 'EnvelopeTamperedError');

/** INVALID_ARGUMENT: the wrapped data key does not open under the named key (altered, or made by another keyring with the same key id). */
export class DataKeyInvalidError extends InputError {
  /** What the caller can do about it, for people (also in the error's metadata as `hint`). */
  readonly hint: string;
  constructor(field: string, keyProvider: string, keyId: string) {
    const hint = `The envelope's wrapped data key does not open under ${keyProvider} key "${keyId}": it was altered, or made by another deployment's key of the same id. Use envelopes this deployment made, or encrypt the value again.`;
    super([{ field, description: `the wrapped data key does not open under ${keyProvider} key "${keyId}"` }], {
      reason: KeyErrorReason.UNWRAP_FAILED,
      metadata: meta(field, hint, { key_provider: keyProvider, key_id: keyId }),
    });
    this.hint = hint;
  }
}
brandErrorClass(DataKeyInvalidError, 'DataKeyInvalidError');

/** PERMISSION_DENIED: the envelope is bound to another data source or field. */
export class EnvelopeContextError extends NotAllowedError {
  /** What the caller can do about it, for people (also in the error's metadata as `hint`). */
  readonly hint: string;
  constructor(field: string, expected: { dataSourceId: string; field: string }) {
    const hint = `An envelope opens only for the data source id and field it was encrypted for. Encrypt the value with EncryptSecret for data source "${expected.dataSourceId}" and field "${expected.field}".`;
    super(
      EnvelopeErrorReason.CONTEXT_MISMATCH,
      `${field}: the envelope was encrypted for another data source or field, not for data source "${expected.dataSourceId}" field "${expected.field}"`,
      {
        metadata: meta(field, hint, { data_source_id: expected.dataSourceId, context_field: expected.field }),
      },
    );
    this.hint = hint;
  }
}
brandErrorClass(EnvelopeContextError, 'EnvelopeContextError');

/** FAILED_PRECONDITION: the key, or the key provider, cannot be used as it is configured now. */
export class KeyUnusableError extends SourcedError {
  /** What the caller can do about it, for people (also in the error's metadata as `hint`). */
  readonly hint: string;
  constructor(reason: string, message: string, hint: string, metadata: Record<string, string>) {
    super(reason, message, { metadata: { ...metadata, hint } });
    this.hint = hint;
  }
}
brandErrorClass(KeyUnusableError, 'KeyUnusableError');

/** FAILED_PRECONDITION: the envelope's key id is unknown to its provider (retired, or never in this keyring). */
export class KeyNotFoundError extends KeyUnusableError {
  /** `hint` replaces the keyring advice, for providers whose keys are not in a keyring (a cloud key service). */
  constructor(field: string, keyProvider: string, keyId: string, known: readonly string[] = [], hint?: string) {
    super(
      KeyErrorReason.KEY_NOT_FOUND,
      `${field}: ${keyProvider} has no key "${keyId}"${known.length ? ` (it has ${known.join(', ')})` : ''}`,
      hint ??
        `The key was retired or belongs to another deployment. Put key "${keyId}" back into the ${keyProvider} keyring until every envelope under it has been moved with ReencryptSecret, or encrypt the value again.`,
      { field, key_provider: keyProvider, key_id: keyId },
    );
  }
}
brandErrorClass(KeyNotFoundError, 'KeyNotFoundError');

/** FAILED_PRECONDITION: the key exists but is disabled. */
export class KeyDisabledError extends KeyUnusableError {
  constructor(field: string, keyProvider: string, keyId: string) {
    super(
      KeyErrorReason.KEY_DISABLED,
      `${field}: ${keyProvider} key "${keyId}" is disabled`,
      `Enable key "${keyId}" again to read envelopes under it (then move them with ReencryptSecret), or encrypt the value again under the current key.`,
      { field, key_provider: keyProvider, key_id: keyId },
    );
  }
}
brandErrorClass(KeyDisabledError, 'KeyDisabledError');

/** FAILED_PRECONDITION: no such key provider is loaded, or it has no key configured. */
export class KeyProviderMissingError extends KeyUnusableError {
  constructor(field: string, keyProvider: string, loaded: readonly string[], notConfigured = false) {
    super(
      notConfigured ? KeyErrorReason.NOT_CONFIGURED : EnvelopeErrorReason.PROVIDER_NOT_LOADED,
      notConfigured
        ? `${field}: the ${keyProvider} key provider has no keys configured`
        : `${field}: no loaded plugin provides the key provider "${keyProvider}" (loaded: ${loaded.join(', ') || 'none'})`,
      notConfigured
        ? 'Give the daemon a keyring: SOURCED_ENCRYPTION_KEYRING_FILE (a file) or SOURCED_ENCRYPTION_KEYRING (JSON); see docs/encryption.md.'
        : `Load the plugin that provides "${keyProvider}" (for example @sourced/plugin-aws for aws-kms) in the daemon's plugins.`,
      { field, key_provider: keyProvider },
    );
  }
}
brandErrorClass(KeyProviderMissingError, 'KeyProviderMissingError');

/** PERMISSION_DENIED: the provider refused the daemon's identity the key. */
export class KeyAccessDeniedError extends NotAllowedError {
  /** What the caller can do about it, for people (also in the error's metadata as `hint`). */
  readonly hint: string;
  /** `hint` replaces the default advice (which names the AWS KMS permissions) with the provider's own. */
  constructor(field: string, keyProvider: string, keyId: string, detail = 'access denied', hint?: string) {
    hint ??= `Grant the daemon's identity use of ${keyProvider} key "${keyId}" (for AWS KMS kms:GenerateDataKey and kms:Decrypt).`;
    super(KeyErrorReason.ACCESS_DENIED, `${field}: ${keyProvider} refused key "${keyId}": ${detail}`, {
      metadata: meta(field, hint, { key_provider: keyProvider, key_id: keyId }),
    });
    this.hint = hint;
  }
}
brandErrorClass(KeyAccessDeniedError, 'KeyAccessDeniedError');

/** UNAVAILABLE: the key provider could not be reached or failed on its side; try again later. */
export class KeyProviderUnavailableError extends UnavailableError {
  /** What the caller can do about it, for people (also in the error's metadata as `hint`). */
  readonly hint: string;
  constructor(field: string, keyProvider: string, detail: string, options: { cause?: unknown } = {}) {
    const hint = `The ${keyProvider} key provider did not answer; try again later, and check the daemon's network path to it.`;
    super(KeyErrorReason.UNAVAILABLE, `${field}: the ${keyProvider} key provider is unavailable: ${detail}`, {
      cause: options.cause,
      metadata: meta(field, hint, { key_provider: keyProvider }),
    });
    this.hint = hint;
  }
}
brandErrorClass(KeyProviderUnavailableError, 'KeyProviderUnavailableError');
