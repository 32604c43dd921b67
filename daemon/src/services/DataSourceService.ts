import type { Meter, Tracer } from '@opentelemetry/api';
import {
  DiscoveryEngine,
  encodeCursor,
  type PreviewEngine,
  type ProfileEngine,
  InputError,
  normalizeDataSource,
  raceSignal,
  TargetDeniedError,
  SourcedError,
  TOKEN_PLUGIN_OF,
  tokenCloudOf,
  withSpan,
  type ConnectionBudget,
  type DatabaseTokenMinter,
  type Connector,
  type DataSource,
  type Logger,
  type CallSecrets,
  type SecretChain,
  type TargetPolicy,
  type ValidationRunner,
} from '@sourced/core';
import type { DaemonConfig } from '../config/DaemonConfig';
import type {
  DataSourceServiceServer,
  DiscoverDataSourceRequest,
  DiscoverDataSourceResponse,
  PreviewTableRequest,
  PreviewTableResponse,
  ProfileTableRequest,
  ProfileTableResponse,
  ValidateDataSourceRequest,
  ValidateDataSourceResponse,
} from '@sourced/api';
import { serverStreaming, type CallContext, type HandlerDeps } from '../grpc/callHandlers';
import { toDataSourceInput, toDiscoveryResponses, toFilter, toPreviewResponse, toProfileMode, toProfileResponse, toStrategy, toValidationResponse } from '../grpc/mapping';
import type { PluginRegistry } from '../plugins/PluginRegistry';
import type { HeapGuard } from '../runtime/HeapGuard';
import type { Authorizer } from '../security/authorize';
import { capConnectTimeout, cappedTimeout } from '../security/limits';

/** The daemon's name as sent to sources (PostgreSQL application_name). */
export const APPLICATION_NAME = 'sourced';

const SERVICE = 'sourced.v1.DataSourceService';

/** DataSourceService: validation and discovery, each a stream. */
export class DataSourceService {
  constructor(
    private readonly deps: {
      config: DaemonConfig;
      pluginRegistry: PluginRegistry;
      secretChain: SecretChain;
      validationRunner: ValidationRunner;
      discoveryEngine: DiscoveryEngine;
      previewEngine: PreviewEngine;
      profileEngine: ProfileEngine;
      connectionBudget: ConnectionBudget;
      targetPolicy: TargetPolicy;
      heapGuard: HeapGuard;
      authorizer: Authorizer;
      tracer: Tracer;
      /** The daemon's meter: connectors record their open connections on it. */
      meter?: Meter;
      logger: Logger;
      handlerDeps: HandlerDeps;
    },
  ) {}

  /** The grpc-js implementation object. */
  implementation(): DataSourceServiceServer {
    const h = this.deps.handlerDeps;
    return {
      validateDataSource: serverStreaming<ValidateDataSourceRequest, ValidateDataSourceResponse>(h, `${SERVICE}/ValidateDataSource`, (req, ctx) =>
        this.validate(req, ctx),
      ),
      discoverDataSource: serverStreaming<DiscoverDataSourceRequest, DiscoverDataSourceResponse>(h, `${SERVICE}/DiscoverDataSource`, (req, ctx) =>
        this.discover(req, ctx),
      ),
      previewTable: serverStreaming<PreviewTableRequest, PreviewTableResponse>(h, `${SERVICE}/PreviewTable`, (req, ctx) => this.preview(req, ctx)),
      profileTable: serverStreaming<ProfileTableRequest, ProfileTableResponse>(h, `${SERVICE}/ProfileTable`, (req, ctx) => this.profile(req, ctx)),
    };
  }

  async *validate(req: ValidateDataSourceRequest, ctx: CallContext): AsyncGenerator<Omit<ValidateDataSourceResponse, 'sequence'>> {
    const connector = await this.connect(req.dataSource, ctx);
    try {
      const checkTimeoutMs = cappedTimeout(req.checkTimeoutMs, this.deps.config.validation.checkTimeoutMs, this.deps.config.limits.maxCheckTimeoutMs);
      for await (const event of this.deps.validationRunner.run(connector, { checkTimeoutMs }, ctx.signal)) {
        if (event.kind === 'summary') ctx.span.setAttribute('sourced.validation.ok', event.ok);
        yield toValidationResponse(event);
      }
    } finally {
      await connector.close();
    }
  }

  async *discover(req: DiscoverDataSourceRequest, ctx: CallContext): AsyncGenerator<Omit<DiscoverDataSourceResponse, 'sequence'>> {
    const strategy = req.strategy ? toStrategy(req.strategy) : this.deps.config.discovery.defaultStrategy;
    if (!strategy) throw new InputError([{ field: 'strategy', description: `${req.strategy} is not a DiscoveryStrategy` }]);
    const request = {
      filter: toFilter(req.filter),
      strategy,
      batchSize: req.batchSize,
      resumeAfter: req.resumeAfter,
      sampling: { sampleSize: req.sampling?.sampleSize, maxTimeMs: req.sampling?.maxTimeMs, maxFields: req.sampling?.maxFields },
      // The daemon's cap applies to every discovery: none asks past it, and one that asks nothing gets it.
      maxEntities: cap(req.maxEntities, this.deps.config.limits.maxEntities),
      maxDurationMs: req.maxDurationMs,
      stallTimeoutMs: this.deps.config.discovery.stallTimeoutMs,
      stallProbeAfterMs: this.deps.config.discovery.stallProbeAfterMs,
    };
    const maxSample = this.deps.config.limits.maxSampleSize;
    if (req.sampling?.sampleSize && req.sampling.sampleSize > maxSample) {
      throw new InputError([{ field: 'sampling.sample_size', description: `${req.sampling.sampleSize} is more than this daemon's maximum of ${maxSample} (limits.maxSampleSize)` }]);
    }
    // Bad filters, batch sizes and cursors fail before any connection is opened.
    DiscoveryEngine.validateRequest(request);
    const connector = await this.connect(req.dataSource, ctx);
    ctx.span.setAttribute('sourced.discovery.strategy', strategy);
    for await (const event of this.deps.discoveryEngine.run(connector, request, ctx.signal)) {
      for (const response of toDiscoveryResponses(event, (r) => encodeCursor(r))) yield response;
      // The batch is written: its memory is garbage now.
      if (event.kind === 'batch') this.deps.heapGuard.check();
    }
  }

  async *preview(req: PreviewTableRequest, ctx: CallContext): AsyncGenerator<Omit<PreviewTableResponse, 'sequence'>> {
    const strategy = req.strategy ? toStrategy(req.strategy) : this.deps.config.discovery.defaultStrategy;
    if (!strategy) throw new InputError([{ field: 'strategy', description: `${req.strategy} is not a DiscoveryStrategy` }]);
    if (!req.table) throw new InputError([{ field: 'table', description: 'is required: the schema and name of a table, view or collection' }], { reason: 'INVALID_REQUEST' });
    const request = {
      table: { schema: req.table.schema, name: req.table.name },
      columns: req.columns,
      limit: req.limit,
      strategy,
      // Discovery's stall bound covers every read of a source, previews' and profiles' too.
      stallTimeoutMs: this.deps.config.discovery.stallTimeoutMs,
      stallProbeAfterMs: this.deps.config.discovery.stallProbeAfterMs,
    };
    // A bad table name, column list or limit fails before any connection is opened.
    this.deps.previewEngine.validateRequest(request);
    const connector = await this.connect(req.dataSource, ctx);
    ctx.span.setAttributes({ 'sourced.preview.schema': request.table.schema, 'sourced.preview.table': request.table.name });
    try {
      for await (const event of this.deps.previewEngine.run(connector, request, ctx.signal)) yield toPreviewResponse(event);
    } finally {
      await connector.close();
    }
  }

  async *profile(req: ProfileTableRequest, ctx: CallContext): AsyncGenerator<Omit<ProfileTableResponse, 'sequence'>> {
    const strategy = req.strategy ? toStrategy(req.strategy) : this.deps.config.discovery.defaultStrategy;
    if (!strategy) throw new InputError([{ field: 'strategy', description: `${req.strategy} is not a DiscoveryStrategy` }]);
    const mode = toProfileMode(req.mode);
    if (!mode) throw new InputError([{ field: 'mode', description: `${req.mode} is not a ProfileMode` }]);
    if (!req.table) throw new InputError([{ field: 'table', description: 'is required: the schema and name of a table, view or collection' }], { reason: 'INVALID_REQUEST' });
    const request = {
      table: { schema: req.table.schema, name: req.table.name },
      columns: req.columns,
      mode,
      sampleRows: req.sampleRows,
      mostCommonLimit: req.mostCommonLimit,
      histogramBuckets: req.histogramBuckets,
      strategy,
      stallTimeoutMs: this.deps.config.discovery.stallTimeoutMs,
      stallProbeAfterMs: this.deps.config.discovery.stallProbeAfterMs,
    };
    // A bad table name, column list or size fails before any connection is opened.
    this.deps.profileEngine.validateRequest(request);
    const connector = await this.connect(req.dataSource, ctx);
    ctx.span.setAttributes({ 'sourced.profile.schema': request.table.schema, 'sourced.profile.table': request.table.name, 'sourced.profile.mode': mode });
    try {
      for await (const event of this.deps.profileEngine.run(connector, request, ctx.signal)) yield toProfileResponse(event);
    } finally {
      await connector.close();
    }
  }

  /**
   * Normalizes the request's data source and creates its connector; bad input is an
   * InputError naming the field, a refused secret reference, grant or target a NotAllowedError.
   */
  private async connect(input: ValidateDataSourceRequest['dataSource'], ctx: CallContext): Promise<Connector> {
    if (!input) throw new InputError([{ field: 'data_source', description: 'is required' }]);
    // The caller's connect timeout never exceeds the daemon's maximum (limits.maxConnectTimeoutMs).
    const source: DataSource = capConnectTimeout(normalizeDataSource(toDataSourceInput(input), this.deps.pluginRegistry), this.deps.config.limits.maxConnectTimeoutMs);
    const hosts = [source.primary.host, ...(source.secondary ? [source.secondary.host] : [])].filter((h) => h !== '');
    ctx.noteDataSource({ id: source.id || undefined, type: source.type, host: hosts.length ? `${source.primary.host}${source.primary.port ? `:${source.primary.port}` : ''}` : undefined });
    // Every reference the call could try (the caller's, its TLS files, the dynamic variables
    // its id names) is checked against the policy before anything runs: a refused one the call
    // needs fails it (PERMISSION_DENIED), a refused fallback is left out.
    const secretAccess = this.deps.secretChain.checkPolicy(source);
    // So does a connector, host or required secret reference none of the caller's roles grants;
    // the granting role's secret grants then bound every link the call's chain tries.
    const grant = this.deps.authorizer.checkSource(ctx.principal, ctx.rpc, { type: source.type, hosts, secrets: secretAccess });
    const secrets = this.deps.secretChain.forCall(grant);
    // And so does an endpoint the target policy refuses. Every dial is checked again (a name
    // may resolve elsewhere by then); this up-front check makes the usual case one clear error.
    await this.checkTargets(source, ctx.signal);
    ctx.span.setAttributes({
      'sourced.data_source.type': source.type,
      'sourced.data_source.location': source.location,
      ...(source.primary.host ? { 'server.address': source.primary.host } : {}),
      ...(source.id ? { 'sourced.data_source.id': source.id } : {}),
    });
    const definition = this.deps.pluginRegistry.connector(source.type);
    return definition.create(source, {
      secrets,
      logger: ctx.logger.child({ connector: source.type, data_source: source.id || undefined }),
      tracer: this.deps.tracer,
      meter: this.deps.meter,
      applicationName: APPLICATION_NAME,
      tokens: this.tokenMinter(ctx, secrets),
      connectionBudget: this.deps.connectionBudget,
      targets: this.deps.targetPolicy,
    });
  }

  /**
   * Resolves each endpoint through the target policy and throws its TargetDeniedError when
   * one is refused. A name that does not resolve (or is a `mongodb+srv` name with SRV
   * records only) passes here: validation reports it, and every dial is vetted anyway.
   */
  private async checkTargets(source: DataSource, signal: AbortSignal): Promise<void> {
    const policy = this.deps.targetPolicy;
    for (const endpoint of [source.primary, ...(source.secondary ? [source.secondary] : [])]) {
      if (!endpoint.host) continue; // a file-based source: nothing is dialled
      try {
        await raceSignal(policy.resolve(endpoint.host), signal);
      } catch (error) {
        if (error instanceof TargetDeniedError || signal.aborted) throw error;
      }
    }
  }

  /** Database tokens for `use_iam_auth`, minted by the provider plugin of the data source's cloud, traced. */
  private tokenMinter(ctx: CallContext, secrets: CallSecrets): DatabaseTokenMinter {
    const { pluginRegistry, tracer } = this.deps;
    return {
      mint: (request, signal) => {
        const cloud = tokenCloudOf(request.source);
        const provider = pluginRegistry.tokenProvider(cloud);
        if (!provider) {
          throw new SourcedError('TOKEN_PROVIDER_MISSING', `use_iam_auth needs a ${cloud} database token provider, and no loaded plugin provides one; load ${TOKEN_PLUGIN_OF[cloud]}`);
        }
        return withSpan(tracer, 'sourced.token.mint', { 'sourced.token.provider': provider.id, 'server.address': request.host }, async () => {
          const token = await provider.mint(request, {
            signal,
            logger: ctx.logger.child({ token_provider: provider.id }),
            resolveSecret: (input) => secrets.resolveInput(input, request.source, signal),
          });
          return { ...token, provider: provider.id };
        });
      },
    };
  }
}

/** A requested count under a cap: the smaller of the two, where 0 means none. */
function cap(requested: number, limit: number): number {
  if (limit <= 0) return requested;
  return requested > 0 ? Math.min(requested, limit) : limit;
}
