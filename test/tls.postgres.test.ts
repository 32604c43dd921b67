import { X509Certificate } from 'node:crypto';
import { chown, copyFile, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource, Location, SslMode } from '@sourced/api';
import { probeTls } from '../plugins/postgres/src/tlsProbe';
import { makeCertificates, makeServerCertificate, type Certificates } from './harness/certs';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { checkOf, inline, reference, sslConfig } from './support/tlsChecks';
import { registerSecret } from './support/secretScan';
import { allowingFiles } from './support/filePolicy';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

/**
 * TLS against a PostgreSQL of its own that admits TLS logins with a client certificate only
 * (`hostssl ... cert clientcert=verify-full`, ssl_ca_file = the test CA; the client certificate's
 * CN is the role name), so certificates can be swapped and the server reloaded.
 */
describe('PostgreSQL TLS', () => {
  let pg: PostgresInstance;
  let pki: Certificates;
  let other: Certificates;
  let t: TestDaemon;

  beforeAll(async () => {
    pg = await startPostgres({ tls: true, extraHba: ['hostssl all all 127.0.0.1/32 cert clientcert=verify-full'] });
    // Some checks name the certificates by path: the daemon may read the server's folder.
    t = await startTestDaemon(allowingFiles(pg.baseDir));
    pki = pg.certificates!;
    other = await makeCertificates(join(pg.baseDir, 'other-pki'));
    for (const pem of [pki.clientKeyPem, other.clientKeyPem, pki.serverKeyPem]) registerSecret('a TLS private key', pem);
  });
  afterAll(async () => {
    await t?.stop();
    await pg?.destroy();
  });

  function source(ssl: Parameters<typeof sslConfig>[0], extra: Partial<DataSource> = {}): DataSource {
    return DataSource.fromPartial({
      id: 'tls-pg',
      type: 'postgres',
      location: Location.LOCATION_CLOUD,
      primary: { host: pg.host, port: pg.port, database: pg.database },
      credentials: { username: pg.user },
      sslConfig: sslConfig(ssl),
      ...extra,
    });
  }
  const mtls = (o: Parameters<typeof sslConfig>[0] = {}) => ({ ca: pki.caCertPem, cert: pki.clientCert, key: inline(pki.clientKeyPem), ...o });

  /** With the CA and a client certificate, tls reports the certificate, the host name match and the accepted client certificate, and login succeeds by certificate. */
  it('passes with a client certificate and reports the certificate facts', async () => {
    const events = await t.validate({ dataSource: source(mtls()) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('PASSED');
    expect(tls.details).toMatchObject({
      mode: 'verify-full',
      'cert.verified': 'yes',
      'cert.subject': 'CN=localhost',
      'cert.issuer': 'CN=sourced test CA',
      'host_name': 'matched (127.0.0.1)',
      'client_cert': 'presented, accepted',
    });
    expect(tls.details['cert.san']).toContain('IP Address:127.0.0.1');
    expect(tls.details['tls.protocol']).toMatch(/^TLSv1\.[23]$/);
    expect(Date.parse(tls.details['cert.valid_from']!)).toBeLessThanOrEqual(Date.now());
    expect(Number(tls.details['cert.expires_in_days'])).toBeGreaterThan(80);
    expect(tls.message).toContain('client certificate accepted');
    expect(checkOf(events, 'authenticate').state).toBe('PASSED');
  });

  /** ssl_ca, ssl_cert and ssl_key may each be a secret reference, resolved through the chain. */
  it('resolves the CA, certificate and key through secret references', async () => {
    process.env.SOURCED_SECRET_TLSPG_CA = pki.caCertPem;
    process.env.SOURCED_SECRET_TLSPG_CERT = pki.clientCertPem;
    process.env.SOURCED_SECRET_TLSPG_KEY = pki.clientKeyPem;
    try {
      const events = await t.validate({
        dataSource: source({
          ca: 'env://SOURCED_SECRET_TLSPG_CA',
          cert: 'env://SOURCED_SECRET_TLSPG_CERT',
          key: reference('env://SOURCED_SECRET_TLSPG_KEY'),
        }),
      });
      expect(checkOf(events, 'tls').details.client_cert).toBe('presented, accepted');
      expect(checkOf(events, 'authenticate').state).toBe('PASSED');
      expect(checkOf(events, 'resolve-credentials').state).not.toBe('FAILED');
    } finally {
      delete process.env.SOURCED_SECRET_TLSPG_CA;
      delete process.env.SOURCED_SECRET_TLSPG_CERT;
      delete process.env.SOURCED_SECRET_TLSPG_KEY;
    }
  });

  /** Without a client certificate the handshake works, tls notes the server asked for one, and authenticate fails with a client-certificate hint. */
  it('fails login without a client certificate, with a hint to give one', async () => {
    const events = await t.validate({ dataSource: source({ ca: pki.caCert }) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('PASSED');
    expect(tls.details.client_cert).toBe('requested by the server, none configured');
    const auth = checkOf(events, 'authenticate');
    expect(auth.state).toBe('FAILED');
    expect(auth.message).toMatch(/client certificate/);
    expect(auth.hint).toMatch(/ssl_config\.cert/);
  });

  /** A CA that did not sign the server certificate fails tls as an unknown CA. */
  it('fails with an unknown CA', async () => {
    const events = await t.validate({ dataSource: source(mtls({ ca: other.caCertPem })) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('FAILED');
    expect(tls.message).toContain('unknown CA');
    expect(tls.hint).toContain('ssl_config.ca');
    expect(tls.details['cert.issuer']).toBe('CN=sourced test CA');
    expect(checkOf(events, 'authenticate').state).toBe('SKIPPED');
  });

  /** verify-full against a name the certificate lacks fails as a host name mismatch; verify-ca passes and says the name was not checked. */
  it('fails on a host name mismatch and passes with verify-ca', async () => {
    const events = await t.validate({ dataSource: source(mtls({ serverName: 'wrong.example' })) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('FAILED');
    expect(tls.message).toContain('host name mismatch');
    expect(tls.details).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID', host_name: 'mismatch (wrong.example)' });
    expect(tls.hint).toMatch(/server_name/);
    expect(tls.hint).toMatch(/SSL_MODE_VERIFY_CA/);

    const ca = checkOf(await t.validate({ dataSource: source(mtls({ mode: SslMode.SSL_MODE_VERIFY_CA, serverName: 'wrong.example' })) }), 'tls');
    expect(ca.state).toBe('PASSED');
    expect(ca.details.host_name).toBe('not checked (mode verify-ca)');
  });

  /** A key that is not the certificate's is caught locally, before any handshake. */
  it('fails locally when the key does not match the certificate', async () => {
    const events = await t.validate({ dataSource: source(mtls({ key: inline(other.clientKeyPem) })) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('FAILED');
    expect(tls.message).toBe('the client key (ssl_config.key) does not match the client certificate (ssl_config.cert)');
    expect(tls.details.client_cert).toBe('key does not match');
    expect(tls.details['tls.protocol']).toBeUndefined();
  });

  /** An expired server certificate fails (and only warns in mode require); one expiring within 30 days warns. */
  it('fails on an expired server certificate and warns on one about to expire', async () => {
    const day = 86_400_000;
    const expired = await makeServerCertificate(pki, { name: 'expired', notBefore: new Date(Date.now() - 60 * day), notAfter: new Date(Date.now() - day) });
    const soon = await makeServerCertificate(pki, { name: 'soon', notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + 10 * day) });
    registerSecret('a TLS private key', expired.keyPem);
    registerSecret('a TLS private key', soon.keyPem);
    try {
      await serveCertificate(expired);
      const events = await t.validate({ dataSource: source(mtls()) });
      const tls = checkOf(events, 'tls');
      expect(tls.state).toBe('FAILED');
      expect(tls.message).toContain('expired');
      expect(tls.details.code).toBe('CERT_HAS_EXPIRED');
      expect(Number(tls.details['cert.expires_in_days'])).toBeLessThan(0);
      const lax = checkOf(await t.validate({ dataSource: source(mtls({ mode: SslMode.SSL_MODE_REQUIRE })) }), 'tls');
      expect(lax.state).toBe('WARNING');
      expect(lax.message).toContain('expired');

      await serveCertificate(soon);
      const warned = checkOf(await t.validate({ dataSource: source(mtls()) }), 'tls');
      expect(warned.state).toBe('WARNING');
      expect(warned.message).toMatch(/expires in (9|10) days/);
    } finally {
      await serveCertificate({ cert: pki.serverCert, key: pki.serverKey });
    }
  });

  /** Installs a server certificate and key in the data folder and reloads, until new connections get it. */
  async function serveCertificate(pair: { cert: string; key: string }): Promise<void> {
    const owner = await stat(pg.dataDir);
    for (const [from, to] of [[pair.cert, 'server.crt'], [pair.key, 'server.key']] as const) {
      const target = join(pg.dataDir, to);
      await rm(target, { force: true });
      await copyFile(from, target);
      await chown(target, owner.uid, owner.gid);
    }
    await pg.psql('SELECT pg_reload_conf()');
    // The postmaster reloads asynchronously: wait until a handshake shows the new certificate.
    const want = new X509Certificate(await readFile(pair.cert)).validTo;
    for (let i = 0; i < 50; i++) {
      const probe = await probeTls(pg.host, pg.port, { rejectUnauthorized: false }, AbortSignal.timeout(2000));
      if (probe.answer === 'S' && Date.parse(probe.session.validTo ?? '') === Date.parse(want)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the server did not pick up the new certificate');
  }
});
