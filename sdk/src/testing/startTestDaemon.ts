import { credentials, Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { SourcedPlugin } from '@sourced/core';
import { decodeStatusDetails, type RichStatus } from '@sourced/api';
import { DEFAULT_CONFIG, startDaemon, type DaemonConfig, type RunningDaemon } from '@sourced/daemon';
import {
  DataSourceServiceClient,
  type DiscoverDataSourceRequest,
  type DiscoverDataSourceResponse,
  type PreviewTableRequest,
  type PreviewTableResponse,
  type ProfileTableRequest,
  type ProfileTableResponse,
  type ValidateDataSourceRequest,
  type ValidateDataSourceResponse,
} from '@sourced/api';
import { DiscoveryStrategy, PluginServiceClient, ProfileMode, type ListPluginsResponse, type Plugin } from '@sourced/api';
import type { Cell as PreviewCell, ColumnProfile as ProfiledColumn, PreviewHeader, PreviewSummary, ProfileHeader, ProfileSummary } from '@sourced/api';

/** What {@link startTestDaemon} starts. */
export interface TestDaemonOptions {
  /**
   * The plugins under test: plugin objects (what `definePlugin` returned) or module
   * specifiers (a package name, or an absolute path to the built module).
   */
  plugins?: readonly (SourcedPlugin | string)[];
  /** Also load the daemon's built-in plugins (PostgreSQL, MySQL, MongoDB, AWS, Azure). Default false. */
  builtins?: boolean;
  /** Configuration over the defaults; `listen` is always 127.0.0.1 on a free port. */
  config?: Partial<DaemonConfig>;
  /**
   * The environment the daemon reads: `OTEL_SERVICE_NAME`, and `OTEL_TRACES_EXPORTER` /
   * `OTEL_METRICS_EXPORTER` limited to `none` and `prometheus` (an in-process daemon does not
   * start the process-wide OpenTelemetry SDK: pass span processors or metric readers for other
   * exporters). Default: no exporter.
   */
  env?: NodeJS.ProcessEnv;
}

/** Options of one call. */
export interface CallOptions {
  /** Request metadata (an `authorization` header, a `traceparent`). */
  metadata?: Metadata;
  /** Deadline from now, milliseconds; none by default. */
  deadlineMs?: number;
}

/** A daemon running in this process on a free port, with clients connected to it and everything it emits captured. */
export interface TestDaemon {
  /** `127.0.0.1:<port>`. */
  address: string;
  /** The daemon itself (its container, `stop`). */
  daemon: RunningDaemon;
  /** The gRPC client of `sourced.v1.DataSourceService`. */
  dataSources: DataSourceServiceClient;
  /** The gRPC client of `sourced.v1.PluginService`. */
  plugins: PluginServiceClient;
  /** Every span the daemon ended. */
  spans: InMemorySpanExporter;
  /** Every log line the daemon wrote (JSON), in order. */
  logs: string[];
  /** Runs a validation to its end; rejects with the call's `ServiceError`. */
  validate(request: Partial<ValidateDataSourceRequest>, options?: CallOptions): Promise<ValidateDataSourceResponse[]>;
  /** Runs a discovery to its end; rejects with the call's `ServiceError`. */
  discover(request: Partial<DiscoverDataSourceRequest>, options?: CallOptions): Promise<DiscoverDataSourceResponse[]>;
  /** Starts a discovery and hands back the stream (to read part of it, or cancel it). */
  discoverStream(request: Partial<DiscoverDataSourceRequest>, options?: CallOptions): ClientReadableStream<DiscoverDataSourceResponse>;
  /**
   * Runs a preview (`PreviewTable`) to its end and returns its events: a header, rows, a
   * summary (read them with {@link previewOf}); rejects with the call's `ServiceError`.
   * Defaults: every column, 10 rows, the daemon's default strategy. Since SDK 1.4.
   *
   * ```ts
   * const { columns, rows } = previewOf(await t.preview({ dataSource, table: { schema: 'main', name: 'orders' }, limit: 5 }));
   * ```
   */
  preview(request: Partial<PreviewTableRequest>, options?: CallOptions): Promise<PreviewTableResponse[]>;
  /**
   * Runs a profile (`ProfileTable`) to its end and returns its events: a header, one event per
   * column, a summary (read them with {@link profileOf}); rejects with the call's
   * `ServiceError`. Defaults: every column, STATISTICS mode (pass `mode:
   * ProfileModeEnum.PROFILE_MODE_SAMPLE` and `sampleRows` for a sample), the daemon's default
   * limits. Since SDK 1.4.
   */
  profile(request: Partial<ProfileTableRequest>, options?: CallOptions): Promise<ProfileTableResponse[]>;
  /** `ListPlugins`: every plugin the daemon tried to load, with its state and load error. */
  listPlugins(): Promise<Plugin[]>;
  /** Everything the daemon emitted so far (logs and spans) as one text, for leak checks. */
  emitted(): string;
  /** Closes the clients and stops the daemon (in-flight calls are cancelled after a short grace). */
  stop(): Promise<void>;
}

/**
 * Starts a real daemon in this process, on a free port of 127.0.0.1, with the plugins under
 * test (and, if asked, the built-in ones), and returns clients connected to it:
 *
 * ```ts
 * const t = await startTestDaemon({ plugins: [myPlugin], config: { pluginSettings: { sqlite: { root: dir } } } });
 * const events = await t.discover({ dataSource: { type: 'sqlite', primary: { host: '', port: 0, database: 'shop.db' } } });
 * await t.stop();
 * ```
 */
export async function startTestDaemon(options: TestDaemonOptions = {}): Promise<TestDaemon> {
  const spans = new InMemorySpanExporter();
  const logs: string[] = [];
  const objects = (options.plugins ?? []).filter((p): p is SourcedPlugin => typeof p !== 'string');
  const modules = (options.plugins ?? []).filter((p): p is string => typeof p === 'string');
  const base = structuredClone(DEFAULT_CONFIG);
  const config: DaemonConfig = {
    ...base,
    logLevel: 'debug',
    shutdownGraceMs: 2000,
    ...options.config,
    plugins: [...(options.builtins ? base.plugins : []), ...(options.config?.plugins ?? []), ...modules],
    listen: '127.0.0.1:0',
  };
  const daemon = await startDaemon({
    config,
    plugins: objects,
    logSink: (line) => logs.push(line),
    spanProcessors: [new SimpleSpanProcessor(spans)],
    env: options.env ?? { OTEL_TRACES_EXPORTER: 'none' },
  });
  const address = daemon.address;
  const dataSources = new DataSourceServiceClient(address, credentials.createInsecure());
  const plugins = new PluginServiceClient(address, credentials.createInsecure());
  const callOptions = (o?: CallOptions) => ({ deadline: o?.deadlineMs ? Date.now() + o.deadlineMs : Infinity });
  const discoverStream = (request: Partial<DiscoverDataSourceRequest>, o?: CallOptions) =>
    dataSources.discoverDataSource(
      { strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED, batchSize: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0, ...request },
      o?.metadata ?? new Metadata(),
      callOptions(o),
    );
  return {
    address,
    daemon,
    dataSources,
    plugins,
    spans,
    logs,
    validate: (request, o) => collect(dataSources.validateDataSource({ checkTimeoutMs: 0, ...request }, o?.metadata ?? new Metadata(), callOptions(o))),
    discover: (request, o) => collect(discoverStream(request, o)),
    discoverStream,
    preview: (request, o) =>
      collect(
        dataSources.previewTable(
          { columns: [], limit: 10, strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED, ...request },
          o?.metadata ?? new Metadata(),
          callOptions(o),
        ),
      ),
    profile: (request, o) =>
      collect(
        dataSources.profileTable(
          {
            columns: [],
            mode: ProfileMode.PROFILE_MODE_STATISTICS,
            sampleRows: 0,
            mostCommonLimit: 0,
            histogramBuckets: 0,
            strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED,
            ...request,
          },
          o?.metadata ?? new Metadata(),
          callOptions(o),
        ),
      ),
    listPlugins: () =>
      new Promise<Plugin[]>((resolve, reject) =>
        // grpc-js hands the callback no response when the call failed, whatever the generated type says.
        plugins.listPlugins({}, (error, response: ListPluginsResponse | undefined) => (error ? reject(error) : resolve(response?.plugins ?? []))),
      ),
    emitted: () => `${logs.join('\n')}\n${spansText(spans.getFinishedSpans())}`,
    async stop() {
      dataSources.close();
      plugins.close();
      await daemon.stop();
    },
  };
}

/** Reads a whole server stream; rejects with the call's `ServiceError`. */
export async function collect<T>(stream: ClientReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const message of stream as AsyncIterable<T>) out.push(message);
  return out;
}

/** The `google.rpc.Status` a failed call carried (ErrorInfo reason and metadata, BadRequest violations, RetryInfo), with its gRPC code. */
export function richStatusOf(error: unknown): RichStatus & { grpcCode: number } {
  const rich = decodeStatusDetails(error);
  if (!rich) throw new Error(`no grpc-status-details-bin on ${String(error)}`);
  return { ...rich, grpcCode: (error as ServiceError).code };
}

/** Runs a call that must fail and returns its error; throws when it succeeds. */
export async function expectFailure(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('the call succeeded but was expected to fail');
}

/** Spans as text: names, attributes, events and statuses, as an exporter would send them. */
export function spansText(spans: readonly ReadableSpan[]): string {
  return JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events, s.status, s.links]));
}

/** A preview's events read as a whole, by {@link previewOf}. */
export interface PreviewResult {
  /** The header: the table as the source resolved it, its columns with their types, the endpoint read (undefined when the stream had none). */
  header?: PreviewHeader;
  /** The previewed columns' names, in order (the header's). */
  columns: string[];
  /** The rows, each one cell per column, in the order the connector read them (rows events joined). */
  rows: PreviewCell[][];
  /** The closing summary (rows sent, truncated, masked columns); undefined when the stream had none. */
  summary?: PreviewSummary;
}

/** Reads a preview's events (what {@link TestDaemon.preview} returns) as a header, rows of cells and a summary. Since SDK 1.4. */
export function previewOf(events: readonly PreviewTableResponse[]): PreviewResult {
  const out: PreviewResult = { columns: [], rows: [] };
  for (const e of events) {
    if (e.event?.$case === 'header') {
      out.header = e.event.value;
      out.columns = e.event.value.columns.map((c) => c.name);
    } else if (e.event?.$case === 'rows') out.rows.push(...e.event.value.rows.map((r) => r.cells));
    else if (e.event?.$case === 'summary') out.summary = e.event.value;
  }
  return out;
}

/** A profile's events read as a whole, by {@link profileOf}. */
export interface ProfileResult {
  /** The table's figures (mode, row count and how it was obtained, sample size and method); undefined when the stream had none. */
  header?: ProfileHeader;
  /** Each column's profile, in the order they arrived. */
  columns: ProfiledColumn[];
  /** The closing summary (columns profiled, masked columns); undefined when the stream had none. */
  summary?: ProfileSummary;
}

/** Reads a profile's events (what {@link TestDaemon.profile} returns) as a header, the columns and a summary. Since SDK 1.4. */
export function profileOf(events: readonly ProfileTableResponse[]): ProfileResult {
  const out: ProfileResult = { columns: [] };
  for (const e of events) {
    if (e.event?.$case === 'header') out.header = e.event.value;
    else if (e.event?.$case === 'column') out.columns.push(e.event.value);
    else if (e.event?.$case === 'summary') out.summary = e.event.value;
  }
  return out;
}
