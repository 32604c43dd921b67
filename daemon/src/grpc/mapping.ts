/**
 * The contract's messages and the core's types, both ways: data sources, filters, validation,
 * preview and profile events. Discovery's events are in discoveryMapping.ts, the catalog's
 * entities in catalogMapping.ts, the small shared conversions in mappingCommon.ts.
 */
import type { DataSourceInput, DiscoveryFilter, SecretValueInput, ValidationEvent } from '@sourced/core';
import type {
  Cell as CoreCell,
  CheckStatus as CoreCheckStatus,
  ColumnFigureMethods,
  FigureMethod,
  PreviewEvent,
  ProfileEvent,
  ProfileMode,
  StatisticsAge,
} from '@sourced/core';
import {
  BinaryCellEncoding,
  FigureMethod as PbFigureMethod,
  ProfileMode as PbProfileMode,
  type ColumnFigureMethods as PbColumnFigureMethods,
  type StatisticsAge as PbStatisticsAge,
} from '@sourced/api';
import { NullValue } from '@sourced/api';
import type { Cell as PbCell } from '@sourced/api';
import { CloudProvider, Location, SslMode, cloudProviderToJSON, locationToJSON, sslModeToJSON, type DataSource, type SecretValue } from '@sourced/api';
import type { FieldViolation } from '@sourced/core';
import type { PreviewTableResponse, ProfileTableResponse, ValidateDataSourceResponse } from '@sourced/api';
import { type DiscoveryFilter as PbFilter } from '@sourced/api';
import { CheckStatus } from '@sourced/api';
import { role, toDuration } from './mappingCommon';

export { fromStrategy, toDuration, toStrategy, toTimestamp } from './mappingCommon';
export { MAX_ITEMS_PER_MESSAGE, toDiscoveryResponses } from './discoveryMapping';

/** The contract's DataSource as the core normalizer's input. Enum zero values become "not given". */
export function toDataSourceInput(ds: DataSource): DataSourceInput {
  const secret = (s: SecretValue | undefined): SecretValueInput | undefined => {
    if (!s?.source) return undefined;
    if (s.source.$case === 'encrypted') return { encrypted: s.source.value };
    return s.source.$case === 'reference' ? { reference: s.source.value } : { inlineValue: s.source.value };
  };
  return {
    id: ds.id,
    name: ds.name,
    type: ds.type,
    // a number outside the enum is reported by dataSourceEnumFaults, with the number sent
    location: ds.location && isValueOf(ds.location, Location) ? locationToJSON(ds.location) : undefined,
    cloudProvider: ds.cloudProvider && isValueOf(ds.cloudProvider, CloudProvider) ? cloudProviderToJSON(ds.cloudProvider) : undefined,
    primary: ds.primary,
    secondary: ds.secondary,
    credentials: ds.credentials && { username: ds.credentials.username, password: secret(ds.credentials.password) },
    sslConfig: ds.sslConfig && {
      mode: ds.sslConfig.mode && isValueOf(ds.sslConfig.mode, SslMode) ? sslModeToJSON(ds.sslConfig.mode) : undefined,
      ca: ds.sslConfig.ca,
      cert: ds.sslConfig.cert,
      key: secret(ds.sslConfig.key),
      serverName: ds.sslConfig.serverName,
    },
    cloudConfig: ds.cloudConfig && {
      ...ds.cloudConfig,
      awsAccessKeyId: secret(ds.cloudConfig.awsAccessKeyId),
      awsSecretAccessKey: secret(ds.cloudConfig.awsSecretAccessKey),
      azureClientSecret: secret(ds.cloudConfig.azureClientSecret),
    },
    connectionProperties: ds.connectionProperties,
    additionalProperties: ds.additionalProperties,
  };
}

/** A generated enum object (ts-proto: names to numbers and back, with UNRECOGNIZED = -1). */
type ProtoEnum = Record<string, string | number>;

/** Whether a number received is one of the enum's values (ts-proto keeps an unknown number as it came). */
export function isValueOf(value: number, values: ProtoEnum): boolean {
  return value >= 0 && typeof values[value] === 'string';
}

/**
 * The fault of an enum field that holds a number outside its enum, or undefined: the number sent
 * and every value name of the enum, the same for every enum field of the contract
 * (reason INVALID_ENUM_VALUE).
 */
export function enumFault(value: number | undefined, values: ProtoEnum, enumName: string, field: string): FieldViolation | undefined {
  if (value === undefined || isValueOf(value, values)) return undefined;
  const names = Object.entries(values)
    .filter(([, n]) => typeof n === 'number' && n >= 0)
    .map(([name, n]) => `${name} (${n})`);
  return { field, description: `${value} is not a value of sourced.v1.${enumName}; send one of ${names.join(', ')}`, reason: 'INVALID_ENUM_VALUE' };
}

/** The enum faults of a data source's typed fields (location, cloud_provider, ssl_config.mode). */
export function dataSourceEnumFaults(ds: DataSource, path = 'data_source'): FieldViolation[] {
  return [
    enumFault(ds.location, Location, 'Location', `${path}.location`),
    enumFault(ds.cloudProvider, CloudProvider, 'CloudProvider', `${path}.cloud_provider`),
    enumFault(ds.sslConfig?.mode, SslMode, 'SslMode', `${path}.ssl_config.mode`),
  ].filter((f): f is FieldViolation => f !== undefined);
}

export function toFilter(f: PbFilter | undefined): DiscoveryFilter {
  return {
    includeSchemas: f?.includeSchemas ?? [],
    excludeSchemas: f?.excludeSchemas ?? [],
    includeTables: f?.includeTables ?? [],
    excludeTables: f?.excludeTables ?? [],
    includeSystemSchemas: f?.includeSystemSchemas ?? false,
  };
}

const checkStatus = (s: CoreCheckStatus): CheckStatus => CheckStatus[`CHECK_STATUS_${s}`];

export function toValidationResponse(e: ValidationEvent): Omit<ValidateDataSourceResponse, 'sequence'> {
  switch (e.kind) {
    case 'checkStarted':
      return { event: { $case: 'checkStarted', value: { checkId: e.checkId, title: e.title, endpoint: role(e.endpoint) } } };
    case 'checkFinished':
      return {
        event: {
          $case: 'checkFinished',
          value: {
            checkId: e.checkId,
            title: e.title,
            endpoint: role(e.endpoint),
            status: checkStatus(e.status),
            durationMs: e.durationMs,
            message: e.message,
            hint: e.hint,
            details: e.details,
            duration: toDuration(e.durationMs),
          },
        },
      };
    case 'report':
      return { event: { $case: 'report', value: { ...e, endpoint: role(e.endpoint), duration: toDuration(e.durationMs) } } };
    case 'summary':
      return {
        event: {
          $case: 'summary',
          value: { ok: e.ok, endpoints: e.endpoints, durationMs: e.durationMs, connector: e.connector, duration: toDuration(e.durationMs) },
        },
      };
  }
}

/** How a preview or profile sends binary cells: `Cell.bytes_base64` (the default) or `Cell.bytes` (the request's binary_cells). */
export type BinaryCells = 'BASE64' | 'BYTES';

/** The request's binary cell encoding; BASE64 when not given, undefined for a number outside the enum (the caller reports it). */
export function toBinaryCells(e: BinaryCellEncoding | undefined): BinaryCells | undefined {
  if (e === undefined || e === BinaryCellEncoding.BINARY_CELL_ENCODING_UNSPECIFIED || e === BinaryCellEncoding.BINARY_CELL_ENCODING_BASE64) return 'BASE64';
  if (e === BinaryCellEncoding.BINARY_CELL_ENCODING_BYTES) return 'BYTES';
  return undefined;
}

/** A preview event as the contract's response; binary cells as the request asked. */
export function toPreviewResponse(e: PreviewEvent, binaryCells: BinaryCells = 'BASE64'): Omit<PreviewTableResponse, 'sequence'> {
  switch (e.kind) {
    case 'header':
      return {
        event: {
          $case: 'header',
          value: {
            table: { schema: e.table.schema, name: e.table.name },
            columns: e.columns.map((c) => ({ name: c.name, dataType: c.type, masked: c.masked })),
            endpoint: role(e.endpoint),
          },
        },
      };
    case 'rows':
      return { event: { $case: 'rows', value: { rows: e.rows.map((cells) => ({ cells: cells.map((c) => toCell(c, binaryCells)) })) } } };
    case 'failover':
      return { event: { $case: 'failover', value: { active: role(e.active), reason: e.reason, resumeAfter: '' } } };
    case 'summary':
      return {
        event: {
          $case: 'summary',
          value: {
            rows: e.rows,
            truncated: e.truncated,
            limit: e.limit,
            maskedColumns: e.maskedColumns,
            durationMs: e.durationMs,
            duration: toDuration(e.durationMs),
          },
        },
      };
  }
}

/** A core cell as the contract's `Cell`; a binary value as `bytes_base64` unless BYTES is asked for. */
export function toCell(c: CoreCell, binaryCells: BinaryCells = 'BASE64'): PbCell {
  switch (c.kind) {
    case 'null':
      return { value: { $case: 'null', value: NullValue.NULL_VALUE } };
    case 'masked':
      return { value: { $case: 'masked', value: true } };
    case 'local_timestamp':
      return { value: { $case: 'localTimestamp', value: c.value } };
    case 'bytes':
      // core carries a binary value as base64 text (the connectors' bytesCell)
      if (binaryCells === 'BYTES') return { value: { $case: 'bytes', value: Buffer.from(c.value, 'base64') } };
      return { value: { $case: 'bytesBase64', value: c.value } };
    default:
      return { value: { $case: c.kind, value: c.value } as PbCell['value'] };
  }
}

/** The contract's profile mode; STATISTICS when unset, undefined when unknown. */
export function toProfileMode(m: PbProfileMode): ProfileMode | undefined {
  if (m === PbProfileMode.PROFILE_MODE_UNSPECIFIED || m === PbProfileMode.PROFILE_MODE_STATISTICS) return 'STATISTICS';
  if (m === PbProfileMode.PROFILE_MODE_SAMPLE) return 'SAMPLE';
  return undefined;
}

/** A figure's method as the contract's enum (UNSPECIFIED when not said). */
function figureMethod(m: FigureMethod | undefined): PbFigureMethod {
  if (m === 'EXACT') return PbFigureMethod.FIGURE_METHOD_EXACT;
  if (m === 'STATISTICS') return PbFigureMethod.FIGURE_METHOD_STATISTICS;
  if (m === 'SAMPLED') return PbFigureMethod.FIGURE_METHOD_SAMPLED;
  return PbFigureMethod.FIGURE_METHOD_UNSPECIFIED;
}

function figureMethods(m: ColumnFigureMethods): PbColumnFigureMethods {
  return {
    nullFraction: figureMethod(m.nullFraction),
    distinctCount: figureMethod(m.distinctCount),
    minMax: figureMethod(m.minMax),
    mostCommon: figureMethod(m.mostCommon),
    histogram: figureMethod(m.histogram),
    averageLength: figureMethod(m.averageLength),
  };
}

/** The age of statistics as the contract's message: `collected_at` as a Timestamp (whole milliseconds), absent when unknown. */
export function statisticsAge(a: StatisticsAge | undefined): PbStatisticsAge | undefined {
  if (!a) return undefined;
  const ms = a.collectedAt?.getTime();
  const collectedAt =
    ms === undefined || !Number.isFinite(ms) ? undefined : { seconds: Math.floor(ms / 1000), nanos: (((ms % 1000) + 1000) % 1000) * 1_000_000 };
  return { collectedAt, source: a.source };
}

/** A profile event as the contract's response; binary values among the figures as the request asked. */
export function toProfileResponse(e: ProfileEvent, binaryCells: BinaryCells = 'BASE64'): Omit<ProfileTableResponse, 'sequence'> {
  switch (e.kind) {
    case 'header':
      return {
        event: {
          $case: 'header',
          value: {
            table: { schema: e.table.schema, name: e.table.name },
            mode: e.mode === 'SAMPLE' ? PbProfileMode.PROFILE_MODE_SAMPLE : PbProfileMode.PROFILE_MODE_STATISTICS,
            rowCount: e.profile.rowCount,
            rowCountExact: e.profile.rowCountExact,
            sampleRows: e.profile.sampleRows,
            endpoint: role(e.endpoint),
            source: e.profile.source,
            rowCountMethod: figureMethod(e.profile.rowCountMethod),
            sampleMethod: e.profile.sampleMethod ?? '',
            statisticsAge: statisticsAge(e.profile.statisticsAge),
          },
        },
      };
    case 'column': {
      const c = e.column;
      return {
        event: {
          $case: 'column',
          value: {
            name: c.name,
            dataType: c.type,
            nullFraction: c.nullFraction,
            distinctCount: c.distinctCount,
            distinctExact: c.distinctExact,
            min: c.min ? toCell(c.min, binaryCells) : undefined,
            max: c.max ? toCell(c.max, binaryCells) : undefined,
            averageLength: c.averageLength,
            mostCommon: c.mostCommon.map((m) => ({ value: toCell(m.value, binaryCells), frequency: m.frequency })),
            histogramBounds: c.histogram.map((h) => toCell(h, binaryCells)),
            types: c.types,
            masked: c.masked,
            noStatistics: c.noStatistics === true,
            methods: figureMethods(c.methods),
            statisticsAge: statisticsAge(c.statisticsAge),
          },
        },
      };
    }
    case 'failover':
      return { event: { $case: 'failover', value: { active: role(e.active), reason: e.reason, resumeAfter: '' } } };
    case 'summary':
      return {
        event: {
          $case: 'summary',
          value: { columns: e.columns, maskedColumns: e.maskedColumns, durationMs: e.durationMs, duration: toDuration(e.durationMs) },
        },
      };
  }
}
