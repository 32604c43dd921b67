/**
 * The plugin conformance kit against the built-in PostgreSQL connector, on the PostgreSQL of
 * the global setup. The suite logs in as a role of its own, so the sessions it counts in
 * pg_stat_activity are only its own whatever other suites run at the same time.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { describeConnectorConformance, type ExpectedCell } from '../../sdk/src/testing';
import { freePort } from '../harness/ports';
import { pgSource, superuserQuery } from '../support/pg';
import { registerSecret } from '../support/secretScan';

const pg = inject('postgres');
const role = `sourced_conformance_${randomBytes(4).toString('hex')}`;
const password = `pw-${randomBytes(12).toString('hex')}`;
const wrong = `wrong-${randomBytes(12).toString('hex')}`;
registerSecret('the conformance role password', password);
registerSecret('the conformance wrong password', wrong);

/**
 * The type fixture: a database of its own (so the good source discovers what it did before),
 * one table of the types PostgreSQL previews, edge values included, and the cells the
 * connector must return for them (the kit previews it and compares every cell).
 */
const typesDatabase = `sourced_conformance_types_${randomBytes(4).toString('hex')}`;
const TYPES_SQL = `
CREATE TABLE public.types (
  id int PRIMARY KEY, i8 bigint, n numeric(30,10), f8 float8, b boolean, t text, bin bytea,
  ts timestamptz, lts timestamp, d date, tm time, j jsonb, arr int[], r int4range
);
INSERT INTO public.types VALUES
  (1, 9223372036854775807, 12345678901234567890.0123456789, 1.5, true, 'héllo ☃', '\\x00ff10',
   '2024-03-01 09:30:00.123+00', '2024-03-01 09:30:00', '2024-03-01', '23:59:59.999999', '{"a": [1, "x"]}', '{1,2,NULL}', '[1,10)'),
  (2, -9223372036854775808, -0.0000000001, 'NaN', false, '', '\\x', '-infinity', 'infinity', '0044-03-15 BC', '00:00:00', 'null', '{}', 'empty'),
  (3, NULL, NULL, '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`;
const TYPE_COLUMNS = ['id', 'i8', 'n', 'f8', 'b', 't', 'bin', 'ts', 'lts', 'd', 'tm', 'j', 'arr', 'r'];
const NULL = { kind: 'null' } as const;
const TYPE_ROWS: ExpectedCell[][] = [
  [
    { kind: 'integer', value: '1' },
    { kind: 'integer', value: '9223372036854775807' },
    { kind: 'decimal', value: '12345678901234567890.0123456789' },
    { kind: 'float', value: 1.5 },
    { kind: 'boolean', value: true },
    { kind: 'text', value: 'héllo ☃' },
    { kind: 'bytes', value: 'AP8Q' },
    { kind: 'timestamp', value: '2024-03-01T09:30:00.123+00:00' },
    { kind: 'local_timestamp', value: '2024-03-01T09:30:00' },
    { kind: 'date', value: '2024-03-01' },
    { kind: 'time', value: '23:59:59.999999' },
    { kind: 'json', value: '{"a": [1, "x"]}' },
    { kind: 'json', value: '[1, 2, null]' }, // to_jsonb's text
    { kind: 'json', value: '{"empty":false,"lower":"1","upper":"10","lower_inclusive":true,"upper_inclusive":false}' },
  ],
  [
    { kind: 'integer', value: '2' },
    { kind: 'integer', value: '-9223372036854775808' },
    { kind: 'decimal', value: '-0.0000000001' },
    { kind: 'float', value: Number.NaN },
    { kind: 'boolean', value: false },
    { kind: 'text', value: '' },
    { kind: 'bytes', value: '' },
    { kind: 'timestamp', value: '-infinity' },
    { kind: 'local_timestamp', value: 'infinity' },
    { kind: 'date', value: '-0043-03-15' },
    { kind: 'time', value: '00:00:00' },
    { kind: 'json', value: 'null' },
    { kind: 'json', value: '[]' },
    { kind: 'json', value: '{"empty":true}' },
  ],
  [{ kind: 'integer', value: '3' }, NULL, NULL, { kind: 'float', value: -Infinity }, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL],
];

const asRole = (secret: string, extra: Parameters<typeof pgSource>[1] = {}) =>
  pgSource(pg, { credentials: { username: role, password: { source: { $case: 'inlineValue', value: secret } } }, ...extra });

describeConnectorConformance({
  plugin: '@sourced/plugin-postgres',
  type: 'postgres',
  async source() {
    await superuserQuery(pg, `CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE pg_read_all_data`);
    await superuserQuery(pg, `CREATE DATABASE ${typesDatabase}`);
    await superuserQuery({ ...pg, database: typesDatabase }, TYPES_SQL);
    return { dataSource: asRole(password), secrets: [password] };
  },
  typeFixture: () => ({
    dataSource: asRole(password, { primary: { host: pg.host, port: pg.port, database: typesDatabase } }),
    table: { schema: 'public', name: 'types' },
    columns: TYPE_COLUMNS,
    rows: TYPE_ROWS,
  }),
  wrongPassword: () => ({ dataSource: asRole(wrong), secrets: [wrong, password] }),
  async unreachable() {
    const port = await freePort();
    return { dataSource: asRole(password, { primary: { host: '127.0.0.1', port, database: pg.database } }), secrets: [password] };
  },
  async openSessions() {
    const rows = await superuserQuery<{ n: string }>(pg, 'select count(*) as n from pg_stat_activity where usename = $1', [role]);
    return Number(rows[0].n);
  },
  async teardown() {
    await superuserQuery(pg, 'select pg_terminate_backend(pid) from pg_stat_activity where usename = $1', [role]);
    await superuserQuery(pg, `DROP DATABASE IF EXISTS ${typesDatabase} WITH (FORCE)`);
    await superuserQuery(pg, `DROP ROLE IF EXISTS ${role}`);
  },
});
