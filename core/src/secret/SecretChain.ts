import type { Tracer } from '@opentelemetry/api';
import type { DataSource, SecretInput } from '../datasource/DataSource';
import { describeError, InputError, NotAllowedError, SourcedError, throwIfAborted } from '../errors';
import { noopLogger, type Logger } from '../logging/Logger';
import { sourcedInstruments, type SourcedInstruments } from '../telemetry/metrics';
import { withSpan } from '../telemetry/withSpan';
import { chainLinks } from './chainLinks';
import {
  DEFAULT_CHAIN_ORDER,
  DEFAULT_SECRET_POLICY,
  GRANT_ALL,
  SecretResolutionError,
  type CallKeyOptions,
  type CallSecrets,
  type ChainAttempt,
  type ChainLink,
  type ResolvedSecret,
  type SecretAccess,
  type SecretChainOptions,
  type SecretGrant,
  type SecretPolicy,
  type SecretRequest,
} from './chainTypes';
import { EnvelopeKeys } from './EnvelopeKeys';
import { pickJsonPath } from './jsonPath';
import { ReferencePolicy } from './ReferencePolicy';
import { Secret } from './Secret';
import { SecretCache } from './SecretCache';
import { parseSecretReference, type SecretProvider, type SecretProviderContext, type SecretReference } from './SecretProvider';

export * from './chainTypes';
export { bindingField } from './EnvelopeKeys';
export { dynamicVariable } from './chainLinks';

/**
 * Resolves secrets through an ordered chain (the order is configurable; by default):
 * 1. `reference`: an explicit reference goes to the provider registered for its scheme; an
 *    inline value is used as it is;
 * 2. `connection_properties`, then 3. `additional_properties`: the request's property names
 *    (a property that holds a reference is resolved like one);
 * 4. `dynamic`: the environment variable `SOURCED_SECRET_<ID>_<LABEL>` for a data source with
 *    an id, unless the policy switches it off.
 * Every reference must pass the policy before any provider runs. Resolved references are
 * cached ({@link SecretCache}: a TTL, stale-if-error, one provider call for concurrent look-ups,
 * cancelled only when all of its callers cancel), keyed by reference and by the identity the
 * provider fetches with; each call has a time limit and throttled calls are retried with
 * back-off. On failure the error lists every link tried, never a value.
 */
export class SecretChain {
  private readonly providers = new Map<string, SecretProvider>();
  private readonly cache: SecretCache;
  private readonly policy: SecretPolicy;
  private readonly order: readonly ChainLink[];
  private readonly tracer?: Tracer;
  private readonly logger: Logger;
  private readonly instruments: SourcedInstruments;
  private readonly keys: EnvelopeKeys;
  private readonly references: ReferencePolicy;

  constructor(options: SecretChainOptions) {
    for (const provider of options.providers) {
      for (const scheme of provider.schemes) {
        const existing = this.providers.get(scheme);
        if (existing) {
          throw new Error(`secret scheme "${scheme}" is registered by both "${existing.id}" and "${provider.id}"`);
        }
        this.providers.set(scheme, provider);
      }
    }
    this.policy = options.policy ?? DEFAULT_SECRET_POLICY;
    this.order = options.order ?? DEFAULT_CHAIN_ORDER;
    this.references = new ReferencePolicy(this.policy, this.order, (scheme) => this.providers.has(scheme));
    this.cache = new SecretCache({
      ttlMs: options.cacheTtlMs ?? 5 * 60_000,
      staleIfErrorMs: options.staleIfErrorMs ?? 0,
      maxEntries: options.cacheMaxEntries ?? 1000,
      providerTimeoutMs: options.providerTimeoutMs ?? 10_000,
      throttleAttempts: Math.max(1, options.throttleAttempts ?? 3),
    });
    this.tracer = options.tracer;
    this.logger = options.logger ?? noopLogger;
    this.instruments = sourcedInstruments(options.meter);
    this.keys = new EnvelopeKeys(
      options.keyProviders ?? [],
      options.defaultKeyProvider ?? 'local',
      options.providerTimeoutMs ?? 10_000,
      this.logger,
      this.tracer,
    );
  }

  /** The schemes that have a provider. */
  schemes(): string[] {
    return [...this.providers.keys()].sort();
  }

  /**
   * Works out, before anything is resolved or any connection opened, every reference a call
   * for this data source could try, and checks each against the policy: the references the
   * caller wrote (credentials, TLS key, cloud keys, TLS settings and property values that are
   * references), the files its TLS settings name, and the dynamic variables its id names for
   * each credential the connector resolves. A refused reference the caller wrote, or a refused
   * dynamic variable that is the only way to a credential, throws (NotAllowedError naming the
   * field; InputError for a `file://` reference that is not a normalised absolute path; the
   * one {@link fileSettingRefused} error for a TLS path). A refused dynamic variable that is
   * only a fallback is left out. Returns what RBAC must grant: see {@link SecretAccess}.
   */
  checkPolicy(source: DataSource): SecretAccess {
    return this.references.plan(source);
  }

  /** This chain under one call's grants; the daemon hands it to the call's connector and token providers. */
  forCall(grant: SecretGrant, keys: CallKeyOptions = {}): CallSecrets {
    return {
      resolve: (request, signal) => this.resolve(request, signal, grant, keys),
      resolveInput: (input, source, signal) => this.resolveInput(input, source, signal, grant, keys),
    };
  }

  /** The key providers loaded, by id. */
  keyProviderIds(): string[] {
    return this.keys.ids();
  }

  /** EncryptSecret: see {@link EnvelopeKeys.encrypt}. */
  encrypt(...args: Parameters<EnvelopeKeys['encrypt']>): ReturnType<EnvelopeKeys['encrypt']> {
    return this.keys.encrypt(...args);
  }

  /** ReencryptSecret: see {@link EnvelopeKeys.reencrypt}. */
  reencrypt(...args: Parameters<EnvelopeKeys['reencrypt']>): ReturnType<EnvelopeKeys['reencrypt']> {
    return this.keys.reencrypt(...args);
  }

  /**
   * Resolves a secret; throws SecretResolutionError listing every link tried, or
   * NotAllowedError for a refused reference. Every link passes the policy and `grant` (the
   * caller's grants; the daemon passes them through {@link forCall}) before it is tried: a
   * refused reference the caller wrote fails the look-up, a refused dynamic variable is not
   * tried.
   */
  async resolve(request: SecretRequest, signal: AbortSignal, grant: SecretGrant = GRANT_ALL, keys: CallKeyOptions = {}): Promise<ResolvedSecret> {
    const run = async (): Promise<ResolvedSecret> => {
      const started = performance.now();
      const attempts: ChainAttempt[] = [];
      const done = (secret: Secret, link: string, flags: { cached?: boolean; stale?: boolean } = {}): ResolvedSecret => ({
        secret,
        link,
        cached: flags.cached ?? false,
        stale: flags.stale,
        durationMs: performance.now() - started,
      });
      for (const link of chainLinks(request, this.order, this.policy)) {
        if (link.kind === 'inline') return done(link.secret, link.where);
        if (link.kind === 'encrypted') {
          // An envelope given is the answer: a bad one fails the look-up with its own error, never falls through.
          const opened = await this.keys.open(link.envelope, link.field, request.source, signal, keys, link.where);
          return done(opened.secret, `${link.where} (${opened.keyProvider}:${opened.keyId})`);
        }
        if (link.kind === 'unusable') {
          attempts.push({ link: link.where, outcome: link.outcome });
        } else if (link.kind === 'reference') {
          const outcome = await this.tryReference(link.text, link.field, signal, request.source, 0, grant, keys);
          const name = link.where ? `${link.where} -> ${outcome.link}` : outcome.link;
          if (outcome.secret) return done(outcome.secret, name, outcome);
          attempts.push({ link: name, outcome: outcome.why, reason: outcome.reason });
        } else {
          const where = `env:${link.name}`;
          const reference = `env://${link.name}`;
          if (!this.references.permits(reference, GRANT_ALL)) {
            attempts.push({ link: where, outcome: `not tried: the daemon's secret policy does not allow ${reference}` });
          } else if (!grant(reference)) {
            attempts.push({ link: where, outcome: `not tried: the caller's roles do not grant ${reference}` });
          } else {
            const value = process.env[link.name];
            if (value !== undefined) return done(new Secret(value, where), where);
            attempts.push({ link: where, outcome: 'not set' });
          }
        }
      }
      throw new SecretResolutionError(request.field, request.label, attempts);
    };

    if (!this.tracer) return run();
    return withSpan(this.tracer, 'sourced.secret.resolve', { 'sourced.secret.label': request.label, 'sourced.secret.field': request.field }, async (span) => {
      const result = await run();
      span.setAttributes({ 'sourced.secret.link': result.link, 'sourced.secret.cached': result.cached, 'sourced.secret.stale': result.stale ?? false });
      return result;
    });
  }

  /**
   * Resolves one secret input on behalf of another component (a database token provider's
   * cloud credentials): inline values as they are, references through their provider,
   * under the same policy, cache and limits.
   */
  async resolveInput(input: SecretInput, source: DataSource, signal: AbortSignal, grant: SecretGrant = GRANT_ALL, keys: CallKeyOptions = {}): Promise<Secret> {
    if (input.kind === 'inline') return input.value;
    if (input.kind === 'encrypted') return (await this.keys.open(input.envelope, input.field, source, signal, keys, 'encrypted')).secret;
    const outcome = await this.tryReference(input.reference, input.field, signal, source, 1, grant, keys);
    if (!outcome.secret) throw new SourcedError(outcome.reason ?? 'SECRET_NOT_RESOLVED', `${input.field}: ${outcome.why}`);
    return outcome.secret;
  }

  private async tryReference(
    text: string,
    field: string,
    signal: AbortSignal,
    source: DataSource,
    depth = 0,
    grant: SecretGrant = GRANT_ALL,
    keys: CallKeyOptions = {},
  ): Promise<{ secret?: Secret; link: string; why: string; reason?: string; cached: boolean; stale?: boolean }> {
    const ref = parseSecretReference(text) as SecretReference;
    const link = ref.uri;
    this.references.assertAllowed(ref, field, grant);
    const provider = this.providers.get(ref.scheme);
    if (!provider) {
      return { link, why: `no provider for scheme "${ref.scheme}" (loaded: ${this.schemes().join(', ')})`, cached: false };
    }
    throwIfAborted(signal);
    let identity: string;
    try {
      identity = provider.identity ? await provider.identity(ref, this.providerContext(provider, signal, source, depth, grant, keys)) : '';
    } catch (error) {
      return this.failure(error, provider, link, signal);
    }
    // The scheme has a provider here, so the attribute is bounded by the providers loaded.
    const lookup = (result: 'hit' | 'miss' | 'stale') =>
      this.instruments.secretCache.add(1, { 'sourced.cache.result': result, 'sourced.secret.scheme': ref.scheme });
    try {
      // The shared provider call runs under its own signal: its context is built for it, not for this caller.
      const fetch = { provider, ref, context: (shared: AbortSignal) => this.providerContext(provider, shared, source, depth, grant, keys) };
      const { entry, result } = await this.cache.get(`${identity}\u0000${ref.uri}`, fetch, signal);
      lookup(result);
      const secret = this.applyFragment(entry.secret, ref);
      if (result === 'stale') {
        this.logger.warn('secret provider unavailable; serving a stale value', { link, age_ms: Math.round(performance.now() - entry.fetched) });
        return { secret, link: `${link} (stale)`, why: '', cached: true, stale: true };
      }
      return { secret, link, why: '', cached: result === 'hit' };
    } catch (error) {
      if (error instanceof NotAllowedError && (error.reason === 'SECRET_REFERENCE_NOT_ALLOWED' || error.reason === 'MISSING_GRANT')) throw error;
      // A reference the provider cannot parse is the caller's mistake: INVALID_ARGUMENT naming the
      // request field it came from (the provider names only its own `reference`).
      if (error instanceof InputError) {
        throw new InputError(
          error.violations.map((v) => ({ field, description: v.description })),
          { reason: error.reason, metadata: { ...error.metadata, link } },
        );
      }
      lookup('miss');
      return this.failure(error, provider, link, signal);
    }
  }

  private failure(error: unknown, provider: SecretProvider, link: string, signal: AbortSignal) {
    throwIfAborted(signal);
    const why = error instanceof SourcedError ? error.message : `${provider.id} failed: ${describeError(error)}`;
    const reason = error instanceof SourcedError ? error.reason : undefined;
    this.logger.debug('secret link failed', { link, reason: reason ?? 'ERROR' });
    return { link, why, reason, cached: false };
  }

  /** What a provider receives; nested look-ups (its own credentials) go through this chain, two levels at most. */
  private providerContext(
    provider: SecretProvider,
    signal: AbortSignal,
    source: DataSource,
    depth: number,
    grant: SecretGrant,
    keys: CallKeyOptions = {},
  ): SecretProviderContext {
    return {
      signal,
      source,
      permits: (reference) => this.references.permits(reference, grant),
      logger: this.logger.child({ secret_provider: provider.id }),
      resolveSecret: async (input) => {
        if (input.kind === 'inline') return input.value;
        // A provider's own credentials given as an envelope (cloud_config.aws_secret_access_key.encrypted).
        if (input.kind === 'encrypted') return (await this.keys.open(input.envelope, input.field, source, signal, keys, 'encrypted')).secret;
        if (depth >= 2) throw new SourcedError('SECRET_CHAIN_TOO_DEEP', `${input.field}: secret references nest too deeply`);
        const nested = parseSecretReference(input.reference);
        if (nested && provider.schemes.includes(nested.scheme)) {
          throw new SourcedError('SECRET_CHAIN_CYCLE', `${input.field}: the credentials of ${provider.id} cannot come from ${provider.id} itself`);
        }
        const outcome = await this.tryReference(input.reference, input.field, signal, source, depth + 1, grant, keys);
        if (!outcome.secret) throw new SourcedError(outcome.reason ?? 'SECRET_NOT_RESOLVED', `${input.field}: ${outcome.why}`);
        return outcome.secret;
      },
    };
  }

  private applyFragment(secret: Secret, ref: SecretReference): Secret {
    if (!ref.fragment) return secret;
    return new Secret(pickJsonPath(secret.reveal(), ref.fragment, ref.uri), `${ref.uri}#${ref.fragment}`);
  }
}
