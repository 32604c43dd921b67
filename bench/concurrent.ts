/**
 * Many discoveries of one catalog at once against one daemon process: do they all complete,
 * and do the source connections stay within the daemon's per-endpoint limit
 * (`sources.maxConnectionsPerEndpoint`)? The source's own view is sampled every 20 ms
 * (PostgreSQL `pg_stat_activity` by application name, MariaDB `PROCESSLIST` by account).
 */
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import { startDaemonProcess } from './daemonProcess';
import { discover, parseStrategy, type SourceSpec } from './sourcedRun';

export interface ConcurrentResult {
  discoveries: number;
  strategy: string;
  limit: number;
  completed: number;
  /** Most daemon sessions the source saw at once. */
  peakSessions: number;
  totalMs: number;
  slowestMs: number;
  peakRss: number;
}

/** Counts the daemon's sessions on the source, as the bench account sees them. */
async function sessionCounter(source: SourceSpec): Promise<{ count(): Promise<number>; close(): Promise<void> }> {
  if (source.type === 'postgres') {
    const pg = new Client({ host: source.host, port: source.port, user: source.user, password: source.password, database: source.database });
    await pg.connect();
    return {
      count: async () => Number((await pg.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'sourced'`)).rows[0].n),
      close: () => pg.end(),
    };
  }
  const my = await createConnection({ host: source.host, port: source.port, user: source.user, password: source.password });
  return {
    // the account's threads but this one
    count: async () => {
      const [rows] = await my.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()', [source.user]);
      return Number((rows as { n: number }[])[0].n);
    },
    close: () => my.end(),
  };
}

export async function runConcurrent(
  source: SourceSpec,
  discoveries: number,
  strategyName: string,
  limit: number,
  expectedRelations: number,
): Promise<ConcurrentResult> {
  const strategy = parseStrategy(strategyName);
  const daemon = await startDaemonProcess({ SOURCED_MAX_CONNECTIONS_PER_ENDPOINT: String(limit) });
  const counter = await sessionCounter(source);
  let peakSessions = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakSessions = Math.max(peakSessions, await counter.count());
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    const started = performance.now();
    const runs = await Promise.all(Array.from({ length: discoveries }, () => discover(daemon.address, source, strategy)));
    const totalMs = performance.now() - started;
    return {
      discoveries,
      strategy: strategyName,
      limit,
      completed: runs.filter((r) => r.relations === expectedRelations).length,
      peakSessions,
      totalMs,
      slowestMs: Math.max(...runs.map((r) => r.totalMs)),
      peakRss: daemon.memory().hwm,
    };
  } finally {
    sampling = false;
    await sampler;
    await counter.close();
    await daemon.stop();
  }
}

export function formatConcurrent(title: string, rows: { n: number; r: ConcurrentResult }[]): string {
  return [
    `#### ${title}: concurrent discoveries`,
    '',
    '| N | discoveries | strategy | connection limit | completed | peak source sessions | total ms | daemon peak RSS MiB |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      ({ n, r }) =>
        `| ${n.toLocaleString('en-US')} | ${r.discoveries} | ${r.strategy} | ${r.limit} | ${r.completed} | ${r.peakSessions} | ${Math.round(r.totalMs).toLocaleString('en-US')} | ${(r.peakRss / 2 ** 20).toFixed(0)} |`,
    ),
    '',
  ].join('\n');
}
