import { describe, expect, it } from 'vitest';
import { mapWithConcurrency } from '../src';

describe('mapWithConcurrency', () => {
  /** Never more than `concurrency` calls at once; results keep the input order. */
  it('bounds concurrency and keeps order', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapWithConcurrency([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });

  /** After a failure no new call starts, and the first failure is what rejects. */
  it('stops at the first failure', async () => {
    const started: number[] = [];
    await expect(
      mapWithConcurrency([1, 2, 3, 4], 1, async (n) => {
        started.push(n);
        if (n === 2) throw new Error('boom');
        return n;
      }),
    ).rejects.toThrow('boom');
    expect(started).toEqual([1, 2]);
  });
});
