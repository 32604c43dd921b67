import { randomBytes } from 'node:crypto';
import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from '@sourced/api';
import type { ProfileTableRequest, ProfileTableResponse } from '@sourced/api';
import type { Cell } from '@sourced/api';
import { ProfileMode, type ColumnProfile, type ProfileHeader, type ProfileSummary } from '@sourced/api';
import { mariadbHistogram, mysqlHistogramAge, thin } from '../plugins/mysql/src/profileHistograms';
import { rootQuery, startMariadb, type MariadbInstance } from './harness/mariadb';
import { eventually } from './support/pg';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

/** Runs statements one after another on one root session (so session settings apply to the later ones). */
async function asRoot(server: MariadbInstance, statements: string[]): Promise<void> {
  const conn = await createConnection({ host: server.host, port: server.port, user: server.superuser, password: server.superuserPassword, charset: 'utf8mb4' });
  try {
    for (const s of statements) await conn.query(s);
  } finally {
    await conn.end();
  }
}

function mysqlSource(server: { host: string; port: number }, user: string, password: string): DataSource {
  return DataSource.fromPartial({
    id: 'test-mysql-profile',
    type: 'mysql',
    primary: { host: server.host, port: server.port, database: '' },
    credentials: { username: user, password: { source: { $case: 'inlineValue', value: password } } },
  });
}

type Plain = Record<string, string | number | boolean | Uint8Array>;
function plain(c: Cell | undefined): Plain | undefined {
  const v = c?.value;
  if (!v) return undefined;
  if (v.$case === 'null') return { null: true };
  return { [v.$case]: v.value };
}

interface Profile {
  header: ProfileHeader;
  columns: Map<string, ColumnProfile>;
  order: string[];
  summary: ProfileSummary;
  kinds: string[];
}

function profileOf(events: ProfileTableResponse[]): Profile {
  expect(events.map((e) => Number(e.sequence))).toEqual(events.map((_e, i) => i + 1));
  const kinds = events.map((e) => e.event?.$case ?? 'none');
  const header = events[0]?.event;
  const last = events.at(-1)?.event;
  if (header?.$case !== 'header' || last?.$case !== 'summary') throw new Error(`unexpected stream: ${kinds.join(', ')}`);
  const cols = events.flatMap((e) => (e.event?.$case === 'column' ? [e.event.value] : []));
  return { header: header.value, columns: new Map(cols.map((c) => [c.name, c])), order: cols.map((c) => c.name), summary: last.value, kinds };
}

const DB = 'profdb';
const USER = 'sourced_profile';
const NOGRANT = 'sourced_profile_nostats';
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
/** category by id % 20: a 50 %, b 25 %, c 15 %, d 10 % — in every run of 20 rows, so the first 200 rows hold the same shares. */
const CATEGORY = "CASE WHEN seq % 20 < 10 THEN 'a' WHEN seq % 20 < 15 THEN 'b' WHEN seq % 20 < 18 THEN 'c' ELSE 'd' END";

describe('helpers', () => {
  it("reads a MySQL 8 histogram's last-updated as a UTC instant, and says unknown without one", () => {
    expect(mysqlHistogramAge({ 'last-updated': '2017-03-24 13:32:40.000000' })).toEqual({
      collectedAt: new Date(Date.UTC(2017, 2, 24, 13, 32, 40)),
      source: 'information_schema.COLUMN_STATISTICS histogram last-updated',
    });
    expect(mysqlHistogramAge({ 'last-updated': 'soon' }).collectedAt).toBeUndefined();
    expect(mysqlHistogramAge({}).source).toMatch(/^unknown: /);
  });

  it('thins bounds to at most buckets + 1, keeping both ends', () => {
    expect(thin([1, 2, 3], 10)).toEqual([1, 2, 3]);
    expect(
      thin(
        Array.from({ length: 101 }, (_, i) => i),
        4,
      ),
    ).toEqual([0, 25, 50, 75, 100]);
  });
  it('reads DOUBLE_PREC_HB positions as numeric bounds', () => {
    const h = Buffer.alloc(4);
    h.writeUInt16LE(0xffff / 4 + 0.5, 0);
    h.writeUInt16LE((0xffff * 3) / 4 + 0.5, 2);
    const bounds = mariadbHistogram({ hist_type: 'DOUBLE_PREC_HB', histogram: h, min_value: Buffer.from('0'), max_value: Buffer.from('100') }, 'int(11)', 10);
    expect(bounds).toEqual([0, 25, 75, 100].map((v) => ({ kind: 'integer', value: String(v) })));
    expect(mariadbHistogram({ hist_type: 'DOUBLE_PREC_HB', histogram: h, min_value: Buffer.from('a'), max_value: Buffer.from('z') }, 'varchar(5)', 10)).toEqual(
      [],
    );
  });
});

/** Its own MariaDB with the general log in a table, so every statement of the daemon's sessions can be read back. */
describe('MySQL ProfileTable (MariaDB)', () => {
  let db: MariadbInstance;
  let t: TestDaemon;
  const request = (r: Partial<ProfileTableRequest>, user = USER): ProfileTableRequest => ({
    dataSource: mysqlSource(db, user, PASSWORD),
    table: { schema: DB, name: 'facts' },
    columns: [],
    mode: ProfileMode.PROFILE_MODE_STATISTICS,
    sampleRows: 0,
    mostCommonLimit: 0,
    histogramBuckets: 0,
    strategy: 0,
    ...r,
  });
  const profile = async (r: Partial<ProfileTableRequest>, user = USER) =>
    profileOf(await collect(t.dataSources.profileTable(request(r, user), new Metadata())));
  const failure = async (r: Partial<ProfileTableRequest>) => richStatusOf(await expectFailure(collect(t.dataSources.profileTable(request(r), new Metadata()))));
  const statements = async (user: string) =>
    (
      await rootQuery<{ argument: string }>(
        db,
        `SELECT CONVERT(argument USING utf8mb4) AS argument FROM mysql.general_log
         WHERE command_type = 'Query' AND user_host LIKE ? ORDER BY event_time, thread_id`,
        [`${user}[%`],
      )
    ).map((r) => r.argument);
  /** Statements that read a table of the fixture database (not information_schema or mysql.*). */
  const overTable = (log: string[]) => log.filter((s) => /\bFROM\s+`profdb`\./i.test(s));

  beforeAll(async () => {
    [db, t] = await Promise.all([
      startMariadb({ extraArgs: ['--general-log=1', '--log-output=TABLE'] }),
      startTestDaemon({ plugins: ['@sourced/plugin-mysql'] }),
    ]);
    await asRoot(db, [
      `CREATE DATABASE ${DB} CHARACTER SET utf8mb4`,
      `CREATE TABLE ${DB}.facts (id INT PRIMARY KEY, n INT NOT NULL, category VARCHAR(10) NOT NULL, maybe INT NULL, at DATETIME NOT NULL, password VARCHAR(40) NOT NULL) ENGINE=InnoDB`,
      `INSERT INTO ${DB}.facts SELECT seq, seq, ${CATEGORY}, IF(seq % 5 = 0, NULL, seq), '2024-01-01 00:00:00' + INTERVAL seq HOUR, CONCAT('secret-', seq) FROM ${DB}.seq_1_to_1000`,
      "SET SESSION histogram_type = 'JSON_HB'",
      `ANALYZE TABLE ${DB}.facts PERSISTENT FOR ALL`,
      `CREATE TABLE ${DB}.plain (id INT PRIMARY KEY, v INT)`,
      `INSERT INTO ${DB}.plain SELECT seq, seq FROM ${DB}.seq_1_to_10`,
      `CREATE VIEW ${DB}.slow AS SELECT SLEEP(20) AS slept`,
      `CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`,
      `GRANT SELECT ON ${DB}.* TO '${USER}'@'%'`,
      `GRANT SELECT ON mysql.column_stats TO '${USER}'@'%'`,
      `CREATE USER '${NOGRANT}'@'%' IDENTIFIED BY '${PASSWORD}'`,
      `GRANT SELECT ON ${DB}.* TO '${NOGRANT}'@'%'`,
    ]);
  }, 90_000);
  afterAll(async () => {
    await t?.stop();
    await db?.destroy();
  });

  describe('STATISTICS', () => {
    it('reports what the server keeps, without reading the table', async () => {
      await rootQuery(db, 'TRUNCATE TABLE mysql.general_log');
      const p = await profile({});
      expect(p.kinds).toEqual(['header', 'column', 'column', 'column', 'column', 'column', 'column', 'summary']);
      expect(p.order).toEqual(['id', 'n', 'category', 'maybe', 'at', 'password']);
      expect(p.header.mode).toBe(ProfileMode.PROFILE_MODE_STATISTICS);
      expect(p.header.rowCountExact).toBe(false);
      expect(p.header.sampleRows).toBe(0);
      expect(p.header.rowCount).toBeGreaterThan(800);
      expect(p.header.rowCount).toBeLessThan(1200);
      expect(p.header.source).toContain('mysql.column_stats');
      expect(p.header.source).toContain('information_schema.TABLES');

      const n = p.columns.get('n') as ColumnProfile;
      expect(n.noStatistics).toBe(false);
      expect(n.distinctExact).toBe(false);
      expect(n.nullFraction).toBe(0);
      expect(n.distinctCount).toBeGreaterThan(800);
      expect(n.distinctCount).toBeLessThan(1200);
      expect(plain(n.min)).toEqual({ integer: '1' });
      expect(plain(n.max)).toEqual({ integer: '1000' });
      expect(n.averageLength).toBe(4);
      // JSON_HB: bucket endpoints, thinned to the default 10 buckets, ascending, from min to max.
      const bounds = n.histogramBounds.map((c) => Number(plain(c)?.integer));
      expect(bounds.length).toBeGreaterThan(2);
      expect(bounds.length).toBeLessThanOrEqual(11);
      expect(bounds[0]).toBe(1);
      expect(bounds.at(-1)).toBe(1000);
      expect([...bounds].sort((a, b) => a - b)).toEqual(bounds);
      expect(Math.abs(bounds[Math.floor(bounds.length / 2)] - 500)).toBeLessThan(100);

      const category = p.columns.get('category') as ColumnProfile;
      expect(Math.round(category.distinctCount ?? 0)).toBe(4);
      expect(plain(category.min)).toEqual({ text: 'a' });
      expect(plain(category.max)).toEqual({ text: 'd' });

      const maybe = p.columns.get('maybe') as ColumnProfile;
      expect(maybe.nullFraction).toBeCloseTo(0.2, 2);
      expect(maybe.distinctCount).toBeGreaterThan(600);
      expect(maybe.distinctCount).toBeLessThan(1000);

      const at = p.columns.get('at') as ColumnProfile;
      expect(plain(at.min)).toEqual({ localTimestamp: '2024-01-01T01:00:00' });
      expect(plain(at.max)).toEqual({ localTimestamp: '2024-02-11T16:00:00' });
      expect(at.histogramBounds.length).toBeGreaterThan(2);
      expect(at.histogramBounds.every((c) => c.value?.$case === 'localTimestamp')).toBe(true);

      // id: column_stats and the primary key's cardinality.
      expect(p.columns.get('id')?.distinctCount).toBeGreaterThan(800);

      const password = p.columns.get('password') as ColumnProfile;
      expect(password.masked).toBe(true);
      expect(password.min).toBeUndefined();
      expect(password.max).toBeUndefined();
      expect(password.histogramBounds).toEqual([]);
      expect(password.mostCommon).toEqual([]);
      expect(password.distinctCount).toBeGreaterThan(800);
      expect(p.summary).toMatchObject({ columns: 6, maskedColumns: ['password'] });

      const log = await statements(USER);
      expect(log.some((s) => /mysql\.column_stats/.test(s))).toBe(true);
      expect(overTable(log)).toEqual([]);
      expect(log.some((s) => /secret-/.test(s))).toBe(false);
    });

    it('says noStatistics for a column the server keeps nothing about', async () => {
      const p = await profile({ table: { schema: DB, name: 'plain' } });
      expect(p.columns.get('v')).toMatchObject({ noStatistics: true, mostCommon: [], histogramBounds: [] });
      expect(p.columns.get('v')?.distinctCount).toBeUndefined();
      // The primary key's cardinality: InnoDB's estimate of its distinct values (sampled, so loose).
      expect(p.columns.get('id')).toMatchObject({ noStatistics: false, distinctExact: false });
      expect(p.columns.get('id')?.distinctCount).toBeGreaterThan(0);
      expect(p.header.source).toContain('information_schema.STATISTICS');
    });

    it('explains a missing grant on mysql.column_stats in the source', async () => {
      const p = await profile({}, NOGRANT);
      expect(p.header.source).toContain('GRANT SELECT ON mysql.column_stats');
      // nor mysql.innodb_table_stats: the row count's age is unknown, and the grant is named
      expect(p.header.statisticsAge?.collectedAt).toBeUndefined();
      expect(p.header.statisticsAge?.source).toContain('GRANT SELECT ON mysql.innodb_table_stats');
      expect(p.columns.get('n')?.noStatistics).toBe(true);
      expect(p.columns.get('category')?.noStatistics).toBe(true);
      expect(p.columns.get('id')?.noStatistics).toBe(false);
    });

    it('profiles the chosen columns in the order asked', async () => {
      const p = await profile({ columns: ['maybe', 'id'] });
      expect(p.order).toEqual(['maybe', 'id']);
    });
  });

  describe('SAMPLE', () => {
    it('reads a sample of random primary-key ranges, every statement over the table bounded by LIMIT', async () => {
      await rootQuery(db, 'TRUNCATE TABLE mysql.general_log');
      const p = await profile({ mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 200 });
      expect(p.header.mode).toBe(ProfileMode.PROFILE_MODE_SAMPLE);
      // 100 ranges of 2 rows from random points of the key (a range near the end may hold fewer)
      const sampled = p.header.sampleRows;
      expect(sampled).toBeLessThanOrEqual(200);
      expect(sampled).toBeGreaterThan(150);
      expect(p.header.rowCountExact).toBe(false);
      expect(p.header.sampleMethod).toBe('100 ranges of 2 rows at random points of the primary key id');
      expect(p.header.source).toContain('100 ranges of 2 rows at random points of the primary key id');

      const n = p.columns.get('n') as ColumnProfile;
      expect(n).toMatchObject({ distinctExact: false, nullFraction: 0 }); // over a sample of 1000 rows (issue 16)
      // all 1000 values distinct: the sample's values are seen once, and Duj1 extrapolates them to about the table's rows (never more)
      const [truth] = await rootQuery<{ d: number; rows: number }>(
        db,
        `SELECT COUNT(DISTINCT n) AS d, (SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB}' AND TABLE_NAME = 'facts') AS \`rows\` FROM ${DB}.facts`,
      );
      expect(n.distinctCount).toBeLessThanOrEqual(Number(truth?.rows));
      expect(n.distinctCount).toBeGreaterThanOrEqual(Number(truth?.d) / 1.25);
      expect(Number(plain(n.min)?.integer)).toBeGreaterThanOrEqual(1);
      expect(Number(plain(n.max)?.integer)).toBeLessThanOrEqual(1000);
      // spread over the table, not the first 200 rows
      expect(Number(plain(n.max)?.integer)).toBeGreaterThan(200);
      const bounds = n.histogramBounds.map((c) => Number(plain(c)?.integer));
      expect(bounds).toHaveLength(11);
      expect([...bounds].sort((x, y) => x - y)).toEqual(bounds);

      const category = p.columns.get('category') as ColumnProfile;
      expect(category).toMatchObject({ distinctCount: 4, distinctExact: false, averageLength: 1 });
      expect(category.mostCommon.map((m) => plain(m.value)?.text).sort()).toEqual(['a', 'b', 'c', 'd']);
      expect(category.mostCommon.reduce((sum, m) => sum + m.frequency, 0)).toBeCloseTo(1, 10);
      expect(category.histogramBounds).toEqual([]);

      // 20 % NULL in the table: within 4 standard errors of the sample
      const maybe = p.columns.get('maybe') as ColumnProfile;
      expect(Math.abs((maybe.nullFraction ?? 0) - 0.2)).toBeLessThanOrEqual(4 * Math.sqrt((0.2 * 0.8) / sampled));
      expect(maybe.distinctExact).toBe(false);

      const at = p.columns.get('at') as ColumnProfile;
      expect(String(plain(at.min)?.localTimestamp) >= '2024-01-01T01:00:00').toBe(true);
      expect(String(plain(at.max)?.localTimestamp) <= '2024-02-11T16:00:00').toBe(true);
      expect(at.histogramBounds).toHaveLength(11);

      const password = p.columns.get('password') as ColumnProfile;
      expect(password).toMatchObject({ masked: true, distinctExact: false, nullFraction: 0, mostCommon: [], histogramBounds: [] });
      expect(password.min).toBeUndefined();
      expect(password.max).toBeUndefined();

      const log = await statements(USER);
      const reads = overTable(log);
      expect(reads.length).toBeGreaterThan(6);
      // the bounded count, the key's ends, then statements over the ranges only
      expect(reads.filter((s) => /\bFROM `profdb`\.`facts` LIMIT 200\) s\b/.test(s))).toHaveLength(1);
      expect(reads.filter((s) => /^SELECT MIN\(`id`\) AS lo, MAX\(`id`\) AS hi FROM `profdb`\.`facts`$/.test(s))).toHaveLength(1);
      // ranges that never overlap: each ends before the next one's start
      const ranged = reads.filter((s) => /\(SELECT .* FROM `profdb`\.`facts` WHERE `id` >= \d+ AND `id` < \d+ ORDER BY `id` LIMIT 2\)/.test(s));
      expect(ranged.length).toBe(reads.length - 2);
      for (const statement of ranged) {
        const bounds = [...statement.matchAll(/`id` >= (\d+) AND `id` < (\d+) ORDER BY/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
        expect(bounds.length).toBeGreaterThan(80); // 100 random starts, a few may coincide
        expect(bounds.length).toBeLessThanOrEqual(100);
        expect(bounds.every(([lo, hi], i) => lo < hi && (i === 0 || lo === bounds[i - 1]?.[1]))).toBe(true);
      }
      // a masked column: counts only (and the count of values seen once, for the distinct estimate)
      expect(
        log
          .filter((s) => /`password`/.test(s))
          .every((s) => /^SELECT COUNT\(\*\) AS (n, COUNT\(v\) AS nn, COUNT\(DISTINCT v\) AS d, AVG\(l\) AS al|f1) FROM/.test(s)),
      ).toBe(true);
      expect(log).toContain('START TRANSACTION READ ONLY');
      expect(log.at(-1)).toBe('ROLLBACK');
    });

    it('says so when the sample is the whole table', async () => {
      const p = await profile({ table: { schema: DB, name: 'plain' }, mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 200 });
      expect(p.header).toMatchObject({ sampleRows: 10, rowCount: 10, rowCountExact: true });
    });
  });

  describe('errors', () => {
    it('refuses sample_rows over the maximum', async () => {
      const status = await failure({ mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 100_001 });
      expect(status.grpcCode).toBe(3);
      expect(status.badRequest?.map((v) => v.field)).toEqual(['sample_rows']);
    });
    it('names an unknown column', async () => {
      const status = await failure({ columns: ['id', 'nope'] });
      expect(status.grpcCode).toBe(3);
      expect(status.badRequest?.map((v) => v.field)).toEqual(['columns[1]']);
    });
    it('is NOT_FOUND for a missing table', async () => {
      const status = await failure({ table: { schema: DB, name: 'nope' } });
      expect(status.grpcCode).toBe(5);
      expect(status.errorInfo?.reason).toBe('TABLE_NOT_FOUND');
    });
  });

  /** The client cancels while a SAMPLE statement runs: the statement is killed and the daemon's session closed. */
  it('frees the session when the client cancels', async () => {
    const sessions = async () =>
      Number((await rootQuery<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [NOGRANT]))[0].n);
    const sleeping = async () =>
      Number(
        (
          await rootQuery<{ n: number }>(db, "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'SELECT%slow%'", [NOGRANT])
        )[0].n,
      );
    const call: ClientReadableStream<ProfileTableResponse> = t.dataSources.profileTable(
      request({ table: { schema: DB, name: 'slow' }, mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 10 }, NOGRANT),
      new Metadata(),
    );
    const ended = new Promise<string>((done) => {
      call.on('data', () => undefined);
      call.on('error', (e: { code: number }) => done(`error ${e.code}`));
      call.on('end', () => done('end'));
    });
    expect(await eventually(sleeping, (n) => n === 1, 10_000)).toBe(1);
    call.cancel();
    expect(await ended).toBe('error 1'); // CANCELLED
    expect(await eventually(sessions, (n) => n === 0, 10_000)).toBe(0);
  });
});
