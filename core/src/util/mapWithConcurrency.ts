import pMap from 'p-map';
import { throwIfAborted } from '../errors';

/**
 * Maps items with at most `concurrency` calls of `fn` running at once, keeping the input
 * order in the result (`p-map`). Stops starting new calls once one fails or the signal fires,
 * waits for the calls already running (so nothing still uses what the caller closes next),
 * then rejects with the first failure (or the call's AbortedError).
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const running = new Set<Promise<R>>();
  try {
    return await pMap(
      items,
      (item, index) => {
        throwIfAborted(signal);
        const call = fn(item, index);
        running.add(call);
        void call.then(
          () => running.delete(call),
          () => running.delete(call),
        );
        return call;
      },
      { concurrency: Number.isFinite(concurrency) ? Math.max(1, Math.floor(concurrency)) : Number.POSITIVE_INFINITY },
    );
  } catch (error) {
    // p-map rejects at the first failure; the calls it had started still run.
    await Promise.allSettled(running);
    throw error;
  }
}
