/**
 * One sourced discovery through gRPC against a fresh daemon process: time to the first
 * entity (the first batch event), total time, what arrived, and the daemon's memory
 * (VmRSS once it accepts connections, VmHWM after the run).
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import { DataSource } from '@sourced/api';
import { DataSourceServiceClient, DiscoverDataSourceRequest, type DiscoverDataSourceResponse } from '@sourced/api';
import { DiscoveryStrategy, discoveryStrategyFromJSON } from '@sourced/api';
import { processCpuMs } from './cpu';
import { startDaemonProcess } from './daemonProcess';

/** Where the daemon reads the benchmark catalog. */
export interface SourceSpec {
  type: 'postgres' | 'mariadb';
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

export interface SourcedResult {
  strategy: string;
  relations: number;
  columns: number;
  batches: number;
  firstMs: number;
  totalMs: number;
  /** Daemon VmRSS after start-up, bytes. */
  baselineRss: number;
  /** Daemon VmHWM after the run, bytes. */
  peakRss: number;
  /** The daemon's CPU time during the call (after start-up), ms. */
  daemonCpuMs: number;
  /** The database server's CPU time during the call, ms (when the caller can read it). */
  serverCpuMs?: number;
  warnings: string[];
}

/** AGGRESSIVE or DISCOVERY_STRATEGY_AGGRESSIVE → the enum value; throws on an unknown name. */
export function parseStrategy(name: string): DiscoveryStrategy {
  const upper = name.trim().toUpperCase();
  const value = discoveryStrategyFromJSON(upper.startsWith('DISCOVERY_STRATEGY_') ? upper : `DISCOVERY_STRATEGY_${upper}`);
  if (value === DiscoveryStrategy.UNRECOGNIZED) throw new Error(`unknown strategy "${name}"`);
  return value;
}

export async function discover(address: string, source: SourceSpec, strategy: DiscoveryStrategy) {
  const client = new DataSourceServiceClient(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
  });
  const request = DiscoverDataSourceRequest.fromPartial({
    dataSource: DataSource.fromPartial({
      id: `bench-${source.type}`,
      type: source.type,
      // A MySQL/MariaDB source that names a database is that database only (issue 16): the
      // bench's catalog is ten databases, so the MariaDB source names none.
      primary: { host: source.host, port: source.port, database: source.type === 'mariadb' ? '' : source.database },
      credentials: { username: source.user, password: { source: { $case: 'inlineValue', value: source.password } } },
    }),
    filter: { includeSchemas: ['bench_*'] },
    strategy,
    batchSize: Number(process.env['BENCH_BATCH_SIZE'] ?? 0),
  });
  let first = 0;
  let relations = 0;
  let columns = 0;
  let batches = 0;
  const warnings: string[] = [];
  const started = performance.now();
  try {
    const stream = client.discoverDataSource(request, new Metadata());
    for await (const e of stream as AsyncIterable<DiscoverDataSourceResponse>) {
      const event = e.event;
      if (event?.$case === 'batch') {
        if (!first) first = performance.now() - started;
        batches++;
        relations += event.value.relations.length;
        for (const r of event.value.relations) columns += r.columns.length;
      } else if (event?.$case === 'warning') {
        warnings.push(`${event.value.code}: ${event.value.message}`);
      }
    }
  } finally {
    client.close();
  }
  return { firstMs: first, totalMs: performance.now() - started, relations, columns, batches, warnings };
}

/**
 * Starts a fresh daemon, runs one discovery with the strategy (batch size 0: its default),
 * stops the daemon. `serverCpu` reads the database server's CPU time (ms), sampled around the call.
 */
export async function runSourced(source: SourceSpec, strategyName: string, serverCpu?: () => number): Promise<SourcedResult> {
  const strategy = parseStrategy(strategyName);
  const daemon = await startDaemonProcess();
  try {
    const baselineRss = daemon.memory().rss;
    const daemonCpu0 = processCpuMs(daemon.pid);
    const serverCpu0 = serverCpu?.();
    const r = await discover(daemon.address, source, strategy);
    const serverCpuMs = serverCpu && serverCpu0 !== undefined ? serverCpu() - serverCpu0 : undefined;
    const daemonCpuMs = processCpuMs(daemon.pid) - daemonCpu0;
    const peakRss = daemon.memory().hwm;
    const stderr = daemon.stderr().trim();
    if (stderr) process.stderr.write(`  daemon said: ${stderr.split('\n').slice(0, 5).join('\n  ')}\n`);
    return { strategy: strategyName.toUpperCase().replace(/^DISCOVERY_STRATEGY_/, ''), baselineRss, peakRss, daemonCpuMs, serverCpuMs, ...r };
  } catch (error) {
    const stderr = daemon.stderr().trim();
    throw new Error(`${(error as Error).message}${stderr ? `\n  daemon said: ${stderr}` : ''}`);
  } finally {
    await daemon.stop();
  }
}
