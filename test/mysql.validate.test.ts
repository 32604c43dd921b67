import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ed25519PublicKey } from '@sourced/plugin-mysql';
import { DataSource, SslMode } from '@sourced/api';
import { rootQuery } from './harness/mariadb';
import type { ServerInfo } from './support/globalSetup';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';
import { check, STATUS, statuses } from './support/validation';

// What every connector's validation shares (a plain run, TLS, TLS not offered, a wrong password,
// a closed port, HYBRID, a silent server, the mariadb alias, bad input, the trace) runs in
// connectors.validate.test.ts; MariaDB's own accounts and messages stay here.

/** A MySQL data source for a harness server, with an inline password unless another is given. */
function mysqlSource(server: ServerInfo, extra: Partial<DataSource> = {}, password: string = server.password, user: string = server.user): DataSource {
  return DataSource.fromPartial({
    id: 'test-mysql',
    type: 'mysql',
    primary: { host: server.host, port: server.port, database: '' },
    credentials: { username: user, password: { source: { $case: 'inlineValue', value: password } } },
    ...extra,
  });
}

/** TLS settings that verify the harness CA and the host name. */
function verifyFull(server: ServerInfo) {
  return { mode: SslMode.SSL_MODE_VERIFY_FULL, ca: server.caCertPem ?? '', cert: '', serverName: '' };
}

/** Makes an account for one test as root; resolves false when the server lacks what it needs (a plugin). */
async function createAccount(server: ServerInfo, sql: string, params: unknown[]): Promise<boolean> {
  try {
    await rootQuery(server, sql, params);
    return true;
  } catch (error) {
    // ER_PLUGIN_IS_NOT_LOADED (1524): the server does not ship the authentication plugin.
    if ((error as { errno?: number }).errno === 1524) return false;
    throw error;
  }
}

describe('MySQL validation (MariaDB)', () => {
  const db = inject('mariadb');
  const dbTls = inject('mariadbTls');
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mysql'] });
  });
  afterAll(() => t.stop());

  /** With TLS off, the report still says that the server offers TLS, without failing. */
  it('says that the server offers TLS when TLS is off', async () => {
    const events = await t.validate({ dataSource: mysqlSource(dbTls) });
    const tls = check(events, 'tls');
    expect(STATUS[tls.status]).toBe('SKIPPED');
    expect(tls.message).toContain('the server offers TLS');
    expect(tls.hint).toContain('SSL_MODE_VERIFY_FULL');
    expect(statuses(events).authenticate).toBe('PASSED');
  });

  /** An unknown default database fails authentication with a hint; the server only says "no such database" to accounts that may see every database. */
  it('explains an unknown database', async () => {
    const source = (server: ServerInfo, extra: Partial<DataSource>, password?: string, user?: string) =>
      mysqlSource(server, { primary: { host: server.host, port: server.port, database: 'no_such_db' }, ...extra }, password, user);
    const events = await t.validate({ dataSource: source(db, {}) });
    const auth = check(events, 'authenticate');
    expect(STATUS[auth.status]).toBe('FAILED');
    expect(auth.message).toBe(`Access denied for user '${db.user}'@'%' to database 'no_such_db'`);
    expect(auth.hint).toContain('it may not exist');
    expect(auth.details.code).toBe('1044');

    const asRoot = await t.validate({ dataSource: source(db, {}, db.superuserPassword, db.superuser) });
    const rootAuth = check(asRoot, 'authenticate');
    expect(rootAuth.message).toBe(`database "no_such_db" does not exist on ${db.host}:${db.port}`);
    expect(rootAuth.hint).toContain('SHOW DATABASES');
    expect(rootAuth.details.code).toBe('1049');
  });

  /** An account that requires TLS is refused without it, with a hint to turn TLS on; with TLS it logs in. */
  it('explains an account that requires TLS', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    await rootQuery(dbTls, "CREATE USER 'sourced_tls_only'@'%' IDENTIFIED BY ? REQUIRE SSL", [password]);
    const plain = await t.validate({ dataSource: mysqlSource(dbTls, {}, password, 'sourced_tls_only') });
    const auth = check(plain, 'authenticate');
    expect(STATUS[auth.status]).toBe('FAILED');
    expect(auth.hint).toContain('REQUIRE SSL');
    expect(auth.hint).toContain('ssl_config.mode');
    const secure = await t.validate({ dataSource: mysqlSource(dbTls, { sslConfig: verifyFull(dbTls) as never }, password, 'sourced_tls_only') });
    expect(statuses(secure).authenticate).toBe('PASSED');
  });

  /** MariaDB's ed25519 accounts log in (the client_ed25519 plugin is built in) and the report names the plugin. */
  it('logs in to an ed25519 account and reports the plugin', async (ctx) => {
    const password = `ed-${randomBytes(8).toString('hex')}`;
    const made = await createAccount(db, "CREATE USER 'sourced_ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD(?)", [password]);
    if (!made) return ctx.skip();
    // The key the server derived from the password is the one the plugin derives (base64 without padding).
    const [stored] = await rootQuery<{ key: string }>(db, "SELECT authentication_string AS `key` FROM mysql.user WHERE User = 'sourced_ed'");
    expect(stored.key).toBe(ed25519PublicKey(password).toString('base64').replace(/=+$/, ''));
    await rootQuery(db, "GRANT SELECT ON shop.* TO 'sourced_ed'@'%'");
    const events = await t.validate({ dataSource: mysqlSource(db, {}, password, 'sourced_ed') });
    const auth = check(events, 'authenticate');
    expect(STATUS[auth.status]).toBe('PASSED');
    expect(auth.details).toMatchObject({ 'auth.plugin': 'ed25519', 'auth.client_plugin': 'client_ed25519' });
    expect(auth.message).toContain('with ed25519');

    const wrong = await t.validate({ dataSource: mysqlSource(db, {}, 'not-the-password', 'sourced_ed') });
    expect(check(wrong, 'authenticate').message).toContain("Access denied for user 'sourced_ed'");
  });

  /** An account whose authentication method cannot work over the network gets a clear hint. */
  it('explains an authentication plugin the daemon cannot use', async () => {
    await rootQuery(db, "CREATE USER 'sourced_socket'@'%' IDENTIFIED VIA unix_socket");
    const events = await t.validate({ dataSource: mysqlSource(db, {}, 'irrelevant', 'sourced_socket') });
    const auth = check(events, 'authenticate');
    expect(STATUS[auth.status]).toBe('FAILED');
    expect(auth.hint).toMatch(/works only locally|authentication method/);
  });
});
