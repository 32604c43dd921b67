import { randomBytes } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { credentials, Metadata, Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { afterAll, describe, inject, it } from 'vitest';
import { DataSourceServiceClient, type ValidateDataSourceResponse } from '@sourced/api';
import { pgSource } from '../support/pg';
import { collect } from '../support/testDaemon';
import { startDaemonProcess, type DaemonProcess } from './support/processes';
import { VERSION } from '../../daemon/src/version';

const VALIDATE = 'sourced.v1.DataSourceService/ValidateDataSource';
const CHECKS = ['resolve-credentials', 'dns', 'tcp', 'tls', 'authenticate', 'server-version', 'privileges', 'metadata-read', 'latency'];
/** OTLP's Span.SpanKind for a server span (the protobuf enum, not the API's). */
const OTLP_SPAN_KIND_SERVER = 2;

/**
 * An OTLP resource attribute as protobuf: KeyValue{key (1): key, value (2): AnyValue{string_value (1): value}}
 * (keys and values here are shorter than 128 bytes: one-byte lengths).
 */
function protobufStringAttribute(key: string, value: string): Buffer {
  const v = Buffer.from(value);
  return Buffer.concat([Buffer.from([0x0a, key.length]), Buffer.from(key), Buffer.from([0x12, v.length + 2, 0x0a, v.length]), v]);
}

/** A span as OTLP/JSON carries it (ids in hex). */
interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}
interface OtlpJsonRequest {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ spans: OtlpJsonSpan[] }>;
  }>;
}

describe.concurrent('OpenTelemetry exporters of the daemon process', () => {
  const pg = inject('postgres');
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  /** Starts `sourced serve` with the given OTEL_* variables, killed after the suite if a test left it running. */
  async function daemonWith(env: Record<string, string>): Promise<DaemonProcess> {
    const daemon = await startDaemonProcess({ env });
    cleanups.push(() => daemon.kill());
    return daemon;
  }

  /**
   * One validation with inline credentials, sent as a child of a made-up caller span (W3C
   * `traceparent`); then SIGTERM, whose shutdown flushes the exporters. Returns the caller's ids.
   */
  async function validateThenStop(daemon: DaemonProcess) {
    const traceId = randomBytes(16).toString('hex');
    const parentSpanId = randomBytes(8).toString('hex');
    const metadata = new Metadata();
    metadata.set('traceparent', `00-${traceId}-${parentSpanId}-01`);
    const client = new DataSourceServiceClient(daemon.address, credentials.createInsecure());
    let events: ValidateDataSourceResponse[];
    try {
      events = await collect(client.validateDataSource({ dataSource: pgSource(pg), checkTimeoutMs: 0 }, metadata, { deadline: Date.now() + 15_000 }));
    } finally {
      client.close();
    }
    const exit = await daemon.terminate();
    return { traceId, parentSpanId, events, exit };
  }

  /**
   * OTLP over HTTP with JSON: every span of the call reaches the collector on shutdown, under
   * the service name "sourced"; the RPC's SERVER span continues the caller's trace and parent
   * span, the checks are its children, and the password is in no span.
   */
  it('exports spans over OTLP/HTTP JSON to a collector', async ({ expect }) => {
    const requests: Array<{ contentType?: string; body: string }> = [];
    const collector: HttpServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        requests.push({ contentType: req.headers['content-type'], body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => collector.close(resolve)));
    const { port } = collector.address() as { port: number };

    const daemon = await daemonWith({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    const { traceId, parentSpanId, events, exit } = await validateThenStop(daemon);
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { ok: true } });
    expect(exit).toEqual({ code: 0, signal: null });

    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((r) => r.contentType?.startsWith('application/json'))).toBe(true);
    const payloads = requests.map((r) => JSON.parse(r.body) as OtlpJsonRequest);
    const resources = payloads.flatMap((p) => p.resourceSpans);
    for (const rs of resources) expect(rs.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'sourced' } });
    const spans = resources.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans));

    const server = spans.find((s) => s.name === VALIDATE);
    expect(server).toMatchObject({ kind: OTLP_SPAN_KIND_SERVER, traceId, parentSpanId });
    const checks = spans.filter((s) => s.name.startsWith('sourced.check '));
    expect(checks.map((s) => s.name)).toEqual(CHECKS.map((c) => `sourced.check ${c}`));
    for (const check of checks) expect(check).toMatchObject({ traceId, parentSpanId: server?.spanId });
    expect(spans.every((s) => s.traceId === traceId)).toBe(true);

    expect(requests.map((r) => r.body).join('\n')).not.toContain(pg.password);
  });

  /**
   * OTLP over gRPC: the exporter calls the collector's TraceService/Export, and the protobuf it
   * sends holds the span names and the caller's trace id (as 16 raw bytes), never the password.
   */
  it('exports spans over OTLP/gRPC to a collector', async ({ expect }) => {
    const bodies: Buffer[] = [];
    const collector = new Server();
    const identity = (b: Buffer) => b;
    collector.addService(
      {
        Export: {
          path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      },
      {
        // An empty ExportTraceServiceResponse is zero bytes.
        Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
          bodies.push(call.request);
          callback(null, Buffer.alloc(0));
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      collector.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    cleanups.push(() => collector.forceShutdown());

    const daemon = await daemonWith({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    const { traceId, parentSpanId, events, exit } = await validateThenStop(daemon);
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { ok: true } });
    expect(exit).toEqual({ code: 0, signal: null });

    expect(bodies.length).toBeGreaterThan(0);
    const all = Buffer.concat(bodies);
    for (const name of [VALIDATE, 'sourced.check authenticate', 'sourced.check latency']) expect(all.includes(name)).toBe(true);
    // The resource's KeyValue{key (1): "service.name", value (2): AnyValue{string_value (1): "sourced"}}, as protobuf
    const serviceName = Buffer.concat([Buffer.from([0x0a, 12]), Buffer.from('service.name'), Buffer.from([0x12, 9, 0x0a, 7]), Buffer.from('sourced')]);
    expect(all.includes(serviceName)).toBe(true);
    expect(all.includes(Buffer.from(traceId, 'hex'))).toBe(true);
    expect(all.includes(Buffer.from(parentSpanId, 'hex'))).toBe(true);
    expect(all.includes(pg.password)).toBe(false);
  });

  /** OTEL_TRACES_EXPORTER=console prints each finished span on stdout (logs stay on stderr). */
  it('prints spans to stdout with the console exporter', async ({ expect }) => {
    const daemon = await daemonWith({ OTEL_TRACES_EXPORTER: 'console' });
    const { traceId, parentSpanId, exit } = await validateThenStop(daemon);
    expect(exit).toEqual({ code: 0, signal: null });
    const stdout = daemon.stdout();
    expect(stdout).toContain(`name: '${VALIDATE}'`);
    expect(stdout).toContain(`name: 'sourced.check authenticate'`);
    expect(stdout).toContain(`traceId: '${traceId}'`);
    // the SERVER span's parent: the caller's span
    expect(stdout).toContain(`spanId: '${parentSpanId}'`);
    expect(stdout).not.toContain('"msg"');
    expect(stdout).not.toContain(pg.password);
  });

  // After the tests above, one daemon at a time: each start costs a second or more of CPU.
  describe.sequential('with the standard OTEL_* variables', () => {
    /**
     * The standard variables NodeSDK reads, with the default protocol (OTLP/HTTP protobuf):
     * `OTEL_EXPORTER_OTLP_ENDPOINT` sends the spans to the collector's `/v1/traces`, and
     * `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` make the resource (the daemon's own
     * service.name "sourced" is replaced, its service.version kept).
     */
    it('takes the endpoint, service name and resource attributes from OTEL_* variables', async ({ expect }) => {
      const collector = await startTraceCollector();
      const daemon = await daemonWith({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_SERVICE_NAME: 'sourced-e2e',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=e2e,service.name=overridden-by-OTEL_SERVICE_NAME',
      });
      expect((await daemon.waitForLog('sourced listening')).exporters).toEqual(['otlp/http/protobuf']);
      const { traceId, events, exit } = await validateThenStop(daemon);
      expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { ok: true } });
      expect(exit).toEqual({ code: 0, signal: null });

      expect(collector.requests.length).toBeGreaterThan(0);
      expect(collector.requests.every((r) => r.contentType === 'application/x-protobuf')).toBe(true);
      const all = Buffer.concat(collector.requests.map((r) => r.body));
      expect(all.includes(protobufStringAttribute('service.name', 'sourced-e2e'))).toBe(true);
      expect(all.includes(protobufStringAttribute('service.name', 'sourced'))).toBe(false);
      expect(all.includes(protobufStringAttribute('deployment.environment.name', 'e2e'))).toBe(true);
      expect(all.includes(protobufStringAttribute('service.version', VERSION))).toBe(true);
      for (const name of [VALIDATE, 'sourced.check authenticate']) expect(all.includes(name)).toBe(true);
      expect(all.includes(Buffer.from(traceId, 'hex'))).toBe(true);
      expect(all.includes(pg.password)).toBe(false);
    });

    /** `OTEL_SDK_DISABLED=true` wins over the exporters named: nothing reaches the collector, the call still succeeds. */
    it('exports nothing when OTEL_SDK_DISABLED=true', async ({ expect }) => {
      const collector = await startTraceCollector();
      const daemon = await daemonWith({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint });
      expect((await daemon.waitForLog('sourced listening')).exporters).toEqual(['none']);
      const { events, exit } = await validateThenStop(daemon);
      expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { ok: true } });
      expect(exit).toEqual({ code: 0, signal: null });
      expect(collector.requests).toEqual([]);
    });

    /** A stand-in OTLP/HTTP collector: keeps every request body (gunzipped), answers 200 to POST /v1/traces. */
    async function startTraceCollector() {
      const requests: Array<{ url?: string; contentType?: string; body: Buffer }> = [];
      const server: HttpServer = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const raw = Buffer.concat(chunks);
          requests.push({ url: req.url, contentType: req.headers['content-type'], body: req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw });
          if (req.method !== 'POST' || req.url !== '/v1/traces') {
            res.writeHead(404).end();
            return;
          }
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.alloc(0));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise((resolve) => server.close(resolve)));
      const { port } = server.address() as { port: number };
      return { requests, endpoint: `http://127.0.0.1:${port}` };
    }
  });
});
