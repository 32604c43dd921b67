import { credentials, Metadata, status as Status } from '@grpc/grpc-js';
import { MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_CONFIG, startDaemon, type RunningDaemon } from '../daemon/src';
import { DataSource, Location, SslMode } from '@sourced/api';
import {
  DataSourceServiceClient,
  type DiscoverDataSourceRequest,
  type DiscoverDataSourceResponse,
  type ValidateDataSourceRequest,
  type ValidateDataSourceResponse,
} from '@sourced/api';
import { RelationKind } from '@sourced/api';
import { freePort } from './harness/ports';
import { eventually, pgSource } from './support/pg';
import { captureSource } from './support/secretScan';
import { collect, expectFailure } from './support/testDaemon';

const VALIDATE = 'sourced.v1.DataSourceService/ValidateDataSource';
const DISCOVER = 'sourced.v1.DataSourceService/DiscoverDataSource';
const SECRET_VARIABLE = 'SOURCED_SECRET_METRICS_TEST_PG';

/** A reader the test collects from when it wants (cumulative, like Prometheus). */
class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

type Attrs = Record<string, string | number>;

/** Every metric the daemon recorded so far. */
async function metricsOf(reader: TestReader): Promise<MetricData[]> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

/** The data points of a metric whose attributes include `match`. */
function pointsOf(metrics: MetricData[], name: string, match: Attrs = {}): DataPoint<number | Histogram>[] {
  const metric = metrics.find((m) => m.descriptor.name === name);
  const points = (metric?.dataPoints ?? []) as DataPoint<number | Histogram>[];
  return points.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
}

/** The sum of a counter's points whose attributes include `match`. */
function sumOf(metrics: MetricData[], name: string, match: Attrs = {}): number {
  return pointsOf(metrics, name, match).reduce((n, p) => n + (p.value as number), 0);
}

describe('OpenTelemetry metrics of the daemon (in-process reader)', () => {
  const pg = inject('postgres');
  const reader = new TestReader();
  const logs: string[] = [];
  let daemon: RunningDaemon;
  let client: DataSourceServiceClient;
  let closedPort: number;

  const validate = (request: Partial<ValidateDataSourceRequest>) =>
    collect<ValidateDataSourceResponse>(
      client.validateDataSource({ checkTimeoutMs: 0, ...request } as ValidateDataSourceRequest, new Metadata(), { deadline: Date.now() + 20_000 }),
    );
  const discover = (request: Partial<DiscoverDataSourceRequest>) =>
    collect<DiscoverDataSourceResponse>(
      client.discoverDataSource(
        { strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0, ...request } as DiscoverDataSourceRequest,
        new Metadata(),
        { deadline: Date.now() + 20_000 },
      ),
    );

  beforeAll(async () => {
    process.env[SECRET_VARIABLE] = pg.password;
    closedPort = await freePort();
    daemon = await startDaemon({
      config: { ...structuredClone(DEFAULT_CONFIG), plugins: ['@sourced/plugin-postgres'], listen: '127.0.0.1:0', logLevel: 'debug', shutdownGraceMs: 2000 },
      logSink: (line) => logs.push(line),
      env: { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' },
      metricReaders: [reader],
    });
    client = new DataSourceServiceClient(daemon.address, credentials.createInsecure());
    captureSource('daemon log lines', () => logs.join('\n'));
  });
  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    delete process.env[SECRET_VARIABLE];
  });

  /**
   * Two validations with an env:// reference, one with an inline password, one discovery, one
   * refused request and one HYBRID discovery starting on its secondary: every call is counted
   * by method and status, checks by id and status, entities and batches as the stream
   * delivered them, the second look-up of the reference is a cache hit, and no connection is
   * left open.
   */
  it('counts calls, checks, entities, batches, secret look-ups, failovers and connections', async () => {
    const byReference = pgSource(pg, { credentials: { username: pg.user, password: { source: { $case: 'reference', value: `env://${SECRET_VARIABLE}` } } } });
    const validations: ValidateDataSourceResponse[][] = [];

    validations.push(await validate({ dataSource: byReference }));
    const afterFirst = await metricsOf(reader);
    const secretLookups = (m: MetricData[], result: string) =>
      sumOf(m, 'sourced.secret.cache', { 'sourced.cache.result': result, 'sourced.secret.scheme': 'env' });
    expect(secretLookups(afterFirst, 'miss')).toBe(1);

    validations.push(await validate({ dataSource: byReference }));
    const afterSecond = await metricsOf(reader);
    expect(secretLookups(afterSecond, 'miss')).toBe(1);
    expect(secretLookups(afterSecond, 'hit')).toBeGreaterThan(secretLookups(afterFirst, 'hit'));
    expect(secretLookups(afterSecond, 'stale')).toBe(0);

    validations.push(await validate({ dataSource: pgSource(pg) }));
    for (const events of validations) expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { ok: true } });

    const discovery = await discover({ dataSource: pgSource(pg), batchSize: 2 });
    expect(discovery.at(-1)?.event?.$case).toBe('summary');

    const refused = await expectFailure(discover({ dataSource: pgSource(pg), batchSize: 1_000_000_000 }));
    expect(refused.code).toBe(Status.INVALID_ARGUMENT);

    // HYBRID: the primary is a closed port, so the run starts on the secondary (the harness server).
    const hybrid = DataSource.fromPartial({
      ...pgSource(pg),
      id: 'metrics-hybrid',
      location: Location.LOCATION_HYBRID,
      primary: { host: '127.0.0.1', port: closedPort, database: pg.database },
      secondary: { host: pg.host, port: pg.port, database: pg.database },
      sslConfig: { mode: SslMode.SSL_MODE_DISABLE, ca: '', cert: '', serverName: '' },
    });
    const hybridRun = await discover({ dataSource: hybrid, batchSize: 2 });
    expect(hybridRun.some((e) => e.event?.$case === 'warning' && e.event.value.code === 'STARTED_ON_SECONDARY')).toBe(true);
    expect(hybridRun.at(-1)?.event).toMatchObject({ $case: 'summary', value: { endpoint: 2 } });

    const metrics = await eventually(
      () => metricsOf(reader),
      (m) => sumOf(m, 'rpc.server.requests', { 'rpc.method': DISCOVER }) === 3,
    );

    // rpc.server.requests and rpc.server.duration, by full method and status code
    expect(sumOf(metrics, 'rpc.server.requests', { 'rpc.method': VALIDATE, 'rpc.grpc.status_code': Status.OK })).toBe(3);
    expect(sumOf(metrics, 'rpc.server.requests', { 'rpc.method': DISCOVER, 'rpc.grpc.status_code': Status.OK })).toBe(2);
    expect(sumOf(metrics, 'rpc.server.requests', { 'rpc.method': DISCOVER, 'rpc.grpc.status_code': Status.INVALID_ARGUMENT })).toBe(1);
    expect(pointsOf(metrics, 'rpc.server.requests').every((p) => p.attributes['rpc.system'] === 'grpc')).toBe(true);
    const durations = metrics.find((m) => m.descriptor.name === 'rpc.server.duration');
    expect(durations?.descriptor.unit).toBe('ms');
    const validateDurations = pointsOf(metrics, 'rpc.server.duration', { 'rpc.method': VALIDATE, 'rpc.grpc.status_code': Status.OK });
    expect(validateDurations).toHaveLength(1);
    const histogram = validateDurations[0].value as Histogram;
    expect(histogram.count).toBe(3);
    expect(histogram.sum).toBeGreaterThan(0);
    expect(
      (pointsOf(metrics, 'rpc.server.duration', { 'rpc.method': DISCOVER, 'rpc.grpc.status_code': Status.INVALID_ARGUMENT })[0]?.value as Histogram).count,
    ).toBe(1);

    // sourced.validation.checks: exactly the checks the streams reported, by id and status
    const expectedChecks = new Map<string, number>();
    for (const events of validations) {
      for (const e of events) {
        if (e.event?.$case !== 'checkFinished') continue;
        const key = `${e.event.value.checkId}/${checkStatusName(e.event.value.status)}`;
        expectedChecks.set(key, (expectedChecks.get(key) ?? 0) + 1);
      }
    }
    const recordedChecks = new Map<string, number>();
    for (const p of pointsOf(metrics, 'sourced.validation.checks')) {
      expect(p.attributes['db.system']).toBe('postgres');
      recordedChecks.set(`${p.attributes['sourced.check.id']}/${p.attributes['sourced.check.status']}`, p.value as number);
    }
    expect(recordedChecks).toEqual(expectedChecks);
    expect(recordedChecks.get('authenticate/passed')).toBe(3);

    // sourced.discovery.batches and .entities: what the two streams delivered, by kind
    const runs = [discovery, hybridRun];
    const batches = runs.flat().filter((e) => e.event?.$case === 'batch');
    expect(batches.length).toBeGreaterThan(1);
    expect(sumOf(metrics, 'sourced.discovery.batches', { 'db.system': 'postgres' })).toBe(batches.length);
    const expectedKinds = new Map<string, number>();
    for (const b of batches) {
      if (b.event?.$case !== 'batch') continue;
      for (const r of b.event.value.relations) {
        const kind = relationKindName(r.kind);
        expectedKinds.set(kind, (expectedKinds.get(kind) ?? 0) + 1);
      }
    }
    const recordedKinds = new Map(
      pointsOf(metrics, 'sourced.discovery.entities', { 'db.system': 'postgres' }).map((p) => [String(p.attributes['sourced.entity.kind']), p.value as number]),
    );
    expect(recordedKinds).toEqual(expectedKinds);

    // sourced.failovers: the HYBRID run started on its secondary
    expect(sumOf(metrics, 'sourced.failovers', { 'db.system': 'postgres', 'sourced.failover.trigger': 'start' })).toBe(1);
    expect(sumOf(metrics, 'sourced.failovers', { 'sourced.failover.trigger': 'connection_lost' })).toBe(0);

    // sourced.source.connections: counted while open, back to 0 once the calls ended
    const connections = pointsOf(metrics, 'sourced.source.connections', { 'db.system': 'postgres', 'server.address': pg.host.toLowerCase() });
    expect(connections).toHaveLength(1);
    expect(connections[0].value).toBe(0);
    expect(pointsOf(metrics, 'sourced.source.connections').every((p) => p.value === 0)).toBe(true);

    // Bounded attributes only, and never a secret
    const text = JSON.stringify(metrics);
    captureSource('metric data points', () => text);
    expect(text).not.toContain(pg.password);
    for (const m of metrics) {
      for (const p of m.dataPoints) {
        for (const key of Object.keys(p.attributes)) {
          expect([
            'rpc.system',
            'rpc.method',
            'rpc.grpc.status_code',
            'db.system',
            'server.address',
            'sourced.entity.kind',
            'sourced.check.id',
            'sourced.check.status',
            'sourced.cache.result',
            'sourced.secret.scheme',
            'sourced.failover.trigger',
          ]).toContain(key);
        }
      }
    }
  });

  /** The resource says who is reporting, like the tracer's. */
  it('reports under the service name sourced with its version', async () => {
    const { resourceMetrics } = await reader.collect();
    expect(resourceMetrics.resource.attributes['service.name']).toBe('sourced');
    expect(typeof resourceMetrics.resource.attributes['service.version']).toBe('string');
  });
});

/** The contract's CheckStatus as the metric names it (`CHECK_STATUS_PASSED` → `passed`). */
function checkStatusName(status: number): string {
  return ['unspecified', 'passed', 'failed', 'warning', 'skipped'][status] ?? String(status);
}

/** The contract's RelationKind as the metric names it (`RELATION_KIND_TABLE` → `table`). */
function relationKindName(kind: RelationKind): string {
  return RelationKind[kind].replace(/^RELATION_KIND_/, '').toLowerCase();
}
