import type { Meter, Tracer } from '@opentelemetry/api';
import type { DataSource } from '../datasource/DataSource';
import type { Logger } from '../logging/Logger';
import type { ConnectionBudget } from './ConnectionBudget';
import type { TargetPolicy } from './TargetPolicy';
import type { DatabaseTokenMinter } from './DatabaseTokenProvider';
import type { ResolvedSecret, SecretRequest } from '../secret/chainTypes';
import type { CatalogReader, ConnectorSessions, Previewer, Profiler, ValidationChecks } from '../contract/capabilities';

export { DEFAULT_SAMPLING } from '../contract/catalog';
export type { RelationPage, SamplingOptions, SessionSettings } from '../contract/catalog';

/** What a connector can do. */
export type ConnectorCapability = 'validate' | 'discover' | 'preview' | 'profile';

/** Resolves secrets for a connector; the daemon passes its secret chain. */
export interface SecretResolver {
  /** Resolves one secret through the daemon's secret chain; rejects with a `SecretResolutionError` listing every link tried when none gives a value. */
  resolve(request: SecretRequest, signal: AbortSignal): Promise<ResolvedSecret>;
}

/** What the host gives a connector when it creates one. */
export interface ConnectorContext {
  /** Resolves the data source's credentials through the daemon's secret chain. */
  secrets: SecretResolver;
  /** A logger whose lines carry the connector type and the data source's id. Never log a secret. */
  logger: Logger;
  /** The daemon's OpenTelemetry tracer, for the connector's own spans (see `withSpan`). */
  tracer: Tracer;
  /**
   * The daemon's OpenTelemetry meter; the endpoint pool records the connections a connector
   * holds open on it (`sourced.source.connections`). Absent: nothing is recorded.
   */
  meter?: Meter;
  /** The daemon's name and version, sent as the application name. */
  applicationName: string;
  /** Database tokens from cloud identities (`use_iam_auth`); absent in hosts without token providers. */
  tokens?: DatabaseTokenMinter;
  /** The daemon's limit of connections per source endpoint; absent means no limit. */
  connectionBudget?: ConnectionBudget;
  /**
   * Which hosts and addresses connections may go to; every socket a connection opens must
   * pass it (see {@link ConnectionArgs.targets}). Absent means no policy.
   */
  targets?: TargetPolicy;
}

/**
 * A connector as registered by a plugin: metadata plus a factory that makes one
 * {@link Connector} per call.
 */
export interface ConnectorDefinition {
  /** Canonical type, kebab-case, for example `postgres`. */
  readonly type: string;
  /** Other names callers may use, for example `postgresql`. */
  readonly aliases?: readonly string[];
  /** Name for people, for example `PostgreSQL`. */
  readonly displayName: string;
  /** One line on what the connector reads; undefined when not given. */
  readonly description?: string;
  /** Port used when an endpoint gives none (0 for file-based connectors). */
  readonly defaultPort: number;
  /**
   * How its sources are addressed: `network` (the default) takes a host and port, checked
   * against the daemon's target policy; `file` takes the path of a database file in
   * `primary.database` and no host (SQLite). A file-based connector decides itself which
   * paths it opens (confine them to a folder the operator names in its settings).
   */
  readonly addressing?: 'network' | 'file';
  /** What its connectors can do (`validate`, `discover`, `preview`, `profile`); `defineConnector` derives it from the capabilities given. */
  readonly capabilities: readonly ConnectorCapability[];
  /** Makes the connector of one call on a data source. Must not connect yet: the engines call `initialize` or run the validation plan. */
  create(source: DataSource, context: ConnectorContext): Connector;
}

/**
 * One connector instance, for one call: every capability at once, those beyond the session
 * lifecycle, the catalog and the checks optional. What `ConnectorDefinition.create` returns;
 * each engine takes only the capabilities it uses (see `core/src/contract/capabilities.ts`).
 */
export interface Connector extends ConnectorSessions, CatalogReader, ValidationChecks, Partial<Previewer>, Partial<Profiler> {}
