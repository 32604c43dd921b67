import type { Meter, Tracer } from '@opentelemetry/api';
import type { DataSource, SecretInput } from '../datasource/DataSource';
import { SourcedError, brandErrorClass } from '../errors';
import type { Logger } from '../logging/Logger';
import type { Secret } from './Secret';
import type { KeyProvider } from './KeyProvider';
import type { SecretProvider } from './SecretProvider';

/* The public shapes of the secret chain (SecretChain.ts), apart so the chain itself stays readable. */

/** The links of the chain, in the order they are tried by default. */
export type ChainLink = 'reference' | 'connection_properties' | 'additional_properties' | 'dynamic';

/** The default order of the links. */
export const DEFAULT_CHAIN_ORDER: readonly ChainLink[] = ['reference', 'connection_properties', 'additional_properties', 'dynamic'];

/** Which references a request may use, so a caller can never make the daemon read its own credentials. */
export interface SecretPolicy {
  /**
   * Glob patterns over a reference without its fragment (`env://SOURCED_SECRET_*`,
   * `file:///run/secrets/*`, `aws-sm://*`). A reference that matches none is refused, the
   * dynamic `env://SOURCED_SECRET_<ID>_<LABEL>` variables included. A `file://` reference must
   * match by its normalised name and again by its real path (links followed); the `file://`
   * patterns are also the files TLS settings may name by path. /proc, /sys and /dev never match.
   */
  allowedReferences: string[];
  /** Whether the dynamic strategies (environment variables by name pattern) run, each under `allowedReferences`. */
  dynamicStrategies: boolean;
}

/** Defaults: only `SOURCED_SECRET_*` variables, no files, any cloud secret. */
export const DEFAULT_SECRET_POLICY: SecretPolicy = {
  allowedReferences: ['env://SOURCED_SECRET_*', 'aws-sm://*', 'azure-kv://*'],
  dynamicStrategies: true,
};

export interface SecretChainOptions {
  providers: readonly SecretProvider[];
  policy?: SecretPolicy;
  /** The order of the links; a link left out is not tried. Default {@link DEFAULT_CHAIN_ORDER}. */
  order?: readonly ChainLink[];
  /**
   * How long a resolved reference is reused. Default 5 minutes; 0 turns the cache off (every
   * look-up calls the provider; concurrent ones still share one call).
   */
  cacheTtlMs?: number;
  /** Most cached references; beyond it the least recently used goes. Default 1000. */
  cacheMaxEntries?: number;
  /**
   * When a provider is unavailable (an UnavailableError: unreachable, throttled past its
   * attempts, timed out), serve a value fetched at most this long ago (even past its TTL),
   * marked stale. Default 0: off.
   */
  staleIfErrorMs?: number;
  /** Time limit of each provider call. Default 10 s. */
  providerTimeoutMs?: number;
  /** Attempts of a throttled provider call, with exponential back-off from 100 ms. Default 3. */
  throttleAttempts?: number;
  tracer?: Tracer;
  logger?: Logger;
  /** Where `sourced.secret.cache` (hit, miss, stale per look-up of a reference) is recorded; no-op by default. */
  meter?: Meter;
  /** The key providers of envelope encryption (`SecretValue.encrypted`), by their id. */
  keyProviders?: readonly KeyProvider[];
  /** The key provider EncryptSecret uses when the request names none. Default `local`. */
  defaultKeyProvider?: string;
}

/** What to resolve: the caller's input, and the property names to fall back on. */
export interface SecretRequest {
  /** What the caller gave for this secret, if anything. */
  input?: SecretInput;
  /** Property names searched in connection_properties, then additional_properties. */
  propertyKeys: readonly string[];
  /** What it is, for messages and the dynamic strategy: `password`, `ssl_key`. */
  label: string;
  /** The request path reported in errors. */
  field: string;
  /** The data source the secret belongs to: its properties are searched, its id names the dynamic variable. */
  source: DataSource;
  /**
   * Whether the chain may fall back to the properties and the dynamic variable when the input
   * gives nothing. Default true; false for a file named by a setting (a TLS path).
   */
  fallbacks?: boolean;
}

/**
 * Whether the caller of one call may use a reference (without its fragment): its RBAC
 * grants. The chain's own policy applies on top.
 */
export type SecretGrant = (reference: string) => boolean;

/** Every reference allowed: a host without callers to tell apart (authentication off). */
export const GRANT_ALL: SecretGrant = () => true;

/** A reference a call may try, with the request field that names it. */
export interface PlannedReference {
  /** The reference without its fragment, for example `env://SOURCED_SECRET_ORDERS_PASSWORD`. */
  reference: string;
  /** The request path that names it (`data_source.id` for a dynamic variable). */
  field: string;
}

/**
 * What a call's secrets will touch, worked out before anything is tried (see
 * {@link SecretChain.checkPolicy}). `required` are the references the call will use or the
 * caller wrote: each must be granted, or the call is refused. `fallbacks` are references the
 * daemon derived (the dynamic variables) that are tried only after an earlier link gave
 * nothing: one the caller is not granted is left out, never tried.
 */
export interface SecretAccess {
  required: PlannedReference[];
  fallbacks: PlannedReference[];
  /**
   * The keys the call's envelopes name (`SecretValue.encrypted`, or a property whose value is
   * an envelope), read from their headers before anything is opened: each must be granted
   * (a role's `keys`). An envelope that does not parse is left out here and fails when the
   * chain opens it.
   */
  keys?: PlannedKey[];
}

/** A key an envelope of the call names. */
export interface PlannedKey {
  /** `<key provider>:<key id>`, for example `local:2026-12`: what a role's `keys` globs match. */
  key: string;
  /** The request path of the envelope. */
  field: string;
}

/**
 * Whether the caller of one call may use a key, named `<key provider>:<key id>` (its RBAC
 * grants); absent: every key.
 */
export type KeyGrant = (key: string) => boolean;

/** One use of a key by the chain: for the audit log and spans. Never a value, data key or envelope. */
export interface KeyUseRecord {
  operation: 'encrypt' | 'decrypt' | 'reencrypt';
  /** The key provider, or `unknown` when the envelope did not parse. */
  keyProvider: string;
  /** The key id, or `unknown` when the envelope did not parse. */
  keyId: string;
  /** `OK`, or the reason of the error. */
  outcome: string;
}

/** What one call adds to the chain for envelopes: its key grants, and where key uses are recorded. */
export interface CallKeyOptions {
  keys?: KeyGrant;
  onKeyUse?: (use: KeyUseRecord) => void;
}

/** The secret chain as one call sees it: every link also passes the caller's grants. */
export interface CallSecrets {
  /** {@link SecretChain.resolve} under the call's grants. */
  resolve(request: SecretRequest, signal: AbortSignal): Promise<ResolvedSecret>;
  /** {@link SecretChain.resolveInput} under the call's grants. */
  resolveInput(input: SecretInput, source: DataSource, signal: AbortSignal): Promise<Secret>;
}

/** A resolved secret with where it came from. */
export interface ResolvedSecret {
  /** The value, held so it prints as `[REDACTED]`. */
  secret: Secret;
  /** The link that supplied it, for example `env://SOURCED_SECRET_PG`, `connection_properties.password`. */
  link: string;
  /** How long resolving took, in milliseconds (about 0 when cached). */
  durationMs: number;
  /** Whether the value came from the chain's cache. */
  cached: boolean;
  /** Served from the cache past its TTL because the provider was unavailable. */
  stale?: boolean;
}

/** One link the chain tried, and why it gave nothing. */
export interface ChainAttempt {
  /** The link tried: `reference`, `connection_properties.password`, `env://SOURCED_SECRET_ORDERS_PASSWORD`. */
  link: string;
  /** What happened there, for people: `not set`, `not found`, `access denied`. */
  outcome: string;
  /** The provider error's reason, when there was one. */
  reason?: string;
}

/** The chain found no value. Lists every link it tried and why; never a value. */
export class SecretResolutionError extends SourcedError {
  /** Every link tried, in order, with why it gave nothing. */
  readonly attempts: ChainAttempt[];
  /** The request path of the secret, for example `data_source.credentials.password`. */
  readonly field: string;
  constructor(field: string, label: string, attempts: ChainAttempt[]) {
    const tried = attempts.length === 0 ? 'nothing to try' : attempts.map((a) => `${a.link}: ${a.outcome}`).join('; ');
    super('SECRET_NOT_RESOLVED', `could not resolve ${label} (${field}); tried ${tried}`, { metadata: { field } });
    this.attempts = attempts;
    this.field = field;
  }
}
brandErrorClass(SecretResolutionError, 'SecretResolutionError');
