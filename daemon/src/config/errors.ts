/**
 * Configuration errors: each names the option's path, where the bad value came from (the file,
 * a variable, a flag) and what was expected, and an unknown key gets the nearest known one.
 */
import type { z } from 'zod';
import { ConfigError } from './configError';
import { formatPath, keysAt } from './fields';
import { show } from './kinds';

export { ConfigError };

/** The edit distance of two keys, case-insensitive (a misspelling, not a different option). */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    row = next;
  }
  return row[y.length];
}

/** The known key `key` was most likely meant to be, if one is close enough. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  const best = known
    .map((k) => ({ k, d: distance(key, k) }))
    .sort((a, b) => a.d - b.d)
    .at(0);
  if (best && best.d <= Math.max(2, Math.floor(key.length / 4))) return best.k;
  // `keyFile` for `key`, `tlsCert` for `cert`: one holds the other.
  const lower = key.toLowerCase();
  return known.find((k) => k.length >= 3 && (lower.includes(k.toLowerCase()) || k.toLowerCase().includes(lower)));
}

/**
 * Messages for what the schema's own nodes leave to zod (objects, maps, lists, missing keys),
 * passed to every parse; the leaves' messages come from `kinds.ts`.
 */
export function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type') {
    const inst = issue.inst as { def?: { type?: string }; shape?: Record<string, unknown> } | undefined;
    const got = issue.input === undefined ? 'missing' : `got ${show(issue.input)}`;
    if (issue.expected === 'object' && inst?.shape) return `expected an object with ${Object.keys(inst.shape).join(', ')}; ${got}`;
    if (issue.expected === 'record' || inst?.def?.type === 'record') return `expected a map (name: value); ${got}`;
    if (issue.expected === 'array') return `expected a list; ${got}`;
    return `expected ${String(issue.expected)}; ${got}`;
  }
  return undefined;
}

/** Where a layer's value came from, as a message says it around the option's path. */
export interface Origin {
  /** `preview.maxRows in /etc/sourced.yaml`, `environment variable SOURCED_X`, `flag --listen`. */
  name(path: string): string;
}

/** One line per problem: the path (the unknown key itself for an unknown key), the origin, the message. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], originOf: (path: readonly PropertyKey[]) => Origin | undefined): string {
  const lines: string[] = [];
  for (const issue of issues) {
    const at = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(at) ?? [];
      for (const key of issue.keys) {
        const path = formatPath([...at, key]);
        const hint = suggest(key, known);
        lines.push(`${where(path, originOf([...at, key]))}: unknown key${hint ? ` (did you mean ${hint}?)` : ''}; known: ${known.join(', ')}`);
      }
      continue;
    }
    const path = formatPath(at);
    lines.push(`${where(path || '(the top level)', originOf(at))}: ${issue.message}`);
  }
  return lines.join('\n');
}

const where = (path: string, origin: Origin | undefined) => (origin ? origin.name(path) : path);

/** Throws a ConfigError for a failed parse. */
export function throwIssues(error: z.ZodError, originOf: (path: readonly PropertyKey[]) => Origin | undefined): never {
  throw new ConfigError(formatIssues(error.issues, originOf));
}
