import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps the daemon's heap close to what is alive while large discoveries run.
 *
 * A discovery page lives for a while (read, mapped, encoded, written while the next one is
 * read), so V8 promotes most of it to the old generation, where it is garbage a moment
 * later; V8 then lets the old generation grow to several times the live size before it
 * collects (measured: 147 MB of heap for 35 MB alive, a 230 MB process on a 10,000-table
 * discovery). Two bounds, both on by default:
 *
 * - `growingPercent` (60): V8's heap growing factor, set for the whole process
 *   (`--heap-growing-percent`): after each full collection V8 lets the heap grow that much
 *   past what stayed alive before it starts marking again, concurrently, as it always does.
 * - `headroomBytes` (48 MiB): between batches the daemon asks this guard, and when the heap
 *   has grown more than that since the last collection it runs one full collection (10-90 ms
 *   on the main thread): the bound for a run in which V8's marking falls behind.
 *   Without `gc` (a runtime that refuses the flag) it does nothing.
 *
 * Measured at 10,000 tables (issue 18, 2026-12-08, 5 runs each): both, peak 174-194 MiB; the
 * collections alone, 191-201 MiB; the factor alone, mostly 170-190 MiB but 215-249 MiB in one
 * run in three; the daemon's CPU the same within the runs' spread.
 */
export class HeapGuard {
  private readonly gc?: () => void;
  private baseline: number;
  /** Collections run so far. */
  collections = 0;

  constructor(
    private readonly headroomBytes: number,
    growingPercent = 0,
  ) {
    if (growingPercent > 0) setFlagsFromString(`--heap-growing-percent=${Math.round(growingPercent)}`);
    if (headroomBytes > 0) {
      try {
        setFlagsFromString('--expose-gc');
        this.gc = runInNewContext('gc') as () => void;
      } catch {
        this.gc = undefined;
      }
    }
    this.baseline = getHeapStatistics().used_heap_size;
  }

  /** Called between batches: collects when the heap grew past the headroom. */
  check(): void {
    if (!this.gc) return;
    const used = getHeapStatistics().used_heap_size;
    if (used - this.baseline < this.headroomBytes) return;
    this.gc();
    this.collections += 1;
    this.baseline = getHeapStatistics().used_heap_size;
  }
}
