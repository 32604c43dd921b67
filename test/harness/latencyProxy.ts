import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server that can add latency: every chunk, in both
 * directions, is forwarded `delayMs` after it arrived (order kept). Setting `delayMs`
 * takes effect for chunks that arrive afterwards. Slows a source down the way a busy server
 * or a long link does, without touching the server.
 */
export interface LatencyProxy {
  host: '127.0.0.1';
  port: number;
  /** One-way delay added to each chunk, milliseconds. */
  delayMs: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Where new connections go; changing it moves only connections accepted afterwards (a DNS name that now points elsewhere). */
  target: { host: string; port: number };
  /**
   * While true, every byte is dropped in both directions and nothing is closed: a link that
   * silently loses packets (a firewall dropping a flow, a cable pulled behind a switch).
   */
  dropping: boolean;
  /** Destroys every connection open through the proxy (both sides), as a network cut would; the proxy keeps listening. */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startLatencyProxy(target: { host: string; port: number }, delayMs = 0): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const proxy: LatencyProxy = {
    host: '127.0.0.1',
    port: 0,
    delayMs,
    get accepted() {
      return accepted;
    },
    target: { ...target },
    dropping: false,
    dropConnections: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };

  /**
   * Forwards `from` to `to`, each chunk after the delay in force when it arrived, in order.
   * One queue per direction, drained by one timer: a chunk is written only after every
   * chunk before it. (Writing a chunk whose time had come at once, beside timers of earlier
   * chunks that a busy event loop had not fired yet, let it overtake them: the bytes of the
   * protocol arrived out of order and the client waited forever for an answer, which is how
   * the ADAPTIVE suite hung on a loaded machine — issue 18.)
   */
  const pipeDelayed = (from: Socket, to: Socket) => {
    const queue: { chunk: Buffer; due: number }[] = [];
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const drain = () => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0].due <= now) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(drain, queue[0].due - now);
      else if (ended) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      if (proxy.dropping) return; // a link that loses every packet and never says so
      const last = queue.length > 0 ? queue[queue.length - 1].due : 0; // a shorter delay never overtakes
      queue.push({ chunk, due: Math.max(Date.now() + proxy.delayMs, last) });
      if (!timer) drain();
    });
    from.on('end', () => {
      ended = true;
      if (!timer) drain();
    });
  };

  const server: Server = createServer((client) => {
    accepted += 1;
    const upstream = createConnection({ host: proxy.target.host, port: proxy.target.port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as { port: number }).port;
  return proxy;
}
