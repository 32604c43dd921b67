import { abortedErrorFrom, NotAllowedError, NotFoundError, SecretErrorReason, SourcedError, UnavailableError } from '@sourced/core';

const CREDENTIAL_ERRORS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignatureException',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'MissingAuthenticationTokenException',
  'MissingAuthenticationToken',
  'AuthFailure',
  'InvalidAccessKeyId',
  'InvalidToken',
]);
const THROTTLING_ERRORS = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'LimitExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
]);
const SERVER_ERRORS = new Set(['InternalServiceError', 'InternalFailure', 'InternalError', 'ServiceUnavailable', 'ServiceUnavailableException']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'EPROTO',
  'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

/** What the mapping needs to know about the look-up. */
export interface FailedLookup {
  /** `secret prod/db (version stage AWSCURRENT) in eu-west-1`. */
  what: string;
  /** Where the call went, for unreachable messages: the endpoint override or `the eu-west-1 endpoint`. */
  where: string;
  /** Values to remove from provider text (the keys used). */
  known: readonly string[];
  signal: AbortSignal;
}

interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/**
 * Maps an SDK error to the provider's stable reasons (SecretErrorReason). Messages name the
 * secret and what to do, never a value; the service's own text is kept only after
 * {@link scrubAwsText}, and the SDK error is not kept as `cause` (it holds the raw response).
 */
export function toSecretError(error: unknown, lookup: FailedLookup): Error {
  if (lookup.signal.aborted) return abortedErrorFrom(lookup.signal);
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as AwsErrorShape;
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const text = scrubAwsText(e.message ?? '', lookup.known);
  const said = text ? `: ${text}` : '';
  const { what } = lookup;

  if (name === 'ResourceNotFoundException') return new NotFoundError(SecretErrorReason.NOT_FOUND, `AWS Secrets Manager has no ${what}`);
  if (name === 'InvalidRequestException' && /deletion/i.test(text)) {
    return new NotFoundError(SecretErrorReason.NOT_FOUND, `AWS Secrets Manager ${what} is scheduled for deletion (restore it with RestoreSecret to read it)`);
  }
  if (name === 'InvalidRequestException' || name === 'InvalidParameterException' || name === 'ValidationException') {
    return new NotFoundError(SecretErrorReason.NOT_FOUND, `AWS Secrets Manager cannot read ${what} (${name})${said}`);
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied') {
    return new NotAllowedError(
      SecretErrorReason.ACCESS_DENIED,
      `AWS Secrets Manager refused access to ${what}${said}; allow secretsmanager:GetSecretValue on it for the identity the daemon uses`,
    );
  }
  if (name === 'DecryptionFailure') {
    return new NotAllowedError(
      SecretErrorReason.ACCESS_DENIED,
      `AWS Secrets Manager cannot decrypt ${what} with its KMS key${said}; allow kms:Decrypt on the secret's KMS key for the identity the daemon uses`,
    );
  }
  if (name === 'CredentialsProviderError' || name === 'TokenProviderError') {
    return new NotAllowedError(
      SecretErrorReason.INVALID_CREDENTIALS,
      `no AWS credentials to read ${what}${said}; give cloud_config.aws_access_key_id and aws_secret_access_key, or give the daemon credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE, web identity, a container or instance role)`,
    );
  }
  if (CREDENTIAL_ERRORS.has(name)) {
    return new NotAllowedError(SecretErrorReason.INVALID_CREDENTIALS, `AWS did not accept the credentials used to read ${what} (${name})${said}`);
  }
  if (THROTTLING_ERRORS.has(name) || status === 429) {
    return new UnavailableError(SecretErrorReason.THROTTLED, `AWS Secrets Manager throttled the request for ${what} (${name})`);
  }
  if (SERVER_ERRORS.has(name) || e.$fault === 'server' || (status !== undefined && status >= 500)) {
    return new UnavailableError(
      SecretErrorReason.UNREACHABLE,
      `AWS Secrets Manager failed on its side reading ${what} (${name}${status ? `, HTTP ${status}` : ''})`,
    );
  }
  if (status === undefined && (NETWORK_CODES.has(e.code ?? '') || name === 'TimeoutError' || name === 'NetworkingError' || name === 'AbortError')) {
    return new UnavailableError(SecretErrorReason.UNREACHABLE, `could not reach AWS Secrets Manager at ${lookup.where} to read ${what} (${e.code ?? name})`);
  }
  if (error instanceof SourcedError) return error;
  return new UnavailableError(SecretErrorReason.UNREACHABLE, `AWS Secrets Manager failed reading ${what} (${name}${status ? `, HTTP ${status}` : ''})${said}`);
}

/**
 * Provider text as it may reach a message: the first paragraph only (AWS appends the canonical
 * request, signed headers and session token included, to signature errors), without request
 * ids, signatures, access key ids, long tokens or any known value, and at most 300 characters.
 */
export function scrubAwsText(text: string, known: readonly string[] = []): string {
  let out = text.split(/\r?\n\s*\r?\n|The Canonical String|The String-to-Sign/)[0];
  for (const value of known) if (value.length >= 4) out = out.split(value).join('[REDACTED]');
  out = out
    .replace(/\b(?:x-amzn?-request-?id|x-amz-id-2|(?:extended )?request[ -]?id|host[ -]?id)(?:\s*[:=]\s*|\s+)[\w/+=-]{8,};?/gi, '')
    .replace(/x-amz-security-token\s*[:=]\s*\S+/gi, 'x-amz-security-token:[REDACTED]')
    .replace(/\bSignature\s*=\s*[0-9a-f]+/gi, 'Signature=[REDACTED]')
    .replace(/\b[0-9a-f]{64}\b/gi, '[REDACTED]')
    .replace(/\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/g, '[ACCESS_KEY_ID]')
    .replace(/[A-Za-z0-9/+=]{100,}/g, '[REDACTED]')
    .replace(/\(\s*\)/g, '')
    .replace(/\s+/g, ' ')
    .replace(/\( /g, '(')
    .replace(/[\s;,.]+$/, '')
    .trim();
  return out.length > 300 ? `${out.slice(0, 297)}...` : out;
}
