/**
 * Issue 24, item 1, for previews and profiles: they share discovery's failover path, and now
 * its stall bound too (`discovery.stallTimeoutMs` and `stallProbeAfterMs` bound every read of
 * a source). The primary freezes (`SIGSTOP` on its processes) at a random point of a preview's
 * read and of a profile's: a HYBRID call fails over once to the secondary and gives exactly what
 * an undisturbed run gives (the same rows; the same figures, every one EXACT since the sample
 * covers the whole relation); an ON_PREM call ends UNAVAILABLE `SOURCE_STALLED` with a hint
 * instead of waiting for the caller's deadline. PostgreSQL with a streaming replica as the
 * secondary, MariaDB with two servers holding the same data. The stall (freeze to failover) is
 * measured and printed; nothing is asserted about time but the configured bound.
 *
 * The relation read is a view that sleeps a few milliseconds per row, so every read takes
 * about a second and a freeze lands in the middle of one.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../daemon/src/config/DaemonConfig';
import type { DataSource } from '@sourced/api';
import type { PreviewTableRequest, PreviewTableResponse, ProfileTableRequest, ProfileTableResponse } from '@sourced/api';
import { DiscoveryStrategy } from '@sourced/api';
import { FigureMethod, ProfileMode } from '@sourced/api';
import { EndpointRole } from '@sourced/api';
import { startMariadb, type MariadbInstance } from '../harness/mariadb';
import { startPostgres, startReplica, type PostgresInstance } from '../harness/postgres';
import { freeze } from '../support/freeze';
import { hybridSource, singleSource, sleep } from '../support/hybrid';
import { registerSecret } from '../support/secretScan';
import { richStatusOf, startTestDaemon, type TestDaemon } from '../support/testDaemon';

/** The daemon's bounds here: a read is probed after PROBE_AFTER_MS, and stalled at STALL_MS whatever the probe says. */
const PROBE_AFTER_MS = 1_000;
const STALL_MS = 30_000;
/** Rows of the relation, and the sleep per row (ms): about a second per read. */
const ROWS = 250;
const SLEEP_MS = 4;
const COLUMNS = ['id', 'label', 'amount', 'created'];

type Response = PreviewTableResponse | ProfileTableResponse;
type Failed = ServiceError & { events: Response[] };

/**
 * Reads a preview or profile stream; `freezeAfter` is told each event and returns a delay in
 * ms to freeze the primary after (once). Resolves with the events, when the freeze was done,
 * and when the failover notice arrived; rejects with the call's error carrying its events.
 */
function callWithFreeze<T extends Response>(
  stream: ClientReadableStream<T>,
  freezeAfter: (event: T) => number | undefined,
  doFreeze: () => void,
): Promise<{ events: T[]; frozenAt: number; failoverAt: number }> {
  const events: T[] = [];
  let frozenAt = 0;
  let failoverAt = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Promise((resolve, reject) => {
    stream.on('data', (e: T) => {
      events.push(e);
      if (e.event?.$case === 'failover') failoverAt = Date.now();
      if (timer || frozenAt) return;
      const delay = freezeAfter(e);
      if (delay === undefined) return;
      timer = setTimeout(() => {
        doFreeze();
        frozenAt = Date.now();
      }, delay);
    });
    stream.on('error', (error) => {
      clearTimeout(timer);
      reject(Object.assign(error, { events, frozenAt }));
    });
    stream.on('end', () => {
      clearTimeout(timer);
      resolve({ events, frozenAt, failoverAt });
    });
  });
}

const kinds = (events: Response[]) => events.map((e) => e.event?.$case);
const rowsOf = (events: PreviewTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows : []));
const columnsOf = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'column' ? [e.event.value] : []));
const headerOf = (events: ProfileTableResponse[]) => events.find((e) => e.event?.$case === 'header')?.event;
const failoversOf = (events: Response[]) => events.flatMap((e) => (e.event?.$case === 'failover' ? [e.event.value] : []));

/**
 * The suite for one engine: `servers()` gives the primary, the secondary and the schema that
 * holds the view `slow`; `primaryPid()` the primary's server process.
 */
function stallSuite(
  engine: 'postgres' | 'mysql',
  setUp: () => Promise<{ primary: PostgresInstance | MariadbInstance; secondary: PostgresInstance | MariadbInstance; schema: string; t: TestDaemon }>,
  tearDown: () => Promise<void>,
) {
  let primary: PostgresInstance | MariadbInstance;
  let secondary: PostgresInstance | MariadbInstance;
  let schema: string;
  let t: TestDaemon;
  let thaw: (() => void) | undefined;

  beforeAll(async () => {
    ({ primary, secondary, schema, t } = await setUp());
  });
  afterAll(async () => {
    thaw?.();
    await tearDown();
  });
  beforeEach(() => {
    thaw?.();
    thaw = undefined;
  });

  const doFreeze = () => {
    thaw = freeze(primary.pid as number);
  };
  const previewRequest = (dataSource: DataSource): PreviewTableRequest => ({
    dataSource,
    table: { schema, name: 'slow' },
    columns: COLUMNS,
    limit: 1_000, // more than the rows: every read goes through the whole view
    strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED,
  });
  const profileRequest = (dataSource: DataSource): ProfileTableRequest => ({
    dataSource,
    table: { schema, name: 'slow' },
    columns: COLUMNS,
    mode: ProfileMode.PROFILE_MODE_SAMPLE,
    sampleRows: 10_000, // more than the rows: every figure is EXACT, so it can be compared
    mostCommonLimit: 5,
    histogramBuckets: 5,
    strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED,
  });
  const preview = (dataSource: DataSource) => t.dataSources.previewTable(previewRequest(dataSource), new Metadata(), { deadline: Date.now() + 60_000 });
  const profile = (dataSource: DataSource) => t.dataSources.profileTable(profileRequest(dataSource), new Metadata(), { deadline: Date.now() + 60_000 });
  const hybrid = () => hybridSource(engine, primary, secondary);

  it('fails a HYBRID preview over to the secondary when the primary freezes mid-read, with the same rows', async () => {
    const { events: reference } = await callWithFreeze(preview(singleSource(engine, secondary)), () => undefined, doFreeze);
    expect(rowsOf(reference)).toHaveLength(ROWS);
    // The rows are read after the header: freeze at a random point of that read.
    const delay = randomInt(0, 700);
    const { events, frozenAt, failoverAt } = await callWithFreeze(preview(hybrid()), (e) => (e.event?.$case === 'header' ? delay : undefined), doFreeze);
    console.log(
      `${engine} preview: froze ${delay} ms into the read; failed over ${failoverAt - frozenAt} ms after the freeze (probe after ${PROBE_AFTER_MS} ms, bound ${STALL_MS} ms)`,
    );
    expect(frozenAt).toBeGreaterThan(0);
    expect(kinds(events)).toEqual(['header', 'failover', 'rows', 'rows', 'rows', 'summary']);
    const notices = failoversOf(events);
    expect(notices.map((n) => n.active)).toEqual([EndpointRole.ENDPOINT_ROLE_SECONDARY]);
    expect(notices[0]?.reason).toContain('sent no answer');
    expect(failoverAt - frozenAt).toBeLessThan(STALL_MS);
    expect(rowsOf(events)).toEqual(rowsOf(reference));
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { rows: ROWS, truncated: false } });
  });

  it('fails a HYBRID profile over to the secondary when the primary freezes mid-read, with the same figures', async () => {
    const started = Date.now();
    const { events: reference } = await callWithFreeze(profile(singleSource(engine, secondary)), () => undefined, doFreeze);
    console.log(`${engine} profile, undisturbed: ${Date.now() - started} ms`);
    expect(columnsOf(reference).map((c) => c.name)).toEqual(COLUMNS);
    // Every figure EXACT: the sample read the whole view, so an undisturbed run's figures are the view's.
    for (const c of columnsOf(reference))
      expect(new Set(Object.values(c.methods ?? {}).filter((m) => m !== FigureMethod.FIGURE_METHOD_UNSPECIFIED))).toEqual(
        new Set([FigureMethod.FIGURE_METHOD_EXACT]),
      );
    // Each column is one read of about a second after the header: freeze at a random point of them.
    const delay = randomInt(0, 2_500);
    const { events, frozenAt, failoverAt } = await callWithFreeze(profile(hybrid()), (e) => (e.event?.$case === 'header' ? delay : undefined), doFreeze);
    const before = kinds(events).indexOf('failover');
    console.log(
      `${engine} profile: froze ${delay} ms after the header (${columnsOf(events.slice(0, before)).length} columns sent); failed over ${failoverAt - frozenAt} ms after the freeze (probe after ${PROBE_AFTER_MS} ms, bound ${STALL_MS} ms)`,
    );
    expect(frozenAt).toBeGreaterThan(0);
    const notices = failoversOf(events);
    expect(notices.map((n) => n.active)).toEqual([EndpointRole.ENDPOINT_ROLE_SECONDARY]);
    expect(notices[0]?.reason).toContain('sent no answer');
    expect(failoverAt - frozenAt).toBeLessThan(STALL_MS);
    expect(kinds(events).filter((k) => k === 'header')).toHaveLength(1);
    expect(headerOf(events)).toEqual(headerOf(reference));
    expect(columnsOf(events)).toEqual(columnsOf(reference));
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { columns: COLUMNS.length } });
  }, 120_000);

  /**
   * ON_PREM: a preview and a profile end UNAVAILABLE SOURCE_STALLED with a hint; the preview's
   * error says a retry is safe, the profile's names the columns sent and those left, and a profile
   * of only those left, once the server thaws, completes the table's columns.
   */
  it('ends an ON_PREM preview and profile UNAVAILABLE SOURCE_STALLED with a hint when the server freezes', async () => {
    const calls = { preview: () => preview(singleSource(engine, primary)), profile: () => profile(singleSource(engine, primary)) } as Record<
      string,
      () => ClientReadableStream<Response>
    >;
    for (const [what, call] of Object.entries(calls)) {
      thaw?.();
      thaw = undefined;
      const delay = randomInt(0, 700);
      const error = (await callWithFreeze(call(), (e) => (e.event?.$case === 'header' ? delay : undefined), doFreeze).then(
        () => undefined,
        (e: unknown) => e as Failed & { frozenAt: number },
      )) as (Failed & { frozenAt: number }) | undefined;
      console.log(`${engine} ON_PREM ${what}: froze ${delay} ms after the header; ended ${Date.now() - (error?.frozenAt ?? 0)} ms after the freeze`);
      expect(error?.code).toBe(status.UNAVAILABLE);
      const info = richStatusOf(error).errorInfo;
      expect(info?.reason).toBe('SOURCE_STALLED');
      expect(info?.metadata?.endpoint).toBe('PRIMARY');
      expect(Number(info?.metadata?.bound_ms)).toBeLessThanOrEqual(STALL_MS);
      expect(info?.metadata?.hint).toMatch(/HYBRID/);
      expect(failoversOf(error?.events ?? [])).toEqual([]);
      // Issue 24: nothing to resume from, but the error says what a retry may do.
      expect(info?.metadata?.retry).toBe('SAFE');
      if (what === 'preview') {
        expect(info?.metadata?.hint).toContain('safe to send again');
        continue;
      }
      // A profile names the columns it sent and those left; profiling only the rest completes it.
      const sent = columnsOf((error?.events ?? []) as ProfileTableResponse[]).map((c) => c.name);
      const left = JSON.parse(info?.metadata?.columns_left ?? 'null') as string[];
      expect(JSON.parse(info?.metadata?.columns_sent ?? 'null')).toEqual(sent);
      expect([...sent, ...left]).toEqual(COLUMNS);
      expect(info?.metadata?.hint).toContain('columns_left');
      // The freeze was set by a callback: TypeScript still sees the `undefined` of the loop's start.
      (thaw as (() => void) | undefined)?.();
      thaw = undefined;
      const rest = await callWithFreeze(
        t.dataSources.profileTable({ ...profileRequest(singleSource(engine, primary)), columns: left }, new Metadata(), { deadline: Date.now() + 60_000 }),
        () => undefined,
        doFreeze,
      );
      console.log(`${engine} ON_PREM profile: ${sent.length} columns sent before the stall, ${left.length} profiled by the retry`);
      expect(columnsOf(rest.events).map((c) => c.name)).toEqual(left);
    }
  }, 120_000);
}

describe('a PostgreSQL primary frozen mid-preview and mid-profile (issue 24: 1), with a streaming replica as the secondary', () => {
  let primary: PostgresInstance;
  let replica: PostgresInstance;
  let t: TestDaemon;
  stallSuite(
    'postgres',
    async () => {
      const password = `pw-${randomBytes(12).toString('hex')}`;
      registerSecret('preview stall test password', password);
      [primary, t] = await Promise.all([
        startPostgres({ password }),
        startTestDaemon({
          plugins: ['@sourced/plugin-postgres'],
          discovery: { ...DEFAULT_CONFIG.discovery, stallTimeoutMs: STALL_MS, stallProbeAfterMs: PROBE_AFTER_MS },
        }),
      ]);
      replica = await startReplica(primary);
      await primary.psql(`SET ROLE ${primary.user};
CREATE SCHEMA stall_p;
CREATE TABLE stall_p.t (id int PRIMARY KEY, label text, amount numeric(12,2), created timestamptz);
INSERT INTO stall_p.t SELECT i, 'label ' || (i % 17), i * 1.25, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour' FROM generate_series(1, ${ROWS}) i;
CREATE FUNCTION stall_p.slow(i int) RETURNS int LANGUAGE plpgsql VOLATILE AS $$ BEGIN PERFORM pg_sleep(${SLEEP_MS / 1000}); RETURN i; END $$;
CREATE VIEW stall_p.slow AS SELECT stall_p.slow(id) AS id, label, amount, created FROM stall_p.t ORDER BY t.id;`);
      // The replica follows through WAL: wait until it has every row.
      for (let i = 0; i < 100; i++) {
        const n = await replica.psql('SELECT count(*) FROM stall_p.t').catch(() => '0');
        if (Number(n.trim()) === ROWS) break;
        await sleep(100);
      }
      return { primary, secondary: replica, schema: 'stall_p', t };
    },
    async () => {
      await t?.stop();
      await Promise.all([replica?.destroy(), primary?.destroy()]);
    },
  );
});

describe('a MariaDB primary frozen mid-preview and mid-profile (issue 24: 1), with a second server holding the same data', () => {
  let a: MariadbInstance;
  let b: MariadbInstance;
  let t: TestDaemon;
  stallSuite(
    'mysql',
    async () => {
      const password = `pw-${randomBytes(12).toString('hex')}`;
      registerSecret('preview stall test MariaDB password', password);
      [a, b, t] = await Promise.all([
        startMariadb({ password }),
        startMariadb({ password }),
        startTestDaemon({
          plugins: ['@sourced/plugin-mysql'],
          discovery: { ...DEFAULT_CONFIG.discovery, stallTimeoutMs: STALL_MS, stallProbeAfterMs: PROBE_AFTER_MS },
        }),
      ]);
      const seed = `CREATE TABLE t (id int PRIMARY KEY, label varchar(40), amount decimal(12,2), created datetime);
INSERT INTO t SELECT seq, CONCAT('label ', seq % 17), seq * 1.25, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq HOUR FROM seq_1_to_${ROWS};
CREATE VIEW slow AS SELECT id, label, amount, created FROM t WHERE SLEEP(${SLEEP_MS / 1000}) = 0 ORDER BY id;`;
      await Promise.all([a, b].map((s) => s.sql(seed, { database: s.database })));
      return { primary: a, secondary: b, schema: a.database, t };
    },
    async () => {
      await t?.stop();
      await Promise.all([a?.destroy(), b?.destroy()]);
    },
  );
});
