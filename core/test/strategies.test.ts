import { describe, expect, it } from 'vitest';
import { AbortedError, AdaptiveController, ConnectionBudget, STRATEGY_PRESETS, type DaemonLoad } from '../src';

/** A daemon load the test sets. */
function load(eventLoopDelayMs = 0, heapUsedFraction = 0.1): DaemonLoad & { delay: number; heap: number } {
  return {
    delay: eventLoopDelayMs,
    heap: heapUsedFraction,
    eventLoopDelayMs() {
      return this.delay;
    },
    heapUsedFraction() {
      return this.heap;
    },
  };
}

describe('ADAPTIVE', () => {
  const preset = STRATEGY_PRESETS.ADAPTIVE;

  /** Fast batches grow the batch by half and add a read, up to the preset's bounds. */
  it('grows on fast batches up to its maximum', () => {
    const a = new AdaptiveController(preset, load(), 0);
    expect(a.current).toMatchObject({ batchSize: 100, concurrency: 1, statementTimeoutMs: 30_000 });
    const sizes = [];
    for (let i = 0; i < 10; i++) {
      expect(a.observe(50)).toBe('GROW');
      sizes.push(a.current.batchSize);
    }
    expect(sizes).toEqual([150, 225, 338, 507, 761, 1000, 1000, 1000, 1000, 1000]);
    expect(a.current.concurrency).toBe(preset.maxConcurrency);
  });

  /** A slow source halves the batch and takes a read away, down to the minimum. */
  it('shrinks when the source is slow', () => {
    const a = new AdaptiveController(preset, load(), 0);
    a.observe(10);
    a.observe(10);
    expect(a.current).toMatchObject({ batchSize: 225, concurrency: 3 });
    expect(a.observe(preset.targetBatchMs * 3)).toBe('SHRINK_SOURCE_SLOW');
    expect(a.current).toMatchObject({ batchSize: 112, concurrency: 2 });
    for (let i = 0; i < 8; i++) a.observe(preset.targetBatchMs * 3);
    expect(a.current).toMatchObject({ batchSize: preset.minBatch, concurrency: preset.minConcurrency });
    // within the target band nothing changes
    expect(a.observe(preset.targetBatchMs)).toBe('KEEP');
  });

  /** The daemon's own trouble (event-loop lag, a filling heap) backs off even when the source is fast. */
  it('backs off when the daemon is busy', () => {
    const l = load();
    const a = new AdaptiveController(preset, l, 0);
    l.delay = 500;
    expect(a.observe(10)).toBe('SHRINK_DAEMON_BUSY');
    expect(a.current.batchSize).toBe(50);
    l.delay = 0;
    l.heap = 0.9;
    expect(a.observe(10)).toBe('SHRINK_DAEMON_BUSY');
    l.heap = 0.2;
    expect(a.observe(10)).toBe('GROW');
  });

  /** A caller's batch_size pins the batch; concurrency still adapts. */
  it('keeps a batch size the caller chose', () => {
    const a = new AdaptiveController(preset, load(), 40);
    a.observe(10);
    expect(a.current).toMatchObject({ batchSize: 40, concurrency: 2 });
  });

  /** AGGRESSIVE's first batch is small, so the first entities come quickly; then it reads 1,000 at a time. */
  it('starts AGGRESSIVE with a small batch', () => {
    const a = new AdaptiveController(STRATEGY_PRESETS.AGGRESSIVE, load(), 0);
    expect(a.current).toMatchObject({ batchSize: 100, concurrency: 4 });
    a.observe(10);
    expect(a.current).toMatchObject({ batchSize: 1000, concurrency: 4 });
    const pinned = new AdaptiveController(STRATEGY_PRESETS.AGGRESSIVE, load(), 300);
    pinned.observe(10);
    expect(pinned.current.batchSize).toBe(300);
  });

  /** The fixed strategies never change. */
  it('leaves the fixed strategies alone', () => {
    const a = new AdaptiveController(STRATEGY_PRESETS.CONSERVATIVE, load(900, 0.99), 0);
    expect(a.observe(10_000)).toBe('KEEP');
    expect(a.current).toEqual({ batchSize: 25, concurrency: 1, pauseMs: 50, statementTimeoutMs: 5_000 });
  });
});

describe('ConnectionBudget', () => {
  const key = ConnectionBudget.key('postgres', 'DB.example', 5432);

  /** Beyond the limit, callers wait in arrival order; a released slot goes to the first. */
  it('queues beyond the limit, first come first served', async () => {
    const b = new ConnectionBudget(2);
    const signal = new AbortController().signal;
    const r1 = await b.acquire(key, signal);
    const r2 = await b.acquire(key, signal);
    const order: number[] = [];
    const third = b.acquire(key, signal).then((r) => (order.push(3), r));
    const fourth = b.acquire(key, signal).then((r) => (order.push(4), r));
    expect(b.waiting(key)).toBe(2);
    // a free slot is never taken past those waiting
    expect(b.tryAcquire(key)).toBeUndefined();
    r1();
    r1(); // twice is harmless
    const r3 = await third;
    expect(b.inUse(key)).toBe(2);
    r2();
    await fourth;
    expect(order).toEqual([3, 4]);
    r3();
    expect(b.peakInUse(key)).toBe(2);
    // other endpoints have budgets of their own
    expect(b.tryAcquire(ConnectionBudget.key('postgres', 'other', 5432))).toBeDefined();
  });

  /** A caller whose call is cancelled while it waits leaves the queue with an AbortedError. */
  it('gives up waiting when the call is cancelled', async () => {
    const b = new ConnectionBudget(1);
    const release = await b.acquire(key, new AbortController().signal);
    const cancel = new AbortController();
    const waiting = b.acquire(key, cancel.signal);
    cancel.abort(new AbortedError('the client cancelled the call'));
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
    expect(b.waiting(key)).toBe(0);
    release();
    expect(b.inUse(key)).toBe(0);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new ConnectionBudget(0)).toThrow(RangeError);
  });
});
