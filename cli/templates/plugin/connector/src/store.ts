/**
 * A toy database, so that the generated plugin works before you write anything: one JSON file
 * (test/fixture/shop.json shows the format) inside the folder the operator names. Replace this
 * file with your driver: `openStore` becomes your connect, `Store` your connection, and the
 * reads in src/connector.ts become your catalog queries.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { InputError, UnavailableError, throwIfAborted } from '@sourced/plugin-sdk';

/** One table of the toy database. */
export interface StoreTable {
  schema: string;
  name: string;
  /** `table` (default) or `view`. */
  kind?: 'table' | 'view';
  columns: { name: string; type: string; nullable?: boolean }[];
  /** Column names of the primary key, if any. */
  primaryKey?: string[];
  rows?: unknown[][];
}

/** An open "connection": the parsed file. */
export interface Store {
  /** The path as the caller wrote it (never the operator's root: it goes into messages). */
  readonly given: string;
  readonly tables: StoreTable[];
  closed: boolean;
}

/** The request field that names the database file; errors about it name it exactly. */
export const DATABASE_FIELD = 'data_source.primary.database';

/**
 * Resolves the caller's path inside `root`, refusing anything outside it with an InputError
 * naming the field (INVALID_ARGUMENT, never INTERNAL). A network connector has no such step:
 * the daemon's target policy decides where it may connect (use `args.targets` to dial).
 */
export function confine(root: string, given: string | undefined): string {
  if (!given) throw new InputError([{ field: DATABASE_FIELD, description: 'is required: the path of a database file inside the plugin\'s folder' }]);
  const path = resolve(root, given);
  const rel = relative(root, path);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new InputError([{ field: DATABASE_FIELD, description: `"${given}" is outside the folder the plugin may read; give a path inside it` }], {
      reason: 'DATABASE_PATH_OUTSIDE_ROOT',
    });
  }
  return path;
}

/**
 * Opens the toy database. A source that cannot be reached is an UnavailableError with a stable
 * reason (UNAVAILABLE); wrong credentials would be a NotAllowedError (PERMISSION_DENIED). Put
 * the fix in the message: it reaches the caller as is. Honour `signal`.
 */
export async function openStore(path: string, given: string, signal: AbortSignal): Promise<Store> {
  throwIfAborted(signal);
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', signal });
  } catch (error) {
    throwIfAborted(signal);
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UnavailableError(
      code === 'ENOENT' ? 'DATABASE_FILE_NOT_FOUND' : 'DATABASE_FILE_UNREADABLE',
      `cannot open "${given}" (${code}). Check primary.database: a file inside the plugin's folder`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UnavailableError('DATABASE_FILE_INVALID', `"${given}" is not a database file (not JSON). Check primary.database`);
  }
  const tables = (parsed as { tables?: unknown }).tables;
  if (!Array.isArray(tables)) throw new UnavailableError('DATABASE_FILE_INVALID', `"${given}" holds no "tables" list. Check primary.database`);
  return { given, tables: tables as StoreTable[], closed: false };
}
