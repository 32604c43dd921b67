import { credentials, Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { DEFAULT_CONFIG, startDaemon, type DaemonConfig, type RunningDaemon } from '../../daemon/src';
import {
  DataSourceServiceClient,
  type DiscoverDataSourceRequest,
  type DiscoverDataSourceResponse,
  type ValidateDataSourceRequest,
  type ValidateDataSourceResponse,
} from '../../daemon/src/gen/sourced/v1/data_source_service';
import { PluginServiceClient } from '../../daemon/src/gen/sourced/v1/plugin_service';
import { decodeRichStatus, type RichStatus } from '../../daemon/src/grpc/richStatus';
import { eventually } from './pg';
import { captureSource, captureText, spansText } from './secretScan';

/** A daemon started in this process on a free port, with everything it emits captured. */
export interface TestDaemon {
  daemon: RunningDaemon;
  address: string;
  dataSources: DataSourceServiceClient;
  plugins: PluginServiceClient;
  spans: InMemorySpanExporter;
  /** Every log line, as written. */
  logs: string[];
  /** Collects a validation stream. */
  validate(request: Partial<ValidateDataSourceRequest>, options?: CallOptions): Promise<ValidateDataSourceResponse[]>;
  /** Collects a discovery stream. */
  discover(request: Partial<DiscoverDataSourceRequest>, options?: CallOptions): Promise<DiscoverDataSourceResponse[]>;
  stop(): Promise<void>;
}

export interface CallOptions {
  metadata?: Metadata;
  deadlineMs?: number;
}

/** Starts a daemon with the built-in plugins (or `config.plugins`) on 127.0.0.1:0. */
export async function startTestDaemon(config: Partial<DaemonConfig> = {}): Promise<TestDaemon> {
  const spans = new InMemorySpanExporter();
  const logs: string[] = [];
  const daemon = await startDaemon({
    config: { ...structuredClone(DEFAULT_CONFIG), listen: '127.0.0.1:0', logLevel: 'debug', shutdownGraceMs: 2000, ...config },
    logSink: (line) => logs.push(line),
    spanProcessors: [new SimpleSpanProcessor(spans)],
    env: { OTEL_TRACES_EXPORTER: 'none' },
  });
  captureSource('daemon log lines', () => logs.join('\n'));
  captureSource('exported spans', () => spansText(spans.getFinishedSpans()));
  const address = daemon.address;
  const dataSources = new DataSourceServiceClient(address, credentials.createInsecure());
  const plugins = new PluginServiceClient(address, credentials.createInsecure());
  const opts = (o?: CallOptions) => ({ deadline: o?.deadlineMs ? Date.now() + o.deadlineMs : Infinity });
  return {
    daemon,
    address,
    dataSources,
    plugins,
    spans,
    logs,
    validate: (request, o) =>
      collect(dataSources.validateDataSource({ checkTimeoutMs: 0, ...request } as ValidateDataSourceRequest, o?.metadata ?? new Metadata(), opts(o))),
    discover: (request, o) =>
      collect(
        dataSources.discoverDataSource(
          { strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0, ...request } as DiscoverDataSourceRequest,
          o?.metadata ?? new Metadata(),
          opts(o),
        ),
      ),
    async stop() {
      dataSources.close();
      plugins.close();
      await daemon.stop();
    },
  };
}

/** Reads a whole server stream; rejects with the call's ServiceError. */
export async function collect<T>(stream: ClientReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  captureSource('stream events', () => JSON.stringify(out));
  for await (const message of stream as AsyncIterable<T>) out.push(message);
  return out;
}

/** The google.rpc.Status a failed call carried. */
export function richStatusOf(error: unknown): RichStatus & { grpcCode: number } {
  const se = error as ServiceError;
  const bin = se.metadata?.get('grpc-status-details-bin')[0];
  if (!bin) throw new Error(`no grpc-status-details-bin on ${String(error)}`);
  return { ...decodeRichStatus(bin as Buffer), grpcCode: se.code };
}

/** Runs a call that must fail, returning its error. */
export async function expectFailure(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (error) {
    const se = error as ServiceError;
    const bin = se.metadata?.get('grpc-status-details-bin')[0];
    captureText('error statuses', `${se.message} ${bin ? JSON.stringify(decodeRichStatus(bin as Buffer)) : ''}`);
    return se;
  }
  throw new Error('the call succeeded but was expected to fail');
}

/**
 * Runs a discovery and counts the connections the daemon opened for it: the
 * `sourced.connection.open` spans under its SERVER span.
 */
export async function discoverCountingConnections(
  t: TestDaemon,
  request: Partial<DiscoverDataSourceRequest>,
): Promise<{ events: DiscoverDataSourceResponse[]; connections: number }> {
  const since = Date.now();
  const events = await t.discover(request);
  // The SERVER span ends just after the client has seen the end of the stream.
  const ours = (all: ReadableSpan[]) =>
    all.find((s) => s.name === 'sourced.v1.DataSourceService/DiscoverDataSource' && s.startTime[0] * 1000 + s.startTime[1] / 1e6 >= since - 1);
  const spans = await eventually(async () => t.spans.getFinishedSpans(), (all) => ours(all) !== undefined);
  const server = ours(spans);
  const connections = spans.filter((s) => s.name === 'sourced.connection.open' && s.spanContext().traceId === server?.spanContext().traceId).length;
  return { events, connections };
}
