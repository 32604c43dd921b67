import type { DataSource, SecretInput } from '../datasource/DataSource';
import type { Logger } from '../logging/Logger';
import type { Secret } from './Secret';

/** A parsed secret reference: `scheme://target#fragment`. */
export interface SecretReference {
  /** The reference as written, without the fragment. Safe to log: it names, never holds, a value. */
  readonly uri: string;
  /** Lower-case scheme, for example `env`, `file`, `aws-sm`. */
  readonly scheme: string;
  /** Everything between `scheme://` and `#`. */
  readonly target: string;
  /** The JSON path after `#`, if any, for picking a field from a JSON secret. */
  readonly fragment?: string;
}

/** What a provider receives with each look-up. */
export interface SecretProviderContext {
  /** Fires when the caller gives up or the provider's time limit passes; pass it to the SDK. */
  readonly signal: AbortSignal;
  /** The data source the secret is for (its cloud settings may carry provider credentials). */
  readonly source?: DataSource;
  /**
   * Resolves another secret through the chain, for example the provider's own credentials
   * (`cloud_config.aws_secret_access_key`, itself a reference). A provider must not use it to
   * resolve a reference of its own scheme for the same value (the chain refuses cycles).
   */
  resolveSecret(input: SecretInput, label: string): Promise<Secret>;
  /**
   * Whether the daemon's secret policy and the caller's grants allow a reference (without
   * its fragment). The chain checked the reference the provider was given; a provider that
   * follows an indirection (a file's links) checks where it ends up. Absent: allow nothing
   * beyond the reference given.
   */
  permits?(reference: string): boolean;
  /** A logger for the provider. Never log a secret value. */
  readonly logger: Logger;
}

/**
 * Stable reasons of the errors providers raise; the chain reports them per link and the
 * daemon maps them (NotFoundError → NOT_FOUND, NotAllowedError → PERMISSION_DENIED,
 * UnavailableError → UNAVAILABLE).
 */
export const SecretErrorReason = {
  /** NotFoundError: the secret, version, stage or JSON field does not exist. */
  NOT_FOUND: 'SECRET_NOT_FOUND',
  /** NotAllowedError: the provider refused the identity access to the secret. */
  ACCESS_DENIED: 'SECRET_ACCESS_DENIED',
  /** NotAllowedError: the provider did not accept the credentials (bad key, bad signature, expired token). */
  INVALID_CREDENTIALS: 'SECRET_PROVIDER_CREDENTIALS_INVALID',
  /** UnavailableError: the provider throttled the request (the chain retries with back-off). */
  THROTTLED: 'SECRET_PROVIDER_THROTTLED',
  /** UnavailableError: the provider could not be reached or failed on its side. */
  UNREACHABLE: 'SECRET_PROVIDER_UNREACHABLE',
} as const;

/**
 * Resolves secret references of one or more schemes. Registered by a plugin through
 * `registrar.registerSecretProvider`. Providers return the raw value; the chain applies
 * the `#json.path` fragment, caching, time limits, policy and tracing.
 *
 * A provider must never put a secret value into an error message.
 */
export interface SecretProvider {
  /** Kebab-case id, for example `env`, `aws-secrets-manager`. */
  readonly id: string;
  /** Schemes it resolves, for example `['env']`. A scheme has one provider. */
  readonly schemes: readonly string[];
  /** One-line description for `ListPlugins`. */
  readonly description?: string;
  /**
   * Fetches the value a reference names. Raise the errors of {@link SecretErrorReason};
   * their messages must hold no secret, request id or credential fragment.
   */
  resolve(reference: SecretReference, context: SecretProviderContext): Promise<string | Uint8Array>;
  /**
   * Who fetches: the identity the provider will use for this look-up (for example an AWS
   * access key id, a tenant and client id, or `default-chain`). The cache is keyed by
   * reference and identity, so two callers with different credentials never share a value.
   * Never return a secret. Defaults to the same identity for every look-up.
   */
  identity?(reference: SecretReference, context: SecretProviderContext): Promise<string> | string;
}

/**
 * Parses `scheme://target[?query]#fragment`; undefined when the text is not a reference. A
 * query written after the fragment (`aws-sm://db#password?versionStage=AWSPREVIOUS`, the order
 * the providers' documentation uses) is moved into the target, so that `uri` names the exact
 * version and the fragment is only the JSON path.
 */
export function parseSecretReference(text: string): SecretReference | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^#]*)(?:#(.*))?$/i.exec(text.trim());
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  let target = m[2];
  // `at`: the fragment's group did not match when there is no `#` (an index access would not type it as undefined).
  const given = m.at(3);
  let fragment = given === undefined || given === '' ? undefined : given;
  const q = fragment?.indexOf('?') ?? -1;
  if (fragment !== undefined && q >= 0) {
    target = `${target}${target.includes('?') ? '&' : '?'}${fragment.slice(q + 1)}`;
    fragment = fragment.slice(0, q) || undefined;
  }
  return { uri: `${scheme}://${target}`, scheme, target, fragment };
}
