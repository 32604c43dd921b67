import type { DataSource, Endpoint, EndpointRole } from '../datasource/DataSource';
import type { CompiledFilter } from '../discovery/DiscoveryFilter';
import type { CatalogEntity, RelationKey, SchemaEntity, SchemaObjectsRequest } from '../discovery/entities';
import type { SourceIdentity } from '../connector/SourceIdentity';
import type { TargetPolicy } from '../connector/TargetPolicy';
import type { ValidationPlan } from '../validation/Check';
import type { RelationPage, SessionSettings } from './catalog';
import type { Cell, PreviewColumnInfo, PreviewRead } from './preview';
import type { ProfileItem, ProfileRead } from './profile';

/*
 * The capabilities a connector is composed of. Each engine consumes the ones it needs:
 * discovery `ConnectorSessions & CatalogReader`, preview `ConnectorSessions & Previewer`,
 * profile `ConnectorSessions & Previewer & Profiler`, validation `ValidationChecks`. A
 * connector made by `defineConnector` has the ones its definition gives; the engines tell a
 * missing one by its members (`PREVIEW_NOT_SUPPORTED`, `PROFILE_NOT_SUPPORTED`).
 */

/**
 * The session lifecycle of one call on a data source: its endpoints, opening them, which one
 * is read, failover between a HYBRID primary and secondary, and closing. Every connector has
 * it; `defineConnector` builds it from core's endpoint pool.
 */
export interface ConnectorSessions {
  /** The data source this connector reads. */
  readonly source: DataSource;
  /** The daemon's target policy (from the connector context); validation checks dial through it. */
  readonly targetPolicy?: TargetPolicy;
  /** The endpoint of a role, with the default port filled in. */
  endpoint(role: EndpointRole): Endpoint & { port: number };
  /**
   * Opens the connection(s) discovery uses: the primary, and for HYBRID the secondary too,
   * each session prepared with `settings` (the strategy's statement timeout).
   */
  initialize(signal: AbortSignal, settings?: SessionSettings): Promise<void>;
  /** Which endpoint is read from now. */
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
  /** Closes every connection. Safe to call more than once. */
  close(): Promise<void>;
}

/** Reads the source's catalog for discovery (capability `discover`). */
export interface CatalogReader {
  /**
   * Schemas that pass the filter, in name order. With `objects`, each with its schema-level
   * objects (sequences, routines, user types) read set-based; without it, the schemas alone.
   */
  listSchemas(filter: CompiledFilter, signal: AbortSignal, objects?: SchemaObjectsRequest): Promise<SchemaEntity[]>;
  /** One page of relations (or collections) with everything that belongs to them, read set-based. */
  listRelations(page: RelationPage, signal: AbortSignal): Promise<CatalogEntity[]>;
  /**
   * True when {@link listRelations} reads the page named by {@link RelationPage.next} ahead
   * itself: the engine then names it and does not read a page ahead of its own, so the
   * source is still read at most one page ahead of what was sent.
   */
  readonly readsAhead?: boolean;
  /**
   * How many relations (or collections) pass the filter after `after`, when the source can
   * tell cheaply (one counting query); undefined when it cannot. Progress reports it as the total.
   */
  countEntities?(filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number | undefined>;
}

/**
 * What previews and profiles need to know of a table besides its rows: whether it is one of
 * the database's own, and which of its columns hold credential material.
 */
export interface TableGuard {
  /**
   * Whether a table belongs to the database's own system schemas (PostgreSQL `pg_catalog`,
   * MySQL `mysql`, MongoDB `admin`, …). Previews and profiles refuse such a table unless the
   * daemon's config opts in (`preview.allowSystemSchemas`). Without it, every table is treated
   * as a user table.
   */
  isSystemTable?(table: RelationKey): boolean;
  /**
   * The columns (document stores: field names, at any depth) of a table that hold credential
   * material: password hashes, SCRAM verifiers, connection options with passwords. Previews
   * and profiles mask them whatever the masking globs say (unless `preview.maskCredentialColumns`
   * is false). Compared case-insensitively; empty for a table with none.
   */
  credentialColumns?(table: RelationKey): readonly string[];
}

/** Reads a few rows of one table (capability `preview`); profiles resolve their columns through it too. */
export interface Previewer extends TableGuard {
  /**
   * The columns of one table, view or collection for a preview, from the source's catalog:
   * those named in `columns` in that order (all of them when empty). Throws NotFoundError
   * (`TABLE_NOT_FOUND`) when the table is not there, and an InputError naming `columns[i]` for
   * a column it does not have.
   */
  previewColumns(table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]>;
  /**
   * At most `read.limit` rows of exactly `read.columns`, each value rendered as a {@link Cell}.
   * Identifiers come from the catalog (quoted), never from text a caller wrote; no filter, no
   * sort beyond the primary key's when there is one.
   */
  previewRows(read: PreviewRead, signal: AbortSignal): Promise<Cell[][]>;
}

/** Profiles a table (capability `profile`); its columns are resolved by {@link Previewer.previewColumns}. */
export interface Profiler {
  /**
   * Profiles `read.columns` of a table: first the table (`{ kind: 'table' }`), then each
   * column as soon as it is done. STATISTICS reads only what the database keeps (no query
   * reads table data); SAMPLE reads at most `read.sampleRows` rows. A masked column
   * (`read.isMasked`) reports counts only.
   */
  profileTable(read: ProfileRead, signal: AbortSignal): AsyncIterable<ProfileItem>;
}

/** The validation checks of an endpoint (capability `validate`). */
export interface ValidationChecks {
  /** The checks to run against one endpoint. */
  validationPlan(role: EndpointRole): ValidationPlan<unknown>;
}

/** What the discovery engine reads through. */
export type DiscoverableConnector = ConnectorSessions & CatalogReader;
/** What the preview engine reads through (without a {@link Previewer}: `PREVIEW_NOT_SUPPORTED`). */
export type PreviewableConnector = ConnectorSessions & Partial<Previewer>;
/** What the profile engine reads through (without a {@link Previewer} and a {@link Profiler}: `PROFILE_NOT_SUPPORTED`). */
export type ProfilableConnector = ConnectorSessions & Partial<Previewer> & Partial<Profiler>;
/** What the validation runner runs checks of: the endpoints and the plans. */
export type ValidatableConnector = Pick<ConnectorSessions, 'source' | 'endpoint' | 'targetPolicy'> & ValidationChecks;
