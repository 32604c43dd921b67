import type { Tracer } from '@opentelemetry/api';
import type { ProfilableConnector } from '../contract/capabilities';
import { failoverAfter, readWithFailover, recordFailover, withinStallBoundEach, type FailoverOutcome } from '../connector/readWithFailover';
import type { EndpointRole } from '../datasource/DataSource';
import type { RelationKey } from '../discovery/entities';
import { STRATEGY_PRESETS, type DiscoveryStrategy } from '../discovery/strategies';
import { abortedErrorFrom, inputErrorOf, SourcedError, UnavailableError } from '../errors';
import { noopLogger, type Logger } from '../logging/Logger';
import { stallOptions, tableRequestViolations, type PreviewSettings } from './PreviewEngine';
import { columnMasker, refuseSystemTable } from './systemTables';

export type { ColumnFigureMethods, ColumnProfile, FigureMethod, ProfileItem, ProfileMode, ProfileRead, StatisticsAge, TableProfile } from '../contract/profile';
import type { ColumnFigureMethods, ColumnProfile, FigureMethod, ProfileMode, ProfileRead, TableProfile } from '../contract/profile';

/** The daemon's profile settings. */
export interface ProfileSettings {
  /** Rows a SAMPLE reads when a request names none. */
  defaultSampleRows: number;
  /** The most rows a SAMPLE may read. */
  maxSampleRows: number;
}

/** Defaults of {@link ProfileSettings}. */
export const DEFAULT_PROFILE_SETTINGS: ProfileSettings = { defaultSampleRows: 10_000, maxSampleRows: 100_000 };

/** The most most-common values and histogram buckets a request may ask for. */
export const MAX_PROFILE_VALUES = 100;

/** A profile request after the daemon's mapping. */
export interface ProfileRequest {
  table: RelationKey;
  columns: readonly string[];
  mode: ProfileMode;
  /** 0: the default. */
  sampleRows: number;
  /** 0: 10. */
  mostCommonLimit: number;
  /** 0: 10. */
  histogramBuckets: number;
  strategy: DiscoveryStrategy;
  /**
   * The longest the profile may wait for its next figure, ms (see `PreviewRequest.stallTimeoutMs`);
   * absent: the strategy's profile backstop (`stallBoundOf(strategy, 'profile')`); 0: no bound.
   */
  stallTimeoutMs?: number;
  /** After waiting this long for its next figure, ms, the endpoint is probed; absent: the strategy's; 0: no probe. */
  stallProbeAfterMs?: number;
}

/** A profile request checked once ({@link ProfileEngine.checkRequest}), with the sizes it runs with. */
export interface CheckedProfileRequest extends ProfileRequest {
  readonly checked: { readonly sampleRows: number; readonly mostCommonLimit: number; readonly histogramBuckets: number };
}

/** Events of a profile, in order. */
export type ProfileEvent =
  | { kind: 'header'; table: RelationKey; mode: ProfileMode; profile: TableProfile & { rowCountMethod?: FigureMethod }; endpoint: EndpointRole }
  | { kind: 'column'; column: ColumnProfile & { masked: boolean; methods: ColumnFigureMethods } }
  | { kind: 'failover'; active: EndpointRole; reason: string }
  | { kind: 'summary'; columns: number; maskedColumns: string[]; durationMs: number };

/**
 * Profiles one table through a connector: checks the request, opens the connection(s) with
 * the strategy's statement timeout, resolves the columns in the catalog, and streams the
 * connector's table profile and then each column as it completes. Masked columns keep their
 * counts and lose every value (the engine strips them whatever the connector sent). In
 * HYBRID, a lost connection, or a figure that does not come within the request's stall bound
 * (the read is cancelled then), fails over and the columns not yet sent are profiled on the
 * other endpoint; elsewhere a stall ends UNAVAILABLE `SOURCE_STALLED`. The caller closes the connector.
 */
export class ProfileEngine {
  constructor(
    private readonly tracer: Tracer,
    private readonly settings: ProfileSettings & Pick<PreviewSettings, 'maskColumns' | 'maskTypes' | 'allowSystemSchemas' | 'maskCredentialColumns'>,
    private readonly logger: Logger = noopLogger,
  ) {}

  /** Checks a request before anything is opened; throws an InputError naming the field. Returns the effective sizes. */
  validateRequest(request: ProfileRequest): { sampleRows: number; mostCommonLimit: number; histogramBuckets: number } {
    return this.checkRequest(request).checked;
  }

  /**
   * Checks a request before anything is opened; throws one InputError naming every bad field
   * (a size over its maximum is `VALUE_OUT_OF_RANGE`, a table or column `INVALID_REQUEST`).
   * The result is what {@link run} takes without checking again.
   */
  checkRequest(request: ProfileRequest): CheckedProfileRequest {
    const violations = tableRequestViolations(request.table, request.columns);
    if (request.sampleRows > this.settings.maxSampleRows) {
      violations.push({
        field: 'sample_rows',
        description: `${request.sampleRows} is more than this daemon's maximum of ${this.settings.maxSampleRows} (profile.maxSampleRows)`,
        reason: 'VALUE_OUT_OF_RANGE',
      });
    }
    if (request.mostCommonLimit > MAX_PROFILE_VALUES)
      violations.push({
        field: 'most_common_limit',
        description: `${request.mostCommonLimit} is more than ${MAX_PROFILE_VALUES}`,
        reason: 'VALUE_OUT_OF_RANGE',
      });
    if (request.histogramBuckets > MAX_PROFILE_VALUES)
      violations.push({
        field: 'histogram_buckets',
        description: `${request.histogramBuckets} is more than ${MAX_PROFILE_VALUES}`,
        reason: 'VALUE_OUT_OF_RANGE',
      });
    if (violations.length) throw inputErrorOf(violations);
    const checked = {
      sampleRows: request.sampleRows || this.settings.defaultSampleRows,
      mostCommonLimit: request.mostCommonLimit || 10,
      histogramBuckets: request.histogramBuckets || 10,
    };
    return { ...request, checked };
  }

  /**
   * Runs a profile; a request not yet checked is checked first. A profile that ends UNAVAILABLE
   * (stalled, connection lost, no endpoint left) after resolving its columns names the columns
   * already sent and those left in the error ({@link withColumnsLeft}), so the caller profiles only the rest.
   */
  async *run(connector: ProfilableConnector, request: ProfileRequest | CheckedProfileRequest, signal: AbortSignal): AsyncGenerator<ProfileEvent> {
    const progress: ProfileProgress = { sent: new Set() };
    try {
      yield* this.profile(connector, request, signal, progress);
    } catch (error) {
      throw withColumnsLeft(error, progress);
    }
  }

  private async *profile(
    connector: ProfilableConnector,
    request: ProfileRequest | CheckedProfileRequest,
    signal: AbortSignal,
    progress: ProfileProgress,
  ): AsyncGenerator<ProfileEvent> {
    const sizes = ('checked' in request ? request : this.checkRequest(request)).checked;
    const started = performance.now();
    const { previewColumns, profileTable } = connector;
    if (!previewColumns || !profileTable) {
      throw new SourcedError('PROFILE_NOT_SUPPORTED', `the ${connector.source.type} connector cannot profile tables`);
    }
    refuseSystemTable(connector, request.table, this.settings, 'profile');
    const masked = columnMasker(connector, request.table, this.settings);

    await connector.initialize(signal, { statementTimeoutMs: STRATEGY_PRESETS[request.strategy].statementTimeoutMs });
    const failovers: FailoverOutcome[] = [];
    const bound = stallOptions(request, 'profile');
    const resolved = await readWithFailover(connector, signal, (s) => previewColumns.call(connector, request.table, request.columns, s), bound);
    if (resolved.failover) failovers.push(resolved.failover);
    for (const f of failovers.splice(0)) yield { kind: 'failover', ...f };

    const sent = progress.sent;
    progress.columns = resolved.value.map((c) => c.name);
    const maskedNames: string[] = [];
    let headerSent = false;
    // Whether the figures cover every row (SAMPLE that read the whole table), from the header.
    let everyRow = false;
    // One span over the connector's reads (a generator cannot run inside withSpan).
    const span = this.tracer.startSpan('sourced.profile.read', {
      attributes: { 'sourced.profile.mode': request.mode, 'sourced.profile.columns': resolved.value.length, 'sourced.profile.sample_rows': sizes.sampleRows },
    });
    try {
      for (let attempt = 0; ; attempt++) {
        const read: ProfileRead = {
          table: request.table,
          columns: resolved.value.filter((c) => !sent.has(c.name)),
          mode: request.mode,
          ...sizes,
          isMasked: masked,
        };
        try {
          // Each item must come within the stall bound (a no-progress watchdog over the read).
          for await (const item of withinStallBoundEach(connector, signal, bound, (s) => profileTable.call(connector, read, s))) {
            if (signal.aborted) throw abortedErrorFrom(signal);
            if (item.kind === 'table') {
              if (headerSent) continue;
              headerSent = true;
              const t = item.table;
              everyRow = request.mode === 'SAMPLE' && t.rowCountExact && t.rowCount === t.sampleRows;
              const rowCountMethod: FigureMethod | undefined = t.rowCount === undefined ? undefined : t.rowCountExact ? 'EXACT' : 'STATISTICS';
              const { statisticsAge, ...rest } = t;
              const profile = { ...rest, rowCountMethod, ...(rowCountMethod === 'STATISTICS' && statisticsAge ? { statisticsAge } : {}) };
              yield { kind: 'header', table: request.table, mode: request.mode, profile, endpoint: connector.activeRole };
              continue;
            }
            const column = withMethods(item.column, request.mode, everyRow);
            if (sent.has(column.name)) continue;
            sent.add(column.name);
            const isMasked = masked(column.name, column.type);
            if (isMasked) maskedNames.push(column.name);
            yield { kind: 'column', column: isMasked ? withoutValues(column) : { ...column, masked: false } };
          }
          break;
        } catch (error) {
          if (signal.aborted) throw abortedErrorFrom(signal);
          if (attempt > 0) throw error;
          const from = connector.activeRole;
          const failover = await failoverAfter(connector, error, signal);
          recordFailover(span, error, from, failover);
          yield { kind: 'failover', ...failover };
        }
      }
    } finally {
      span.setAttribute('sourced.profile.columns_sent', sent.size);
      span.end();
    }
    this.logger.debug('profile done', { columns: sent.size, mode: request.mode });
    yield { kind: 'summary', columns: sent.size, maskedColumns: maskedNames, durationMs: performance.now() - started };
  }
}

/** What a profile has done so far, for its error. */
interface ProfileProgress {
  /** The columns resolved in the catalog, in order; absent until then. */
  columns?: string[];
  /** The columns sent. */
  sent: Set<string>;
}

/** The longest the lists of {@link withColumnsLeft} may be together (JSON), characters: the error travels in a gRPC trailer. */
const COLUMN_LISTS_MAX_CHARS = 4_096;

/**
 * `error`, when it is UNAVAILABLE (a retry may succeed), with ErrorInfo metadata `retry`: `SAFE`
 * and, once the profile had resolved its columns, what the caller goes on from: `columns_sent` and
 * `columns_left` (JSON arrays of names, in the table's order; left out, with `columns_left_count`
 * still given, when together longer than {@link COLUMN_LISTS_MAX_CHARS}) and a hint saying how to
 * profile only the rest: the request's `columns` names them.
 */
function withColumnsLeft(error: unknown, progress: ProfileProgress): unknown {
  if (!(error instanceof UnavailableError)) return error;
  const metadata: Partial<Record<string, string>> = error.metadata;
  metadata.retry = 'SAFE';
  const hint = metadata.hint ? `${metadata.hint} ` : '';
  if (!progress.columns) {
    metadata.hint = `${hint}A profile only reads, so the same request is safe to send again.`;
    return error;
  }
  const left = progress.columns.filter((c) => !progress.sent.has(c));
  const sent = progress.columns.filter((c) => progress.sent.has(c));
  metadata.columns_sent_count = String(sent.length);
  metadata.columns_left_count = String(left.length);
  const lists = { columns_sent: JSON.stringify(sent), columns_left: JSON.stringify(left) };
  const fits = lists.columns_sent.length + lists.columns_left.length <= COLUMN_LISTS_MAX_CHARS;
  if (fits) Object.assign(metadata, lists);
  const rest = fits
    ? 'to profile only the columns not received, send the same request with `columns` set to the names in columns_left'
    : 'to profile only the columns not received, send the same request with `columns` naming the columns not among the column events received (the lists are too long for this error)';
  metadata.hint = `${hint}A profile only reads, so a retry is safe; the ${sent.length} columns already sent need not be profiled again: ${rest}.`;
  return error;
}

/**
 * A column's profile with the method of each figure it has: the connector's where it said,
 * else STATISTICS in STATISTICS mode, and in SAMPLE mode EXACT when the sample read every row,
 * SAMPLED otherwise. A SAMPLE of part of the table never has `distinctExact`: a count over
 * the sample is not the table's.
 */
function withMethods(c: ColumnProfile, mode: ProfileMode, everyRow: boolean): ColumnProfile & { methods: ColumnFigureMethods } {
  const fallback: FigureMethod = mode === 'STATISTICS' ? 'STATISTICS' : everyRow ? 'EXACT' : 'SAMPLED';
  const given = c.methods ?? {};
  const method = (present: boolean, m: FigureMethod | undefined) => (present ? (m ?? fallback) : undefined);
  const methods: ColumnFigureMethods = {};
  const set = (key: keyof ColumnFigureMethods, present: boolean) => {
    const m = method(present, given[key]);
    if (m) methods[key] = m;
  };
  set('nullFraction', c.nullFraction !== undefined);
  set('distinctCount', c.distinctCount !== undefined);
  set('minMax', c.min !== undefined || c.max !== undefined);
  set('mostCommon', c.mostCommon.length > 0);
  set('histogram', c.histogram.length > 0);
  set('averageLength', c.averageLength !== undefined);
  const distinctExact = c.distinctExact && (mode === 'STATISTICS' || everyRow || methods.distinctCount === 'EXACT');
  const { statisticsAge, ...rest } = c;
  const fromStatistics = Object.values(methods).includes('STATISTICS');
  return { ...rest, distinctExact, methods, ...(fromStatistics && statisticsAge ? { statisticsAge } : {}) };
}

/** A masked column's profile: its counts, none of its values. */
function withoutValues(c: ColumnProfile & { methods: ColumnFigureMethods }): ColumnProfile & { masked: boolean; methods: ColumnFigureMethods } {
  const { nullFraction, distinctCount, averageLength } = c.methods;
  const fromStatistics = [nullFraction, distinctCount, averageLength].includes('STATISTICS');
  return {
    ...(fromStatistics && c.statisticsAge ? { statisticsAge: c.statisticsAge } : {}),
    name: c.name,
    type: c.type,
    nullFraction: c.nullFraction,
    distinctCount: c.distinctCount,
    distinctExact: c.distinctExact,
    averageLength: c.averageLength,
    mostCommon: [],
    histogram: [],
    types: c.types,
    noStatistics: c.noStatistics,
    masked: true,
    methods: { nullFraction, distinctCount, averageLength },
  };
}
