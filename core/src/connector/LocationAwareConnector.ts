import type { Attributes } from '@opentelemetry/api';
import type { DataSource, Endpoint, EndpointRole } from '../datasource/DataSource';
import type { CompiledFilter } from '../discovery/DiscoveryFilter';
import type { CatalogEntity, RelationKey, SchemaEntity } from '../discovery/entities';
import { describeError, InputError, SourcedError, UnavailableError } from '../errors';
import { hasPassword as passwordGiven, passwordRequest, PEM_FIELDS, pemFileRequest, pemReferenceRequest, pemSettingKind, sslKeyRequest, wantsPassword, type PemLabel } from '../secret/credentialRequests';
import { fileSettingRefused } from '../secret/filePolicy';
import { Secret } from '../secret/Secret';
import type { ResolvedSecret } from '../secret/SecretChain';
import { sourcedInstruments } from '../telemetry/metrics';
import { withSpan } from '../telemetry/withSpan';
import type { ValidationPlan } from '../validation/Check';
import type { ConnectionArgs, TlsArgs } from './ConnectionArgs';
import { ConnectionBudget, type ReleaseSlot } from './ConnectionBudget';
import type { Connector, ConnectorContext, ConnectorDefinition, RelationPage, SessionSettings } from './Connector';
import { TOKEN_PLUGIN_OF, tokenCloudOf } from './DatabaseTokenProvider';
import { identityChanges, SourceIdentityError, type SourceIdentity } from './SourceIdentity';
import type { TargetPolicy } from './TargetPolicy';
import type { Cell, PreviewColumnInfo, PreviewRead } from '../preview/PreviewEngine';
import type { ProfileItem, ProfileRead } from '../preview/ProfileEngine';

interface Slot<TConn> {
  role: EndpointRole;
  conn?: TConn;
}

/**
 * The base every built-in connector extends. It owns everything that depends on where the
 * source lives: which endpoints exist, the connection arguments each gets (TLS for CLOUD
 * and HYBRID, application name, keep-alive for HYBRID), secret resolution, and failover
 * between a HYBRID primary and secondary. A subclass supplies only the driver-specific
 * parts: opening and closing a connection, its validation checks and its catalog queries.
 */
export abstract class LocationAwareConnector<TConn> implements Connector {
  private active: Slot<TConn>;
  private standby?: Slot<TConn>;
  private closed = false;
  private session?: SessionSettings;
  /** Extra connections to the active endpoint for parallel reads within a page. */
  private readers: TConn[] = [];
  /** Set when an extra connection failed to open: the run reads with what it has (until a failover). */
  private parallelUnavailable = false;
  /** The connection-budget slot each open connection holds. */
  private readonly slots = new Map<TConn, ReleaseSlot>();
  /** The `sourced.source.connections` attributes of each open connection (counted up at open, down at close). */
  private readonly counted = new Map<TConn, Attributes>();
  /** Why an endpoint could not be opened by {@link initialize}, by role (cleared when it opens later). */
  private readonly startProblems = new Map<EndpointRole, string>();
  /** What the latest session to each endpoint said it is (see {@link identifySession}). */
  private readonly identities = new Map<EndpointRole, SourceIdentity>();

  constructor(
    /** The definition that made this connector: its type, default port and capabilities. */
    readonly definition: ConnectorDefinition,
    /** The data source this connector reads. */
    readonly source: DataSource,
    /** What the host gave: the secret resolver, logger, tracer, token minter, connection budget and target policy. */
    protected readonly context: ConnectorContext,
  ) {
    this.active = { role: 'PRIMARY' };
    if (source.location === 'HYBRID' && source.secondary) this.standby = { role: 'SECONDARY' };
  }

  /** Opens one connection with these arguments. Honour `signal`. */
  protected abstract openConnection(args: ConnectionArgs, signal: AbortSignal): Promise<TConn>;
  /** Closes one connection; must not throw. */
  protected abstract closeConnection(conn: TConn): Promise<void>;
  /** Reads schemas through a connection. */
  protected abstract querySchemas(conn: TConn, filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]>;
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
  // eslint-disable-next-line require-yield
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
    return this.active.role;
  }

  /**
   * Why an endpoint could not be opened at the start ({@link initialize}): the primary when
   * the run started on the secondary, the standby when it runs without one; `undefined` when
   * it opened, or opened since.
   */
  startProblem(role: EndpointRole): string | undefined {
    const open = role === this.active.role ? this.active.conn : this.standby?.conn;
    return open === undefined ? this.startProblems.get(role) : undefined;
  }

  /** What the latest session to an endpoint said it is; `undefined` before one opened or when the connector cannot tell. */
  identity(role: EndpointRole): SourceIdentity | undefined {
    return this.identities.get(role);
  }

  /** The endpoint of a role, with the connector's default port filled in. */
  endpoint(role: EndpointRole): Endpoint & { port: number } {
    const e = role === 'PRIMARY' ? this.source.primary : this.source.secondary;
    if (!e) throw new InputError([{ field: 'data_source.secondary', description: 'is not set' }]);
    return { ...e, port: e.port ?? this.definition.defaultPort };
  }

  /**
   * Connection arguments for an endpoint: credentials resolved through the secret chain,
   * TLS by location and ssl settings, application name, keep-alive for HYBRID.
   */
  async connectionArgs(role: EndpointRole, signal: AbortSignal): Promise<ConnectionArgs> {
    const source = this.source;
    const endpoint = this.endpoint(role);
    const credentialSources: Record<string, string> = {};
    const credentialTimings: Record<string, number> = {};
    let password;
    const hasPassword = passwordGiven(source);
    if (source.cloud.useIamAuth) {
      // A fresh token for every physical connection: tokens live minutes, discoveries longer.
      if (!source.username) {
        throw new InputError([{ field: 'data_source.credentials.username', description: 'is required with cloud_config.use_iam_auth (the database user the token is for)' }]);
      }
      const cloud = tokenCloudOf(source);
      if (!this.context.tokens) {
        throw new SourcedError('TOKEN_PROVIDER_MISSING', `use_iam_auth needs a ${cloud} database token provider; load ${TOKEN_PLUGIN_OF[cloud]}`);
      }
      const started = performance.now();
      const minted = await this.context.tokens.mint(
        { source, host: endpoint.host, port: endpoint.port, user: source.username, connector: this.definition.type },
        signal,
      );
      password = minted.token;
      credentialSources.password = `${minted.provider} token (expires ${new Date(minted.expiresAt).toISOString()})`;
      credentialTimings.password = performance.now() - started;
    } else if (wantsPassword(source)) {
      try {
        // The requests of credentialRequests(), which the daemon checked against the policy and the caller's grants.
        const resolved = await this.context.secrets.resolve(passwordRequest(source), signal);
        password = resolved.secret;
        credentialSources.password = resolved.link;
        credentialTimings.password = resolved.durationMs;
      } catch (error) {
        if (hasPassword) throw error;
      }
    }
    let tls: TlsArgs | undefined;
    if (source.ssl.mode !== 'disable') {
      // ca, cert and key each come as PEM text, a file path, or a secret reference; a file is
      // read as a file:// reference (the policy, the caller's grants, the real path).
      const fileReader = (label: PemLabel | 'ssl_key', field: string) => (path: string) =>
        this.context.secrets.resolve(pemFileRequest(source, label, path, field), signal);
      const pemSetting = async (label: PemLabel, value: string | undefined) => {
        if (value === undefined) return undefined;
        const field = PEM_FIELDS[label];
        if (pemSettingKind(value) !== 'reference') return (await readPem(value, field, fileReader(label, field), signal)).reveal();
        const resolved = await this.context.secrets.resolve(pemReferenceRequest(source, label, value), signal);
        credentialSources[label] = resolved.link;
        credentialTimings[label] = resolved.durationMs;
        return (await readPem(resolved.secret.reveal(), field, fileReader(label, field), signal)).reveal();
      };
      let key;
      const keyRequest = sslKeyRequest(source);
      if (keyRequest) {
        const resolved = await this.context.secrets.resolve(keyRequest, signal);
        key = await keyPem(resolved.secret, keyRequest.field, fileReader('ssl_key', keyRequest.field), signal);
        credentialSources.ssl_key = resolved.link;
        credentialTimings.ssl_key = resolved.durationMs;
      }
      tls = {
        mode: source.ssl.mode,
        ca: await pemSetting('ssl_ca', source.ssl.ca),
        cert: await pemSetting('ssl_cert', source.ssl.cert),
        key,
        servername: source.ssl.serverName,
      };
    }
    const timeout = Number(source.connectionProperties.connect_timeout_ms ?? source.connectionProperties.connect_timeout_seconds ?? 0);
    return {
      role,
      host: endpoint.host,
      port: endpoint.port,
      database: endpoint.database,
      user: source.username,
      password,
      tls,
      applicationName: this.context.applicationName,
      keepAlive: source.location === 'HYBRID',
      connectTimeoutMs:
        'connect_timeout_seconds' in source.connectionProperties ? timeout * 1000 : timeout > 0 ? timeout : 10_000,
      statementTimeoutMs: this.session?.statementTimeoutMs,
      targets: this.context.targets,
      credentialSources,
      credentialTimings,
    };
  }

  /** Opens the active endpoint and, for HYBRID, the standby too (a standby that fails to open is retried at failover). */
  async initialize(signal: AbortSignal, settings?: SessionSettings): Promise<void> {
    this.session = settings;
    const errors: string[] = [];
    try {
      this.active.conn = await this.open(this.active.role, signal);
    } catch (error) {
      // A primary that answers as another source is a configuration error, not an outage.
      if (!this.standby || error instanceof SourceIdentityError) throw error;
      errors.push(`primary: ${describeError(error)}`);
      this.startProblems.set('PRIMARY', describeError(error));
      this.context.logger.warn('primary endpoint failed at start, using the secondary', { error: describeError(error) });
      [this.active, this.standby] = [this.standby, this.active];
      try {
        this.active.conn = await this.open(this.active.role, signal);
        return;
      } catch (second) {
        errors.push(`secondary: ${describeError(second)}`);
        throw new UnavailableError('ALL_ENDPOINTS_UNAVAILABLE', `no endpoint could be reached (${errors.join('; ')})`, { cause: second });
      }
    }
    if (this.standby) {
      // The standby takes a free slot or none: waiting for one while holding the active
      // connection could wait forever (both endpoints may share one limit).
      const slot = this.takeFreeSlot(this.standby.role);
      if (slot === null) {
        this.context.logger.warn('standby endpoint not opened: its connection limit is reached; will open it at failover');
        this.startProblems.set(this.standby.role, `the daemon's connection limit for it (sources.maxConnectionsPerEndpoint) is reached`);
        return;
      }
      try {
        this.standby.conn = await this.open(this.standby.role, signal, slot);
      } catch (error) {
        this.context.logger.warn('standby endpoint could not be opened; will retry at failover', { error: describeError(error) });
        this.startProblems.set(this.standby.role, describeError(error));
      }
    }
  }

  /** True when the start had to use the secondary (the primary was down). */
  get startedOnSecondary(): boolean {
    return this.active.role === 'SECONDARY';
  }

  canFailover(): boolean {
    return this.standby !== undefined;
  }

  async failover(reason: string, signal: AbortSignal): Promise<EndpointRole> {
    if (!this.standby) throw new UnavailableError('NO_FAILOVER_ENDPOINT', `connection lost and no failover endpoint: ${reason}`);
    const broken = this.active;
    [this.active, this.standby] = [this.standby, broken];
    await this.closeReaders();
    if (broken.conn) {
      const conn = broken.conn;
      broken.conn = undefined;
      // Not awaited: a frozen server answers neither the cancellation nor the close, and the
      // run must not wait for their timeouts to go on on the standby. dispose() never throws.
      void this.dispose(conn);
    }
    if (!this.active.conn) this.active.conn = await this.open(this.active.role, signal);
    this.context.logger.warn('failed over', { active: this.active.role, reason });
    return this.active.role;
  }

  /**
   * Opens a connection to an endpoint and closes it again (see {@link Connector.probe}). It
   * takes no slot of the connection budget: a probe is short, and must not queue behind the
   * reads it is checking on.
   */
  async probe(role: EndpointRole, signal: AbortSignal): Promise<void> {
    const conn = await this.openWithinSlot(role, signal);
    await this.closeConnection(conn);
  }

  /** Closes the active connection and opens the same endpoint again. */
  async reconnect(signal: AbortSignal): Promise<void> {
    const stale = this.active.conn;
    this.active.conn = undefined;
    await this.closeReaders();
    if (stale) await this.dispose(stale);
    this.active.conn = await this.open(this.active.role, signal);
    this.context.logger.warn('reconnected', { active: this.active.role });
  }

  async listSchemas(filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]> {
    return this.querySchemas(this.connection(), filter, signal);
  }

  async listRelations(page: RelationPage, signal: AbortSignal): Promise<CatalogEntity[]> {
    const conn = this.connection();
    const parallel = await this.parallelReaders(this.parallelConnections(page), signal);
    return this.queryRelations(conn, page, signal, parallel);
  }

  async previewColumns(table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]> {
    return this.queryPreviewColumns(this.connection(), table, columns, signal);
  }

  async previewRows(read: PreviewRead, signal: AbortSignal): Promise<Cell[][]> {
    return this.queryPreviewRows(this.connection(), read, signal);
  }

  profileTable(read: ProfileRead, signal: AbortSignal): AsyncIterable<ProfileItem> {
    return this.queryProfile(this.connection(), read, signal);
  }

  async countEntities(filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number | undefined> {
    return this.queryCount(this.connection(), filter, after, signal);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const conns = [this.active.conn, this.standby?.conn, ...this.readers].filter((c): c is TConn => c !== undefined);
    this.active.conn = undefined;
    if (this.standby) this.standby.conn = undefined;
    this.readers = [];
    await Promise.all(conns.map((c) => this.dispose(c)));
  }

  /**
   * Up to `wanted` extra connections to the active endpoint: kept between pages, opened at
   * once while the endpoint's connection limit has free slots (never waiting for one), closed
   * when fewer are wanted. One that fails to open is logged, and the run goes on with the
   * connections it has (no retry each page) until a failover or reconnect starts afresh.
   */
  private async parallelReaders(wanted: number, signal: AbortSignal): Promise<TConn[]> {
    const want = Math.max(0, wanted);
    while (this.readers.length > want) {
      const surplus = this.readers.pop();
      if (surplus !== undefined) await this.dispose(surplus);
    }
    if (this.parallelUnavailable) return this.readers;
    // Take the free slots first, then open those connections at once.
    const slots: (ReleaseSlot | undefined)[] = [];
    while (this.readers.length + slots.length < want) {
      const slot = this.takeFreeSlot(this.active.role);
      if (slot === null) break;
      slots.push(slot);
    }
    const opened = await Promise.allSettled(slots.map((slot) => this.open(this.active.role, signal, slot)));
    // Keep every connection that opened (close() ends them whatever happens next); open()
    // gave the slots of the failed ones back already.
    for (const result of opened) if (result.status === 'fulfilled') this.readers.push(result.value);
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      if (signal.aborted) throw failed.reason;
      this.parallelUnavailable = true;
      this.context.logger.warn('an extra connection for parallel reads could not be opened; reading with fewer', { error: describeError(failed.reason) });
    }
    return this.readers;
  }

  private async closeReaders(): Promise<void> {
    const readers = this.readers;
    this.readers = [];
    this.parallelUnavailable = false;
    await Promise.all(readers.map((c) => this.dispose(c)));
  }

  /** Closes a connection and gives its slot back. */
  private async dispose(conn: TConn): Promise<void> {
    try {
      await this.closeConnection(conn);
    } finally {
      const release = this.slots.get(conn);
      this.slots.delete(conn);
      release?.();
      const attributes = this.counted.get(conn);
      if (attributes) {
        this.counted.delete(conn);
        sourcedInstruments(this.context.meter).sourceConnections.add(-1, attributes);
      }
    }
  }

  private connection(): TConn {
    if (!this.active.conn) throw new UnavailableError('NOT_CONNECTED', 'the connector is not connected; call initialize() first');
    return this.active.conn;
  }

  /** The key of a role's endpoint in the daemon's connection budget. */
  private budgetKey(role: EndpointRole): string {
    const { host, port } = this.endpoint(role);
    return ConnectionBudget.key(this.definition.type, host, port);
  }

  /**
   * A slot of a role's endpoint if one is free now, without waiting: the slot; `undefined`
   * when the daemon sets no limit (no slot is needed); `null` when the limit is reached.
   */
  private takeFreeSlot(role: EndpointRole): ReleaseSlot | undefined | null {
    const budget = this.context.connectionBudget;
    if (!budget) return undefined;
    return budget.tryAcquire(this.budgetKey(role)) ?? null;
  }

  /**
   * Opens a connection to a role's endpoint within the daemon's connection limit: it waits
   * for a slot unless one was taken already (`slot`); the slot is held until the connection
   * is closed, or given back at once when opening fails.
   */
  private async open(role: EndpointRole, signal: AbortSignal, slot?: ReleaseSlot): Promise<TConn> {
    const budget = this.context.connectionBudget;
    if (!slot && budget) {
      const { host, port } = this.endpoint(role);
      const key = this.budgetKey(role);
      // Waiting for a slot is traced; taking a free one is not.
      slot =
        budget.tryAcquire(key) ??
        (await withSpan(this.context.tracer, 'sourced.connection.wait', { 'server.address': host, 'server.port': port }, () => budget.acquire(key, signal)));
    }
    let conn: TConn;
    try {
      conn = await this.openWithinSlot(role, signal);
    } catch (error) {
      slot?.();
      throw error;
    }
    if (slot) this.slots.set(conn, slot);
    // One series per source endpoint (the host as the data source names it, never the database or user).
    const attributes: Attributes = { 'db.system': this.definition.type, 'server.address': this.endpoint(role).host.toLowerCase() };
    this.counted.set(conn, attributes);
    sourcedInstruments(this.context.meter).sourceConnections.add(1, attributes);
    if (this.closed) {
      // close() ran while this connection was being opened: it must not outlive the connector.
      await this.dispose(conn);
      throw new UnavailableError('CONNECTOR_CLOSED', 'the connector was closed');
    }
    try {
      await this.checkIdentity(role, conn, signal);
    } catch (error) {
      await this.dispose(conn);
      throw error;
    }
    return conn;
  }

  /**
   * Refuses a session that is not the source this call reads: connected to another database
   * than the endpoint names, or answering as another server, user, port or database than the
   * call's first session to that endpoint did (a DNS name that moved, a proxy that routed
   * elsewhere, a failover address that is another server).
   */
  private async checkIdentity(role: EndpointRole, conn: TConn, signal: AbortSignal): Promise<void> {
    const seen = await this.identifySession(conn, signal);
    if (!seen) return;
    const endpoint = this.endpoint(role);
    const problems: string[] = [];
    if (endpoint.database && seen.database !== endpoint.database) {
      problems.push(`the session is connected to database ${JSON.stringify(seen.database)}, not ${JSON.stringify(endpoint.database)} as the data source names it`);
    }
    const first = this.identities.get(role);
    if (first) problems.push(...identityChanges(first, seen));
    if (problems.length > 0) throw new SourceIdentityError(role, `${endpoint.host}:${endpoint.port}`, problems);
    this.identities.set(role, seen);
  }

  private async openWithinSlot(role: EndpointRole, signal: AbortSignal): Promise<TConn> {
    const args = await this.connectionArgs(role, signal);
    const attributes = {
      'db.system': this.definition.type,
      'server.address': args.host,
      'server.port': args.port,
      'sourced.endpoint.role': role,
      'sourced.tls': args.tls ? args.tls.mode : 'disable',
    };
    return withSpan(this.context.tracer, 'sourced.connection.open', attributes, async () => {
      if (this.closed) throw new UnavailableError('CONNECTOR_CLOSED', 'the connector was closed');
      return this.openConnection(args, signal);
    });
  }
}

/**
 * A PEM value given inline, or read from the file a path names through the secret chain
 * (`readFile`: a `file://` look-up under the policy and the caller's grants). Every refused
 * or unreadable path is the one {@link fileSettingRefused} error.
 */
async function readPem(value: string, field: string, readFile: (path: string) => Promise<ResolvedSecret>, signal: AbortSignal): Promise<Secret> {
  if (value.includes('-----BEGIN')) return new Secret(value, 'inline');
  try {
    return (await readFile(value.trim())).secret;
  } catch (error) {
    if (signal.aborted) throw error;
    throw fileSettingRefused(field);
  }
}

/** The client key as PEM: the secret's value, or, when that is a file path, the file's contents (still a Secret). */
async function keyPem(secret: Secret, field: string, readFile: (path: string) => Promise<ResolvedSecret>, signal: AbortSignal): Promise<Secret> {
  if (secret.reveal().includes('-----BEGIN')) return secret;
  return readPem(secret.reveal(), field, readFile, signal);
}
