/**
 * The daemon as a process of its own (`node cli/dist/main.js serve`), so that its
 * memory is its own: resident set size now (VmRSS) and its high-water mark (VmHWM) come
 * from /proc/<pid>/status. VmHWM covers the process's whole life, so the benchmark starts a
 * fresh daemon for every measured run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { DataSourceServiceClient } from '@sourced/api';
import { freePort } from '../test/harness/ports';

/**
 * The daemon's entry point: this checkout's, or BENCH_DAEMON_MAIN's (another build's
 * `cli/dist/main.js`, to compare two versions on one catalog and machine).
 */
const MAIN = process.env['BENCH_DAEMON_MAIN'] ?? join(__dirname, '..', 'cli', 'dist', 'main.js');

export interface DaemonProcess {
  address: string;
  pid: number;
  /** VmRSS and VmHWM in bytes. */
  memory(): { rss: number; hwm: number };
  /** What the daemon wrote to stderr (warnings and errors only, at log level warn). */
  stderr(): string;
  stop(): Promise<void>;
}

/** VmRSS and VmHWM of a process, in bytes. */
export function processMemory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/**
 * The daemon's environment: no SOURCED_* or OTEL_* settings of the caller (no exporters, no
 * config file), but the settings BENCH_DAEMON_ENV names (space-separated `NAME=value`), for
 * measuring a setting: `BENCH_DAEMON_ENV="SOURCED_DISCOVERY_HEAP_HEADROOM_MB=0"`.
 */
function daemonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SOURCED_') && !k.startsWith('OTEL_')) env[k] = v;
  for (const pair of (process.env['BENCH_DAEMON_ENV'] ?? '').split(' ').filter((p) => p.includes('='))) {
    const at = pair.indexOf('=');
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

/**
 * Node options for the daemon process from BENCH_DAEMON_NODE_ARGS (space-separated), for
 * profiling a run: `BENCH_DAEMON_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` (Node
 * refuses --cpu-prof in NODE_OPTIONS). The profile is written when the daemon exits.
 */
function nodeArgs(): string[] {
  return (process.env['BENCH_DAEMON_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
}

async function startOnce(port: number, extraEnv: Record<string, string>): Promise<DaemonProcess> {
  const address = `127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs(), MAIN, 'serve', '--listen', address, '--log-level', 'warn'], {
    env: { ...daemonEnv(), ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;

  // Ready when a gRPC channel to it connects (it binds only after loading its plugins).
  const client = new DataSourceServiceClient(address, credentials.createInsecure());
  try {
    await Promise.race([
      new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 30_000, (error) => (error ? reject(error) : resolve()))),
      exited.then(() => {
        throw Object.assign(new Error(`the daemon exited: ${stderr.trim()}`), {
          addressInUse: /EADDRINUSE|address already in use|cannot listen/i.test(stderr),
        });
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    client.close();
  }

  return {
    address,
    pid,
    memory: () => processMemory(pid),
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts `sourced serve` on a free port of 127.0.0.1 at log level warn, with `env` added to
 * its environment (for example SOURCED_MAX_CONNECTIONS_PER_ENDPOINT); resolves once it accepts
 * gRPC connections.
 */
export async function startDaemonProcess(env: Record<string, string> = {}): Promise<DaemonProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(await freePort(), env);
    } catch (error) {
      if (attempt >= 5 || !(error as { addressInUse?: boolean }).addressInUse) throw error;
    }
  }
}
