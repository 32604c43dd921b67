import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ed25519PublicKey } from '@sourced/plugin-mysql';
import { DataSource, Location, SslMode } from '@sourced/api';
import { CheckStatus, EndpointRole } from '@sourced/api';
import { rootQuery } from './harness/mariadb';
import { freePort } from './harness/ports';
import type { ServerInfo } from './support/globalSetup';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';
import { check, finished, STATUS, statuses, summary } from './support/validation';

const ORDER = ['resolve-credentials', 'dns', 'tcp', 'tls', 'authenticate', 'server-version', 'privileges', 'metadata-read', 'latency'];
const AFTER_LOGIN = ['server-version', 'privileges', 'metadata-read', 'latency'];
const INVALID_ARGUMENT = 3;

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

  /** Every check streams as it starts and ends, in order; the report names the flavour, the auth plugin and the unreadable database. */
  it('passes against a plain server and streams every check in order', async () => {
    const events = await t.validate({ dataSource: mysqlSource(db) });
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
    expect(finished(events).map((c) => c.checkId)).toEqual(ORDER);
    const kinds = events.map((e) => e.event?.$case);
    for (let i = 0; i < ORDER.length; i++) expect(kinds.slice(i * 2, i * 2 + 2)).toEqual(['checkStarted', 'checkFinished']);
    expect(statuses(events)).toEqual({
      'resolve-credentials': 'PASSED',
      dns: 'PASSED',
      tcp: 'PASSED',
      tls: 'SKIPPED',
      authenticate: 'PASSED',
      'server-version': 'PASSED',
      // the fixture has a database the account may not read, and one without SHOW VIEW
      privileges: 'WARNING',
      'metadata-read': 'PASSED',
      latency: 'PASSED',
    });
    expect(check(events, 'tls').details).toMatchObject({ 'server.tls': 'not offered', 'server.default_auth_plugin': 'mysql_native_password' });
    expect(check(events, 'authenticate').details).toMatchObject({ user: db.user, account: `${db.user}@%`, 'auth.plugin': 'mysql_native_password', tls: 'off' });
    expect(check(events, 'server-version').details).toMatchObject({ flavour: 'MariaDB', version: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
    expect(check(events, 'server-version').message).toMatch(/^MariaDB \d+\.\d+\.\d+/);
    const privileges = check(events, 'privileges');
    expect(privileges.details).toMatchObject({ readable: 'shop,sourced_test,warehouse', not_readable: 'vault', without_show_view: 'warehouse' });
    expect(privileges.message).toContain('cannot read vault');
    expect(privileges.hint).toContain('GRANT SELECT, SHOW VIEW');
    // SHOW GRANTS as MariaDB prints it, without the password hash it puts in the first line
    expect(privileges.details.grants).toContain('GRANT SELECT, SHOW VIEW ON `shop`.* TO `sourced_test`@`%`');
    expect(privileges.details.grants).not.toMatch(/IDENTIFIED|PASSWORD|\*[0-9A-F]{40}/);
    expect(check(events, 'metadata-read').details).toMatchObject({ databases: '4', usable_databases: '3', relations_read: '10' });
    expect(summary(events)).toMatchObject({ ok: true, endpoints: 1, connector: 'mysql' });
  });

  /** TLS with verify-full against the test CA reports protocol and cipher, and the session runs over TLS. */
  it('passes over TLS and reports protocol and cipher', async () => {
    const events = await t.validate({ dataSource: mysqlSource(dbTls, { sslConfig: verifyFull(dbTls) as never }) });
    expect(statuses(events)).toMatchObject({ tls: 'PASSED', authenticate: 'PASSED', 'server-version': 'PASSED', privileges: 'PASSED', latency: 'PASSED' });
    const tls = check(events, 'tls');
    expect(tls.details['tls.protocol']).toMatch(/^TLSv1\.[23]$/);
    expect(tls.details['tls.cipher']).toBeTruthy();
    expect(tls.details).toMatchObject({ 'cert.verified': 'yes', 'cert.subject_cn': 'localhost', 'server.tls': 'offered' });
    expect(check(events, 'authenticate').details).toMatchObject({ tls: 'on', 'tls.protocol': tls.details['tls.protocol'] });
    expect(summary(events).ok).toBe(true);
  });

  /** With TLS off, the report still says that the server offers TLS, without failing. */
  it('says that the server offers TLS when TLS is off', async () => {
    const events = await t.validate({ dataSource: mysqlSource(dbTls) });
    const tls = check(events, 'tls');
    expect(STATUS[tls.status]).toBe('SKIPPED');
    expect(tls.message).toContain('the server offers TLS');
    expect(tls.hint).toContain('SSL_MODE_VERIFY_FULL');
    expect(statuses(events).authenticate).toBe('PASSED');
  });

  /** Without the CA, verify-full fails at TLS with a hint to give the CA, and login is not attempted. */
  it('fails TLS verification without the CA', async () => {
    const events = await t.validate({ dataSource: mysqlSource(dbTls, { sslConfig: { ...verifyFull(dbTls), ca: '' } as never }) });
    const tls = check(events, 'tls');
    expect(STATUS[tls.status]).toBe('FAILED');
    expect(tls.hint).toContain('ssl_config.ca');
    expect(statuses(events).authenticate).toBe('SKIPPED');
    expect(summary(events).ok).toBe(false);
  });

  /** TLS required against a server that does not offer it fails at TLS, not at login. */
  it('fails TLS when the server does not offer it', async () => {
    const events = await t.validate({ dataSource: mysqlSource(db, { sslConfig: { ...verifyFull(db), mode: SslMode.SSL_MODE_REQUIRE } as never }) });
    const tls = check(events, 'tls');
    expect(STATUS[tls.status]).toBe('FAILED');
    expect(tls.message).toContain('does not offer TLS');
    expect(tls.hint).toContain('ssl_cert');
    expect(statuses(events).authenticate).toBe('SKIPPED');
  });

  /** A wrong password fails authentication with the server's access-denied message and a hint; no password appears in events, logs or spans. */
  it('fails authentication with a wrong password and leaks neither password', async () => {
    const wrong = 'wrong-Pa55-' + randomBytes(6).toString('hex');
    const events = await t.validate({ dataSource: mysqlSource(db, {}, wrong) });
    const auth = check(events, 'authenticate');
    expect(STATUS[auth.status]).toBe('FAILED');
    expect(auth.message).toBe(`Access denied for user '${db.user}'@'127.0.0.1' (using password: YES)`);
    expect(auth.hint).toContain('Check the user name and the password');
    expect(auth.hint).toContain(`'${db.user}'@'%'`);
    expect(auth.details.code).toBe('1045');
    for (const id of AFTER_LOGIN) expect(statuses(events)[id]).toBe('SKIPPED');
    expect(summary(events).ok).toBe(false);

    const everything =
      JSON.stringify(events) +
      t.logs.join('\n') +
      JSON.stringify(t.spans.getFinishedSpans().map((s) => ({ a: s.attributes, e: s.events, st: s.status, n: s.name })));
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(db.password);
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

  /** A closed port fails at TCP fast, and everything that needs a connection is skipped. */
  it('fails fast on a closed port', async () => {
    const port = await freePort();
    const started = Date.now();
    const events = await t.validate({ dataSource: mysqlSource(db, { primary: { host: '127.0.0.1', port, database: '' } }) });
    expect(Date.now() - started).toBeLessThan(10_000);
    const tcp = check(events, 'tcp');
    expect(STATUS[tcp.status]).toBe('FAILED');
    expect(tcp.message).toContain('connection refused');
    for (const id of ['tls', 'authenticate', ...AFTER_LOGIN]) expect(statuses(events)[id]).toBe('SKIPPED');
  });

  /** HYBRID validates both endpoints (TLS and keep-alive on), each reported with its role. */
  it('validates both endpoints of a HYBRID source', async () => {
    const events = await t.validate({
      dataSource: mysqlSource(dbTls, {
        location: Location.LOCATION_HYBRID,
        secondary: { host: 'localhost', port: dbTls.port, database: '' },
        sslConfig: verifyFull(dbTls) as never,
      }),
    });
    const reports = events.flatMap((e) => (e.event?.$case === 'report' ? [e.event.value] : []));
    expect(reports.map((r) => [r.endpoint, r.address, r.ok])).toEqual([
      [EndpointRole.ENDPOINT_ROLE_PRIMARY, `${dbTls.host}:${dbTls.port}`, true],
      [EndpointRole.ENDPOINT_ROLE_SECONDARY, `localhost:${dbTls.port}`, true],
    ]);
    expect(finished(events).filter((c) => c.endpoint === EndpointRole.ENDPOINT_ROLE_SECONDARY).map((c) => c.checkId)).toEqual(ORDER);
    expect(summary(events)).toMatchObject({ ok: true, endpoints: 2 });
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

    /** No greeting: the TLS probe gives up without failing the run, login fails at the check's time limit, the stream ends with a summary. */
    it('fails the hanging login at its time limit', async () => {
      const events = await t.validate({ dataSource: mysqlSource(db, { primary: { host: '127.0.0.1', port, database: '' } }), checkTimeoutMs: 300 });
      expect(STATUS[check(events, 'tcp').status]).toBe('PASSED');
      expect(check(events, 'tls')).toMatchObject({ status: CheckStatus.CHECK_STATUS_SKIPPED, details: { 'server.tls': 'unknown' } });
      const auth = check(events, 'authenticate');
      expect(STATUS[auth.status]).toBe('FAILED');
      expect(auth.message).toMatch(/within 300 ms|timed out|timeout/i);
      expect(STATUS[check(events, 'latency').status]).toBe('SKIPPED');
      expect(summary(events).ok).toBe(false);
    });

    /** The whole call respects the caller's deadline. */
    it('ends with DEADLINE_EXCEEDED when the deadline passes first', async () => {
      const started = Date.now();
      const error = await expectFailure(
        t.validate({ dataSource: mysqlSource(db, { primary: { host: '127.0.0.1', port, database: '' } }), checkTimeoutMs: 60_000 }, { deadlineMs: 1000 }),
      );
      expect(error.code).toBe(4);
      expect(Date.now() - started).toBeLessThan(3000);
    });
  });

  /** The alias `mariadb` reaches the same connector, and the default port is 3306. */
  it('accepts the mariadb alias', async () => {
    const events = await t.validate({ dataSource: mysqlSource(db, { type: 'mariadb' }) });
    expect(summary(events)).toMatchObject({ ok: true, connector: 'mysql' });
  });

  /** Bad input is INVALID_ARGUMENT naming the field, before any connection. */
  it('rejects a port out of range, naming the field', async () => {
    const status = richStatusOf(await expectFailure(t.validate({ dataSource: mysqlSource(db, { primary: { host: db.host, port: 70000, database: '' } }) })));
    expect(status.grpcCode).toBe(INVALID_ARGUMENT);
    expect(status.badRequest).toContainEqual({ field: 'data_source.primary.port', description: '70000 is not a TCP port (1-65535)' });
  });
});
