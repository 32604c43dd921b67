/**
 * Helpers for the suites that replay issue 15's attacks against a `sourced serve` process: a
 * daemon started from a JSON config file, generated clients for it, a raw health check, and
 * plain TCP sockets from a chosen loopback source address (127.0.0.2 is another peer than
 * 127.0.0.1 on Linux, with no set-up).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { DataSourceServiceClient } from '@sourced/api';
import { ListPluginsRequest, PluginServiceClient, type ListPluginsResponse } from '@sourced/api';
import { startDaemonProcess, type DaemonProcess } from './processes';

/** A daemon process started from `config` (written to a temporary JSON file), and what it needs cleaned up. */
export interface ConfiguredDaemon {
  daemon: DaemonProcess;
  dir: string;
  dataSources: DataSourceServiceClient;
  plugins: PluginServiceClient;
  stop(): Promise<void>;
}

/** `files` are written beside the config file first (paths in the config are relative to it). */
export async function startConfiguredDaemon(
  config: Record<string, unknown>,
  env: Record<string, string> = {},
  files: Record<string, string> = {},
): Promise<ConfiguredDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'sourced-hardened-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o600 });
  const file = join(dir, 'sourced.json');
  writeFileSync(file, JSON.stringify({ plugins: ['@sourced/plugin-postgres'], ...config }));
  const daemon = await startDaemonProcess({ args: ['--config', file], env });
  const dataSources = new DataSourceServiceClient(daemon.address, credentials.createInsecure());
  const plugins = new PluginServiceClient(daemon.address, credentials.createInsecure());
  return {
    daemon,
    dir,
    dataSources,
    plugins,
    async stop() {
      dataSources.close();
      plugins.close();
      const timer = setTimeout(() => daemon.kill(), 10_000);
      await daemon.terminate();
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Metadata with `authorization: Bearer <token>`. */
export function bearer(token: string): Metadata {
  const m = new Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
}

/** ListPlugins with this metadata on a new channel of its own (so a broken channel of another test cannot answer). */
export function listPlugins(address: string, metadata = new Metadata(), deadlineMs = 5_000): Promise<ListPluginsResponse> {
  const client = new PluginServiceClient(address, credentials.createInsecure());
  return new Promise<ListPluginsResponse>((resolve, reject) =>
    client.listPlugins(ListPluginsRequest.fromPartial({}), metadata, { deadline: Date.now() + deadlineMs }, (e, r) => (e ? reject(e) : resolve(r))),
  ).finally(() => client.close());
}

/** The status of a call expected to fail (fails the test when it succeeds). */
export async function failureOf(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('the call succeeded, and it should have failed');
}

/**
 * grpc.health.v1.Health/Check on a new channel with a deadline: 'SERVING' or the status name
 * of the failure (the channel cannot connect, say).
 */
export function healthCheck(address: string, deadlineMs = 3_000): Promise<string> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise<string>((resolve) => {
    // An empty HealthCheckRequest; the answer { status: SERVING } is 08 01.
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + deadlineMs },
      (error, r) => {
        if (error) resolve(status[error.code] ?? String(error.code));
        else resolve(r?.equals(Buffer.from([8, 1])) ? 'SERVING' : `answer ${r?.toString('hex')}`);
      },
    );
  }).finally(() => client.close());
}

/** Opens a TCP connection to `address` from `localAddress`; resolves once connected. */
export function rawSocket(address: string, localAddress = '127.0.0.1'): Promise<Socket> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, localAddress });
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves true when the socket is closed (by the other end) within `ms`, false otherwise. */
export function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    socket.once('close', done);
    socket.once('end', done);
    socket.resume(); // read (and drop) what the daemon sends, so that its end is seen
  });
}

/**
 * A TCP relay on 127.0.0.1 that connects onward to `target` from `localAddress`: a client of
 * the relay reaches the daemon as another peer (127.0.0.2), as a second machine would.
 */
export async function relayFrom(target: string, localAddress: string): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    sockets.add(inbound);
    void rawSocket(target, localAddress).then(
      (outbound) => {
        sockets.add(outbound);
        inbound.pipe(outbound).pipe(inbound);
        const end = () => {
          inbound.destroy();
          outbound.destroy();
        };
        inbound.on('close', end).on('error', end);
        outbound.on('close', end).on('error', end);
      },
      () => inbound.destroy(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
