import { randomBytes } from 'node:crypto';
import { Int32, type Document } from 'bson';
import { describe, expect, inject } from 'vitest';
import { DataSource, type Cell } from '@sourced/api';
import { DEFAULT_PREVIEW_SETTINGS } from '@sourced/core';
import { HR, mongoFixture, TEST_USER } from './fixtures/mongodb/fixture';
import { loadMongoDataset } from './fixtures/mongodb/load';
import { rootQuery } from './harness/mariadb';
import type { DatabaseSpec } from './harness/mongo/dataset';
import { startMongoStandIn, type MongoStandIn } from './harness/mongo/MongoStandIn';
import { mongoSource, openConnections } from './harness/mongo/sources';
import type { MongoServerInfo } from './support/mongoSetup';
import { pgSource, superuserQuery } from './support/pg';
import { registerSecret } from './support/secretScan';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';
import { ACCOUNTS, MANY_ROWS, MASKED_VALUES, previewBehaviour, type PreviewEngine } from './shared/preview.behaviour';

// The PreviewTable cases every connector shares (test/shared/preview.behaviour.ts), run once per
// connector on a fixture of the same shape that each engine loads into a database of its own on
// the servers of the global setup (MongoDB: a stand-in of the file's own, which can hold a find).
// What describes one engine's types, statements, quoting and failover stays in
// postgres.preview, mysql.preview and mongodb.preview.test.ts.

MASKED_VALUES.forEach((v, i) => registerSecret(`shared preview masked value ${i}`, v));
const tag = randomBytes(4).toString('hex');
const inline = (value: string) => ({ source: { $case: 'inlineValue' as const, value } });

const pg = inject('postgres');
const postgres = ((): PreviewEngine => {
  const database = `preview_shared_${tag}`;
  const role = `sourced_preview_${tag}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  registerSecret('shared preview PostgreSQL password', password);
  const onDb = { ...pg, database };
  const asSuperuser = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => superuserQuery<T>(onDb, sql, params);
  const count = async (sql: string) => Number((await asSuperuser<{ n: string }>(sql, [role]))[0].n);
  let t: TestDaemon;
  return {
    label: 'PostgreSQL',
    async setup() {
      await superuserQuery(pg, `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      await superuserQuery(pg, `CREATE DATABASE ${database}`);
      await asSuperuser(`
CREATE SCHEMA preview;
CREATE TABLE preview.accounts (id int PRIMARY KEY, email text, password_hash text, ssn text, api_token text);
CREATE TABLE preview.secrets (password text, api_token text);
INSERT INTO preview.secrets VALUES ('p1', 't1'), ('p2', 't2'), ('p3', 't3');
CREATE TABLE preview.many (id int PRIMARY KEY, v int);
INSERT INTO preview.many SELECT g, 2 * g FROM generate_series(${MANY_ROWS}, 1, -1) g;
CREATE TABLE preview.y (id int);
-- A view whose rows wait until the gate is opened: a read the test can catch in the middle.
CREATE TABLE preview.gate (open boolean NOT NULL);
INSERT INTO preview.gate VALUES (true);
CREATE FUNCTION preview.wait_for_gate() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  WHILE NOT (SELECT open FROM preview.gate) LOOP PERFORM pg_sleep(0.05); END LOOP;
  RETURN true;
END $$;
CREATE VIEW preview.gated AS SELECT g AS id FROM generate_series(1, 3) g WHERE preview.wait_for_gate();
CREATE SCHEMA preview_hidden;
CREATE TABLE preview_hidden.secret (id int);
GRANT USAGE ON SCHEMA preview TO ${role};`);
      // Inserted out of key order: the preview sorts by the primary key.
      for (const a of [...ACCOUNTS].reverse()) {
        await asSuperuser('INSERT INTO preview.accounts VALUES ($1, $2, $3, $4, $5)', [a.id, a.email, a.password_hash, a.ssn, a.api_token]);
      }
      await asSuperuser(`GRANT SELECT ON ALL TABLES IN SCHEMA preview TO ${role}`);
      t = await startTestDaemon({
        plugins: ['@sourced/plugin-postgres'],
        preview: { ...DEFAULT_PREVIEW_SETTINGS, maxRows: 200, maskColumns: [...DEFAULT_PREVIEW_SETTINGS.maskColumns], maskTypes: [] },
      });
    },
    async teardown() {
      await t?.stop();
      await superuserQuery(pg, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await superuserQuery(pg, `DROP ROLE IF EXISTS ${role}`);
    },
    daemon: () => t,
    request: (name, over = {}) => ({
      dataSource: pgSource({ ...onDb, user: role }, {}, password),
      table: { schema: 'preview', name },
      columns: [],
      limit: 0,
      strategy: 0,
      ...over,
    }),
    key: 'id',
    types: { key: 'integer', email: 'text' },
    integer: (n) => ({ value: { $case: 'integer', value: String(n) } }),
    text: (s) => ({ value: { $case: 'text', value: s } }),
    wholeRows: true,
    maxRows: 200,
    badColumns: [['nope', 'no column "nope" in preview.accounts; it has: id, email, password_hash, ssn, api_token']],
    missingTables: [
      ['a table that is not there', { schema: 'preview', name: 'no_such_table' }],
      ['another case of the name (names are exact)', { schema: 'preview', name: 'ACCOUNTS' }],
      ['a table in a schema the account may not use', { schema: 'preview_hidden', name: 'secret' }],
      ['SQL in the name', { schema: 'preview', name: 'y; DROP TABLE preview.y; --' }],
    ],
    missingNamesTable: true,
    async afterMissing() {
      expect(await asSuperuser(`SELECT to_regclass('preview.y') IS NOT NULL AS kept`)).toEqual([{ kept: true }]);
    },
    held: () => ({
      request: postgres.request('gated'),
      before: async () => void (await asSuperuser('UPDATE preview.gate SET open = false')),
      inFlight: async () =>
        (await count(`SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1 AND state = 'active' AND query LIKE '%"gated"%'`)) === 1,
      sessions: () => count('SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1'),
      headerFirst: true,
      cleanup: async () => void (await asSuperuser('UPDATE preview.gate SET open = true')),
    }),
  };
})();

const db = inject('mariadb');
const mysql = ((): PreviewEngine => {
  const DB = `preview_shared_${tag}`;
  const user = `sourced_pv_${tag}`;
  const cancelUser = `sourced_pv_cancel_${tag}`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  registerSecret('shared preview MariaDB password', password);
  const source = (name: string) =>
    DataSource.fromPartial({
      id: 'test-mysql-preview',
      type: 'mysql',
      primary: { host: db.host, port: db.port, database: '' },
      credentials: { username: name, password: inline(password) },
    });
  const count = async (sql: string) => Number((await rootQuery<{ n: number }>(db, sql, [cancelUser]))[0].n);
  let t: TestDaemon;
  const engine: PreviewEngine = {
    label: 'MySQL (MariaDB)',
    async setup() {
      for (const sql of [
        `CREATE DATABASE ${DB} CHARACTER SET utf8mb4`,
        `CREATE TABLE ${DB}.accounts (id INT PRIMARY KEY, email VARCHAR(100), password_hash VARCHAR(100), ssn VARCHAR(20), api_token VARCHAR(100))`,
        `CREATE TABLE ${DB}.secrets (password VARCHAR(100), api_token VARCHAR(100))`,
        `INSERT INTO ${DB}.secrets VALUES ('p1', 't1'), ('p2', 't2'), ('p3', 't3')`,
        `CREATE TABLE ${DB}.many (id INT PRIMARY KEY, v INT)`,
        `INSERT INTO ${DB}.many SELECT seq, seq * 2 FROM ${DB}.seq_1_to_${MANY_ROWS}`,
        `CREATE TABLE ${DB}.y (id INT)`,
        `CREATE VIEW ${DB}.slow AS SELECT SLEEP(20) AS slept`,
        `CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`,
        `GRANT SELECT ON ${DB}.* TO '${user}'@'%'`,
        `CREATE USER '${cancelUser}'@'%' IDENTIFIED BY '${password}'`,
        `GRANT SELECT, SHOW VIEW ON ${DB}.* TO '${cancelUser}'@'%'`,
      ]) {
        await rootQuery(db, sql);
      }
      for (const a of [...ACCOUNTS].reverse()) {
        await rootQuery(db, `INSERT INTO ${DB}.accounts VALUES (?, ?, ?, ?, ?)`, [a.id, a.email, a.password_hash, a.ssn, a.api_token]);
      }
      t = await startTestDaemon({ plugins: ['@sourced/plugin-mysql'] });
    },
    async teardown() {
      await t?.stop();
      await rootQuery(db, `DROP DATABASE IF EXISTS ${DB}`);
      await rootQuery(db, `DROP USER IF EXISTS '${user}'@'%'`);
      await rootQuery(db, `DROP USER IF EXISTS '${cancelUser}'@'%'`);
    },
    daemon: () => t,
    request: (name, over = {}) => ({ dataSource: source(user), table: { schema: DB, name }, columns: [], limit: 0, strategy: 0, ...over }),
    key: 'id',
    types: { key: 'int(11)', email: 'varchar(100)' },
    integer: (n) => ({ value: { $case: 'integer', value: String(n) } }),
    text: (s) => ({ value: { $case: 'text', value: s } }),
    wholeRows: true,
    maxRows: DEFAULT_PREVIEW_SETTINGS.maxRows,
    badColumns: [['nope', expect.stringContaining(`"nope" is not a column of ${DB}.accounts; it has id, email, password_hash`)]],
    missingTables: [
      ['a missing table', { schema: DB, name: 'nope' }],
      ['a missing database', { schema: 'no_such_db', name: 'accounts' }],
      ['another case of the name', { schema: DB, name: 'ACCOUNTS' }],
      ['SQL in the name', { schema: DB, name: 'x; drop table y' }],
      ['SQL in the database', { schema: `${DB}\`.y; --`, name: 'accounts' }],
      ['a table of a database the account may not read', { schema: 'vault', name: 'secrets' }],
    ],
    async afterMissing() {
      const tables = await rootQuery<{ n: number }>(db, `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'y'`, [
        DB,
      ]);
      expect(Number(tables[0].n)).toBe(1);
    },
    held: () => ({
      request: engine.request('slow', { dataSource: source(cancelUser) }),
      inFlight: async () => (await count("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'SELECT%slow%'")) === 1,
      sessions: () => count('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?'),
      headerFirst: true,
    }),
  };
  return engine;
})();

const mongo = inject('mongodb');
const mongodb = ((): PreviewEngine => {
  const DB = 'sourced_preview_shared';
  const SLOW = 'slow';
  const previewUser = 'sourced_shared_previewer';
  const previewPassword = `Pa55-${randomBytes(9).toString('base64url')}`;
  registerSecret('shared preview MongoDB password', previewPassword);
  const dataset = (): DatabaseSpec => ({
    name: DB,
    collections: [
      {
        name: 'accounts',
        type: 'collection',
        documents: [...ACCOUNTS].reverse().map(({ id, ...rest }) => ({ _id: new Int32(id), ...rest })),
      },
      {
        name: 'many',
        type: 'collection',
        documents: Array.from({ length: MANY_ROWS }, (_x, i) => ({ _id: new Int32(MANY_ROWS - i), v: new Int32(2 * (MANY_ROWS - i)) })),
      },
      { name: SLOW, type: 'collection', documents: [{ _id: new Int32(1), n: new Int32(1) }] },
    ],
  });
  let t: TestDaemon;
  let standIn: MongoStandIn | undefined;
  /** The fixture's admin view of the server (for its connections). */
  let fixture: MongoServerInfo;
  let server: MongoServerInfo;
  /** Commands the daemon sent to the stand-in (appName `sourced`), with their database. */
  const commands: { db: string; command: Document }[] = [];
  const sent = (name: string, collection: string) => commands.filter((c) => c.db === DB && c.command[name] === collection).map((c) => c.command);
  const json = (value: string): Cell => ({ value: { $case: 'json', value } });
  const engine: PreviewEngine = {
    label: 'MongoDB',
    async setup() {
      const user = { user: previewUser, db: 'admin', password: previewPassword, roles: [{ role: 'read', db: DB }] };
      if (mongo.standIn) {
        const passwords = {
          test: `Pa55-${randomBytes(9).toString('base64url')}`,
          shop: `Pa55-${randomBytes(9).toString('base64url')}`,
          admin: `Pa55-${randomBytes(9).toString('base64url')}`,
        };
        Object.entries(passwords).forEach(([k, v]) => registerSecret(`shared preview stand-in ${k} password`, v));
        const data = mongoFixture(passwords);
        data.databases.push(dataset());
        data.users.push(user);
        standIn = await startMongoStandIn({
          dataset: data,
          findDelays: { [`${DB}.${SLOW}`]: 60_000 },
          onCommand: (command, on, appName) => {
            if (appName === 'sourced') commands.push({ db: on, command });
          },
        });
        const url = `mongodb://sourced_admin:${encodeURIComponent(passwords.admin)}@${standIn.host}:${standIn.port}/?authSource=admin&directConnection=true`;
        fixture = { ...mongo, host: standIn.host, port: standIn.port, user: TEST_USER, password: passwords.test, url, standIn: true };
      } else {
        await loadMongoDataset(mongo.url, { databases: [dataset()], roles: [], users: [user] });
        fixture = mongo;
      }
      server = { ...fixture, user: previewUser, password: previewPassword, database: DB };
      t = await startTestDaemon({ plugins: ['@sourced/plugin-mongodb'] });
    },
    async teardown() {
      await t?.stop();
      await standIn?.stop();
    },
    daemon: () => t,
    request: (name, over = {}) => ({ dataSource: mongoSource(server), table: { schema: DB, name }, columns: [], limit: 0, strategy: 0, ...over }),
    key: '_id',
    types: { key: 'field', email: 'field' },
    integer: (n) => json(`{"$numberInt":"${n}"}`),
    text: (s) => json(JSON.stringify(s)),
    wholeRows: false,
    maxRows: DEFAULT_PREVIEW_SETTINGS.maxRows,
    // Field names that are not top-level names.
    badColumns: [
      ['$where', expect.any(String)],
      ['profile.city', expect.any(String)],
      ['a\u0000b', expect.any(String)],
    ],
    beforeBadColumn: async () => void (commands.length = 0),
    async afterBadColumn() {
      if (standIn) expect(sent('find', 'accounts')).toEqual([]);
    },
    // The data sources name no database, so every table is in scope and the catalog answers.
    missingTables: [
      ['a missing collection', { schema: DB, name: 'nope' }, () => ({ dataSource: mongoSource({ ...server, database: '' }) })],
      ['a missing database', { schema: 'sourced_nowhere', name: 'accounts' }, () => ({ dataSource: mongoSource({ ...server, database: '' }) })],
      ['a collection the user has no privileges on', { schema: HR, name: 'salaries' }, () => ({ dataSource: mongoSource({ ...fixture, database: '' }) })],
    ],
    held: () => ({
      request: engine.request(SLOW, { columns: ['n'] }),
      before: async () => void (commands.length = 0),
      // the stand-in holds the find: cancel once it is in flight and the daemon's client is connected
      inFlight: async () => !standIn || (sent('find', SLOW).length > 0 && (await openConnections(fixture, 'sourced')) > 0),
      sessions: () => openConnections(fixture, 'sourced'),
      headerFirst: false,
      // a real server may have answered before the cancel arrived
      mayFinishFirst: !standIn,
      async after() {
        if (standIn) expect(standIn.openCursors()).toBe(0);
      },
    }),
  };
  return engine;
})();

describe.each([postgres, mysql, mongodb].map((e) => [e.label, e] as const))('%s PreviewTable', (_label, engine) => previewBehaviour(engine));
