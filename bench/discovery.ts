/**
 * Discovery benchmark. For PostgreSQL and MariaDB and each size N it seeds N tables into a
 * throwaway server (seed.ts), then measures side by side:
 *
 *  1. sourced: a discovery through gRPC against a fresh daemon process per run (time to the
 *     first entity, total time, entities per second, the daemon's RSS after start-up and its
 *     peak RSS), for each strategy, batch size 0 (the strategy's default);
 *  2. the floor: the same catalog read with a handful of set-based queries through
 *     psql / mariadb into /dev/null (floor.ts);
 *  3. the per-table approach of reflection-based tools, capped by a time budget and then
 *     extrapolated (perTable.ts).
 *
 * Reports markdown tables on stdout (progress on stderr); asserts nothing.
 *
 *   npm run bench                                      # N = 1,000 and 10,000, both databases
 *   npm run bench -- --sizes 1000,10000,50000          # per-table skipped from 50,000 on
 *   npm run bench -- --only postgres --strategies AGGRESSIVE,ADAPTIVE,BALANCED
 *   npm run bench -- --per-table off | on | auto --per-table-budget 60 --runs 2
 *   npm run bench -- --concurrent 20 --connection-limit 10   # at N = 1,000 (default; 0 skips)
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startMariadb } from '../test/harness/mariadb';
import { startPostgres } from '../test/harness/postgres';
import { expected } from './catalog';
import { processCpuMs, processTreeCpuMs, postmasterPid } from './cpu';
import { measureFloor, sharedFloorOnce, sharedFloorsPresent } from './floor';
import { measurePerTable, type PerTableResult } from './perTable';
import { formatRow, formatTable, type Row } from './report';
import { MARIADB_SERVER_ARGS, seedMariadb, seedPostgres } from './seed';
import { parseStrategy, runSourced, type SourceSpec, type SourcedResult } from './sourcedRun';
import { formatConcurrent, runConcurrent, type ConcurrentResult } from './concurrent';

type Database = 'postgres' | 'mariadb';

/** From this size on the per-table approach is skipped unless `--per-table on`. */
const PER_TABLE_MAX = 50_000;

interface Options {
  sizes: number[];
  databases: Database[];
  strategies: string[];
  perTable: 'auto' | 'on' | 'off';
  perTableBudgetMs: number;
  runs: number;
  /** Concurrent discoveries run at N = 1,000 (0: none). */
  concurrent: number;
  /** The daemon's per-endpoint connection limit for them. */
  connectionLimit: number;
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: tsx bench/discovery.ts [--sizes 1000,10000] [--only postgres|mariadb] [--strategies AGGRESSIVE,ADAPTIVE]\n` +
      '                                  [--per-table auto|on|off] [--per-table-budget SECONDS] [--runs N]\n',
  );
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      sizes: { type: 'string' },
      only: { type: 'string' },
      strategies: { type: 'string' },
      'per-table': { type: 'string' },
      'per-table-budget': { type: 'string' },
      runs: { type: 'string' },
      concurrent: { type: 'string' },
      'connection-limit': { type: 'string' },
    },
  });
  const list = (s: string | undefined) =>
    (s ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const sizes = [...list(values.sizes), ...positionals].map((x) => Number(x.replace(/[_,]/g, '')));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) usage(`--sizes: whole numbers of tables, got "${values.sizes ?? positionals.join(' ')}"`);
  const only = values.only;
  if (only !== undefined && only !== 'postgres' && only !== 'mariadb') usage(`--only: postgres or mariadb, got "${only}"`);
  const strategies = list(values.strategies ?? 'AGGRESSIVE,ADAPTIVE').map((s) => s.toUpperCase().replace(/^DISCOVERY_STRATEGY_/, ''));
  for (const s of strategies) {
    try {
      parseStrategy(s);
    } catch (error) {
      usage(`--strategies: ${(error as Error).message} (CONSERVATIVE, BALANCED, AGGRESSIVE, ADAPTIVE)`);
    }
  }
  const perTable = (values['per-table'] ?? 'auto') as Options['perTable'];
  if (!['auto', 'on', 'off'].includes(perTable)) usage(`--per-table: auto, on or off, got "${perTable}"`);
  const budget = Number(values['per-table-budget'] ?? 60);
  if (!(budget > 0)) usage('--per-table-budget: seconds, more than 0');
  const runs = Number(values.runs ?? 3);
  if (!Number.isInteger(runs) || runs < 1) usage('--runs: a whole number from 1');
  const concurrent = Number(values.concurrent ?? 20);
  if (!Number.isInteger(concurrent) || concurrent < 0) usage('--concurrent: a whole number of discoveries (0: none)');
  const connectionLimit = Number(values['connection-limit'] ?? 10);
  if (!Number.isInteger(connectionLimit) || connectionLimit < 1) usage('--connection-limit: a whole number from 1');
  return {
    concurrent,
    connectionLimit,
    sizes: sizes.length ? sizes : [1_000, 10_000],
    databases: only ? [only] : ['postgres', 'mariadb'],
    strategies,
    perTable,
    perTableBudgetMs: budget * 1000,
    runs,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A seeded throwaway server: where it is, how long seeding took, its CPU time so far (ms), how to remove it. */
interface SeededServer {
  source: SourceSpec;
  seedMs: number;
  cpuMs: () => number;
  destroy: () => Promise<void>;
}

/** A throwaway server of the kind, seeded with N tables. */
async function seededServer(db: Database, n: number): Promise<SeededServer> {
  if (db === 'postgres') {
    const pg = await startPostgres();
    try {
      const seedMs = await seedPostgres(pg, n);
      return {
        source: { type: 'postgres', host: pg.host, port: pg.port, database: pg.database, user: pg.user, password: pg.password },
        seedMs,
        cpuMs: () => processTreeCpuMs(postmasterPid(pg.dataDir)),
        destroy: () => pg.destroy(),
      };
    } catch (error) {
      await pg.destroy();
      throw error;
    }
  }
  const mdb = await startMariadb({ extraArgs: MARIADB_SERVER_ARGS });
  try {
    const seedMs = await seedMariadb(mdb, n);
    return {
      source: { type: 'mariadb', host: mdb.host, port: mdb.port, database: mdb.database, user: mdb.user, password: mdb.password },
      seedMs,
      cpuMs: () => (mdb.pid === undefined ? 0 : processCpuMs(mdb.pid)),
      destroy: () => mdb.destroy(),
    };
  } catch (error) {
    await mdb.destroy();
    throw error;
  }
}

/** The shared floor and sourced, measured in pairs: their medians. */
export interface Paired {
  sourced: SourcedResult;
  sharedFloorMs: number;
  sharedFloorServerCpuMs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * `runs` pairs of (shared floor, sourced with a fresh daemon), one after the other, as the
 * shared floors' README asks: sourced's figures are those of its median run by total time,
 * the floor's the medians of its runs; the peak RSS is the highest of the runs. The server's
 * CPU is read around each run from /proc (cpu.ts).
 */
async function pairedRuns(server: SeededServer, strategy: string, runs: number): Promise<Paired> {
  const results: SourcedResult[] = [];
  const floorMs: number[] = [];
  const floorCpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const cpu0 = server.cpuMs();
    floorMs.push(await sharedFloorOnce(server.source));
    floorCpu.push(server.cpuMs() - cpu0);
    const r = await runSourced(server.source, strategy, server.cpuMs);
    log(
      `    pair ${i + 1}: shared floor ${floorMs[i].toFixed(0)} ms (server CPU ${floorCpu[i]} ms); sourced first ${r.firstMs.toFixed(0)} ms, total ${r.totalMs.toFixed(0)} ms, server CPU ${r.serverCpuMs ?? '?'} ms, daemon CPU ${r.daemonCpuMs} ms, peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
    results.push(r);
  }
  const byTotal = [...results].sort((a, b) => a.totalMs - b.totalMs);
  const mid = byTotal[Math.floor((byTotal.length - 1) / 2)];
  return {
    sourced: { ...mid, peakRss: Math.max(...results.map((r) => r.peakRss)) },
    sharedFloorMs: median(floorMs),
    sharedFloorServerCpuMs: median(floorCpu),
  };
}

async function benchDatabase(db: Database, options: Options): Promise<string> {
  const rows: Row[] = [];
  const concurrentRows: { n: number; r: ConcurrentResult }[] = [];
  const notes: string[] = [];
  for (const n of options.sizes) {
    const want = expected(n);
    log(`\n${db}, N = ${n.toLocaleString('en-US')} (${want.relations} relations, ${want.columns} columns): seeding...`);
    const load = loadavg()[0];
    const server = await seededServer(db, n);
    try {
      log(`  seeded in ${seconds(server.seedMs)}`);
      const floorMs = await measureFloor(server.source);
      log(`  floor ${floorMs.toFixed(0)} ms`);
      const sourced: SourcedResult[] = [];
      const pairs = new Map<SourcedResult, Paired>();
      for (const strategy of options.strategies) {
        const paired = await pairedRuns(server, strategy, options.runs);
        const r = paired.sourced;
        pairs.set(r, paired);
        log(
          `  sourced ${r.strategy}: first ${r.firstMs.toFixed(0)} ms, total ${r.totalMs.toFixed(0)} ms, ${r.batches} batches, ${r.relations} relations, ${r.columns} columns, RSS ${(r.baselineRss / 2 ** 20).toFixed(0)} → peak ${(r.peakRss / 2 ** 20).toFixed(0)} MiB`,
        );
        if (r.relations !== want.relations || r.columns !== want.columns) {
          log(`  WARNING: ${r.strategy} returned ${r.relations} relations and ${r.columns} columns; expected ${want.relations} and ${want.columns}`);
        }
        for (const w of r.warnings.slice(0, 5)) log(`  discovery warning: ${w}`);
        sourced.push(r);
      }
      if (options.concurrent > 0 && n === 1_000) {
        const r = await runConcurrent(server.source, options.concurrent, 'AGGRESSIVE', options.connectionLimit, want.relations);
        log(
          `  ${r.discoveries} concurrent AGGRESSIVE discoveries, limit ${r.limit}: ${r.completed} complete, peak ${r.peakSessions} source sessions, ${r.totalMs.toFixed(0)} ms`,
        );
        concurrentRows.push({ n, r });
      }
      let perTable: PerTableResult | undefined;
      if (options.perTable === 'on' || (options.perTable === 'auto' && n < PER_TABLE_MAX)) {
        perTable = await measurePerTable(server.source, options.perTableBudgetMs);
        log(
          `  per-table ${perTable.estimated ? `~${perTable.ms.toFixed(0)} ms (extrapolated from ${perTable.read} of ${perTable.relations} relations)` : `${perTable.ms.toFixed(0)} ms`}, ${perTable.queries} queries`,
        );
        if (perTable.estimated)
          notes.push(
            `N=${n.toLocaleString('en-US')}: per-table read ${perTable.read.toLocaleString('en-US')} of ${perTable.relations.toLocaleString('en-US')} relations in the ${options.perTableBudgetMs / 1000} s budget; \`~\` values are extrapolated linearly`,
          );
      }
      for (const s of sourced) {
        const p = pairs.get(s);
        const row: Row = {
          n,
          expectedRelations: want.relations,
          sourced: s,
          floorMs,
          perTable,
          sharedFloorMs: p?.sharedFloorMs,
          sharedFloorServerCpuMs: p?.sharedFloorServerCpuMs,
        };
        rows.push(row);
        log(formatRow(row));
      }
      notes.push(
        `N=${n.toLocaleString('en-US')}: seeded in ${seconds(server.seedMs)}; 1-minute load average ${load.toFixed(1)} before seeding, ${loadavg()[0].toFixed(1)} after measuring`,
      );
    } finally {
      await server.destroy();
    }
  }
  notes.unshift(
    `sourced and the shared floor in ${options.runs} pairs (floor, sourced with a fresh daemon, ...): sourced's figures from its median run by total time, the shared floor's medians; the peak RSS is the highest of the runs; CPU from /proc (server: the postmaster and its children, or mariadbd; daemon: after start-up)`,
  );
  const title = db === 'postgres' ? 'PostgreSQL' : 'MariaDB';
  return formatTable(title, rows, notes) + (concurrentRows.length ? `\n${formatConcurrent(title, concurrentRows)}` : '');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (!sharedFloorsPresent())
    usage('the shared floors (floor-postgres.sql, floor-mariadb.sql) are not in ../shared/bench; set SOURCED_SHARED_BENCH to their folder');
  log(
    `discovery benchmark: ${options.databases.join(', ')}; N = ${options.sizes.join(', ')}; strategies ${options.strategies.join(', ')}; Node ${process.version}, ${cpus().length} cores`,
  );
  // Each database's table as soon as it is done, so a later failure loses nothing.
  for (const db of options.databases) process.stdout.write(`${await benchDatabase(db, options)}\n`);
}

void main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exitCode = 1;
});
