import { describe, expect, it } from 'vitest';
import { AbortedError, ConnectionBudget, mapWithConcurrency, type ReleaseSlot } from '../src';

const key = ConnectionBudget.key('postgres', 'db.example', 5432);
const never = new AbortController().signal;
const tick = () => new Promise((r) => setImmediate(r));

/** The connection budget (a semaphore per endpoint): what a connector relies on besides the queue order pinned in strategies.test.ts. */
describe('ConnectionBudget', () => {
  /** However many callers ask at once, no more than the limit hold a slot, and every one gets its turn. */
  it('never grants more than the limit, and serves everyone', async () => {
    const b = new ConnectionBudget(3);
    let holding = 0;
    let most = 0;
    const served = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const release = await b.acquire(key, never);
        holding += 1;
        most = Math.max(most, holding);
        expect(b.inUse(key)).toBeLessThanOrEqual(3);
        await tick();
        holding -= 1;
        release();
        return i;
      }),
    );
    expect(served).toHaveLength(20);
    expect(most).toBe(3);
    expect(b.peakInUse(key)).toBe(3);
    expect(b.totalInUse()).toBe(0);
  });

  /** A connection that fails to open gives its slot back (release in `finally`), and the next caller gets it. */
  it('passes the slot of a failed holder to the next waiter', async () => {
    const b = new ConnectionBudget(1);
    const failingOpen = async () => {
      const release = await b.acquire(key, never);
      try {
        await tick();
        throw new Error('connection refused');
      } finally {
        release();
      }
    };
    const first = failingOpen().catch((e: unknown) => e);
    const next = b.acquire(key, never);
    expect(await first).toEqual(new Error('connection refused'));
    const release = await next;
    expect(b.inUse(key)).toBe(1);
    release();
    expect(b.inUse(key)).toBe(0);
  });

  /**
   * A caller that cancels while it waits leaves at once; the slot the semaphore would have
   * given it goes to the caller behind it, and nothing stays counted.
   */
  it('hands the slot of a caller that cancelled while waiting to the next one', async () => {
    const b = new ConnectionBudget(1);
    const holder = await b.acquire(key, never);
    const cancel = new AbortController();
    const cancelled = b.acquire(key, cancel.signal).catch((e: unknown) => e);
    const patient = b.acquire(key, never);
    expect(b.waiting(key)).toBe(2);
    cancel.abort(new AbortedError('the client cancelled the call'));
    const error = (await cancelled) as AbortedError;
    expect(error).toBeInstanceOf(AbortedError);
    expect(error.reason).toBe('CANCELLED');
    expect(b.waiting(key)).toBe(1);
    holder();
    const release = await patient;
    expect([b.inUse(key), b.waiting(key)]).toEqual([1, 0]);
    release();
    await tick();
    expect(b.totalInUse()).toBe(0);
    // The endpoint is free again: a parallel read's extra connection gets a slot at once.
    const extra = b.tryAcquire(key);
    expect(extra).toBeDefined();
    extra?.();
  });

  /** A deadline that passes while waiting is reported as such, not as a cancel. */
  it('rejects with DEADLINE_EXCEEDED when the deadline passes while waiting', async () => {
    const b = new ConnectionBudget(1);
    const holder = await b.acquire(key, never);
    const error = (await b.acquire(key, AbortSignal.timeout(20)).catch((e: unknown) => e)) as AbortedError;
    expect(error).toBeInstanceOf(AbortedError);
    expect(error.reason).toBe('DEADLINE_EXCEEDED');
    holder();
    expect(b.totalInUse()).toBe(0);
  });

  /** A signal that fired before asking gets nothing and leaves nothing. */
  it('refuses at once when the signal has already fired', async () => {
    const b = new ConnectionBudget(1);
    const gone = new AbortController();
    gone.abort(new AbortedError('the client cancelled the call'));
    await expect(b.acquire(key, gone.signal)).rejects.toBeInstanceOf(AbortedError);
    expect([b.inUse(key), b.waiting(key)]).toEqual([0, 0]);
  });

  /** Under churn (callers that cancel, callers that hold), the counts come back to zero and the limit holds. */
  it('keeps its counts under cancellations', async () => {
    const b = new ConnectionBudget(2);
    const releases: ReleaseSlot[] = [];
    const controllers = Array.from({ length: 12 }, () => new AbortController());
    const asks = controllers.map((c) =>
      b.acquire(key, c.signal).then(
        (r) => (releases.push(r), r),
        (e: unknown) => e,
      ),
    );
    await tick();
    controllers.forEach((c, i) => i % 3 === 0 && c.abort(new AbortedError('the client cancelled the call')));
    for (let i = 0; i < 12; i++) {
      await tick();
      expect(b.inUse(key)).toBeLessThanOrEqual(2);
      releases.shift()?.();
    }
    const outcomes = await Promise.all(asks);
    expect(outcomes.filter((o) => o instanceof AbortedError).length).toBeGreaterThan(0);
    releases.forEach((r) => r());
    await tick();
    expect([b.totalInUse(), b.waiting(key)]).toEqual([0, 0]);
  });
});

describe('mapWithConcurrency', () => {
  /** A failure rejects only once the calls already running have finished, so nothing they use is closed under them. */
  it('waits for the running calls before rejecting', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const error = await mapWithConcurrency([1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      await tick();
      if (n === 1) throw new Error('boom');
      await tick();
      finished.push(n);
      return n;
    }).catch((e: unknown) => e);
    expect(error).toEqual(new Error('boom'));
    expect(started).toEqual([1, 2]);
    expect(finished).toEqual([2]);
  });

  /** Once the signal fires no new call starts; the call's AbortedError rejects. */
  it('starts nothing after the signal fires', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const error = await mapWithConcurrency(
      [1, 2, 3],
      1,
      async (n) => {
        started.push(n);
        if (n === 1) controller.abort(new AbortedError('the client cancelled the call'));
        return n;
      },
      controller.signal,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect(started).toEqual([1]);
  });
});
