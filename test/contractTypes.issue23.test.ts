/**
 * Types other languages expect, added beside v1's (issue 23, item 5), through the daemon:
 * - binary cells as `Cell.bytes` when a preview (or a profile, for its figures) asks for
 *   BINARY_CELL_ENCODING_BYTES, the very bytes the server holds (PostgreSQL bytea, MariaDB BLOB/VARBINARY/BINARY, compared with the
 *   server's own hex of each value); a request that does not ask keeps getting
 *   `bytes_base64` (what clients written before `bytes` read), and an unknown number is refused;
 * - a google.protobuf.Duration beside every `*_ms` time of a result (validation checks, reports
 *   and summary; discovery progress and summary; preview and profile summaries), the same time.
 * Each server gets a database of its own, dropped after.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BinaryCellEncoding, DataSource, ProfileMode, type Cell, type PreviewTableResponse } from '@sourced/api';
import { toDuration } from '../daemon/src/grpc/mappingCommon';
import { superuserQuery } from './support/pg';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

/** A Duration in milliseconds. */
const msOf = (d: { seconds: number; nanos: number } | undefined) => (d ? d.seconds * 1000 + d.nanos / 1e6 : undefined);

/** Duration and `*_ms` hold the same time: equal to the Duration's nanosecond (a double's error aside). */
function expectSameTime(duration: { seconds: number; nanos: number } | undefined, ms: number, what: string) {
  expect(duration, `${what}: a Duration beside ${ms} ms`).toBeDefined();
  expect(Math.abs((msOf(duration) as number) - ms), `${what}: ${JSON.stringify(duration)} vs ${ms} ms`).toBeLessThanOrEqual(1e-6);
  expect(duration?.nanos).toBeGreaterThanOrEqual(0);
  expect(duration?.nanos).toBeLessThan(1e9);
}

/** The cells of a preview's rows, joined. */
const rowsOf = (events: PreviewTableResponse[]): Cell[][] => events.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows.map((r) => r.cells) : []));

/** A binary cell as lower-case hex, whichever member carries it; null for NULL; the member's name otherwise. */
function hexOf(cell: Cell): string | null {
  const v = cell.value;
  if (v?.$case === 'bytes') return Buffer.from(v.value).toString('hex');
  if (v?.$case === 'bytesBase64') return Buffer.from(v.value, 'base64').toString('hex');
  if (v?.$case === 'null') return null;
  throw new Error(`not a binary cell: ${JSON.stringify(v)}`);
}

describe('google.protobuf.Duration beside *_ms', () => {
  it('converts milliseconds to the nanosecond, absent when there is no figure', () => {
    expect(toDuration(0)).toEqual({ seconds: 0, nanos: 0 });
    expect(toDuration(1500.25)).toEqual({ seconds: 1, nanos: 500_250_000 });
    expect(toDuration(0.000001)).toEqual({ seconds: 0, nanos: 1 });
    // a fraction that rounds up to the next second carries over
    expect(toDuration(1999.9999999)).toEqual({ seconds: 2, nanos: 0 });
    expect(toDuration(-1500.5)).toEqual({ seconds: -1, nanos: -500_500_000 });
    expect(toDuration(undefined)).toBeUndefined();
    expect(toDuration(Number.NaN)).toBeUndefined();
  });
});

describe('PostgreSQL bytea and durations through the daemon', () => {
  const pg = inject('postgres');
  const database = `contract_types_${process.pid}`;
  let db: Client;
  let t: TestDaemon;
  let dataSource: DataSource;
  /** id → hex as the server writes it (encode(b, 'hex')), null for NULL. */
  let expected: [number, string | null][];

  beforeAll(async () => {
    await superuserQuery(pg, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await superuserQuery(pg, `CREATE DATABASE ${database}`);
    db = new Client({ host: pg.host, port: pg.port, user: pg.superuser, password: pg.superuserPassword, database });
    await db.connect();
    await db.query(`CREATE TABLE bin (id integer PRIMARY KEY, b bytea)`);
    await db.query(`INSERT INTO bin VALUES
      (1, '\\x00ff10'::bytea), (2, ''::bytea), (3, NULL),
      (4, (SELECT string_agg(set_byte('\\x00'::bytea, 0, i), ''::bytea ORDER BY i) FROM generate_series(0, 255) i))`);
    await db.query(`INSERT INTO bin VALUES (5, decode($1, 'hex')), (6, decode($2, 'hex'))`, [
      randomBytes(300).toString('hex'),
      randomBytes(4096).toString('hex'),
    ]);
    await db.query(`CREATE TABLE mcv (id serial PRIMARY KEY, b bytea)`);
    await db.query(
      `INSERT INTO mcv (b) SELECT CASE WHEN i % 6 < 3 THEN '\\x00ff'::bytea WHEN i % 6 < 5 THEN '\\xdeadbeef'::bytea ELSE ''::bytea END FROM generate_series(1, 60) i`,
    );
    expected = (await db.query<{ id: number; hex: string | null }>(`SELECT id, encode(b, 'hex') AS hex FROM bin ORDER BY id`)).rows.map((r) => [r.id, r.hex]);
    dataSource = DataSource.fromPartial({
      type: 'postgres',
      primary: { host: pg.host, port: pg.port, database },
      credentials: { username: pg.superuser, password: { source: { $case: 'inlineValue', value: pg.superuserPassword } } },
    });
    t = await startTestDaemon();
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    await db?.end();
    await superuserQuery(pg, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }, 60_000);

  const preview = (binaryCells?: BinaryCellEncoding) =>
    t.preview({ dataSource, table: { schema: 'public', name: 'bin' }, columns: ['id', 'b'], ...(binaryCells === undefined ? {} : { binaryCells }) });

  it('sends bytea as Cell.bytes, the bytes the server holds, when asked', async () => {
    const rows = rowsOf(await preview(BinaryCellEncoding.BINARY_CELL_ENCODING_BYTES));
    expect(rows.map((r) => [Number(r[0].value?.value), hexOf(r[1])])).toEqual(expected);
    expect(expected.length).toBeGreaterThanOrEqual(5);
    // every non-null value came as `bytes` (the empty one too), none as base64 text
    expect(rows.map((r) => r[1].value?.$case)).toEqual(expected.map(([, hex]) => (hex === null ? 'null' : 'bytes')));
  });

  it('keeps bytes_base64 for a request that does not ask (and for BASE64), the same values', async () => {
    for (const events of [await preview(), await preview(BinaryCellEncoding.BINARY_CELL_ENCODING_BASE64)]) {
      const rows = rowsOf(events);
      expect(rows.map((r) => r[1].value?.$case)).toEqual(expected.map(([, hex]) => (hex === null ? 'null' : 'bytesBase64')));
      expect(rows.map((r) => [Number(r[0].value?.value), hexOf(r[1])])).toEqual(expected);
    }
  });

  it('refuses a binary_cells number outside the enum, naming the field and the values', async () => {
    const status = richStatusOf(await expectFailure(preview(9 as BinaryCellEncoding)));
    expect(status.grpcCode).toBe(3);
    expect(status.errorInfo?.reason).toBe('INVALID_ENUM_VALUE');
    expect(status.badRequest).toEqual([
      {
        field: 'binary_cells',
        description:
          '9 is not a value of sourced.v1.BinaryCellEncoding; send one of BINARY_CELL_ENCODING_UNSPECIFIED (0), BINARY_CELL_ENCODING_BASE64 (1), BINARY_CELL_ENCODING_BYTES (2)',
      },
    ]);
  });

  it('sends binary profile figures as Cell.bytes when asked, as bytes_base64 by default', async () => {
    const truth = (await db.query<{ hex: string; n: number }>(`SELECT encode(b, 'hex') AS hex, count(*)::int AS n FROM mcv GROUP BY 1 ORDER BY 2 DESC, 1`))
      .rows;
    const total = truth.reduce((sum, r) => sum + r.n, 0);
    const figures = async (binaryCells?: BinaryCellEncoding) => {
      const events = await t.profile({
        dataSource,
        table: { schema: 'public', name: 'mcv' },
        columns: ['b'],
        mode: ProfileMode.PROFILE_MODE_SAMPLE,
        sampleRows: 1000,
        ...(binaryCells === undefined ? {} : { binaryCells }),
      });
      const column = events.find((e) => e.event?.$case === 'column')?.event;
      if (column?.$case !== 'column') throw new Error('no column event');
      return column.value.mostCommon;
    };
    const asked = await figures(BinaryCellEncoding.BINARY_CELL_ENCODING_BYTES);
    // every row sampled (the table is smaller than the sample): the most common values exactly
    expect(asked.map((m) => [m.value ? hexOf(m.value) : undefined, m.frequency])).toEqual(truth.map((r) => [r.hex, r.n / total]));
    expect(asked.map((m) => m.value?.value?.$case)).toEqual(truth.map(() => 'bytes'));
    const plain = await figures();
    expect(plain.map((m) => m.value?.value?.$case)).toEqual(truth.map(() => 'bytesBase64'));
    expect(plain.map((m) => (m.value ? hexOf(m.value) : undefined))).toEqual(truth.map((r) => r.hex));
  });

  it('gives the preview and profile summaries a Duration equal to duration_ms', async () => {
    const previewSummary = (await preview()).at(-1)?.event;
    if (previewSummary?.$case !== 'summary') throw new Error('no preview summary');
    expectSameTime(previewSummary.value.duration, previewSummary.value.durationMs, 'preview summary');
    const profileSummary = (await t.profile({ dataSource, table: { schema: 'public', name: 'bin' } })).at(-1)?.event;
    if (profileSummary?.$case !== 'summary') throw new Error('no profile summary');
    expectSameTime(profileSummary.value.duration, profileSummary.value.durationMs, 'profile summary');
  });

  it('gives every validation check, report and summary a Duration equal to duration_ms', async () => {
    const events = await t.validate({ dataSource });
    let checked = 0;
    for (const e of events) {
      const ev = e.event;
      if (ev?.$case === 'checkFinished' || ev?.$case === 'report' || ev?.$case === 'summary') {
        expectSameTime(ev.value.duration, ev.value.durationMs, `${ev.$case} ${e.sequence}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });

  it('gives discovery progress an elapsed and the summary a duration equal to their *_ms', async () => {
    const events = await t.discover({ dataSource, batchSize: 1 });
    const batches = events.flatMap((e) => (e.event?.$case === 'batch' ? [e.event.value] : []));
    expect(batches.length).toBeGreaterThanOrEqual(1);
    for (const b of batches) expectSameTime(b.progress?.elapsed, b.progress?.elapsedMs ?? Number.NaN, `batch ${b.index}`);
    const summary = events.at(-1)?.event;
    if (summary?.$case !== 'summary') throw new Error('no discovery summary');
    expectSameTime(summary.value.duration, summary.value.durationMs, 'discovery summary');
  });
});

describe('MariaDB BLOB through the daemon', () => {
  const server = inject('mariadb');
  const db = `contract_types_${randomBytes(4).toString('hex')}`;
  let root: Connection;
  let t: TestDaemon;
  let dataSource: DataSource;

  beforeAll(async () => {
    root = await createConnection({ host: server.host, port: server.port, user: server.superuser, password: server.superuserPassword });
    await root.query(`CREATE DATABASE ${db}`);
    await root.query(`CREATE TABLE ${db}.bin (id INT PRIMARY KEY, bl BLOB, vb VARBINARY(16), fb BINARY(4))`);
    await root.query(`INSERT INTO ${db}.bin VALUES (1, X'00FF10', X'', X'01'), (2, NULL, X'7F80', NULL), (3, ?, ?, X'DEADBEEF')`, [
      randomBytes(1000),
      randomBytes(16),
    ]);
    dataSource = DataSource.fromPartial({
      type: 'mysql',
      primary: { host: server.host, port: server.port, database: db },
      credentials: { username: server.superuser, password: { source: { $case: 'inlineValue', value: server.superuserPassword } } },
    });
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mysql'] });
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    await root?.query(`DROP DATABASE IF EXISTS ${db}`);
    await root?.end();
  });

  it('sends BLOB, VARBINARY and BINARY as Cell.bytes equal to HEX() of each value, and base64 by default', async () => {
    const [rows] = await root.query<RowDataPacket[]>(`SELECT id, LOWER(HEX(bl)) AS bl, LOWER(HEX(vb)) AS vb, LOWER(HEX(fb)) AS fb FROM ${db}.bin ORDER BY id`);
    // HEX(NULL) is NULL
    const expected = rows.map((r) => [Number(r.id), r.bl as string | null, r.vb as string | null, r.fb as string | null]);
    const table = { schema: db, name: 'bin' };
    const columns = ['id', 'bl', 'vb', 'fb'];
    const asked = rowsOf(await t.preview({ dataSource, table, columns, binaryCells: BinaryCellEncoding.BINARY_CELL_ENCODING_BYTES }));
    expect(asked.map((r) => [Number(r[0].value?.value), hexOf(r[1]), hexOf(r[2]), hexOf(r[3])])).toEqual(expected);
    expect(new Set(asked.flatMap((r) => r.slice(1).map((c) => c.value?.$case)))).toEqual(new Set(['bytes', 'null']));
    const plain = rowsOf(await t.preview({ dataSource, table, columns }));
    expect(plain.map((r) => [Number(r[0].value?.value), hexOf(r[1]), hexOf(r[2]), hexOf(r[3])])).toEqual(expected);
    expect(new Set(plain.flatMap((r) => r.slice(1).map((c) => c.value?.$case)))).toEqual(new Set(['bytesBase64', 'null']));
  });
});
