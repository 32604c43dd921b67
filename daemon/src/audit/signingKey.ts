import { parseSecretReference, SecretChain, type DataSource, type Logger, type SecretProvider } from '@sourced/core';

/** Shortest signing key accepted, in bytes: an HMAC-SHA256 key should hold at least 128 bits. */
export const MIN_SIGNING_KEY_BYTES = 16;

/** The signing key cannot be had; the message names the reference and why, never a value. */
export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

/**
 * Resolves the audit signing key (`audit.signingKey`, a secret reference such as
 * `env://SOURCED_AUDIT_KEY`, `file:///run/secrets/audit-key` or `aws-sm://…`) through a secret
 * chain of the loaded providers whose policy allows exactly that reference: it is the
 * operator's setting, not a caller's, so the callers' policy (`secrets.allowedReferences`) does
 * not apply. The key is the value's UTF-8 bytes, at least {@link MIN_SIGNING_KEY_BYTES} long.
 */
export async function resolveSigningKey(reference: string, providers: readonly SecretProvider[], logger: Logger, timeoutMs = 10_000): Promise<Buffer> {
  if (!parseSecretReference(reference)) throw new SigningKeyError(`audit.signingKey: "${reference}" is not a secret reference (scheme://...)`);
  const chain = new SecretChain({
    providers,
    policy: { allowedReferences: [reference], dynamicStrategies: false },
    order: ['reference'],
    cacheTtlMs: 0,
    providerTimeoutMs: timeoutMs,
    logger,
  });
  // The chain resolves for a data source; this one is empty (nothing to fall back on).
  const source: DataSource = {
    id: '',
    name: 'audit log',
    type: 'audit',
    location: 'ON_PREM',
    primary: { host: '' },
    ssl: { mode: 'disable' },
    cloud: { useIamAuth: false, useManagedIdentity: false },
    connectionProperties: {},
    additionalProperties: {},
  };
  let value: string;
  try {
    const secret = await chain.resolveInput({ kind: 'reference', reference, field: 'audit.signingKey' }, source, AbortSignal.timeout(timeoutMs + 1_000));
    value = secret.reveal();
  } catch (error) {
    throw new SigningKeyError(`audit.signingKey: ${reference} could not be resolved (${(error as Error).message})`);
  }
  const key = Buffer.from(value, 'utf8');
  if (key.length < MIN_SIGNING_KEY_BYTES)
    throw new SigningKeyError(`audit.signingKey: the value of ${reference} is shorter than ${MIN_SIGNING_KEY_BYTES} bytes`);
  return key;
}
