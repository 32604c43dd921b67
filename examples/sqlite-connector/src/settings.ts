import { realpathSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';

/** The operator's settings of the plugin: the daemon config's `pluginSettings.sqlite`. */
export interface SqliteSettings {
  /**
   * The folder whose database files the connector may open (an absolute path). Paths in
   * `primary.database` are resolved against it, and nothing outside it is ever opened.
   */
  root: string;
  /** Largest file (bytes) the `quick-check` validation check reads in full; default 64 MiB. */
  quickCheckMaxBytes?: number;
}

/** Settings after checking: the root as its real path (symbolic links resolved). */
export interface ResolvedSqliteSettings {
  root: string;
  quickCheckMaxBytes: number;
}

const DEFAULT_QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Checks `pluginSettings.sqlite`; throws an Error naming the bad setting (the daemon then lists
 * the plugin as FAILED with that message).
 */
export function parseSettings(value: unknown): ResolvedSqliteSettings {
  const where = 'pluginSettings.sqlite';
  if (value === undefined || value === null) {
    throw new Error(`${where}.root is required: the folder whose SQLite files the connector may open (for example { "root": "/srv/sqlite" })`);
  }
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where} must be an object such as { "root": "/srv/sqlite" }`);
  const { root, quickCheckMaxBytes, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new Error(`${where} has unknown settings: ${unknown.join(', ')} (known: root, quickCheckMaxBytes)`);
  if (root === undefined || root === null || root === '') {
    throw new Error(`${where}.root is required: the folder whose SQLite files the connector may open`);
  }
  if (typeof root !== 'string') throw new Error(`${where}.root must be a string (an absolute folder path)`);
  if (!isAbsolute(root)) throw new Error(`${where}.root must be an absolute path; got "${root}"`);
  let real: string;
  try {
    real = realpathSync(root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`${where}.root "${root}" ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})`}`);
  }
  if (!statSync(real).isDirectory()) throw new Error(`${where}.root "${root}" is not a folder`);
  if (quickCheckMaxBytes !== undefined && (typeof quickCheckMaxBytes !== 'number' || !Number.isSafeInteger(quickCheckMaxBytes) || quickCheckMaxBytes < 0)) {
    throw new Error(`${where}.quickCheckMaxBytes must be a whole number of bytes (0 turns the quick check off)`);
  }
  return { root: real, quickCheckMaxBytes: quickCheckMaxBytes ?? DEFAULT_QUICK_CHECK_MAX_BYTES };
}
