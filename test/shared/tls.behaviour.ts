import { afterAll, beforeAll, expect, it } from 'vitest';
import { SslMode, type DataSource } from '@sourced/api';
import type { Certificates, ExtraCertificate } from '../harness/certs';
import { makeServerCertificate } from '../harness/certs';
import { allowingFiles } from '../support/filePolicy';
import { registerSecret } from '../support/secretScan';
import { startTestDaemon, type TestDaemon } from '../support/testDaemon';
import { checkOf, inline, reference, sslConfig } from '../support/tlsChecks';

export type Ssl = Parameters<typeof sslConfig>[0];

/** A server of one engine that admits the test user by client certificate only, started for the suite. */
export interface TlsServer {
  /** The PKI that signed the server certificate and the client certificate the server accepts. */
  pki: Certificates;
  /** Another PKI: its CA did not sign the server certificate, its client key is not the client certificate's. */
  other: Certificates;
  /** A data source for the server with these TLS settings. */
  source(ssl: Ssl): DataSource;
  /** The folder the daemon may read certificates from by path. */
  folder: string;
  /** Serves another certificate and key until new connections get it (undefined: the engine's suite cannot swap them). */
  serveCertificate?(pair: { cert: string; key: string }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * What the shared TLS cases need of one connector: how to start a server that requires a
 * client certificate (from the harness), and what the connector reports when none is given,
 * as the test expects the server to refuse it: at the handshake (`tls`) or at login
 * (`authenticate`), in the engine's own words.
 */
export interface TlsEngine {
  /** Shown in the suite's name. */
  label: string;
  start(): Promise<TlsServer>;
  /** Whether the started server can serve another certificate (see {@link TlsServer.serveCertificate}). */
  swapsCertificates: boolean;
  withoutClientCert: { check: 'tls' | 'authenticate'; clientCert: string; message: RegExp; hint: RegExp };
}

/** Registers the TLS cases every connector shares for one engine (call inside a describe). */
export function tlsBehaviour(engine: TlsEngine): void {
  let server: TlsServer;
  let t: TestDaemon;
  let pki: Certificates;
  let other: Certificates;
  beforeAll(async () => {
    server = await engine.start();
    ({ pki, other } = server);
    for (const pem of [pki.clientKeyPem, other.clientKeyPem, pki.serverKeyPem]) registerSecret('a TLS private key', pem);
    // Some checks name the certificates by path: the daemon may read the server's folder.
    t = await startTestDaemon(allowingFiles(server.folder));
  });
  afterAll(async () => {
    await t?.stop();
    await server?.stop();
  });
  const mtls = (o: Ssl = {}): Ssl => ({ ca: pki.caCertPem, cert: pki.clientCert, key: inline(pki.clientKeyPem), ...o });

  /** With the CA and a client certificate, tls reports the certificate, the host name match and the accepted client certificate, and login succeeds. */
  it('passes with a client certificate and reports the certificate facts', async () => {
    const events = await t.validate({ dataSource: server.source(mtls()) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('PASSED');
    expect(tls.details).toMatchObject({
      mode: 'verify-full',
      'cert.verified': 'yes',
      'cert.subject': 'CN=localhost',
      'cert.issuer': 'CN=sourced test CA',
      host_name: 'matched (127.0.0.1)',
      client_cert: 'presented, accepted',
    });
    expect(tls.details['cert.san']).toContain('IP Address:127.0.0.1');
    expect(tls.details['tls.protocol']).toMatch(/^TLSv1\.[23]$/);
    expect(Date.parse(tls.details['cert.valid_from']!)).toBeLessThanOrEqual(Date.now());
    expect(tls.details['cert.valid_to']).toBeTruthy();
    expect(Number(tls.details['cert.expires_in_days'])).toBeGreaterThan(80);
    expect(tls.message).toContain('client certificate accepted');
    expect(checkOf(events, 'authenticate').state).toBe('PASSED');
  });

  /** ssl_ca, ssl_cert and ssl_key may each be a secret reference, resolved through the chain. */
  it('resolves the CA, certificate and key through secret references', async () => {
    const env = `SOURCED_SECRET_TLS_${engine.label.replace(/\W/g, '').toUpperCase()}`;
    process.env[`${env}_CA`] = pki.caCertPem;
    process.env[`${env}_CERT`] = pki.clientCertPem;
    process.env[`${env}_KEY`] = pki.clientKeyPem;
    try {
      const events = await t.validate({ dataSource: server.source({ ca: `env://${env}_CA`, cert: `env://${env}_CERT`, key: reference(`env://${env}_KEY`) }) });
      expect(checkOf(events, 'tls').details.client_cert).toBe('presented, accepted');
      expect(checkOf(events, 'authenticate').state).toBe('PASSED');
      expect(checkOf(events, 'resolve-credentials').state).not.toBe('FAILED');
    } finally {
      for (const k of ['CA', 'CERT', 'KEY']) delete process.env[`${env}_${k}`];
    }
  });

  /** Without a client certificate the server refuses the session, the connector says the server asked for one, with a hint to give it. */
  it('fails without a client certificate, with a hint to give one', async () => {
    const events = await t.validate({ dataSource: server.source({ ca: pki.caCert }) });
    const expected = engine.withoutClientCert;
    expect(checkOf(events, 'tls').details.client_cert).toBe(expected.clientCert);
    if (expected.check === 'authenticate') expect(checkOf(events, 'tls').state).toBe('PASSED');
    const failed = checkOf(events, expected.check);
    expect(failed.state).toBe('FAILED');
    expect(failed.message).toMatch(expected.message);
    expect(failed.hint).toMatch(expected.hint);
  });

  /** A CA that did not sign the server certificate fails tls as an unknown CA; nothing logs in. */
  it('fails with an unknown CA', async () => {
    const events = await t.validate({ dataSource: server.source(mtls({ ca: other.caCertPem })) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('FAILED');
    expect(tls.message).toContain('unknown CA');
    expect(tls.hint).toContain('ssl_config.ca');
    expect(tls.details['cert.issuer']).toBe('CN=sourced test CA');
    expect(checkOf(events, 'authenticate').state).toBe('SKIPPED');
  });

  /** verify-full against a name the certificate lacks fails as a host name mismatch; verify-ca passes and says the name was not checked. */
  it('fails on a host name mismatch and passes with verify-ca', async () => {
    const events = await t.validate({ dataSource: server.source(mtls({ serverName: 'wrong.example' })) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('FAILED');
    expect(tls.message).toContain('host name mismatch');
    expect(tls.details).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID', host_name: 'mismatch (wrong.example)' });
    expect(tls.hint).toMatch(/server_name/);
    expect(tls.hint).toMatch(/SSL_MODE_VERIFY_CA/);

    const verifyCa = await t.validate({ dataSource: server.source(mtls({ mode: SslMode.SSL_MODE_VERIFY_CA, serverName: 'wrong.example' })) });
    const ca = checkOf(verifyCa, 'tls');
    expect(ca.state).toBe('PASSED');
    expect(ca.details.host_name).toBe('not checked (mode verify-ca)');
    expect(checkOf(verifyCa, 'authenticate').state).toBe('PASSED');
  });

  /** A key that is not the certificate's is caught locally, before any handshake. */
  it('fails locally when the key does not match the certificate', async () => {
    const events = await t.validate({ dataSource: server.source(mtls({ key: inline(other.clientKeyPem) })) });
    const tls = checkOf(events, 'tls');
    expect(tls.state).toBe('FAILED');
    expect(tls.message).toBe('the client key (ssl_config.key) does not match the client certificate (ssl_config.cert)');
    expect(tls.details.client_cert).toBe('key does not match');
    expect(tls.details['tls.protocol']).toBeUndefined();
  });

  /** An expired server certificate fails (and only warns in mode require); one expiring within 30 days warns. */
  it.skipIf(!engine.swapsCertificates)('fails on an expired server certificate and warns on one about to expire', async () => {
    const day = 86_400_000;
    const expired: ExtraCertificate = await makeServerCertificate(pki, {
      name: 'expired',
      notBefore: new Date(Date.now() - 60 * day),
      notAfter: new Date(Date.now() - day),
    });
    const soon: ExtraCertificate = await makeServerCertificate(pki, {
      name: 'soon',
      notBefore: new Date(Date.now() - day),
      notAfter: new Date(Date.now() + 10 * day),
    });
    registerSecret('a TLS private key', expired.keyPem);
    registerSecret('a TLS private key', soon.keyPem);
    try {
      await server.serveCertificate!(expired);
      const events = await t.validate({ dataSource: server.source(mtls()) });
      const tls = checkOf(events, 'tls');
      expect(tls.state).toBe('FAILED');
      expect(tls.message).toContain('expired');
      expect(tls.details.code).toBe('CERT_HAS_EXPIRED');
      expect(Number(tls.details['cert.expires_in_days'])).toBeLessThan(0);
      const lax = checkOf(await t.validate({ dataSource: server.source(mtls({ mode: SslMode.SSL_MODE_REQUIRE })) }), 'tls');
      expect(lax.state).toBe('WARNING');
      expect(lax.message).toContain('expired');

      await server.serveCertificate!(soon);
      const warned = checkOf(await t.validate({ dataSource: server.source(mtls()) }), 'tls');
      expect(warned.state).toBe('WARNING');
      expect(warned.message).toMatch(/expires in (9|10) days/);
    } finally {
      await server.serveCertificate!({ cert: pki.serverCert, key: pki.serverKey });
    }
  });
}
