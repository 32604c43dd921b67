/**
 * Opening one mysql2 connection: the driver options sourced uses, TLS verification with the
 * libpq-style modes, the authentication plugins (with MariaDB's ed25519), and what the
 * handshake told us (server version, connection id, the auth plugin that logged in).
 */
import { checkServerIdentity, type TLSSocket } from 'node:tls';
import { abortedErrorFrom, KEEPALIVE_IDLE_MS, raceSignal, type ConnectionArgs, type TlsArgs } from '@sourced/core';
import { authPlugins as standardAuthPlugins, createConnection, type AuthPlugin, type Connection, type ConnectionOptions } from 'mysql2';
import { ed25519Sign } from './ed25519';

/** What the server's greeting and the authentication exchange showed. */
export interface Handshake {
  /** The version string of the greeting, for example `5.5.5-10.11.19-MariaDB-0+deb12u1` or `8.0.36`. */
  serverVersion: string;
  connectionId: number;
  /**
   * The client auth plugin that logged in: `mysql_native_password` unless the server
   * switched to another (`caching_sha2_password`, `client_ed25519`, `sha256_password`,
   * `mysql_clear_password`).
   */
  authPlugin: string;
  /** The TLS socket, when the session runs over TLS. */
  tls?: TLSSocket;
}

/** An opened connection and its handshake. */
export interface Opened {
  conn: Connection;
  handshake: Handshake;
}

/** The TLS error code Node gave before mysql2 replaced it with HANDSHAKE_SSL_ERROR. */
export function tlsErrorCode(error: unknown): string | undefined {
  const code = (error as { tlsCode?: unknown } | null)?.tlsCode;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Opens one connection and waits for the login to finish. Rejects with the driver's error
 * (scrub it before showing it), or an AbortedError when `signal` fires first (the connection
 * is destroyed then). The caller owns the connection and must attach its own 'error'
 * listener for later failures; one that only swallows is attached here so that an idle
 * connection that dies never crashes the process.
 */
export async function openConnection(args: ConnectionArgs, signal: AbortSignal, timeoutMs = args.connectTimeoutMs): Promise<Opened> {
  if (signal.aborted) throw abortedErrorFrom(signal);
  let authPlugin = 'mysql_native_password';
  const password = args.password?.reveal();
  const options: ConnectionOptions = {
    host: args.host,
    port: args.port,
    user: args.user,
    password,
    database: args.database,
    ssl: args.tls ? sslOptions(args.tls) : undefined,
    connectTimeout: timeoutMs,
    // The server shows these in performance_schema.session_connect_attrs.
    connectAttributes: { program_name: args.applicationName },
    enableKeepAlive: args.keepAlive,
    keepAliveInitialDelay: KEEPALIVE_IDLE_MS,
    multipleStatements: false,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    // Never offer LOCAL INFILE: a server of the caller's choosing must not read our files.
    flags: ['-LOCAL_FILES'],
    authPlugins: trackedAuthPlugins((name) => (authPlugin = name), password ?? '', args.tls !== undefined),
  };
  const targets = args.targets;
  if (targets) {
    // mysql2 takes a connected (or connecting) stream: dial through the target policy. The
    // TLS upgrade still verifies against options.host, the name.
    options.stream = () =>
      targets.connect({ host: args.host, port: args.port, noDelay: true, keepAlive: args.keepAlive, keepAliveInitialDelay: KEEPALIVE_IDLE_MS });
  }
  const conn = createConnection(options);
  conn.on('error', () => undefined);
  try {
    if (args.tls) verifyTls(conn, args.tls, args.host);
  } catch (error) {
    destroy(conn);
    throw error;
  }

  const ready = new Promise<Omit<Handshake, 'authPlugin'>>((resolve, reject) => {
    conn.once('connect', (greeting: { serverVersion?: string; connectionId?: number } | undefined) => {
      const stream = (conn as unknown as { stream?: unknown }).stream;
      resolve({
        serverVersion: greeting?.serverVersion ?? '',
        connectionId: greeting?.connectionId ?? conn.threadId,
        tls: args.tls && isTlsSocket(stream) ? stream : undefined,
      });
    });
    conn.connect((error) => (error ? reject(error) : undefined));
  });
  ready.catch(() => undefined); // settled or not, the race below decides
  try {
    const handshake = await raceSignal(ready, signal);
    return { conn, handshake: { ...handshake, authPlugin } };
  } catch (error) {
    destroy(conn);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the signal may have fired during the await above; TS keeps the narrowing from the earlier check
    if (signal.aborted) throw abortedErrorFrom(signal);
    throw error;
  }
}

/** Closes the socket at once (no COM_QUIT). */
export function destroy(conn: Connection): void {
  try {
    conn.destroy();
    (conn as unknown as { stream?: { destroy?: () => void } }).stream?.destroy?.();
  } catch {
    // already closed
  }
}

/** mysql2 TLS options for the modes: require (no verification), verify-ca, verify-full (identity checked in {@link verifyTls}). */
function sslOptions(tls: TlsArgs): ConnectionOptions['ssl'] {
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key?.reveal(),
    rejectUnauthorized: tls.mode !== 'require',
    verifyIdentity: false,
  };
}

/**
 * mysql2 checks the certificate's identity against the host only, ignores a server name
 * given apart from it, and replaces the TLS error code with HANDSHAKE_SSL_ERROR. Wrapping
 * its TLS upgrade checks the identity against `ssl_config.server_name` (or the host) before
 * any credential is sent, and keeps Node's code (`tlsCode`) for the messages.
 */
function verifyTls(conn: Connection, tls: TlsArgs, host: string): void {
  const c = conn as unknown as { startTLS?: (onSecure: (error?: Error) => void) => void; stream?: unknown };
  const original = c.startTLS;
  if (typeof original !== 'function') {
    // Without the hook the identity check could be skipped silently: refuse instead.
    throw new Error('this mysql2 version has no startTLS hook; cannot verify the server certificate');
  }
  c.startTLS = (onSecure) =>
    original.call(conn, (error?: Error) => {
      if (error) {
        const e = error as Error & { code?: string; tlsCode?: string };
        e.tlsCode ??= e.code;
        onSecure(e);
        return;
      }
      if (tls.mode === 'verify-full' && isTlsSocket(c.stream)) {
        const identity = checkServerIdentity(tls.servername ?? host, c.stream.getPeerCertificate());
        if (identity) {
          const e = identity as Error & { code?: string; tlsCode?: string };
          e.tlsCode = e.code;
          onSecure(e);
          return;
        }
      }
      onSecure();
    });
}

function isTlsSocket(stream: unknown): stream is TLSSocket {
  return typeof stream === 'object' && stream !== null && typeof (stream as TLSSocket).getPeerCertificate === 'function';
}

/**
 * The authentication plugins offered to the server, each recording its name when the server
 * switches to it, plus MariaDB's client_ed25519. mysql_clear_password (PAM, LDAP) sends the
 * password readable, so it is offered only over TLS.
 */
function trackedAuthPlugins(record: (name: string) => void, password: string, tls: boolean): Record<string, AuthPlugin> {
  const track =
    (name: string, plugin: AuthPlugin): AuthPlugin =>
    (meta) => {
      record(name);
      return plugin(meta);
    };
  const ed25519: AuthPlugin = () => (nonce: Buffer) => ed25519Sign(password, nonce.subarray(0, 32));
  const plugins: Record<string, AuthPlugin> = {
    mysql_native_password: track('mysql_native_password', standardAuthPlugins.mysql_native_password({})),
    caching_sha2_password: track('caching_sha2_password', standardAuthPlugins.caching_sha2_password({})),
    sha256_password: track('sha256_password', standardAuthPlugins.sha256_password({})),
    client_ed25519: track('client_ed25519', ed25519),
  };
  if (tls) plugins.mysql_clear_password = track('mysql_clear_password', standardAuthPlugins.mysql_clear_password({}));
  return plugins;
}
