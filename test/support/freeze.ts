import { execFileSync } from 'node:child_process';

/**
 * Freezes a server the way a hung host or a stopped VM looks to a client: SIGSTOP to the
 * server process and every process under it (PostgreSQL's backends are the postmaster's
 * children). The kernel still accepts connections and acknowledges TCP (keep-alive included),
 * but nothing answers. Returns `thaw`, which sends SIGCONT to the same processes.
 */
export function freeze(pid: number): () => void {
  const pids = [pid, ...descendants(pid)];
  for (const p of pids) signal(p, 'SIGSTOP');
  return () => {
    for (const p of pids) signal(p, 'SIGCONT');
  };
}

function descendants(pid: number): number[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when there are none
  }
  const children = out.split('\n').filter(Boolean).map(Number);
  return children.flatMap((c) => [c, ...descendants(c)]);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone meanwhile
  }
}
