import { isIP } from 'node:net';
import {
  abortedErrorFrom,
  describeError,
  InputError,
  KEEPALIVE_IDLE_MS,
  raceSignal,
  type ConnectionArgs,
  type DataSource,
  type GuardLease,
  type TargetDeniedError,
  type TargetPolicy,
  type TlsArgs,
} from '@sourced/core';
import { MongoClient, type MongoClientOptions, type ServerHeartbeatFailedEvent } from 'mongodb';

/** Prefix of an SRV record name; a host given with it is looked up as `mongodb+srv`. */
export const SRV_PREFIX = '_mongodb._tcp.';

/** Authentication mechanisms a data source may ask for in `connection_properties.auth_mechanism`. */
const AUTH_MECHANISMS = ['DEFAULT', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'MONGODB-X509'] as const;

/** How long `close()` may take before we stop waiting (the driver ends sessions first). */
const CLOSE_TIMEOUT_MS = 2_000;

/**
 * How often the driver checks a HYBRID endpoint (a `hello` on its monitoring connection), ms;
 * the driver's default is 10 s. A check that gets no answer within the connect timeout marks
 * the server unknown and interrupts the commands in flight on it (a network error: the engines
 * fail over), so a frozen primary is left within this plus the connect timeout even where the
 * daemon's own stall probe is off.
 */
export const HYBRID_HEARTBEAT_MS = 5_000;

/** MongoDB-specific settings of a data source, from its host and connection properties. */
export interface MongoSettings {
  /** Look the host up as `mongodb+srv` (SRV seed list and TXT options). */
  srv: boolean;
  /** The host to connect to (the SRV name without its `_mongodb._tcp.` prefix). */
  host: string;
  /** The database the user is defined in; undefined leaves it to the SRV TXT record (else `admin`). */
  authSource?: string;
  authMechanism: (typeof AUTH_MECHANISMS)[number];
}

const truthy = (v: unknown) => v === true || v === 'true' || v === '1' || v === 1;

/**
 * Reads the MongoDB settings: SRV when `connection_properties.srv` is true or the host is
 * given as an SRV name (`_mongodb._tcp.cluster0.example.net`); the auth source from
 * `connection_properties.auth_source` (default `admin`, or the SRV TXT record's); the
 * mechanism from `connection_properties.auth_mechanism` (default: negotiated, SCRAM-SHA-256
 * when the server has it).
 */
export function mongoSettings(source: DataSource, host: string): MongoSettings {
  const cp = source.connectionProperties;
  const named = host.toLowerCase().startsWith(SRV_PREFIX);
  const srv = named || truthy(cp.srv);
  const authSource = typeof cp.auth_source === 'string' && cp.auth_source !== '' ? cp.auth_source : srv ? undefined : 'admin';
  const mechanism = typeof cp.auth_mechanism === 'string' && cp.auth_mechanism !== '' ? cp.auth_mechanism.toUpperCase() : 'DEFAULT';
  if (!(AUTH_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new InputError([
      { field: 'data_source.connection_properties.auth_mechanism', description: `"${mechanism}" is not supported; use one of ${AUTH_MECHANISMS.join(', ')}` },
    ]);
  }
  return { srv, host: named ? host.slice(SRV_PREFIX.length) : host, authSource, authMechanism: mechanism as MongoSettings['authMechanism'] };
}

/** The connection string: hosts only, never credentials (they go in the `auth` option). */
export function mongoUrl(args: ConnectionArgs, settings: MongoSettings): string {
  if (settings.srv) return `mongodb+srv://${settings.host}/`;
  const host = isIP(args.host) === 6 ? `[${args.host}]` : args.host;
  return `mongodb://${host}:${args.port}/`;
}

/** The driver's TLS options for the libpq-style modes. */
export function mongoTlsOptions(tls: TlsArgs): MongoClientOptions {
  const options: MongoClientOptions = { tls: true };
  if (tls.ca) options.ca = tls.ca;
  if (tls.cert) options.cert = tls.cert;
  if (tls.key) options.key = tls.key.reveal();
  // The driver verifies the certificate against `servername` when it is set (and sends it as SNI).
  if (tls.servername) options.servername = tls.servername;
  if (tls.mode === 'require') {
    options.tlsAllowInvalidCertificates = true;
    options.tlsAllowInvalidHostnames = true;
  } else if (tls.mode === 'verify-ca') {
    options.tlsAllowInvalidHostnames = true;
  }
  return options;
}

export interface ClientOptions {
  /** Log in with the data source's credentials (false: an anonymous client, for the handshake). */
  authenticate: boolean;
  /** Connections the pool may open (besides the monitor's). */
  maxPoolSize: number;
  /** Time limit of server selection and of each connection's handshake; default the data source's connect timeout. */
  timeoutMs?: number;
}

/**
 * The driver options for a data source: one host without discovery of other members
 * (`directConnection`), or an SRV seed list; TLS; the application name; credentials as the
 * `auth` option. Reads go to the primary when there is one, else a secondary.
 *
 * The driver's own bounds: server selection and each connection's handshake within the connect
 * timeout (the data source's, or `o.timeoutMs`); with a statement time limit (the strategy's,
 * sent as `maxTimeMS`), a reply that does not come within that limit plus the connect timeout
 * ends its connection (`socketTimeoutMS`: the server would have answered by then, even with
 * its own MaxTimeMSExpired); HYBRID checks its servers every {@link HYBRID_HEARTBEAT_MS} and
 * starts TCP keep-alive after {@link KEEPALIVE_IDLE_MS} idle (the driver always turns
 * keep-alive on, after 120 s; behind the daemon's target policy the socket to the server is
 * the SOCKS guard's, which uses the same idle time).
 */
export function mongoClientOptions(args: ConnectionArgs, settings: MongoSettings, o: ClientOptions): MongoClientOptions {
  const timeout = o.timeoutMs ?? args.connectTimeoutMs;
  const options: MongoClientOptions = {
    appName: args.applicationName,
    serverSelectionTimeoutMS: timeout,
    connectTimeoutMS: timeout,
    ...(args.statementTimeoutMs ? { socketTimeoutMS: args.statementTimeoutMs + timeout } : {}),
    ...(args.keepAlive ? { heartbeatFrequencyMS: HYBRID_HEARTBEAT_MS, keepAliveInitialDelay: KEEPALIVE_IDLE_MS } : {}),
    maxPoolSize: o.maxPoolSize,
    minPoolSize: 0,
    readPreference: 'primaryPreferred',
    ...(settings.srv ? {} : { directConnection: true }),
    ...(args.tls ? mongoTlsOptions(args.tls) : { tls: false }),
  };
  if (o.authenticate && (args.user || settings.authMechanism === 'MONGODB-X509')) {
    if (settings.authMechanism !== 'DEFAULT') options.authMechanism = settings.authMechanism;
    if (settings.authMechanism === 'MONGODB-X509') {
      if (args.user) options.auth = { username: args.user };
    } else {
      options.auth = { username: args.user, password: args.password?.reveal() };
    }
    if (settings.authSource) options.authSource = settings.authSource;
    if (settings.authMechanism === 'MONGODB-X509') options.authSource = '$external';
  }
  return options;
}

/**
 * Opens a client and waits until a server is selected (and, with credentials, the first
 * connection has authenticated). With one host (`directConnection`) the first failed
 * monitor check fails the open at once with its reason (refused, TLS), instead of waiting
 * for server selection to time out; a seed list gets the whole selection time. Honours
 * `signal`: when it fires first, the client is closed and the promise rejects with an
 * `AbortedError`.
 *
 * With `targets` (the daemon's target policy), every connection the driver opens (to the
 * host, to SRV seeds, to members a replica set lists, by name or address) goes through the
 * policy's SOCKS5 guard, which dials only what the policy allows; when the open fails
 * because the policy refused a member, the promise rejects with that `TargetDeniedError`,
 * and when a member refused the connection, with the guard's socket error. `onDenied` hears
 * every connection the policy refuses over the client's life (a member dropped mid-run).
 */
export async function openClient(
  url: string,
  options: MongoClientOptions,
  signal: AbortSignal,
  targets?: TargetPolicy,
  onDenied?: (error: TargetDeniedError) => void,
): Promise<MongoClient> {
  if (signal.aborted) throw abortedErrorFrom(signal);
  let lease: GuardLease | undefined;
  if (targets) {
    lease = await targets.socksGuard().lease(onDenied);
    options = { ...options, proxyHost: lease.host, proxyPort: lease.port, proxyUsername: lease.username, proxyPassword: lease.password };
  }
  const client = new MongoClient(url, options);
  if (lease) leases.set(client, lease);
  let onFailure: ((event: ServerHeartbeatFailedEvent) => void) | undefined;
  const failed = new Promise<never>((_, reject) => {
    onFailure = (event) => reject(event.failure);
    if (options.directConnection) client.on('serverHeartbeatFailed', onFailure);
  });
  failed.catch(() => undefined);
  const connecting = client.connect();
  connecting.catch(() => undefined); // the race below decides
  try {
    await raceSignal(Promise.race([connecting, failed]), signal);
  } catch (error) {
    // Through the guard, a refused or unreachable member is only a SOCKS reply to the driver:
    // report the policy's refusal, or the socket error the guard met, instead.
    const proxied = lease && /socks5? proxy rejected/i.test(describeError(error));
    const cause = proxied ? (lease?.lastDenial ?? lease?.lastFailure) : lease?.lastDenial;
    await closeClient(client);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the signal may have fired during the awaits above; TS keeps the narrowing from an earlier check
    if (signal.aborted) throw abortedErrorFrom(signal);
    throw cause ?? error;
  } finally {
    if (onFailure) client.off('serverHeartbeatFailed', onFailure);
  }
  return client;
}

/** The guard lease of each client opened through a target policy; given back when it closes. */
const leases = new WeakMap<MongoClient, GuardLease>();

/** Closes a client and every connection of its pool and monitors; never throws. */
export async function closeClient(client: MongoClient): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.close().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    leases.get(client)?.release();
    leases.delete(client);
  }
}
