import type { EndpointRole } from '../datasource/DataSource';
import { SourcedError, brandErrorClass } from '../errors';

/**
 * Who answered a session, as the server itself reports it on that session. A connector reads
 * it once per connection it opens ({@link LocationAwareConnector}'s `identifySession`), and
 * the base refuses a session that is not the database and server the call has been reading.
 */
export interface SourceIdentity {
  /** The database the session is connected to (PostgreSQL `current_database()`, MySQL `DATABASE()`; empty when none). */
  database: string;
  /** The user the server says the session runs as (PostgreSQL `session_user`; MySQL the user part of `USER()`). */
  user: string;
  /**
   * The port the server says it listens on (`inet_server_port()`, `@@port`). Behind a proxy or
   * a port mapping it differs from the port dialled, so it is compared between the sessions of
   * one call, never with the data source's port.
   */
  serverPort?: number;
  /**
   * An identifier of the server that survives restarts: PostgreSQL's system identifier
   * (`pg_control_system()`, shared by a primary and its physical replicas), MySQL's
   * `@@server_uuid`, MariaDB's `@@hostname` with `@@server_id`. Absent when the server does not
   * let the user read it.
   */
  serverId?: string;
  /** The server's version string. */
  serverVersion?: string;
  /**
   * When the server last started, ISO 8601: PostgreSQL's `pg_postmaster_start_time()`, MySQL's and
   * MariaDB's clock minus `Uptime` (to the second). Reported, not compared: a server that restarts
   * during a call is still the same server.
   */
  startedAt?: string;
}

/** The facts of {@link SourceIdentity} that must not change between the sessions of one call to one endpoint. */
const STABLE: ReadonlyArray<{ key: 'database' | 'user' | 'serverPort' | 'serverId'; label: string }> = [
  { key: 'database', label: 'database' },
  { key: 'user', label: 'user' },
  { key: 'serverPort', label: 'server port' },
  { key: 'serverId', label: 'server id' },
];

/**
 * How `seen` differs from `first` in what must stay the same between sessions of one call,
 * as phrases for a message (`database "b", first "a"`); empty when they agree. A fact either
 * side could not read is not compared.
 */
export function identityChanges(first: SourceIdentity, seen: SourceIdentity): string[] {
  const out: string[] = [];
  for (const { key, label } of STABLE) {
    const a = first[key];
    const b = seen[key];
    if (a === undefined || b === undefined || a === b) continue;
    out.push(`${label} ${JSON.stringify(b)} where the call's first session had ${JSON.stringify(a)}`);
  }
  return out;
}

/**
 * A session answered as another database or server than the data source names, or than the
 * call's first session to that endpoint: nothing is read through it. FAILED_PRECONDITION on the
 * wire (`SOURCE_IDENTITY_MISMATCH`): the endpoint (a DNS name, a proxy, a failover address)
 * points somewhere else than the data source says, which a retry does not change.
 */
export class SourceIdentityError extends SourcedError {
  constructor(role: EndpointRole, address: string, problems: readonly string[]) {
    super(
      'SOURCE_IDENTITY_MISMATCH',
      `the ${role.toLowerCase()} endpoint ${address} answered as another source than this call reads: ${problems.join('; ')}. ` +
        'Nothing was read from it. Check that the endpoint (its DNS name, proxy or failover address) and primary/secondary database name point at the intended server and database.',
      { metadata: { endpoint: role, address } },
    );
  }
}
brandErrorClass(SourceIdentityError, 'SourceIdentityError');
