import type { DataSource, Endpoint, EndpointRole } from '../datasource/DataSource';
import type { CompiledFilter } from '../discovery/DiscoveryFilter';
import type { CatalogEntity, RelationKey, SchemaEntity, SchemaObjectsRequest } from '../discovery/entities';
import { SourcedError } from '../errors';
import type { ValidationPlan } from '../validation/Check';
import type { Cell, PreviewColumnInfo, PreviewRead } from '../contract/preview';
import type { ProfileItem, ProfileRead } from '../contract/profile';
import type { ConnectionArgs } from './ConnectionArgs';
import type { Connector, ConnectorContext, ConnectorDefinition, RelationPage, SessionSettings } from './Connector';
import { CredentialResolver } from './CredentialResolver';
import { EndpointPool, endpointOf } from './EndpointPool';
import type { SourceIdentity } from './SourceIdentity';
import type { TargetPolicy } from './TargetPolicy';

/**
 * A connector as one class: the driver-specific parts as protected methods of a subclass,
 * everything that depends on where the source lives delegated to core's services (the
 * {@link EndpointPool}: endpoints, failover, the reader pool, the connection budget, metrics
 * and the session identity check; the {@link CredentialResolver}: credentials, IAM tokens and
 * PEM files under the secret and file policy).
 *
 * @deprecated Since plugin SDK 1.3.0: declare a connector with {@link defineConnector} instead
 * (`sessions` for opening and closing a connection, `catalog`, `preview`, `profile` and
 * `checks` for what it can do); it composes the same services. This class stays, with the
 * same behaviour, for plugins built against 1.2 and earlier.
 */
export abstract class LocationAwareConnector<TConn> implements Connector {
  /** The connections of this call (core's endpoint service). */
  private readonly pool: EndpointPool<TConn>;
  /** The credentials of this call (core's credential service). */
  private readonly credentials: CredentialResolver;

  constructor(
    /** The definition that made this connector: its type, default port and capabilities. */
    readonly definition: ConnectorDefinition,
    /** The data source this connector reads. */
    readonly source: DataSource,
    /** What the host gave: the secret resolver, logger, tracer, token minter, connection budget and target policy. */
    protected readonly context: ConnectorContext,
  ) {
    this.credentials = new CredentialResolver(source, definition.type, context);
    this.pool = new EndpointPool<TConn>({
      type: definition.type,
      source,
      context,
      endpoint: (role) => this.endpoint(role),
      connectionArgs: (role, signal, session) => this.credentials.connectionArgs(role, this.endpoint(role), signal, session),
      driver: {
        open: (args, signal) => this.openConnection(args, signal),
        close: (conn) => this.closeConnection(conn),
        identify: (conn, signal) => this.identifySession(conn, signal),
      },
    });
  }

  /** Opens one connection with these arguments. Honour `signal`. */
  protected abstract openConnection(args: ConnectionArgs, signal: AbortSignal): Promise<TConn>;
  /** Closes one connection; must not throw. */
  protected abstract closeConnection(conn: TConn): Promise<void>;
  /** Reads schemas through a connection. */
  protected abstract querySchemas(conn: TConn, filter: CompiledFilter, signal: AbortSignal, objects?: SchemaObjectsRequest): Promise<SchemaEntity[]>;
  /**
   * Reads one page of relations through a connection. `parallel` holds further connections
   * to the same endpoint (at most `page.concurrency - 1`, fewer when the endpoint's
   * connection limit is reached) that independent reads of the page may use at once.
   */
  protected abstract queryRelations(conn: TConn, page: RelationPage, signal: AbortSignal, parallel: readonly TConn[]): Promise<CatalogEntity[]>;
  /**
   * How many extra connections a page may read through: `concurrency - 1` by default. A
   * connector whose driver pools connections itself (MongoDB) returns 0 and runs its
   * parallel reads over its one client.
   */
  protected parallelConnections(page: RelationPage): number {
    return page.concurrency - 1;
  }
  /**
   * Counts the relations after `after` that pass the filter, with one cheap query; the
   * default says the connector cannot tell.
   */
  protected queryCount(_conn: TConn, _filter: CompiledFilter, _after: RelationKey | undefined, _signal: AbortSignal): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }
  /**
   * Who answered a freshly opened session, as the server reports it (database, user, server
   * port and id, version, start time); `undefined` when the connector cannot tell, and then
   * nothing is checked. The base calls it once for every connection it opens, before the
   * connection is used, and refuses the connection when the database is not the endpoint's or
   * when it answers as another server than the call's first session to that endpoint.
   */
  protected identifySession(_conn: TConn, _signal: AbortSignal): Promise<SourceIdentity | undefined> {
    return Promise.resolve(undefined);
  }
  /** The columns of a table for a preview (see {@link Connector.previewColumns}); connectors that preview override it. */
  protected queryPreviewColumns(_conn: TConn, _table: RelationKey, _columns: readonly string[], _signal: AbortSignal): Promise<PreviewColumnInfo[]> {
    return Promise.reject(new SourcedError('PREVIEW_NOT_SUPPORTED', `the ${this.definition.type} connector cannot preview tables`));
  }
  /** The rows of a preview (see {@link Connector.previewRows}); connectors that preview override it. */
  protected queryPreviewRows(_conn: TConn, _read: PreviewRead, _signal: AbortSignal): Promise<Cell[][]> {
    return Promise.reject(new SourcedError('PREVIEW_NOT_SUPPORTED', `the ${this.definition.type} connector cannot preview tables`));
  }
  /** A table's profile (see {@link Connector.profileTable}); connectors that profile override it. */
  // eslint-disable-next-line require-yield, @typescript-eslint/require-await -- an async generator that refuses at the first next(), like the overrides' generators fail; it has nothing to yield or await
  protected async *queryProfile(_conn: TConn, _read: ProfileRead, _signal: AbortSignal): AsyncGenerator<ProfileItem> {
    throw new SourcedError('PROFILE_NOT_SUPPORTED', `the ${this.definition.type} connector cannot profile tables`);
  }
  abstract validationPlan(role: EndpointRole): ValidationPlan<unknown>;
  abstract isConnectionError(error: unknown): boolean;

  /** The daemon's target policy, if any; validation's `dns` check resolves through it. */
  get targetPolicy(): TargetPolicy | undefined {
    return this.context.targets;
  }

  get activeRole(): EndpointRole {
    return this.pool.activeRole;
  }

  /**
   * Why an endpoint could not be opened at the start ({@link initialize}): the primary when
   * the run started on the secondary, the standby when it runs without one; `undefined` when
   * it opened, or opened since.
   */
  startProblem(role: EndpointRole): string | undefined {
    return this.pool.startProblem(role);
  }

  /** What the latest session to an endpoint said it is; `undefined` before one opened or when the connector cannot tell. */
  identity(role: EndpointRole): SourceIdentity | undefined {
    return this.pool.identity(role);
  }

  /** The endpoint of a role, with the connector's default port filled in. */
  endpoint(role: EndpointRole): Endpoint & { port: number } {
    return endpointOf(this.source, role, this.definition.defaultPort);
  }

  /**
   * Connection arguments for an endpoint: credentials resolved through the secret chain,
   * TLS by location and ssl settings, application name, keep-alive for HYBRID.
   */
  connectionArgs(role: EndpointRole, signal: AbortSignal): Promise<ConnectionArgs> {
    return this.credentials.connectionArgs(role, this.endpoint(role), signal, this.pool.session);
  }

  /** Opens the active endpoint and, for HYBRID, the standby too (a standby that fails to open is retried at failover). */
  initialize(signal: AbortSignal, settings?: SessionSettings): Promise<void> {
    return this.pool.initialize(signal, settings);
  }

  /** True when the start had to use the secondary (the primary was down). */
  get startedOnSecondary(): boolean {
    return this.pool.startedOnSecondary;
  }

  canFailover(): boolean {
    return this.pool.canFailover();
  }

  failover(reason: string, signal: AbortSignal): Promise<EndpointRole> {
    return this.pool.failover(reason, signal);
  }

  /** Opens a connection to an endpoint and closes it again, outside the connection budget (see {@link ConnectorSessions.probe}). */
  probe(role: EndpointRole, signal: AbortSignal): Promise<void> {
    return this.pool.probe(role, signal);
  }

  /** Closes the active connection and opens the same endpoint again. */
  reconnect(signal: AbortSignal): Promise<void> {
    return this.pool.reconnect(signal);
  }

  async listSchemas(filter: CompiledFilter, signal: AbortSignal, objects?: SchemaObjectsRequest): Promise<SchemaEntity[]> {
    return this.querySchemas(this.pool.connection(), filter, signal, objects);
  }

  async listRelations(page: RelationPage, signal: AbortSignal): Promise<CatalogEntity[]> {
    const generation = this.pool.generation;
    const conn = this.pool.connection();
    const parallel = await this.pool.readers(this.parallelConnections(page), signal, generation);
    return this.queryRelations(conn, page, signal, parallel);
  }

  async previewColumns(table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]> {
    return this.queryPreviewColumns(this.pool.connection(), table, columns, signal);
  }

  async previewRows(read: PreviewRead, signal: AbortSignal): Promise<Cell[][]> {
    return this.queryPreviewRows(this.pool.connection(), read, signal);
  }

  profileTable(read: ProfileRead, signal: AbortSignal): AsyncIterable<ProfileItem> {
    return this.queryProfile(this.pool.connection(), read, signal);
  }

  async countEntities(filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number | undefined> {
    return this.queryCount(this.pool.connection(), filter, after, signal);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
