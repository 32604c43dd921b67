import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import {
  abortedErrorFrom,
  applyKeepAlive,
  describeError,
  KEEPALIVE_COUNT,
  KEEPALIVE_IDLE_MS,
  KEEPALIVE_INTERVAL_MS,
  raceSignal,
  toNodeTlsOptions,
  type ConnectionArgs,
  type Logger,
  type SourceIdentity,
  TCP_USER_TIMEOUT_MS,
  type TlsArgs,
} from '@sourced/core';
import { Client } from 'pg';
import { endClient, query } from './query';

/**
 * Server-side limit of each statement of a session when the caller sets none (discovery sets
 * its strategy's), so a stuck catalog read ends on its own.
 */
export const STATEMENT_TIMEOUT_MS = 30_000;
/**
 * How long a statement waits for a lock. Some catalog functions lock the relation they
 * describe (`pg_get_viewdef` takes ACCESS SHARE), so a long `ALTER TABLE` or a
 * non-concurrent `REFRESH MATERIALIZED VIEW` would otherwise stall discovery until
 * statement_timeout.
 */
export const LOCK_TIMEOUT_MS = 10_000;

/**
 * The server's side of a HYBRID session's keep-alive, set per session (user-settable GUCs, so no
 * privilege is needed): the same idle time, interval and count as the daemon's side, so a dead
 * link frees the backend (and whatever it holds) within 25 s, and `tcp_user_timeout` (PostgreSQL
 * 12 and later; the CASE skips it on older servers, which do not know it) for results in flight.
 * The server reads the values back from its socket (`SHOW tcp_keepalives_interval`); on a Unix
 * socket they are ignored and read 0.
 */
const SERVER_KEEPALIVE_SQL = `
              set_config('tcp_keepalives_idle', '${KEEPALIVE_IDLE_MS / 1000}', false),
              set_config('tcp_keepalives_interval', '${KEEPALIVE_INTERVAL_MS / 1000}', false),
              set_config('tcp_keepalives_count', '${KEEPALIVE_COUNT}', false),
              CASE WHEN current_setting('server_version_num')::int >= 120000
                   THEN set_config('tcp_user_timeout', '${TCP_USER_TIMEOUT_MS}', false) END,`;

/** How the server authenticated the session, as far as the client can tell. */
export type AuthMethod = 'trust' | 'password' | 'md5' | 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS' | 'unknown';

/** A connected client and what was learnt while connecting. */
export interface OpenedClient {
  client: Client;
  authMethod: AuthMethod;
  /** Whether the session runs over TLS. */
  tls: boolean;
}

/** Thrown (inside pg) when the server asks for a password and the source has none. */
export class NoPasswordError extends Error {
  constructor() {
    super('the server asks for a password, but the data source has none');
    this.name = 'NoPasswordError';
  }
}

/**
 * Opens one pg client with the connection arguments and prepares the session
 * (statement_timeout, lock_timeout, search_path; with `args.keepAlive`, HYBRID, keep-alive's
 * interval and count on the daemon's socket and the server's keep-alive settings). Honours `signal`: when it fires while
 * connecting, the client is closed and the promise rejects with an `AbortedError`.
 * An 'error' listener is attached so that an idle connection that dies never crashes
 * the process; the next query on it fails instead.
 */
export async function connectClient(args: ConnectionArgs, signal: AbortSignal, logger: Logger): Promise<OpenedClient> {
  if (signal.aborted) throw abortedErrorFrom(signal);
  const password = args.password;
  const client = new Client({
    host: args.host,
    port: args.port,
    user: args.user,
    // The server's own default, given explicitly so that pg never falls back to PGDATABASE.
    database: args.database ?? args.user,
    // A function, so the secret is revealed only when the server asks for it, and so that
    // pg never falls back to PGPASSWORD or ~/.pgpass of the daemon's own account.
    password: () => {
      if (!password) throw new NoPasswordError();
      return password.reveal();
    },
    ssl: args.tls ? pgTlsOptions(args.tls, args.host) : false,
    application_name: args.applicationName,
    keepAlive: args.keepAlive,
    // Without it pg asks for keep-alive with the kernel's idle time: the first probe after 2 hours.
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    connectionTimeoutMillis: args.connectTimeoutMs,
    // pg connects the stream itself (connect(port, host)); the policy's socket resolves the
    // host through the target policy and dials only an address it allows.
    ...(args.targets ? { stream: () => (args.targets as NonNullable<typeof args.targets>).socket() } : {}),
  });
  client.on('error', (error) => logger.warn('PostgreSQL connection failed while idle', { host: args.host, port: args.port, error: describeError(error) }));
  const auth = watchAuthentication(client);

  const connecting = client.connect();
  connecting.catch(() => undefined); // settled or not, the race below decides
  try {
    await raceSignal(connecting, signal);
  } catch (error) {
    // pg never settles connect() once end() was called, hence the race; end it either way.
    await endClient(client, 0);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the signal may have fired during the await above; TS keeps the narrowing from the earlier check
    if (signal.aborted) throw abortedErrorFrom(signal);
    throw error;
  }
  // The interval and count of the daemon's own keep-alive probes (pg sets only the idle time).
  if (args.keepAlive) applyKeepAlive(client.connection.stream);
  const statementTimeout = args.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS;
  try {
    // One round trip. search_path = pg_catalog makes format_type(), pg_get_expr() and
    // pg_get_viewdef() qualify every non-catalog name, whoever the connecting user is.
    // jit = off: the planner's estimates for catalog functions (pg_partition_tree) are high
    // enough to trigger JIT compilation, which cost seconds per page on a 10,000-table
    // catalog for queries that run in milliseconds. No parallel workers either: catalog
    // pages are small, and the workers would be the source's, not ours to spend.
    // The same round trip reads who answered (LocationAwareConnector checks it before the
    // session is used). The system identifier needs EXECUTE on pg_control_system(), which a
    // provider may revoke: the CASE leaves it NULL then (an InitPlan runs only when reached).
    const rows = await query<IdentityRow>(
      client,
      `SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false),
              set_config('search_path', 'pg_catalog', false) AS search_path, set_config('jit', 'off', false),
              set_config('max_parallel_workers_per_gather', '0', false),${args.keepAlive ? SERVER_KEEPALIVE_SQL : ''}
              current_database() AS database, session_user AS "user", inet_server_port() AS server_port,
              CASE WHEN has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
                   THEN (SELECT system_identifier::text FROM pg_control_system()) END AS system_identifier,
              current_setting('server_version') AS server_version, pg_postmaster_start_time() AS started_at`,
      [`${statementTimeout}ms`, `${Math.min(LOCK_TIMEOUT_MS, statementTimeout)}ms`],
      signal,
    );
    identities.set(client, toIdentity(rows[0]));
  } catch (error) {
    await endClient(client, 0);
    throw error;
  }
  return { client, authMethod: auth.method(), tls: args.tls !== undefined };
}

interface IdentityRow {
  search_path: string;
  database: string;
  user: string;
  server_port: number | null;
  system_identifier: string | null;
  server_version: string;
  started_at: Date | null;
}

const identities = new WeakMap<Client, SourceIdentity>();

/** Who answered a session opened by {@link connectClient}, as the server reported it while the session was prepared. */
export function sessionIdentity(client: Client): SourceIdentity | undefined {
  return identities.get(client);
}

function toIdentity(row: IdentityRow | undefined): SourceIdentity {
  if (!row) throw new Error('preparing the session returned no row');
  if (row.search_path !== 'pg_catalog') throw new Error(`the session's search_path is ${JSON.stringify(row.search_path)}, not pg_catalog`);
  return {
    database: row.database,
    user: row.user,
    serverPort: row.server_port ?? undefined,
    serverId: row.system_identifier ?? undefined,
    serverVersion: row.server_version,
    startedAt: row.started_at?.toISOString(),
  };
}

/**
 * Node TLS options for pg. pg overwrites `servername` with the host name when the host is
 * not an IP address (for SNI), which would make it verify the certificate against the host
 * instead of ssl_config.server_name; an explicit identity check keeps the server name.
 */
export function pgTlsOptions(tls: TlsArgs, host: string): ConnectionOptions {
  const options = toNodeTlsOptions(tls, host);
  const servername = tls.servername;
  if (servername && tls.mode === 'verify-full') {
    options.checkServerIdentity = (_host, cert) => checkServerIdentity(servername, cert);
  }
  return options;
}

/** Listens to the authentication messages of the startup exchange to tell the method. */
function watchAuthentication(client: Client): { method(): AuthMethod } {
  let method: AuthMethod | undefined;
  const con = client.connection;
  con.once('authenticationCleartextPassword', () => (method ??= 'password'));
  con.once('authenticationMD5Password', () => (method ??= 'md5'));
  con.once('authenticationSASL', (msg: { mechanisms?: string[] }) => {
    // pg picks SCRAM-SHA-256-PLUS only with enableChannelBinding, which we do not set.
    method ??= msg.mechanisms?.includes('SCRAM-SHA-256') ? 'SCRAM-SHA-256' : 'unknown';
  });
  // AuthenticationOk with no request before it: the server did not ask for a password.
  con.once('authenticationOk', () => (method ??= 'trust'));
  return { method: () => method ?? 'unknown' };
}
