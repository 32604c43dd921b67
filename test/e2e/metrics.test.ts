import { createServer, type Server as HttpServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { credentials, Metadata, status as Status } from '@grpc/grpc-js';
import { afterAll, describe, inject, it } from 'vitest';
import { DataSourceServiceClient, type DiscoverDataSourceRequest, type DiscoverDataSourceResponse, type ValidateDataSourceResponse } from '@sourced/api';
import { freePort } from '../harness/ports';
import { pgSource } from '../support/pg';
import { captureText } from '../support/secretScan';
import { collect, expectFailure } from '../support/testDaemon';
import { startDaemonProcess, type DaemonProcess } from './support/processes';

const VALIDATE = 'sourced.v1.DataSourceService/ValidateDataSource';
const DISCOVER = 'sourced.v1.DataSourceService/DiscoverDataSource';
const SECRET_VARIABLE = 'SOURCED_SECRET_E2E_METRICS_PG';
const METRIC_NAMES = [
  'rpc.server.duration',
  'rpc.server.requests',
  'sourced.discovery.entities',
  'sourced.discovery.batches',
  'sourced.validation.checks',
  'sourced.secret.cache',
  'sourced.source.connections',
];

/** A metric as OTLP/JSON carries it (only what the test reads). */
interface OtlpJsonMetric {
  name: string;
  unit?: string;
  sum?: { dataPoints: Array<{ attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>; asInt?: string | number }> };
  histogram?: { dataPoints: Array<{ count: string | number }> };
}
interface OtlpJsonMetricsRequest {
  resourceMetrics: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeMetrics: Array<{ scope: { name: string }; metrics: OtlpJsonMetric[] }>;
  }>;
}

/** A stand-in OTLP/HTTP collector: keeps every POST /v1/metrics body (gunzipped), answers 200. */
async function startCollector(cleanups: Array<() => unknown>) {
  const requests: Array<{ contentType?: string; body: Buffer }> = [];
  const server: HttpServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (req.method !== 'POST' || req.url !== '/v1/metrics') {
        res.writeHead(404).end();
        return;
      }
      requests.push({ contentType: req.headers['content-type'], body: req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw });
      const json = req.headers['content-type']?.startsWith('application/json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : Buffer.alloc(0));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as { port: number };
  return { requests, endpoint: `http://127.0.0.1:${port}` };
}

describe.concurrent('OpenTelemetry metrics of the daemon process', () => {
  const pg = inject('postgres');
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  async function daemonWith(env: Record<string, string>): Promise<DaemonProcess> {
    const daemon = await startDaemonProcess({ env: { [SECRET_VARIABLE]: pg.password, ...env } });
    cleanups.push(() => daemon.kill());
    return daemon;
  }

  /** Two validations by env:// reference (the second hits the secret cache), a discovery and a refused discovery. */
  async function someCalls(daemon: DaemonProcess) {
    const client = new DataSourceServiceClient(daemon.address, credentials.createInsecure());
    const deadline = () => ({ deadline: Date.now() + 15_000 });
    const dataSource = pgSource(pg, { credentials: { username: pg.user, password: { source: { $case: 'reference', value: `env://${SECRET_VARIABLE}` } } } });
    const discoverRequest = (extra: Partial<DiscoverDataSourceRequest>) =>
      ({ dataSource, strategy: 0, batchSize: 2, resumeAfter: '', maxEntities: 0, maxDurationMs: 0, ...extra }) as DiscoverDataSourceRequest;
    try {
      const validations: ValidateDataSourceResponse[][] = [];
      for (let i = 0; i < 2; i++) validations.push(await collect(client.validateDataSource({ dataSource, checkTimeoutMs: 0 }, new Metadata(), deadline())));
      const discovery: DiscoverDataSourceResponse[] = await collect(client.discoverDataSource(discoverRequest({}), new Metadata(), deadline()));
      const refused = await expectFailure(collect(client.discoverDataSource(discoverRequest({ batchSize: 1_000_000_000 }), new Metadata(), deadline())));
      return { validations, discovery, refused };
    } finally {
      client.close();
    }
  }

  /**
   * `SOURCED_PROMETHEUS_PORT`: the daemon serves the text exposition on 127.0.0.1; after real
   * calls it holds every instrument with its labels (Prometheus names: dots become underscores,
   * counters end in `_total`), and no secret.
   */
  it('serves the metrics on a Prometheus scrape endpoint', async ({ expect }) => {
    const port = await freePort();
    const daemon = await daemonWith({ SOURCED_PROMETHEUS_PORT: String(port) });
    const listening = await daemon.waitForLog('sourced listening');
    expect(listening.metrics).toEqual([`prometheus http://127.0.0.1:${port}/metrics`]);

    const { validations, discovery, refused } = await someCalls(daemon);
    for (const events of validations) expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { ok: true } });
    expect(refused.code).toBe(Status.INVALID_ARGUMENT);
    const batches = discovery.filter((e) => e.event?.$case === 'batch').length;
    const entities = discovery.reduce((n, e) => n + (e.event?.$case === 'batch' ? e.event.value.relations.length : 0), 0);
    expect(batches).toBeGreaterThan(0);

    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    captureText('Prometheus exposition', text);
    expect(text).not.toContain(pg.password);

    /** The value of the one sample of `name` carrying every label of `labels`. */
    const sample = (name: string, labels: Record<string, string>): number | undefined => {
      const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
      if (lines.length === 0) return undefined;
      return lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    };
    expect(text).toContain('# TYPE rpc_server_requests_total counter');
    expect(text).toContain('# TYPE rpc_server_duration histogram');
    expect(text).toContain('# UNIT rpc_server_duration ms');
    expect(sample('rpc_server_requests_total', { rpc_method: VALIDATE, rpc_grpc_status_code: '0', rpc_system: 'grpc' })).toBe(2);
    expect(sample('rpc_server_requests_total', { rpc_method: DISCOVER, rpc_grpc_status_code: '0' })).toBe(1);
    expect(sample('rpc_server_requests_total', { rpc_method: DISCOVER, rpc_grpc_status_code: String(Status.INVALID_ARGUMENT) })).toBe(1);
    expect(sample('rpc_server_duration_count', { rpc_method: VALIDATE, rpc_grpc_status_code: '0' })).toBe(2);
    expect(sample('rpc_server_duration_bucket', { rpc_method: VALIDATE, rpc_grpc_status_code: '0', le: '+Inf' })).toBe(2);
    expect(sample('sourced_discovery_batches_total', { db_system: 'postgres' })).toBe(batches);
    expect(sample('sourced_discovery_entities_total', { db_system: 'postgres' })).toBe(entities);
    expect(sample('sourced_discovery_entities_total', { sourced_entity_kind: 'table' })).toBeGreaterThan(0);
    expect(sample('sourced_validation_checks_total', { sourced_check_id: 'authenticate', sourced_check_status: 'passed', db_system: 'postgres' })).toBe(2);
    expect(sample('sourced_secret_cache_total', { sourced_cache_result: 'miss', sourced_secret_scheme: 'env' })).toBe(1);
    expect(sample('sourced_secret_cache_total', { sourced_cache_result: 'hit', sourced_secret_scheme: 'env' })).toBeGreaterThan(0);
    expect(sample('sourced_source_connections', { db_system: 'postgres', server_address: pg.host.toLowerCase() })).toBe(0);
    expect(text).toMatch(/target_info\{[^}]*service_name="sourced"/);

    expect(await daemon.terminate()).toEqual({ code: 0, signal: null });
  });

  /**
   * OTLP over HTTP with JSON: the periodic reader (and the flush at SIGTERM) posts
   * `/v1/metrics` with every instrument, under the service name "sourced", and no secret.
   */
  it('exports metrics over OTLP/HTTP JSON to a collector', async ({ expect }) => {
    const collector = await startCollector(cleanups);
    const daemon = await daemonWith({
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${collector.endpoint}/v1/metrics`,
      OTEL_METRIC_EXPORT_INTERVAL: '60000',
    });
    const listening = await daemon.waitForLog('sourced listening');
    expect(listening.metrics).toEqual(['otlp/http/json']);
    const { refused } = await someCalls(daemon);
    expect(refused.code).toBe(Status.INVALID_ARGUMENT);
    expect(await daemon.terminate()).toEqual({ code: 0, signal: null });

    expect(collector.requests.length).toBeGreaterThan(0);
    expect(collector.requests.every((r) => r.contentType?.startsWith('application/json'))).toBe(true);
    const bodies = collector.requests.map((r) => r.body.toString('utf8'));
    captureText('OTLP metric payloads', bodies.join('\n'));
    expect(bodies.join('\n')).not.toContain(pg.password);
    const payloads = bodies.map((b) => JSON.parse(b) as OtlpJsonMetricsRequest);
    const resources = payloads.flatMap((p) => p.resourceMetrics);
    for (const rm of resources) expect(rm.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'sourced' } });
    const metrics = resources.flatMap((rm) => rm.scopeMetrics.filter((s) => s.scope.name === 'sourced').flatMap((s) => s.metrics));
    for (const name of METRIC_NAMES) expect(metrics.map((m) => m.name)).toContain(name);
    // The last export is the flush at shutdown: cumulative, so it holds every call.
    const last = (name: string) => metrics.filter((m) => m.name === name).at(-1);
    const requests = last('rpc.server.requests')?.sum?.dataPoints ?? [];
    const refusedPoint = requests.find(
      (p) =>
        p.attributes.some((a) => a.key === 'rpc.method' && a.value.stringValue === DISCOVER) &&
        p.attributes.some((a) => a.key === 'rpc.grpc.status_code' && Number(a.value.intValue) === Status.INVALID_ARGUMENT),
    );
    expect(Number(refusedPoint?.asInt)).toBe(1);
    expect(last('rpc.server.duration')?.unit).toBe('ms');
  });

  /** OTLP over HTTP with protobuf (the default protocol): the body holds the metric names and the service name, never the password. */
  it('exports metrics over OTLP/HTTP protobuf to a collector', async ({ expect }) => {
    const collector = await startCollector(cleanups);
    const daemon = await daemonWith({
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    });
    const listening = await daemon.waitForLog('sourced listening');
    expect(listening.metrics).toEqual(['otlp/http/protobuf']);
    await someCalls(daemon);
    expect(await daemon.terminate()).toEqual({ code: 0, signal: null });

    expect(collector.requests.length).toBeGreaterThan(0);
    expect(collector.requests.every((r) => r.contentType === 'application/x-protobuf')).toBe(true);
    const all = Buffer.concat(collector.requests.map((r) => r.body));
    captureText('OTLP metric payloads', all.toString('latin1'));
    for (const name of [...METRIC_NAMES, VALIDATE, DISCOVER, 'sourced.cache.result']) expect(all.includes(name)).toBe(true);
    const serviceName = Buffer.concat([Buffer.from([0x0a, 12]), Buffer.from('service.name'), Buffer.from([0x12, 9, 0x0a, 7]), Buffer.from('sourced')]);
    expect(all.includes(serviceName)).toBe(true);
    expect(all.includes(pg.password)).toBe(false);
  });

  // After the tests above: one daemon more at a time is what two cores carry.
  describe.sequential('with the configuration and OTEL_* variables together', () => {
    /**
     * The configuration's Prometheus port (`SOURCED_PROMETHEUS_PORT`) wins over
     * `OTEL_EXPORTER_PROMETHEUS_PORT`; `prometheus` in `OTEL_METRICS_EXPORTER` then means that same
     * endpoint, and the OTLP reader named beside it still exports (NodeSDK's env-built reader),
     * both under `OTEL_SERVICE_NAME`.
     */
    it('serves Prometheus on the configured port and exports OTLP beside it', async ({ expect }) => {
      const collector = await startCollector(cleanups);
      const [configured, fromEnv] = [await freePort(), await freePort()];
      const daemon = await daemonWith({
        SOURCED_PROMETHEUS_PORT: String(configured),
        OTEL_EXPORTER_PROMETHEUS_PORT: String(fromEnv),
        OTEL_METRICS_EXPORTER: 'prometheus,otlp',
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_SERVICE_NAME: 'sourced-metrics-e2e',
      });
      const listening = await daemon.waitForLog('sourced listening');
      expect(listening.metrics).toEqual([`prometheus http://127.0.0.1:${configured}/metrics`, 'otlp/http/json']);
      await someCalls(daemon);

      const text = await (await fetch(`http://127.0.0.1:${configured}/metrics`)).text();
      expect(text).toMatch(/target_info\{[^}]*service_name="sourced-metrics-e2e"/);
      expect(text).toMatch(new RegExp(`rpc_server_requests_total\\{[^}]*rpc_method="${VALIDATE}"`));
      await expect(fetch(`http://127.0.0.1:${fromEnv}/metrics`)).rejects.toThrow();
      expect(await daemon.terminate()).toEqual({ code: 0, signal: null });

      const payloads = collector.requests.map((r) => JSON.parse(r.body.toString('utf8')) as OtlpJsonMetricsRequest);
      const resources = payloads.flatMap((p) => p.resourceMetrics);
      expect(resources.length).toBeGreaterThan(0);
      for (const rm of resources) expect(rm.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'sourced-metrics-e2e' } });
      const names = resources.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.name)));
      expect(names).toContain('rpc.server.requests');
    });
  });
});
