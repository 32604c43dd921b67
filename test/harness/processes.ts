/**
 * The process side of the throwaway servers (test/harness/postgres.ts and mariadb.ts): running
 * a server tool to its end (as the server's own account when the tests run as root), watching
 * a server's pid until it is gone, and the account ids its folders are handed to.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

/** The tests run as root (as on these machines): servers then run as their own account. */
export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** What a tool printed. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Options of {@link runTool}. */
export interface RunOptions {
  /** Run as this account (through runuser) when the tests run as root. */
  asUser?: string;
  input?: string;
  cwd?: string;
  /** The tool's environment: the tests' own in the C locale unless given. */
  env?: NodeJS.ProcessEnv;
  /** Killed after this long (120 s unless given). */
  timeoutMs?: number;
}

/**
 * Runs a tool to its end; resolves with its output, rejects (the output attached) when it
 * exits with anything but 0, is killed at the timeout, or cannot start.
 */
export function runTool(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, argv] = opts.asUser && isRoot ? ['runuser', ['-u', opts.asUser, '--', cmd, ...args]] : [cmd, args];
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: opts.cwd,
      env: opts.env ?? { ...process.env, LC_ALL: 'C', LANG: 'C' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${cmd}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else {
        const err = new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}: ${stderr.trim() || stdout.trim()}`) as Error & RunResult;
        err.stdout = stdout;
        err.stderr = stderr;
        reject(err);
      }
    });
    child.stdin.on('error', () => undefined); // EPIPE if the child dies early; reported via exit code
    child.stdin.end(opts.input ?? '');
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** True if `pid` exists and is not a zombie (an orphaned server may linger unreaped briefly). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return existsSync('/proc/self') ? false : true;
  }
}

/** Waits up to `ms` for `pid` to be gone; true when it is. */
export async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (!pidAlive(pid)) return true;
    await sleep(50);
  }
  return !pidAlive(pid);
}

const accountIdsCache = new Map<string, Promise<[number, number]>>();
/** uid and gid of a local account (`postgres`, `mysql`), which a server runs as when the tests run as root. */
export function accountIds(account: string): Promise<[number, number]> {
  let ids = accountIdsCache.get(account);
  if (!ids) {
    ids = (async () => {
      const uid = Number((await runTool('id', ['-u', account])).stdout.trim());
      const gid = Number((await runTool('id', ['-g', account])).stdout.trim());
      if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`no ${account} user`);
      return [uid, gid] as [number, number];
    })();
    accountIdsCache.set(account, ids);
  }
  return ids;
}
