import { createServer } from 'node:net';

/**
 * Finds a TCP port that is currently free on 127.0.0.1.
 *
 * Binds a throwaway server to `127.0.0.1:0`, reads the port the kernel chose and
 * closes the server. Another process may take the port before the caller binds it,
 * so callers that can retry on `EADDRINUSE` should.
 */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: could not read the bound port'));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
