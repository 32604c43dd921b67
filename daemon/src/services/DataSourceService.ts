import type { Meter, Tracer } from '@opentelemetry/api';
import {
  describeError,
  encodeCursor,
  raceSignal,
  SourcedError,
  TargetDeniedError,
  TOKEN_PLUGIN_OF,
  tokenCloudOf,
  withSpan,
  type CallSecrets,
  type ConnectionBudget,
  type Connector,
  type DatabaseTokenMinter,
  type DataSource,
  type DiscoveryEngine,
  type Logger,
  type PreviewEngine,
  type ProfileEngine,
  type SecretChain,
  type TargetPolicy,
  type ValidationRunner,
} from '@sourced/core';
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
import type { DaemonConfig } from '../config/DaemonConfig';
import { serverStreaming, type CallContext, type HandlerDeps } from '../grpc/callHandlers';
import { toDiscoveryResponses, toPreviewResponse, toProfileResponse, toValidationResponse } from '../grpc/mapping';
import type { PluginRegistry } from '../plugins/PluginRegistry';
import type { HeapGuard } from '../runtime/HeapGuard';
import type { Authorizer } from '../security/authorize';
import { RequestParser, type DiscoverCall, type PreviewCall, type ProfileCall, type ValidateCall } from './requests';

/** The daemon's name as sent to sources (PostgreSQL application_name). */
export const APPLICATION_NAME = 'sourced';

const SERVICE = 'sourced.v1.DataSourceService';

/** DataSourceService: validation, discovery, preview and profile, each a stream. */
export class DataSourceService {
  /** Parses each request once, before its handler runs. */
  private readonly requests: RequestParser;

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
  ) {
    this.requests = new RequestParser(deps);
  }

  /** The grpc-js implementation object: each request parsed once by {@link RequestParser}, then handled. */
  implementation(): DataSourceServiceServer {
    const h = this.deps.handlerDeps;
    const parse = this.requests;
    return {
      validateDataSource: serverStreaming<ValidateDataSourceRequest, ValidateCall, ValidateDataSourceResponse>(
        h,
        `${SERVICE}/ValidateDataSource`,
        (req) => parse.validate(req),
        (call, ctx) => this.validate(call, ctx),
      ),
      discoverDataSource: serverStreaming<DiscoverDataSourceRequest, DiscoverCall, DiscoverDataSourceResponse>(
        h,
        `${SERVICE}/DiscoverDataSource`,
        (req) => parse.discover(req),
        (call, ctx) => this.discover(call, ctx),
      ),
      previewTable: serverStreaming<PreviewTableRequest, PreviewCall, PreviewTableResponse>(
        h,
        `${SERVICE}/PreviewTable`,
        (req) => parse.preview(req),
        (call, ctx) => this.preview(call, ctx),
      ),
      profileTable: serverStreaming<ProfileTableRequest, ProfileCall, ProfileTableResponse>(
        h,
        `${SERVICE}/ProfileTable`,
        (req) => parse.profile(req),
        (call, ctx) => this.profile(call, ctx),
      ),
    };
  }

  validate(call: ValidateCall, ctx: CallContext): AsyncGenerator<Omit<ValidateDataSourceResponse, 'sequence'>> {
    return this.withConnector(call.source, ctx, (connector) => this.validationEvents(connector, call, ctx));
  }

  discover(call: DiscoverCall, ctx: CallContext): AsyncGenerator<Omit<DiscoverDataSourceResponse, 'sequence'>> {
    return this.withConnector(call.source, ctx, (connector) => this.discoveryEvents(connector, call, ctx));
  }

  preview(call: PreviewCall, ctx: CallContext): AsyncGenerator<Omit<PreviewTableResponse, 'sequence'>> {
    return this.withConnector(call.source, ctx, (connector) => this.previewEvents(connector, call, ctx));
  }

  profile(call: ProfileCall, ctx: CallContext): AsyncGenerator<Omit<ProfileTableResponse, 'sequence'>> {
    return this.withConnector(call.source, ctx, (connector) => this.profileEvents(connector, call, ctx));
  }

  private async *validationEvents(connector: Connector, call: ValidateCall, ctx: CallContext): AsyncGenerator<Omit<ValidateDataSourceResponse, 'sequence'>> {
    for await (const event of this.deps.validationRunner.run(connector, { checkTimeoutMs: call.checkTimeoutMs }, ctx.signal)) {
      if (event.kind === 'summary') ctx.span.setAttribute('sourced.validation.ok', event.ok);
      yield toValidationResponse(event);
    }
  }

  private async *discoveryEvents(
    connector: Connector,
    { request }: DiscoverCall,
    ctx: CallContext,
  ): AsyncGenerator<Omit<DiscoverDataSourceResponse, 'sequence'>> {
    ctx.span.setAttribute('sourced.discovery.strategy', request.strategy);
    for await (const event of this.deps.discoveryEngine.run(connector, request, ctx.signal)) {
      // Columns go to the wire from their entities (grpc/discoveryEncoding.ts, the service's serializer).
      for (const response of toDiscoveryResponses(event, (r) => encodeCursor(r), { entityColumns: true })) yield response;
      // The batch is written: its memory is garbage now.
      if (event.kind === 'batch') this.deps.heapGuard.check();
    }
  }

  private async *previewEvents(
    connector: Connector,
    { request, binaryCells }: PreviewCall,
    ctx: CallContext,
  ): AsyncGenerator<Omit<PreviewTableResponse, 'sequence'>> {
    ctx.span.setAttributes({ 'sourced.preview.schema': request.table.schema, 'sourced.preview.table': request.table.name });
    for await (const event of this.deps.previewEngine.run(connector, request, ctx.signal)) yield toPreviewResponse(event, binaryCells);
  }

  private async *profileEvents(
    connector: Connector,
    { request, binaryCells }: ProfileCall,
    ctx: CallContext,
  ): AsyncGenerator<Omit<ProfileTableResponse, 'sequence'>> {
    ctx.span.setAttributes({
      'sourced.profile.schema': request.table.schema,
      'sourced.profile.table': request.table.name,
      'sourced.profile.mode': request.mode,
    });
    for await (const event of this.deps.profileEngine.run(connector, request, ctx.signal)) yield toProfileResponse(event, binaryCells);
  }

  /**
   * The one place a call's connector lives: created for the call's data source (after the
   * secret policy, RBAC and the target policy allow it), used by `use`, and closed on every exit
   * path: the end of the stream, an error, the client going away (grpc-js's iterator `return`
   * reaches this `finally` through `yield*`). Connectors may be closed more than once (the
   * discovery engine also closes its connector when a run ends). A close that fails is logged;
   * it does not change how the call ended.
   */
  private async *withConnector<T>(source: DataSource, ctx: CallContext, use: (connector: Connector) => AsyncIterable<T>): AsyncGenerator<T> {
    const connector = await this.connect(source, ctx);
    try {
      yield* use(connector);
    } finally {
      await connector.close().catch((error: unknown) => ctx.logger.warn('closing the connector failed', { error: describeError(error) }));
    }
  }

  /**
   * Creates the connector of a parsed data source; a refused secret reference, grant or target
   * is a NotAllowedError. Only {@link withConnector} calls it.
   */
  private async connect(source: DataSource, ctx: CallContext): Promise<Connector> {
    const hosts = [source.primary.host, ...(source.secondary ? [source.secondary.host] : [])].filter((h) => h !== '');
    ctx.noteDataSource({
      id: source.id || undefined,
      type: source.type,
      host: hosts.length ? `${source.primary.host}${source.primary.port ? `:${source.primary.port}` : ''}` : undefined,
    });
    // Every reference the call could try (the caller's, its TLS files, the dynamic variables
    // its id names) is checked against the policy before anything runs: a refused one the call
    // needs fails it (PERMISSION_DENIED), a refused fallback is left out.
    const secretAccess = this.deps.secretChain.checkPolicy(source);
    // So does a connector, host or required secret reference none of the caller's roles grants;
    // the granting role's secret grants then bound every link the call's chain tries.
    const grants = this.deps.authorizer.checkSourceGrants(ctx.principal, ctx.rpc, { type: source.type, hosts, secrets: secretAccess });
    // Envelopes the chain opens are bound by the same role's key grants, and recorded in the audit line.
    const secrets = this.deps.secretChain.forCall(grants.secrets, { keys: grants.keys, onKeyUse: (use) => ctx.noteKeyUse(use) });
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
          throw new SourcedError(
            'TOKEN_PROVIDER_MISSING',
            `use_iam_auth needs a ${cloud} database token provider, and no loaded plugin provides one; load ${TOKEN_PLUGIN_OF[cloud]}`,
          );
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
