import { Semaphore } from 'async-mutex';
import { abortedErrorFrom } from '../errors';

/** Gives back one connection slot; calling it more than once is harmless. */
export type ReleaseSlot = () => void;

/** The slots of one endpoint: an `async-mutex` semaphore (its queue is first come, first served) and what we report. */
interface Endpoint {
  semaphore: Semaphore;
  /** Slots held by callers (a slot granted to a caller that had cancelled is given back at once, not counted). */
  inUse: number;
  /** Callers waiting now (a cancelled one leaves this count at once). */
  waiting: number;
}

/**
 * The daemon-wide limit of connections to one source endpoint (`host:port` of a connector
 * type): however many calls run at once, no more than `limit` connections to the same
 * endpoint are open. A connection a call needs waits for a slot (in arrival order, until
 * the call is cancelled or its deadline passes); the optional extra connections of
 * parallel reads are taken only when a slot is free at once, so a busy endpoint makes
 * discoveries read with fewer connections instead of waiting.
 *
 * One semaphore per endpoint (`async-mutex`), made when first used and dropped when idle.
 * The semaphore cannot take a waiter out of its queue, so a caller that cancels while it
 * waits is rejected at once and the slot it is granted later is passed straight on.
 */
export class ConnectionBudget {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly peak = new Map<string, number>();

  constructor(
    /** Most connections open at once to one endpoint, a positive integer (else a RangeError). */
    readonly limit: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a connection limit must be a positive integer, not ${limit}`);
  }

  /** The key of an endpoint. */
  static key(type: string, host: string, port: number): string {
    return `${type}://${host.toLowerCase()}:${port}`;
  }

  /** Waits for a slot; rejects with an AbortedError when `signal` fires first. */
  acquire(key: string, signal: AbortSignal): Promise<ReleaseSlot> {
    if (signal.aborted) return Promise.reject(abortedErrorFrom(signal));
    const free = this.tryAcquire(key);
    if (free) return Promise.resolve(free);
    const endpoint = this.endpoint(key);
    endpoint.waiting += 1;
    return new Promise((resolve, reject) => {
      let gone = false;
      const onAbort = () => {
        gone = true;
        endpoint.waiting -= 1;
        reject(abortedErrorFrom(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void endpoint.semaphore.acquire().then(() => {
        if (gone) {
          endpoint.semaphore.release();
          this.dropIfIdle(key, endpoint);
          return;
        }
        signal.removeEventListener('abort', onAbort);
        endpoint.waiting -= 1;
        resolve(this.granted(key, endpoint));
      });
    });
  }

  /** A slot if one is free now (and nobody is waiting for one), else undefined. */
  tryAcquire(key: string): ReleaseSlot | undefined {
    const endpoint = this.endpoint(key);
    if (endpoint.waiting > 0 || endpoint.semaphore.getValue() < 1) return undefined;
    // With a free slot and an empty queue the semaphore hands it over synchronously; the
    // slot goes back through release(), not through the releaser its promise carries.
    void endpoint.semaphore.acquire();
    return this.granted(key, endpoint);
  }

  /** Connections open to an endpoint now. */
  inUse(key: string): number {
    return this.endpoints.get(key)?.inUse ?? 0;
  }

  /**
   * Connections open now to every endpoint together: the slots held over the whole budget.
   * Read-only; 0 once every call has released its connections (the plugin SDK's conformance
   * kit polls it after a cancelled discovery).
   */
  totalInUse(): number {
    let total = 0;
    for (const endpoint of this.endpoints.values()) total += endpoint.inUse;
    return total;
  }

  /** Calls waiting for a slot of an endpoint now. */
  waiting(key: string): number {
    return this.endpoints.get(key)?.waiting ?? 0;
  }

  /** The most connections ever open at once to an endpoint. */
  peakInUse(key: string): number {
    return this.peak.get(key) ?? 0;
  }

  private endpoint(key: string): Endpoint {
    let endpoint = this.endpoints.get(key);
    if (!endpoint) {
      endpoint = { semaphore: new Semaphore(this.limit), inUse: 0, waiting: 0 };
      this.endpoints.set(key, endpoint);
    }
    return endpoint;
  }

  /** Counts a slot the semaphore gave a caller, and returns its release. */
  private granted(key: string, endpoint: Endpoint): ReleaseSlot {
    endpoint.inUse += 1;
    this.peak.set(key, Math.max(this.peak.get(key) ?? 0, endpoint.inUse));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      endpoint.inUse -= 1;
      // The semaphore passes the slot straight to the first waiter, if any.
      endpoint.semaphore.release();
      this.dropIfIdle(key, endpoint);
    };
  }

  /** Forgets an endpoint nobody holds or waits for (a later call makes a fresh semaphore). */
  private dropIfIdle(key: string, endpoint: Endpoint): void {
    if (endpoint.inUse === 0 && endpoint.waiting === 0 && endpoint.semaphore.getValue() === this.limit && this.endpoints.get(key) === endpoint) {
      this.endpoints.delete(key);
    }
  }
}
