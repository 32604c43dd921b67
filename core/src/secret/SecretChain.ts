import type { Tracer } from '@opentelemetry/api';
import type { DataSource, SecretInput } from '../datasource/DataSource';
import { describeError, NotAllowedError, SourcedError, throwIfAborted } from '../errors';
import { noopLogger, type Logger } from '../logging/Logger';
import { withSpan } from '../telemetry/withSpan';
import { matchesAnyGlob } from '../util/glob';
import { pickJsonPath } from './jsonPath';
import { Secret } from './Secret';
import { parseSecretReference, type SecretProvider, type SecretReference } from './SecretProvider';

/** Which references a request may use, so a caller can never make the daemon read its own credentials. */
export interface SecretPolicy {
  /**
   * Glob patterns over a reference without its fragment (`env://SOURCED_SECRET_*`,
   * `file:///run/secrets/*`, `aws-sm://*`). A reference that matches none is refused.
   */
  allowedReferences: string[];
  /** Whether the dynamic strategies (environment variables by name pattern) run. */
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
  /** How long a resolved reference is reused. Default 5 minutes; 0 turns the cache off. */
  cacheTtlMs?: number;
  /** Most cached references. Default 1000. */
  cacheMaxEntries?: number;
  /** Time limit of each provider call. Default 10 s. */
  providerTimeoutMs?: number;
  tracer?: Tracer;
  logger?: Logger;
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
  source: DataSource;
}

/** A resolved secret with where it came from. */
export interface ResolvedSecret {
  secret: Secret;
  /** The link that supplied it, for example `env://SOURCED_SECRET_PG`, `connection_properties.password`. */
  link: string;
  durationMs: number;
  cached: boolean;
}

/** One link the chain tried, and why it gave nothing. */
export interface ChainAttempt {
  link: string;
  outcome: string;
}

/** The chain found no value. Lists every link it tried and why; never a value. */
export class SecretResolutionError extends SourcedError {
  readonly attempts: ChainAttempt[];
  readonly field: string;
  constructor(field: string, label: string, attempts: ChainAttempt[]) {
    const tried = attempts.length === 0 ? 'nothing to try' : attempts.map((a) => `${a.link}: ${a.outcome}`).join('; ');
    super('SECRET_NOT_RESOLVED', `could not resolve ${label} (${field}); tried ${tried}`, { metadata: { field } });
    this.attempts = attempts;
    this.field = field;
  }
}

interface CacheEntry {
  secret: Secret;
  expires: number;
}

/**
 * Resolves secrets through an ordered chain:
 * 1. an explicit reference goes to the provider registered for its scheme (after the policy allows it);
 *    an inline value is used as it is;
 * 2. the property names in `connection_properties`, then in `additional_properties`
 *    (a property that holds a reference is resolved like one);
 * 3. the dynamic strategy: the environment variable `SOURCED_SECRET_<ID>_<LABEL>` for a data source with an id,
 *    unless the policy switches it off.
 * Resolved references are cached with a TTL, concurrent look-ups of one reference make a
 * single provider call, and each provider call is bounded by a time limit.
 */
export class SecretChain {
  private readonly providers = new Map<string, SecretProvider>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<Secret>>();
  private readonly policy: SecretPolicy;
  private readonly ttl: number;
  private readonly maxEntries: number;
  private readonly timeoutMs: number;
  private readonly tracer?: Tracer;
  private readonly logger: Logger;

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
    this.ttl = options.cacheTtlMs ?? 5 * 60_000;
    this.maxEntries = options.cacheMaxEntries ?? 1000;
    this.timeoutMs = options.providerTimeoutMs ?? 10_000;
    this.tracer = options.tracer;
    this.logger = options.logger ?? noopLogger;
  }

  /** The schemes that have a provider. */
  schemes(): string[] {
    return [...this.providers.keys()].sort();
  }

  /** Resolves a secret; throws SecretResolutionError listing every link tried, or NotAllowedError for a refused reference. */
  async resolve(request: SecretRequest, signal: AbortSignal): Promise<ResolvedSecret> {
    const run = async (): Promise<ResolvedSecret> => {
      const started = performance.now();
      const attempts: ChainAttempt[] = [];
      const done = (secret: Secret, link: string, cached = false): ResolvedSecret => ({
        secret,
        link,
        cached,
        durationMs: performance.now() - started,
      });

      const { input, source } = request;
      if (input?.kind === 'inline') return done(input.value, 'inline');
      if (input?.kind === 'reference') {
        const outcome = await this.tryReference(input.reference, input.field, signal, source);
        if (outcome.secret) return done(outcome.secret, outcome.link, outcome.cached);
        attempts.push({ link: outcome.link, outcome: outcome.why });
      }
      for (const [bag, name] of [
        [source.connectionProperties, 'connection_properties'],
        [source.additionalProperties, 'additional_properties'],
      ] as const) {
        for (const key of request.propertyKeys) {
          const value = bag[key];
          if (value === undefined || value === null) continue;
          const link = `${name}.${key}`;
          if (typeof value !== 'string') {
            attempts.push({ link, outcome: 'is not a string' });
            continue;
          }
          if (parseSecretReference(value)) {
            const outcome = await this.tryReference(value, `data_source.${link}`, signal, source);
            if (outcome.secret) return done(outcome.secret, `${link} -> ${outcome.link}`, outcome.cached);
            attempts.push({ link: `${link} -> ${outcome.link}`, outcome: outcome.why });
            continue;
          }
          return done(new Secret(value, link), link);
        }
      }
      if (this.policy.dynamicStrategies && source.id) {
        const name = `SOURCED_SECRET_${source.id}_${request.label}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
        const link = `env:${name}`;
        const value = process.env[name];
        if (value !== undefined) return done(new Secret(value, link), link);
        attempts.push({ link, outcome: 'not set' });
      }
      throw new SecretResolutionError(request.field, request.label, attempts);
    };

    if (!this.tracer) return run();
    return withSpan(this.tracer, 'sourced.secret.resolve', { 'sourced.secret.label': request.label, 'sourced.secret.field': request.field }, async (span) => {
      const result = await run();
      span.setAttributes({ 'sourced.secret.link': result.link, 'sourced.secret.cached': result.cached });
      return result;
    });
  }

  private async tryReference(
    text: string,
    field: string,
    signal: AbortSignal,
    source: DataSource,
  ): Promise<{ secret?: Secret; link: string; why: string; cached: boolean }> {
    const ref = parseSecretReference(text) as SecretReference;
    const link = ref.uri;
    if (!matchesAnyGlob(ref.uri, this.policy.allowedReferences)) {
      throw new NotAllowedError(
        'SECRET_REFERENCE_NOT_ALLOWED',
        `${field}: the daemon's secret policy does not allow ${ref.uri}; allowed: ${this.policy.allowedReferences.join(', ') || '(none)'}`,
        { metadata: { field } },
      );
    }
    const provider = this.providers.get(ref.scheme);
    if (!provider) {
      return { link, why: `no provider for scheme "${ref.scheme}" (loaded: ${this.schemes().join(', ')})`, cached: false };
    }
    throwIfAborted(signal);
    const cacheKey = ref.uri;
    const hit = this.cache.get(cacheKey);
    if (hit && hit.expires > Date.now()) {
      return { secret: this.applyFragment(hit.secret, ref), link, why: '', cached: true };
    }
    try {
      let pending = this.inflight.get(cacheKey);
      if (!pending) {
        pending = this.fetch(provider, ref, signal, source).finally(() => this.inflight.delete(cacheKey));
        this.inflight.set(cacheKey, pending);
      }
      const raw = await pending;
      this.remember(cacheKey, raw);
      return { secret: this.applyFragment(raw, ref), link, why: '', cached: false };
    } catch (error) {
      if (error instanceof NotAllowedError) throw error;
      throwIfAborted(signal);
      const why = error instanceof SourcedError ? error.message : `${provider.id} failed: ${describeError(error)}`;
      this.logger.debug('secret link failed', { link, reason: error instanceof SourcedError ? error.reason : 'ERROR' });
      return { link, why, cached: false };
    }
  }

  private async fetch(provider: SecretProvider, ref: SecretReference, signal: AbortSignal, source: DataSource): Promise<Secret> {
    const limit = AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]);
    const value = await new Promise<string | Uint8Array>((resolve, reject) => {
      const onAbort = () =>
        reject(
          signal.aborted
            ? signal.reason
            : new SourcedError('SECRET_PROVIDER_TIMEOUT', `${provider.id} did not answer within ${this.timeoutMs} ms`),
        );
      limit.addEventListener('abort', onAbort, { once: true });
      provider.resolve(ref, { signal: limit, source }).then(resolve, reject).finally(() => limit.removeEventListener('abort', onAbort));
    });
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
    return new Secret(text, ref.uri);
  }

  private applyFragment(secret: Secret, ref: SecretReference): Secret {
    if (!ref.fragment) return secret;
    return new Secret(pickJsonPath(secret.reveal(), ref.fragment, ref.uri), `${ref.uri}#${ref.fragment}`);
  }

  private remember(key: string, secret: Secret): void {
    if (this.ttl <= 0) return;
    if (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, { secret, expires: Date.now() + this.ttl });
  }
}
