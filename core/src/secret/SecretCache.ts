import { LRUCache } from 'lru-cache';
import pRetry, { AbortError } from 'p-retry';
import { abortedErrorFrom, describeError, SourcedError, throwIfAborted, UnavailableError } from '../errors';
import { Secret } from './Secret';
import { SecretErrorReason, type SecretProvider, type SecretProviderContext, type SecretReference } from './SecretProvider';

/**
 * The secret chain's cache of resolved references: `lru-cache` keeps the values (TTL, most
 * entries, least recently used out first) and shares one provider call among the concurrent
 * look-ups of a key (its `fetchMethod`); `p-retry` retries a throttled provider. What the
 * libraries do not do is kept here: a call's time limit, which failures may serve a stale
 * value, and cancellation per caller. lru-cache runs a shared fetch under the signal of the
 * caller that started it; here it runs under a signal of its own, which fires only when every
 * caller waiting for it has cancelled. A caller that cancels leaves at once with its own
 * AbortedError; the others get the value.
 */

/** One look-up the cache may have to make. */
export interface SecretFetch {
  provider: SecretProvider;
  ref: SecretReference;
  /** The provider's context under a signal: the shared call's own (with its time limit), never one caller's. */
  context(signal: AbortSignal): SecretProviderContext;
}

/** A cached raw value (before any `#json.path`), with when it was fetched (`performance.now()`). */
export interface CachedSecret {
  secret: Secret;
  fetched: number;
}

/** How one look-up was served: from the cache, by a provider call, or stale while the provider is down. */
export type CacheResult = 'hit' | 'miss' | 'stale';

export interface SecretCacheOptions {
  /** How long a value is fresh; 0: never (every look-up calls the provider). */
  ttlMs: number;
  maxEntries: number;
  /** How old a value may be to be served while its provider is unavailable; 0: never. */
  staleIfErrorMs: number;
  providerTimeoutMs: number;
  /** Attempts of a throttled call, at least 1. */
  throttleAttempts: number;
}

/** A provider call in flight, shared by every caller of its key. */
interface Flight {
  job: SecretFetch;
  /** Fires when the last waiting caller has cancelled; the provider's signal follows it. */
  controller: AbortController;
  waiters: number;
  /** Set by the fetch when the provider failed and the stale value is served. */
  stale: boolean;
  /** Settles once the call is over (rejects as the call failed). */
  done: Promise<CachedSecret | undefined>;
}

export class SecretCache {
  private readonly lru: LRUCache<string, CachedSecret, Flight>;
  private readonly flights = new Map<string, Flight>();

  constructor(private readonly options: SecretCacheOptions) {
    this.lru = new LRUCache<string, CachedSecret, Flight>({
      max: options.maxEntries,
      // 0 is lru-cache's "no TTL": with ttlMs 0 every fetch is a forced refresh instead.
      ttl: Math.max(0, options.ttlMs),
      // A failed refresh keeps the earlier value (stale), for a later outage within staleIfErrorMs.
      noDeleteOnFetchRejection: true,
      fetchMethod: (_key, stale, { signal, options: fetchOptions, context: flight }) =>
        this.load(flight, signal).catch((error: unknown) => {
          // Only an outage serves the last value, and only one recent enough; lru-cache reads
          // this option when the fetch rejects.
          const serveStale =
            stale !== undefined && error instanceof UnavailableError && !signal.aborted && performance.now() - stale.fetched < options.staleIfErrorMs;
          fetchOptions.allowStaleOnFetchRejection = serveStale;
          flight.stale = serveStale;
          throw error;
        }),
    });
  }

  /**
   * The value of `key`: fresh from the cache, or from the provider call in flight for it, or
   * from a new one. Rejects at once with the caller's AbortedError when `signal` fires; the
   * provider call goes on while any other caller waits for it.
   */
  async get(key: string, job: SecretFetch, signal: AbortSignal): Promise<{ entry: CachedSecret; result: CacheResult }> {
    for (;;) {
      throwIfAborted(signal);
      const current = this.flights.get(key);
      // Every caller of that call cancelled it: wait until it is over, then start another.
      if (current?.controller.signal.aborted) {
        await current.done.catch(() => undefined);
        continue;
      }
      const started = current ? { flight: current, hit: undefined } : this.start(key, job);
      if (started.hit) return { entry: started.hit, result: 'hit' };
      const entry = await this.wait(started.flight, signal);
      if (entry) return { entry, result: started.flight.stale ? 'stale' : 'miss' };
    }
  }

  /** Asks lru-cache for the key; a fresh value comes back at once, otherwise a flight is registered. */
  private start(key: string, job: SecretFetch): { flight: Flight; hit?: CachedSecret } {
    const controller = new AbortController();
    const flight: Flight = { job, controller, waiters: 0, stale: false, done: Promise.resolve(undefined) };
    const status: LRUCache.Status<string, CachedSecret, Flight> = {};
    const pending = this.lru.fetch(key, { context: flight, signal: controller.signal, forceRefresh: this.options.ttlMs <= 0, status });
    if (status.fetch === 'hit') {
      const hit = this.lru.peek(key);
      if (hit) return { flight, hit };
    }
    flight.done = pending.finally(() => {
      if (this.flights.get(key) !== flight) return;
      this.flights.delete(key);
      // With no TTL and no stale window nothing is kept once the callers have their value.
      if (this.options.ttlMs <= 0 && this.options.staleIfErrorMs <= 0) this.lru.delete(key);
    });
    flight.done.catch(() => undefined);
    this.flights.set(key, flight);
    return { flight };
  }

  /** Waits for a flight as one of its callers; leaving (the caller's signal) cancels the call only if nobody else waits. */
  private wait(flight: Flight, signal: AbortSignal): Promise<CachedSecret | undefined> {
    flight.waiters += 1;
    return new Promise((resolve, reject) => {
      const leave = () => {
        flight.waiters -= 1;
        if (flight.waiters === 0) flight.controller.abort(signal.reason);
        reject(abortedErrorFrom(signal));
      };
      signal.addEventListener('abort', leave, { once: true });
      flight.done.then(
        (entry) => {
          signal.removeEventListener('abort', leave);
          resolve(entry);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', leave);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- every waiter gets the shared look-up's failure as it is
          reject(error);
        },
      );
    });
  }

  /** One look-up: the provider call, retried while it is throttled. */
  private async load(flight: Flight, signal: AbortSignal): Promise<CachedSecret> {
    const { provider, ref } = flight.job;
    let attempts = 0;
    try {
      const secret = await pRetry(
        async () => {
          attempts += 1;
          try {
            return await this.callProvider(flight.job, signal);
          } catch (error) {
            if (isThrottled(error)) throw error;
            // Anything else ends the look-up as it is (p-retry's AbortError means "do not retry").
            throw new AbortError(error instanceof Error ? error : new Error(describeError(error)));
          }
        },
        { retries: this.options.throttleAttempts - 1, minTimeout: 100, factor: 2, randomize: false, unref: true, signal },
      );
      return { secret, fetched: performance.now() };
    } catch (error) {
      if (isThrottled(error)) {
        throw new UnavailableError(SecretErrorReason.THROTTLED, `${provider.id} throttled ${ref.uri} ${attempts} times; try again later`, { cause: error });
      }
      throw error;
    }
  }

  /** One provider call under the shared signal and the time limit. */
  private async callProvider(job: SecretFetch, signal: AbortSignal): Promise<Secret> {
    const { provider, ref } = job;
    const timeoutMs = this.options.providerTimeoutMs;
    const limit = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
    const value = await new Promise<string | Uint8Array>((resolve, reject) => {
      const onAbort = () =>
        // The daemon aborts with errors (an AbortedError, a DOMException from AbortSignal.timeout).
        reject(
          signal.aborted ? (signal.reason as Error) : new UnavailableError('SECRET_PROVIDER_TIMEOUT', `${provider.id} did not answer within ${timeoutMs} ms`),
        );
      limit.addEventListener('abort', onAbort, { once: true });
      provider
        .resolve(ref, job.context(limit))
        .then(resolve, reject)
        .finally(() => limit.removeEventListener('abort', onAbort));
    });
    return new Secret(typeof value === 'string' ? value : Buffer.from(value).toString('utf8'), ref.uri);
  }
}

function isThrottled(error: unknown): boolean {
  return error instanceof SourcedError && error.reason === SecretErrorReason.THROTTLED;
}
