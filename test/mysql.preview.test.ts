/**
 * PreviewTable on MySQL (MariaDB here), end to end through gRPC: every type family rendered
 * without loss, names with backticks, the read-only transaction, a HYBRID failover during the
 * read, and (on a server of its own with the general log) the statements masking makes.
 * Masking's cells, chosen columns, bad columns, tables not found, the row limit and
 * cancellation are the cases every connector shares (test/connectors.preview.test.ts).
 *
 * Why one file (~430 lines): most of it is the type-family fixture and its expected cells; the HYBRID secondary and
 * the general-log server are each started once for the cases that need them.
 */
import { randomBytes } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataSource } from '@sourced/api';
import type { PreviewTableRequest, PreviewTableResponse } from '@sourced/api';
import type { Cell, PreviewColumn, PreviewSummary } from '@sourced/api';
import { EndpointRole } from '@sourced/api';
import { baseTypeOf, previewSql, quoteIdentifier, renderCell } from '../plugins/mysql/src/preview';
import { rootQuery, startMariadb, type MariadbInstance } from './harness/mariadb';
import { hybridSource } from './support/hybrid';
import { eventually } from './support/pg';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

/** Where a server is and how root logs in to it over TCP. */
interface RootAccess {
  host: string;
  port: number;
  superuser: string;
  superuserPassword: string;
}

/** Runs statements one after another on one root session (so session settings apply to the later ones). */
async function asRoot(server: RootAccess, statements: (string | [string, unknown[]])[]): Promise<void> {
  const conn = await createConnection({ host: server.host, port: server.port, user: server.superuser, password: server.superuserPassword, charset: 'utf8mb4' });
  try {
    for (const s of statements) await (typeof s === 'string' ? conn.query(s) : conn.query(s[0], s[1]));
  } finally {
    await conn.end();
  }
}

function mysqlSource(server: { host: string; port: number }, user: string, password: string): DataSource {
  return DataSource.fromPartial({
    id: 'test-mysql-preview',
    type: 'mysql',
    primary: { host: server.host, port: server.port, database: '' },
    credentials: { username: user, password: { source: { $case: 'inlineValue', value: password } } },
  });
}

/** A cell as `{ kind: value }`, e.g. `{ integer: '1' }`, `{ null: true }`, `{ masked: true }`. */
type Plain = Record<string, string | number | boolean | Uint8Array>;
function plain(c: Cell): Plain {
  const v = c.value;
  if (!v) return { unset: true };
  if (v.$case === 'null') return { null: true };
  return { [v.$case]: v.value };
}

interface Preview {
  columns: PreviewColumn[];
  rows: Plain[][];
  summary: PreviewSummary;
  endpoint: EndpointRole;
  kinds: string[];
}

function previewOf(events: PreviewTableResponse[]): Preview {
  expect(events.map((e) => Number(e.sequence))).toEqual(events.map((_e, i) => i + 1));
  const kinds = events.map((e) => e.event?.$case ?? 'none');
  const header = events.find((e) => e.event?.$case === 'header')?.event;
  const last = events.at(-1)?.event;
  if (header?.$case !== 'header' || last?.$case !== 'summary') throw new Error(`unexpected stream: ${kinds.join(', ')}`);
  const rows = events.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows.map((r) => r.cells.map(plain)) : []));
  return { columns: header.value.columns, rows, summary: last.value, endpoint: header.value.endpoint, kinds };
}

const DB = 'preview_mysql';
const USER = 'sourced_preview';
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;

/** The fixture: one row of known values per type family, one row of NULLs. */
const TYPES_DDL = `CREATE TABLE ${DB}.types (
  id INT PRIMARY KEY,
  i8 TINYINT, u8 TINYINT UNSIGNED, flag BOOLEAN, i16 SMALLINT, i24 MEDIUMINT, i32 INT,
  i64_min BIGINT, i64_max BIGINT, u64 BIGINT UNSIGNED,
  dec65 DECIMAL(65,30), dec_neg DECIMAL(10,2),
  f FLOAT, d DOUBLE, d_max DOUBLE,
  b1 BIT(1), b12 BIT(12),
  dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, dte DATE, tm TIME(6), tm_long TIME, yr YEAR,
  c CHAR(5), vc VARCHAR(100), tx TEXT, lat VARCHAR(20) CHARACTER SET latin1,
  en ENUM('small','it''s big'), st SET('a','b','c'),
  bin BINARY(4), vb VARBINARY(10), bl BLOB,
  j JSON, g POINT,
  zero_d DATE, zero_dt DATETIME
) DEFAULT CHARSET=utf8mb4`;

const TRICKY_TEXT = 'it\'s "quoted"\nline two\ttab \\ back – ünïcødé 🎉';
const JSON_TEXT = '{"a": [1, 2.5, {"b": null}], "big": 12345678901234567890, "s": "é\\n"}';

/** Every cell of row 1, by column. */
const ROW1: Record<string, Plain> = {
  id: { integer: '1' },
  i8: { integer: '-128' },
  u8: { integer: '255' },
  flag: { integer: '1' },
  i16: { integer: '-32768' },
  i24: { integer: '8388607' },
  i32: { integer: '-2147483648' },
  i64_min: { integer: '-9223372036854775808' },
  i64_max: { integer: '9223372036854775807' },
  u64: { integer: '18446744073709551615' },
  dec65: { decimal: '12345678901234567890123456789012345.123456789012345678901234567890' },
  dec_neg: { decimal: '-0.50' },
  f: { float: 0.1 },
  d: { float: 0.1 },
  d_max: { float: 1.7976931348623157e308 },
  b1: { integer: '1' },
  b12: { integer: '2730' },
  dt: { localTimestamp: '2024-03-01T09:30:00.123456' },
  // written as 11:30:00.123456 in a +02:00 session: the instant is 09:30 UTC
  ts: { timestamp: '2024-03-01T09:30:00.123456+00:00' },
  dte: { date: '2024-02-29' },
  tm: { time: '09:30:00.500000' },
  tm_long: { time: '-838:59:59' },
  yr: { integer: '2024' },
  c: { text: 'ab' },
  vc: { text: TRICKY_TEXT },
  tx: { text: 'C:\\path\\to\u0000nul' },
  lat: { text: 'café' },
  en: { other: "it's big" },
  st: { other: 'a,c' },
  bin: { bytesBase64: Buffer.from([0x00, 0xff, 0x10, 0x00]).toString('base64') },
  vb: { bytesBase64: Buffer.from([0x00, 0xff]).toString('base64') },
  bl: { bytesBase64: Buffer.from([0x00, 0xff, 0x00, 0x7f, 0x80]).toString('base64') },
  j: { json: JSON_TEXT },
  g: { other: 'POINT(1 2)' },
  zero_d: { date: '0000-00-00' },
  zero_dt: { localTimestamp: '0000-00-00T00:00:00' },
};
const COLUMNS = Object.keys(ROW1);

describe('quoting and rendering helpers', () => {
  it('quotes identifiers with backticks, doubling those inside', () => {
    expect(quoteIdentifier('plain')).toBe('`plain`');
    expect(quoteIdentifier('a`b')).toBe('`a``b`');
    expect(quoteIdentifier('``')).toBe('``````');
    expect(quoteIdentifier('x; drop table y')).toBe('`x; drop table y`');
    expect(quoteIdentifier('')).toBe('``');
  });

  it('builds the statement from catalog names only', () => {
    const table = { schema: 'd`b', name: 'odd `name' };
    expect(
      previewSql(
        {
          table,
          columns: [
            { name: 'a', type: 'int(11)' },
            { name: 'g`', type: 'point' },
          ],
        },
        ['a'],
      ),
    ).toBe('SELECT `a` AS c0, ST_AsText(`g```) AS c1 FROM `d``b`.`odd ``name` ORDER BY `a` LIMIT ?');
    expect(previewSql({ table, columns: [] }, [])).toBe('SELECT 1 FROM `d``b`.`odd ``name` LIMIT ?');
  });

  it('renders edge values', () => {
    expect(baseTypeOf('bigint(20) unsigned')).toBe('bigint');
    // one column keeps one kind: values no ISO form carries stay in it, as the server prints them
    expect(renderCell('date', Buffer.from('2023-02-29'))).toEqual({ kind: 'date', value: '2023-02-29' });
    expect(renderCell('datetime', Buffer.from('2024-00-10 00:00:00'))).toEqual({ kind: 'local_timestamp', value: '2024-00-10T00:00:00' });
    expect(renderCell('time', Buffer.from('24:00:00'))).toEqual({ kind: 'time', value: '24:00:00' });
    expect(renderCell('bit(64)', Buffer.from('ffffffffffffffff', 'hex'))).toEqual({ kind: 'integer', value: '18446744073709551615' });
    expect(renderCell('year(4)', Buffer.from('0000'))).toEqual({ kind: 'integer', value: '0' });
    expect(renderCell('uuid', Buffer.from('123e4567-e89b-12d3-a456-426655440000'))).toEqual({ kind: 'other', value: '123e4567-e89b-12d3-a456-426655440000' });
    expect(renderCell('mystery', Buffer.from([0xff, 0xfe]))).toEqual({ kind: 'bytes', value: '//4=' });
    expect(renderCell('int(11)', null)).toEqual({ kind: 'null' });
  });
});

describe('MySQL PreviewTable (MariaDB)', () => {
  const db = inject('mariadb');
  let t: TestDaemon;
  const source = () => mysqlSource(db, USER, PASSWORD);
  const request = (r: Partial<PreviewTableRequest>): PreviewTableRequest => ({
    dataSource: source(),
    table: { schema: DB, name: 'types' },
    columns: [],
    limit: 0,
    strategy: 0,
    ...r,
  });
  const preview = async (r: Partial<PreviewTableRequest>) => previewOf(await collect(t.dataSources.previewTable(request(r), new Metadata())));
  const failure = async (r: Partial<PreviewTableRequest>) => richStatusOf(await expectFailure(collect(t.dataSources.previewTable(request(r), new Metadata()))));

  beforeAll(async () => {
    await asRoot(db, [
      `DROP DATABASE IF EXISTS ${DB}`,
      `CREATE DATABASE ${DB} CHARACTER SET utf8mb4`,
      TYPES_DDL,
      "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'",
      "SET SESSION time_zone = '+02:00'",
      [
        `INSERT INTO ${DB}.types VALUES (1, -128, 255, TRUE, -32768, 8388607, -2147483648,
          -9223372036854775808, 9223372036854775807, 18446744073709551615,
          '12345678901234567890123456789012345.123456789012345678901234567890', -0.5,
          0.1, 0.1, 1.7976931348623157e308, b'1', b'101010101010',
          '2024-03-01 09:30:00.123456', '2024-03-01 11:30:00.123456', '2024-02-29', '09:30:00.5', '-838:59:59', 2024,
          'ab', ?, ?, 'café', 'it''s big', 'c,a',
          x'00ff10', x'00ff', x'00ff007f80', ?, ST_GeomFromText('POINT(1 2)'),
          '0000-00-00', '0000-00-00 00:00:00')`,
        [TRICKY_TEXT, 'C:\\path\\to\u0000nul', JSON_TEXT],
      ],
      `INSERT INTO ${DB}.types (id) VALUES (2)`,
      // Ordinary and special values in the same columns (zero dates, zero months, TIME past a day), read under UTC.
      `CREATE TABLE ${DB}.temporal (id INT PRIMARY KEY, d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6))`,
      `INSERT INTO ${DB}.temporal VALUES
        (1, '2024-02-29', '2024-03-01 09:30:00.5', '2024-03-01 11:30:00.25', '09:30:00'),
        (2, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '-838:59:59'),
        (3, '2024-00-10', '2024-00-00 10:00:00', '1970-01-01 02:00:01', '100:00:00.5'),
        (4, NULL, NULL, NULL, '-00:00:01')`,
      'CREATE TABLE `preview_mysql`.`odd ``name` (`id` INT PRIMARY KEY, `we``ird col` VARCHAR(20))',
      "INSERT INTO `preview_mysql`.`odd ``name` VALUES (1, 'tick`tock')",
      `CREATE VIEW ${DB}.slow AS SELECT SLEEP(20) AS slept`,
      `CREATE TABLE ${DB}.bumps (id INT)`,
      `CREATE FUNCTION ${DB}.bump() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO ${DB}.bumps VALUES (1); RETURN 1; END`,
      `CREATE VIEW ${DB}.writes AS SELECT ${DB}.bump() AS bumped`,
      `DROP USER IF EXISTS '${USER}'@'%'`,
      `CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`,
      `GRANT SELECT ON ${DB}.* TO '${USER}'@'%'`,
    ]);
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mysql'] });
  });
  afterAll(async () => {
    await t?.stop();
    await asRoot(db, [`DROP DATABASE IF EXISTS ${DB}`, `DROP USER IF EXISTS '${USER}'@'%'`]);
  });

  /** Every type family reads back exactly: integers and decimals as exact text, times with their precision, bytes as base64. */
  it('renders every type family without loss', async () => {
    const p = await preview({});
    expect(p.kinds).toEqual(['header', 'rows', 'summary']);
    expect(p.endpoint).toBe(EndpointRole.ENDPOINT_ROLE_PRIMARY);
    expect(p.columns.map((c) => c.name)).toEqual(COLUMNS);
    const types = Object.fromEntries(p.columns.map((c) => [c.name, c.dataType]));
    expect(types).toMatchObject({
      id: 'int(11)',
      flag: 'tinyint(1)',
      u64: 'bigint(20) unsigned',
      dec65: 'decimal(65,30)',
      ts: 'timestamp(6)',
      en: "enum('small','it''s big')",
      j: 'json',
      g: 'point',
      bl: 'blob',
    });
    expect(p.columns.every((c) => !c.masked)).toBe(true);
    expect(p.rows).toHaveLength(2);
    expect(Object.fromEntries(COLUMNS.map((name, i) => [name, p.rows[0][i]]))).toEqual(ROW1);
    expect(p.rows[1]).toEqual([{ integer: '2' }, ...COLUMNS.slice(1).map(() => ({ null: true }))]);
    expect(p.summary).toMatchObject({ rows: 2, truncated: false, limit: 50, maskedColumns: [] });
  });

  /**
   * One column keeps one kind (issue 16, item 7): zero dates, dates with a zero month or day,
   * and TIME values past a day keep their column's kind, as the server prints them (asked of
   * the server by the test with CAST(... AS CHAR) under UTC).
   */
  it('keeps one kind per column for zero dates and TIME past a day', async () => {
    const p = await preview({ table: { schema: DB, name: 'temporal' } });
    const conn = await createConnection({ host: db.host, port: db.port, user: db.superuser, password: db.superuserPassword });
    let truth: Record<string, string | null>[];
    try {
      await conn.query("SET time_zone = '+00:00'");
      [truth] = (await conn.query(
        `SELECT CAST(d AS CHAR) AS d, CAST(dt AS CHAR) AS dt, CAST(ts AS CHAR) AS ts, CAST(tm AS CHAR) AS tm FROM ${DB}.temporal ORDER BY id`,
      )) as unknown as [Record<string, string | null>[]];
    } finally {
      await conn.end();
    }
    const kinds: Record<string, string> = { d: 'date', dt: 'localTimestamp', ts: 'timestamp', tm: 'time' };
    const encode: Record<string, (v: string) => string> = {
      d: (v) => v,
      dt: (v) => v.replace(' ', 'T'),
      ts: (v) => `${v.replace(' ', 'T')}+00:00`,
      tm: (v) => v,
    };
    const expected = truth.map((row, i) => [
      { integer: String(i + 1) },
      ...['d', 'dt', 'ts', 'tm'].map((c) => (row[c] === null ? { null: true } : { [kinds[c]]: encode[c](row[c] as string) })),
    ]);
    expect(p.rows).toEqual(expected);
    expect(p.rows[1]).toEqual([
      { integer: '2' },
      { date: '0000-00-00' },
      { localTimestamp: '0000-00-00T00:00:00.000000' },
      { timestamp: '0000-00-00T00:00:00.000000+00:00' },
      { time: '-838:59:59.000000' },
    ]);
  });

  it('reads a table and column whose names hold a backtick and a space', async () => {
    const p = await preview({ table: { schema: DB, name: 'odd `name' } });
    expect(p.columns.map((c) => c.name)).toEqual(['id', 'we`ird col']);
    expect(p.rows).toEqual([[{ integer: '1' }, { text: 'tick`tock' }]]);
  });

  /** The SELECT runs in a read-only transaction: a view over a function that writes fails instead of writing. */
  it('reads in a read-only transaction', async () => {
    const status = await failure({ table: { schema: DB, name: 'writes' } });
    expect(status.grpcCode).toBe(9); // FAILED_PRECONDITION
    expect(status.errorInfo?.reason).toBe('PREVIEW_READ_FAILED');
    expect(status.message).toMatch(/READ ONLY transaction/i);
    expect(Number((await rootQuery<{ n: number }>(db, `SELECT COUNT(*) AS n FROM ${DB}.bumps`))[0].n)).toBe(0);
  });

  /**
   * HYBRID: the primary's session is killed while its SELECT runs; the rows come from the
   * secondary after a failover event, and the header still names the columns read.
   */
  describe('HYBRID', () => {
    let secondary: MariadbInstance;
    beforeAll(async () => {
      secondary = await startMariadb();
      await asRoot(secondary, [
        `CREATE DATABASE ${DB}`,
        `CREATE VIEW ${DB}.slow AS SELECT 7 AS slept`,
        `CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`,
        `GRANT SELECT ON ${DB}.* TO '${USER}'@'%'`,
      ]);
    }, 90_000);
    afterAll(() => secondary?.destroy());

    it('fails over to the secondary when the primary session dies during the read', async () => {
      const facts = (s: { host: string; port: number }) => ({ host: s.host, port: s.port, user: USER, password: PASSWORD, database: '' });
      const running = () =>
        rootQuery<{ id: number }>(db, "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'SELECT%slow%'", [USER]);
      const events = collect(
        t.dataSources.previewTable(
          request({ dataSource: hybridSource('mysql', facts(db), facts(secondary)), table: { schema: DB, name: 'slow' } }),
          new Metadata(),
        ),
      );
      const [victim] = await eventually(running, (rows) => rows.length === 1, 10_000);
      await rootQuery(db, `KILL CONNECTION ${Number(victim.id)}`);
      const p = previewOf(await events);
      expect(p.kinds).toEqual(['header', 'failover', 'rows', 'summary']);
      expect(p.endpoint).toBe(EndpointRole.ENDPOINT_ROLE_PRIMARY);
      expect(p.rows).toEqual([[{ integer: '7' }]]);
    });
  });
});

/**
 * A server of its own with the general log in a table, so every statement of the daemon's
 * sessions can be read back (as test/mysql.strategy.test.ts does).
 */
describe('MySQL PreviewTable statements (MariaDB general log)', () => {
  let logged: MariadbInstance;
  let t: TestDaemon;
  const user = 'sourced_preview_log';
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const statements = async () =>
    (
      await rootQuery<{ argument: string }>(
        logged,
        `SELECT CONVERT(argument USING utf8mb4) AS argument FROM mysql.general_log
         WHERE command_type = 'Query' AND user_host LIKE ? ORDER BY event_time, thread_id`,
        [`${user}[%`],
      )
    ).map((r) => r.argument);

  beforeAll(async () => {
    [logged, t] = await Promise.all([
      startMariadb({ extraArgs: ['--general-log=1', '--log-output=TABLE'] }),
      startTestDaemon({ plugins: ['@sourced/plugin-mysql'] }),
    ]);
    await asRoot(logged, [
      'CREATE DATABASE logdb',
      'CREATE TABLE logdb.accounts (id INT PRIMARY KEY, email VARCHAR(100), password VARCHAR(100), api_token VARCHAR(100))',
      "INSERT INTO logdb.accounts VALUES (1, 'a@example.com', 'hunter2', 'tok-1')",
      'CREATE TABLE logdb.secret_keyed (password VARCHAR(100) PRIMARY KEY, note VARCHAR(10))',
      "INSERT INTO logdb.secret_keyed VALUES ('hunter2', 'n')",
      `CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`,
      `GRANT SELECT ON logdb.* TO '${user}'@'%'`,
    ]);
  }, 90_000);
  afterAll(async () => {
    await t?.stop();
    await logged?.destroy();
  });

  it('never names a masked column, and reads in a read-only transaction', async () => {
    await rootQuery(logged, 'TRUNCATE TABLE mysql.general_log');
    const p = previewOf(
      await collect(
        t.dataSources.previewTable(
          { dataSource: mysqlSource(logged, user, password), table: { schema: 'logdb', name: 'accounts' }, columns: [], limit: 0, strategy: 0 },
          new Metadata(),
        ),
      ),
    );
    expect(p.rows).toEqual([[{ integer: '1' }, { text: 'a@example.com' }, { masked: true }, { masked: true }]]);
    const log = await statements();
    expect(log.some((s) => /password|api_token|hunter2|tok-1/i.test(s))).toBe(false);
    const select = log.findIndex((s) => s.startsWith('SELECT `'));
    expect(log[select]).toBe('SELECT `id` AS c0, `email` AS c1 FROM `logdb`.`accounts` ORDER BY `id` LIMIT 51');
    expect(log[select - 1]).toBe('START TRANSACTION READ ONLY');
    expect(log[select + 1]).toBe('ROLLBACK');
  });

  /** Ordering by a masked primary key would tell its values' order: the rows come unordered instead. */
  it('does not order by a masked primary key', async () => {
    await rootQuery(logged, 'TRUNCATE TABLE mysql.general_log');
    const p = previewOf(
      await collect(
        t.dataSources.previewTable(
          { dataSource: mysqlSource(logged, user, password), table: { schema: 'logdb', name: 'secret_keyed' }, columns: [], limit: 0, strategy: 0 },
          new Metadata(),
        ),
      ),
    );
    expect(p.rows).toEqual([[{ masked: true }, { text: 'n' }]]);
    const selects = (await statements()).filter((s) => s.startsWith('SELECT `'));
    expect(selects).toEqual(['SELECT `note` AS c0 FROM `logdb`.`secret_keyed` LIMIT 51']);
  });
});
