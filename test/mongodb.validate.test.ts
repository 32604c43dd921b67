import { getServers, setServers } from 'node:dns';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Location, SslMode } from '@sourced/api';
import type { ValidateDataSourceResponse } from '@sourced/api';
import { HR, mongoFixture, SHOP } from './fixtures/mongodb/fixture';
import { startDnsStandIn } from './harness/mongo/dnsStandIn';
import { startMongoStandIn } from './harness/mongo/MongoStandIn';
import { mongoSource, verifyFull } from './harness/mongo/sources';
import { freePort } from './harness/ports';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';
import { check, finished, STATUS, statuses, summary } from './support/validation';

const ORDER = ['resolve-credentials', 'dns', 'tcp', 'tls', 'handshake', 'server-version', 'authenticate', 'privileges', 'latency'];

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

  /** Every check streams in order; the user who may list only part of sourced_hr passes with a privileges warning. */
  it('passes against a plain server and streams every check in order', async () => {
    const events = await t.validate({ dataSource: mongoSource(mongo) });
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
    expect(finished(events).map((c) => c.checkId)).toEqual(ORDER);
    expect(statuses(events)).toEqual({
      'resolve-credentials': 'PASSED',
      dns: 'PASSED',
      tcp: 'PASSED',
      tls: 'SKIPPED',
      handshake: 'PASSED',
      'server-version': 'PASSED',
      authenticate: 'PASSED',
      privileges: 'WARNING',
      latency: 'PASSED',
    });
    expect(check(events, 'tls').details['server.tls']).toBe('not offered');
    if (mongo.standIn) expect(check(events, 'handshake').details).toMatchObject({ topology: 'standalone', max_wire_version: '21' });
    expect(check(events, 'server-version').details.version).toMatch(/^\d+\.\d+\.\d+/);
    const auth = check(events, 'authenticate');
    expect(auth.details).toMatchObject({ user: mongo.user, auth_source: 'admin', mechanism: 'SCRAM-SHA-256' });
    expect(auth.details.roles.split(',')).toEqual(expect.arrayContaining([`read@${SHOP}`, 'sourced_hr_reader@admin']));
    const privileges = check(events, 'privileges');
    expect(privileges.details).toMatchObject({ 'databases.partly_listable': `${HR} (1)` });
    expect(privileges.message).toContain(`only some collections of ${HR} (1)`);
    expect(check(events, 'latency').details.round_trips).toBe('5');
    expect(summary(events)).toMatchObject({ ok: true, endpoints: 1, connector: 'mongodb' });
  });

  /** verify-full against the test CA reports protocol and cipher, and the handshake reports the replica set. */
  it.skipIf(!mongoTls)('passes over TLS and reports protocol, cipher and topology', async () => {
    const server = mongoTls!;
    const events = await t.validate({ dataSource: mongoSource(server, { sslConfig: verifyFull(server) as never }) });
    expect(statuses(events)).toMatchObject({ tls: 'PASSED', handshake: 'PASSED', authenticate: 'PASSED' });
    const tls = check(events, 'tls');
    expect(tls.details['tls.protocol']).toMatch(/^TLSv1\.[23]$/);
    expect(tls.details['tls.cipher']).toBeTruthy();
    expect(tls.details['cert.verified']).toBe('yes');
    if (server.standIn) {
      const handshake = check(events, 'handshake');
      expect(handshake.details).toMatchObject({ topology: 'replica-set', set_name: 'rs0', role: 'primary', members: `${server.host}:${server.port}` });
      expect(handshake.message).toContain('replica set "rs0"');
    }
    expect(summary(events).ok).toBe(true);
  });

  /** Without the CA, verify-full fails at TLS with a hint to give it, and nothing logs in. */
  it.skipIf(!mongoTls)('fails TLS verification without the CA', async () => {
    const server = mongoTls!;
    const events = await t.validate({ dataSource: mongoSource(server, { sslConfig: { ...verifyFull(server), ca: '' } as never }) });
    const tls = check(events, 'tls');
    expect(STATUS[tls.status]).toBe('FAILED');
    expect(tls.hint).toContain('ssl_config.ca');
    expect(statuses(events)).toMatchObject({ handshake: 'SKIPPED', authenticate: 'SKIPPED', latency: 'SKIPPED' });
    expect(summary(events).ok).toBe(false);
  });

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

  /** TLS on against a server without TLS fails at the tls check with a clear message. */
  it('fails the tls check when the server does not speak TLS', async () => {
    const events = await t.validate({ dataSource: mongoSource(mongo, { sslConfig: { mode: SslMode.SSL_MODE_REQUIRE, ca: '', cert: '', serverName: '' } as never }) });
    const tls = check(events, 'tls');
    expect(STATUS[tls.status]).toBe('FAILED');
    expect(tls.message).toContain('does not speak TLS');
    expect(statuses(events).handshake).toBe('SKIPPED');
  });

  /** A wrong password fails authentication (the user exists, so the hint says the password is wrong); no password leaks anywhere. */
  it('fails authentication with a wrong password and leaks neither password', async () => {
    const wrong = `wrong-Pa55-${Math.random().toString(36).slice(2)}`;
    const events = await t.validate({ dataSource: mongoSource(mongo, {}, wrong) });
    const auth = check(events, 'authenticate');
    expect(STATUS[auth.status]).toBe('FAILED');
    expect(auth.message).toBe(`authentication failed for user "${mongo.user}" (auth source "admin", SCRAM)`);
    expect(auth.hint).toContain('so the password is wrong');
    expect(auth.details.code).toBe('18');
    expect(statuses(events)).toMatchObject({ handshake: 'PASSED', 'server-version': 'PASSED', privileges: 'SKIPPED', latency: 'SKIPPED' });
    expect(summary(events).ok).toBe(false);
    const all = everything(t, events);
    expect(all).not.toContain(wrong);
    expect(all).not.toContain(mongo.password);
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

  /** A closed port fails at TCP, and everything that needs a connection is skipped. */
  it('fails fast on a closed port', async () => {
    const port = await freePort();
    const started = Date.now();
    const events = await t.validate({ dataSource: mongoSource(mongo, { primary: { host: '127.0.0.1', port, database: '' } }) });
    expect(Date.now() - started).toBeLessThan(5000);
    const tcp = check(events, 'tcp');
    expect(STATUS[tcp.status]).toBe('FAILED');
    expect(tcp.message).toContain('connection refused');
    for (const id of ['tls', 'handshake', 'server-version', 'authenticate', 'privileges', 'latency']) expect(statuses(events)[id]).toBe('SKIPPED');
  });

  /** The alias `mongo` and the default port are the connector's; an unknown auth mechanism is refused before connecting. */
  it('takes the mongo alias, and refuses an unknown auth mechanism as bad input', async () => {
    const events = await t.validate({ dataSource: mongoSource(mongo, { type: 'mongo' }) });
    expect(summary(events)).toMatchObject({ ok: true, connector: 'mongodb' });
    const status = richStatusOf(await expectFailure(t.validate({ dataSource: mongoSource(mongo, { connectionProperties: { auth_mechanism: 'GSSAPI' } }) })));
    expect(status.grpcCode).toBe(3);
    expect(status.badRequest?.map((v) => v.field)).toEqual(['data_source.connection_properties.auth_mechanism']);
  });

  /** HYBRID validates both endpoints; the secondary is reached by another name of the same server. */
  it('validates both endpoints of a HYBRID source', async () => {
    const events = await t.validate({
      dataSource: mongoSource(mongo, { location: Location.LOCATION_HYBRID, secondary: { host: 'localhost', port: mongo.port, database: '' }, sslConfig: { mode: SslMode.SSL_MODE_DISABLE, ca: '', cert: '', serverName: '' } as never }),
    });
    const reports = events.flatMap((e) => (e.event?.$case === 'report' ? [e.event.value] : []));
    expect(reports.map((r) => [r.address, r.ok])).toEqual([
      [`${mongo.host}:${mongo.port}`, true],
      [`localhost:${mongo.port}`, true],
    ]);
    expect(summary(events)).toMatchObject({ ok: true, endpoints: 2 });
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
      expect(dns.message).toBe('_mongodb._tcp.cluster0.sourced.test lists 2 hosts: node1.sourced.test:27017, node2.sourced.test:27018; TXT options authSource=admin&replicaSet=rs0');
      expect(dns.details).toMatchObject({ seeds: 'node1.sourced.test:27017,node2.sourced.test:27018', txt: 'authSource=admin&replicaSet=rs0' });
      // the seeds exist only in the DNS stand-in, so the system resolver cannot connect to them
      const tcp = check(events, 'tcp');
      expect(STATUS[tcp.status]).toBe('FAILED');
      expect(tcp.details).toMatchObject({ seeds: '2', reachable: '' });
      expect(statuses(events).handshake).toBe('SKIPPED');
    });

    /** connection_properties.srv turns SRV on for a plain host; no record, or a seed outside the domain, fails the dns check. */
    it('fails the dns check without SRV records or with a foreign seed', async () => {
      const missing = await t.validate({ dataSource: mongoSource(mongo, { primary: { host: 'nothing.sourced.test', port: 0, database: '' }, connectionProperties: { srv: true } }) });
      expect(STATUS[check(missing, 'dns').status]).toBe('FAILED');
      expect(check(missing, 'dns').message).toContain('no SRV record _mongodb._tcp.nothing.sourced.test');
      const rogue = await t.validate({ dataSource: mongoSource(mongo, { primary: { host: 'rogue.sourced.test', port: 0, database: '' }, connectionProperties: { srv: 'true' } }) });
      expect(check(rogue, 'dns').message).toContain('name hosts outside its domain (evil.example.com)');
    });
  });

  /** One span per check under the call's server span; no span holds the password. */
  it('traces every check without secrets', async () => {
    t.spans.reset();
    await t.validate({ dataSource: mongoSource(mongo) });
    const names = t.spans.getFinishedSpans().map((s) => s.name);
    for (const id of ORDER) expect(names).toContain(`sourced.check ${id}`);
    expect(JSON.stringify(t.spans.getFinishedSpans().map((s) => [s.attributes, s.events, s.status]))).not.toContain(mongo.password);
  });
});
