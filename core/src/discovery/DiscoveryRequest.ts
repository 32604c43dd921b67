import { InputError, inputErrorOf, type FieldViolation } from '../errors';
import type { SamplingOptions } from '../contract/catalog';
import { decodeCursor } from './cursor';
import { compileFilter, type CompiledFilter, type DiscoveryFilter } from './DiscoveryFilter';
import type { RelationKey } from './entities';
import { MAX_BATCH_SIZE, type DiscoveryStrategy } from './strategies';

/** The largest sample a caller may ask for per collection. */
export const MAX_SAMPLE_SIZE = 100_000;

/** A discovery request after the daemon's mapping. */
export interface DiscoveryRequest {
  filter: DiscoveryFilter;
  strategy: DiscoveryStrategy;
  /** 0 means the strategy's default. */
  batchSize: number;
  /** A cursor from an earlier batch; empty means from the start. */
  resumeAfter: string;
  /** Schema inference of document stores; defaults apply to what is not given. */
  sampling?: Partial<SamplingOptions>;
  /** Stop after this many relations and collections; 0 or absent means no limit. */
  maxEntities?: number;
  /** Stop after this many milliseconds, at a batch boundary; 0 or absent means no limit. */
  maxDurationMs?: number;
  /** Also read routines' sources (`RoutineEntity.body`); false or absent: never. */
  includeRoutineBodies?: boolean;
  /**
   * The longest one catalog read may go without an answer, ms: past it the read is cancelled
   * and the run fails over (HYBRID) or ends UNAVAILABLE `SOURCE_STALLED` with the cursor to
   * resume after. Absent: the strategy's (`StrategyPreset.stallTimeoutMs`); 0: no bound
   * beyond the server's own statement timeout.
   */
  stallTimeoutMs?: number;
  /**
   * After a catalog read has waited this long, ms, the endpoint is probed with a new
   * connection; one that does not answer is taken as stalled then (see `stallTimeoutMs`),
   * one that does lets the read go on. Absent: the strategy's; 0: no probe.
   */
  stallProbeAfterMs?: number;
}

/** A discovery request checked once ({@link checkDiscoveryRequest}): its filter compiled and its cursor decoded. */
export interface CheckedDiscoveryRequest extends DiscoveryRequest {
  readonly checked: { readonly filter: CompiledFilter; readonly after?: RelationKey };
}

/**
 * Checks a discovery request before any connection is opened: the sample size and batch size
 * within their maximums (`VALUE_OUT_OF_RANGE`), the filter compiled (`INVALID_FILTER`), the
 * cursor decoded (`INVALID_CURSOR`). Every fault is reported together, in one InputError whose
 * violations each carry their own reason (the error's reason is theirs when they share one,
 * else `INVALID_REQUEST`); `DiscoveryEngine.checkRequest` is this.
 */
export function checkDiscoveryRequest(request: DiscoveryRequest): CheckedDiscoveryRequest {
  const violations: FieldViolation[] = [];
  /** Runs one part's check; its faults are kept (each with its error's reason) and undefined returned. */
  const part = <T>(run: () => T): T | undefined => {
    try {
      return run();
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      for (const v of error.violations) violations.push({ ...v, reason: v.reason ?? error.reason });
      return undefined;
    }
  };
  const s = request.sampling ?? {};
  if (s.sampleSize !== undefined && s.sampleSize > MAX_SAMPLE_SIZE) {
    violations.push({
      field: 'sampling.sample_size',
      description: `${s.sampleSize} is more than the maximum of ${MAX_SAMPLE_SIZE}`,
      reason: 'VALUE_OUT_OF_RANGE',
    });
  }
  const filter = part(() => compileFilter(request.filter));
  if (request.batchSize > MAX_BATCH_SIZE) {
    violations.push({ field: 'batch_size', description: `${request.batchSize} is more than the maximum of ${MAX_BATCH_SIZE}`, reason: 'VALUE_OUT_OF_RANGE' });
  }
  const after = request.resumeAfter ? part(() => decodeCursor(request.resumeAfter)) : undefined;
  if (violations.length > 0 || filter === undefined) throw inputErrorOf(violations);
  return { ...request, checked: { filter, after } };
}
