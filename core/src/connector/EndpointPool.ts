import type { Attributes } from '@opentelemetry/api';
import { Mutex } from 'async-mutex';
import type { SessionSettings } from '../contract/catalog';
import type { DataSource, Endpoint, EndpointRole } from '../datasource/DataSource';
import { describeError, InputError, UnavailableError } from '../errors';
import { sourcedInstruments } from '../telemetry/metrics';
import { withSpan } from '../telemetry/withSpan';
import type { ConnectionArgs } from './ConnectionArgs';
import { ConnectionBudget, type ReleaseSlot } from './ConnectionBudget';
import type { ConnectorContext } from './Connector';
import { identityChanges, SourceIdentityError, type SourceIdentity } from './SourceIdentity';

/** The driver-specific part of an {@link EndpointPool}: how one connection opens, closes and says who answered. */
export interface ConnectionDriver<TConn> {
  /** Opens one connection with these arguments. Honour `signal`. */
  open(args: ConnectionArgs, signal: AbortSignal): Promise<TConn>;
  /** Closes one connection; must not throw. */
  close(conn: TConn): Promise<void>;
  /**
   * Who answered a freshly opened session (database, user, server port and id, version, start
   * time); `undefined` when the driver cannot tell, and then nothing is checked. Called once
   * for every connection the pool opens, before it is used.
   */
  identify?(conn: TConn, signal: AbortSignal): Promise<SourceIdentity | undefined>;
}

/** What an {@link EndpointPool} is made of. */
export interface EndpointPoolOptions<TConn> {
  /** The connector type: the connection budget's key and `db.system` of the metrics and spans. */
  type: string;
  /** The data source: its location says whether there is a standby (HYBRID with a secondary). */
  source: DataSource;
  /** The host's logger, tracer, meter and connection budget. */
  context: Pick<ConnectorContext, 'logger' | 'tracer' | 'meter' | 'connectionBudget'>;
  /** The endpoint of a role, its port filled in. */
  endpoint(role: EndpointRole): Endpoint & { port: number };
  /** The connection arguments of a role's endpoint for this run (see {@link CredentialResolver}). */
  connectionArgs(role: EndpointRole, signal: AbortSignal, session: SessionSettings | undefined): Promise<ConnectionArgs>;
  /** How a connection opens and closes. */
  driver: ConnectionDriver<TConn>;
}

interface Slot<TConn> {
  role: EndpointRole;
  conn?: TConn;
}

/**
 * Core's endpoint service: the connections of one call on a data source. It opens the active
 * endpoint (the primary, or for HYBRID the secondary when the primary does not open) and keeps
 * a HYBRID standby open as the failover reference; `failover()` swaps active and standby
 * (reconnecting a standby that is not open), `reconnect()` replaces the active connection,
 * `probe()` opens and closes a connection outside the budget (the stall probe). Every
 * connection it opens holds a slot of the daemon's connection budget, is counted in
 * `sourced.source.connections`, traced (`sourced.connection.open`, `sourced.connection.wait`)
 * and checked to answer as the same source as the call's first session to that endpoint.
 * Extra connections to the active endpoint for parallel reads ({@link readers}) are taken only
 * from free slots. The connector owns its driver; the pool owns everything else.
 */
export class EndpointPool<TConn> {
  private active: Slot<TConn>;
  private standby?: Slot<TConn>;
  private closed = false;
  /** The session settings of the run (from `initialize`). */
  session?: SessionSettings;
  /** Extra connections to the active endpoint for parallel reads within a page. */
  private extra: TConn[] = [];
  /** Set when an extra connection failed to open: the run reads with what it has (until a failover). */
  private parallelUnavailable = false;
  /** {@link readers} one call at a time: reads that run at once share the extra connections, never open twice as many. */
  private readonly readersLock = new Mutex();
  /** Counts the changes of connections under the reads: failover, reconnect, close ({@link generation}). */
  private changes = 0;
  /** The connection-budget slot each open connection holds. */
  private readonly slots = new Map<TConn, ReleaseSlot>();
  /** The `sourced.source.connections` attributes of each open connection (counted up at open, down at close). */
  private readonly counted = new Map<TConn, Attributes>();
  /** Why an endpoint could not be opened by {@link initialize}, by role (cleared when it opens later). */
  private readonly startProblems = new Map<EndpointRole, string>();
  /** What the latest session to each endpoint said it is. */
  private readonly identities = new Map<EndpointRole, SourceIdentity>();

  constructor(private readonly options: EndpointPoolOptions<TConn>) {
    this.active = { role: 'PRIMARY' };
    if (options.source.location === 'HYBRID' && options.source.secondary) this.standby = { role: 'SECONDARY' };
  }

  /** Which endpoint is read from now. */
  get activeRole(): EndpointRole {
    return this.active.role;
  }

  /** True when the start had to use the secondary (the primary was down). */
  get startedOnSecondary(): boolean {
    return this.active.role === 'SECONDARY';
  }

  /** Why an endpoint could not be opened at the start; `undefined` when it opened, or opened since. */
  startProblem(role: EndpointRole): string | undefined {
    const open = role === this.active.role ? this.active.conn : this.standby?.conn;
    return open === undefined ? this.startProblems.get(role) : undefined;
  }

  /** What the latest session to an endpoint said it is; `undefined` before one opened or when the driver cannot tell. */
  identity(role: EndpointRole): SourceIdentity | undefined {
    return this.identities.get(role);
  }

  /**
   * Advances whenever the connections reads go through change (a failover, a reconnect, the
   * close): a read that runs beside others takes it at its start and, when it differs at its
   * end, knows it may have mixed two endpoints' connections ({@link readers} refuses then).
   */
  get generation(): number {
    return this.changes;
  }

  /** The active connection; `NOT_CONNECTED` before {@link initialize}. */
  connection(): TConn {
    if (!this.active.conn) throw new UnavailableError('NOT_CONNECTED', 'the connector is not connected; call initialize() first');
    return this.active.conn;
  }

  /** Opens the active endpoint and, for HYBRID, the standby too (a standby that fails to open is retried at failover). */
  async initialize(signal: AbortSignal, settings?: SessionSettings): Promise<void> {
    this.session = settings;
    const logger = this.options.context.logger;
    const errors: string[] = [];
    try {
      this.active.conn = await this.open(this.active.role, signal);
    } catch (error) {
      // A primary that answers as another source is a configuration error, not an outage.
      if (!this.standby || error instanceof SourceIdentityError) throw error;
      errors.push(`primary: ${describeError(error)}`);
      this.startProblems.set('PRIMARY', describeError(error));
      logger.warn('primary endpoint failed at start, using the secondary', { error: describeError(error) });
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
        logger.warn('standby endpoint not opened: its connection limit is reached; will open it at failover');
        this.startProblems.set(this.standby.role, `the daemon's connection limit for it (sources.maxConnectionsPerEndpoint) is reached`);
        return;
      }
      try {
        this.standby.conn = await this.open(this.standby.role, signal, slot);
      } catch (error) {
        logger.warn('standby endpoint could not be opened; will retry at failover', { error: describeError(error) });
        this.startProblems.set(this.standby.role, describeError(error));
      }
    }
  }

  /** Whether a failover endpoint is available. */
  canFailover(): boolean {
    return this.standby !== undefined;
  }

  /** Swaps active and standby, opening the new active one when it is not open; returns the new role. */
  async failover(reason: string, signal: AbortSignal): Promise<EndpointRole> {
    if (!this.standby) throw new UnavailableError('NO_FAILOVER_ENDPOINT', `connection lost and no failover endpoint: ${reason}`);
    const broken = this.active;
    [this.active, this.standby] = [this.standby, broken];
    this.changes++;
    // The left endpoint's parallel-read connections close in the background as well: a frozen
    // server holds each close for the driver's timeouts (AGGRESSIVE's failover waited 2 s here).
    void this.closeReaders().catch(() => undefined);
    if (broken.conn) {
      const conn = broken.conn;
      broken.conn = undefined;
      // Not awaited: a frozen server answers neither the cancellation nor the close, and the
      // run must not wait for their timeouts to go on on the standby. dispose() never throws.
      void this.dispose(conn);
    }
    if (!this.active.conn) this.active.conn = await this.open(this.active.role, signal);
    this.options.context.logger.warn('failed over', { active: this.active.role, reason });
    return this.active.role;
  }

  /**
   * Opens a connection to an endpoint and closes it again (the stall probe). It takes no slot
   * of the connection budget: a probe is short, and must not queue behind the reads it is
   * checking on.
   */
  async probe(role: EndpointRole, signal: AbortSignal): Promise<void> {
    const conn = await this.openWithinSlot(role, signal);
    await this.options.driver.close(conn);
  }

  /** Closes the active connection and opens the same endpoint again. */
  async reconnect(signal: AbortSignal): Promise<void> {
    const stale = this.active.conn;
    this.active.conn = undefined;
    this.changes++;
    await this.closeReaders();
    if (stale) await this.dispose(stale);
    this.active.conn = await this.open(this.active.role, signal);
    this.options.context.logger.warn('reconnected', { active: this.active.role });
  }

  /** Closes every connection. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.changes++;
    const conns = [this.active.conn, this.standby?.conn, ...this.extra].filter((c): c is TConn => c !== undefined);
    this.active.conn = undefined;
    if (this.standby) this.standby.conn = undefined;
    this.extra = [];
    await Promise.all(conns.map((c) => this.dispose(c)));
  }

  /**
   * Up to `wanted` extra connections to the active endpoint: kept between pages, opened at
   * once while the endpoint's connection limit has free slots (never waiting for one), closed
   * when fewer are wanted. One that fails to open is logged, and the run goes on with the
   * connections it has (no retry each page) until a failover or reconnect starts afresh.
   * Calls run one at a time; reads running at once get the same connections (a driver
   * connection queues their statements). `generation`: the {@link generation} the caller's read
   * started in; when the connections changed since (a failover), it gets `CONNECTION_LOST`
   * instead of the new endpoint's connections mixed with the old one's.
   */
  readers(wanted: number, signal: AbortSignal, generation?: number): Promise<TConn[]> {
    return this.readersLock.runExclusive(async () => {
      const extra = await this.openReaders(wanted, signal);
      if (generation !== undefined && generation !== this.changes) {
        throw new UnavailableError('CONNECTION_LOST', 'the endpoint changed (a failover) while a read was opening its parallel connections; read again');
      }
      return extra;
    });
  }

  private async openReaders(wanted: number, signal: AbortSignal): Promise<TConn[]> {
    const want = Math.max(0, wanted);
    const generation = this.changes;
    while (this.extra.length > want) {
      const surplus = this.extra.pop();
      if (surplus !== undefined) await this.dispose(surplus);
    }
    if (this.parallelUnavailable) return this.extra;
    // Take the free slots first, then open those connections at once.
    const slots: (ReleaseSlot | undefined)[] = [];
    while (this.extra.length + slots.length < want) {
      const slot = this.takeFreeSlot(this.active.role);
      if (slot === null) break;
      slots.push(slot);
    }
    const opened = await Promise.allSettled(slots.map((slot) => this.open(this.active.role, signal, slot)));
    if (generation !== this.changes) {
      // A failover (or reconnect, or the close) while they opened: they belong to the endpoint left.
      await Promise.all(opened.flatMap((r) => (r.status === 'fulfilled' ? [this.dispose(r.value)] : [])));
      return this.extra;
    }
    // Keep every connection that opened (close() ends them whatever happens next); open()
    // gave the slots of the failed ones back already.
    for (const result of opened) if (result.status === 'fulfilled') this.extra.push(result.value);
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      if (signal.aborted) throw failed.reason;
      this.parallelUnavailable = true;
      this.options.context.logger.warn('an extra connection for parallel reads could not be opened; reading with fewer', {
        error: describeError(failed.reason),
      });
    }
    return this.extra;
  }

  private async closeReaders(): Promise<void> {
    const readers = this.extra;
    this.extra = [];
    this.parallelUnavailable = false;
    await Promise.all(readers.map((c) => this.dispose(c)));
  }

  /** Closes a connection and gives its slot back. */
  private async dispose(conn: TConn): Promise<void> {
    try {
      await this.options.driver.close(conn);
    } finally {
      const release = this.slots.get(conn);
      this.slots.delete(conn);
      release?.();
      const attributes = this.counted.get(conn);
      if (attributes) {
        this.counted.delete(conn);
        sourcedInstruments(this.options.context.meter).sourceConnections.add(-1, attributes);
      }
    }
  }

  /** The key of a role's endpoint in the daemon's connection budget. */
  private budgetKey(role: EndpointRole): string {
    const { host, port } = this.options.endpoint(role);
    return ConnectionBudget.key(this.options.type, host, port);
  }

  /**
   * A slot of a role's endpoint if one is free now, without waiting: the slot; `undefined`
   * when the daemon sets no limit (no slot is needed); `null` when the limit is reached.
   */
  private takeFreeSlot(role: EndpointRole): ReleaseSlot | undefined | null {
    const budget = this.options.context.connectionBudget;
    if (!budget) return undefined;
    return budget.tryAcquire(this.budgetKey(role)) ?? null;
  }

  /**
   * Opens a connection to a role's endpoint within the daemon's connection limit: it waits
   * for a slot unless one was taken already (`slot`); the slot is held until the connection
   * is closed, or given back at once when opening fails.
   */
  private async open(role: EndpointRole, signal: AbortSignal, slot?: ReleaseSlot): Promise<TConn> {
    const { context, type } = this.options;
    const budget = context.connectionBudget;
    if (!slot && budget) {
      const { host, port } = this.options.endpoint(role);
      const key = this.budgetKey(role);
      // Waiting for a slot is traced; taking a free one is not.
      slot =
        budget.tryAcquire(key) ??
        (await withSpan(context.tracer, 'sourced.connection.wait', { 'server.address': host, 'server.port': port }, () => budget.acquire(key, signal)));
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
    const attributes: Attributes = { 'db.system': type, 'server.address': this.options.endpoint(role).host.toLowerCase() };
    this.counted.set(conn, attributes);
    sourcedInstruments(context.meter).sourceConnections.add(1, attributes);
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
    const seen = await this.options.driver.identify?.(conn, signal);
    if (!seen) return;
    const endpoint = this.options.endpoint(role);
    const problems: string[] = [];
    if (endpoint.database && seen.database !== endpoint.database) {
      problems.push(
        `the session is connected to database ${JSON.stringify(seen.database)}, not ${JSON.stringify(endpoint.database)} as the data source names it`,
      );
    }
    const first = this.identities.get(role);
    if (first) problems.push(...identityChanges(first, seen));
    if (problems.length > 0) throw new SourceIdentityError(role, `${endpoint.host}:${endpoint.port}`, problems);
    this.identities.set(role, seen);
  }

  private async openWithinSlot(role: EndpointRole, signal: AbortSignal): Promise<TConn> {
    const args = await this.options.connectionArgs(role, signal, this.session);
    const attributes = {
      'db.system': this.options.type,
      'server.address': args.host,
      'server.port': args.port,
      'sourced.endpoint.role': role,
      'sourced.tls': args.tls ? args.tls.mode : 'disable',
    };
    return withSpan(this.options.context.tracer, 'sourced.connection.open', attributes, async () => {
      if (this.closed) throw new UnavailableError('CONNECTOR_CLOSED', 'the connector was closed');
      return this.options.driver.open(args, signal);
    });
  }
}

/** The endpoint of a role of a data source, with `defaultPort` filled in; an InputError when the source has no such endpoint. */
export function endpointOf(source: DataSource, role: EndpointRole, defaultPort: number): Endpoint & { port: number } {
  const e = role === 'PRIMARY' ? source.primary : source.secondary;
  if (!e) throw new InputError([{ field: 'data_source.secondary', description: 'is not set' }]);
  return { ...e, port: e.port ?? defaultPort };
}
