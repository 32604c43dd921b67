import { createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP server on 127.0.0.1 that accepts connections and then says nothing (a tarpit): a
 * database connect to it hangs until the client's own timeout. `close()` drops every
 * connection it holds.
 */
export async function startBlackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
