/**
 * A SOCKS5 proxy inside the daemon that enforces a {@link TargetPolicy} on every connection
 * a driver opens through it, for drivers that dial hosts the daemon never names (the
 * MongoDB driver connects to the replica-set members a server lists, by name or address).
 * It listens on 127.0.0.1 only and serves only callers that log in with a lease's random
 * user name and password (RFC 1929), so no other local process can use it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, isIP, type AddressInfo, type NetConnectOpts, type Server, type Socket } from 'node:net';
import { applyKeepAlive, KEEPALIVE_IDLE_MS } from './keepAlive';
import type { TargetDeniedError } from './TargetDeniedError';

/**
 * What the guard needs of a {@link TargetPolicy}: a vetted dial (the policy's `connect`). Its own
 * type so that the guard does not import the policy that creates it.
 */
export interface GuardedDialer {
  /** Opens a socket to `host:port` after the policy vetted the name and every address it resolves to. */
  connect(options: NetConnectOpts & { host: string; port: number }): Socket;
}

/** What a driver needs to connect through the guard, and what the guard refused for it. */
export interface GuardLease {
  /** Host of the guard to use as the SOCKS5 proxy: always `127.0.0.1`. */
  host: string;
  /** Port the guard listens on. */
  port: number;
  /** The lease's random SOCKS5 user name (RFC 1929). */
  username: string;
  /** The lease's random SOCKS5 password; not a secret of any data source. */
  password: string;
  /** The last connection the policy refused for this lease. */
  readonly lastDenial: TargetDeniedError | undefined;
  /**
   * The socket error of the last connection that failed upstream (refused, unreachable): a
   * driver sees only a SOCKS reply code, this is what it would have seen without the guard.
   */
  readonly lastFailure: Error | undefined;
  /** Ends the lease: later logins with it fail. Connections already made stay up. */
  release(): void;
}

/** Time a client has to finish the SOCKS handshake. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** SOCKS5 reply codes (RFC 1928 section 6). */
const REPLY = {
  ok: 0x00,
  failure: 0x01,
  notAllowed: 0x02,
  netUnreachable: 0x03,
  hostUnreachable: 0x04,
  refused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressNotSupported: 0x08,
} as const;

interface Lease {
  password: Buffer;
  lastDenial?: TargetDeniedError;
  lastFailure?: Error;
  onDenied?: (error: TargetDeniedError) => void;
}

/**
 * The daemon's SOCKS5 guard of a {@link TargetPolicy} (from `targets.socksGuard()`): a driver that
 * dials hosts of its own finding connects through a lease of it, and each connection is vetted.
 */
export class SocksGuard {
  private server?: Server;
  private starting?: Promise<number>;
  private readonly leases = new Map<string, Lease>();
  private readonly sockets = new Set<Socket>();

  constructor(private readonly policy: GuardedDialer) {}

  /** A lease for one client (started on first use). `onDenied` hears each refused connection. */
  async lease(onDenied?: (error: TargetDeniedError) => void): Promise<GuardLease> {
    const port = await this.start();
    const username = randomBytes(12).toString('hex');
    const password = randomBytes(24).toString('hex');
    const lease: Lease = { password: Buffer.from(password), onDenied };
    this.leases.set(username, lease);
    return {
      host: '127.0.0.1',
      port,
      username,
      password,
      get lastDenial() {
        return lease.lastDenial;
      },
      get lastFailure() {
        return lease.lastFailure;
      },
      release: () => this.leases.delete(username),
    };
  }

  /** Stops listening and ends every proxied connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.starting = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private start(): Promise<number> {
    this.starting ??= new Promise<number>((resolve, reject) => {
      const server = createServer((socket) => this.serve(socket));
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.unref();
        this.server = server;
        resolve((server.address() as AddressInfo).port);
      });
    });
    return this.starting;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private serve(client: Socket): void {
    this.track(client);
    client.setNoDelay(true);
    client.on('error', () => client.destroy());
    const reader = new Reader(client);
    const timer = setTimeout(() => client.destroy(), HANDSHAKE_TIMEOUT_MS);
    this.handshake(client, reader)
      .catch(() => client.destroy())
      .finally(() => clearTimeout(timer));
  }

  private async handshake(client: Socket, reader: Reader): Promise<void> {
    // Greeting: VER NMETHODS METHODS...; only username/password (0x02) is accepted.
    const [version, count] = await reader.read(2);
    if (version !== 5) throw new Error('not SOCKS5');
    const methods = await reader.read(count);
    if (!methods.includes(0x02)) {
      client.end(Buffer.from([5, 0xff]));
      return;
    }
    client.write(Buffer.from([5, 0x02]));
    // RFC 1929: VER ULEN UNAME PLEN PASSWD.
    const [subVersion, userLength] = await reader.read(2);
    const username = (await reader.read(userLength)).toString('latin1');
    const [passwordLength] = await reader.read(1);
    const password = await reader.read(passwordLength);
    const lease = this.leases.get(username);
    if (subVersion !== 1 || !lease || lease.password.length !== password.length || !timingSafeEqual(lease.password, password)) {
      client.end(Buffer.from([1, 1]));
      return;
    }
    client.write(Buffer.from([1, 0]));
    // Request: VER CMD RSV ATYP DST.ADDR DST.PORT.
    const [v, command, , type] = await reader.read(4);
    let host: string;
    if (type === 0x01) host = [...(await reader.read(4))].join('.');
    else if (type === 0x04) host = ipv6Text(await reader.read(16));
    else if (type === 0x03) host = (await reader.read((await reader.read(1))[0])).toString('latin1');
    else {
      reply(client, REPLY.addressNotSupported);
      return;
    }
    const port = (await reader.read(2)).readUInt16BE(0);
    if (v !== 5 || command !== 0x01) {
      reply(client, REPLY.commandNotSupported);
      return;
    }
    await this.connect(client, reader, lease, host, port);
  }

  private async connect(client: Socket, reader: Reader, lease: Lease, host: string, port: number): Promise<void> {
    // Keep-alive from KEEPALIVE_IDLE_MS of silence, not the kernel's 2 hours: this is the socket to the server.
    const upstream = this.policy.connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_IDLE_MS });
    this.track(upstream);
    try {
      await new Promise<void>((resolve, reject) => {
        upstream.once('connect', resolve).once('error', reject);
        client.once('close', () => reject(new Error('the client went away')));
      });
    } catch (error) {
      upstream.destroy();
      if ((error as { code?: unknown }).code === 'ETARGETDENIED') {
        lease.lastDenial = error as TargetDeniedError;
        lease.onDenied?.(error as TargetDeniedError);
        reply(client, REPLY.notAllowed);
        return;
      }
      lease.lastFailure = error as Error;
      const code = (error as NodeJS.ErrnoException).code;
      reply(
        client,
        code === 'ECONNREFUSED'
          ? REPLY.refused
          : code === 'EHOSTUNREACH' || code === 'ENOTFOUND'
            ? REPLY.hostUnreachable
            : code === 'ENETUNREACH'
              ? REPLY.netUnreachable
              : code === 'ETIMEDOUT'
                ? REPLY.ttlExpired
                : REPLY.failure,
      );
      return;
    }
    // And keep-alive's probe interval and count (issue 24), which Node's option cannot set.
    applyKeepAlive(upstream);
    upstream.removeAllListeners('error');
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    // Bound address: the guard's own is of no use to the driver; send 0.0.0.0:0.
    client.write(Buffer.from([5, REPLY.ok, 0, 1, 0, 0, 0, 0, 0, 0]));
    const rest = reader.detach();
    if (rest.length > 0) upstream.write(rest);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

function reply(client: Socket, code: number): void {
  client.end(Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]));
}

function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  const text = groups.join(':');
  return isIP(text) ? text : '::';
}

/** Reads exact byte counts from a socket during the handshake. */
class Reader {
  private buffered = Buffer.alloc(0);
  private waiting?: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void };
  private ended = false;
  private readonly onData = (chunk: Buffer) => {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    this.pump();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.waiting?.reject(new Error('the client closed the connection during the handshake'));
    this.waiting = undefined;
  };

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.once('end', this.onEnd);
    socket.once('close', this.onEnd);
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.ended) {
        reject(new Error('the client closed the connection during the handshake'));
        return;
      }
      this.waiting = { n, resolve, reject };
      this.pump();
    });
  }

  /** Stops reading; returns what arrived past the handshake. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    return rest;
  }

  private pump(): void {
    const w = this.waiting;
    if (!w || this.buffered.length < w.n) return;
    this.waiting = undefined;
    const out = this.buffered.subarray(0, w.n);
    this.buffered = this.buffered.subarray(w.n);
    w.resolve(out);
  }
}
