import { X509Certificate } from 'node:crypto';
import { chown, copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { DataSource, Location } from '@sourced/api';
import { probeTls } from '../plugins/postgres/src/tlsProbe';
import { mongoFixture, SHOP, TEST_USER, type FixturePasswords } from './fixtures/mongodb/fixture';
import { makeCertificates } from './harness/certs';
import { startMariadb } from './harness/mariadb';
import { startMongoStandIn } from './harness/mongo/MongoStandIn';
import { startPostgres } from './harness/postgres';
import { registerSecret } from './support/secretScan';
import { inline, sslConfig } from './support/tlsChecks';
import { tlsBehaviour, type TlsEngine } from './shared/tls.behaviour';

// The TLS cases every connector shares (test/shared/tls.behaviour.ts), each engine against a
// server of its own that admits the test user by client certificate only. What only MongoDB's
// stand-ins show (a server that asks for no client certificate, a certificate naming another
// host, a client certificate from another CA) stays in tls.mongodb.test.ts.

/** Copies a certificate and key over a server's files, owned as the originals are. */
async function replaceFiles(pair: { cert: string; key: string }, cert: string, key: string): Promise<void> {
  const owner = await stat(cert);
  for (const [from, to] of [
    [pair.cert, cert],
    [pair.key, key],
  ] as const) {
    await rm(to, { force: true });
    await copyFile(from, to);
    await chown(to, owner.uid, owner.gid);
  }
}

/**
 * A PostgreSQL that admits TLS logins with a client certificate only (`hostssl ... cert
 * clientcert=verify-full`, ssl_ca_file = the test CA; the client certificate's CN is the role
 * name); it reloads swapped certificates.
 */
const postgres: TlsEngine = {
  label: 'PostgreSQL',
  swapsCertificates: true,
  async start() {
    const pg = await startPostgres({ tls: true, extraHba: ['hostssl all all 127.0.0.1/32 cert clientcert=verify-full'] });
    return {
      pki: pg.certificates!,
      other: await makeCertificates(join(pg.baseDir, 'other-pki')),
      folder: pg.baseDir,
      source: (ssl) =>
        DataSource.fromPartial({
          id: 'tls-pg',
          type: 'postgres',
          location: Location.LOCATION_CLOUD,
          primary: { host: pg.host, port: pg.port, database: pg.database },
          credentials: { username: pg.user },
          sslConfig: sslConfig(ssl),
        }),
      /** Installs the pair in the data folder and reloads, until a handshake shows the new certificate (the postmaster reloads asynchronously). */
      async serveCertificate(pair) {
        await replaceFiles(pair, join(pg.dataDir, 'server.crt'), join(pg.dataDir, 'server.key'));
        await pg.psql('SELECT pg_reload_conf()');
        const want = new X509Certificate(await readFile(pair.cert)).validTo;
        for (let i = 0; i < 50; i++) {
          const probe = await probeTls(pg.host, pg.port, { rejectUnauthorized: false }, AbortSignal.timeout(2000));
          if (probe.answer === 'S' && Date.parse(probe.session.validTo ?? '') === Date.parse(want)) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error('the server did not pick up the new certificate');
      },
      stop: () => pg.destroy(),
    };
  },
  withoutClientCert: { check: 'authenticate', clientCert: 'requested by the server, none configured', message: /client certificate/, hint: /ssl_config\.cert/ },
};

/**
 * A MariaDB (`--ssl-ca` = the test CA) with an account that must present a client certificate
 * (`REQUIRE X509`); `FLUSH SSL` reloads swapped certificates.
 */
const mysql: TlsEngine = {
  label: 'MySQL (MariaDB)',
  swapsCertificates: true,
  async start() {
    const db = await startMariadb({ tls: true });
    const user = 'x509_reader';
    const password = `pw-${Math.random().toString(36).slice(2)}x509`;
    registerSecret('x509 password', password);
    await db.sql(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}' REQUIRE X509;\nGRANT SELECT ON \`${db.database}\`.* TO '${user}'@'%';`);
    return {
      pki: db.certificates!,
      other: await makeCertificates(join(db.baseDir, 'other-pki')),
      folder: db.baseDir,
      source: (ssl) =>
        DataSource.fromPartial({
          id: 'tls-mysql',
          type: 'mysql',
          location: Location.LOCATION_CLOUD,
          primary: { host: db.host, port: db.port, database: db.database },
          credentials: { username: user, password: inline(password) },
          sslConfig: sslConfig(ssl),
        }),
      /** Installs the pair where the server reads its certificate and reloads it (FLUSH SSL, done when it returns). */
      async serveCertificate(pair) {
        await replaceFiles(pair, join(db.baseDir, 'server.crt'), join(db.baseDir, 'server.key'));
        await db.sql('FLUSH SSL');
      },
      stop: () => db.destroy(),
    };
  },
  withoutClientCert: {
    check: 'authenticate',
    clientCert: 'requested by the server, none configured',
    message: /Access denied/,
    hint: /REQUIRE X509.*ssl_config\.cert/,
  },
};

/** A MongoDB wire stand-in that requires a client certificate signed by the test CA. */
const mongodb: TlsEngine = {
  label: 'MongoDB',
  swapsCertificates: false,
  async start() {
    const dir = await mkdtemp(join(tmpdir(), 'sourced-tls-mongo-'));
    const [pki, other] = await Promise.all([makeCertificates(join(dir, 'pki')), makeCertificates(join(dir, 'other'))]);
    const passwords: FixturePasswords = {
      test: `t-${Math.random().toString(36).slice(2)}`,
      shop: `s-${Math.random().toString(36).slice(2)}`,
      admin: `a-${Math.random().toString(36).slice(2)}`,
    };
    for (const p of Object.values(passwords)) registerSecret('fixture password', p);
    const mutual = await startMongoStandIn({
      dataset: mongoFixture(passwords),
      log: () => undefined,
      tls: { cert: pki.serverCertPem, key: pki.serverKeyPem, clientCa: pki.caCertPem },
    });
    return {
      pki,
      other,
      folder: dir,
      source: (ssl) =>
        DataSource.fromPartial({
          id: 'tls-mongo',
          type: 'mongodb',
          location: Location.LOCATION_CLOUD,
          primary: { host: mutual.host, port: mutual.port, database: SHOP },
          credentials: { username: TEST_USER, password: inline(passwords.test) },
          sslConfig: sslConfig(ssl),
        }),
      stop: async () => {
        await mutual.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  withoutClientCert: {
    check: 'tls',
    clientCert: 'required by the server, none configured',
    message: /requires a client certificate/,
    hint: /ssl_config\.cert/,
  },
};

describe.each([postgres, mysql, mongodb].map((e) => [e.label, e] as const))('%s TLS', (_label, engine) => tlsBehaviour(engine));
