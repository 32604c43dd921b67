import type { Socket } from 'node:net';
import { abortedErrorFrom, StatementLines, throwIfAborted, type ConnectionArgs } from '@sourced/core';
import type { Connection } from 'mysql2';
import { destroy, openConnection } from './driver';

/** How long the KILL QUERY round (connect, log in, KILL) may take before we give up on it. */
const KILL_TIMEOUT_MS = 2_000;
/** How long a killed statement gets to report its end before the connection is closed anyway. */
const CANCEL_SETTLE_MS = 1_000;
/** How long a graceful close (COM_QUIT) may take before the socket is destroyed. */
const END_TIMEOUT_MS = 1_000;

/** What a KILL QUERY needs: how to log in again, and the id of the session to interrupt. */
interface CancelTarget {
  args: ConnectionArgs;
  connectionId: number;
}

const cancelTargets = new WeakMap<Connection, CancelTarget>();
/** Cancellations in progress, so a close that races one waits for the KILL first. */
const cancelling = new WeakMap<Connection, Promise<void>>();

/**
 * Statements given to one connection at once take turns (see `StatementLines`): mysql2 would
 * queue them itself, but a KILL QUERY for one still waiting would stop the one running.
 */
const lines = new StatementLines<Connection>();

/** Remembers how to interrupt a statement of `conn` (see {@link query}). */
export function registerCancelTarget(conn: Connection, args: ConnectionArgs, connectionId: number): void {
  cancelTargets.set(conn, { args, connectionId });
}

/** Whether a connection was closed because a statement on it was cancelled (it is not usable any more). */
export function closedByCancel(conn: Connection): boolean {
  return cancelling.has(conn);
}

/**
 * Runs one statement and returns its rows, honouring `signal`. When the signal fires while the
 * statement runs, it is interrupted on the server with `KILL QUERY <connection id>` sent over a
 * second, short-lived connection (the MySQL counterpart of PostgreSQL's CancelRequest; a user
 * may always kill its own sessions' statements), and the connection is then closed; the promise
 * rejects with core's `AbortedError` only once that is done, so nothing keeps running on the
 * server. Values travel as `?` parameters only (escaped by mysql2 for a session whose sql_mode
 * the connector sets): never build `sql` from names. Statements given to one connection at once
 * run one after the other, in the order given; one whose signal fires while it waits is never sent.
 */
export async function query<R>(conn: Connection, sql: string, params: readonly unknown[], signal: AbortSignal): Promise<R[]> {
  throwIfAborted(signal);
  const { running } = await lines.send(
    conn,
    signal,
    () =>
      new Promise<R[]>((resolve, reject) => {
        conn.query({ sql, values: params as unknown[] }, (error: Error | null, rows: unknown) => (error ? reject(error) : resolve(rows as R[])));
      }),
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      const done = cancelAndClose(conn, running);
      cancelling.set(conn, done);
      void done.then(() => reject(abortedErrorFrom(signal)));
    };
    // The signal may have fired between the statement's sending and here.
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([running, aborted]);
  } catch (error) {
    if (signal.aborted) {
      await cancelling.get(conn);
      throw abortedErrorFrom(signal);
    }
    throw error;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Closes a connection: COM_QUIT, then the socket; when that takes longer than `timeoutMs`
 * the socket is destroyed. Waits for a cancellation in progress first. Never throws.
 */
export async function endConnection(conn: Connection, timeoutMs = END_TIMEOUT_MS): Promise<void> {
  await cancelling.get(conn);
  await endNow(conn, timeoutMs);
}

async function endNow(conn: Connection, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const quit = await Promise.race([
    new Promise<boolean>((resolve) => {
      try {
        conn.end(() => resolve(true));
      } catch {
        resolve(false);
      }
    }),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (!quit) {
    destroy(conn);
    return;
  }
  // COM_QUIT is queued: end the socket gracefully (flushing it), and destroy it if the
  // server does not close its side soon.
  conn.destroy();
  const stream = (conn as unknown as { stream?: { destroyed?: boolean; destroy?: () => void } }).stream;
  if (stream && !stream.destroyed) setTimeout(() => stream.destroy?.(), END_TIMEOUT_MS).unref();
}

/** Interrupts the running statement on the server, lets it report its end briefly, then closes the connection. */
async function cancelAndClose(conn: Connection, running: Promise<unknown>): Promise<void> {
  running.catch(() => undefined); // it rejects with ER_QUERY_INTERRUPTED or a closed-connection error
  await killQuery(conn).catch(() => undefined);
  await Promise.race([running.then(noop, noop), delay(CANCEL_SETTLE_MS)]);
  await endNow(conn, END_TIMEOUT_MS);
}

/**
 * Sends `KILL QUERY <id>` for the connection's session over a new connection to the address
 * the connection is connected to (a host name may resolve elsewhere), with the same
 * credentials and TLS settings. Gives up after {@link KILL_TIMEOUT_MS}.
 */
export async function killQuery(conn: Connection): Promise<void> {
  const target = cancelTargets.get(conn);
  if (!target) return;
  const { args, connectionId } = target;
  const stream = (conn as unknown as { stream?: Partial<Socket> & { _parent?: Partial<Socket> } }).stream;
  const address = stream?.remoteAddress ?? stream?._parent?.remoteAddress ?? args.host;
  const killArgs: ConnectionArgs = {
    ...args,
    host: address,
    // Verify the certificate against the name the session used, not the address.
    tls: args.tls ? { ...args.tls, servername: args.tls.servername ?? args.host } : undefined,
  };
  const signal = AbortSignal.timeout(KILL_TIMEOUT_MS);
  const { conn: killer } = await openConnection(killArgs, signal, KILL_TIMEOUT_MS);
  try {
    await Promise.race([new Promise<void>((resolve) => killer.query('KILL QUERY ?', [connectionId], () => resolve())), delay(KILL_TIMEOUT_MS)]);
  } finally {
    await endNow(killer, END_TIMEOUT_MS);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function noop(): void {}
