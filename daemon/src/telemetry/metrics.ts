import { ValueType, type Counter, type Histogram, type Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';

/** The host the Prometheus endpoint binds when neither the configuration nor `OTEL_EXPORTER_PROMETHEUS_HOST` names one. */
export const DEFAULT_PROMETHEUS_HOST = '127.0.0.1';
/** Prometheus's registered port for OpenTelemetry exporters. */
export const DEFAULT_PROMETHEUS_PORT = 9464;

/** The daemon's Prometheus scrape endpoint, listening. */
export interface PrometheusEndpoint {
  /** The metric reader (shutting it down closes the endpoint). */
  exporter: PrometheusExporter;
  /** `prometheus http://127.0.0.1:9464/metrics`, for the start-up log line. */
  url: string;
}

/**
 * Starts the Prometheus scrape endpoint: host and port of the configuration
 * (`metrics.prometheus`, `SOURCED_PROMETHEUS_PORT`) first, then `OTEL_EXPORTER_PROMETHEUS_HOST` /
 * `OTEL_EXPORTER_PROMETHEUS_PORT`, then 127.0.0.1:9464. The endpoint is listening when this
 * resolves; a port in use rejects (NodeSDK's own Prometheus exporter binds every interface by
 * default and only logs such a failure, which is why the daemon keeps this one).
 */
export async function startPrometheus(configured: { host?: string; port?: number } | undefined, env: NodeJS.ProcessEnv): Promise<PrometheusEndpoint> {
  const host = configured?.host || env.OTEL_EXPORTER_PROMETHEUS_HOST?.trim() || DEFAULT_PROMETHEUS_HOST;
  const port = configured?.port || portOf(env.OTEL_EXPORTER_PROMETHEUS_PORT) || DEFAULT_PROMETHEUS_PORT;
  const exporter = new PrometheusExporter({ host, port, preventServerStart: true });
  try {
    await exporter.startServer();
  } catch (error) {
    throw new Error(`cannot serve Prometheus metrics on ${host}:${port}: ${(error as Error).message}`, { cause: error });
  }
  return { exporter, url: `prometheus http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics` };
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
  const requests: Counter = meter.createCounter('rpc.server.requests', {
    description: 'RPCs the daemon served, by method and status',
    unit: '{request}',
    valueType: ValueType.INT,
  });
  return {
    record(fullMethod, code, durationMs) {
      const attributes = { 'rpc.system': 'grpc', 'rpc.method': fullMethod, 'rpc.grpc.status_code': code };
      duration.record(durationMs, attributes);
      requests.add(1, attributes);
    },
  };
}

function portOf(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`OTEL_EXPORTER_PROMETHEUS_PORT: "${raw}" is not a port (1-65535)`);
  return n;
}
