/**
 * Runs tasks over a fixed set of connections, each connection running one task at a time.
 *
 * mysql2 queues the statements of a connection and runs them one after another, but the
 * abortable `query` helper cancels by `KILL QUERY <connection id>`, which stops whatever that
 * session runs at that moment. Handing each connection to one task at a time keeps that
 * exact: a cancelled task's KILL always reaches its own statement, never a neighbour queued
 * behind it, and a page read over several connections cancels each server thread it uses.
 * With one connection the tasks run strictly one after another, in the order they were
 * given; with more, in that order as connections come free (the first connection first).
 * Once a task has failed, tasks that have not started yet fail with the same error instead
 * of running (the page is lost anyway).
 */
export class ConnectionQueue<C> {
  private readonly free: C[];
  private readonly waiting: ((conn: C) => void)[] = [];
  private failure?: { error: unknown };

  constructor(connections: readonly C[]) {
    if (connections.length === 0) throw new RangeError('a connection queue needs at least one connection');
    this.free = [...connections];
  }

  /** Runs `task` on the next free connection and frees it when the task settles. */
  async run<T>(task: (conn: C) => Promise<T>): Promise<T> {
    const conn = this.free.shift() ?? (await new Promise<C>((resolve) => this.waiting.push(resolve)));
    try {
      if (this.failure) throw this.failure.error;
      return await task(conn);
    } catch (error) {
      this.failure ??= { error };
      throw error;
    } finally {
      const next = this.waiting.shift();
      if (next) next(conn);
      else this.free.unshift(conn);
    }
  }
}

/**
 * Waits until every promise has settled, then returns their values, or throws the first
 * rejection in the given order. Unlike `Promise.all` it never returns while a statement
 * still runs on one of the connections (a failed page leaves no connection busy).
 */
export async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
