/**
 * Issue 24, item 2: keep-alive on HYBRID PostgreSQL sessions, proved from both ends. The server's
 * side is set per session (tcp_keepalives_idle/interval/count, tcp_user_timeout) and read back by
 * the session itself (a view over pg_settings, previewed through the daemon: the server reads
 * the values from its socket); the daemon's side sets the probe interval besides the idle time
 * (net-keepalive). `ss -o` on both ends of a session idle past its first probe shows the next
 * one due within the interval (5 s), not the kernel's 75 s.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource, PreviewTableResponse } from '@sourced/api';
import { KEEPALIVE_COUNT, KEEPALIVE_IDLE_MS, KEEPALIVE_INTERVAL_MS, TCP_USER_TIMEOUT_MS } from '@sourced/core';
import { startMariadb, type MariadbInstance } from './harness/mariadb';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { hybridSource, keepAliveSeconds, singleSource, sleep, socketsTo } from './support/hybrid';
import { registerSecret } from './support/secretScan';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

const SCHEMA = 'keepalive_probe';

/** The established sockets a server holds on `port` (its own side), as `ss -tno` prints them. */
function serverSockets(port: number): string[] {
  const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim() !== '');
}

describe('keep-alive on HYBRID PostgreSQL sessions (issue 24: 2)', () => {
  let a: PostgresInstance;
  let b: PostgresInstance;
  let t: TestDaemon;

  beforeAll(async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    registerSecret('keep-alive test password', password);
    [a, b, t] = await Promise.all([startPostgres({ password }), startPostgres({ password }), startTestDaemon({ plugins: ['@sourced/plugin-postgres'] })]);
    // What the session that reads it has on its socket, as the server reports it.
    const view = `SET ROLE ${a.user}; CREATE SCHEMA ${SCHEMA};
      CREATE VIEW ${SCHEMA}.settings AS SELECT name, setting FROM pg_catalog.pg_settings
        WHERE name IN ('tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count', 'tcp_user_timeout') ORDER BY name;
      CREATE VIEW ${SCHEMA}.slow AS SELECT 1 AS one FROM pg_catalog.pg_sleep(${(KEEPALIVE_IDLE_MS + 5_000) / 1000});`;
    await Promise.all([a, b].map((s) => s.psql(view)));
  });
  afterAll(async () => {
    await t?.stop();
    await Promise.all([a?.destroy(), b?.destroy()]);
  });

  /** The events of a preview of a view of {@link SCHEMA}. */
  function previewOf(dataSource: DataSource, name: string): Promise<PreviewTableResponse[]> {
    return new Promise<PreviewTableResponse[]>((resolve, reject) => {
      const out: PreviewTableResponse[] = [];
      const stream = t.dataSources.previewTable({ dataSource, table: { schema: SCHEMA, name }, columns: [], limit: 10, strategy: 0 }, new Metadata(), {
        deadline: Date.now() + 40_000,
      });
      stream.on('data', (e: PreviewTableResponse) => out.push(e));
      stream.on('error', reject);
      stream.on('end', () => resolve(out));
    });
  }

  /** The settings a preview's own session reports, by name. */
  async function sessionSettings(dataSource: DataSource): Promise<Record<string, string>> {
    const events = await previewOf(dataSource, 'settings');
    const rows = events.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows : []));
    const text = (cell: (typeof rows)[number]['cells'][number] | undefined) => (cell?.value?.$case === 'text' ? cell.value.value : JSON.stringify(cell?.value));
    return Object.fromEntries(rows.map((r) => [text(r.cells[0]), text(r.cells[1])]));
  }

  /** A HYBRID session reads its keep-alive settings back from its socket: the daemon's; an ON_PREM one keeps the server's. */
  it("sets the server's keep-alive on each HYBRID session", async () => {
    const hybrid = await sessionSettings(hybridSource('postgres', a, b));
    const onPrem = await sessionSettings(singleSource('postgres', a));
    console.log(`HYBRID session: ${JSON.stringify(hybrid)}; ON_PREM session: ${JSON.stringify(onPrem)}`);
    expect(hybrid).toEqual({
      tcp_keepalives_count: String(KEEPALIVE_COUNT),
      tcp_keepalives_idle: String(KEEPALIVE_IDLE_MS / 1000),
      tcp_keepalives_interval: String(KEEPALIVE_INTERVAL_MS / 1000),
      tcp_user_timeout: String(TCP_USER_TIMEOUT_MS),
    });
    expect(onPrem.tcp_keepalives_idle).not.toBe(hybrid.tcp_keepalives_idle); // the kernel's (7200), not ours
  });

  /**
   * While a HYBRID read waits on a slow statement (the server computes, nothing crosses the
   * link), both ends of its session are idle past the first keep-alive probe (10 s) and show
   * the next one due within the daemon's interval (5 s) in `ss -o`, where the kernel's 75 s
   * would apply without it.
   */
  it("probes both ends of an idle HYBRID session at the daemon's interval", async () => {
    const reading = previewOf(hybridSource('postgres', a, b), 'slow');
    await sleep(KEEPALIVE_IDLE_MS + 2_000);
    const within = (lines: string[]) => lines.length > 0 && lines.every((l) => (keepAliveSeconds(l) ?? 99) <= KEEPALIVE_INTERVAL_MS / 1000);
    const client = await socketsTo(a.port, within);
    const server = serverSockets(a.port);
    const rows = (await reading).flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows : []));
    console.log(`after ${KEEPALIVE_IDLE_MS + 2_000} ms idle, the daemon's sockets: ${client.join(' | ')}\nthe server's: ${server.join(' | ')}`);
    expect(rows).toHaveLength(1);
    expect(client.length).toBeGreaterThan(0);
    for (const line of client) expect(keepAliveSeconds(line)).toBeLessThanOrEqual(KEEPALIVE_INTERVAL_MS / 1000);
    expect(server.length).toBeGreaterThan(0);
    for (const line of server) expect(keepAliveSeconds(line)).toBeLessThanOrEqual(KEEPALIVE_INTERVAL_MS / 1000);
  }, 60_000);
});

/**
 * MariaDB: the daemon's side of a HYBRID session gets the same interval (mysql2 sets only the idle
 * time). The server's side cannot be set per session: MariaDB's tcp_keepalive_time, _interval and
 * _probes are GLOBAL variables (`SET SESSION` is refused, checked here), so it keeps the server's.
 */
describe('keep-alive on HYBRID MariaDB sessions (issue 24: 2)', () => {
  let a: MariadbInstance;
  let b: MariadbInstance;
  let t: TestDaemon;

  beforeAll(async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    registerSecret('MariaDB keep-alive test password', password);
    [a, b, t] = await Promise.all([startMariadb({ password }), startMariadb({ password }), startTestDaemon({ plugins: ['@sourced/plugin-mysql'] })]);
    const view = `CREATE VIEW slow AS SELECT SLEEP(${(KEEPALIVE_IDLE_MS + 5_000) / 1000}) AS one;`;
    await Promise.all([a, b].map((s) => s.sql(view, { database: s.database })));
  });
  afterAll(async () => {
    await t?.stop();
    await Promise.all([a?.destroy(), b?.destroy()]);
  });

  /** The server's keep-alive settings are server-wide: a session may not set them. */
  it("has no per-session keep-alive on the server's side", async () => {
    const scopes = await a.sql(
      "SELECT VARIABLE_NAME, VARIABLE_SCOPE FROM information_schema.SYSTEM_VARIABLES WHERE VARIABLE_NAME LIKE 'TCP_KEEPALIVE%' ORDER BY 1",
    );
    console.log(`MariaDB keep-alive variables: ${scopes.trim().replace(/\n/g, '; ')}`);
    expect(scopes).toMatch(/TCP_KEEPALIVE_INTERVAL\s+GLOBAL/);
    await expect(a.sql('SET SESSION tcp_keepalive_interval = 5')).rejects.toThrow(/GLOBAL variable/);
  });

  /** 12 s into a slow HYBRID read, the daemon's socket has its next probe due within its 5 s interval. */
  it("probes the daemon's side of an idle HYBRID session at its interval", async () => {
    const reading = new Promise<PreviewTableResponse[]>((resolve, reject) => {
      const out: PreviewTableResponse[] = [];
      const stream = t.dataSources.previewTable(
        { dataSource: hybridSource('mysql', a, b), table: { schema: a.database, name: 'slow' }, columns: [], limit: 10, strategy: 0 },
        new Metadata(),
        { deadline: Date.now() + 40_000 },
      );
      stream.on('data', (e: PreviewTableResponse) => out.push(e));
      stream.on('error', reject);
      stream.on('end', () => resolve(out));
    });
    await sleep(KEEPALIVE_IDLE_MS + 2_000);
    const client = await socketsTo(a.port, (lines) => lines.length > 0 && lines.every((l) => (keepAliveSeconds(l) ?? 99) <= KEEPALIVE_INTERVAL_MS / 1000));
    const server = serverSockets(a.port);
    const rows = (await reading).flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows : []));
    console.log(`MariaDB, after ${KEEPALIVE_IDLE_MS + 2_000} ms idle, the daemon's sockets: ${client.join(' | ')}\nthe server's: ${server.join(' | ')}`);
    expect(rows).toHaveLength(1);
    expect(client.length).toBeGreaterThan(0);
    for (const line of client) expect(keepAliveSeconds(line)).toBeLessThanOrEqual(KEEPALIVE_INTERVAL_MS / 1000);
  }, 60_000);
});
