import { readFile } from 'node:fs/promises';

/**
 * Reads the statements one application logged on a harness PostgreSQL started with
 * `log_statement = all` (log_line_prefix `%m [%p] %a `), a little at a time: each call returns
 * the entries written since the previous one, a statement with its continuation lines joined
 * (and `parameters: ...` entries after those that had some).
 */
export function statementLog(logFile: string, application = 'sourced'): () => Promise<string[]> {
  let offset = 0;
  return async () => {
    const all = await readFile(logFile, 'utf8');
    const fresh = all.slice(offset);
    offset = all.length;
    const out: string[] = [];
    let current: string | undefined;
    for (const line of fresh.split('\n')) {
      const head = /^\S+ \S+ \S+ \[\d+\] (\S*) (\w+): {2}(.*)$/.exec(line);
      if (head) {
        if (current !== undefined) out.push(current);
        current = head[1] === application ? head[3] : undefined;
      } else if (current !== undefined) current += `\n${line}`;
    }
    if (current !== undefined) out.push(current);
    return out;
  };
}
