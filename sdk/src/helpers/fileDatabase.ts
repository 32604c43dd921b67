/**
 * A base for file or embedded databases (SQLite, DuckDB, a folder of Parquet files): the
 * operator's root folder from `pluginSettings`, every path confined under it, the read-only
 * open, and the endpoint boilerplate a file has none of (no host, no port, no credentials, no
 * standby), on {@link defineConnector}.
 */
import { realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { defineConnector, InputError, type ConnectorCall, type ConnectorDefinition, type ConnectorSpec, type SessionsSpec } from '@sourced/core';

/** The request field that holds a file database's path. */
export const DATABASE_PATH_FIELD = 'data_source.primary.database';

/** A database path confined to the operator's root folder, by {@link confineToRoot}. */
export interface ConfinedPath {
  /** The absolute path to open (symbolic links resolved when the file exists). */
  path: string;
  /** The path as the caller wrote it, for messages (never the operator's root). */
  given: string;
  /** Whether the file exists (as far as the resolution could tell). */
  exists: boolean;
}

/**
 * Reads the operator's root folder from a plugin's settings (`pluginSettings.<pluginId>.<key>`,
 * default key `root`): it must be an absolute path to an existing folder; returns its real
 * path. Call it in `register` and let its Error stand: the plugin is then listed as FAILED
 * with a message naming the setting.
 *
 * @throws Error naming the setting when it is missing, not absolute, missing on disk, or not a folder.
 */
export function fileRootSetting(settings: unknown, pluginId: string, key = 'root'): string {
  const where = `pluginSettings.${pluginId}.${key}`;
  const value = typeof settings === 'object' && settings !== null && !Array.isArray(settings) ? (settings as Record<string, unknown>)[key] : undefined;
  if (value === undefined || value === null || value === '') {
    throw new Error(`${where} is required: the folder whose database files the connector may open (for example { "${key}": "/srv/${pluginId}" })`);
  }
  if (typeof value !== 'string') throw new Error(`${where} must be a string (an absolute folder path)`);
  if (!isAbsolute(value)) throw new Error(`${where} must be an absolute path; got "${value}"`);
  let real: string;
  try {
    real = realpathSync(value);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`${where} "${value}" ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})`}`, { cause: error });
  }
  if (!statSync(real).isDirectory()) throw new Error(`${where} "${value}" is not a folder`);
  return real;
}

function inside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * Resolves `given` (relative to `root`, or absolute) and refuses, with an InputError naming
 * `field` (reason `DATABASE_PATH_OUTSIDE_ROOT`), any path that leaves `root`: through `..`,
 * as an absolute path elsewhere, or through a symbolic link (of the file or of a folder on the
 * way) that points out of it. Empty paths, NUL characters, `file:` URIs and `:memory:` are
 * refused too (an InputError, reason `INVALID_DATA_SOURCE`). `root` must be a real path (what
 * {@link fileRootSetting} returns). A file that does not exist yet is confined by its nearest
 * existing folder.
 *
 * @throws InputError naming `field`.
 */
export function confineToRoot(root: string, given: string, field: string = DATABASE_PATH_FIELD): ConfinedPath {
  const invalid = (description: string) => new InputError([{ field, description }], { reason: 'INVALID_DATA_SOURCE' });
  const refuse = (description: string) => new InputError([{ field, description }], { reason: 'DATABASE_PATH_OUTSIDE_ROOT' });
  if (given.includes('\0')) throw invalid('contains a NUL character');
  if (/^file:/i.test(given) || given === ':memory:' || given.trim() === '') {
    throw invalid('must be the path of a database file inside the folder the plugin serves (no URIs, no :memory:)');
  }
  const candidate = resolve(root, given);
  if (candidate === root) throw invalid(`"${given}" names the plugin's folder itself; give the path of a database file inside it`);
  if (!inside(root, candidate)) throw refuse(`"${given}" is outside the folder the plugin may read; give a path inside it, relative to it`);
  const through = () => refuse(`"${given}" leads through a symbolic link out of the folder the plugin may read`);
  // Follow links: the real path of the file, or of its nearest existing folder.
  for (let probe = candidate; ; probe = dirname(probe)) {
    let real: string;
    try {
      real = realpathSync(probe);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw invalid(`"${given}" cannot be resolved (${code ?? 'error'})`);
      if (dirname(probe) === probe) return { path: candidate, given, exists: false };
      continue;
    }
    if (probe === candidate) {
      if (!inside(root, real)) throw through();
      return { path: real, given, exists: true };
    }
    if (real !== root && !inside(root, real)) throw through();
    return { path: candidate, given, exists: false };
  }
}

/** How a file database opens: the confined file, and the hints every open should follow. */
export interface FileOpenRequest {
  /** The database file, confined under the operator's root. */
  file: ConfinedPath;
  /**
   * Always true: sourced only reads. Open the file read-only (`{ readonly: true }`,
   * `SQLITE_OPEN_READONLY`, `access_mode = 'READ_ONLY'`), so that no statement and no
   * journal can change it, and require it to exist (`fileMustExist`).
   */
  readOnly: true;
  /** How long a statement may wait for a writer's lock: the strategy's statement time limit, at most 5 s. */
  busyTimeoutMs: number;
  /** The strategy's statement time limit, milliseconds (give it to {@link withStatementLimit}); undefined when none is set. */
  statementTimeoutMs?: number;
}

/**
 * What {@link defineFileConnector} takes: {@link ConnectorSpec} without the endpoint parts
 * (a file has no host, port, credentials or standby), plus how to open and close the file.
 */
export interface FileConnectorSpec<TConn> extends Omit<ConnectorSpec<TConn>, 'sessions' | 'addressing' | 'defaultPort'> {
  /** The operator's root folder (from {@link fileRootSetting} in `register`): paths are confined under it. */
  root: string;
  /** Opens the file (it is confined, and the request says how to open it). Honour `signal`. */
  open: (request: FileOpenRequest, signal: AbortSignal, call: ConnectorCall<TConn>) => Promise<TConn>;
  /** Closes it; must not throw. */
  close: (conn: TConn) => Promise<void>;
  /** Whether an error means the file is gone or the handle broken; default: never (a file does not fail over). */
  isConnectionError?: (error: unknown) => boolean;
}

/** How long an open file waits for a writer's lock at most, milliseconds. */
export const MAX_BUSY_TIMEOUT_MS = 5000;

/**
 * Declares a connector for a file or embedded database: {@link defineConnector} with
 * `addressing: 'file'` (`primary.database` is the path; no host), port 0, and sessions that
 * confine the path under `root` ({@link confineToRoot}: an InputError naming
 * `data_source.primary.database` otherwise) and open it read-only. A data source with a
 * `secondary` endpoint is refused (an InputError naming `data_source.secondary`): a file has no
 * standby to fail over to. Catalog, preview, profile and checks are given as to
 * `defineConnector`, each with the open connection.
 *
 * ```ts
 * export const duckdb = defineFileConnector<DuckDbConnection>({
 *   type: 'duckdb', displayName: 'DuckDB', root,
 *   open: async ({ file }) => (await DuckDBInstance.create(file.path, { access_mode: 'READ_ONLY' })).connect(),
 *   close: async (conn) => conn.closeSync(),
 *   catalog: { listSchemas, listRelations },
 *   preview: { previewColumns, previewRows },
 * });
 * ```
 */
export function defineFileConnector<TConn>(spec: FileConnectorSpec<TConn>): ConnectorDefinition {
  const { root, open, close, isConnectionError, ...rest } = spec;
  const sessions = (call: ConnectorCall<TConn>): SessionsSpec<TConn> => ({
    open: async (args, signal) => {
      if (call.source.secondary) {
        throw new InputError([{ field: 'data_source.secondary', description: `a ${spec.displayName} file has no standby: leave secondary out` }], {
          reason: 'INVALID_DATA_SOURCE',
        });
      }
      const file = confineToRoot(root, args.database ?? '');
      const limit = args.statementTimeoutMs;
      return open(
        { file, readOnly: true, busyTimeoutMs: Math.min(limit ?? MAX_BUSY_TIMEOUT_MS, MAX_BUSY_TIMEOUT_MS), statementTimeoutMs: limit },
        signal,
        call,
      );
    },
    close: (conn) => close(conn).catch(() => undefined),
    isConnectionError: (error) => isConnectionError?.(error) ?? false,
  });
  return defineConnector<TConn>({ ...rest, addressing: 'file', defaultPort: 0, sessions });
}
