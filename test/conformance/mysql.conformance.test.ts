/**
 * The plugin conformance kit against the built-in MySQL connector, on the MariaDB of the
 * global setup. The suite logs in as an account of its own, so the sessions it counts in
 * information_schema.PROCESSLIST are only its own.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { DataSource } from '@sourced/api';
import { describeConnectorConformance, type ExpectedCell } from '../../sdk/src/testing';
import { rootQuery } from '../harness/mariadb';
import { freePort } from '../harness/ports';
import { registerSecret } from '../support/secretScan';

const db = inject('mariadb');
const user = `sourced_conf_${randomBytes(4).toString('hex')}`;
const password = `pw-${randomBytes(12).toString('hex')}`;
const wrong = `wrong-${randomBytes(12).toString('hex')}`;
registerSecret('the conformance account password', password);
registerSecret('the conformance wrong password', wrong);

/**
 * The type fixture: a database of its own that the account may read, one table of the types
 * MySQL/MariaDB previews, edge values included (zero dates written under an empty sql_mode),
 * and the cells the connector must return for them (the kit previews it and compares each).
 */
const typesDatabase = `sourced_conf_types_${randomBytes(4).toString('hex')}`;
const TYPE_COLUMNS = ['id', 'i8', 'u8', 'd', 'f', 'b', 't', 'bin', 'dt', 'dd', 'tm', 'j', 'e', 'bo'];
const NULL = { kind: 'null' } as const;
const TYPE_ROWS: ExpectedCell[][] = [
  [
    { kind: 'integer', value: '1' },
    { kind: 'integer', value: '9223372036854775807' },
    { kind: 'integer', value: '18446744073709551615' },
    { kind: 'decimal', value: '12345678901234567890.0123456789' },
    { kind: 'float', value: 1.5 },
    { kind: 'integer', value: '682' },
    { kind: 'text', value: 'héllo ☃' },
    { kind: 'bytes', value: 'AP8Q' },
    { kind: 'local_timestamp', value: '2024-03-01T09:30:00.123' },
    { kind: 'date', value: '2024-03-01' },
    { kind: 'time', value: '838:59:59' },
    { kind: 'json', value: '{"a": [1, "x"]}' },
    { kind: 'other', value: 'x' }, // ENUM: the server's text, kind other
    { kind: 'integer', value: '1' },
  ],
  [
    { kind: 'integer', value: '2' },
    { kind: 'integer', value: '-9223372036854775808' },
    { kind: 'integer', value: '0' },
    { kind: 'decimal', value: '-0.0000000001' },
    { kind: 'float', value: -1e308 },
    { kind: 'integer', value: '0' },
    { kind: 'text', value: '' },
    { kind: 'bytes', value: '' },
    { kind: 'local_timestamp', value: '0000-00-00T00:00:00.000' }, // a zero date as the server prints a DATETIME(3)
    { kind: 'date', value: '0000-00-00' },
    { kind: 'time', value: '-838:59:59' },
    { kind: 'json', value: 'null' },
    { kind: 'other', value: 'y' },
    { kind: 'integer', value: '0' },
  ],
  [{ kind: 'integer', value: '3' }, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL],
];

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
    await rootQuery(db, `CREATE DATABASE ${typesDatabase}`);
    await rootQuery(
      db,
      `CREATE TABLE ${typesDatabase}.types (id INT PRIMARY KEY, i8 BIGINT, u8 BIGINT UNSIGNED, d DECIMAL(30,10), f DOUBLE, b BIT(10),
      t VARCHAR(20), bin VARBINARY(8), dt DATETIME(3), dd DATE, tm TIME, j JSON, e ENUM('x','y'), bo BOOLEAN) ENGINE=InnoDB`,
    );
    await rootQuery(
      db,
      `SET STATEMENT sql_mode = '' FOR INSERT INTO ${typesDatabase}.types VALUES
      (1, 9223372036854775807, 18446744073709551615, 12345678901234567890.0123456789, 1.5, 682, 'héllo ☃', 0x00FF10, '2024-03-01 09:30:00.123', '2024-03-01', '838:59:59', '{"a": [1, "x"]}', 'x', TRUE),
      (2, -9223372036854775808, 0, -0.0000000001, -1e308, 0, '', '', '0000-00-00 00:00:00', '0000-00-00', '-838:59:59', 'null', 'y', FALSE),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
    );
    await rootQuery(db, `GRANT SELECT ON ${typesDatabase}.* TO '${user}'@'%'`);
    return { dataSource: source(password), secrets: [password] };
  },
  typeFixture: () => ({ table: { schema: typesDatabase, name: 'types' }, columns: TYPE_COLUMNS, rows: TYPE_ROWS }),
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
    await rootQuery(db, `DROP DATABASE IF EXISTS ${typesDatabase}`);
  },
});
