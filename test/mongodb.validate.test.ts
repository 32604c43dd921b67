import { getServers, setServers } from 'node:dns';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SslMode } from '@sourced/api';
import type { ValidateDataSourceResponse } from '@sourced/api';
import { mongoFixture, SHOP } from './fixtures/mongodb/fixture';
import { startDnsStandIn } from './harness/mongo/dnsStandIn';
import { startMongoStandIn } from './harness/mongo/MongoStandIn';
import { mongoSource, verifyFull } from './harness/mongo/sources';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';
import { check, STATUS, statuses, summary } from './support/validation';

// What every connector's validation shares (a plain run, TLS, TLS not offered, a wrong password,
// a closed port, HYBRID, a silent server's deadline, the mongo alias, bad input, the trace) runs in
// connectors.validate.test.ts; MongoDB's own checks (auth source, topology, SRV) stay here.

/** Everything a call left behind: its events, the daemon's log lines and every span. */
function everything(t: TestDaemon, events: ValidateDataSourceResponse[]): string {
  const spans = t.spans.getFinishedSpans().map((s) => ({ n: s.name, a: s.attributes, e: s.events, st: s.status }));
  return JSON.stringify(events) + t.logs.join('\n') + JSON.stringify(spans);
}

describe('MongoDB validation', () => {
  const mongo = inject('mongodb');
  const mongoTls = inject('mongodbTls');
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mongodb'] });
  });
  afterAll(() => t.stop());

  /** verify-ca checks the CA only, so a server name the certificate lacks passes; verify-full with it fails at tls. */
  it.skipIf(!mongoTls)('checks the host name in verify-full only', async () => {
    const server = mongoTls!;
    const otherName = { ...verifyFull(server), serverName: 'db.example.test' };
    const ca = await t.validate({ dataSource: mongoSource(server, { sslConfig: { ...otherName, mode: SslMode.SSL_MODE_VERIFY_CA } as never }) });
    expect(statuses(ca)).toMatchObject({ tls: 'PASSED', handshake: 'PASSED', authenticate: 'PASSED' });
    const full = await t.validate({ dataSource: mongoSource(server, { sslConfig: otherName as never }) });
    const tls = check(full, 'tls');
    expect(STATUS[tls.status]).toBe('FAILED');
    expect(tls.details.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(tls.message).toContain('not valid for the host name db.example.test');
  });

  /** TLS off against a server that requires TLS: the tls check says it offers TLS, the handshake fails with that hint. */
  it.skipIf(!mongoTls)('explains that the server requires TLS when TLS is off', async () => {
    const server = mongoTls!;
    const events = await t.validate({ dataSource: mongoSource(server) });
    const tls = check(events, 'tls');
    expect(STATUS[tls.status]).toBe('SKIPPED');
    expect(tls.details['server.tls']).toBe('offered');
    const handshake = check(events, 'handshake');
    expect(STATUS[handshake.status]).toBe('FAILED');
    expect(handshake.message).toContain('closed the connection');
    expect(handshake.hint).toContain('requires it');
    expect(statuses(events).authenticate).toBe('SKIPPED');
  });

  /** A user created in another database than the auth source: the message says the user is not there, and auth_source fixes it. */
  it('tells a wrong auth source apart, and auth_source fixes it', async () => {
    const shopkeeper = { credentials: { username: mongo.shopUser, password: { source: { $case: 'inlineValue' as const, value: mongo.shopPassword } } } };
    const wrongSource = await t.validate({ dataSource: mongoSource(mongo, shopkeeper) });
    const auth = check(wrongSource, 'authenticate');
    expect(STATUS[auth.status]).toBe('FAILED');
    expect(auth.message).toBe(`authentication failed: there is no user "${mongo.shopUser}" in the authentication database "admin"`);
    expect(auth.hint).toContain('connection_properties.auth_source');

    const right = await t.validate({ dataSource: mongoSource(mongo, { ...shopkeeper, connectionProperties: { auth_source: SHOP } }) });
    expect(statuses(right)).toMatchObject({ authenticate: 'PASSED', privileges: 'PASSED', latency: 'PASSED' });
    expect(check(right, 'authenticate').details.auth_source).toBe(SHOP);
    expect(check(right, 'privileges').details['databases.listable']).toBe(SHOP);
    expect(everything(t, right)).not.toContain(mongo.shopPassword);
  });

  /** Without credentials against a server with access control, authenticate fails and says credentials are needed. */
  it('says credentials are needed when none are given', async () => {
    const events = await t.validate({ dataSource: mongoSource(mongo, { credentials: undefined }) });
    expect(check(events, 'resolve-credentials').message).toContain('connecting without a password');
    const auth = check(events, 'authenticate');
    expect(STATUS[auth.status]).toBe('FAILED');
    expect(auth.message).toContain('requires authentication');
  });

  /** The handshake names a mongos router as a sharded cluster. */
  it('reports a sharded cluster', async () => {
    const mongos = await startMongoStandIn({ dataset: mongoFixture({ test: mongo.password, shop: 'unused', admin: 'unused' }), sharded: true });
    try {
      const events = await t.validate({ dataSource: mongoSource({ ...mongo, host: mongos.host, port: mongos.port }) });
      const handshake = check(events, 'handshake');
      expect(handshake.message).toBe('a mongos router of a sharded cluster');
      expect(handshake.details.topology).toBe('sharded');
      expect(summary(events).ok).toBe(true);
    } finally {
      await mongos.stop();
    }
  });

  /** An unknown auth mechanism is refused as bad input naming the field, before connecting. */
  it('refuses an unknown auth mechanism as bad input', async () => {
    const status = richStatusOf(await expectFailure(t.validate({ dataSource: mongoSource(mongo, { connectionProperties: { auth_mechanism: 'GSSAPI' } }) })));
    expect(status.grpcCode).toBe(3);
    expect(status.badRequest?.map((v) => v.field)).toEqual(['data_source.connection_properties.auth_mechanism']);
  });

  describe('mongodb+srv', () => {
    let restore: () => Promise<void>;
    beforeAll(async () => {
      const dns = await startDnsStandIn({
        srv: {
          '_mongodb._tcp.cluster0.sourced.test': [
            { priority: 0, weight: 5, port: 27018, target: 'node2.sourced.test' },
            { priority: 0, weight: 10, port: 27017, target: 'node1.sourced.test' },
          ],
          '_mongodb._tcp.rogue.sourced.test': [{ priority: 0, weight: 0, port: 27017, target: 'evil.example.com' }],
        },
        txt: { 'cluster0.sourced.test': ['authSource=admin&replicaSet=rs0'] },
      });
      // Only dns.resolve* (SRV and TXT look-ups) ask the stand-in; host names still resolve through getaddrinfo.
      const saved = getServers();
      setServers([`${dns.host}:${dns.port}`]);
      restore = async () => {
        setServers(saved);
        await dns.stop();
      };
    });
    afterAll(() => restore());

    /** A host given as an SRV name: the dns check reports the seed list (by priority, then weight) and the TXT options, and tcp tries each seed. */
    it('reports the SRV seed list and TXT options', async () => {
      const events = await t.validate({ dataSource: mongoSource(mongo, { primary: { host: '_mongodb._tcp.cluster0.sourced.test', port: 0, database: '' } }) });
      const dns = check(events, 'dns');
      expect(STATUS[dns.status]).toBe('PASSED');
      expect(dns.message).toBe(
        '_mongodb._tcp.cluster0.sourced.test lists 2 hosts: node1.sourced.test:27017, node2.sourced.test:27018; TXT options authSource=admin&replicaSet=rs0',
      );
      expect(dns.details).toMatchObject({ seeds: 'node1.sourced.test:27017,node2.sourced.test:27018', txt: 'authSource=admin&replicaSet=rs0' });
      // the seeds exist only in the DNS stand-in, so the system resolver cannot connect to them
      const tcp = check(events, 'tcp');
      expect(STATUS[tcp.status]).toBe('FAILED');
      expect(tcp.details).toMatchObject({ seeds: '2', reachable: '' });
      expect(statuses(events).handshake).toBe('SKIPPED');
    });

    /** connection_properties.srv turns SRV on for a plain host; no record, or a seed outside the domain, fails the dns check. */
    it('fails the dns check without SRV records or with a foreign seed', async () => {
      const missing = await t.validate({
        dataSource: mongoSource(mongo, { primary: { host: 'nothing.sourced.test', port: 0, database: '' }, connectionProperties: { srv: true } }),
      });
      expect(STATUS[check(missing, 'dns').status]).toBe('FAILED');
      expect(check(missing, 'dns').message).toContain('no SRV record _mongodb._tcp.nothing.sourced.test');
      const rogue = await t.validate({
        dataSource: mongoSource(mongo, { primary: { host: 'rogue.sourced.test', port: 0, database: '' }, connectionProperties: { srv: 'true' } }),
      });
      expect(check(rogue, 'dns').message).toContain('name hosts outside its domain (evil.example.com)');
    });
  });
});
