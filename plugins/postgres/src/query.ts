import { Socket } from 'node:net';
import { abortedErrorFrom, StatementLines, throwIfAborted } from '@sourced/core';
import type { Client, CustomTypesConfig, QueryConfig, QueryResult, QueryResultRow } from 'pg';

/** How long a CancelRequest may take before we give up on it. */
const CANCEL_TIMEOUT_MS = 2_000;
/** How long a cancelled query gets to report its end before the client is closed anyway. */
const CANCEL_SETTLE_MS = 1_000;
/** How long a graceful `end()` may take before the socket is destroyed. */
const END_TIMEOUT_MS = 1_000;

/** Cancellations in progress, so a close that races one waits for the CancelRequest first. */
const cancelling = new WeakMap<Client, Promise<void>>();

/** Statements given to one client at once take turns (see `StatementLines`). */
const lines = new StatementLines<Client>();

/** Whether a client was closed because a statement on it was cancelled (it is not usable any more). */
export function closedByCancel(client: Client): boolean {
  return cancelling.has(client);
}

/**
 * Runs one statement and returns its rows, honouring `signal`. When the signal fires while
 * the statement runs, the statement is cancelled on the server (a CancelRequest, see
 * {@link sendCancelRequest}) and the client is then closed; the promise rejects with the
 * core `AbortedError` only once that is done, so nothing keeps running on the server.
 * Values go as bind parameters only: never build `sql` from names. `types` replaces the
 * driver's value parsers for this statement (see `CATALOG_TYPES` in catalog.ts). Statements
 * given to one client at once run one after the other, in the order given; one whose signal
 * fires while it waits is never sent.
 */
export async function query<R extends QueryResultRow>(
  client: Client,
  sql: string,
  params: readonly unknown[],
  signal: AbortSignal,
  types?: CustomTypesConfig,
): Promise<R[]> {
  throwIfAborted(signal);
  // `sql` may be a QueryConfig in disguise (preview.ts reads rows as arrays): pass it on whole.
  const config: QueryConfig =
    typeof sql === 'string' ? { text: sql, values: params as unknown[], types } : { ...(sql as QueryConfig), values: params as unknown[] };
  const { running } = await lines.send(client, signal, () => client.query<R>(config));
  return run<R>(client, running, signal);
}

/** Waits for a statement sent on a client, cancelling it on the server when the signal fires. */
async function run<R extends QueryResultRow>(client: Client, running: Promise<QueryResult<R>>, signal: AbortSignal): Promise<R[]> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      const done = cancelAndClose(client, running);
      cancelling.set(client, done);
      void done.then(() => reject(abortedErrorFrom(signal)));
    };
    // The signal may have fired between the statement's sending and here.
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const result = await Promise.race([running, aborted]);
    return result.rows;
  } catch (error) {
    if (signal.aborted) {
      await cancelling.get(client);
      throw abortedErrorFrom(signal);
    }
    throw error;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Closes a client: a graceful `end()` (Terminate message), and when that takes longer than
 * `timeoutMs` the socket is destroyed. Waits for a cancellation in progress first. Never throws.
 */
export async function endClient(client: Client, timeoutMs = END_TIMEOUT_MS): Promise<void> {
  await cancelling.get(client);
  await endNow(client, timeoutMs);
}

async function endNow(client: Client, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.end().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          client.connection.stream.destroy();
          resolve();
        }, timeoutMs);
      }),
    ]);
  } catch {
    // end() must never throw for our callers.
  } finally {
    clearTimeout(timer);
  }
}

/** Cancels the running statement on the server, lets it report its end briefly, then closes the client. */
async function cancelAndClose(client: Client, running: Promise<unknown>): Promise<void> {
  running.catch(() => undefined); // it rejects with 57014 (query_canceled) or a closed-connection error
  await sendCancelRequest(client).catch(() => undefined);
  await Promise.race([running.then(noop, noop), delay(CANCEL_SETTLE_MS)]);
  await endNow(client, END_TIMEOUT_MS);
}

/**
 * The backend key pg keeps from the BackendKeyData message. pg has these as public fields
 * but its type definitions do not declare them.
 */
interface BackendKey {
  processID: number | null;
  secretKey: number | null;
}

/**
 * Sends a PostgreSQL CancelRequest for the client's backend: a fresh connection to the
 * server the client is connected to, carrying the 16-byte message (length 16, code
 * 80877102, process id, secret key); the server answers by closing the connection.
 *
 * pg has an undocumented `Client#cancel(client, query)` doing the same, but it only works
 * for the query object pg considers active and gives no signal when the request was
 * delivered; we need to know that before closing the client, or a closed client would
 * leave its statement running on the server until statement_timeout. Like libpq before
 * version 17 (and pg), the request goes over plain TCP: the server accepts a
 * CancelRequest before any TLS negotiation and pg_hba.conf does not apply to it.
 */
export function sendCancelRequest(client: Client): Promise<void> {
  const { processID, secretKey } = client as unknown as BackendKey;
  if (processID === null || secretKey === null) return Promise.resolve();
  // Cancel on the address the client is connected to: a host name may resolve elsewhere.
  const stream = client.connection.stream as Partial<Socket>;
  const host = stream.remoteAddress ?? client.host;
  const port = stream.remotePort ?? client.port;
  const message = Buffer.alloc(16);
  message.writeInt32BE(16, 0);
  message.writeInt32BE(80877102, 4);
  message.writeInt32BE(processID, 8);
  message.writeInt32BE(secretKey, 12);
  return new Promise((resolve) => {
    const socket = new Socket();
    const timer = setTimeout(() => socket.destroy(), CANCEL_TIMEOUT_MS);
    socket.once('connect', () => socket.end(message));
    socket.once('error', () => socket.destroy());
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('data', noop);
    socket.connect(port, host);
  });
}

/** A pause that does not keep the process alive on its own (shutdown must not wait for it). */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function noop(): void {}
