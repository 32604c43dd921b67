import { abortedErrorFrom, SourcedError } from '@sourced/core';

/** What {@link withStatementLimit} says when the limit passes. */
export interface StatementLimitOptions {
  /**
   * The ErrorInfo reason of the time-out, FAILED_PRECONDITION on the wire: `CATALOG_READ_TIMEOUT`
   * for a catalog read, `PREVIEW_READ_TIMEOUT` for a preview; default `STATEMENT_TIMEOUT`.
   */
  reason?: string;
  /** What the statement reads, for the message: `the columns of main.orders`; default `a statement`. */
  what?: string;
}

/**
 * Runs one statement under a time limit, and cancels it on the source when the limit passes
 * or the call's signal fires (the caller cancelled, the deadline passed, the daemon stops):
 *
 * ```ts
 * const rows = await withStatementLimit(
 *   args.statementTimeoutMs ?? 30_000, signal,
 *   (limited) => client.query(sql, { signal: limited }),   // give the driver the signal if it takes one
 *   () => client.cancelRunningQuery(),                      // and cancel on the server: KILL QUERY, db.interrupt(), ...
 *   { reason: 'PREVIEW_READ_TIMEOUT', what: `the rows of ${table.schema}.${table.name}` },
 * );
 * ```
 *
 * `run` gets a signal that fires at the limit or with `signal`. When it fires first, `cancel`
 * is called once (errors it throws are ignored: the statement may have ended meanwhile), and
 * the call rejects at once, without waiting for `run`: with a `SourcedError` of
 * `options.reason` (FAILED_PRECONDITION) naming the limit when the time ran out, with the
 * `AbortedError` of `signal` when the caller stopped. `ms` of 0 or less means no limit.
 * Honour the limit on the server too when the source has one (`statement_timeout`,
 * `max_execution_time`): this helper is the bound for drivers and sources that have none.
 */
export async function withStatementLimit<T>(
  ms: number,
  signal: AbortSignal,
  run: (signal: AbortSignal) => Promise<T>,
  cancel: () => void | Promise<void>,
  options: StatementLimitOptions = {},
): Promise<T> {
  if (signal.aborted) throw abortedErrorFrom(signal);
  const limit = new AbortController();
  const timer = ms > 0 ? setTimeout(() => limit.abort(new Error('statement time limit')), ms) : undefined;
  const onAbort = () => limit.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let stop: ((error: unknown) => void) | undefined;
  const stopped = new Promise<never>((_resolve, reject) => (stop = reject));
  const onLimit = () => {
    void Promise.resolve()
      .then(cancel)
      .catch(() => undefined);
    const timedOut = !signal.aborted;
    stop?.(
      timedOut
        ? new SourcedError(
            options.reason ?? 'STATEMENT_TIMEOUT',
            `${options.what ?? 'a statement'} ran longer than the statement time limit of ${ms} ms and was cancelled`,
            {
              metadata: { limit_ms: String(ms), hint: "Profile or preview a smaller table, read fewer columns, or raise the strategy's statement time limit." },
            },
          )
        : abortedErrorFrom(signal),
    );
  };
  limit.signal.addEventListener('abort', onLimit, { once: true });
  try {
    const running = run(limit.signal);
    // A rejection of `run` after the limit won is expected (the statement was cancelled): not unhandled.
    running.catch(() => undefined);
    return await Promise.race([running, stopped]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    limit.signal.removeEventListener('abort', onLimit);
  }
}
