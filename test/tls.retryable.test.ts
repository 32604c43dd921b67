import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataSource, Location, SslMode } from '@sourced/api';
import { makeCertificates } from './harness/certs';
import { registerSecret } from './support/secretScan';
import { checkOf } from './support/tlsChecks';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';
import type { ServerInfo } from './support/globalSetup';

/**
 * Issue 24, item 5: a TLS misconfiguration is not an outage. A server certificate the given CA
 * did not sign, and a server that does not offer TLS, fail a discovery FAILED_PRECONDITION
 * (clients do not retry it) instead of UNAVAILABLE; and when a CA was given, the hint does not
 * ask for "the CA certificate" again but says the one given is not the one.
 */
describe.each([
  { type: 'postgres', plugin: '@sourced/plugin-postgres', tls: () => inject('postgresTls'), plain: () => inject('postgres') },
  { type: 'mysql', plugin: '@sourced/plugin-mysql', tls: () => inject('mariadbTls'), plain: () => inject('mariadb') },
])('$type: TLS failures are FAILED_PRECONDITION', ({ type, plugin, tls, plain }) => {
  let t: TestDaemon;
  let dir: string;
  let otherCa: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sourced-other-pki-'));
    const other = await makeCertificates(dir);
    registerSecret('another PKI client key', other.clientKeyPem);
    otherCa = other.caCertPem;
    t = await startTestDaemon({ plugins: [plugin] });
  });
  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const source = (server: ServerInfo, ca: string) =>
    DataSource.fromPartial({
      type,
      location: Location.LOCATION_CLOUD,
      primary: { host: server.host, port: server.port, database: type === 'postgres' ? server.database : '' },
      credentials: { username: server.user, password: { source: { $case: 'inlineValue', value: server.password } } },
      sslConfig: { mode: SslMode.SSL_MODE_VERIFY_FULL, ca, cert: '', serverName: '' },
    });

  /** A CA that did not sign the server's certificate: FAILED_PRECONDITION, and a hint about the CA given. */
  it('refuses a certificate the given CA did not sign, with a hint about that CA', async () => {
    const error = await expectFailure(t.discover({ dataSource: source(tls(), otherCa) }));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(richStatusOf(error).errorInfo?.reason).toBe('TLS_CERTIFICATE_REJECTED');
    expect(error.details).toContain('not signed by the CA given in ssl_config.ca');
    expect(error.details).not.toContain('Give the CA certificate');

    const check = checkOf(await t.validate({ dataSource: source(tls(), otherCa) }), 'tls');
    expect(check.state).toBe('FAILED');
    expect(check.hint).toContain('The CA in ssl_config.ca did not sign');
  });

  /** The right CA still works (the control). */
  it('discovers with the CA that signed the certificate', async () => {
    const events = await t.discover({ dataSource: source(tls(), tls().caCertPem ?? '') });
    expect(events.at(-1)?.event?.$case).toBe('summary');
  });

  /** TLS required against a server without TLS: FAILED_PRECONDITION TLS_NOT_OFFERED. */
  it('refuses a server that does not offer TLS', async () => {
    const error = await expectFailure(t.discover({ dataSource: source(plain(), tls().caCertPem ?? '') }));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(richStatusOf(error).errorInfo?.reason).toBe('TLS_NOT_OFFERED');
  });
});
