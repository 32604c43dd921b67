import {
  LocationAwareConnector,
  NotFoundError,
  refuseTableOutOfScope,
  type Cell,
  type CollectionEntity,
  type CompiledFilter,
  type ConnectionArgs,
  type EndpointRole,
  type PreviewColumnInfo,
  type PreviewRead,
  type ProfileItem,
  type ProfileRead,
  type RelationKey,
  type RelationPage,
  type SchemaEntity,
  type ValidationPlan,
} from '@sourced/core';
import type { MongoClient } from 'mongodb';
import { countCollections, readCollections, readDatabases, type CatalogLimits } from './catalog';
import { mongoValidationPlan, type MongoCheckState } from './checks';
import { closeClient, mongoClientOptions, mongoSettings, mongoUrl, openClient } from './connect';
import { seedListOf } from './srv';
import { toConnectError } from './connectFailure';
import { isConnectionError } from './mongoErrors';
import { collectionKind, credentialColumns, isSystemTable, previewColumns, previewRows, type NamespaceKind } from './preview';
import { profileCollection } from './profile';

/**
 * Collections read at once within a page at most, whatever the strategy asks: the pool
 * holds this many connections (besides the monitor's).
 */
const MAX_POOL_SIZE = 4;

/**
 * The MongoDB connector, on the official driver. One `MongoClient` per endpoint: a single
 * host with `directConnection`, or a `mongodb+srv` seed list. Its pool gives the strategy's
 * parallel reads, so no further clients are opened for them. Every command carries the
 * call's `AbortSignal` (the driver closes the connection of a command in flight when it
 * fires), and the catalog commands of discovery the strategy's statement time limit as
 * `maxTimeMS` (sampling its own, within that one), so the server stops on its own too; the
 * engine then closes the client, which closes every pooled and monitoring connection.
 */
export class MongoConnector extends LocationAwareConnector<MongoClient> {
  /** The limits of each client's catalog commands, from the arguments it was opened with. */
  private readonly limits = new WeakMap<MongoClient, CatalogLimits>();
  /** The kind of each previewed namespace (collection, view, timeseries), from its lookup. */
  private readonly kinds = new Map<string, NamespaceKind>();

  constructor(...args: ConstructorParameters<typeof LocationAwareConnector<MongoClient>>) {
    super(...args);
    // Bad MongoDB settings (an unknown auth_mechanism) fail the call before anything connects.
    mongoSettings(this.source, this.source.primary.host);
  }

  /** Opens a client and logs in; failures become core's semantic errors with a hint. */
  protected override async openConnection(args: ConnectionArgs, signal: AbortSignal): Promise<MongoClient> {
    const settings = mongoSettings(this.source, args.host);
    let client: MongoClient;
    try {
      // mongodb+srv: the seed list comes from the target policy's DNS servers, not the driver's look-up.
      const seeds = settings.srv ? await seedListOf(settings.host, signal, args.targets, settings.authSource !== undefined) : undefined;
      client = await openClient(
        seeds?.url ?? mongoUrl(args, settings),
        { ...mongoClientOptions(args, settings, { authenticate: true, maxPoolSize: MAX_POOL_SIZE }), ...seeds?.options },
        signal,
        args.targets,
        (denied) => this.context.logger.warn('the target policy refused a connection the MongoDB driver asked for', { host: denied.host, address: denied.address, rule: denied.rule }),
      );
    } catch (error) {
      throw toConnectError(error, args, settings);
    }
    this.limits.set(client, { maxTimeMS: args.statementTimeoutMs, database: args.database || undefined });
    return client;
  }

  /** Closes the client, its pool and its monitors; never throws. */
  protected override closeConnection(conn: MongoClient): Promise<void> {
    return closeClient(conn);
  }

  /** Network errors, no selectable server, closed clients, and shutdown or step-down codes. */
  override isConnectionError(error: unknown): boolean {
    return isConnectionError(error);
  }

  /** resolve-credentials, dns, tcp, tls, handshake, server-version, authenticate, privileges, latency. */
  override validationPlan(_role: EndpointRole): ValidationPlan<MongoCheckState> {
    return mongoValidationPlan(this);
  }

  /** The databases the user may list (listDatabases with authorizedDatabases), the filter pushed down. */
  protected override querySchemas(conn: MongoClient, filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]> {
    return readDatabases(conn, filter, signal, this.limitsOf(conn));
  }

  /**
   * None: the one client's pool reads up to the strategy's concurrency at once (an extra
   * connection would be a whole client with its own pool and monitor).
   */
  protected override parallelConnections(_page: RelationPage): number {
    return 0;
  }

  /** One page of collections with their indexes, estimated counts and inferred schemas. */
  protected override queryRelations(conn: MongoClient, page: RelationPage, signal: AbortSignal): Promise<CollectionEntity[]> {
    return readCollections(conn, { ...page, concurrency: Math.min(page.concurrency, MAX_POOL_SIZE) }, signal, this.context.logger, this.limitsOf(conn));
  }

  /** listDatabases and one names-only listCollections per database (a few at once), with the page's filter and cursor. */
  protected override queryCount(conn: MongoClient, filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number> {
    return countCollections(conn, filter, after, signal, this.context.logger, this.limitsOf(conn), MAX_POOL_SIZE);
  }

  /**
   * A preview's columns: the collection (or view) must be one the user may see
   * (listCollections), else TABLE_NOT_FOUND; no columns means one `document` column, each
   * chosen top-level field is a `field` column.
   */
  protected override async queryPreviewColumns(conn: MongoClient, table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]> {
    // The data source's database only (previews and profiles both start here): NOT_FOUND before any command.
    const secondary = this.activeRole === 'SECONDARY';
    refuseTableOutOfScope(table, { database: this.limitsOf(conn).database, field: secondary ? 'data_source.secondary.database' : 'data_source.primary.database' }, 'mongodb');
    const found = await previewColumns(conn, table, columns, signal, this.limitsOf(conn));
    this.kinds.set(kindKey(table), found.kind);
    return found.columns;
  }

  /** A preview's documents or fields, as canonical Extended JSON (see preview.ts), under the statement time limit. */
  protected override async queryPreviewRows(conn: MongoClient, read: PreviewRead, signal: AbortSignal): Promise<Cell[][]> {
    const limits = this.limitsOf(conn);
    const kind = this.kinds.get(kindKey(read.table)) ?? (await collectionKind(conn, read.table, signal, limits));
    if (kind === undefined) throw new NotFoundError('TABLE_NOT_FOUND', `MongoDB has no collection or view "${read.table.name}" in database "${read.table.schema}" that this user may see`);
    return previewRows(conn, read, kind, signal, limits);
  }

  /**
   * A collection's profile (see profile.ts): STATISTICS reads the metadata count only (every
   * field `noStatistics`); SAMPLE one `$sample` of at most `read.sampleRows` documents under
   * the statement time limit. With no fields named, the fields are the top-level names of a
   * small names-only sample.
   */
  protected override async *queryProfile(conn: MongoClient, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
    const limits = this.limitsOf(conn);
    const kind = this.kinds.get(kindKey(read.table)) ?? (await collectionKind(conn, read.table, signal, limits));
    if (kind === undefined) throw new NotFoundError('TABLE_NOT_FOUND', `MongoDB has no collection or view "${read.table.name}" in database "${read.table.schema}" that this user may see`);
    yield* profileCollection(conn, read, kind, signal, limits);
  }

  /** Tables of the database's own schemas (see preview.ts); previews and profiles refuse them unless the daemon opts in. */
  isSystemTable(table: RelationKey): boolean {
    return isSystemTable(table);
  }

  /** Columns holding password hashes or connection secrets (see preview.ts); always masked unless the daemon says otherwise. */
  credentialColumns(table: RelationKey): readonly string[] {
    return credentialColumns(table);
  }

  private limitsOf(conn: MongoClient): CatalogLimits {
    return this.limits.get(conn) ?? {};
  }
}

const kindKey = (t: RelationKey) => `${t.schema}\u0000${t.name}`;
