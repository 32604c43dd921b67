import type { Duplex } from 'node:stream';
import { applyKeepAlive, scrubbedErrorText, tlsSessionOf, type ConnectionArgs, type Logger, type SourceIdentity, type TlsSession } from '@sourced/core';
import type { Connection } from 'mysql2';
import { openConnection } from './driver';
import { isConnectionError } from './mysqlErrors';
import { endConnection, query, registerCancelTarget } from './query';

/**
 * Server-side limit of each statement of a session when the caller sets none (validation), so
 * a stuck catalog read ends on its own; discovery sets its strategy's.
 */
export const STATEMENT_TIMEOUT_MS = 30_000;
/**
 * The session's sql_mode. Set explicitly because mysql2 escapes `?` values with backslashes,
 * which a server-wide NO_BACKSLASH_ESCAPES would turn into an injection; and so that
 * ANSI_QUOTES or PIPES_AS_CONCAT of the server never change what the catalog SQL means.
 */
export const SESSION_SQL_MODE = 'NO_ENGINE_SUBSTITUTION';
/**
 * The user variable in which a MariaDB session keeps the sql_mode it started with (the
 * server's default for this account: `@@GLOBAL.sql_mode`, or what `init_connect` made of it),
 * saved by the same SET that replaces it. Catalog reads whose answer depends on sql_mode
 * (a view's column nullability and defaults: MariaDB works them out when the view is opened,
 * so a non-strict mode turns `concat(...)` into NOT NULL DEFAULT '') run under it with
 * `SET STATEMENT sql_mode = @sourced_server_sql_mode FOR ...`: the statement is still parsed
 * under {@link SESSION_SQL_MODE}, so escaping and quoting keep their meaning.
 */
export const SERVER_SQL_MODE_VARIABLE = '@sourced_server_sql_mode';

/** Which server family. */
export type Flavour = 'MariaDB' | 'MySQL';

/** A server's version, from its greeting. */
export interface ServerVersion {
  flavour: Flavour;
  major: number;
  minor: number;
  patch: number;
  /** As the server states it, without MariaDB's `5.5.5-` replication prefix. */
  text: string;
}

/** What is known about an open session. */
export interface SessionInfo {
  version: ServerVersion;
  connectionId: number;
  /** The client auth plugin that logged in (see `Handshake.authPlugin`). */
  authPlugin: string;
  /** The TLS session, when the connection is encrypted. */
  tls?: TlsSession;
}

const sessions = new WeakMap<Connection, SessionInfo>();

/** The facts of a session opened by {@link connectSession}. */
export function sessionOf(conn: Connection): SessionInfo {
  const info = sessions.get(conn);
  if (!info) throw new Error('not a connection opened by connectSession');
  return info;
}

/**
 * Parses the version string of a server greeting: MariaDB sends `5.5.5-10.11.19-MariaDB-...`
 * (the prefix is for old replication clients), MySQL `8.0.36` or `8.4.0-commercial`.
 */
export function parseServerVersion(raw: string): ServerVersion {
  const mariadb = /mariadb/i.test(raw);
  const text = mariadb ? raw.replace(/^5\.5\.5-/, '') : raw;
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  return {
    flavour: mariadb ? 'MariaDB' : 'MySQL',
    major: m ? Number(m[1]) : 0,
    minor: m ? Number(m[2]) : 0,
    patch: m ? Number(m[3]) : 0,
    text,
  };
}

/** Whether a version is at least major.minor. */
export function atLeast(v: ServerVersion, major: number, minor = 0): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/**
 * The session's statement time limit as the server takes it: MariaDB `max_statement_time` in
 * seconds (fractions allowed), MySQL `max_execution_time` in whole milliseconds. 0 is no limit
 * on both.
 */
export function statementTimeLimit(flavour: Flavour, timeoutMs: number): number {
  const ms = Math.max(0, timeoutMs);
  return flavour === 'MariaDB' ? ms / 1000 : Math.ceil(ms);
}

/**
 * Opens one connection and prepares the session in one round trip: a statement time limit
 * (`args.statementTimeoutMs`, the discovery strategy's, else {@link STATEMENT_TIMEOUT_MS}:
 * MariaDB `max_statement_time` in seconds, MySQL `max_execution_time` in milliseconds, which
 * bounds SELECTs only), UTC (so catalog times convert to RFC 3339), and a known sql_mode
 * (on MariaDB the one it replaces is kept in {@link SERVER_SQL_MODE_VARIABLE}; the assignments
 * of one SET run in order).
 * Honours `signal`. An 'error' listener logs failures of the idle connection, so one that
 * dies never crashes the process; the next statement on it fails instead.
 */
export async function connectSession(args: ConnectionArgs, signal: AbortSignal, logger: Logger): Promise<Connection> {
  const { conn, handshake } = await openConnection(args, signal);
  conn.on('error', (error: unknown) =>
    logger.warn('MySQL connection failed while idle', { host: args.host, port: args.port, error: scrubbedErrorText(error, [args.password, args.tls?.key]) }),
  );
  // The interval and count of keep-alive's probes (mysql2 sets only the idle time); MariaDB's
  // own tcp_keepalive_* are server-wide (GLOBAL), not a session's to set.
  if (args.keepAlive) applyKeepAlive((conn as unknown as { stream: Duplex }).stream);
  const version = parseServerVersion(handshake.serverVersion);
  registerCancelTarget(conn, args, handshake.connectionId);
  sessions.set(conn, {
    version,
    connectionId: handshake.connectionId,
    authPlugin: handshake.authPlugin,
    tls: handshake.tls ? tlsSessionOf(handshake.tls) : undefined,
  });
  const setup =
    version.flavour === 'MariaDB'
      ? `SET SESSION max_statement_time = ?, SESSION time_zone = '+00:00', ${SERVER_SQL_MODE_VARIABLE} = @@SESSION.sql_mode, SESSION sql_mode = ?`
      : "SET SESSION max_execution_time = ?, SESSION time_zone = '+00:00', SESSION sql_mode = ?";
  try {
    await query(conn, setup, [statementTimeLimit(version.flavour, args.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS), SESSION_SQL_MODE], signal);
  } catch (error) {
    await endConnection(conn, 0);
    throw error;
  }
  return conn;
}

interface IdentityRow {
  db: string | null;
  usr: string;
  port: number | string;
  server_id: number | string;
  host: string;
  version: string;
  uuid: string | null;
  started: number | string | null;
}

/**
 * Who answered a session, in one statement: the database, the user, the port, the server
 * (MySQL's `server_uuid`; MariaDB has none, so its host name and `server_id`), the version, and
 * when it started (the server's clock minus `Uptime`, to the second; MariaDB keeps status in
 * information_schema, MySQL 8 in performance_schema).
 */
export async function readSessionIdentity(conn: Connection, signal: AbortSignal): Promise<SourceIdentity> {
  const { flavour } = sessionOf(conn).version;
  const [uuid, uptime] =
    flavour === 'MariaDB'
      ? ['NULL', "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME')"]
      : ['@@server_uuid', "(SELECT VARIABLE_VALUE FROM performance_schema.global_status WHERE VARIABLE_NAME = 'Uptime')"];
  const select = (started: string) =>
    query<IdentityRow>(
      conn,
      `SELECT DATABASE() AS db, SUBSTRING_INDEX(USER(), '@', 1) AS usr, @@port AS port, @@server_id AS server_id, @@hostname AS host,
              VERSION() AS version, ${uuid} AS uuid, ${started} AS started`,
      [],
      signal,
    );
  // Status tables a server may keep from the user (performance_schema off or not granted): then without the start.
  const row = (
    await select(`UNIX_TIMESTAMP() - CAST(${uptime} AS UNSIGNED)`).catch((error: unknown) => {
      if (signal.aborted || isConnectionError(error)) throw error;
      return select('NULL');
    })
  ).at(0);
  if (!row) throw new Error('the identity query returned no row');
  return {
    database: row.db ?? '',
    user: row.usr,
    serverPort: Number(row.port),
    serverId: row.uuid ?? `${row.host}/server_id=${row.server_id}`,
    serverVersion: row.version,
    startedAt: row.started === null ? undefined : new Date(Number(row.started) * 1000).toISOString(),
  };
}
