import type { Tracer } from '@opentelemetry/api';
import type { DataSource, SecretInput } from '../datasource/DataSource';
import { describeError, InputError, NotAllowedError, SourcedError, throwIfAborted } from '../errors';
import { noopLogger, type Logger } from '../logging/Logger';
import { sourcedInstruments, type SourcedInstruments } from '../telemetry/metrics';
import { withSpan } from '../telemetry/withSpan';
import { matchesAnyGlob } from '../util/glob';
import {
  DEFAULT_CHAIN_ORDER,
  DEFAULT_SECRET_POLICY,
  GRANT_ALL,
  SecretResolutionError,
  type CallKeyOptions,
  type CallSecrets,
  type ChainAttempt,
  type PlannedKey,
  type ChainLink,
  type PlannedReference,
  type ResolvedSecret,
  type SecretAccess,
  type SecretChainOptions,
  type SecretGrant,
  type SecretPolicy,
  type SecretRequest,
} from './chainTypes';
import { credentialRequests, pemPaths } from './credentialRequests';
import { EnvelopeKeys } from './EnvelopeKeys';
import { looksLikeEnvelope, parseEnvelope } from './envelope';
import { fileSettingRefused, isNeverReadable, pathFormProblem } from './filePolicy';
import { pickJsonPath } from './jsonPath';
import { Secret } from './Secret';
import { SecretCache } from './SecretCache';
import { parseSecretReference, type SecretProvider, type SecretProviderContext, type SecretReference } from './SecretProvider';

export * from './chainTypes';
export { bindingField } from './EnvelopeKeys';

/** One link of a request's chain, as the chain would try it. */
type Link =
  | { kind: 'inline'; secret: Secret; where: string }
  | { kind: 'reference'; text: string; field: string; where?: string }
  | { kind: 'encrypted'; envelope: string; field: string; where: string }
  | { kind: 'dynamic'; name: string }
  | { kind: 'unusable'; where: string; outcome: string };

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
    const required: PlannedReference[] = [];
    const fallbacks: PlannedReference[] = [];
    const keys: PlannedKey[] = [];
    for (const { envelope, field } of EnvelopeKeys.envelopesIn(source)) {
      try {
        const header = parseEnvelope(envelope, field);
        keys.push({ key: `${header.keyProvider}:${header.keyId}`, field });
      } catch {
        // Reported when the chain opens it (the credentials check of a validation).
      }
    }
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
    return keys.length ? { required, fallbacks, keys } : { required, fallbacks };
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

  private referencesIn(source: DataSource): { ref: SecretReference; field: string }[] {
    const out: { ref: SecretReference; field: string }[] = [];
    // Each input names its field (normalizeDataSource sets it: data_source.credentials.password, ...).
    const inputs: (SecretInput | undefined)[] = [
      source.password,
      source.ssl.key,
      source.cloud.awsAccessKeyId,
      source.cloud.awsSecretAccessKey,
      source.cloud.azureClientSecret,
    ];
    for (const input of inputs) {
      if (input?.kind === 'reference') out.push({ ref: parseSecretReference(input.reference) as SecretReference, field: input.field });
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
      switch (link) {
        case 'reference':
          if (input?.kind === 'inline') out.push({ kind: 'inline', secret: input.value, where: 'inline' });
          else if (input?.kind === 'reference') out.push({ kind: 'reference', text: input.reference, field: input.field });
          else if (input?.kind === 'encrypted') out.push({ kind: 'encrypted', envelope: input.envelope, field: input.field, where: 'encrypted' });
          break;
        case 'connection_properties':
        case 'additional_properties': {
          const bag = link === 'connection_properties' ? source.connectionProperties : source.additionalProperties;
          for (const key of request.propertyKeys) {
            const value = bag[key];
            if (value === undefined || value === null) continue;
            const where = `${link}.${key}`;
            if (typeof value !== 'string') out.push({ kind: 'unusable', where, outcome: 'is not a string' });
            else if (looksLikeEnvelope(value)) out.push({ kind: 'encrypted', envelope: value, field: `data_source.${where}`, where });
            else if (parseSecretReference(value)) out.push({ kind: 'reference', text: value, field: `data_source.${where}`, where });
            else out.push({ kind: 'inline', secret: new Secret(value, where), where });
          }
          break;
        }
        case 'dynamic':
          if (this.policy.dynamicStrategies && source.id) out.push({ kind: 'dynamic', name: dynamicVariable(source.id, request.label) });
          break;
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
      for (const link of this.links(request)) {
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
  async resolveInput(input: SecretInput, source: DataSource, signal: AbortSignal, grant: SecretGrant = GRANT_ALL, keys: CallKeyOptions = {}): Promise<Secret> {
    if (input.kind === 'inline') return input.value;
    if (input.kind === 'encrypted') return (await this.keys.open(input.envelope, input.field, source, signal, keys, 'encrypted')).secret;
    const outcome = await this.tryReference(input.reference, input.field, signal, source, 1, grant, keys);
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
          [
            {
              field,
              description: `${ref.uri} ${problem}; a file:// reference must be a normalised absolute path (file:///run/secrets/pg), with no '.', '..', empty segment or percent escape`,
            },
          ],
          { reason: 'SECRET_REFERENCE_INVALID', metadata: { field } },
        );
      }
      if (isNeverReadable(ref.target)) {
        throw new NotAllowedError('SECRET_REFERENCE_NOT_ALLOWED', `${field}: the daemon never reads files under /proc, /sys or /dev (${ref.uri})`, {
          metadata: { field },
        });
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
      throw new NotAllowedError('MISSING_GRANT', `${field}: the caller's roles do not grant the secret ${ref.uri}`, {
        metadata: { field, grant: 'secret', value: ref.uri },
      });
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
    keys: CallKeyOptions = {},
  ): Promise<{ secret?: Secret; link: string; why: string; reason?: string; cached: boolean; stale?: boolean }> {
    const ref = parseSecretReference(text) as SecretReference;
    const link = ref.uri;
    this.assertAllowed(ref, field, grant);
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
      permits: (reference) => this.permits(reference, grant),
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

/** The environment variable the dynamic link reads for a data source id and a secret label. */
export function dynamicVariable(id: string, label: string): string {
  return `SOURCED_SECRET_${id}_${label}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}
