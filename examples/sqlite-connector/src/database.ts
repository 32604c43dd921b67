import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { InputError, NotAllowedError, NotFoundError, UnavailableError, type SourcedError } from '@sourced/plugin-sdk';
import { DATABASE_FIELD, type ConfinedPath } from './paths';

export type SqliteDatabase = Database.Database;

/** Why a database could not be opened, for a check result and for the error of a discovery. */
export interface OpenFailure {
  /** Stable reason (ErrorInfo). */
  reason: string;
  message: string;
  hint: string;
  /** The error discovery raises. */
  error: SourcedError;
}

/** How long a statement waits for a writer's lock before SQLITE_BUSY, milliseconds. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens the file read-only (it must exist), hardened for files of unknown origin: no
 * functions or virtual tables from the schema run (`trusted_schema = OFF`), and reads the
 * schema once (`PRAGMA schema_version`), so a file that is not a database fails here.
 * Returns the database, or why it could not be opened.
 */
export function tryOpenDatabase(target: ConfinedPath, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS): { db: SqliteDatabase } | { failure: OpenFailure } {
  const problem = fileProblem(target);
  if (problem) return { failure: problem };
  let db: SqliteDatabase | undefined;
  try {
    db = new Database(target.path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    db.pragma('trusted_schema = OFF');
    db.pragma('schema_version');
    return { db };
  } catch (error) {
    db?.close();
    return { failure: describeOpenFailure(error, target) };
  }
}

/** {@link tryOpenDatabase}, throwing the failure's error (InputError, NotFoundError, NotAllowedError, UnavailableError). */
export function openDatabase(target: ConfinedPath, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS): SqliteDatabase {
  const opened = tryOpenDatabase(target, busyTimeoutMs);
  if ('failure' in opened) throw opened.failure.error;
  return opened.db;
}

/** What is wrong with the file before SQLite sees it (missing, a folder, unreadable); undefined when nothing. */
export function fileProblem(target: ConfinedPath): OpenFailure | undefined {
  const given = target.given;
  try {
    const stat = statSync(target.path);
    if (!stat.isFile()) {
      const message = `"${given}" is not a regular file`;
      const hint = 'Give the path of a SQLite database file in primary.database, relative to the folder the sqlite plugin serves.';
      return { reason: 'SQLITE_NOT_A_FILE', message, hint, error: new InputError([{ field: DATABASE_FIELD, description: 'is not a regular file' }], { reason: 'SQLITE_NOT_A_FILE' }) };
    }
    return undefined;
  } catch (error) {
    return describeOpenFailure(error, target);
  }
}

/** Classifies an error of opening or first reading a database (Node's errno codes, SQLite's result codes). */
export function describeOpenFailure(error: unknown, target: ConfinedPath): OpenFailure {
  const code = String((error as { code?: unknown }).code ?? '');
  const given = target.given;
  const make = (reason: string, message: string, hint: string, build: (reason: string, message: string) => SourcedError): OpenFailure => ({
    reason,
    message,
    hint,
    error: build(reason, message),
  });
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'SQLITE_CANTOPEN') {
    return make(
      'SQLITE_FILE_NOT_FOUND',
      `no database file at "${given}"`,
      'Check primary.database: it is a path relative to the folder the sqlite plugin serves (pluginSettings.sqlite.root), and the file must exist.',
      (r, m) => new NotFoundError(r, m),
    );
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return make(
      'SQLITE_FILE_ACCESS_DENIED',
      `the daemon may not read "${given}"`,
      "Let the daemon's user read the file (and, for a database in WAL mode, its folder and -shm file).",
      (r, m) => new NotAllowedError(r, m),
    );
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    const reason = code === 'SQLITE_NOTADB' ? 'SQLITE_NOT_A_DATABASE' : 'SQLITE_CORRUPT';
    const message = code === 'SQLITE_NOTADB' ? `"${given}" is not a SQLite database` : `"${given}" is a damaged SQLite database`;
    return {
      reason,
      message,
      hint: code === 'SQLITE_NOTADB' ? 'Check primary.database names a SQLite 3 database file (it starts with "SQLite format 3").' : 'Restore the file from a backup, or recover it with the sqlite3 shell (.recover).',
      error: new InputError([{ field: DATABASE_FIELD, description: message.slice(`"${given}" `.length) }], { reason }),
    };
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return make('SQLITE_BUSY', `"${given}" is locked by a writer`, 'Try again when the writer is done; a database in WAL mode lets readers in while it writes.', (r, m) => new UnavailableError(r, m));
  }
  const detail = error instanceof Error ? error.message : String(error);
  return make('SQLITE_OPEN_FAILED', `could not open "${given}": ${detail}${code ? ` (${code})` : ''}`, 'Check the file and the disk it is on.', (r, m) => new UnavailableError(r, m));
}
