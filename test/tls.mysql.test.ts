import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource, Location } from '@sourced/api';
import { startMariadb, type MariadbInstance } from './harness/mariadb';
import { checkOf, inline, sslConfig } from './support/tlsChecks';
import { registerSecret } from './support/secretScan';
import { allowingFiles } from './support/filePolicy';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

/** TLS against a MariaDB of its own (`--ssl-ca` = the test CA) with an account that must present a client certificate (`REQUIRE X509`). */
describe('MySQL/MariaDB TLS', () => {
  let db: MariadbInstance;
  let t: TestDaemon;
  const user = 'x509_reader';
  const password = `pw-${Math.random().toString(36).slice(2)}x509`;

  beforeAll(async () => {
    db = await startMariadb({ tls: true });
    // Some checks name the certificates and key by path: the daemon may read the server's folder.
    t = await startTestDaemon(allowingFiles(db.baseDir));
    registerSecret('x509 password', password);
    registerSecret('client key', db.certificates!.clientKeyPem);
    await db.sql(
      `CREATE USER '${user}'@'%' IDENTIFIED BY '${password}' REQUIRE X509;\nGRANT SELECT ON \`${db.database}\`.* TO '${user}'@'%';`,
    );
  });
  afterAll(async () => {
    await t?.stop();
    await db?.destroy();
  });

  function source(ssl: Parameters<typeof sslConfig>[0]): DataSource {
    return DataSource.fromPartial({
      id: 'tls-mysql',
      type: 'mysql',
      location: Location.LOCATION_CLOUD,
      primary: { host: db.host, port: db.port, database: db.database },
      credentials: { username: user, password: inline(password) },
      sslConfig: sslConfig(ssl),
    });
  }

  /** With the CA and a client certificate the account that requires X509 logs in; tls reports the certificate and the accepted client certificate. */
  it('passes with a client certificate', async () => {
    const pki = db.certificates!;
    const events = await t.validate({ dataSource: source({ ca: pki.caCert, cert: pki.clientCertPem, key: inline(pki.clientKey) }) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('PASSED');
    expect(tls.details).toMatchObject({
      'cert.subject': 'CN=localhost',
      'cert.issuer': 'CN=sourced test CA',
      host_name: 'matched (127.0.0.1)',
      client_cert: 'presented, accepted',
    });
    expect(tls.details['cert.valid_to']).toBeTruthy();
    expect(checkOf(events, 'authenticate').state).toBe('PASSED');
  });

  /** Without a client certificate the account is refused (access denied) with a hint about the client certificate. */
  it('fails login without a client certificate, with a hint about it', async () => {
    const events = await t.validate({ dataSource: source({ ca: db.certificates!.caCertPem }) });
    expect(checkOf(events, 'tls').details.client_cert).toBe('requested by the server, none configured');
    const auth = checkOf(events, 'authenticate');
    expect(auth.state).toBe('FAILED');
    expect(auth.message).toMatch(/Access denied/);
    expect(auth.hint).toMatch(/REQUIRE X509.*ssl_config\.cert/);
  });

  /** A key that is not the certificate's is caught before connecting. */
  it('fails locally when the key does not match the certificate', async () => {
    const pki = db.certificates!;
    const tls = checkOf(await t.validate({ dataSource: source({ ca: pki.caCert, cert: pki.clientCert, key: inline(pki.serverKeyPem) }) }), 'tls');
    expect(tls.state).toBe('FAILED');
    expect(tls.message).toContain('does not match the client certificate');
  });
});
