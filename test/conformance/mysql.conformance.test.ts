/**
 * The plugin conformance kit against the built-in MySQL connector, on the MariaDB of the
 * global setup. The suite logs in as an account of its own, so the sessions it counts in
 * information_schema.PROCESSLIST are only its own.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { DataSource } from '@sourced/api';
import { describeConnectorConformance } from '../../sdk/src/testing';
import { rootQuery } from '../harness/mariadb';
import { freePort } from '../harness/ports';
import { registerSecret } from '../support/secretScan';

const db = inject('mariadb');
const user = `sourced_conf_${randomBytes(4).toString('hex')}`;
const password = `pw-${randomBytes(12).toString('hex')}`;
const wrong = `wrong-${randomBytes(12).toString('hex')}`;
registerSecret('the conformance account password', password);
registerSecret('the conformance wrong password', wrong);

const source = (secret: string, port = db.port) =>
  DataSource.fromPartial({
    id: 'conformance-mysql',
    type: 'mysql',
    primary: { host: db.host, port, database: '' },
    credentials: { username: user, password: { source: { $case: 'inlineValue', value: secret } } },
  });

describeConnectorConformance({
  plugin: '@sourced/plugin-mysql',
  type: 'mysql',
  async source() {
    await rootQuery(db, `CREATE USER '${user}'@'%' IDENTIFIED BY ?`, [password]);
    await rootQuery(db, `GRANT SELECT, SHOW VIEW ON shop.* TO '${user}'@'%'`);
    await rootQuery(db, `GRANT SELECT ON warehouse.* TO '${user}'@'%'`);
    return { dataSource: source(password), secrets: [password] };
  },
  wrongPassword: () => ({ dataSource: source(wrong), secrets: [wrong, password] }),
  async unreachable() {
    return { dataSource: source(password, await freePort()), secrets: [password] };
  },
  async openSessions() {
    const rows = await rootQuery<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
    return Number(rows[0].n);
  },
  async teardown() {
    await rootQuery(db, `DROP USER IF EXISTS '${user}'@'%'`);
  },
});
