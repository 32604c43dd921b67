import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { freePort } from '../../harness/ports';

/** The `sourced` executable as npm installs it (@sourced/cli); it runs the built `cli/dist` and `daemon/dist` (`npm test` builds first). */
import { captureSource, captureText } from '../../support/secretScan';

export const SOURCED_BIN = resolve(__dirname, '../../../cli/bin/sourced.js');

function assertBuilt(): void {
  if (!existsSync(resolve(__dirname, '../../../cli/dist/main.js')) || !existsSync(resolve(__dirname, '../../../daemon/dist/index.js'))) {
    throw new Error('cli/dist or daemon/dist is missing: run `npm run build` (npm test does) before the end-to-end suites');
  }
}

/**
 * The environment of a subprocess: this process's, without the variables that would change
 * what the daemon or the client does (`SOURCED_*`, `OTEL_*`, `NODE_OPTIONS`, and the colour
 * switches `FORCE_COLOR`/`NO_COLOR` that a test runner may set), plus `extra`.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(SOURCED_|OTEL_)/.test(k) && !['NODE_OPTIONS', 'FORCE_COLOR', 'NO_COLOR'].includes(k)) env[k] = v;
  return { ...env, ...extra };
}

/** How a process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A `sourced serve` subprocess. */
export interface DaemonProcess {
  child: ChildProcess;
  /** `127.0.0.1:<port>` it listens on. */
  address: string;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far (JSON log lines). */
  stderr(): string;
  /** The stderr lines that are JSON log records. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves when a log record with this `msg` has been written. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Settles when the process has exited. */
  exited: Promise<Exit>;
  /** Sends SIGTERM and waits for the exit. */
  terminate(): Promise<Exit>;
  /** SIGKILL if still running (cleanup after a failed test). */
  kill(): void;
}

export interface DaemonProcessOptions {
  /** Extra `sourced serve` flags. */
  args?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
}

/**
 * Starts `sourced serve --listen 127.0.0.1:<free port>` as a subprocess and resolves once its
 * log says "sourced listening". Tries another port when the one picked was taken meanwhile.
 */
export async function startDaemonProcess(options: DaemonProcessOptions = {}): Promise<DaemonProcess> {
  assertBuilt();
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await spawnDaemon(port, options);
    } catch (error) {
      if (attempt < 3 && /cannot listen|EADDRINUSE/.test(String(error))) continue;
      throw error;
    }
  }
}

async function spawnDaemon(port: number, options: DaemonProcessOptions): Promise<DaemonProcess> {
  const address = `127.0.0.1:${port}`;
  const child = spawn(process.execPath, [SOURCED_BIN, 'serve', '--listen', address, ...(options.args ?? [])], {
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    listeners.forEach((l) => l());
  });
  const exited = new Promise<Exit>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  const logs = () =>
    err.split('\n').flatMap((line) => {
      try {
        const record = JSON.parse(line) as unknown;
        return record && typeof record === 'object' ? [record as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  const waitForLog = (msg: string, timeoutMs = 15_000) =>
    new Promise<Record<string, unknown>>((resolveLog, reject) => {
      const check = () => {
        const found = logs().find((r) => r.msg === msg);
        if (found) {
          cleanup();
          resolveLog(found);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no "${msg}" log line within ${timeoutMs} ms; stderr:\n${err}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      void exited.then((exit) => {
        if (!listeners.has(check)) return;
        cleanup();
        reject(new Error(`sourced serve exited (${exit.code ?? exit.signal}) before logging "${msg}"; stderr:\n${err}`));
      });
      check();
    });
  captureSource('daemon process output', () => `${out}\n${err}`);
  const daemon: DaemonProcess = {
    child,
    address,
    stdout: () => out,
    stderr: () => err,
    logs,
    waitForLog,
    exited,
    terminate() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  try {
    await waitForLog('sourced listening');
  } catch (error) {
    daemon.kill();
    throw error;
  }
  return daemon;
}

/** What a finished `sourced` command printed and returned. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sourced ARGS...` as a person would, to completion (killed after `timeoutMs`, which then fails the test). */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<CliResult> {
  assertBuilt();
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [SOURCED_BIN, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) reject(new Error(`sourced ${args.join(' ')} was killed (${signal}), probably hung; stdout:\n${stdout}\nstderr:\n${stderr}`));
      else {
        captureText('CLI output', `${stdout}\n${stderr}`);
        resolveRun({ code, stdout, stderr });
      }
    });
  });
}

/** Whether util-linux `script` is there to give a command a pseudo-terminal. */
export function hasScript(): boolean {
  return spawnSync('sh', ['-c', 'command -v script'], { stdio: 'ignore' }).status === 0;
}

/** What a `sourced` command wrote to its terminal (stdout and stderr together, as a person sees them). */
export interface PtyResult {
  code: number | null;
  /** Everything written to the terminal, "\r\n" turned back into "\n" (a lone "\r" is the program's). */
  output: string;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `sourced ARGS...` on a pseudo-terminal (util-linux `script -qfec CMD /dev/null`): stdout and
 * stderr are both the terminal, so the client draws its live lines and colours as for a person.
 * `script -e` exits with the command's code. Check `hasScript()` first.
 */
export function runCliInPty(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<PtyResult> {
  assertBuilt();
  const command = [process.execPath, SOURCED_BIN, ...args].map(shellQuote).join(' ');
  return new Promise((resolveRun, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: childEnv({ TERM: 'xterm-256color', SHELL: '/bin/sh', ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) reject(new Error(`sourced ${args.join(' ')} on a pty was killed (${signal}), probably hung; output:\n${output}`));
      else {
        captureText('CLI output (pty)', output);
        resolveRun({ code, output: output.replace(/\r\n/g, '\n') });
      }
    });
  });
}
