import { format } from 'node:util';
import { Server, setLogger } from '@grpc/grpc-js';
import type { Meter } from '@opentelemetry/api';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  ConnectionBudget,
  DiscoveryEngine,
  PreviewEngine,
  ProfileEngine,
  SecretChain,
  TargetPolicy,
  ValidationRunner,
  type Logger,
  type SourcedPlugin,
} from '@sourced/core';
import { asClass, asFunction, asValue, createContainer, InjectionMode, type AwilixContainer } from 'awilix';
import { HealthImplementation } from 'grpc-health-check';
import { DEFAULT_CONFIG, parseListen, type DaemonConfig } from './config/DaemonConfig';
import { DataSourceServiceService } from '@sourced/api';
import { withDiscoveryEncoding } from './grpc/discoveryEncoding';
import { PluginServiceService } from '@sourced/api';
import { SecretServiceService } from '@sourced/api';
import { CallTracker, type HandlerDeps } from './grpc/callHandlers';
import { createReflectionService } from './grpc/reflection';
import { JsonLogger, type LogSink } from './logging/JsonLogger';
import { loadPlugins } from './plugins/loadPlugins';
import { PluginRegistry } from './plugins/PluginRegistry';
import { HeapGuard } from './runtime/HeapGuard';
import { AuditLog, keyId } from './audit/AuditLog';
import { FailureAggregator } from './audit/FailureAggregator';
import { resolveSigningKey } from './audit/signingKey';
import { AuthFailureLimiter } from './security/authFailureLimiter';
import { withSafeDecoding } from './grpc/safeDecoding';
import { Authenticator } from './security/authenticate';
import { Authorizer } from './security/authorize';
import { CallLimiter } from './security/limits';
import { http2ServerOptions, listenGuarded, type GuardedListener } from './security/guardedListener';
import { serverTransport, type ServerTransport } from './security/serverTls';
import { DataSourceService } from './services/DataSourceService';
import { PluginService } from './services/PluginService';
import { SecretService } from './services/SecretService';
import { rpcMetrics } from './telemetry/metrics';
import { startTelemetry, type Telemetry } from './telemetry/sdk';
import { VERSION } from './version';

/** Everything the container holds, by name. */
export interface Cradle {
  config: DaemonConfig;
  logger: Logger;
  /** The OpenTelemetry handle (exporters, shutdown); shut down when the daemon stops, after the calls drained. */
  telemetry: Telemetry;
  tracer: Telemetry['tracer'];
  /** The daemon's meter (a no-op one when no exporter or reader is configured). */
  meter: Meter;
  calls: CallTracker;
  handlerDeps: HandlerDeps;
  pluginRegistry: PluginRegistry;
  secretChain: SecretChain;
  validationRunner: ValidationRunner;
  discoveryEngine: DiscoveryEngine;
  previewEngine: PreviewEngine;
  profileEngine: ProfileEngine;
  connectionBudget: ConnectionBudget;
  targetPolicy: TargetPolicy;
  heapGuard: HeapGuard;
  authenticator: Authenticator;
  authorizer: Authorizer;
  callLimiter: CallLimiter;
  dataSourceService: DataSourceService;
  pluginService: PluginService;
  secretService: SecretService;
  health: HealthImplementation;
}

export interface StartOptions {
  config: DaemonConfig;
  /** Where log lines go (default: stderr). */
  logSink?: LogSink;
  /**
   * Span processors of an embedding host (tests add an in-memory exporter). With these, metric
   * readers or `env`, the daemon uses its own tracer and meter providers instead of starting
   * the process-wide OpenTelemetry SDK (see `telemetry/sdk.ts`).
   */
  spanProcessors?: SpanProcessor[];
  /** Metric readers of an embedding host (tests add an in-memory one), besides the Prometheus endpoint of `config.metrics`. */
  metricReaders?: MetricReader[];
  /** The environment the telemetry reads instead of `process.env` (embedding hosts, tests); `OTEL_*` exporters other than `prometheus` are refused then. */
  env?: NodeJS.ProcessEnv;
  /** Plugin objects to load after `config.plugins` (the plugin SDK's test harness, embedding hosts). */
  plugins?: readonly SourcedPlugin[];
}

/** A running daemon. */
export interface RunningDaemon {
  /** `host:port` actually bound. */
  address: string;
  /** The port actually bound. */
  port: number;
  /** The daemon's awilix container: its services by name (`secretChain`, `connectionBudget`, `pluginRegistry`, ...). */
  container: AwilixContainer<Cradle>;
  /** Stops accepting calls, lets in-flight calls finish within the grace period, cancels the rest, closes everything. */
  stop(): Promise<void>;
  /**
   * Re-reads the server's TLS files (SIGHUP): new connections get the new certificate and
   * client CA. Throws, keeping the old ones, when the files are not usable.
   */
  reloadTls(): void;
}

/** An embedding host's `limits` may predate the authentication-failure limits: what it leaves out keeps its default. */
function authFailureLimiter(limits: Partial<DaemonConfig['limits']>): AuthFailureLimiter {
  return new AuthFailureLimiter(
    limits.authFailureBurst ?? DEFAULT_CONFIG.limits.authFailureBurst,
    limits.authFailuresPerMinute ?? DEFAULT_CONFIG.limits.authFailuresPerMinute,
  );
}

/** The services the health service reports on; '' is the whole server. */
const HEALTH_SERVICES = ['', 'sourced.v1.DataSourceService', 'sourced.v1.PluginService', 'sourced.v1.SecretService'];

/**
 * Builds the container, loads the plugins and starts serving. One strict awilix container
 * per daemon: config, logger, tracer, plugin registry, secret chain, validation runner,
 * discovery engine and the gRPC services, each injected by name.
 */
export async function startDaemon(options: StartOptions): Promise<RunningDaemon> {
  const { config } = options;
  const logger = new JsonLogger(config.logLevel, options.logSink);
  // grpc-js writes its own diagnostics to stderr as plain text; keep the log JSON.
  setLogger({ error: (...args: unknown[]) => logger.warn('grpc-js', { detail: format(...args) }) });
  // Bad authentication settings (an unreadable JWKS) stop the start before anything is loaded.
  const authenticator = new Authenticator(config.auth);
  const pluginRegistry = new PluginRegistry();
  await loadPlugins(config.plugins, pluginRegistry, logger, { settings: config.pluginSettings, plugins: options.plugins });
  // The audit log opens before the daemon serves: a file it cannot continue, or a signing key
  // that cannot be resolved (through the plugins' secret providers), stops the start.
  // An embedding host may pass a partial `audit` section: what it leaves out keeps its default.
  const auditSettings = { ...DEFAULT_CONFIG.audit, ...config.audit };
  const signingKey = auditSettings.signingKey
    ? await resolveSigningKey(auditSettings.signingKey, pluginRegistry.secretProviders(), logger, config.secrets.providerTimeoutMs)
    : undefined;
  const audit =
    auditSettings.file || auditSettings.stdout
      ? await AuditLog.open(auditSettings.file ? { file: auditSettings.file } : { stdout: true }, {
          onError: (error) => logger.error('writing the audit log failed', { error: error.message }),
          signingKey,
          checkpointEveryLines: auditSettings.checkpointEveryLines,
          checkpointEveryMs: auditSettings.checkpointEveryMs,
        })
      : undefined;
  const failureLog = audit ? new FailureAggregator(audit, auditSettings.aggregateFailuresMs) : undefined;
  // The Prometheus endpoint listens once this resolves; a port in use stops the start.
  let telemetry: Telemetry;
  try {
    telemetry = await startTelemetry({
      serviceName: 'sourced',
      serviceVersion: VERSION,
      env: options.env,
      prometheus: config.metrics.prometheus,
      spanProcessors: options.spanProcessors,
      metricReaders: options.metricReaders,
    });
  } catch (error) {
    await audit?.close();
    throw error;
  }

  const container = createContainer<Cradle>({ injectionMode: InjectionMode.PROXY, strict: true });
  container.register({
    config: asValue(config),
    logger: asValue(logger),
    telemetry: asFunction(() => telemetry)
      .singleton()
      .disposer((t) => t.shutdown()),
    tracer: asValue(telemetry.tracer),
    meter: asValue(telemetry.meter),
    pluginRegistry: asValue(pluginRegistry),
    calls: asClass(CallTracker).singleton(),
    authenticator: asValue(authenticator),
    authorizer: asFunction(({ config: c, authenticator: a }: Cradle) => new Authorizer(c.rbac, a.enabled)).singleton(),
    callLimiter: asFunction(({ config: c }: Cradle) => new CallLimiter(c.limits)).singleton(),
    handlerDeps: asFunction(({ tracer, meter, logger: l, calls, authenticator: a, authorizer: z, callLimiter, config: c }: Cradle) => ({
      tracer,
      logger: l,
      calls,
      authenticator: a,
      authorizer: z,
      audit,
      failureLog,
      authFailures: authFailureLimiter(c.limits),
      limiter: callLimiter,
      limits: c.limits,
      metrics: rpcMetrics(meter),
    })).singleton(),
    secretChain: asFunction(
      ({ pluginRegistry: r, config: c, tracer, meter, logger: l }: Cradle) =>
        new SecretChain({
          providers: r.secretProviders(),
          keyProviders: r.keyProviders(),
          policy: { allowedReferences: c.secrets.allowedReferences, dynamicStrategies: c.secrets.dynamicStrategies },
          order: c.secrets.order,
          cacheTtlMs: c.secrets.cacheTtlMs,
          staleIfErrorMs: c.secrets.staleIfErrorMs,
          providerTimeoutMs: c.secrets.providerTimeoutMs,
          tracer,
          meter,
          logger: l,
        }),
    ).singleton(),
    validationRunner: asFunction(({ tracer, logger: l, meter }: Cradle) => new ValidationRunner(tracer, l, meter)).singleton(),
    profileEngine: asFunction(({ tracer, logger: l, config: c }: Cradle) => {
      // Masking and system tables follow the preview settings.
      const { maskColumns, maskTypes, allowSystemSchemas, maskCredentialColumns } = c.preview;
      return new ProfileEngine(tracer, { ...c.profile, maskColumns, maskTypes, allowSystemSchemas, maskCredentialColumns }, l);
    }).singleton(),
    previewEngine: asFunction(({ tracer, logger: l, config: c }: Cradle) => new PreviewEngine(tracer, c.preview, l)).singleton(),
    discoveryEngine: asFunction(({ tracer, logger: l, meter }: Cradle) => new DiscoveryEngine(tracer, l, undefined, meter)).singleton(),
    connectionBudget: asFunction(({ config: c }: Cradle) => new ConnectionBudget(c.sources.maxConnectionsPerEndpoint)).singleton(),
    targetPolicy: asFunction(({ config: c }: Cradle) => new TargetPolicy(c.targets, { dnsServers: c.targets.dnsServers }))
      .singleton()
      .disposer((p) => p.close()),
    heapGuard: asFunction(({ config: c }: Cradle) => new HeapGuard(c.discovery.heapHeadroomMb * 2 ** 20, c.discovery.heapGrowingPercent)).singleton(),
    dataSourceService: asFunction((cradle: Cradle) => new DataSourceService(cradle)).singleton(),
    pluginService: asFunction((cradle: Cradle) => new PluginService(cradle)).singleton(),
    secretService: asFunction((cradle: Cradle) => new SecretService(cradle)).singleton(),
    health: asFunction(() => new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((s) => [s, 'SERVING' as const])))).singleton(),
  });

  // An embedding host may pass a partial `server` section: what it leaves out keeps its default.
  const connectionSettings = { ...DEFAULT_CONFIG.server, ...config.server };
  const server = new Server({ 'grpc.max_receive_message_length': config.limits.maxMessageBytes, ...http2ServerOptions(connectionSettings) });
  const c = container.cradle;
  // Resolved now, so that disposing the container (stop, a failed start) always shuts it down.
  container.resolve('telemetry');
  server.addService(withDiscoveryEncoding(withSafeDecoding(DataSourceServiceService)), c.dataSourceService.implementation());
  server.addService(withSafeDecoding(PluginServiceService), c.pluginService.implementation());
  server.addService(withSafeDecoding(SecretServiceService), c.secretService.implementation());
  c.health.addToServer(server);
  createReflectionService().addToServer(server);

  const { host, port: wantedPort } = parseListen(config.listen, 'listen');
  let transport: ServerTransport;
  try {
    transport = serverTransport(config, logger);
  } catch (error) {
    await audit?.close();
    await container.dispose();
    throw error;
  }
  // Our own listening socket counts connections (overall and per peer) before grpc-js gets them.
  let listener: GuardedListener;
  try {
    listener = await listenGuarded(server, transport.credentials, { host, port: wantedPort }, connectionSettings, logger);
  } catch (error) {
    await telemetry.shutdown();
    throw error;
  }
  const port = listener.port;
  const address = `${host}:${port}`;
  logger.info('sourced listening', {
    address,
    version: VERSION,
    plugins: pluginRegistry.list().map((p) => `${p.id}:${p.state}`),
    connectors: pluginRegistry.known(),
    exporters: telemetry.traceExporters,
    metrics: telemetry.metricExporters,
    ...transport.describe(),
    auth: authenticator.enabled ? authenticator.methods() : 'off',
    audit: config.audit.file ?? (config.audit.stdout ? 'stdout' : 'off'),
    // Names the signing key (an HMAC of a constant), never its value.
    ...(signingKey ? { audit_key_id: keyId(signingKey) } : {}),
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('shutting down', { in_flight: c.calls.size, grace_ms: config.shutdownGraceMs });
      HEALTH_SERVICES.forEach((s) => c.health.setStatus(s, 'NOT_SERVING'));
      listener.close();
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), config.shutdownGraceMs);
      });
      if ((await Promise.race([drained, graceOver])) === 'timeout') {
        logger.warn('grace period over; cancelling in-flight calls', { in_flight: c.calls.size });
        c.calls.abortAll('the daemon is shutting down');
        // Give cancelled calls up to 2 s to release their connections; the timer is cleared so
        // that it does not keep the process alive once they have.
        let cancelTimer: NodeJS.Timeout | undefined;
        await Promise.race([c.calls.idle(), new Promise((r) => (cancelTimer = setTimeout(r, 2000)))]);
        clearTimeout(cancelTimer);
        server.forceShutdown();
      }
      clearTimeout(timer);
      // Last, so that the calls drained above are all recorded.
      failureLog?.close();
      await audit?.close();
      // Disposing the container shuts the telemetry down last: the spans and measurements of
      // the drained calls are flushed.
      await container.dispose();
      logger.info('stopped');
    })());
  return { address, port, container, stop, reloadTls: () => transport.reload() };
}
