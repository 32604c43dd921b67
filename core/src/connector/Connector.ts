import type { Meter, Tracer } from '@opentelemetry/api';
import type { DataSource, Endpoint, EndpointRole } from '../datasource/DataSource';
import type { CompiledFilter } from '../discovery/DiscoveryFilter';
import type { CatalogEntity, RelationKey, SchemaEntity } from '../discovery/entities';
import type { Logger } from '../logging/Logger';
import type { ConnectionBudget } from './ConnectionBudget';
import type { SourceIdentity } from './SourceIdentity';
import type { TargetPolicy } from './TargetPolicy';
import type { DatabaseTokenMinter } from './DatabaseTokenProvider';
import type { ResolvedSecret, SecretRequest } from '../secret/SecretChain';
import type { ValidationPlan } from '../validation/Check';
import type { Cell, PreviewColumnInfo, PreviewRead } from '../preview/PreviewEngine';
import type { ProfileItem, ProfileRead } from '../preview/ProfileEngine';

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
   * The daemon's OpenTelemetry meter; {@link LocationAwareConnector} records the connections it
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

/** Session settings of the connections discovery opens, from the strategy. */
export interface SessionSettings {
  /** Server-side time limit of each statement, milliseconds. */
  statementTimeoutMs: number;
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
  /** What its connectors can do: validate, discover, or both. */
  readonly capabilities: readonly ConnectorCapability[];
  /** Makes the connector of one call on a data source. Must not connect yet: the engines call `initialize` or run the validation plan. */
  create(source: DataSource, context: ConnectorContext): Connector;
}

/** A read request of one batch of relations, in deterministic (schema, name) order. */
export interface RelationPage {
  /** Which schemas and relations to read, compiled for push-down into catalog queries. */
  filter: CompiledFilter;
  /** Only relations after this key; undefined means from the start. */
  after?: RelationKey;
  /** At most this many relations. */
  limit: number;
  /** Reads the connector may run at once within this page (from the strategy). */
  concurrency: number;
  /** Schema inference of document stores. */
  sampling: SamplingOptions;
}

/** How document stores infer a collection's schema. */
export interface SamplingOptions {
  /** Documents sampled per collection ($sample size). */
  sampleSize: number;
  /** Time limit of one sampling query on the server (maxTimeMS). */
  maxTimeMs: number;
  /** Most field paths reported per collection. */
  maxFields: number;
}

/** Defaults of {@link SamplingOptions}. */
export const DEFAULT_SAMPLING: SamplingOptions = { sampleSize: 1000, maxTimeMs: 10_000, maxFields: 1000 };

/**
 * One connector instance, for one call. Built on {@link LocationAwareConnector} by the
 * built-ins; the engines use only this interface.
 */
export interface Connector {
  /** The data source this connector reads. */
  readonly source: DataSource;
  /** The daemon's target policy (from {@link ConnectorContext.targets}); validation checks dial through it. */
  readonly targetPolicy?: TargetPolicy;
  /** The endpoint of a role, with the default port filled in. */
  endpoint(role: EndpointRole): Endpoint & { port: number };
  /** The checks to run against one endpoint. */
  validationPlan(role: EndpointRole): ValidationPlan<unknown>;
  /**
   * Opens the connection(s) discovery uses: the primary, and for HYBRID the secondary too,
   * each session prepared with `settings` (the strategy's statement timeout).
   */
  initialize(signal: AbortSignal, settings?: SessionSettings): Promise<void>;
  /** Which endpoint discovery reads from now. */
  readonly activeRole: EndpointRole;
  /**
   * The database and server an endpoint's latest session said it is, when the connector can
   * tell; the discovery summary reports the active endpoint's, so a caller can tell an empty
   * database from a wrong one.
   */
  identity?(role: EndpointRole): SourceIdentity | undefined;
  /**
   * Why an endpoint could not be opened by `initialize` (the primary of a run that started on
   * the secondary; a HYBRID standby that is not open); `undefined` when it is open. The engines
   * put it in their warnings, so the caller knows why and that a run has no failover protection.
   */
  startProblem?(role: EndpointRole): string | undefined;
  /**
   * Opens a new connection to an endpoint and closes it, resolving when the server answered
   * (rejecting when it did not by the time `signal` fires): a read that waits long is then told
   * from a frozen server. Outside the connection budget, like validation probes. Optional.
   */
  probe?(role: EndpointRole, signal: AbortSignal): Promise<void>;
  /** Whether a failover endpoint is available. */
  canFailover(): boolean;
  /** Switches to the standby endpoint (reconnecting it when needed); returns the new role. */
  failover(reason: string, signal: AbortSignal): Promise<EndpointRole>;
  /**
   * Replaces the active connection with a fresh one to the same endpoint (for a standby
   * connection that died while it waited). Optional: without it, such a failover fails.
   */
  reconnect?(signal: AbortSignal): Promise<void>;
  /** Whether an error means the active connection is gone (so a failover may help). */
  isConnectionError(error: unknown): boolean;
  /** Schemas that pass the filter, in name order. */
  listSchemas(filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]>;
  /** One page of relations (or collections) with everything that belongs to them, read set-based. */
  listRelations(page: RelationPage, signal: AbortSignal): Promise<CatalogEntity[]>;
  /**
   * How many relations (or collections) pass the filter after `after`, when the source can
   * tell cheaply (one counting query); undefined when it cannot. Progress reports it as the total.
   */
  countEntities?(filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number | undefined>;
  /**
   * The columns of one table, view or collection for a preview, from the source's catalog:
   * those named in `columns` in that order (all of them when empty). Throws NotFoundError
   * (`TABLE_NOT_FOUND`) when the table is not there, and an InputError naming `columns[i]` for
   * a column it does not have. Needs the `preview` capability.
   */
  previewColumns?(table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]>;
  /**
   * At most `read.limit` rows of exactly `read.columns`, each value rendered as a {@link Cell}.
   * Identifiers come from the catalog (quoted), never from text a caller wrote; no filter, no
   * sort beyond the primary key's when there is one.
   */
  previewRows?(read: PreviewRead, signal: AbortSignal): Promise<Cell[][]>;
  /**
   * Profiles `read.columns` of a table (resolved by {@link previewColumns}): first the table
   * (`{ kind: 'table' }`), then each column as soon as it is done. STATISTICS reads only what the
   * database keeps (no query reads table data); SAMPLE reads at most `read.sampleRows` rows. A
   * masked column (`read.isMasked`) reports counts only. Needs the `profile` capability.
   */
  profileTable?(read: ProfileRead, signal: AbortSignal): AsyncIterable<ProfileItem>;
  /**
   * Whether a table belongs to the database's own system schemas (PostgreSQL `pg_catalog`,
   * MySQL `mysql`, MongoDB `admin`, …). Previews and profiles refuse such a table unless the
   * daemon's config opts in (`preview.allowSystemSchemas`). Implement it with `preview` or
   * `profile`: without it, every table is treated as a user table.
   */
  isSystemTable?(table: RelationKey): boolean;
  /**
   * The columns (document stores: field names, at any depth) of a table that hold credential
   * material: password hashes, SCRAM verifiers, connection options with passwords. Previews
   * and profiles mask them whatever the masking globs say (unless `preview.maskCredentialColumns`
   * is false). Compared case-insensitively; empty for a table with none.
   */
  credentialColumns?(table: RelationKey): readonly string[];
  /** Closes every connection. Safe to call more than once. */
  close(): Promise<void>;
}
