/**
 * PreviewTable on PostgreSQL, end to end through gRPC, against a PostgreSQL of this file's own
 * (statement logging on, so the test can see what the daemon selected, and pg_stat_activity
 * holds no other suite's sessions): every type family rendered exactly, the statements that
 * masking, a view and identifier quoting make, and a HYBRID failover in the middle of the read.
 * Masking's cells, chosen columns, bad columns, tables not found, the row limit and
 * cancellation are the cases every connector shares (test/connectors.preview.test.ts).
 *
 * Why one file (~560 lines): every case reads the one server this file starts with statement logging; most of its length
 * is the type-family fixture and its oracles.
 */
import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PREVIEW_SETTINGS } from '../core/src';
import { DataSource } from '@sourced/api';
import type { PreviewTableRequest, PreviewTableResponse } from '@sourced/api';
import { DiscoveryStrategy } from '@sourced/api';
import type { Cell } from '@sourced/api';
import { EndpointRole } from '@sourced/api';
import { previewSelectSql, quoteIdent } from '../plugins/postgres/src/preview';
import { renderCell } from '../plugins/postgres/src/rendering';
import { startLatencyProxy, type LatencyProxy } from './harness/latencyProxy';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { hybridSource } from './support/hybrid';
import { statementLog } from './support/pgStatementLog';
import { eventually } from './support/pg';
import { registerSecret } from './support/secretScan';
import { collect, expectFailure, startTestDaemon, type TestDaemon } from './support/testDaemon';

const MAX_ROWS = 200;

const FIXTURE = (role: string) => `
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE SCHEMA preview_test;
CREATE TYPE preview_test.mood AS ENUM ('sad', 'happy');
CREATE TYPE preview_test.pair AS (label text, amount numeric);
CREATE DOMAIN preview_test.amount AS numeric(12,2);
CREATE TABLE preview_test.types (
  id int PRIMARY KEY,
  i2 smallint, i8 bigint, num numeric, f4 real, f8 double precision, ok boolean,
  t text, vc varchar(20), ch char(4), ci citext,
  tstz timestamptz, ts timestamp, d date, tm time, tmtz timetz,
  raw bytea, js json, jsb jsonb, ints int[], texts text[], pair preview_test.pair, rng int4range,
  u uuid, iv interval, ip inet, mood preview_test.mood, hs hstore, amt preview_test.amount, pt point
);
-- inserted out of key order: the preview sorts by the primary key
INSERT INTO preview_test.types VALUES
 (3, NULL, NULL, 'Infinity', NULL, '-Infinity', NULL, NULL, NULL, NULL, NULL,
     NULL, '-infinity', '0044-03-15 BC', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (1, -32768, -9223372036854775808, 1234567890123456789012345678901234.567890, 0.1, 0.1, true,
     E'it''s "quoted"\\nnew line\\ttab \\\\ ünïcødé 🐘', 'varchar', 'ab', 'MiXeD',
     '2024-03-01 10:30:00.123456+01', '2024-03-01 09:30:00.123456', '2024-03-01', '09:30:00.5', '09:30:00+02',
     '\\x00ff10', '{"a": [1, 2.50, {"b": null}]}', '{"a": [1, 2.50, {"b": null}]}', '{1,NULL,3}', '{"a b","c\\"d",NULL}',
     ROW('x', 1.50), '[1,10)',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 year 2 mons 3 days 04:05:06.789', '192.168.0.1/24', 'happy', 'a=>1, b=>NULL', 12.3, '(1,2)'),
 (2, 32767, 9223372036854775807, 'NaN', 'Infinity', 1e308, false,
     '', '', '', '',
     'infinity', '2024-12-31 23:59:59', '9999-12-31', '23:59:59.999999', '00:00:00-05:30',
     '\\x', '[]', '{}', '{}', '{}', ROW(NULL, NULL), 'empty',
     '00000000-0000-0000-0000-000000000000', '-00:00:01', '::1', 'sad', '', NULL, '(-1.5,0)'),
 (4, NULL, NULL, NULL, 'NaN', 'NaN', NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE preview_test.users (id int PRIMARY KEY, email text, password_hash text, ssn text);
INSERT INTO preview_test.users VALUES (1, 'ann@example.com', 'scrypt$never-read-this-hash', '078-05-1120');

CREATE TABLE preview_test.many (id int PRIMARY KEY, label text);
INSERT INTO preview_test.many SELECT g, 'row ' || g FROM generate_series(60, 1, -1) g;

CREATE TABLE preview_test."we""ird name" (id int PRIMARY KEY, "Col ""Q"" x" text);
INSERT INTO preview_test."we""ird name" VALUES (1, 'quoted');

CREATE TABLE preview_test.y (id int);
CREATE VIEW preview_test.many_view AS SELECT label FROM preview_test.many WHERE id <= 3;

-- A view whose rows wait until the gate is opened: a read the test can catch in the middle.
CREATE TABLE preview_test.gate (open boolean NOT NULL);
INSERT INTO preview_test.gate VALUES (true);
CREATE FUNCTION preview_test.wait_for_gate() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  WHILE NOT (SELECT open FROM preview_test.gate) LOOP PERFORM pg_sleep(0.05); END LOOP;
  RETURN true;
END $$;
CREATE VIEW preview_test.gated AS SELECT g AS id FROM generate_series(1, 3) g WHERE preview_test.wait_for_gate();

CREATE SCHEMA preview_hidden;
CREATE TABLE preview_hidden.secret (id int);

GRANT USAGE ON SCHEMA preview_test TO ${role};
GRANT SELECT ON ALL TABLES IN SCHEMA preview_test TO ${role};
`;

type Ev = PreviewTableResponse['event'];
const header = (events: PreviewTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'header' ? [e.event.value] : []))[0];
const rows = (events: PreviewTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows.map((r) => r.cells) : []));
const summary = (events: PreviewTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'summary' ? [e.event.value] : []))[0];
const kinds = (events: PreviewTableResponse[]) => events.map((e) => e.event?.$case);

// Cells as the generated client has them.
const NULL: Cell = { value: { $case: 'null', value: 0 } };
const MASKED: Cell = { value: { $case: 'masked', value: true } };
const integer = (v: string): Cell => ({ value: { $case: 'integer', value: v } });
const decimal = (v: string): Cell => ({ value: { $case: 'decimal', value: v } });
const float = (v: number): Cell => ({ value: { $case: 'float', value: v } });
const boolean = (v: boolean): Cell => ({ value: { $case: 'boolean', value: v } });
const text = (v: string): Cell => ({ value: { $case: 'text', value: v } });
const timestamp = (v: string): Cell => ({ value: { $case: 'timestamp', value: v } });
const local = (v: string): Cell => ({ value: { $case: 'localTimestamp', value: v } });
const date = (v: string): Cell => ({ value: { $case: 'date', value: v } });
const time = (v: string): Cell => ({ value: { $case: 'time', value: v } });
const bytes = (v: string): Cell => ({ value: { $case: 'bytesBase64', value: v } });
const json = (v: string): Cell => ({ value: { $case: 'json', value: v } });
const other = (v: string): Cell => ({ value: { $case: 'other', value: v } });

describe('PreviewTable on PostgreSQL', () => {
  let pg: PostgresInstance;
  let t: TestDaemon;
  let readStatements: () => Promise<string[]>;

  const source = (at: { host: string; port: number } = pg) =>
    DataSource.fromPartial({
      type: 'postgres',
      primary: { host: at.host, port: at.port, database: pg.database },
      credentials: { username: pg.user, password: { source: { $case: 'inlineValue', value: pg.password } } },
    });

  const request = (name: string, over: Partial<PreviewTableRequest> = {}): PreviewTableRequest => ({
    dataSource: source(),
    table: { schema: 'preview_test', name },
    columns: [],
    limit: 0,
    strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED,
    ...over,
  });

  const previewStream = (req: PreviewTableRequest): ClientReadableStream<PreviewTableResponse> =>
    t.dataSources.previewTable(req, new Metadata(), { deadline: Date.now() + 25_000 });
  const preview = (req: PreviewTableRequest) => collect(previewStream(req));

  /** The daemon's statements (application_name sourced) logged since the last call, one entry per statement with its continuation lines. */
  const daemonStatements = (): Promise<string[]> => readStatements();

  /** The daemon's sessions on the server. */
  const daemonSessions = async () => (await pg.psql(`SELECT pid FROM pg_stat_activity WHERE application_name = 'sourced'`)).split('\n').filter(Boolean);
  /** Daemon sessions reading the gated view, waiting at the gate. */
  const waitingAtGate = async () =>
    (await pg.psql(`SELECT pid FROM pg_stat_activity WHERE application_name = 'sourced' AND state = 'active' AND query LIKE '%"gated"%'`))
      .split('\n')
      .filter(Boolean);
  const setGate = (open: boolean) => pg.psql(`UPDATE preview_test.gate SET open = ${open}`);

  beforeAll(async () => {
    pg = await startPostgres({ extraConf: { log_statement: 'all', log_line_prefix: '%m [%p] %a ' } });
    readStatements = statementLog(pg.logFile);
    registerSecret('preview test password', pg.password);
    await pg.psql(FIXTURE(pg.user));
    t = await startTestDaemon({
      plugins: ['@sourced/plugin-postgres'],
      preview: { ...DEFAULT_PREVIEW_SETTINGS, maxRows: MAX_ROWS, maskColumns: [...DEFAULT_PREVIEW_SETTINGS.maskColumns], maskTypes: [] },
    });
  }, 120_000);

  afterEach(async () => {
    await setGate(true);
  });

  afterAll(async () => {
    await t?.stop();
    await pg?.destroy();
  });

  it('quotes identifiers like quote_ident and builds the select from catalog names', () => {
    expect(quoteIdent('plain')).toBe('"plain"');
    expect(quoteIdent('we"ird name')).toBe('"we""ird name"');
    expect(quoteIdent('x; drop table y')).toBe('"x; drop table y"');
    expect(quoteIdent('""')).toBe('""""""');
    expect(() => quoteIdent('a\0b')).toThrow();
    expect(
      previewSelectSql(
        { schema: 's"1', name: 'T' },
        [
          { name: 'a', toJson: false },
          { name: 'b"', toJson: true },
        ],
        ['k', 'K2'],
      ),
    ).toBe('SELECT "a", to_jsonb("b""")::text FROM "s""1"."T" ORDER BY "k", "K2" LIMIT $1');
    expect(previewSelectSql({ schema: 's', name: 't' }, [], [])).toBe('SELECT  FROM "s"."t" LIMIT $1');
    // text forms the rendering meets outside the fixture
    expect(renderCell('2024-03-01 09:30:00+05:30', 'timestamptz')).toEqual({ kind: 'timestamp', value: '2024-03-01T09:30:00+05:30' });
    expect(renderCell('10000-01-01 00:00:00+00', 'timestamptz')).toEqual({ kind: 'timestamp', value: '+10000-01-01T00:00:00+00:00' });
    expect(renderCell('0001-01-01 BC', 'date')).toEqual({ kind: 'date', value: '0000-01-01' });
    expect(renderCell('(,"a \\"b\\\\"]', 'range:text')).toEqual({
      kind: 'json',
      value: '{"empty":false,"lower":null,"upper":"a \\"b\\\\","lower_inclusive":false,"upper_inclusive":true}',
    });
    expect(renderCell('12:00:00+05:30', 'time')).toEqual({ kind: 'time', value: '12:00:00+05:30' });
  });

  it('renders every type family exactly, in primary key order', async () => {
    const events = await preview(request('types'));
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
    expect(kinds(events)).toEqual(['header', 'rows', 'summary']);
    const h = header(events);
    expect(h?.table).toEqual({ schema: 'preview_test', name: 'types' });
    expect(h?.endpoint).toBe(EndpointRole.ENDPOINT_ROLE_PRIMARY);
    expect(h?.columns.map((c) => [c.name, c.dataType, c.masked])).toEqual([
      ['id', 'integer', false],
      ['i2', 'smallint', false],
      ['i8', 'bigint', false],
      ['num', 'numeric', false],
      ['f4', 'real', false],
      ['f8', 'double precision', false],
      ['ok', 'boolean', false],
      ['t', 'text', false],
      ['vc', 'character varying(20)', false],
      ['ch', 'character(4)', false],
      ['ci', 'public.citext', false],
      ['tstz', 'timestamp with time zone', false],
      ['ts', 'timestamp without time zone', false],
      ['d', 'date', false],
      ['tm', 'time without time zone', false],
      ['tmtz', 'time with time zone', false],
      ['raw', 'bytea', false],
      ['js', 'json', false],
      ['jsb', 'jsonb', false],
      ['ints', 'integer[]', false],
      ['texts', 'text[]', false],
      ['pair', 'preview_test.pair', false],
      ['rng', 'int4range', false],
      ['u', 'uuid', false],
      ['iv', 'interval', false],
      ['ip', 'inet', false],
      ['mood', 'preview_test.mood', false],
      ['hs', 'public.hstore', false],
      ['amt', 'preview_test.amount', false],
      ['pt', 'point', false],
    ]);
    const [r1, r2, r3, r4] = rows(events);
    expect(rows(events)).toHaveLength(4);
    expect(r1).toEqual([
      integer('1'),
      integer('-32768'),
      integer('-9223372036854775808'),
      decimal('1234567890123456789012345678901234.567890'),
      float(Math.fround(0.1)),
      float(0.1),
      boolean(true),
      text('it\'s "quoted"\nnew line\ttab \\ ünïcødé 🐘'),
      text('varchar'),
      text('ab  '),
      text('MiXeD'),
      timestamp('2024-03-01T09:30:00.123456+00:00'),
      local('2024-03-01T09:30:00.123456'),
      date('2024-03-01'),
      time('09:30:00.5'),
      time('09:30:00+02:00'),
      bytes(Buffer.from([0x00, 0xff, 0x10]).toString('base64')),
      json('{"a": [1, 2.50, {"b": null}]}'),
      json('{"a": [1, 2.50, {"b": null}]}'),
      json('[1, null, 3]'),
      json('["a b", "c\\"d", null]'),
      json('{"label": "x", "amount": 1.50}'),
      json('{"empty":false,"lower":"1","upper":"10","lower_inclusive":true,"upper_inclusive":false}'),
      other('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
      other('1 year 2 mons 3 days 04:05:06.789'),
      other('192.168.0.1/24'),
      other('happy'),
      json('{"a": "1", "b": null}'),
      decimal('12.30'),
      other('(1,2)'),
    ]);
    expect(r2).toEqual([
      integer('2'),
      integer('32767'),
      integer('9223372036854775807'),
      decimal('NaN'),
      float(Infinity),
      float(1e308),
      boolean(false),
      text(''),
      text(''),
      text('    '),
      text(''),
      timestamp('infinity'),
      local('2024-12-31T23:59:59'),
      date('9999-12-31'),
      time('23:59:59.999999'),
      time('00:00:00-05:30'),
      bytes(''),
      json('[]'),
      json('{}'),
      json('[]'),
      json('[]'),
      json('{"label": null, "amount": null}'),
      json('{"empty":true}'),
      other('00000000-0000-0000-0000-000000000000'),
      other('-00:00:01'),
      other('::1'),
      other('sad'),
      json('{}'),
      NULL,
      other('(-1.5,0)'),
    ]);
    expect(r3?.slice(0, 14)).toEqual([
      integer('3'),
      NULL,
      NULL,
      decimal('Infinity'),
      NULL,
      float(-Infinity),
      NULL,
      NULL,
      NULL,
      NULL,
      NULL,
      NULL,
      local('-infinity'),
      date('-0043-03-15'),
    ]);
    expect(r3?.slice(14).every((c) => c.value?.$case === 'null')).toBe(true);
    expect(r4?.[4]).toEqual(float(NaN));
    expect(r4?.[5]).toEqual(float(NaN));
    expect(summary(events)).toMatchObject({ rows: 4, truncated: false, limit: 50, maskedColumns: [] });
  });

  /**
   * One column keeps one kind (issue 16, item 7): instants, timestamps and dates that RFC 3339
   * cannot write (±infinity, BC, years past 9999) stay in their column's kind with the
   * documented encoding, and ranges and multiranges are JSON objects, as the proto says. The
   * expected values are built from what PostgreSQL answers about each value (isfinite,
   * extract(year), to_char, lower/upper/lower_inc/upper_inc/isempty, unnest), not from the
   * connector's text.
   */
  it('keeps one kind per column: ±infinity and BC/far years in their kind, ranges and multiranges as JSON', async () => {
    await pg.psql(`
CREATE TYPE preview_test.textrange AS RANGE (subtype = text);
CREATE TABLE preview_test.special (
  id int PRIMARY KEY, tstz timestamptz, ts timestamp, d date,
  r4 int4range, r8 int8range, rn numrange, rtz tstzrange, rd daterange, rt preview_test.textrange, mr int4multirange
);
INSERT INTO preview_test.special VALUES
 (1, '2024-03-01 09:30:00.5+00', '2024-03-01 09:30:00', '2024-03-01',
     '[1,10)', '[-9223372036854775808,9223372036854775807)', '(1.50,2.25]', '[2024-01-01 00:00:00+00,infinity)', '[0044-03-15 BC,2024-01-01)',
     '["a b","c""d\\\\e,)")', '{[1,3),[5,7)}'),
 (2, 'infinity', 'infinity', 'infinity', 'empty', '(,5]', '(,)', 'empty', '[-infinity,infinity]', '(,"")', '{}'),
 (3, '-infinity', '-infinity', '-infinity', '(,)', NULL, '[0,0]', '(,"2024-06-01 12:00:00.25+00"]', '[,)', NULL, '{(,1),[7,)}'),
 (4, '0044-03-15 10:00:00.5+00 BC', '0001-01-01 00:00:00 BC', '0044-03-15 BC', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, '10000-01-01 00:00:00+00', '294276-12-31 23:59:59', '5874897-12-31', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
GRANT SELECT ON preview_test.special TO ${pg.user};`);
    const events = await preview(request('special'));
    const got = rows(events);
    const ids = got.map((r) => (r[0]?.value?.$case === 'integer' ? r[0].value.value : '?'));
    expect(ids).toEqual(['1', '2', '3', '4', '5', '6']);
    const names = header(events)?.columns.map((c) => c.name) ?? [];
    const column = (name: string) => got.map((r) => r[names.indexOf(name)]);

    // PostgreSQL's own answers, one line per (row, column) value.
    const ask = async (sql: string) =>
      (await pg.psql(`SET TimeZone = 'UTC'; ${sql}`))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('|'));
    /** The ISO 8601 year of PostgreSQL's extract(year) (which has no year 0: 1 BC is -1). */
    const isoYear = (pgYear: number) => {
      const y = pgYear < 0 ? pgYear + 1 : pgYear;
      const digits = String(Math.abs(y)).padStart(4, '0');
      return y < 0 ? `-${digits}` : y > 9999 ? `+${digits}` : digits;
    };
    /** "09:30:00.500000" → "09:30:00.5"; "09:30:00.000000" → "09:30:00". */
    const trimFraction = (t: string) => t.replace(/\.(\d*?)0*$/, (_m, f: string) => (f ? `.${f}` : ''));
    const expectedTime = (isFinite: string, textValue: string, year: string, rest: string, zone: string) =>
      isFinite === 't' ? `${isoYear(Number(year))}${rest.replace(/T(.*)$/, (_m, t: string) => `T${trimFraction(t)}`)}${zone}` : textValue;
    /** `-MM-DD` of a date (to_char would cast it to a timestamp, whose range is smaller), or `-MM-DDTHH:MI:SS.US` of a timestamp. */
    const rest = (v: string, isDate: boolean) =>
      isDate
        ? `CASE WHEN isfinite(${v}) THEN '-' || lpad(extract(month FROM ${v})::text, 2, '0') || '-' || lpad(extract(day FROM ${v})::text, 2, '0') END`
        : `to_char(${v}, '-MM-DD"T"HH24:MI:SS.US')`;
    const instants = async (col: string, zone: string, isDate = false) =>
      (
        await ask(
          `SELECT id, ${col} IS NULL, isfinite(${col}), ${col}::text, CASE WHEN isfinite(${col}) THEN extract(year FROM ${col})::int END, ${rest(col, isDate)} FROM preview_test.special ORDER BY id`,
        )
      ).map(([, isNull, fin, txt, year, monthDay]) => (isNull === 't' ? null : expectedTime(fin, txt, year, monthDay, zone)));
    const tstz = await instants('tstz', '+00:00');
    const ts = await instants('ts', '');
    const d = await instants('d', '', true);
    const cellsOf = (kind: string, values: (string | null)[]) => values.map((v) => (v === null ? NULL : ({ value: { $case: kind, value: v } } as Cell)));
    expect(column('tstz')).toEqual(cellsOf('timestamp', tstz));
    expect(column('ts')).toEqual(cellsOf('localTimestamp', ts));
    expect(column('d')).toEqual(cellsOf('date', d));
    // spot checks of the encoding itself
    expect(tstz.slice(1, 5)).toEqual(['infinity', '-infinity', '-0043-03-15T10:00:00.5+00:00', '+10000-01-01T00:00:00+00:00']);
    expect(d[3]).toBe('-0043-03-15');
    expect(ts[3]).toBe('0000-01-01T00:00:00');

    // Ranges: each bound is the text its element's cell would hold.
    const bound = async (expr: string, kind: 'integer' | 'decimal' | 'tstz' | 'date' | 'text'): Promise<string | null> => {
      const [[isNull, fin, txt, year, monthDay]] = await ask(
        kind === 'tstz' || kind === 'date'
          ? `SELECT v IS NULL, isfinite(v), v::text, CASE WHEN isfinite(v) THEN extract(year FROM v)::int END, ${rest('v', kind === 'date')} FROM (SELECT ${expr} AS v) s`
          : `SELECT v IS NULL, true, v::text, 0, '' FROM (SELECT ${expr} AS v) s`,
      );
      if (isNull === 't') return null;
      return kind === 'tstz' || kind === 'date' ? expectedTime(fin, txt, year, monthDay, kind === 'tstz' ? '+00:00' : '') : txt;
    };
    const rangesOf = async (col: string, kind: 'integer' | 'decimal' | 'tstz' | 'date' | 'text') => {
      const out: (string | null)[] = [];
      for (const [id, isNull, empty] of await ask(`SELECT id, ${col} IS NULL, isempty(${col}) FROM preview_test.special ORDER BY id`)) {
        if (isNull === 't') out.push(null);
        else if (empty === 't') out.push(JSON.stringify({ empty: true }));
        else {
          const at = (fn: string) => `(SELECT ${fn}(${col}) FROM preview_test.special WHERE id = ${id})`;
          const [[li, ui]] = await ask(`SELECT ${at('lower_inc')}, ${at('upper_inc')}`);
          out.push(
            JSON.stringify({
              empty: false,
              lower: await bound(at('lower'), kind),
              upper: await bound(at('upper'), kind),
              lower_inclusive: li === 't',
              upper_inclusive: ui === 't',
            }),
          );
        }
      }
      return out;
    };
    for (const [col, kind] of [
      ['r4', 'integer'],
      ['r8', 'integer'],
      ['rn', 'decimal'],
      ['rtz', 'tstz'],
      ['rd', 'date'],
      ['rt', 'text'],
    ] as const) {
      const expected = await rangesOf(col, kind);
      expect(column(col), col).toEqual(cellsOf('json', expected));
    }
    // Multiranges: an array of ranges, in PostgreSQL's order.
    const multi: (string | null)[] = [];
    for (const [id, isNull] of await ask(`SELECT id, mr IS NULL FROM preview_test.special ORDER BY id`)) {
      if (isNull === 't') {
        multi.push(null);
        continue;
      }
      const parts = await ask(
        `SELECT lower(r)::text, upper(r)::text, lower_inc(r), upper_inc(r) FROM preview_test.special, unnest(mr) WITH ORDINALITY AS u(r, n) WHERE id = ${id} ORDER BY n`,
      );
      multi.push(
        JSON.stringify(
          parts.map(([lo, up, li, ui]) => ({
            empty: false,
            lower: lo === '' ? null : lo,
            upper: up === '' ? null : up,
            lower_inclusive: li === 't',
            upper_inclusive: ui === 't',
          })),
        ),
      );
    }
    expect(column('mr')).toEqual(cellsOf('json', multi));
    expect(multi[0]).toBe(
      '[{"empty":false,"lower":"1","upper":"3","lower_inclusive":true,"upper_inclusive":false},{"empty":false,"lower":"5","upper":"7","lower_inclusive":true,"upper_inclusive":false}]',
    );
  }, 120_000);

  /** The masked columns' values never reach the daemon: the SELECT names only the others, in a read-only transaction (the shared cases in test/shared/preview.behaviour.ts check the cells). */
  it('never selects a masked column, and reads in a read-only transaction', async () => {
    await daemonStatements();
    const events = await preview(request('users'));
    expect(summary(events)).toMatchObject({ rows: 1, maskedColumns: ['password_hash', 'ssn'] });
    expect(JSON.stringify(events)).not.toContain('never-read-this-hash');
    expect(JSON.stringify(events)).not.toContain('078-05-1120');

    const statements = await daemonStatements();
    const selects = statements.filter((s) => s.includes('FROM "preview_test"."users"'));
    expect(selects).toEqual([expect.stringMatching(/SELECT "id", "email" FROM "preview_test"\."users" ORDER BY "id" LIMIT \$1$/)]);
    expect(statements.filter((s) => /password_hash|ssn/.test(s))).toEqual([]);
    // read-only: the select ran inside BEGIN READ ONLY ... COMMIT
    expect(statements.some((s) => s.includes('BEGIN READ ONLY'))).toBe(true);
  });

  it('selects no column when every column asked for is masked', async () => {
    await daemonStatements();
    const events = await preview(request('users', { columns: ['ssn'] }));
    expect(rows(events)).toEqual([[MASKED]]);
    const selects = (await daemonStatements()).filter((s) => s.includes('FROM "preview_test"."users"'));
    expect(selects).toEqual([expect.stringMatching(/SELECT {2}FROM "preview_test"\."users" ORDER BY "id" LIMIT \$1$/)]);
  });

  it('previews a view (no primary key: no order asked)', async () => {
    const events = await preview(request('many_view'));
    expect(
      rows(events)
        .map((r) => r[0])
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual([text('row 1'), text('row 2'), text('row 3')]);
  });

  it('quotes a table and column name holding a double quote and a space; a name with SQL in it is just not found', async () => {
    await daemonStatements();
    const events = await preview(request('we"ird name'));
    expect(header(events)?.columns.map((c) => c.name)).toEqual(['id', 'Col "Q" x']);
    expect(rows(events)).toEqual([[integer('1'), text('quoted')]]);
    const selects = (await daemonStatements()).filter((s) => s.includes('SELECT "id"'));
    expect(selects).toEqual([expect.stringMatching(/SELECT "id", "Col ""Q"" x" FROM "preview_test"\."we""ird name" ORDER BY "id" LIMIT \$1$/)]);

    for (const name of ['x; drop table y', 'y; DROP TABLE preview_test.y; --', 'types" ; DROP TABLE preview_test.y; --']) {
      const error = await expectFailure(preview(request(name)));
      expect(error.code).toBe(5);
    }
    const error = await expectFailure(preview(request('types', { columns: ['id; DROP TABLE preview_test.y'] })));
    expect(error.code).toBe(3);
    expect(await pg.psql(`SELECT to_regclass('preview_test.y') IS NOT NULL`)).toBe('t\n');
    // nothing the daemon ran names the injected text outside a bind parameter
    expect((await daemonStatements()).filter((s) => /DROP TABLE/i.test(s) && !s.startsWith('parameters:'))).toEqual([]);
  });

  describe('HYBRID', () => {
    let proxy: LatencyProxy | undefined;
    afterEach(async () => {
      await proxy?.close();
      proxy = undefined;
    });

    it('fails over to the secondary when the primary connection drops in the middle of the read', async () => {
      proxy = await startLatencyProxy(pg);
      const facts = { user: pg.user, password: pg.password, database: pg.database, host: pg.host };
      const dataSource = hybridSource('postgres', { ...facts, port: proxy.port }, { ...facts, port: pg.port });
      await setGate(false);
      const call = preview(request('gated', { dataSource }));
      call.catch(() => undefined);
      // the primary's session (through the proxy) waits at the gate: drop it there
      expect(await eventually(waitingAtGate, (p) => p.length === 1, 10_000)).toHaveLength(1);
      await proxy.close();
      await setGate(true);
      const events = await call;
      expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
      expect(kinds(events)).toEqual(['header', 'failover', 'rows', 'summary']);
      expect(header(events)?.endpoint).toBe(EndpointRole.ENDPOINT_ROLE_PRIMARY);
      const failover = events[1]?.event as Extract<Ev, { $case: 'failover' }>;
      expect(failover.value.active).toBe(EndpointRole.ENDPOINT_ROLE_SECONDARY);
      expect(failover.value.reason).toBeTruthy();
      expect(rows(events)).toHaveLength(3);
      expect(summary(events)).toMatchObject({ rows: 3, truncated: false });
      expect(await eventually(daemonSessions, (p) => p.length === 0, 10_000)).toEqual([]);
    });

    it('starts on the secondary when the primary is unreachable', async () => {
      proxy = await startLatencyProxy(pg);
      const port = proxy.port;
      await proxy.close();
      proxy = undefined;
      const facts = { user: pg.user, password: pg.password, database: pg.database, host: pg.host };
      const events = await preview(request('many', { dataSource: hybridSource('postgres', { ...facts, port }, { ...facts, port: pg.port }), limit: 5 }));
      expect(kinds(events)).toEqual(['header', 'rows', 'summary']);
      expect(header(events)?.endpoint).toBe(EndpointRole.ENDPOINT_ROLE_SECONDARY);
      expect(rows(events)).toHaveLength(5);
    });
  });
});
