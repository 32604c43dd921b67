import type { Meter, Tracer } from '@opentelemetry/api';
import type { DataSource, SecretInput } from '../datasource/DataSource';
import { describeError, InputError, NotAllowedError, SourcedError, throwIfAborted, UnavailableError } from '../errors';
import { noopLogger, type Logger } from '../logging/Logger';
import { sourcedInstruments, type SourcedInstruments } from '../telemetry/metrics';
import { withSpan } from '../telemetry/withSpan';
import { matchesAnyGlob } from '../util/glob';
import { credentialRequests, pemPaths } from './credentialRequests';
import { fileSettingRefused, isNeverReadable, pathFormProblem } from './filePolicy';
import { pickJsonPath } from './jsonPath';
import { Secret } from './Secret';
import { parseSecretReference, SecretErrorReason, type SecretProvider, type SecretProviderContext, type SecretReference } from './SecretProvider';

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
  /** How long a resolved reference is reused. Default 5 minutes; 0 turns the cache off. */
  cacheTtlMs?: number;
  /** Most cached references. Default 1000. */
  cacheMaxEntries?: number;
  /**
   * When a provider is unavailable, serve a value fetched at most this long ago (even past
   * its TTL). Default 0: off.
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
}

/** The secret chain as one call sees it: every link also passes the caller's grants. */
export interface CallSecrets {
  /** {@link SecretChain.resolve} under the call's grants. */
  resolve(request: SecretRequest, signal: AbortSignal): Promise<ResolvedSecret>;
  /** {@link SecretChain.resolveInput} under the call's grants. */
  resolveInput(input: SecretInput, source: DataSource, signal: AbortSignal): Promise<Secret>;
}

/** One link of a request's chain, as the chain would try it. */
type Link =
  | { kind: 'inline'; secret: Secret; where: string }
  | { kind: 'reference'; text: string; field: string; where?: string }
  | { kind: 'dynamic'; name: string }
  | { kind: 'unusable'; where: string; outcome: string };

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

interface CacheEntry {
  secret: Secret;
  fetched: number;
}

const REFERENCE_PATTERN = /^[a-z][a-z0-9+.-]*:\/\/./i;

/**
 * Resolves secrets through an ordered chain (the order is configurable; by default):
 * 1. `reference`: an explicit reference goes to the provider registered for its scheme; an
 *    inline value is used as it is;
 * 2. `connection_properties`, then 3. `additional_properties`: the request's property names
 *    (a property that holds a reference is resolved like one);
 * 4. `dynamic`: the environment variable `SOURCED_SECRET_<ID>_<LABEL>` for a data source with
 *    an id, unless the policy switches it off.
 * Every reference must pass the policy before any provider runs. Resolved references are
 * cached with a TTL, keyed by reference and by the identity the provider fetches with;
 * concurrent look-ups of one key make a single provider call; each call has a time limit and
 * throttled calls are retried with back-off. On failure the error lists every link tried.
 */
export class SecretChain {
  private readonly providers = new Map<string, SecretProvider>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<Secret>>();
  private readonly policy: SecretPolicy;
  private readonly order: readonly ChainLink[];
  private readonly ttl: number;
  private readonly staleMs: number;
  private readonly maxEntries: number;
  private readonly timeoutMs: number;
  private readonly throttleAttempts: number;
  private readonly tracer?: Tracer;
  private readonly logger: Logger;
  private readonly instruments: SourcedInstruments;

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
    this.ttl = options.cacheTtlMs ?? 5 * 60_000;
    this.staleMs = options.staleIfErrorMs ?? 0;
    this.maxEntries = options.cacheMaxEntries ?? 1000;
    this.timeoutMs = options.providerTimeoutMs ?? 10_000;
    this.throttleAttempts = Math.max(1, options.throttleAttempts ?? 3);
    this.tracer = options.tracer;
    this.logger = options.logger ?? noopLogger;
    this.instruments = sourcedInstruments(options.meter);
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
    const required: PlannedReference[] = [];
    const fallbacks: PlannedReference[] = [];
    const seen = new Set<string>();
    const add = (list: PlannedReference[], item: PlannedReference) => {
      const key = `${item.reference}\u0000${item.field}`;
      if (!seen.has(key)) list.push(item);
      seen.add(key);
    };
    for (const { ref, field } of this.referencesIn(source)) {
      this.assertAllowed(ref, field);
      add(required, { reference: ref.uri, field });
    }
    for (const { path, field } of pemPaths(source)) {
      const reference = `file://${path}`;
      if (!this.permits(reference, GRANT_ALL)) throw fileSettingRefused(field);
      add(required, { reference, field });
    }
    for (const request of credentialRequests(source)) {
      const links = this.links(request);
      links.forEach((link, index) => {
        if (link.kind !== 'dynamic') return;
        const planned = { reference: `env://${link.name}`, field: 'data_source.id' };
        // The first usable link is tried for sure: it is required. A later one is a fallback.
        const first = links.findIndex((l) => l.kind !== 'unusable') === index;
        if (first) {
          if (!this.permits(planned.reference, GRANT_ALL)) {
            throw new NotAllowedError(
              'SECRET_REFERENCE_NOT_ALLOWED',
              `${planned.field}: the only way to the ${request.label} is ${planned.reference} (named after the data source's id), which the daemon's secret policy does not allow; give ${request.field} as an inline value or an allowed reference (allowed: ${this.policy.allowedReferences.join(', ') || '(none)'})`,
              { metadata: { field: planned.field } },
            );
          }
          add(required, planned);
        } else if (this.permits(planned.reference, GRANT_ALL)) {
          add(fallbacks, planned);
        }
      });
    }
    return { required, fallbacks };
  }

  /** This chain under one call's grants; the daemon hands it to the call's connector and token providers. */
  forCall(grant: SecretGrant): CallSecrets {
    return {
      resolve: (request, signal) => this.resolve(request, signal, grant),
      resolveInput: (input, source, signal) => this.resolveInput(input, source, signal, grant),
    };
  }

  private referencesIn(source: DataSource): { ref: SecretReference; field: string }[] {
    const out: { ref: SecretReference; field: string }[] = [];
    const inputs: [SecretInput | undefined, string][] = [
      [source.password, 'data_source.credentials.password'],
      [source.ssl.key, 'data_source.ssl_config.key'],
      [source.cloud.awsAccessKeyId, 'data_source.cloud_config.aws_access_key_id'],
      [source.cloud.awsSecretAccessKey, 'data_source.cloud_config.aws_secret_access_key'],
      [source.cloud.azureClientSecret, 'data_source.cloud_config.azure_client_secret'],
    ];
    for (const [input, field] of inputs) {
      if (input?.kind === 'reference') out.push({ ref: parseSecretReference(input.reference) as SecretReference, field: input.field ?? field });
    }
    const candidates: [string | undefined, string][] = [
      [source.ssl.ca, 'data_source.ssl_config.ca'],
      [source.ssl.cert, 'data_source.ssl_config.cert'],
    ];
    for (const bag of [
      [source.connectionProperties, 'connection_properties'],
      [source.additionalProperties, 'additional_properties'],
    ] as const) {
      for (const [key, value] of Object.entries(bag[0])) if (typeof value === 'string') candidates.push([value, `data_source.${bag[1]}.${key}`]);
    }
    for (const [value, field] of candidates) {
      // A value is a reference when its scheme has a provider (an https endpoint is not).
      if (typeof value === 'string' && REFERENCE_PATTERN.test(value) && !value.includes('-----BEGIN')) {
        const ref = parseSecretReference(value);
        if (ref && this.providers.has(ref.scheme)) out.push({ ref, field });
      }
    }
    return out;
  }

  /**
   * The links of a request's chain in the configured order, without trying any: what
   * {@link resolve} walks and {@link checkPolicy} plans from.
   */
  private links(request: SecretRequest): Link[] {
    const { input, source } = request;
    const out: Link[] = [];
    for (const link of request.fallbacks === false ? (['reference'] as const) : this.order) {
      if (link === 'reference') {
        if (input?.kind === 'inline') out.push({ kind: 'inline', secret: input.value, where: 'inline' });
        else if (input?.kind === 'reference') out.push({ kind: 'reference', text: input.reference, field: input.field });
      } else if (link === 'connection_properties' || link === 'additional_properties') {
        const bag = link === 'connection_properties' ? source.connectionProperties : source.additionalProperties;
        for (const key of request.propertyKeys) {
          const value = bag[key];
          if (value === undefined || value === null) continue;
          const where = `${link}.${key}`;
          if (typeof value !== 'string') out.push({ kind: 'unusable', where, outcome: 'is not a string' });
          else if (parseSecretReference(value)) out.push({ kind: 'reference', text: value, field: `data_source.${where}`, where });
          else out.push({ kind: 'inline', secret: new Secret(value, where), where });
        }
      } else if (link === 'dynamic' && this.policy.dynamicStrategies && source.id) {
        out.push({ kind: 'dynamic', name: dynamicVariable(source.id, request.label) });
      }
    }
    return out;
  }

  /**
   * Resolves a secret; throws SecretResolutionError listing every link tried, or
   * NotAllowedError for a refused reference. Every link passes the policy and `grant` (the
   * caller's grants; the daemon passes them through {@link forCall}) before it is tried: a
   * refused reference the caller wrote fails the look-up, a refused dynamic variable is not
   * tried.
   */
  async resolve(request: SecretRequest, signal: AbortSignal, grant: SecretGrant = GRANT_ALL): Promise<ResolvedSecret> {
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
      for (const link of this.links(request)) {
        if (link.kind === 'inline') return done(link.secret, link.where);
        if (link.kind === 'unusable') {
          attempts.push({ link: link.where, outcome: link.outcome });
        } else if (link.kind === 'reference') {
          const outcome = await this.tryReference(link.text, link.field, signal, request.source, 0, grant);
          const name = link.where ? `${link.where} -> ${outcome.link}` : outcome.link;
          if (outcome.secret) return done(outcome.secret, name, outcome);
          attempts.push({ link: name, outcome: outcome.why, reason: outcome.reason });
        } else {
          const where = `env:${link.name}`;
          const reference = `env://${link.name}`;
          if (!this.permits(reference, GRANT_ALL)) {
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
  async resolveInput(input: SecretInput, source: DataSource, signal: AbortSignal, grant: SecretGrant = GRANT_ALL): Promise<Secret> {
    if (input.kind === 'inline') return input.value;
    const outcome = await this.tryReference(input.reference, input.field, signal, source, 1, grant);
    if (!outcome.secret) throw new SourcedError(outcome.reason ?? 'SECRET_NOT_RESOLVED', `${input.field}: ${outcome.why}`);
    return outcome.secret;
  }

  /**
   * Throws unless the policy allows a reference (and `grant`, the caller's grants): an
   * InputError for a `file://` reference that is not a normalised absolute path, a
   * NotAllowedError for one the policy refuses (and for /proc, /sys and /dev, always) or the
   * caller is not granted.
   */
  private assertAllowed(ref: SecretReference, field: string, grant: SecretGrant = GRANT_ALL): void {
    if (ref.scheme === 'file') {
      const problem = pathFormProblem(ref.target);
      if (problem !== undefined) {
        throw new InputError(
          [{ field, description: `${ref.uri} ${problem}; a file:// reference must be a normalised absolute path (file:///run/secrets/pg), with no '.', '..', empty segment or percent escape` }],
          { reason: 'SECRET_REFERENCE_INVALID', metadata: { field } },
        );
      }
      if (isNeverReadable(ref.target)) {
        throw new NotAllowedError('SECRET_REFERENCE_NOT_ALLOWED', `${field}: the daemon never reads files under /proc, /sys or /dev (${ref.uri})`, { metadata: { field } });
      }
    }
    if (!matchesAnyGlob(ref.uri, this.policy.allowedReferences)) {
      throw new NotAllowedError(
        'SECRET_REFERENCE_NOT_ALLOWED',
        `${field}: the daemon's secret policy does not allow ${ref.uri}; allowed: ${this.policy.allowedReferences.join(', ') || '(none)'}`,
        { metadata: { field } },
      );
    }
    if (!grant(ref.uri)) {
      throw new NotAllowedError('MISSING_GRANT', `${field}: the caller's roles do not grant the secret ${ref.uri}`, { metadata: { field, grant: 'secret', value: ref.uri } });
    }
  }

  /** Whether a reference (without fragment) passes the policy and `grant`, for links that are skipped rather than refused. */
  private permits(reference: string, grant: SecretGrant): boolean {
    const ref = parseSecretReference(reference);
    if (!ref) return false;
    if (ref.scheme === 'file' && (pathFormProblem(ref.target) !== undefined || isNeverReadable(ref.target))) return false;
    return matchesAnyGlob(ref.uri, this.policy.allowedReferences) && grant(ref.uri);
  }

  private async tryReference(
    text: string,
    field: string,
    signal: AbortSignal,
    source: DataSource,
    depth = 0,
    grant: SecretGrant = GRANT_ALL,
  ): Promise<{ secret?: Secret; link: string; why: string; reason?: string; cached: boolean; stale?: boolean }> {
    const ref = parseSecretReference(text) as SecretReference;
    const link = ref.uri;
    this.assertAllowed(ref, field, grant);
    const provider = this.providers.get(ref.scheme);
    if (!provider) {
      return { link, why: `no provider for scheme "${ref.scheme}" (loaded: ${this.schemes().join(', ')})`, cached: false };
    }
    throwIfAborted(signal);
    const context = this.providerContext(provider, signal, source, depth, grant);
    let identity: string;
    try {
      identity = provider.identity ? await provider.identity(ref, context) : '';
    } catch (error) {
      return this.failure(error, provider, link, signal);
    }
    const cacheKey = `${identity}\u0000${ref.uri}`;
    const hit = this.cache.get(cacheKey);
    const now = Date.now();
    // The scheme has a provider here, so the attribute is bounded by the providers loaded.
    const lookup = (result: 'hit' | 'miss' | 'stale') => this.instruments.secretCache.add(1, { 'sourced.cache.result': result, 'sourced.secret.scheme': ref.scheme });
    if (hit && now - hit.fetched < this.ttl) {
      lookup('hit');
      return { secret: this.applyFragment(hit.secret, ref), link, why: '', cached: true };
    }
    try {
      let pending = this.inflight.get(cacheKey);
      if (!pending) {
        pending = this.fetch(provider, ref, context, signal).finally(() => this.inflight.delete(cacheKey));
        this.inflight.set(cacheKey, pending);
      }
      const raw = await pending;
      lookup('miss');
      this.remember(cacheKey, raw);
      return { secret: this.applyFragment(raw, ref), link, why: '', cached: false };
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
      if (hit && error instanceof UnavailableError && this.staleMs > 0 && now - hit.fetched < this.staleMs) {
        this.logger.warn('secret provider unavailable; serving a stale value', { link, age_ms: now - hit.fetched });
        lookup('stale');
        return { secret: this.applyFragment(hit.secret, ref), link: `${link} (stale)`, why: '', cached: true, stale: true };
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
  private providerContext(provider: SecretProvider, signal: AbortSignal, source: DataSource, depth: number, grant: SecretGrant): SecretProviderContext {
    return {
      signal,
      source,
      permits: (reference) => this.permits(reference, grant),
      logger: this.logger.child({ secret_provider: provider.id }),
      resolveSecret: async (input) => {
        if (input.kind === 'inline') return input.value;
        if (depth >= 2) throw new SourcedError('SECRET_CHAIN_TOO_DEEP', `${input.field}: secret references nest too deeply`);
        const nested = parseSecretReference(input.reference);
        if (nested && provider.schemes.includes(nested.scheme)) {
          throw new SourcedError('SECRET_CHAIN_CYCLE', `${input.field}: the credentials of ${provider.id} cannot come from ${provider.id} itself`);
        }
        const outcome = await this.tryReference(input.reference, input.field, signal, source, depth + 1, grant);
        if (!outcome.secret) throw new SourcedError(outcome.reason ?? 'SECRET_NOT_RESOLVED', `${input.field}: ${outcome.why}`);
        return outcome.secret;
      },
    };
  }

  private async fetch(provider: SecretProvider, ref: SecretReference, context: SecretProviderContext, signal: AbortSignal): Promise<Secret> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchOnce(provider, ref, context, signal);
      } catch (error) {
        const throttled = error instanceof SourcedError && error.reason === SecretErrorReason.THROTTLED;
        if (!throttled || attempt >= this.throttleAttempts || signal.aborted) {
          if (throttled) {
            throw new UnavailableError(SecretErrorReason.THROTTLED, `${provider.id} throttled ${ref.uri} ${attempt} times; try again later`, { cause: error });
          }
          throw error;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)).unref());
      }
    }
  }

  private async fetchOnce(provider: SecretProvider, ref: SecretReference, context: SecretProviderContext, signal: AbortSignal): Promise<Secret> {
    const limit = AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]);
    const value = await new Promise<string | Uint8Array>((resolve, reject) => {
      const onAbort = () =>
        reject(
          signal.aborted
            ? signal.reason
            : new UnavailableError('SECRET_PROVIDER_TIMEOUT', `${provider.id} did not answer within ${this.timeoutMs} ms`),
        );
      limit.addEventListener('abort', onAbort, { once: true });
      provider
        .resolve(ref, { ...context, signal: limit })
        .then(resolve, reject)
        .finally(() => limit.removeEventListener('abort', onAbort));
    });
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
    return new Secret(text, ref.uri);
  }

  private applyFragment(secret: Secret, ref: SecretReference): Secret {
    if (!ref.fragment) return secret;
    return new Secret(pickJsonPath(secret.reveal(), ref.fragment, ref.uri), `${ref.uri}#${ref.fragment}`);
  }

  private remember(key: string, secret: Secret): void {
    if (this.ttl <= 0 && this.staleMs <= 0) return;
    this.cache.delete(key);
    if (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, { secret, fetched: Date.now() });
  }
}

/** The environment variable the dynamic link reads for a data source id and a secret label. */
export function dynamicVariable(id: string, label: string): string {
  return `SOURCED_SECRET_${id}_${label}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}
