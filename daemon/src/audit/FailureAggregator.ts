import type { AuditEntry, AuditLog } from './AuditLog';

interface Window {
  first: Date;
  /** Failures after the first one, written as one line when the window closes. */
  count: number;
  durationMs: number;
  entry: AuditEntry;
}

/**
 * Audit lines for calls refused before the caller was known (failed authentication, or a peer
 * rate-limited for failing it), aggregated per peer, RPC and status code: the first failure in
 * `windowMs` is written as its own line, the rest of that window as one line with their
 * `count` when it closes. A flood of thousands of bad calls is then a few lines per window,
 * not one each, and the log still says who, what, how often and when. Entries of known
 * callers never come here.
 */
export class FailureAggregator {
  private readonly windows = new Map<string, Window>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly audit: AuditLog,
    private readonly windowMs: number,
    private readonly maxWindows = 10_000,
  ) {}

  record(entry: AuditEntry & { peer: string }): void {
    if (this.windowMs <= 0) {
      this.audit.record(entry);
      return;
    }
    const key = `${entry.peer}\u0000${entry.rpc}\u0000${entry.code}`;
    const open = this.windows.get(key);
    if (open) {
      if (open.count === 0) open.first = entry.time ?? new Date();
      open.count += 1;
      open.durationMs += entry.durationMs;
      return;
    }
    this.audit.record(entry);
    if (this.windows.size >= this.maxWindows) this.flushAll();
    this.windows.set(key, { first: new Date(), count: 0, durationMs: 0, entry });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.flush(key);
    }, this.windowMs);
    timer.unref();
    this.timers.add(timer);
  }

  /** Writes what the open windows hold (before the audit log closes). */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.flushAll();
  }

  private flushAll(): void {
    for (const key of [...this.windows.keys()]) this.flush(key);
  }

  private flush(key: string): void {
    const w = this.windows.get(key);
    if (!w) return;
    this.windows.delete(key);
    if (w.count === 0) return;
    const { entry } = w;
    if (w.count === 1) this.audit.record({ ...entry, time: w.first, durationMs: w.durationMs, traceId: undefined });
    else this.audit.record({ ...entry, time: w.first, durationMs: w.durationMs, traceId: undefined, count: w.count });
  }
}
