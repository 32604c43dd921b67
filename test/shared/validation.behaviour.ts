import { createServer, type Server, type Socket } from 'node:net';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource, EndpointRole, Location, SslMode, type SslConfig, type ValidateDataSourceResponse } from '@sourced/api';
import { freePort } from '../harness/ports';
import { expectFailure, richStatusOf, type TestDaemon } from '../support/testDaemon';
import { check, finished, STATUS, statuses, summary } from '../support/validation';

/** Connection facts of a server a validation engine runs against (the global setup's, per engine). */
export interface ValidationServer {
  host: string;
  port: number;
  user: string;
  password: string;
  caCertPem?: string;
}

/**
 * What the shared validation cases need of one connector: its servers (from the global setup),
 * how a data source for them is written, the order of its checks, and what the server itself
 * is expected to answer where engines differ (written per engine by the test file, never taken
 * from the connector).
 */
export interface ValidationEngine<S extends ValidationServer = ValidationServer> {
  /** Shown in the suite's name. */
  label: string;
  /** The connector name the summary reports. */
  connector: string;
  server: S;
  /** The TLS server, or null when there is none (a real MongoDB given without one). */
  tlsServer: S | null;
  source(server: S, extra?: Partial<DataSource>, password?: string): DataSource;
  /** Every check, in the order the connector runs them. */
  order: string[];
  /** The checks that need a connection: skipped when TCP fails. */
  afterTcp: string[];
  /** The checks skipped when TLS fails. */
  afterTls: string[];
  /** Engine facts of a passing run against the plain server, asked of the events by the test. */
  plainFacts(events: ValidateDataSourceResponse[], server: S): void;
  /** The checks that pass over TLS with verify-full, and engine facts of that run. */
  tlsPasses: string[];
  tlsFacts?(events: ValidateDataSourceResponse[], server: S): void;
  /** TLS required against the plain server: what the tls check says (undefined: not covered for this engine). */
  tlsNotOffered?: { sslConfig: (server: S) => SslConfig; message: string; hint?: string; skipped: string };
  /** A wrong password: the server's message, the hints, the error code and what happens to the other checks. */
  wrongPassword: { message: string | RegExp; hints: (string | RegExp)[]; code?: string; statuses: Record<string, string> };
  /** The longest a closed port may take to fail, as the engine's copy bounded it. */
  closedPortWithinMs: number;
  /** A HYBRID source of two names for the same server, and the server it names. */
  hybrid: { server: S; sslConfig: SslConfig };
  /**
   * A server that accepts TCP and never answers: the check that fails at the check time limit
   * saying so, and engine facts (hangs undefined: that case is not run for the engine).
   */
  silent: { hangs?: string; facts?: (events: ValidateDataSourceResponse[]) => void };
  /** Another name of the connector. */
  alias: string;
}

export const verifyFull = (server: ValidationServer): SslConfig => ({
  mode: SslMode.SSL_MODE_VERIFY_FULL,
  ca: server.caCertPem ?? '',
  cert: '',
  serverName: '',
});

/** Everything a call left behind: its events, the daemon's log lines and every span. */
function everything(t: TestDaemon, events: ValidateDataSourceResponse[]): string {
  return (
    JSON.stringify(events) +
    t.logs.join('\n') +
    JSON.stringify(t.spans.getFinishedSpans().map((s) => ({ a: s.attributes, e: s.events, st: s.status, n: s.name })))
  );
}

/**
 * Registers the validation cases every connector shares for one engine (call inside a
 * describe), run through `daemon()`: a daemon with the engine's plugin that the caller starts
 * (one for every engine of a file saves a start per engine).
 */
export function validationBehaviour<S extends ValidationServer>(engine: ValidationEngine<S>, daemon: () => TestDaemon): void {
  const server = engine.server;
  const tlsServer = engine.tlsServer;
  let t: TestDaemon;
  beforeAll(() => {
    t = daemon();
  });

  /** Every check streams as it starts and ends, one at a time, in order, with sequence numbers from 1 without gaps. */
  it('passes against a plain server and streams every check in order', async () => {
    const events = await t.validate({ dataSource: engine.source(server) });
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
    const kinds = events.map((e) => e.event?.$case);
    expect(kinds.filter((k) => k === 'checkStarted')).toHaveLength(engine.order.length);
    expect(finished(events).map((c) => c.checkId)).toEqual(engine.order);
    for (let i = 0; i < engine.order.length; i++) expect(kinds.slice(i * 2, i * 2 + 2)).toEqual(['checkStarted', 'checkFinished']);
    engine.plainFacts(events, server);
    expect(summary(events)).toMatchObject({ ok: true, endpoints: 1, connector: engine.connector });
  });

  /** TLS with verify-full against the test CA passes, verified, and reports the protocol and cipher. */
  it.skipIf(!tlsServer)('passes over TLS and reports protocol and cipher', async () => {
    const events = await t.validate({ dataSource: engine.source(tlsServer!, { sslConfig: verifyFull(tlsServer!) }) });
    expect(statuses(events)).toMatchObject(Object.fromEntries(engine.tlsPasses.map((id) => [id, 'PASSED'])));
    const tls = check(events, 'tls');
    expect(tls.details['tls.protocol']).toMatch(/^TLSv1\.[23]$/);
    expect(tls.details['tls.cipher']).toBeTruthy();
    expect(tls.details['cert.verified']).toBe('yes');
    engine.tlsFacts?.(events, tlsServer!);
    expect(summary(events).ok).toBe(true);
  });

  /** Without the CA, verify-full fails at TLS with a hint to give the CA, and nothing logs in. */
  it.skipIf(!tlsServer)('fails TLS verification without the CA', async () => {
    const events = await t.validate({ dataSource: engine.source(tlsServer!, { sslConfig: { ...verifyFull(tlsServer!), ca: '' } }) });
    const tls = check(events, 'tls');
    expect(STATUS[tls.status]).toBe('FAILED');
    expect(tls.hint).toContain('ssl_config.ca');
    for (const id of engine.afterTls) expect(statuses(events)[id], id).toBe('SKIPPED');
    expect(summary(events).ok).toBe(false);
  });

  /** TLS required against a server that does not offer it fails at the tls check, not later. */
  it.skipIf(!engine.tlsNotOffered)('fails TLS when the server does not offer it', async () => {
    const expected = engine.tlsNotOffered!;
    const events = await t.validate({ dataSource: engine.source(server, { sslConfig: expected.sslConfig(server) }) });
    const tls = check(events, 'tls');
    expect(STATUS[tls.status]).toBe('FAILED');
    expect(tls.message).toContain(expected.message);
    if (expected.hint) expect(tls.hint).toContain(expected.hint);
    expect(statuses(events)[expected.skipped]).toBe('SKIPPED');
  });

  /** A wrong password fails authentication with the server's reason and a hint; neither password appears in events, logs or spans. */
  it('fails authentication with a wrong password and leaks neither password', async () => {
    const wrong = 'wrong-Pa55-' + Math.random().toString(36).slice(2);
    const events = await t.validate({ dataSource: engine.source(server, {}, wrong) });
    const auth = check(events, 'authenticate');
    expect(STATUS[auth.status]).toBe('FAILED');
    const { message, hints, code } = engine.wrongPassword;
    if (typeof message === 'string') expect(auth.message).toBe(message);
    else expect(auth.message).toMatch(message);
    expect(auth.hint).toBeTruthy();
    for (const hint of hints) expect(auth.hint).toMatch(hint);
    if (code) expect(auth.details.code).toBe(code);
    expect(statuses(events)).toMatchObject(engine.wrongPassword.statuses);
    expect(summary(events).ok).toBe(false);
    const all = everything(t, events);
    expect(all).not.toContain(wrong);
    expect(all).not.toContain(server.password);
  });

  /** A closed port fails at TCP fast, with a hint, and everything that needs a connection is skipped. */
  it('fails fast on a closed port', async () => {
    const port = await freePort();
    const started = Date.now();
    const events = await t.validate({ dataSource: engine.source(server, { primary: { host: '127.0.0.1', port, database: '' } }) });
    expect(Date.now() - started).toBeLessThan(engine.closedPortWithinMs);
    const tcp = check(events, 'tcp');
    expect(STATUS[tcp.status]).toBe('FAILED');
    expect(tcp.message).toContain('connection refused');
    expect(tcp.hint).toBeTruthy();
    for (const id of engine.afterTcp) expect(statuses(events)[id], id).toBe('SKIPPED');
  });

  /** HYBRID validates both endpoints (the secondary is another name of the same server), each reported with its role and every check. */
  it('validates both endpoints of a HYBRID source', async () => {
    const { server: s, sslConfig } = engine.hybrid;
    const events = await t.validate({
      dataSource: engine.source(s, {
        location: Location.LOCATION_HYBRID,
        secondary: { host: 'localhost', port: s.port, database: engine.source(s).primary?.database ?? '' },
        sslConfig,
      }),
    });
    const reports = events.flatMap((e) => (e.event?.$case === 'report' ? [e.event.value] : []));
    expect(reports.map((r) => [r.endpoint, r.address, r.ok])).toEqual([
      [EndpointRole.ENDPOINT_ROLE_PRIMARY, `${s.host}:${s.port}`, true],
      [EndpointRole.ENDPOINT_ROLE_SECONDARY, `localhost:${s.port}`, true],
    ]);
    expect(
      finished(events)
        .filter((c) => c.endpoint === EndpointRole.ENDPOINT_ROLE_SECONDARY)
        .map((c) => c.checkId),
    ).toEqual(engine.order);
    expect(summary(events)).toMatchObject({ ok: true, endpoints: 2 });
  });

  describe('a server that accepts TCP and never answers', () => {
    let silent: Server;
    let port: number;
    const sockets: Socket[] = [];
    beforeAll(async () => {
      silent = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      port = (silent.address() as { port: number }).port;
    });
    afterAll(() => {
      sockets.forEach((s) => s.destroy());
      silent.close();
    });

    /** The check that waits for the server fails at its time limit; the stream goes on and ends with a summary. */
    it.skipIf(!engine.silent.hangs)('fails the hanging check at its time limit', async () => {
      const events = await t.validate({ dataSource: engine.source(server, { primary: { host: '127.0.0.1', port, database: '' } }), checkTimeoutMs: 300 });
      expect(STATUS[check(events, 'tcp').status]).toBe('PASSED');
      engine.silent.facts?.(events);
      const hung = check(events, engine.silent.hangs!);
      expect(STATUS[hung.status]).toBe('FAILED');
      expect(hung.message).toMatch(/within 300 ms|timed out|timeout/i);
      expect(STATUS[check(events, 'latency').status]).toBe('SKIPPED');
      expect(summary(events).ok).toBe(false);
    });

    /** The whole call respects the caller's deadline. */
    it('ends with DEADLINE_EXCEEDED when the deadline passes first', async () => {
      const started = Date.now();
      const error = await expectFailure(
        t.validate({ dataSource: engine.source(server, { primary: { host: '127.0.0.1', port, database: '' } }), checkTimeoutMs: 60_000 }, { deadlineMs: 1000 }),
      );
      expect(error.code).toBe(4);
      expect(Date.now() - started).toBeLessThan(3000);
    });
  });

  /** Another name of the connector reaches the same connector. */
  it(`accepts the ${engine.alias} alias`, async () => {
    const events = await t.validate({ dataSource: engine.source(server, { type: engine.alias }) });
    expect(summary(events)).toMatchObject({ ok: true, connector: engine.connector });
  });

  /** Bad input is INVALID_ARGUMENT naming the field, before any connection. */
  it('rejects a port out of range, naming the field', async () => {
    const status = richStatusOf(
      await expectFailure(t.validate({ dataSource: engine.source(server, { primary: { host: server.host, port: 70000, database: '' } }) })),
    );
    expect(status.grpcCode).toBe(3);
    expect(status.badRequest).toContainEqual({ field: 'data_source.primary.port', description: '70000 is not a TCP port (1-65535)' });
  });

  /** The server span continues the caller's traceparent; children cover secrets, connections and every check; no secret in any. */
  it('traces the call under the caller trace without secrets', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentSpanId = '00f067aa0ba902b7';
    const metadata = new Metadata();
    metadata.set('traceparent', `00-${traceId}-${parentSpanId}-01`);
    await t.validate({ dataSource: engine.source(server) }, { metadata });
    const spans = t.spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const root = spans.find((s) => s.name === 'sourced.v1.DataSourceService/ValidateDataSource');
    expect(root?.parentSpanContext?.spanId).toBe(parentSpanId);
    expect(root?.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.service': 'sourced.v1.DataSourceService',
      'rpc.method': 'ValidateDataSource',
      'rpc.grpc.status_code': 0,
    });
    const names = spans.map((s) => s.name);
    for (const id of engine.order) expect(names).toContain(`sourced.check ${id}`);
    expect(names).toContain('sourced.secret.resolve');
    const checkSpan = spans.find((s) => s.name === 'sourced.check authenticate');
    expect(checkSpan?.parentSpanContext?.spanId).toBe(root?.spanContext().spanId);
    expect(JSON.stringify(spans.map((s) => [s.attributes, s.events, s.status]))).not.toContain(server.password);
  });
}
