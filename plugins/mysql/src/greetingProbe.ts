/**
 * Reads the server's greeting (the initial handshake packet) over a raw socket and, when
 * asked, upgrades to TLS the way a MySQL client does: an SSLRequest packet, then a TLS
 * handshake on the same socket. The `tls` check uses it to report whether the server offers
 * TLS and what the TLS session looks like before any credential is sent.
 */
import { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { inspectTlsSession, startTlsOnSocket, type TargetPolicy, type TlsSession } from '@sourced/core';

/** Capability flags of the client/server protocol. */
const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;

/** What the server's greeting says. */
export interface ServerGreeting {
  protocolVersion: number;
  /** As sent: MariaDB's starts with `5.5.5-`. */
  serverVersion: string;
  connectionId: number;
  capabilities: number;
  /** The CLIENT_SSL capability: the server accepts TLS. */
  tlsOffered: boolean;
  /** The server's default authentication plugin, when it names one. */
  authPlugin?: string;
}

/** An error packet the server sent instead of a greeting (host not allowed, too many connections). */
export class GreetingError extends Error {
  constructor(
    readonly errno: number,
    readonly sqlMessage: string,
  ) {
    super(sqlMessage);
    this.name = 'GreetingError';
  }
}

/** The greeting, and the TLS session when TLS was requested and made. */
export interface GreetingProbe {
  greeting: ServerGreeting;
  session?: TlsSession;
}

/**
 * Connects (through `targets`, the daemon's target policy, when given), reads the greeting and, with `tlsOptions` and a server that offers TLS, makes
 * the TLS handshake and reports the session. Always closes the socket. Rejects with a
 * {@link GreetingError}, the TLS error (its `code` names a certificate problem), a socket
 * error, or `signal.reason` when the signal fires.
 */
export async function probeGreeting(
  address: string,
  port: number,
  tlsOptions: ConnectionOptions | undefined,
  signal: AbortSignal,
  targets?: TargetPolicy,
): Promise<GreetingProbe> {
  const { socket, payload } = await readFirstPacket(address, port, signal, targets);
  let greeting: ServerGreeting;
  try {
    greeting = parseGreeting(payload);
  } catch (error) {
    socket.destroy();
    throw error;
  }
  if (!tlsOptions || !greeting.tlsOffered) {
    socket.destroy();
    return { greeting };
  }
  socket.write(sslRequest(greeting.capabilities));
  const started = performance.now();
  const secure = await startTlsOnSocket(socket, tlsOptions, signal);
  try {
    return { greeting, session: await inspectTlsSession(secure, signal, performance.now() - started) };
  } finally {
    secure.destroy();
  }
}

/** Parses a greeting payload (protocol 10), or throws the error packet it holds. */
export function parseGreeting(payload: Buffer): ServerGreeting {
  if (payload[0] === 0xff) {
    const errno = payload.readUInt16LE(1);
    // Before the handshake the message carries no '#' SQL state marker, but be lenient.
    const rest = payload.subarray(3).toString('utf8');
    throw new GreetingError(errno, rest.startsWith('#') ? rest.slice(6) : rest);
  }
  if (payload[0] !== 10) {
    throw Object.assign(new Error(`the server's first packet is not a MySQL protocol 10 greeting (protocol byte ${payload[0]})`), { code: 'NOT_MYSQL' });
  }
  let pos = 1;
  const versionEnd = payload.indexOf(0, pos);
  if (versionEnd < 0) throw Object.assign(new Error('malformed MySQL greeting'), { code: 'NOT_MYSQL' });
  const serverVersion = payload.subarray(pos, versionEnd).toString('utf8');
  pos = versionEnd + 1;
  const connectionId = payload.readUInt32LE(pos);
  pos += 4 + 8 + 1; // connection id, auth-plugin-data part 1, filler
  let capabilities = payload.readUInt16LE(pos);
  pos += 2;
  let authPlugin: string | undefined;
  if (payload.length > pos) {
    pos += 1 + 2; // character set, status flags
    capabilities |= payload.readUInt16LE(pos) << 16;
    pos += 2;
    const authDataLength = payload[pos];
    pos += 1 + 10; // auth data length, reserved (MariaDB: filler and extended capabilities)
    if (capabilities & CLIENT_SECURE_CONNECTION) pos += Math.max(13, authDataLength - 8);
    if (capabilities & CLIENT_PLUGIN_AUTH && pos < payload.length) {
      const end = payload.indexOf(0, pos);
      authPlugin = payload.subarray(pos, end < 0 ? payload.length : end).toString('utf8');
    }
  }
  capabilities >>>= 0;
  return { protocolVersion: 10, serverVersion, connectionId, capabilities, tlsOffered: (capabilities & CLIENT_SSL) !== 0, authPlugin };
}

/** The 32-byte SSLRequest packet (sequence 1): capabilities, max packet size, utf8mb4, filler. */
function sslRequest(serverCapabilities: number): Buffer {
  const flags = (CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION | (serverCapabilities & CLIENT_PLUGIN_AUTH)) >>> 0;
  const packet = Buffer.alloc(4 + 32);
  packet.writeUIntLE(32, 0, 3);
  packet[3] = 1;
  packet.writeUInt32LE(flags, 4);
  packet.writeUInt32LE(16 * 1024 * 1024, 8);
  packet[12] = 45; // utf8mb4_general_ci
  return packet;
}

/** Connects and reads one whole packet (3-byte length, sequence id, payload). */
function readFirstPacket(address: string, port: number, signal: AbortSignal, targets?: TargetPolicy): Promise<{ socket: Socket; payload: Buffer }> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted(); // a throw in the executor rejects with signal.reason
    const socket = targets ? targets.socket() : new Socket();
    let buffered = Buffer.alloc(0);
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('data', onData).off('error', fail).off('close', onClose);
    };
    const fail = (error: unknown) => {
      done();
      socket.destroy();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the socket's error or signal.reason on unchanged
      reject(error);
    };
    const onAbort = () => fail(signal.reason);
    const onClose = () => fail(Object.assign(new Error('the server closed the connection before sending its greeting'), { code: 'ECONNRESET' }));
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 4) return;
      const length = buffered.readUIntLE(0, 3);
      if (buffered.length < 4 + length) return;
      socket.pause();
      done();
      // From here the caller owns the socket; a late reset must not be an unhandled 'error'.
      socket.on('error', () => undefined);
      resolve({ socket, payload: buffered.subarray(4, 4 + length) });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData).once('error', fail).once('close', onClose);
    socket.connect(port, address);
  });
}
