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
  type KeyUseRecord,
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
import {
  checkContext,
  looksLikeEnvelope,
  openParsed,
  parseEnvelope,
  reencryptEnvelope,
  sealEnvelope,
  type EnvelopeHeader,
  type KeyProviders,
} from './envelope';
import { KeyProviderMissingError } from './envelopeErrors';
import type { EncryptionContext, KeyProvider, KeyProviderContext } from './KeyProvider';
import { fileSettingRefused, isNeverReadable, pathFormProblem } from './filePolicy';
import { pickJsonPath } from './jsonPath';
import { Secret } from './Secret';
import { SecretCache } from './SecretCache';
import { parseSecretReference, type SecretProvider, type SecretProviderContext, type SecretReference } from './SecretProvider';

export * from './chainTypes';

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
  private readonly keyProviders = new Map<string, KeyProvider>();
  private readonly defaultKeyProvider: string;
  private readonly providerTimeoutMs: number;

  constructor(options: SecretChainOptions) {
    for (const provider of options.keyProviders ?? []) {
      if (this.keyProviders.has(provider.id)) throw new Error(`key provider "${provider.id}" is registered twice`);
      this.keyProviders.set(provider.id, provider);
    }
    this.defaultKeyProvider = options.defaultKeyProvider ?? 'local';
    this.providerTimeoutMs = options.providerTimeoutMs ?? 10_000;
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
    for (const { envelope, field } of this.envelopesIn(source)) {
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
    return [...this.keyProviders.keys()].sort();
  }

  /**
   * Encrypts a value into an envelope bound to `context` (EncryptSecret), under `keyProvider`'s
   * (default: the chain's default) current key or `keyId`. `fields` are the request paths errors
   * name. The key grant is checked once the key is known; the value is never kept.
   */
  async encrypt(
    value: Secret,
    context: EncryptionContext,
    options: { keyProvider?: string; keyId?: string; fields: { dataSourceId: string; field: string; value: string } },
    signal: AbortSignal,
    call: CallKeyOptions = {},
  ): Promise<{ envelope: string; keyProvider: string; keyId: string }> {
    checkContext(context, options.fields);
    const name = options.keyProvider || this.defaultKeyProvider;
    const use: KeyUseRecord = { operation: 'encrypt', keyProvider: name, keyId: options.keyId || 'current', outcome: 'OK' };
    return this.recorded(use, call, async () => {
      const provider = this.keyProviders.get(name);
      if (!provider) throw new KeyProviderMissingError(options.fields.value, name, this.keyProviderIds());
      const keyId = options.keyId || provider.currentKeyId?.();
      if (keyId !== undefined) {
        use.keyId = keyId;
        this.assertKeyGranted(name, keyId, options.fields.value, call);
      }
      const sealed = await this.withKeySpan('sourced.envelope.seal', use, signal, options.fields.value, (ctx) =>
        sealEnvelope(value, context, provider, ctx, { keyId }),
      );
      use.keyId = sealed.keyId;
      this.assertKeyGranted(sealed.keyProvider, sealed.keyId, options.fields.value, call);
      return sealed;
    });
  }

  /**
   * Moves an envelope to a key provider's current key (or `keyId`) for the same context
   * (ReencryptSecret); the value never leaves the chain. Both keys must be granted.
   */
  async reencrypt(
    envelope: string,
    context: EncryptionContext,
    options: { keyProvider?: string; keyId?: string; fields: { dataSourceId: string; field: string; envelope: string } },
    signal: AbortSignal,
    call: CallKeyOptions = {},
  ): Promise<{ envelope: string; from: { keyProvider: string; keyId: string }; to: { keyProvider: string; keyId: string } }> {
    checkContext(context, options.fields);
    const field = options.fields.envelope;
    const use: KeyUseRecord = { operation: 'reencrypt', keyProvider: 'unknown', keyId: 'unknown', outcome: 'OK' };
    return this.recorded(use, call, async () => {
      const header = parseEnvelope(envelope, field);
      Object.assign(use, { keyProvider: header.keyProvider, keyId: header.keyId });
      this.assertKeyGranted(header.keyProvider, header.keyId, field, call);
      const target = options.keyProvider || header.keyProvider;
      const targetProvider = this.keyProviders.get(target);
      const targetKey = options.keyId || targetProvider?.currentKeyId?.();
      if (targetProvider && targetKey !== undefined) this.assertKeyGranted(target, targetKey, field, call);
      const moved = await this.withKeySpan('sourced.envelope.reencrypt', use, signal, field, (ctx) =>
        reencryptEnvelope(envelope, context, this.keyProviderLookup(), ctx, {
          keyProvider: options.keyProvider || undefined,
          keyId: options.keyId || undefined,
        }),
      );
      this.assertKeyGranted(moved.to.keyProvider, moved.to.keyId, field, call);
      // Recorded as the key it moved to; the audit line's other use names the key it came from.
      call.onKeyUse?.({ operation: 'decrypt', keyProvider: moved.from.keyProvider, keyId: moved.from.keyId, outcome: 'OK' });
      Object.assign(use, moved.to);
      return moved;
    });
  }

  /** Opens an envelope for a data source's field: the context is the source's id and the field's path. */
  private async openFor(
    envelope: string,
    field: string,
    source: DataSource,
    signal: AbortSignal,
    call: CallKeyOptions,
    label: string,
  ): Promise<{ secret: Secret; keyProvider: string; keyId: string }> {
    const use: KeyUseRecord = { operation: 'decrypt', keyProvider: 'unknown', keyId: 'unknown', outcome: 'OK' };
    return this.recorded(use, call, async () => {
      const header: EnvelopeHeader = parseEnvelope(envelope, field);
      Object.assign(use, { keyProvider: header.keyProvider, keyId: header.keyId });
      if (!source.id) {
        throw new InputError(
          [{ field: 'data_source.id', description: `is required with an encrypted secret (${field}): the envelope is bound to the data source's id` }],
          {
            reason: 'ENCRYPTION_CONTEXT_INVALID',
            metadata: { field: 'data_source.id', hint: 'Send the same data source id the envelope was encrypted for (EncryptSecret context.data_source_id).' },
          },
        );
      }
      this.assertKeyGranted(header.keyProvider, header.keyId, field, call);
      const context = { dataSourceId: source.id, field: bindingField(field) };
      return this.withKeySpan('sourced.envelope.open', use, signal, field, (ctx) => openParsed(header, context, this.keyProviderLookup(), ctx, label));
    });
  }

  private keyProviderLookup(): KeyProviders {
    return { get: (name) => this.keyProviders.get(name), names: () => this.keyProviderIds() };
  }

  private assertKeyGranted(keyProvider: string, keyId: string, field: string, call: CallKeyOptions): void {
    const key = `${keyProvider}:${keyId}`;
    if (call.keys && !call.keys(key)) {
      throw new NotAllowedError('MISSING_GRANT', `${field}: the caller's roles do not grant the key ${key}`, {
        metadata: { field, grant: 'key', value: key, hint: `Ask the operator for a role whose keys include ${key} (rbac.roles.<role>.keys).` },
      });
    }
  }

  /** Runs a key operation, then tells `call.onKeyUse` how it ended (the error's reason, or OK). */
  private async recorded<T>(use: KeyUseRecord, call: CallKeyOptions, run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      call.onKeyUse?.({ ...use });
      return result;
    } catch (error) {
      call.onKeyUse?.({ ...use, outcome: error instanceof SourcedError ? error.reason : 'ERROR' });
      throw error;
    }
  }

  /** A key provider call under the provider time limit and the caller's signal, traced (provider and key id only). */
  private async withKeySpan<T>(name: string, use: KeyUseRecord, signal: AbortSignal, field: string, run: (ctx: KeyProviderContext) => Promise<T>): Promise<T> {
    throwIfAborted(signal);
    const ctx: KeyProviderContext = {
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.providerTimeoutMs)]),
      logger: this.logger.child({ key_provider: use.keyProvider }),
      field,
    };
    const call = async () => {
      try {
        return await run(ctx);
      } catch (error) {
        throwIfAborted(signal);
        throw error;
      }
    };
    if (!this.tracer) return call();
    return withSpan(this.tracer, name, { 'sourced.key.provider': use.keyProvider, 'sourced.key.id': use.keyId, 'sourced.secret.field': field }, call);
  }

  /** Every envelope a source carries, with its request path: the typed secret fields and the property values that are envelopes. */
  private envelopesIn(source: DataSource): { envelope: string; field: string }[] {
    const out: { envelope: string; field: string }[] = [];
    for (const input of [source.password, source.ssl.key, source.cloud.awsAccessKeyId, source.cloud.awsSecretAccessKey, source.cloud.azureClientSecret]) {
      if (input?.kind === 'encrypted') out.push({ envelope: input.envelope, field: input.field });
    }
    for (const [bag, name] of [
      [source.connectionProperties, 'connection_properties'],
      [source.additionalProperties, 'additional_properties'],
    ] as const) {
      for (const [key, value] of Object.entries(bag))
        if (typeof value === 'string' && looksLikeEnvelope(value)) out.push({ envelope: value, field: `data_source.${name}.${key}` });
    }
    return out;
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
          const opened = await this.openFor(link.envelope, link.field, request.source, signal, keys, link.where);
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
    if (input.kind === 'encrypted') return (await this.openFor(input.envelope, input.field, source, signal, keys, 'encrypted')).secret;
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
        if (input.kind === 'encrypted') return (await this.openFor(input.envelope, input.field, source, signal, keys, 'encrypted')).secret;
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

/** The context field of an envelope at a request path: `data_source.credentials.password.encrypted` → `credentials.password`. */
export function bindingField(field: string): string {
  return field.replace(/^data_source\./, '').replace(/\.encrypted$/, '');
}

/** The environment variable the dynamic link reads for a data source id and a secret label. */
export function dynamicVariable(id: string, label: string): string {
  return `SOURCED_SECRET_${id}_${label}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}
