import {
  DiscoveryEngine,
  InputError,
  inputErrorOf,
  normalizeDataSource,
  type CheckedDiscoveryRequest,
  type CheckedPreviewRequest,
  type CheckedProfileRequest,
  type ConnectorTypeResolver,
  type DataSource,
  type DiscoveryStrategy,
  type FieldViolation,
  type PreviewEngine,
  type ProfileEngine,
  type RelationKey,
} from '@sourced/core';
import { BinaryCellEncoding as PbBinaryCellEncoding, DiscoveryStrategy as PbStrategy, ProfileMode as PbProfileMode } from '@sourced/api';
import type { DiscoverDataSourceRequest, PreviewTableRequest, ProfileTableRequest, TableRef, ValidateDataSourceRequest } from '@sourced/api';
import type { DaemonConfig } from '../config/DaemonConfig';
import { dataSourceEnumFaults, enumFault, toBinaryCells, toDataSourceInput, toFilter, toProfileMode, toStrategy, type BinaryCells } from '../grpc/mapping';
import { capConnectTimeout, cappedTimeout } from '../security/limits';

/**
 * DataSourceService's requests, each parsed once at the edge into the checked request its
 * handler runs: the call handlers parse a request after authenticating the caller and before
 * the handler starts, and a handler takes only what this returns. Nothing here opens a
 * connection or resolves a secret: a bad request fails with INVALID_ARGUMENT naming the field
 * before anything is dialled.
 *
 * Every fault of a request is reported together, in one INVALID_ARGUMENT with one
 * google.rpc.BadRequest: the RPC's own fields (strategy, mode, table, sizes, filter, cursor)
 * first, then the data source's (required; enum numbers; normalized, with the caller's connect
 * timeout under the daemon's maximum). ErrorInfo.reason is the faults' reason when they share
 * one (VALUE_OUT_OF_RANGE, INVALID_ENUM_VALUE, DATA_SOURCE_REQUIRED, INVALID_DATA_SOURCE, ...),
 * else INVALID_REQUEST with every reason in ErrorInfo.metadata.reasons (comma-separated, in
 * the order found: core's inputErrorOf). The engines' own checks report every fault of their
 * part too (a discovery's sample size, filter, batch size and cursor together), each with its
 * reason.
 * The engines' checks run here, once: the engines take the checked request without checking
 * it again (the discovery filter is compiled once, the cursor decoded once).
 */

/** ValidateDataSource, parsed. */
export interface ValidateCall {
  source: DataSource;
  /** Each check's time limit: the caller's, or the daemon's default, under the daemon's maximum. */
  checkTimeoutMs: number;
}

/** DiscoverDataSource, parsed. */
export interface DiscoverCall {
  source: DataSource;
  request: CheckedDiscoveryRequest;
}

/** PreviewTable, parsed. */
export interface PreviewCall {
  source: DataSource;
  request: CheckedPreviewRequest;
  /** How binary cells are sent (PreviewTableRequest.binary_cells): BASE64 unless the caller asked for BYTES. */
  binaryCells: BinaryCells;
}

/** ProfileTable, parsed. */
export interface ProfileCall {
  source: DataSource;
  request: CheckedProfileRequest;
  /** How binary values among the figures are sent (ProfileTableRequest.binary_cells). */
  binaryCells: BinaryCells;
}

export class RequestParser {
  constructor(
    private readonly deps: {
      config: DaemonConfig;
      /** The loaded connector types (the PluginRegistry), which data source types resolve against. */
      pluginRegistry: ConnectorTypeResolver;
      previewEngine: PreviewEngine;
      profileEngine: ProfileEngine;
    },
  ) {}

  validate(req: ValidateDataSourceRequest): ValidateCall {
    const { validation, limits } = this.deps.config;
    const faults = new Faults();
    const source = this.source(req.dataSource, faults);
    faults.throwIfAny();
    return { source: checked(source), checkTimeoutMs: cappedTimeout(req.checkTimeoutMs, validation.checkTimeoutMs, limits.maxCheckTimeoutMs) };
  }

  discover(req: DiscoverDataSourceRequest): DiscoverCall {
    const { discovery, limits } = this.deps.config;
    const faults = new Faults();
    const strategy = this.strategy(req.strategy, faults);
    if (req.sampling?.sampleSize && req.sampling.sampleSize > limits.maxSampleSize) {
      faults.add({
        field: 'sampling.sample_size',
        description: `${req.sampling.sampleSize} is more than this daemon's maximum of ${limits.maxSampleSize} (limits.maxSampleSize)`,
        reason: 'VALUE_OUT_OF_RANGE',
      });
    }
    // Bad filters, batch sizes and cursors fail before any connection is opened.
    const request = faults.check(() =>
      DiscoveryEngine.checkRequest({
        filter: toFilter(req.filter),
        strategy,
        batchSize: req.batchSize,
        resumeAfter: req.resumeAfter,
        sampling: { sampleSize: req.sampling?.sampleSize, maxTimeMs: req.sampling?.maxTimeMs, maxFields: req.sampling?.maxFields },
        // The daemon's cap applies to every discovery: none asks past it, and one that asks nothing gets it.
        maxEntities: cap(req.maxEntities, limits.maxEntities),
        maxDurationMs: req.maxDurationMs,
        includeRoutineBodies: req.includeRoutineBodies,
        stallTimeoutMs: discovery.stallTimeoutMs,
        stallProbeAfterMs: discovery.stallProbeAfterMs,
      }),
    );
    const source = this.source(req.dataSource, faults);
    faults.throwIfAny();
    return { request: checked(request), source: checked(source) };
  }

  preview(req: PreviewTableRequest): PreviewCall {
    const { discovery } = this.deps.config;
    const faults = new Faults();
    const strategy = this.strategy(req.strategy, faults);
    const table = this.table(req.table, faults);
    // A bad table name, column list or limit fails before any connection is opened.
    const request =
      table &&
      faults.check(() =>
        this.deps.previewEngine.checkRequest({
          table,
          columns: req.columns,
          limit: req.limit,
          strategy,
          // Discovery's stall bound covers every read of a source, previews' and profiles' too.
          stallTimeoutMs: discovery.stallTimeoutMs,
          stallProbeAfterMs: discovery.stallProbeAfterMs,
        }),
      );
    const binaryCells = this.binaryCells(req.binaryCells, faults);
    const source = this.source(req.dataSource, faults);
    faults.throwIfAny();
    return { request: checked(request), source: checked(source), binaryCells };
  }

  profile(req: ProfileTableRequest): ProfileCall {
    const { discovery } = this.deps.config;
    const faults = new Faults();
    const strategy = this.strategy(req.strategy, faults);
    const mode = toProfileMode(req.mode);
    if (!mode) faults.add(enumFault(req.mode, PbProfileMode, 'ProfileMode', 'mode'));
    const table = this.table(req.table, faults);
    // A bad table name, column list or size fails before any connection is opened.
    const request =
      table &&
      faults.check(() =>
        this.deps.profileEngine.checkRequest({
          table,
          columns: req.columns,
          mode: mode ?? 'STATISTICS',
          sampleRows: req.sampleRows,
          mostCommonLimit: req.mostCommonLimit,
          histogramBuckets: req.histogramBuckets,
          strategy,
          stallTimeoutMs: discovery.stallTimeoutMs,
          stallProbeAfterMs: discovery.stallProbeAfterMs,
        }),
      );
    const binaryCells = this.binaryCells(req.binaryCells, faults);
    const source = this.source(req.dataSource, faults);
    faults.throwIfAny();
    return { request: checked(request), source: checked(source), binaryCells };
  }

  /** How binary cells are to be sent (binary_cells): BASE64 when not given, and after a fault (reported), so that the other checks still run. */
  private binaryCells(requested: PreviewTableRequest['binaryCells'], faults: Faults): BinaryCells {
    const binaryCells = toBinaryCells(requested);
    if (!binaryCells) faults.add(enumFault(requested, PbBinaryCellEncoding, 'BinaryCellEncoding', 'binary_cells'));
    return binaryCells ?? 'BASE64';
  }

  /** The strategy asked for, or the daemon's default when none is (also after a fault, so that the other checks still run). */
  private strategy(requested: DiscoverDataSourceRequest['strategy'], faults: Faults): DiscoveryStrategy {
    const fallback = this.deps.config.discovery.defaultStrategy;
    const strategy = requested ? toStrategy(requested) : fallback;
    if (!strategy) faults.add(enumFault(requested, PbStrategy, 'DiscoveryStrategy', 'strategy'));
    return strategy ?? fallback;
  }

  /** The table a preview or profile names (its schema and name are checked with the columns, by the engine). */
  private table(table: TableRef | undefined, faults: Faults): RelationKey | undefined {
    if (!table) faults.add({ field: 'table', description: 'is required: the schema and name of a table, view or collection', reason: 'INVALID_REQUEST' });
    return table && { schema: table.schema, name: table.name };
  }

  /** The request's data source, normalized; the caller's connect timeout never exceeds the daemon's maximum (limits.maxConnectTimeoutMs). */
  private source(input: ValidateDataSourceRequest['dataSource'], faults: Faults): DataSource | undefined {
    if (!input) {
      faults.add({ field: 'data_source', description: 'is required', reason: 'DATA_SOURCE_REQUIRED' });
      return undefined;
    }
    for (const fault of dataSourceEnumFaults(input)) faults.add(fault);
    return faults.check(() =>
      capConnectTimeout(normalizeDataSource(toDataSourceInput(input), this.deps.pluginRegistry), this.deps.config.limits.maxConnectTimeoutMs),
    );
  }
}

/** The faults of one request, collected so that they are reported together. */
class Faults {
  private readonly violations: FieldViolation[] = [];

  add(fault: FieldViolation | undefined): void {
    if (fault) this.violations.push(fault);
  }

  /** Runs a check; its InputError's faults are kept (each with its error's reason unless it names one) and undefined returned. */
  check<T>(run: () => T): T | undefined {
    try {
      return run();
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      // A field already faulted by the daemon's own limit (named with its config key) is not
      // reported again by the engine's looser check of the same field.
      for (const v of error.violations) {
        if (!this.violations.some((known) => known.field === v.field)) this.violations.push({ ...v, reason: v.reason ?? error.reason });
      }
      return undefined;
    }
  }

  /** Throws one InputError with every fault: their reason when they share one, else INVALID_REQUEST and metadata.reasons. */
  throwIfAny(): void {
    if (this.violations.length > 0) throw inputErrorOf(this.violations);
  }
}

/** A part of the request after `faults.throwIfAny()`: a part that could not be parsed added a fault, so it is there. */
function checked<T>(part: T | undefined): T {
  if (part === undefined) throw new Error('internal error: a request part is missing, yet no fault was reported');
  return part;
}

/** A requested count under a cap: the smaller of the two, where 0 means none. */
function cap(requested: number, limit: number): number {
  if (limit <= 0) return requested;
  return requested > 0 ? Math.min(requested, limit) : limit;
}
