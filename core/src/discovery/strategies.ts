import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { STALL_PROBE_TIMEOUT_MS } from '../connector/readWithFailover';

/** How hard discovery works the source. */
export type DiscoveryStrategy = 'CONSERVATIVE' | 'BALANCED' | 'AGGRESSIVE' | 'ADAPTIVE';

/** The parameters a strategy runs with. */
export interface StrategyPreset {
  /** Relations or collections per batch (a request's batch_size overrides it). */
  batchSize: number;
  /**
   * The first batch's size, smaller than `batchSize` so that the first entities arrive
   * quickly (a page of 1,000 relations takes the source a while); the request's batch_size
   * overrides it too.
   */
  firstBatchSize: number;
  /**
   * Reads that may run at once against the source: connections a SQL connector reads a page
   * through in parallel (each one taken from the daemon's per-endpoint connection limit, so
   * fewer when the limit is reached), collections a document store samples at once.
   */
  concurrency: number;
  /** Pause between batches, to leave room for the source's own work. */
  pauseMs: number;
  /** Server-side time limit of every statement (PostgreSQL statement_timeout, MariaDB max_statement_time, MongoDB maxTimeMS). */
  statementTimeoutMs: number;
  /**
   * Pages read ahead of the one being sent: 1 reads the next page while the client receives
   * this one (at most one page buffered, so memory stays flat); 0 reads only on demand.
   */
  readAhead: number;
  /** ADAPTIVE bounds and target; the fixed strategies have min = max = their value. */
  minBatch: number;
  maxBatch: number;
  minConcurrency: number;
  maxConcurrency: number;
  /** ADAPTIVE: the time a batch should take; slower batches shrink, faster ones grow. */
  targetBatchMs: number;
  /**
   * After a read has waited this long for an answer, ms, its endpoint is probed with a new
   * connection (at most {@link STALL_PROBE_TIMEOUT_MS}), and again every this long while it
   * waits: a server that does not answer the probe is frozen or cut off, and the read is
   * stalled then (a HYBRID call fails over). So a frozen server is left within this plus the
   * probe's limit ({@link frozenServerBoundMs}). Shorter declares a stall sooner and probes a
   * slow but live server more often.
   */
  stallProbeAfterMs: number;
  /**
   * The longest one read may go without an answer whatever the probes say, ms: the backstop for
   * an endpoint that answers new connections but not the read (a link that drops one
   * connection's packets). Longer than {@link statementTimeoutMs}, so that a slow statement of a
   * live server ends with the server's own timeout, not as a stall.
   */
  stallTimeoutMs: number;
}

/** The documented presets (README "Discovery strategies"). */
export const STRATEGY_PRESETS: Readonly<Record<DiscoveryStrategy, Readonly<StrategyPreset>>> = {
  CONSERVATIVE: {
    batchSize: 25,
    firstBatchSize: 25,
    concurrency: 1,
    pauseMs: 50,
    statementTimeoutMs: 5_000,
    readAhead: 0,
    minBatch: 25,
    maxBatch: 25,
    minConcurrency: 1,
    maxConcurrency: 1,
    targetBatchMs: 0,
    stallProbeAfterMs: 15_000,
    stallTimeoutMs: 120_000,
  },
  BALANCED: {
    batchSize: 100,
    firstBatchSize: 100,
    concurrency: 1,
    pauseMs: 0,
    statementTimeoutMs: 30_000,
    readAhead: 1,
    minBatch: 100,
    maxBatch: 100,
    minConcurrency: 1,
    maxConcurrency: 1,
    targetBatchMs: 0,
    stallProbeAfterMs: 5_000,
    stallTimeoutMs: 60_000,
  },
  AGGRESSIVE: {
    batchSize: 1000,
    firstBatchSize: 100,
    concurrency: 4,
    pauseMs: 0,
    statementTimeoutMs: 60_000,
    readAhead: 1,
    minBatch: 1000,
    maxBatch: 1000,
    minConcurrency: 4,
    maxConcurrency: 4,
    targetBatchMs: 0,
    stallProbeAfterMs: 3_000,
    stallTimeoutMs: 90_000,
  },
  ADAPTIVE: {
    batchSize: 100,
    firstBatchSize: 100,
    concurrency: 1,
    pauseMs: 0,
    statementTimeoutMs: 30_000,
    readAhead: 1,
    minBatch: 10,
    maxBatch: 1000,
    minConcurrency: 1,
    maxConcurrency: 4,
    targetBatchMs: 500,
    stallProbeAfterMs: 5_000,
    stallTimeoutMs: 60_000,
  },
};

/** The kinds of call a stall bound applies to. */
export type StallBoundCall = 'discovery' | 'preview' | 'profile';

/** A stall bound in force (`readWithFailover` takes it as `stallMs` and `probeAfterMs`). */
export interface StallBound {
  /** See {@link StrategyPreset.stallTimeoutMs}; 0: no bound. */
  stallTimeoutMs: number;
  /** See {@link StrategyPreset.stallProbeAfterMs}; 0: no probe. */
  stallProbeAfterMs: number;
}

/**
 * Statements one figure of a profile may take on a live server (the SAMPLE header counts and
 * draws; a MariaDB column reads its values, then its histogram), each under the statement
 * timeout: a profile's backstop covers that many.
 */
export const PROFILE_STATEMENTS_PER_FIGURE = 4;

/**
 * The stall bound of a call: the operator's `discovery.stallTimeoutMs`/`stallProbeAfterMs` where
 * set (0 turns it off), else the strategy's. A discovery and a preview (two single-statement
 * reads) take the strategy's values as they are; a profile waits for each figure, which may take
 * {@link PROFILE_STATEMENTS_PER_FIGURE} statements, so its backstop is at least that many
 * statement timeouts plus the catalog backstop's margin. The probe delay is the strategy's for
 * every call: a frozen server is left as soon whatever the call.
 */
export function stallBoundOf(strategy: DiscoveryStrategy, call: StallBoundCall, overrides: Partial<StallBound> = {}): StallBound {
  const p = STRATEGY_PRESETS[strategy];
  const margin = p.stallTimeoutMs - p.statementTimeoutMs;
  const backstop = call === 'profile' ? Math.max(p.stallTimeoutMs, PROFILE_STATEMENTS_PER_FIGURE * p.statementTimeoutMs + margin) : p.stallTimeoutMs;
  return {
    stallTimeoutMs: overrides.stallTimeoutMs ?? backstop,
    stallProbeAfterMs: overrides.stallProbeAfterMs ?? p.stallProbeAfterMs,
  };
}

/**
 * What a HYBRID failover adds to the detection of a frozen server, ms, in
 * {@link frozenServerBoundMs}: the switch to the standby (open already) and the re-read of the
 * page there, on a loaded host.
 */
export const STALL_FAILOVER_ALLOWANCE_MS = 2_000;

/**
 * The bound within which a read of a server that froze is declared stalled and a HYBRID call
 * has failed over, ms, under `bound`: the probe delay plus the probe's limit when probing, else
 * the backstop, plus {@link STALL_FAILOVER_ALLOWANCE_MS} (0: never). BALANCED: 5 + 3 + 2 = 10 s,
 * the bound. Opening a standby that was not open comes on top (the connect timeout).
 */
export function frozenServerBoundMs(bound: StallBound): number {
  const probed = bound.stallProbeAfterMs > 0 ? bound.stallProbeAfterMs + STALL_PROBE_TIMEOUT_MS : 0;
  const detected = probed > 0 && bound.stallTimeoutMs > 0 ? Math.min(probed, bound.stallTimeoutMs) : probed || bound.stallTimeoutMs;
  return detected > 0 ? detected + STALL_FAILOVER_ALLOWANCE_MS : 0;
}

/** The largest batch a caller may ask for. */
export const MAX_BATCH_SIZE = 1000;

/** How busy the daemon itself is, as ADAPTIVE sees it. */
export interface DaemonLoad {
  /** Event-loop delay (p99 over the last interval), milliseconds. */
  eventLoopDelayMs(): number;
  /** Heap in use as a fraction of the heap limit (0-1). */
  heapUsedFraction(): number;
}

/** ADAPTIVE backs off when the event loop lags more than this (the daemon cannot keep up). */
export const EVENT_LOOP_DELAY_LIMIT_MS = 200;
/** ADAPTIVE backs off when the heap is fuller than this fraction of its limit. */
export const HEAP_USED_LIMIT = 0.7;

/**
 * The process's own load: event-loop delay from a `monitorEventLoopDelay` histogram (reset
 * at each reading, so it describes the last batch), heap use from V8.
 */
export class ProcessLoad implements DaemonLoad {
  private histogram?: IntervalHistogram;

  eventLoopDelayMs(): number {
    if (!this.histogram) {
      this.histogram = monitorEventLoopDelay({ resolution: 20 });
      this.histogram.enable();
      return 0;
    }
    const p99 = this.histogram.percentile(99) / 1e6;
    this.histogram.reset();
    return Number.isFinite(p99) ? p99 : 0;
  }

  heapUsedFraction(): number {
    const heap = getHeapStatistics();
    return heap.used_heap_size / heap.heap_size_limit;
  }
}

/** The strategy parameters in force, as progress reports them. */
export interface StrategyState {
  batchSize: number;
  concurrency: number;
  pauseMs: number;
  statementTimeoutMs: number;
}

/** Why ADAPTIVE changed its parameters after a batch. */
export type AdaptiveDecision = 'GROW' | 'SHRINK_SOURCE_SLOW' | 'SHRINK_DAEMON_BUSY' | 'KEEP';

/**
 * ADAPTIVE: after each batch, compares the batch's time with the target and looks at the
 * daemon's own load. A slow source (a batch over twice the target) or a busy daemon (event
 * loop lagging, heap filling) halves the batch and takes one parallel read away; a fast
 * batch (under half the target) on a calm daemon grows the batch by half and adds one
 * read, within the preset's bounds. A caller's explicit batch_size pins the batch size.
 */
export class AdaptiveController {
  private state: StrategyState;

  constructor(
    private readonly preset: Readonly<StrategyPreset>,
    private readonly load: DaemonLoad,
    /** The caller's batch_size, 0 when not given. */
    private readonly pinnedBatch: number,
  ) {
    this.state = {
      batchSize: pinnedBatch || preset.firstBatchSize,
      concurrency: preset.concurrency,
      pauseMs: preset.pauseMs,
      statementTimeoutMs: preset.statementTimeoutMs,
    };
    // Starts the event-loop histogram, so the first reading covers the first batch.
    load.eventLoopDelayMs();
  }

  get current(): Readonly<StrategyState> {
    return this.state;
  }

  /** Takes the time of a batch of `size` entities and returns what changed. */
  observe(batchMs: number): AdaptiveDecision {
    const p = this.preset;
    if (p.targetBatchMs <= 0) {
      // A fixed strategy: after its (smaller) first batch, its batch size.
      if (!this.pinnedBatch) this.state.batchSize = p.batchSize;
      return 'KEEP';
    }
    const busy = this.load.eventLoopDelayMs() > EVENT_LOOP_DELAY_LIMIT_MS || this.load.heapUsedFraction() > HEAP_USED_LIMIT;
    const s = this.state;
    let decision: AdaptiveDecision = 'KEEP';
    if (busy || batchMs > p.targetBatchMs * 2) {
      decision = busy ? 'SHRINK_DAEMON_BUSY' : 'SHRINK_SOURCE_SLOW';
      if (!this.pinnedBatch) s.batchSize = Math.max(p.minBatch, Math.floor(s.batchSize / 2));
      s.concurrency = Math.max(p.minConcurrency, s.concurrency - 1);
    } else if (batchMs < p.targetBatchMs / 2) {
      decision = 'GROW';
      if (!this.pinnedBatch) s.batchSize = Math.min(p.maxBatch, Math.ceil(s.batchSize * 1.5));
      s.concurrency = Math.min(p.maxConcurrency, s.concurrency + 1);
    }
    return decision;
  }
}
