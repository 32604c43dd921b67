import { execFileSync } from 'node:child_process';
import { Metadata } from '@grpc/grpc-js';
import { expect } from 'vitest';
import { DataSource, Location, SslMode } from '@sourced/api';
import type { DiscoverDataSourceRequest, DiscoverDataSourceResponse } from '@sourced/api';
import type { DiscoveryFilter, Relation } from '@sourced/api';
import type { EndpointRole } from '@sourced/api';
import type { MariadbInstance } from '../harness/mariadb';
import type { PostgresInstance } from '../harness/postgres';
import { captureSource } from './secretScan';
import type { TestDaemon } from './testDaemon';

/** What a seeded HYBRID pair holds: `schemas` schemas (or MySQL databases) of `tablesPerSchema` tables each. */
export interface SeedShape {
  schemas: number;
  tablesPerSchema: number;
}

export const schemaName = (i: number) => `hyb_${String(i).padStart(2, '0')}`;
export const tableName = (i: number) => `t_${String(i).padStart(3, '0')}`;

/** The seeded relations in byte order of (schema, name), as discovery must return them. */
export function seededNames(shape: SeedShape): string[] {
  const out: string[] = [];
  for (let s = 0; s < shape.schemas; s++) for (let t = 0; t < shape.tablesPerSchema; t++) out.push(`${schemaName(s)}.${tableName(t)}`);
  return out;
}

/**
 * SQL that creates the seeded schemas in PostgreSQL, owned by `owner`: each table has a
 * primary key, a dozen columns (one commented), an index and a comment. No column needs a
 * TOAST table, which keeps creating 300 of them quick.
 */
export function postgresSeedSql(shape: SeedShape, owner: string): string {
  return `
SET ROLE "${owner}";
DO $$
DECLARE s int; t int; sch text; tbl text;
BEGIN
  FOR s IN 0..${shape.schemas - 1} LOOP
    sch := 'hyb_' || lpad(s::text, 2, '0');
    EXECUTE format('CREATE SCHEMA %I', sch);
    FOR t IN 0..${shape.tablesPerSchema - 1} LOOP
      tbl := 't_' || lpad(t::text, 3, '0');
      EXECUTE format('CREATE TABLE %I.%I (
        id bigint PRIMARY KEY, code varchar(40) NOT NULL, label varchar(120), amount numeric(12,2) DEFAULT 0,
        quantity integer, ratio double precision, flags boolean DEFAULT false, kind smallint, ref_id bigint,
        created_at timestamptz DEFAULT now(), updated_at timestamptz, note varchar(200))', sch, tbl);
      EXECUTE format('CREATE INDEX %I ON %I.%I (created_at, quantity)', tbl || '_created_idx', sch, tbl);
      EXECUTE format('COMMENT ON TABLE %I.%I IS %L', sch, tbl, 'seeded table ' || sch || '.' || tbl || ' for the HYBRID failover tests');
      EXECUTE format('COMMENT ON COLUMN %I.%I.label IS %L', sch, tbl, 'a label long enough to make each batch weigh something on the wire');
    END LOOP;
  END LOOP;
END $$;
RESET ROLE;
`;
}

/**
 * SQL that creates the seeded databases in MariaDB and lets `user` read them. MyISAM, because
 * creating 300 InnoDB tables takes seconds; discovery reads the same catalog either way.
 */
export function mariadbSeedSql(shape: SeedShape, user: string): string {
  const lines: string[] = ['SET SESSION sql_log_bin = 0;'];
  for (let s = 0; s < shape.schemas; s++) {
    const db = schemaName(s);
    lines.push(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;`);
    lines.push(`GRANT SELECT ON \`${db}\`.* TO '${user}'@'%';`);
    for (let t = 0; t < shape.tablesPerSchema; t++) {
      const tbl = tableName(t);
      lines.push(
        `CREATE TABLE \`${db}\`.\`${tbl}\` (
  id bigint unsigned NOT NULL PRIMARY KEY,
  code varchar(40) NOT NULL,
  label text COMMENT 'a label long enough to make each batch weigh something on the wire',
  amount decimal(12,2) DEFAULT 0, quantity int, ratio double, flags tinyint(1) DEFAULT 0,
  status enum('new','open','closed') NOT NULL DEFAULT 'new',
  payload json COMMENT 'free-form document attached to the row',
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at datetime NULL, note varchar(200),
  KEY \`${tbl}_created_idx\` (created_at, quantity)
) ENGINE=MyISAM COMMENT='seeded table ${db}.${tbl} for the HYBRID failover tests';`,
      );
    }
  }
  return lines.join('\n');
}

/** Seeds the same schema into each PostgreSQL server. */
export async function seedPostgres(servers: PostgresInstance[], shape: SeedShape): Promise<void> {
  await Promise.all(servers.map((s) => s.psql(postgresSeedSql(shape, s.user))));
}

/** Seeds the same databases into each MariaDB server. */
export async function seedMariadb(servers: MariadbInstance[], shape: SeedShape): Promise<void> {
  await Promise.all(servers.map((s) => s.sql(mariadbSeedSql(shape, s.user))));
}

/**
 * The seeded relations a server holds now, as the server itself answers (its own catalog,
 * queried by the test, not the connector): the fault suites check it after every restart, so
 * a server that came back without its seed fails as that, not as a discovery that "lost" it.
 */
export async function seededCount(server: PostgresInstance | MariadbInstance): Promise<number> {
  const out =
    'psql' in server
      ? await server.psql(`SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'hyb\\_%' AND c.relkind = 'r'`)
      : await server.sql(`SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE 'hyb\\_%'`);
  return Number(out.trim());
}

/**
 * Waits until every session of the test user on a server has been idle for at least a second,
 * as the server itself reports (pg_stat_activity, the process list): the daemon has run ahead
 * and back-pressure holds it, its connection idle between pages. A fixed sleep was not enough
 * on a loaded machine (the daemon had not caught up yet). Throws after `timeoutMs`.
 */
export async function waitUntilHeld(server: PostgresInstance | MariadbInstance, timeoutMs = 15_000): Promise<void> {
  const sql =
    'psql' in server
      ? `SELECT count(*), count(*) FILTER (WHERE state = 'idle' AND now() - state_change >= interval '1 second') FROM pg_stat_activity WHERE usename = '${server.user}' AND backend_type = 'client backend'`
      : `SELECT COUNT(*), COALESCE(SUM(COMMAND = 'Sleep' AND TIME >= 1), 0) FROM information_schema.PROCESSLIST WHERE USER = '${server.user}'`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = 'psql' in server ? await server.psql(sql) : await server.sql(sql);
    const [all, held] = out.trim().split(/[|\t]/).map(Number);
    if (all > 0 && held === all) return;
    if (Date.now() > deadline) throw new Error(`the daemon's sessions were not held idle within ${timeoutMs} ms (${held} of ${all} idle for a second)`);
    await sleep(200);
  }
}

/** Connection facts of one harness server (PostgreSQL or MariaDB). */
export interface ServerFacts {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/**
 * A HYBRID data source with `primary` and `secondary` (both must hold the same user and
 * password, which the tests arrange). TLS is switched off explicitly: these servers are plain.
 */
export function hybridSource(type: 'postgres' | 'mysql', primary: ServerFacts, secondary: ServerFacts): DataSource {
  return DataSource.fromPartial({
    id: `hybrid-${type}`,
    type,
    location: Location.LOCATION_HYBRID,
    primary: { host: primary.host, port: primary.port, database: type === 'postgres' ? primary.database : '' },
    secondary: { host: secondary.host, port: secondary.port, database: type === 'postgres' ? secondary.database : '' },
    credentials: { username: primary.user, password: { source: { $case: 'inlineValue', value: primary.password } } },
    sslConfig: { mode: SslMode.SSL_MODE_DISABLE, ca: '', cert: '', serverName: '' },
  });
}

/** The same server alone, ON_PREM: the reference run an undisturbed discovery produces. */
export function singleSource(type: 'postgres' | 'mysql', server: ServerFacts): DataSource {
  return DataSource.fromPartial({
    id: `single-${type}`,
    type,
    primary: { host: server.host, port: server.port, database: type === 'postgres' ? server.database : '' },
    credentials: { username: server.user, password: { source: { $case: 'inlineValue', value: server.password } } },
  });
}

export const seededFilter: DiscoveryFilter = {
  includeSchemas: ['hyb_*'],
  excludeSchemas: [],
  includeTables: [],
  excludeTables: [],
  includeSystemSchemas: false,
};

export const relationsOf = (events: DiscoverDataSourceResponse[]): Relation[] =>
  events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations : []));
export const namesOf = (events: DiscoverDataSourceResponse[]) => relationsOf(events).map((r) => `${r.schema}.${r.name}`);
export const kindsOf = (events: DiscoverDataSourceResponse[]) => events.map((e) => e.event?.$case);

/** A relation without what differs between two servers holding the same schema (MySQL's create/update times, as text and as Timestamps). */
export function comparable(r: Relation): Omit<Relation, 'createdAt' | 'updatedAt' | 'createdTime' | 'updatedTime'> {
  const { createdAt: _c, updatedAt: _u, createdTime: _ct, updatedTime: _ut, ...rest } = r;
  return rest;
}

/**
 * Runs a discovery and, when the n-th batch arrives for each n of `faults`, pauses reading
 * (the daemon goes on until back-pressure holds it, so a fault lands in the middle of the
 * run, during a read or while the connection waits idle), runs that fault, then reads on.
 * Resolves with every event in order and, per fault, how many events had arrived when it
 * ran; rejects with the call's error (with the events received before it as `events`) or a fault's.
 */
export function discoverWithFaults(
  t: Pick<TestDaemon, 'dataSources'>,
  request: Partial<DiscoverDataSourceRequest>,
  faults: Record<number, () => Promise<void>>,
): Promise<{ events: DiscoverDataSourceResponse[]; faultAfterEvent: Record<number, number> }> {
  const events: DiscoverDataSourceResponse[] = [];
  captureSource('stream events', () => JSON.stringify(events));
  return new Promise((resolve, reject) => {
    const faultAfterEvent: Record<number, number> = {};
    let batches = 0;
    let faultDone: Promise<void> = Promise.resolve();
    const stream = t.dataSources.discoverDataSource(
      { strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0, ...request } as DiscoverDataSourceRequest,
      new Metadata(),
      { deadline: Date.now() + 25_000 },
    );
    stream.on('data', (e: DiscoverDataSourceResponse) => {
      events.push(e);
      if (e.event?.$case !== 'batch') return;
      const fault = faults[++batches];
      if (!fault) return;
      faultAfterEvent[batches] = events.length;
      stream.pause();
      faultDone = fault().then(
        () => void stream.resume(),
        (error: unknown) => {
          stream.cancel();
          reject(error);
        },
      );
    });
    // The call's error carries the events that arrived before it (`error.events`).
    // grpc-js emits the error while messages that arrived before it may still wait in the paused
    // stream's buffer: let them reach 'data' first.
    let failed = false;
    stream.on('error', (error) => {
      failed = true;
      void faultDone.finally(async () => {
        for (let i = 0; i < 1000 && stream.readableLength > 0; i++) await new Promise((r) => setImmediate(r));
        reject(Object.assign(error, { events }));
      });
    });
    stream.on('end', () => void faultDone.then(() => failed || resolve({ events, faultAfterEvent })));
  });
}

/** Runs a discovery with one fault when the `afterBatches`-th batch arrives (see {@link discoverWithFaults}). */
export async function discoverWithFault(
  t: Pick<TestDaemon, 'dataSources'>,
  request: Partial<DiscoverDataSourceRequest>,
  afterBatches: number,
  fault: () => Promise<void>,
): Promise<{ events: DiscoverDataSourceResponse[]; faultAfterEvent: number }> {
  const { events, faultAfterEvent } = await discoverWithFaults(t, request, { [afterBatches]: fault });
  return { events, faultAfterEvent: faultAfterEvent[afterBatches] ?? -1 };
}

/** The failover notices of a run, with their positions. */
export function failoversOf(events: DiscoverDataSourceResponse[]) {
  return events.flatMap((e, at) => (e.event?.$case === 'failover' ? [{ at, ...e.event.value }] : []));
}

/** The cursor of the last batch before position `at`, or '' when there is none. */
export function cursorBefore(events: DiscoverDataSourceResponse[], at: number): string {
  const last = events.slice(0, at).findLast((e) => e.event?.$case === 'batch');
  return last?.event?.$case === 'batch' ? last.event.value.cursor : '';
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The invariant of a faulted run: sequence numbers from 1 without gaps; one failover notice
 * per expected role, in order, each resuming after the last batch the client had before
 * it and each followed by more batches (the fault was mid-run); exactly the relations of
 * the undisturbed reference run, in order, none missing, none twice; a summary counting
 * the failovers and naming the endpoint the run ended on.
 */
export function expectUndisturbed(
  events: DiscoverDataSourceResponse[],
  reference: DiscoverDataSourceResponse[],
  roles: EndpointRole[],
  faultAfterEvent: number[],
): void {
  expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
  const notices = failoversOf(events);
  expect(notices.map((n) => n.active)).toEqual(roles);
  notices.forEach((n, i) => {
    expect(n.at).toBeGreaterThanOrEqual(faultAfterEvent[i] ?? 0);
    expect(n.resumeAfter).toBe(cursorBefore(events, n.at));
    expect(n.reason).toBeTruthy();
    expect(kindsOf(events).slice(n.at + 1)).toContain('batch');
  });
  expect(namesOf(events)).toEqual(namesOf(reference));
  expect(new Set(namesOf(events)).size).toBe(namesOf(events).length);
  expect(relationsOf(events).map(comparable)).toEqual(relationsOf(reference).map(comparable));
  const summary = events.at(-1)?.event;
  expect(summary?.$case).toBe('summary');
  if (summary?.$case === 'summary') {
    expect(summary.value).toMatchObject({ relations: namesOf(reference).length, failovers: roles.length, endpoint: roles.at(-1) });
  }
}

/**
 * The time left on TCP keep-alive's timer of an `ss -o` line, seconds; undefined when the line
 * shows no keep-alive timer. ss prints minutes, seconds and milliseconds run together:
 * `119min`, `1min38sec`, `38sec`, `9.996ms` (9.996 s), `996ms`.
 */
export function keepAliveSeconds(line: string): number | undefined {
  const timer = /timer:\(keepalive,([^,)]+)/.exec(line)?.[1];
  const m = timer === undefined ? null : /^(?:(\d+)min)?(?:(\d+)sec)?(?:(\d+)\.(\d{3})ms)?(?:(\d+)ms)?$/.exec(timer);
  if (!m) return undefined;
  const n = (i: number) => Number(m[i] ?? 0);
  return n(1) * 60 + n(2) + n(3) + n(4) / 1000 + n(5) / 1000;
}

/** Whether every line shows TCP keep-alive's timer. */
export const allKeepAlive = (lines: string[]): boolean => lines.length > 0 && lines.every((l) => l.includes('timer:(keepalive'));

/**
 * The established sockets to a port as `ss -tno` prints them. Sampled until `done` holds (up to
 * about three seconds): while data is in flight the kernel shows the retransmission timer instead
 * of the keep-alive timer, so one sample can miss it, and on a loaded machine a driver may still
 * be opening its connection to a standby (a CI run sampled none for a whole second once).
 */
export async function socketsTo(port: number, done: (lines: string[]) => boolean = () => true): Promise<string[]> {
  let lines: string[] = [];
  for (let i = 0; i < 60; i++) {
    const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
    lines = out.split('\n').filter((l) => l.trim() !== '');
    if (done(lines)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return lines;
}
