import type { ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import type { EndpointRole, SslMode } from '../datasource/DataSource';
import type { Secret } from '../secret/Secret';
import type { TargetPolicy } from './TargetPolicy';

/** TLS settings for a driver, with files already read and secrets resolved. */
export interface TlsArgs {
  /** How strictly to verify the server: `require` encrypts only, `verify-ca` checks the chain, `verify-full` the host name too. */
  mode: Exclude<SslMode, 'disable'>;
  /** CA certificates (PEM). Undefined means the system's trust store. */
  ca?: string;
  /** Client certificate (PEM). */
  cert?: string;
  /** Client key. */
  key?: Secret;
  /** Name to verify and send in SNI. */
  servername?: string;
}

/** Everything a driver needs to open one connection, derived from the data source and its location. */
export interface ConnectionArgs {
  /** Which endpoint these arguments are for. */
  role: EndpointRole;
  /** Host name or address to connect to (dial it through `targets` when set). */
  host: string;
  /** Port to connect to, the connector's default filled in. */
  port: number;
  /** Database to open; undefined means the server's default for the user. */
  database?: string;
  /** Database user; undefined when none is configured. */
  user?: string;
  /** The resolved password (a fresh database token with `use_iam_auth`); undefined when there is none. */
  password?: Secret;
  /** Undefined when TLS is off. */
  tls?: TlsArgs;
  /** Sent to the server where the protocol allows (PostgreSQL application_name). */
  applicationName: string;
  /**
   * TCP keep-alive; on for HYBRID so a dead link is noticed and failed over. Connectors set the
   * idle time before the first probe to {@link KEEPALIVE_IDLE_MS} (Node sets no probe interval
   * or count: the kernel's apply).
   */
  keepAlive: boolean;
  /** Time limit for opening the connection. */
  connectTimeoutMs: number;
  /**
   * Server-side time limit of each statement (discovery sets it from its strategy);
   * undefined means the connector's default.
   */
  statementTimeoutMs?: number;
  /**
   * The daemon's target policy. A driver must dial through it: `targets.socket()` or
   * `targets.connect()` for drivers that take a stream, `targets.lookup` for those that take
   * a lookup function, `targets.socksGuard()` for those that dial hosts of their own finding
   * through SOCKS5. Undefined when the host sets no policy.
   */
  targets?: TargetPolicy;
  /** Where each credential came from (`password` -> `env://...`), for the resolve-credentials check. */
  credentialSources: Record<string, string>;
  /** How long resolving each credential took, in milliseconds (0 when cached). */
  credentialTimings: Record<string, number>;
}

/** Node `tls` options for TLS args, with the modes' libpq meanings. */
export function toNodeTlsOptions(tls: TlsArgs, host: string): ConnectionOptions {
  const servername = tls.servername ?? (isIP(host) ? undefined : host);
  const options: ConnectionOptions = {
    rejectUnauthorized: tls.mode !== 'require',
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key?.reveal(),
    servername,
  };
  if (tls.mode === 'verify-ca') options.checkServerIdentity = () => undefined;
  return options;
}

export { KEEPALIVE_IDLE_MS } from './keepAlive';
