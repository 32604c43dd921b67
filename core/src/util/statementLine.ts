import { abortedErrorFrom, throwIfAborted } from '../errors';

/**
 * Statements given to one driver connection at once, in line: one runs at a time, in the order
 * given, and the next is sent in the first reaction to the one before settling (before that
 * one's caller goes on), as a driver's own queue does. Connectors keep the line themselves
 * rather than hand a driver a second statement while one runs, because their cancellation is
 * per session (PostgreSQL's CancelRequest, MySQL's KILL QUERY <id>): a statement cancelled while
 * it waited would otherwise cancel the one running. One that is cancelled while it waits leaves
 * the line and is never sent. Discovery's first reads share connections this way.
 */
export class StatementLines<C extends object> {
  private readonly lines = new WeakMap<C, { busy: boolean; waiting: (() => void)[] }>();

  /**
   * Waits for `conn`'s turn, then calls `send`, which starts the statement and returns its
   * promise; the turn passes on as soon as that settles. Rejects with the signal's
   * `AbortedError`, without calling `send`, when the signal fires first. The statement's promise
   * comes wrapped (awaiting it is the caller's: it may cancel it meanwhile).
   */
  async send<T>(conn: C, signal: AbortSignal, send: () => Promise<T>): Promise<{ running: Promise<T> }> {
    throwIfAborted(signal);
    return new Promise((resolve, reject) => {
      let leave = (): boolean => false;
      const onAbort = () => {
        if (leave()) reject(abortedErrorFrom(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      leave = this.enter(conn, () => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) {
          this.next(conn);
          reject(abortedErrorFrom(signal));
          return;
        }
        let running: Promise<T>;
        try {
          running = send();
        } catch (error) {
          this.next(conn);
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        running.then(
          () => this.next(conn),
          () => this.next(conn),
        );
        resolve({ running });
      });
    });
  }

  /** Runs `start` now when `conn` is free, else after the statements before it; the returned function takes it out of the line (true) unless it has started. */
  private enter(conn: C, start: () => void): () => boolean {
    let line = this.lines.get(conn);
    if (!line) this.lines.set(conn, (line = { busy: false, waiting: [] }));
    if (!line.busy) {
      line.busy = true;
      start();
      return () => false;
    }
    const waiting = line.waiting;
    waiting.push(start);
    return () => {
      const at = waiting.indexOf(start);
      if (at < 0) return false;
      waiting.splice(at, 1);
      return true;
    };
  }

  /** `conn`'s turn passes to the next statement waiting, if any. */
  private next(conn: C): void {
    const line = this.lines.get(conn);
    if (!line) return;
    const next = line.waiting.shift();
    if (next) next();
    else line.busy = false;
  }
}
