import { createServer, type Server, type Socket } from 'node:net';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Location } from '@sourced/api';
import { EndpointRole } from '@sourced/api';
import { freePort } from './harness/ports';
import { pgSource, verifyFull } from './support/pg';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';
import { check, finished, STATUS, statuses, summary } from './support/validation';

const ORDER = ['resolve-credentials', 'dns', 'tcp', 'tls', 'authenticate', 'server-version', 'privileges', 'metadata-read', 'latency'];

describe('PostgreSQL validation', () => {
  const pg = inject('postgres');
  const pgTls = inject('postgresTls');
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon();
  });
  afterAll(() => t.stop());

  /** Every check streams as it starts and ends, in order, with sequence numbers from 1 without gaps. */
  it('passes against a plain server and streams every check in order', async () => {
    const events = await t.validate({ dataSource: pgSource(pg) });
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
    const kinds = events.map((e) => e.event?.$case);
    expect(kinds.filter((k) => k === 'checkStarted')).toHaveLength(ORDER.length);
    expect(finished(events).map((c) => c.checkId)).toEqual(ORDER);
    // started then finished for each check, one at a time
    for (let i = 0; i < ORDER.length; i++) {
      expect(kinds.slice(i * 2, i * 2 + 2)).toEqual(['checkStarted', 'checkFinished']);
    }
    expect(statuses(events)).toEqual({
      'resolve-credentials': 'PASSED',
      dns: 'PASSED',
      tcp: 'PASSED',
      tls: 'SKIPPED',
      authenticate: 'PASSED',
      'server-version': 'PASSED',
      // the fixture has a schema the test role may not use
      privileges: 'WARNING',
      'metadata-read': 'PASSED',
      latency: 'PASSED',
    });
    expect(check(events, 'privileges').details.not_usable).toBe('hidden');
    expect(check(events, 'server-version').details.version).toMatch(/^\d+\.\d+/);
    expect(check(events, 'resolve-credentials').details['password.source']).toBe('inline');
    expect(summary(events)).toMatchObject({ ok: true, endpoints: 1, connector: 'postgres' });
    expect(events.find((e) => e.event?.$case === 'report')?.event?.value).toMatchObject({ ok: true, address: `${pg.host}:${pg.port}`, warnings: 1 });
  });

  /** TLS with verify-full against the test CA reports the protocol and cipher. */
  it('passes over TLS and reports protocol and cipher', async () => {
    const events = await t.validate({ dataSource: pgSource(pgTls, { sslConfig: verifyFull(pgTls) as never }) });
    expect(statuses(events)).toMatchObject({ tls: 'PASSED', authenticate: 'PASSED', privileges: 'PASSED' });
    const tls = check(events, 'tls');
    expect(tls.details['tls.protocol']).toMatch(/^TLSv1\.[23]$/);
    expect(tls.details['tls.cipher']).toBeTruthy();
    expect(summary(events).ok).toBe(true);
  });

  /** Without the CA, verify-full fails at TLS with a hint to give the CA, and login is not attempted. */
  it('fails TLS verification without the CA', async () => {
    const events = await t.validate({ dataSource: pgSource(pgTls, { sslConfig: { ...verifyFull(pgTls), ca: '' } as never }) });
    const tls = check(events, 'tls');
    expect(STATUS[tls.status]).toBe('FAILED');
    expect(tls.hint).toMatch(/ssl_config\.ca|CA/);
    expect(statuses(events).authenticate).toBe('SKIPPED');
    expect(summary(events).ok).toBe(false);
  });

  /** A wrong password fails authentication clearly; neither password appears in events, logs or spans. */
  it('fails authentication with a wrong password and leaks neither password', async () => {
    const wrong = 'wrong-Pa55-' + Math.random().toString(36).slice(2);
    const events = await t.validate({ dataSource: pgSource(pg, {}, wrong) });
    const auth = check(events, 'authenticate');
    expect(STATUS[auth.status]).toBe('FAILED');
    expect(auth.message).toMatch(/password authentication failed for user "sourced_test"/);
    expect(auth.hint).toBeTruthy();
    for (const id of ['server-version', 'privileges', 'metadata-read', 'latency']) expect(statuses(events)[id]).toBe('SKIPPED');
    expect(summary(events).ok).toBe(false);

    const everything = JSON.stringify(events) + t.logs.join('\n') + JSON.stringify(t.spans.getFinishedSpans().map((s) => ({ a: s.attributes, e: s.events, st: s.status, n: s.name })));
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(pg.password);
  });

  /** HYBRID validates both endpoints, each reported with its role. */
  it('validates both endpoints of a HYBRID source', async () => {
    const events = await t.validate({
      dataSource: pgSource(pgTls, {
        location: Location.LOCATION_HYBRID,
        secondary: { host: 'localhost', port: pgTls.port, database: pgTls.database },
        sslConfig: verifyFull(pgTls) as never,
      }),
    });
    const reports = events.flatMap((e) => (e.event?.$case === 'report' ? [e.event.value] : []));
    expect(reports.map((r) => [r.endpoint, r.address, r.ok])).toEqual([
      [EndpointRole.ENDPOINT_ROLE_PRIMARY, `${pgTls.host}:${pgTls.port}`, true],
      [EndpointRole.ENDPOINT_ROLE_SECONDARY, `localhost:${pgTls.port}`, true],
    ]);
    expect(finished(events).filter((c) => c.endpoint === EndpointRole.ENDPOINT_ROLE_SECONDARY).map((c) => c.checkId)).toEqual(ORDER);
    expect(summary(events)).toMatchObject({ ok: true, endpoints: 2 });
  });

  /** A closed port fails at TCP fast, and everything that needs a connection is skipped. */
  it('fails fast on a closed port', async () => {
    const port = await freePort();
    const started = Date.now();
    const events = await t.validate({ dataSource: pgSource(pg, { primary: { host: '127.0.0.1', port, database: 'x' } }) });
    expect(Date.now() - started).toBeLessThan(10_000);
    const tcp = check(events, 'tcp');
    expect(STATUS[tcp.status]).toBe('FAILED');
    expect(tcp.message).toContain('connection refused');
    expect(tcp.hint).toBeTruthy();
    for (const id of ['tls', 'authenticate', 'server-version', 'privileges', 'metadata-read', 'latency']) expect(statuses(events)[id]).toBe('SKIPPED');
  });

  it('fails at DNS for an unknown host', async () => {
    const events = await t.validate({ dataSource: pgSource(pg, { primary: { host: 'no-such-host.invalid', port: 5432, database: 'x' } }) });
    const dns = check(events, 'dns');
    expect(STATUS[dns.status]).toBe('FAILED');
    expect(dns.message).toContain('no-such-host.invalid');
    expect(statuses(events).tcp).toBe('SKIPPED');
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

    /** A check that hangs fails at its time limit; the stream goes on and ends with a summary. */
    it('fails the hanging check at its time limit', async () => {
      const events = await t.validate({ dataSource: pgSource(pg, { primary: { host: '127.0.0.1', port, database: 'x' } }), checkTimeoutMs: 300 });
      expect(STATUS[check(events, 'tcp').status]).toBe('PASSED');
      const auth = check(events, 'authenticate');
      expect(STATUS[auth.status]).toBe('FAILED');
      expect(auth.message).toMatch(/within 300 ms|timed out|timeout/i);
      expect(STATUS[check(events, 'latency').status]).toBe('SKIPPED');
      expect(summary(events).ok).toBe(false);
    });

    /** The whole call respects the caller's deadline. */
    it('ends with DEADLINE_EXCEEDED when the deadline passes first', async () => {
      const started = Date.now();
      const error = await expectFailure(t.validate({ dataSource: pgSource(pg, { primary: { host: '127.0.0.1', port, database: 'x' } }), checkTimeoutMs: 60_000 }, { deadlineMs: 1000 }));
      expect(error.code).toBe(4);
      expect(Date.now() - started).toBeLessThan(3000);
    });
  });

  /** Secrets by reference: env:// allowed by the default policy, resolved in the daemon. */
  it('resolves the password from an env:// reference and says so', async () => {
    process.env.SOURCED_SECRET_TEST_PG = pg.password;
    const events = await t.validate({
      dataSource: pgSource(pg, { credentials: { username: pg.user, password: { source: { $case: 'reference', value: 'env://SOURCED_SECRET_TEST_PG' } } } }),
    });
    expect(check(events, 'resolve-credentials').details['password.source']).toBe('env://SOURCED_SECRET_TEST_PG');
    expect(statuses(events).authenticate).toBe('PASSED');
  });

  /** A reference outside the policy fails the call with PERMISSION_DENIED before any check runs. */
  it('refuses env:// references outside the policy', async () => {
    process.env.NOT_FOR_CALLERS = 'x';
    const error = await expectFailure(
      t.validate({
        dataSource: pgSource(pg, { credentials: { username: pg.user, password: { source: { $case: 'reference', value: 'env://NOT_FOR_CALLERS' } } } }),
      }),
    );
    expect(error.code).toBe(7);
    const status = richStatusOf(error);
    expect(status.errorInfo).toMatchObject({ reason: 'SECRET_REFERENCE_NOT_ALLOWED', metadata: { field: 'data_source.credentials.password.reference' } });
    expect(status.message).toContain('does not allow env://NOT_FOR_CALLERS');
  });

  /** No file:// reference is allowed by default, so a caller cannot read the daemon's files. */
  it('refuses file:// references by default', async () => {
    const error = await expectFailure(
      t.validate({ dataSource: pgSource(pg, { connectionProperties: { password: 'file:///etc/passwd' } as never, credentials: { username: pg.user, password: undefined } }) }),
    );
    expect(error.code).toBe(7);
    expect(richStatusOf(error).errorInfo?.metadata.field).toBe('data_source.connection_properties.password');
  });

  /** The server span continues the caller's traceparent; children cover secrets, connections and checks; no secret in any. */
  it('traces the call under the caller trace without secrets', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentSpanId = '00f067aa0ba902b7';
    const metadata = new Metadata();
    metadata.set('traceparent', `00-${traceId}-${parentSpanId}-01`);
    await t.validate({ dataSource: pgSource(pg) }, { metadata });
    const spans = t.spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const server = spans.find((s) => s.name === 'sourced.v1.DataSourceService/ValidateDataSource');
    expect(server?.parentSpanContext?.spanId).toBe(parentSpanId);
    expect(server?.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'sourced.v1.DataSourceService', 'rpc.method': 'ValidateDataSource', 'rpc.grpc.status_code': 0 });
    const names = spans.map((s) => s.name);
    for (const id of ORDER) expect(names).toContain(`sourced.check ${id}`);
    expect(names).toContain('sourced.secret.resolve');
    const checkSpan = spans.find((s) => s.name === 'sourced.check authenticate');
    expect(checkSpan?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
    expect(JSON.stringify(spans.map((s) => [s.attributes, s.events, s.status]))).not.toContain(pg.password);
  });
});
