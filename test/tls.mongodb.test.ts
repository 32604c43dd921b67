import { rm } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource, Location, SslMode } from '@sourced/api';
import { mongoFixture, SHOP, TEST_USER, type FixturePasswords } from './fixtures/mongodb/fixture';
import { makeCertificates, makeServerCertificate, type Certificates } from './harness/certs';
import { startMongoStandIn, type MongoStandIn } from './harness/mongo/MongoStandIn';
import { checkOf, inline, sslConfig } from './support/tlsChecks';
import { registerSecret } from './support/secretScan';
import { allowingFiles } from './support/filePolicy';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

/**
 * TLS against MongoDB wire stand-ins of this file: one with a certificate for localhost, one
 * with a certificate that names only `otherhost`, and one that requires a client certificate.
 * What every connector's TLS shares (a client certificate accepted or missing, an unknown CA,
 * a host name mismatch, a key that is not the certificate's) runs in connectors.tls.test.ts.
 */
describe('MongoDB TLS (wire stand-in)', () => {
  let dir: string;
  let pki: Certificates;
  let other: Certificates;
  let plain: MongoStandIn;
  let otherHost: MongoStandIn;
  let mutual: MongoStandIn;
  let t: TestDaemon;
  const passwords: FixturePasswords = {
    test: `t-${Math.random().toString(36).slice(2)}`,
    shop: `s-${Math.random().toString(36).slice(2)}`,
    admin: `a-${Math.random().toString(36).slice(2)}`,
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sourced-tls-mongo-'));
    // One check names a CA by path: the daemon may read this suite's folder.
    [pki, other, t] = await Promise.all([makeCertificates(join(dir, 'pki')), makeCertificates(join(dir, 'other')), startTestDaemon(allowingFiles(dir))]);
    const wrongName = await makeServerCertificate(pki, { name: 'otherhost', commonName: 'otherhost', altNames: ['DNS:otherhost'] });
    for (const p of Object.values(passwords)) registerSecret('fixture password', p);
    for (const k of [pki.serverKeyPem, pki.clientKeyPem, other.clientKeyPem, wrongName.keyPem]) registerSecret('a TLS private key', k);
    const dataset = mongoFixture(passwords);
    const log = () => undefined;
    [plain, otherHost, mutual] = await Promise.all([
      startMongoStandIn({ dataset, log, tls: { cert: pki.serverCertPem, key: pki.serverKeyPem } }),
      startMongoStandIn({ dataset, log, tls: { cert: wrongName.certPem, key: wrongName.keyPem } }),
      startMongoStandIn({ dataset, log, tls: { cert: pki.serverCertPem, key: pki.serverKeyPem, clientCa: pki.caCertPem } }),
    ]);
  });
  afterAll(async () => {
    await t?.stop();
    await Promise.all([plain, otherHost, mutual].map((s) => s?.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function source(server: MongoStandIn, ssl: Parameters<typeof sslConfig>[0]): DataSource {
    return DataSource.fromPartial({
      id: 'tls-mongo',
      type: 'mongodb',
      location: Location.LOCATION_CLOUD,
      primary: { host: server.host, port: server.port, database: SHOP },
      credentials: { username: TEST_USER, password: inline(passwords.test) },
      sslConfig: sslConfig(ssl),
    });
  }

  /** verify-full with the test CA passes and reports the certificate, the host name match, and that no client certificate was asked for. */
  it('passes and reports the certificate', async () => {
    const events = await t.validate({ dataSource: source(plain, { ca: pki.caCertPem }) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('PASSED');
    expect(tls.details).toMatchObject({
      'cert.subject': 'CN=localhost',
      'cert.issuer': 'CN=sourced test CA',
      host_name: 'matched (127.0.0.1)',
      client_cert: 'not requested by the server',
    });
    expect(tls.details['cert.san']).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(checkOf(events, 'authenticate').state).toBe('PASSED');
  });

  /** A certificate that names only otherhost fails verify-full as a host name mismatch, with its SANs in the details. */
  it('fails on a host name mismatch', async () => {
    const tls = checkOf(await t.validate({ dataSource: source(otherHost, { ca: pki.caCertPem }) }), 'tls');
    expect(tls.state).toBe('FAILED');
    expect(tls.message).toContain('host name mismatch');
    expect(tls.details).toMatchObject({ 'cert.san': 'DNS:otherhost', host_name: 'mismatch (127.0.0.1)' });
    expect(tls.hint).toMatch(/server_name.*SSL_MODE_VERIFY_CA/);
  });

  /** A server that requires a client certificate refuses one from another CA, and the tls check says so. */
  it('reports a client certificate the server refuses', async () => {
    const foreign = checkOf(
      await t.validate({
        dataSource: source(mutual, { mode: SslMode.SSL_MODE_VERIFY_CA, ca: pki.caCertPem, cert: other.clientCertPem, key: inline(other.clientKeyPem) }),
      }),
      'tls',
    );
    expect(foreign.state).toBe('FAILED');
    expect(foreign.message).toContain('refused the client certificate');
  });
});
