import { context, createNoopMeter, isSpanContextValid, metrics, propagation, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
// NodeSDK (and what it pulls: every exporter, instrumentation, logs) is loaded only when the
// process-wide SDK starts, not by embedded daemons and tests.
import type * as SdkNode from '@opentelemetry/sdk-node';
import type * as SdkNodeUtils from '@opentelemetry/sdk-node/build/src/utils';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import { NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { startPrometheus, type PrometheusEndpoint } from './metrics';

/** The daemon's tracer and meter, what exports them, and how to flush them at shutdown. */
export interface Telemetry {
  tracer: Tracer;
  /** Where the daemon and core's engines record; a no-op meter when nothing reads the measurements. */
  meter: Meter;
  /** `sdk` when the process-wide NodeSDK exports (`sourced serve`), `local` for an embedded daemon's own providers. */
  mode: 'sdk' | 'local';
  /** Trace exporters, for the start-up log line: `otlp/http/protobuf`, `console`, `zipkin`, or `none`. */
  traceExporters: string[];
  /** Metric exporters, for the start-up log line: `otlp/grpc`, `prometheus http://127.0.0.1:9464/metrics`, `console`, or `none`. */
  metricExporters: string[];
  /** Flushes and stops every processor and reader (and the Prometheus endpoint); harmless more than once. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion: string;
  /**
   * An explicit environment (embedding hosts, tests). When given, or when span processors or
   * metric readers are passed, the daemon does not start the process-wide SDK (see
   * `startTelemetry`); its `OTEL_*` exporter variables other than `prometheus`/`none` are then
   * refused rather than ignored.
   */
  env?: NodeJS.ProcessEnv;
  /** The Prometheus scrape endpoint of the daemon's configuration (`metrics.prometheus`); off when absent. */
  prometheus?: { host?: string; port?: number };
  /** Span processors of an embedding host (an in-memory exporter in tests). */
  spanProcessors?: SpanProcessor[];
  /** Metric readers of an embedding host (an in-memory one in tests). */
  metricReaders?: MetricReader[];
}

const TRACE_EXPORTERS = ['otlp', 'console', 'zipkin', 'none'];
const METRIC_EXPORTERS = ['otlp', 'console', 'prometheus', 'none'];

/** Whether a daemon of this process runs the process-wide NodeSDK now (it registers the API's globals). */
let sdkOwned = false;

/**
 * Starts the daemon's OpenTelemetry. Two ways, chosen by the caller:
 *
 * - **The process's SDK** (`sourced serve`: no `env`, span processors or metric readers):
 *   `@opentelemetry/sdk-node`'s `NodeSDK`, configured by the standard variables it reads from
 *   `process.env` — `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `zipkin`), `OTEL_METRICS_EXPORTER`
 *   (`otlp`, `console`, `prometheus`), `OTEL_EXPORTER_OTLP_*` (protocol, endpoint, headers,
 *   timeouts, per signal), `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
 *   `OTEL_PROPAGATORS`, `OTEL_BSP_*`, `OTEL_METRIC_EXPORT_*`, span limits, `OTEL_LOG_LEVEL`. It
 *   registers the API's global tracer and meter providers, context manager and propagator, so
 *   only one such daemon runs per process. Where the daemon differs from the SDK's defaults:
 *   no exporter unless one is named (the SDK's default is OTLP to localhost), no logs provider,
 *   resource detectors `env` and `host` unless `OTEL_NODE_RESOURCE_DETECTORS` names others (the
 *   `process` detector would put the command line on every span), and the Prometheus endpoint
 *   is the daemon's own (below).
 * - **Local providers** (embedding hosts and tests, which run several daemons in one process):
 *   a tracer provider over the given span processors and a meter provider over the given
 *   readers, not registered globally; the W3C context manager and propagator are installed if
 *   nothing registered any yet. NodeSDK cannot serve this: it reads only `process.env`,
 *   registers process-wide globals and keeps its providers private.
 *
 * Either way the Prometheus endpoint (`metrics.prometheus` of the configuration, or `prometheus`
 * in `OTEL_METRICS_EXPORTER`) is the daemon's own reader, not the SDK's: it binds 127.0.0.1
 * unless told otherwise (the SDK's binds every interface), the configuration's host and port win
 * over `OTEL_EXPORTER_PROMETHEUS_HOST`/`_PORT`, and a port in use stops the start (the SDK's
 * exporter only logs it). `OTEL_SDK_DISABLED=true` starts local providers with nothing to
 * export (trace ids still appear in logs and errors).
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const local = options.env !== undefined || options.spanProcessors !== undefined || options.metricReaders !== undefined;
  const env = options.env ?? process.env;
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  const traceNames = exporterNames(env, 'OTEL_TRACES_EXPORTER', TRACE_EXPORTERS);
  const metricNames = exporterNames(env, 'OTEL_METRICS_EXPORTER', METRIC_EXPORTERS);
  if (local && !disabled) {
    const refused = [...traceNames.map((n) => ['OTEL_TRACES_EXPORTER', n]), ...metricNames.map((n) => ['OTEL_METRICS_EXPORTER', n])].find(
      ([, n]) => n !== 'none' && n !== 'prometheus',
    );
    if (refused) {
      throw new Error(
        `${refused[0]}=${refused[1]}: an embedded daemon (given an env, span processors or metric readers) does not start the process-wide OpenTelemetry SDK; pass span processors or metric readers instead`,
      );
    }
  }
  const prometheus = !disabled && (options.prometheus || metricNames.includes('prometheus')) ? await startPrometheus(options.prometheus, env) : undefined;
  if (!local && !disabled && sdkOwned) {
    await prometheus?.exporter.shutdown();
    throw new Error("another daemon of this process already runs the process's OpenTelemetry SDK; give this one span processors or metric readers");
  }
  return local || disabled ? localProviders(options, disabled, prometheus) : processSdk(options, env, traceNames, metricNames, prometheus);
}

function processSdk(
  options: TelemetryOptions,
  env: NodeJS.ProcessEnv,
  traceNames: string[],
  metricNames: string[],
  prometheus: PrometheusEndpoint | undefined,
): Telemetry {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see the imports
  const { NodeSDK, metrics: sdkMetrics, resources: sdkResources } = require('@opentelemetry/sdk-node') as typeof SdkNode;
  // NodeSDK's own env readers for the OTLP metric exporter and its periodic reader. They are not
  // on the package's index; the package has no `exports` map and is pinned exactly, and the
  // compiler checks these signatures on every upgrade.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { getOtlpMetricExporterFromEnv, getPeriodicExportingMetricReaderFromEnv } = require('@opentelemetry/sdk-node/build/src/utils') as typeof SdkNodeUtils;
  const traces = traceNames.filter((n) => n !== 'none');
  const pushMetrics = metricNames.filter((n) => n !== 'none' && n !== 'prometheus');
  // undefined: NodeSDK chooses from OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER itself.
  // Without exporters the tracer provider still exists (a span processor that drops every span):
  // the trace ids in logs, errors and the audit log come from it.
  const spanProcessors = traces.length ? undefined : [new NoopSpanProcessor()];
  // Passing readers replaces NodeSDK's environment choice, so with the daemon's Prometheus
  // endpoint the OTLP and console readers are built here, by NodeSDK's own env readers.
  let metricReaders: SdkNode.metrics.IMetricReader[] | undefined;
  if (prometheus) {
    metricReaders = [prometheus.exporter];
    for (const name of pushMetrics) {
      if (name === 'otlp') metricReaders.push(getPeriodicExportingMetricReaderFromEnv(getOtlpMetricExporterFromEnv()));
      else metricReaders.push(new sdkMetrics.PeriodicExportingMetricReader({ exporter: new sdkMetrics.ConsoleMetricExporter() }));
    }
  } else if (pushMetrics.length === 0) {
    metricReaders = [];
  }
  // An SDK the host process registered first keeps the API's globals (the API refuses a second
  // registration): the daemon then records into it, and must not unregister it at stop. Any SDK
  // gives a root span a valid context, sampled or not; the API's no-op tracer does not.
  const hostSdk = isSpanContextValid(trace.getTracer('sourced').startSpan('probe', { root: true }).spanContext());
  const sdk = new NodeSDK({
    // service.name "sourced" unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES says otherwise
    // (the env detector's attributes are merged over these).
    resource: sdkResources
      .defaultResource()
      .merge(sdkResources.resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName, [ATTR_SERVICE_VERSION]: options.serviceVersion })),
    resourceDetectors: env.OTEL_NODE_RESOURCE_DETECTORS?.trim() ? undefined : [sdkResources.envDetector, sdkResources.hostDetector],
    spanProcessors,
    metricReaders,
    // The daemon writes its own JSON log; OTEL_LOGS_EXPORTER would otherwise default to OTLP.
    logRecordProcessors: [],
  });
  sdk.start();
  sdkOwned = true;
  let stopped: Promise<void> | undefined;
  return {
    tracer: trace.getTracer('sourced', options.serviceVersion),
    meter: metrics.getMeter('sourced', options.serviceVersion),
    mode: 'sdk',
    traceExporters: traces.length ? traces.map((n) => describe(n, env, 'TRACES')) : ['none'],
    metricExporters: describeMetrics(pushMetrics, env, prometheus),
    shutdown: () =>
      (stopped ??= (async () => {
        // Flushes the batch span processor and the periodic readers, stops the Prometheus endpoint.
        await sdk.shutdown().catch(() => undefined);
        // Unregisters the globals, so that a later daemon of this process can start its own SDK.
        if (!hostSdk) {
          trace.disable();
          metrics.disable();
          propagation.disable();
          context.disable();
        }
        sdkOwned = false;
      })()),
  };
}

function localProviders(options: TelemetryOptions, disabled: boolean, prometheus: PrometheusEndpoint | undefined): Telemetry {
  installContext();
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: (options.env ?? process.env).OTEL_SERVICE_NAME?.trim() || options.serviceName,
    [ATTR_SERVICE_VERSION]: options.serviceVersion,
  });
  const tracerProvider = new NodeTracerProvider({ resource, spanProcessors: options.spanProcessors ?? [] });
  const readers: MetricReader[] = [...(options.metricReaders ?? [])];
  if (prometheus) readers.push(prometheus.exporter);
  const meterProvider = readers.length ? new MeterProvider({ resource, readers }) : undefined;
  let stopped: Promise<void> | undefined;
  return {
    tracer: tracerProvider.getTracer('sourced', options.serviceVersion),
    // Nothing would read the measurements: record nothing at all.
    meter: meterProvider?.getMeter('sourced', options.serviceVersion) ?? createNoopMeter(),
    mode: 'local',
    traceExporters: ['none'],
    metricExporters: disabled ? ['none'] : describeMetrics([], options.env ?? process.env, prometheus),
    shutdown: () =>
      (stopped ??= Promise.all([tracerProvider.shutdown(), meterProvider?.shutdown()]).then(
        () => undefined,
        () => undefined,
      )),
  };
}

/** The W3C context manager and propagator, for the local providers, unless something registered its own. */
function installContext(): void {
  const manager = new AsyncLocalStorageContextManager().enable();
  if (!context.setGlobalContextManager(manager)) manager.disable();
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/** The comma-separated exporter names of a variable; an unknown one stops the start, as a typo would otherwise export nothing. */
function exporterNames(env: NodeJS.ProcessEnv, variable: string, known: string[]): string[] {
  const names = [
    ...new Set(
      (env[variable] ?? '')
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
  const unknown = names.find((n) => !known.includes(n));
  if (unknown !== undefined) throw new Error(`${variable}: unknown exporter "${unknown}"; use ${known.join(', ')}`);
  return names;
}

function describe(name: string, env: NodeJS.ProcessEnv, signal: 'TRACES' | 'METRICS'): string {
  if (name !== 'otlp') return name;
  return `otlp/${(env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim() || 'http/protobuf'}`;
}

function describeMetrics(pushMetrics: string[], env: NodeJS.ProcessEnv, prometheus: PrometheusEndpoint | undefined): string[] {
  const out = [...(prometheus ? [prometheus.url] : []), ...pushMetrics.map((n) => describe(n, env, 'METRICS'))];
  return out.length ? out : ['none'];
}
