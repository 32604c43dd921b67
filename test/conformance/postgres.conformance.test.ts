/**
 * The plugin conformance kit against the built-in PostgreSQL connector, on the PostgreSQL of
 * the global setup. The suite logs in as a role of its own, so the sessions it counts in
 * pg_stat_activity are only its own whatever other suites run at the same time.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { describeConnectorConformance } from '../../sdk/src/testing';
import { freePort } from '../harness/ports';
import { pgSource, superuserQuery } from '../support/pg';
import { registerSecret } from '../support/secretScan';

const pg = inject('postgres');
const role = `sourced_conformance_${randomBytes(4).toString('hex')}`;
const password = `pw-${randomBytes(12).toString('hex')}`;
const wrong = `wrong-${randomBytes(12).toString('hex')}`;
registerSecret('the conformance role password', password);
registerSecret('the conformance wrong password', wrong);

const asRole = (secret: string, extra: Parameters<typeof pgSource>[1] = {}) =>
  pgSource(pg, { credentials: { username: role, password: { source: { $case: 'inlineValue', value: secret } } }, ...extra });

describeConnectorConformance({
  plugin: '@sourced/plugin-postgres',
  type: 'postgres',
  async source() {
    await superuserQuery(pg, `CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE pg_read_all_data`);
    return { dataSource: asRole(password), secrets: [password] };
  },
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
    await superuserQuery(pg, `DROP ROLE IF EXISTS ${role}`);
  },
});
