import { afterAll, beforeAll, describe, expect, inject } from 'vitest';
import { DataSource, SslMode, type ValidateDataSourceResponse } from '@sourced/api';
import { HR, SHOP } from './fixtures/mongodb/fixture';
import { mongoSource } from './harness/mongo/sources';
import type { ServerInfo } from './support/globalSetup';
import type { MongoServerInfo } from './support/mongoSetup';
import { pgSource } from './support/pg';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';
import { check, statuses } from './support/validation';
import { validationBehaviour, verifyFull, type ValidationEngine } from './shared/validation.behaviour';

// The validation cases every connector shares (test/shared/validation.behaviour.ts), run once per
// connector against the servers of the global setup. What only one engine has stays in its own
// suite: postgres.validate, mysql.validate and mongodb.validate.test.ts.

const SQL_ORDER = ['resolve-credentials', 'dns', 'tcp', 'tls', 'authenticate', 'server-version', 'privileges', 'metadata-read', 'latency'];
const SQL_AFTER_LOGIN = ['server-version', 'privileges', 'metadata-read', 'latency'];
const MONGO_ORDER = ['resolve-credentials', 'dns', 'tcp', 'tls', 'handshake', 'server-version', 'authenticate', 'privileges', 'latency'];

const pg = inject('postgres');
const pgTls = inject('postgresTls');
const postgres: ValidationEngine<ServerInfo> = {
  label: 'PostgreSQL',
  connector: 'postgres',
  server: pg,
  tlsServer: pgTls,
  source: pgSource,
  order: SQL_ORDER,
  afterTcp: ['tls', 'authenticate', ...SQL_AFTER_LOGIN],
  afterTls: ['authenticate', ...SQL_AFTER_LOGIN],
  plainFacts(events, server) {
    expect(statuses(events)).toEqual({
      'resolve-credentials': 'PASSED',
      dns: 'PASSED',
      tcp: 'PASSED',
      tls: 'SKIPPED',
      authenticate: 'PASSED',
      'server-version': 'PASSED',
      // the fixture has a schema the test role may not use
      privileges: 'WARNING',
      'metadata-read': 'PASSED',
      latency: 'PASSED',
    });
    expect(check(events, 'privileges').details.not_usable).toBe('hidden');
    expect(check(events, 'server-version').details.version).toMatch(/^\d+\.\d+/);
    expect(check(events, 'resolve-credentials').details['password.source']).toBe('inline');
    expect(events.find((e) => e.event?.$case === 'report')?.event?.value).toMatchObject({ ok: true, address: `${server.host}:${server.port}`, warnings: 1 });
  },
  tlsPasses: ['tls', 'authenticate', 'privileges'],
  tlsNotOffered: { sslConfig: (s) => ({ ...verifyFull(s), mode: SslMode.SSL_MODE_REQUIRE }), message: 'does not accept TLS', skipped: 'authenticate' },
  wrongPassword: {
    message: /password authentication failed for user "sourced_test"/,
    hints: [],
    statuses: Object.fromEntries(SQL_AFTER_LOGIN.map((id) => [id, 'SKIPPED'])),
  },
  closedPortWithinMs: 10_000,
  hybrid: { server: pgTls, sslConfig: verifyFull(pgTls) },
  silent: { hangs: 'authenticate' },
  alias: 'postgresql',
};

const db = inject('mariadb');
const dbTls = inject('mariadbTls');
const mysqlSource = (server: ServerInfo, extra: Partial<DataSource> = {}, password: string = server.password): DataSource =>
  DataSource.fromPartial({
    id: 'test-mysql',
    type: 'mysql',
    primary: { host: server.host, port: server.port, database: '' },
    credentials: { username: server.user, password: { source: { $case: 'inlineValue', value: password } } },
    ...extra,
  });
const mysql: ValidationEngine<ServerInfo> = {
  label: 'MySQL (MariaDB)',
  connector: 'mysql',
  server: db,
  tlsServer: dbTls,
  source: mysqlSource,
  order: SQL_ORDER,
  afterTcp: ['tls', 'authenticate', ...SQL_AFTER_LOGIN],
  afterTls: ['authenticate', ...SQL_AFTER_LOGIN],
  /** The report names the flavour, the auth plugin and the unreadable database. */
  plainFacts(events, server) {
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
    expect(check(events, 'authenticate').details).toMatchObject({
      user: server.user,
      account: `${server.user}@%`,
      'auth.plugin': 'mysql_native_password',
      tls: 'off',
    });
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
  },
  tlsPasses: ['tls', 'authenticate', 'server-version', 'privileges', 'latency'],
  /** The session runs over TLS. */
  tlsFacts(events) {
    const tls = check(events, 'tls');
    expect(tls.details).toMatchObject({ 'cert.subject_cn': 'localhost', 'server.tls': 'offered' });
    expect(check(events, 'authenticate').details).toMatchObject({ tls: 'on', 'tls.protocol': tls.details['tls.protocol'] });
  },
  tlsNotOffered: {
    sslConfig: (s) => ({ ...verifyFull(s), mode: SslMode.SSL_MODE_REQUIRE }),
    message: 'does not offer TLS',
    hint: 'ssl_cert',
    skipped: 'authenticate',
  },
  wrongPassword: {
    message: `Access denied for user '${db.user}'@'127.0.0.1' (using password: YES)`,
    hints: ['Check the user name and the password', `'${db.user}'@'%'`],
    code: '1045',
    statuses: Object.fromEntries(SQL_AFTER_LOGIN.map((id) => [id, 'SKIPPED'])),
  },
  closedPortWithinMs: 10_000,
  hybrid: { server: dbTls, sslConfig: verifyFull(dbTls) },
  /** No greeting: the TLS probe gives up without failing the run, and login hangs. */
  silent: {
    hangs: 'authenticate',
    facts: (events: ValidateDataSourceResponse[]) => expect(check(events, 'tls')).toMatchObject({ status: 4, details: { 'server.tls': 'unknown' } }),
  },
  alias: 'mariadb',
};

const mongo = inject('mongodb');
const mongoTls = inject('mongodbTls');
const mongodb: ValidationEngine<MongoServerInfo> = {
  label: 'MongoDB',
  connector: 'mongodb',
  server: mongo,
  tlsServer: mongoTls,
  source: mongoSource,
  order: MONGO_ORDER,
  afterTcp: ['tls', 'handshake', 'server-version', 'authenticate', 'privileges', 'latency'],
  afterTls: ['handshake', 'server-version', 'authenticate', 'privileges', 'latency'],
  /** The user who may list only part of sourced_hr passes with a privileges warning. */
  plainFacts(events, server) {
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
    if (server.standIn) expect(check(events, 'handshake').details).toMatchObject({ topology: 'standalone', max_wire_version: '21' });
    expect(check(events, 'server-version').details.version).toMatch(/^\d+\.\d+\.\d+/);
    const auth = check(events, 'authenticate');
    expect(auth.details).toMatchObject({ user: server.user, auth_source: 'admin', mechanism: 'SCRAM-SHA-256' });
    expect(auth.details.roles.split(',')).toEqual(expect.arrayContaining([`read@${SHOP}`, 'sourced_hr_reader@admin']));
    const privileges = check(events, 'privileges');
    expect(privileges.details).toMatchObject({ 'databases.partly_listable': `${HR} (1)` });
    expect(privileges.message).toContain(`only some collections of ${HR} (1)`);
    expect(check(events, 'latency').details.round_trips).toBe('5');
  },
  tlsPasses: ['tls', 'handshake', 'authenticate'],
  /** The handshake reports the replica set. */
  tlsFacts(events, server) {
    if (!server.standIn) return;
    const handshake = check(events, 'handshake');
    expect(handshake.details).toMatchObject({ topology: 'replica-set', set_name: 'rs0', role: 'primary', members: `${server.host}:${server.port}` });
    expect(handshake.message).toContain('replica set "rs0"');
  },
  tlsNotOffered: {
    sslConfig: () => ({ mode: SslMode.SSL_MODE_REQUIRE, ca: '', cert: '', serverName: '' }),
    message: 'does not speak TLS',
    skipped: 'handshake',
  },
  /** The user exists, so the hint says the password is wrong. */
  wrongPassword: {
    message: `authentication failed for user "${mongo.user}" (auth source "admin", SCRAM)`,
    hints: ['so the password is wrong'],
    code: '18',
    statuses: { handshake: 'PASSED', 'server-version': 'PASSED', privileges: 'SKIPPED', latency: 'SKIPPED' },
  },
  closedPortWithinMs: 5000,
  hybrid: { server: mongo, sslConfig: { mode: SslMode.SSL_MODE_DISABLE, ca: '', cert: '', serverName: '' } },
  silent: { hangs: 'handshake' },
  alias: 'mongo',
};

// One daemon with the built-in plugins for every engine of the file.
let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(() => t.stop());

describe.each(([postgres, mysql, mongodb] as unknown as ValidationEngine[]).map((e) => [e.label, e] as const))('%s validation', (_label, engine) =>
  validationBehaviour(engine, () => t),
);
