import { createNoopMeter, ValueType, type Counter, type Histogram, type Meter } from '@opentelemetry/api';
import { OTLPMetricExporter as OtlpGrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as OtlpHttpJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

/** The daemon's meter and how to flush it at shutdown. */
export interface Metrics {
  /** Where the daemon and core's engines record; a no-op meter when no exporter or reader is configured. */
  meter: Meter;
  /** Exporters chosen, for the start-up log line: `otlp/http/protobuf`, `prometheus http://127.0.0.1:9464/metrics`, `console`, or `none`. */
  exporters: string[];
  /** Exports what was recorded so far (the periodic readers); the Prometheus endpoint is always current. */
  forceFlush(): Promise<void>;
  /** Flushes and stops every reader (and the Prometheus endpoint); harmless more than once. */
  shutdown(): Promise<void>;
}

export interface MetricsOptions {
  serviceName: string;
  serviceVersion: string;
  env?: NodeJS.ProcessEnv;
  /** The Prometheus scrape endpoint of the daemon's configuration (`metrics.prometheus`); off when absent. */
  prometheus?: { host?: string; port?: number };
  /** Extra readers, for example an in-memory one in tests. */
  metricReaders?: MetricReader[];
}

/** The host the Prometheus endpoint binds when neither the configuration nor `OTEL_EXPORTER_PROMETHEUS_HOST` names one. */
export const DEFAULT_PROMETHEUS_HOST = '127.0.0.1';
/** Prometheus's registered port for OpenTelemetry exporters. */
export const DEFAULT_PROMETHEUS_PORT = 9464;

/**
 * Builds the meter provider from the standard OpenTelemetry variables and the daemon's
 * configuration:
 * - `OTEL_METRICS_EXPORTER`: `none` (default), `otlp`, `prometheus`, `console`, comma-separated;
 * - `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`,
 *   `http/protobuf` (default), `http/json`; the endpoint, header and temporality variables
 *   (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT`, ...) are read by the exporters;
 * - `OTEL_METRIC_EXPORT_INTERVAL` / `OTEL_METRIC_EXPORT_TIMEOUT` (ms, default 60000 / 30000);
 * - the Prometheus endpoint: `metrics.prometheus` of the configuration (`SOURCED_PROMETHEUS_PORT`), or
 *   `prometheus` in `OTEL_METRICS_EXPORTER`; host and port default to `OTEL_EXPORTER_PROMETHEUS_HOST`
 *   / `OTEL_EXPORTER_PROMETHEUS_PORT`, then 127.0.0.1:9464. The endpoint is listening when this resolves.
 * `OTEL_SDK_DISABLED=true` turns every exporter off (readers passed in still work).
 */
export async function createMetrics(options: MetricsOptions): Promise<Metrics> {
  const env = options.env ?? process.env;
  const readers: MetricReader[] = [...(options.metricReaders ?? [])];
  const exporters: string[] = [];
  const names = (env.OTEL_METRICS_EXPORTER ?? 'none').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const disabled = env.OTEL_SDK_DISABLED === 'true';
  let prometheus: PrometheusExporter | undefined;
  if (!disabled) {
    const intervalMs = positiveMs(env.OTEL_METRIC_EXPORT_INTERVAL, 'OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000;
    const timeoutMs = Math.min(intervalMs, positiveMs(env.OTEL_METRIC_EXPORT_TIMEOUT, 'OTEL_METRIC_EXPORT_TIMEOUT') ?? 30_000);
    const periodic = (exporter: PushMetricExporter) =>
      new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: intervalMs, exportTimeoutMillis: timeoutMs });
    for (const name of new Set(names)) {
      if (name === 'none' || name === 'prometheus') continue;
      if (name === 'console') {
        readers.push(periodic(new ConsoleMetricExporter()));
        exporters.push('console');
      } else if (name === 'otlp') {
        const protocol = (env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').toLowerCase();
        let exporter: PushMetricExporter;
        if (protocol === 'grpc') exporter = new OtlpGrpcMetricExporter();
        else if (protocol === 'http/json') exporter = new OtlpHttpJsonMetricExporter();
        else exporter = new OtlpProtoMetricExporter();
        readers.push(periodic(exporter));
        exporters.push(`otlp/${protocol}`);
      } else {
        throw new Error(`OTEL_METRICS_EXPORTER: unknown exporter "${name}"; use otlp, prometheus, console or none`);
      }
    }
    if (options.prometheus || names.includes('prometheus')) {
      const host = options.prometheus?.host || env.OTEL_EXPORTER_PROMETHEUS_HOST || DEFAULT_PROMETHEUS_HOST;
      const port = options.prometheus?.port || portOf(env.OTEL_EXPORTER_PROMETHEUS_PORT) || DEFAULT_PROMETHEUS_PORT;
      prometheus = new PrometheusExporter({ host, port, preventServerStart: true });
      try {
        await prometheus.startServer();
      } catch (error) {
        await Promise.all(readers.map((r) => r.shutdown().catch(() => undefined)));
        throw new Error(`cannot serve Prometheus metrics on ${host}:${port}: ${(error as Error).message}`);
      }
      // The exporter is built on its own copy of sdk-metrics (2.12.0, pinned); the reader
      // contract is the same, only TypeScript's private-member check tells the copies apart.
      readers.push(prometheus as unknown as MetricReader);
      exporters.push(`prometheus http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`);
    }
  }
  if (readers.length === 0) {
    // Nothing would read the measurements: record nothing at all.
    return { meter: createNoopMeter(), exporters: ['none'], forceFlush: async () => undefined, shutdown: async () => undefined };
  }
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME ?? options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion,
    }),
    readers,
  });
  let stopped: Promise<void> | undefined;
  return {
    meter: provider.getMeter('sourced', options.serviceVersion),
    exporters: exporters.length ? exporters : ['none'],
    forceFlush: () => provider.forceFlush(),
    shutdown: () => (stopped ??= provider.shutdown().catch(() => undefined)),
  };
}

/** The daemon's own RPC instruments (`rpc.server.duration`, `rpc.server.requests`). */
export interface RpcMetrics {
  /** Records one finished call: its full method (`sourced.v1.DataSourceService/DiscoverDataSource`), gRPC status code and duration. */
  record(fullMethod: string, code: number, durationMs: number): void;
}

/**
 * Histogram buckets of `rpc.server.duration`, ms: validations take milliseconds to seconds,
 * discoveries of large catalogs minutes.
 */
const DURATION_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000];

/**
 * The RPC instruments on a meter. Attributes: `rpc.system` (grpc), `rpc.method` (the full
 * method: only the daemon's registered methods reach the handlers) and `rpc.grpc.status_code`.
 */
export function rpcMetrics(meter: Meter): RpcMetrics {
  const duration: Histogram = meter.createHistogram('rpc.server.duration', {
    description: 'Duration of the RPCs the daemon served, from the call to its status',
    unit: 'ms',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS_MS },
  });
  const requests: Counter = meter.createCounter('rpc.server.requests', { description: 'RPCs the daemon served, by method and status', unit: '{request}', valueType: ValueType.INT });
  return {
    record(fullMethod, code, durationMs) {
      const attributes = { 'rpc.system': 'grpc', 'rpc.method': fullMethod, 'rpc.grpc.status_code': code };
      duration.record(durationMs, attributes);
      requests.add(1, attributes);
    },
  };
}

function positiveMs(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: "${raw}" is not a positive number of milliseconds`);
  return n;
}

function portOf(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`OTEL_EXPORTER_PROMETHEUS_PORT: "${raw}" is not a port (1-65535)`);
  return n;
}
