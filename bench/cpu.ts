/**
 * CPU time from /proc, in milliseconds (utime + stime, at the kernel's clock tick: 10 ms
 * here). A server's CPU per pass is the difference of {@link serverCpuMs} around it: for
 * PostgreSQL the postmaster and its children (a backend that exits is added to the
 * postmaster's cutime/cstime when reaped, so a pass's sessions count even after they end;
 * background workers count too, which adds a little noise); for MariaDB the server process
 * (its threads included).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TICK_MS = 10; // getconf CLK_TCK = 100 on Linux

/** Fields of /proc/<pid>/stat after the command name: [0] state, [1] ppid, ... [11] utime, [12] stime, [13] cutime, [14] cstime. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // exited meanwhile
  }
}

/** CPU time of one process (its threads included), ms. */
export function processCpuMs(pid: number, withReapedChildren = false): number {
  const f = statFields(pid);
  if (!f) return 0;
  const own = Number(f[11]) + Number(f[12]);
  return (withReapedChildren ? own + Number(f[13]) + Number(f[14]) : own) * TICK_MS;
}

/** CPU time of a process and every live child, plus the children it has reaped, ms. */
export function processTreeCpuMs(pid: number): number {
  let total = processCpuMs(pid, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f && Number(f[1]) === pid) total += (Number(f[11]) + Number(f[12])) * TICK_MS;
  }
  return total;
}

/** The postmaster's pid, from the data directory's postmaster.pid. */
export function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}
