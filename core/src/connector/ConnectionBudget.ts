import { abortedErrorFrom } from '../errors';

/** Gives back one connection slot; calling it more than once is harmless. */
export type ReleaseSlot = () => void;

interface Waiter {
  grant: (release: ReleaseSlot) => void;
}

interface Pool {
  inUse: number;
  waiting: Waiter[];
}

/**
 * The daemon-wide limit of connections to one source endpoint (`host:port` of a connector
 * type): however many calls run at once, no more than `limit` connections to the same
 * endpoint are open. A connection a call needs waits for a slot (in arrival order, until
 * the call is cancelled or its deadline passes); the optional extra connections of
 * parallel reads are taken only when a slot is free at once, so a busy endpoint makes
 * discoveries read with fewer connections instead of waiting.
 */
export class ConnectionBudget {
  private readonly pools = new Map<string, Pool>();
  private peak = new Map<string, number>();

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
    const release = this.tryAcquire(key);
    if (release) return Promise.resolve(release);
    const pool = this.pool(key);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
      };
      const onAbort = () => {
        const i = pool.waiting.indexOf(waiter);
        if (i >= 0) pool.waiting.splice(i, 1);
        reject(abortedErrorFrom(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      pool.waiting.push(waiter);
    });
  }

  /** A slot if one is free now (and nobody is waiting for one), else undefined. */
  tryAcquire(key: string): ReleaseSlot | undefined {
    const pool = this.pool(key);
    if (pool.inUse >= this.limit || pool.waiting.length > 0) return undefined;
    pool.inUse += 1;
    this.peak.set(key, Math.max(this.peak.get(key) ?? 0, pool.inUse));
    return this.releaser(key, pool);
  }

  /** Connections open to an endpoint now. */
  inUse(key: string): number {
    return this.pools.get(key)?.inUse ?? 0;
  }

  /**
   * Connections open now to every endpoint together: the slots held over the whole budget.
   * Read-only; 0 once every call has released its connections (the plugin SDK's conformance
   * kit polls it after a cancelled discovery).
   */
  totalInUse(): number {
    let total = 0;
    for (const pool of this.pools.values()) total += pool.inUse;
    return total;
  }

  /** Calls waiting for a slot of an endpoint now. */
  waiting(key: string): number {
    return this.pools.get(key)?.waiting.length ?? 0;
  }

  /** The most connections ever open at once to an endpoint. */
  peakInUse(key: string): number {
    return this.peak.get(key) ?? 0;
  }

  private pool(key: string): Pool {
    let pool = this.pools.get(key);
    if (!pool) {
      pool = { inUse: 0, waiting: [] };
      this.pools.set(key, pool);
    }
    return pool;
  }

  private releaser(key: string, pool: Pool): ReleaseSlot {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = pool.waiting.shift();
      if (next) {
        // The slot passes straight to the next waiter.
        next.grant(this.releaser(key, pool));
        return;
      }
      pool.inUse -= 1;
      if (pool.inUse === 0) this.pools.delete(key);
    };
  }
}
