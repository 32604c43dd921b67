import { CredentialResolver } from '../connector/CredentialResolver';
import { EndpointPool, endpointOf } from '../connector/EndpointPool';
import type { ConnectionArgs } from '../connector/ConnectionArgs';
import type { Connector, ConnectorCapability, ConnectorContext, ConnectorDefinition } from '../connector/Connector';
import type { SourceIdentity } from '../connector/SourceIdentity';
import type { TargetPolicy } from '../connector/TargetPolicy';
import type { DataSource, Endpoint, EndpointRole } from '../datasource/DataSource';
import type { CompiledFilter } from '../discovery/DiscoveryFilter';
import type { CatalogEntity, RelationKey, SchemaEntity, SchemaObjectsRequest } from '../discovery/entities';
import { SourcedError } from '../errors';
import type { ValidationPlan } from '../validation/Check';
import type { RelationPage, SessionSettings } from './catalog';
import type { Cell, PreviewColumnInfo, PreviewRead } from './preview';
import type { ProfileItem, ProfileRead } from './profile';

/**
 * One call on a data source, as a connector's capabilities see it: the source, what the host
 * gave, the endpoints and their connection arguments, and the connections core's endpoint
 * pool holds. A capability given as a function receives it once per call (keep per-call
 * state in that closure).
 */
export interface ConnectorCall<TConn> {
  /** The data source this call reads. */
  readonly source: DataSource;
  /** What the host gave: secrets, logger, tracer, meter, token minter, connection budget, target policy. */
  readonly context: ConnectorContext;
  /** The endpoint of a role, with the default port filled in. */
  endpoint(role: EndpointRole): Endpoint & { port: number };
  /**
   * Connection arguments of a role's endpoint: every credential and file resolved under the
   * daemon's secret and file policy (core's credential resolver). The `resolve-credentials`
   * check takes this call as its argument.
   */
  connectionArgs(role: EndpointRole, signal: AbortSignal): Promise<ConnectionArgs>;
  /** The active connection (after `initialize`); `NOT_CONNECTED` before. */
  connection(): TConn;
  /** Which endpoint the active connection goes to (`SECONDARY` after a failover, or a start on it). */
  readonly activeRole: EndpointRole;
}

/** How one connection of a connector opens and closes (core's endpoint pool does the rest). */
export interface SessionsSpec<TConn> {
  /** Opens one connection with these arguments (credentials resolved, TLS and timeouts set). Honour `signal`. */
  open(args: ConnectionArgs, signal: AbortSignal): Promise<TConn>;
  /** Closes one connection; must not throw. */
  close(conn: TConn): Promise<void>;
  /** Whether an error means the connection is gone (so a HYBRID failover may help). */
  isConnectionError(error: unknown): boolean;
  /**
   * Who answered a freshly opened session (database, user, server port and id, version, start
   * time); `undefined` when it cannot tell. When given, every session is checked to be the
   * endpoint's database and the same server as the call's first session to that endpoint.
   */
  identify?(conn: TConn, signal: AbortSignal): Promise<SourceIdentity | undefined>;
}

/** The catalog reads of discovery (capability `discover`), each through the active connection. */
export interface CatalogSpec<TConn> {
  /**
   * Schemas that pass the filter, in name order. With `objects`, each with its schema-level
   * objects (sequences, routines, user types); without it, the schemas alone. `parallel`
   * opens further connections to the same endpoint when `objects.concurrency` allows them
   * (as {@link CatalogSpec.listRelations} gets; none otherwise) and resolves to them, so that
   * the kinds of objects can be read at once before the first page; call it when a read can
   * use them (they open while the first connection reads), at most once.
   */
  listSchemas(
    conn: TConn,
    filter: CompiledFilter,
    signal: AbortSignal,
    objects?: SchemaObjectsRequest,
    parallel?: () => Promise<readonly TConn[]>,
  ): Promise<SchemaEntity[]>;
  /**
   * One page of relations (or collections). `parallel` holds further connections to the same
   * endpoint (at most {@link CatalogSpec.parallelConnections}, fewer when the endpoint's
   * connection limit is reached) that independent reads of the page may use at once.
   */
  listRelations(conn: TConn, page: RelationPage, signal: AbortSignal, parallel: readonly TConn[]): Promise<CatalogEntity[]>;
  /**
   * True when {@link listRelations} starts the source reads of {@link RelationPage.next} once
   * the page's own have answered (see {@link CatalogReader.readsAhead}); false when left out.
   */
  readsAhead?: boolean;
  /** How many relations pass the filter after `after`, with one cheap query; leave it out when the source cannot tell. */
  countEntities?(conn: TConn, filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number | undefined>;
  /** Extra connections a page may read through: `page.concurrency - 1` when left out; 0 for a driver that pools itself. */
  parallelConnections?(page: RelationPage): number;
}

/** Previews (capability `preview`); see {@link Previewer} for what each member must do. */
export interface PreviewSpec<TConn> {
  /** The columns of a table from the source's catalog (see {@link Previewer.previewColumns}). */
  previewColumns(conn: TConn, table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]>;
  /** The rows of a preview (see {@link Previewer.previewRows}). */
  previewRows(conn: TConn, read: PreviewRead, signal: AbortSignal): Promise<Cell[][]>;
  /** Whether a table is one of the database's own (see {@link TableGuard.isSystemTable}). */
  isSystemTable?(table: RelationKey): boolean;
  /** A table's columns that hold credential material (see {@link TableGuard.credentialColumns}). */
  credentialColumns?(table: RelationKey): readonly string[];
}

/** Profiles (capability `profile`, which needs `preview` to resolve the columns); see {@link Profiler}. */
export interface ProfileSpec<TConn> {
  /** Profiles a table: the table first, then each column as it is done. */
  profileTable(conn: TConn, read: ProfileRead, signal: AbortSignal): AsyncIterable<ProfileItem>;
}

/** A capability of a {@link ConnectorSpec}: the object, or a function of the call that makes it (once per call). */
export type PerCall<TConn, T> = T | ((call: ConnectorCall<TConn>) => T);

/** What {@link defineConnector} takes: the connector's metadata and the capabilities it has. */
export interface ConnectorSpec<TConn> {
  /** Canonical type, kebab-case, for example `postgres`. */
  readonly type: string;
  /** Other names callers may use, for example `postgresql`. */
  readonly aliases?: readonly string[];
  /** Name for people, for example `PostgreSQL`. */
  readonly displayName: string;
  /** One line on what the connector reads. */
  readonly description?: string;
  /** Port used when an endpoint gives none (0 for file-based connectors). */
  readonly defaultPort: number;
  /** `network` (the default) or `file` (see {@link ConnectorDefinition.addressing}). */
  readonly addressing?: 'network' | 'file';
  /** How a connection opens and closes: required. */
  readonly sessions: PerCall<TConn, SessionsSpec<TConn>>;
  /** Catalog reads: gives the `discover` capability. */
  readonly catalog?: PerCall<TConn, CatalogSpec<TConn>>;
  /** Previews: gives the `preview` capability. */
  readonly preview?: PerCall<TConn, PreviewSpec<TConn>>;
  /** Profiles: gives the `profile` capability (needs `preview`). */
  readonly profile?: PerCall<TConn, ProfileSpec<TConn>>;
  /** The validation checks of an endpoint: gives the `validate` capability. */
  readonly checks?: (call: ConnectorCall<TConn>, role: EndpointRole) => ValidationPlan<unknown>;
}

/**
 * Declares a connector from the capabilities it has. The definition's `capabilities` are
 * derived from what is given (`checks` → validate, `catalog` → discover, `preview`,
 * `profile`), so there is no list to keep in sync. Each connector it creates composes core's
 * services: the endpoint pool (endpoints, HYBRID failover, reconnect, the stall probe, extra
 * readers, the connection budget, connection metrics and spans, the session identity check)
 * and the credential resolver (passwords, IAM tokens, PEM files under the secret and file
 * policy); the spec supplies only how a connection opens and closes and what it reads.
 *
 * @throws Error when `profile` is given without `preview` (a profile resolves its columns through the previewer), or no `sessions`.
 */
export function defineConnector<TConn>(spec: ConnectorSpec<TConn>): ConnectorDefinition {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- plugins written in JavaScript may omit it; the documented error beats a TypeError later
  if (!spec.sessions) throw new Error(`connector ${spec.type}: defineConnector needs sessions (how a connection opens and closes)`);
  if (spec.profile && !spec.preview)
    throw new Error(`connector ${spec.type}: profile needs preview too (a profile resolves its columns through previewColumns)`);
  const capabilities: ConnectorCapability[] = [];
  if (spec.checks) capabilities.push('validate');
  if (spec.catalog) capabilities.push('discover');
  if (spec.preview) capabilities.push('preview');
  if (spec.profile) capabilities.push('profile');
  const definition: ConnectorDefinition = {
    type: spec.type,
    ...(spec.aliases ? { aliases: spec.aliases } : {}),
    displayName: spec.displayName,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    defaultPort: spec.defaultPort,
    ...(spec.addressing ? { addressing: spec.addressing } : {}),
    capabilities,
    create: (source, context) => new DefinedConnector(definition, spec, source, context),
  };
  return definition;
}

function instantiate<TConn, T>(given: PerCall<TConn, T>, call: ConnectorCall<TConn>): T {
  return typeof given === 'function' ? (given as (call: ConnectorCall<TConn>) => T)(call) : given;
}

/** The connector of one call, made by {@link defineConnector}: core's services plus the spec's capabilities. */
class DefinedConnector<TConn> implements Connector {
  private readonly pool: EndpointPool<TConn>;
  private readonly sessions: SessionsSpec<TConn>;
  private readonly catalog?: CatalogSpec<TConn>;
  private readonly call: ConnectorCall<TConn>;
  previewColumns?: Connector['previewColumns'];
  previewRows?: Connector['previewRows'];
  isSystemTable?: Connector['isSystemTable'];
  credentialColumns?: Connector['credentialColumns'];
  profileTable?: Connector['profileTable'];

  constructor(
    /** The definition that made this connector (`db.system` of its metrics). */
    readonly definition: ConnectorDefinition,
    private readonly spec: ConnectorSpec<TConn>,
    readonly source: DataSource,
    private readonly context: ConnectorContext,
  ) {
    const credentials = new CredentialResolver(source, definition.type, context);
    const endpoint = (role: EndpointRole) => endpointOf(source, role, definition.defaultPort);
    // eslint-disable-next-line prefer-const -- this.call's closures read it before it is assigned (the sessions spec may ask for activeRole while it is built): a const would throw there
    let pool: EndpointPool<TConn> | undefined;
    this.call = {
      source,
      context,
      endpoint,
      connectionArgs: (role, signal) => credentials.connectionArgs(role, endpoint(role), signal, pool?.session),
      connection: () => this.pool.connection(),
      get activeRole() {
        return pool?.activeRole ?? 'PRIMARY';
      },
    };
    this.sessions = instantiate(spec.sessions, this.call);
    const sessions = this.sessions;
    pool = this.pool = new EndpointPool<TConn>({
      type: definition.type,
      source,
      context,
      endpoint,
      connectionArgs: (role, signal, session) => credentials.connectionArgs(role, endpoint(role), signal, session),
      driver: {
        open: (args, signal) => sessions.open(args, signal),
        close: (conn) => sessions.close(conn),
        identify: sessions.identify?.bind(sessions),
      },
    });
    if (spec.catalog) this.catalog = instantiate(spec.catalog, this.call);
    if (spec.preview) {
      const preview = instantiate(spec.preview, this.call);
      this.previewColumns = (table, columns, signal) => preview.previewColumns(this.pool.connection(), table, columns, signal);
      this.previewRows = (read, signal) => preview.previewRows(this.pool.connection(), read, signal);
      const isSystemTable = preview.isSystemTable?.bind(preview);
      const credentialColumns = preview.credentialColumns?.bind(preview);
      if (isSystemTable) this.isSystemTable = (table) => isSystemTable(table);
      if (credentialColumns) this.credentialColumns = (table) => credentialColumns(table);
    }
    if (spec.profile) {
      const profile = instantiate(spec.profile, this.call);
      this.profileTable = (read, signal) => profile.profileTable(this.pool.connection(), read, signal);
    }
  }

  get targetPolicy(): TargetPolicy | undefined {
    return this.context.targets;
  }

  get activeRole(): EndpointRole {
    return this.pool.activeRole;
  }

  endpoint(role: EndpointRole): Endpoint & { port: number } {
    return this.call.endpoint(role);
  }

  /** Connection arguments of a role's endpoint (see {@link ConnectorCall.connectionArgs}). */
  connectionArgs(role: EndpointRole, signal: AbortSignal): Promise<ConnectionArgs> {
    return this.call.connectionArgs(role, signal);
  }

  validationPlan(role: EndpointRole): ValidationPlan<unknown> {
    if (!this.spec.checks) throw new SourcedError('VALIDATE_NOT_SUPPORTED', `the ${this.definition.type} connector has no validation checks`);
    return this.spec.checks(this.call, role);
  }

  initialize(signal: AbortSignal, settings?: SessionSettings): Promise<void> {
    return this.pool.initialize(signal, settings);
  }

  identity(role: EndpointRole): SourceIdentity | undefined {
    return this.pool.identity(role);
  }

  startProblem(role: EndpointRole): string | undefined {
    return this.pool.startProblem(role);
  }

  probe(role: EndpointRole, signal: AbortSignal): Promise<void> {
    return this.pool.probe(role, signal);
  }

  canFailover(): boolean {
    return this.pool.canFailover();
  }

  failover(reason: string, signal: AbortSignal): Promise<EndpointRole> {
    return this.pool.failover(reason, signal);
  }

  reconnect(signal: AbortSignal): Promise<void> {
    return this.pool.reconnect(signal);
  }

  isConnectionError(error: unknown): boolean {
    return this.sessions.isConnectionError(error);
  }

  async listSchemas(filter: CompiledFilter, signal: AbortSignal, objects?: SchemaObjectsRequest): Promise<SchemaEntity[]> {
    const catalog = this.catalogOrRefuse();
    const conn = this.pool.connection();
    // The page reads' extra connections, opened now (and kept for them) when the connector
    // reads through them: the schema-level objects are read beside the first page.
    const wanted = objects?.concurrency !== undefined && !catalog.parallelConnections ? objects.concurrency - 1 : 0;
    let readers: Promise<readonly TConn[]> | undefined;
    const generation = this.pool.generation;
    const parallel = () => (readers ??= wanted > 0 ? this.pool.readers(wanted, signal, generation) : Promise.resolve([]));
    // They start opening now, beside the connector's first statements on the main connection.
    if (wanted > 0) parallel().catch(() => undefined);
    try {
      return await catalog.listSchemas(conn, filter, signal, objects, parallel);
    } finally {
      // Connections still opening when the read ended (it failed) join the pool before it goes on.
      await readers?.catch(() => undefined);
    }
  }

  get readsAhead(): boolean {
    return this.catalog?.readsAhead === true;
  }

  async listRelations(page: RelationPage, signal: AbortSignal): Promise<CatalogEntity[]> {
    const catalog = this.catalogOrRefuse();
    const generation = this.pool.generation;
    const conn = this.pool.connection();
    const parallel = await this.pool.readers(catalog.parallelConnections ? catalog.parallelConnections(page) : page.concurrency - 1, signal, generation);
    return catalog.listRelations(conn, page, signal, parallel);
  }

  async countEntities(filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number | undefined> {
    const catalog = this.catalogOrRefuse();
    return catalog.countEntities ? catalog.countEntities(this.pool.connection(), filter, after, signal) : undefined;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private catalogOrRefuse(): CatalogSpec<TConn> {
    if (!this.catalog) throw new SourcedError('DISCOVER_NOT_SUPPORTED', `the ${this.definition.type} connector cannot discover catalogs`);
    return this.catalog;
  }
}
