import {
  DiscoveryEngine,
  InputError,
  normalizeDataSource,
  type CheckedDiscoveryRequest,
  type CheckedPreviewRequest,
  type CheckedProfileRequest,
  type ConnectorTypeResolver,
  type DataSource,
  type DiscoveryStrategy,
  type PreviewEngine,
  type ProfileEngine,
  type RelationKey,
} from '@sourced/core';
import type { DiscoverDataSourceRequest, PreviewTableRequest, ProfileTableRequest, TableRef, ValidateDataSourceRequest } from '@sourced/api';
import type { DaemonConfig } from '../config/DaemonConfig';
import { toDataSourceInput, toFilter, toProfileMode, toStrategy } from '../grpc/mapping';
import { capConnectTimeout, cappedTimeout } from '../security/limits';

/**
 * DataSourceService's requests, each parsed once at the edge into the checked request its
 * handler runs: the call handlers parse a request after authenticating the caller and before
 * the handler starts, and a handler takes only what this returns. Nothing here opens a
 * connection or resolves a secret: a bad request fails with INVALID_ARGUMENT naming the field
 * before anything is dialled.
 *
 * Checks run in this order, so that a request with several mistakes reports the same first one
 * as always: the RPC's own fields (strategy, mode, table, sizes, filter, cursor), then the data
 * source (required; normalized, with the caller's connect timeout under the daemon's maximum).
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
}

/** ProfileTable, parsed. */
export interface ProfileCall {
  source: DataSource;
  request: CheckedProfileRequest;
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
    return { source: this.source(req.dataSource), checkTimeoutMs: cappedTimeout(req.checkTimeoutMs, validation.checkTimeoutMs, limits.maxCheckTimeoutMs) };
  }

  discover(req: DiscoverDataSourceRequest): DiscoverCall {
    const { discovery, limits } = this.deps.config;
    const strategy = this.strategy(req.strategy);
    if (req.sampling?.sampleSize && req.sampling.sampleSize > limits.maxSampleSize) {
      throw new InputError([{ field: 'sampling.sample_size', description: `${req.sampling.sampleSize} is more than this daemon's maximum of ${limits.maxSampleSize} (limits.maxSampleSize)` }]);
    }
    // Bad filters, batch sizes and cursors fail before any connection is opened.
    const request = DiscoveryEngine.checkRequest({
      filter: toFilter(req.filter),
      strategy,
      batchSize: req.batchSize,
      resumeAfter: req.resumeAfter,
      sampling: { sampleSize: req.sampling?.sampleSize, maxTimeMs: req.sampling?.maxTimeMs, maxFields: req.sampling?.maxFields },
      // The daemon's cap applies to every discovery: none asks past it, and one that asks nothing gets it.
      maxEntities: cap(req.maxEntities, limits.maxEntities),
      maxDurationMs: req.maxDurationMs,
      stallTimeoutMs: discovery.stallTimeoutMs,
      stallProbeAfterMs: discovery.stallProbeAfterMs,
    });
    return { request, source: this.source(req.dataSource) };
  }

  preview(req: PreviewTableRequest): PreviewCall {
    const { discovery } = this.deps.config;
    const strategy = this.strategy(req.strategy);
    const table = this.table(req.table);
    // A bad table name, column list or limit fails before any connection is opened.
    const request = this.deps.previewEngine.checkRequest({
      table,
      columns: req.columns,
      limit: req.limit,
      strategy,
      // Discovery's stall bound covers every read of a source, previews' and profiles' too.
      stallTimeoutMs: discovery.stallTimeoutMs,
      stallProbeAfterMs: discovery.stallProbeAfterMs,
    });
    return { request, source: this.source(req.dataSource) };
  }

  profile(req: ProfileTableRequest): ProfileCall {
    const { discovery } = this.deps.config;
    const strategy = this.strategy(req.strategy);
    const mode = toProfileMode(req.mode);
    if (!mode) throw new InputError([{ field: 'mode', description: `${req.mode} is not a ProfileMode` }]);
    const table = this.table(req.table);
    // A bad table name, column list or size fails before any connection is opened.
    const request = this.deps.profileEngine.checkRequest({
      table,
      columns: req.columns,
      mode,
      sampleRows: req.sampleRows,
      mostCommonLimit: req.mostCommonLimit,
      histogramBuckets: req.histogramBuckets,
      strategy,
      stallTimeoutMs: discovery.stallTimeoutMs,
      stallProbeAfterMs: discovery.stallProbeAfterMs,
    });
    return { request, source: this.source(req.dataSource) };
  }

  /** The strategy asked for, or the daemon's default when none is. */
  private strategy(requested: DiscoverDataSourceRequest['strategy']): DiscoveryStrategy {
    const strategy = requested ? toStrategy(requested) : this.deps.config.discovery.defaultStrategy;
    if (!strategy) throw new InputError([{ field: 'strategy', description: `${requested} is not a DiscoveryStrategy` }]);
    return strategy;
  }

  /** The table a preview or profile names (its schema and name are checked with the columns, by the engine). */
  private table(table: TableRef | undefined): RelationKey {
    if (!table) throw new InputError([{ field: 'table', description: 'is required: the schema and name of a table, view or collection' }], { reason: 'INVALID_REQUEST' });
    return { schema: table.schema, name: table.name };
  }

  /** The request's data source, normalized; the caller's connect timeout never exceeds the daemon's maximum (limits.maxConnectTimeoutMs). */
  private source(input: ValidateDataSourceRequest['dataSource']): DataSource {
    if (!input) throw new InputError([{ field: 'data_source', description: 'is required' }]);
    return capConnectTimeout(normalizeDataSource(toDataSourceInput(input), this.deps.pluginRegistry), this.deps.config.limits.maxConnectTimeoutMs);
  }
}

/** A requested count under a cap: the smaller of the two, where 0 means none. */
function cap(requested: number, limit: number): number {
  if (limit <= 0) return requested;
  return requested > 0 ? Math.min(requested, limit) : limit;
}
