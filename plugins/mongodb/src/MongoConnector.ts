import { defineConnector, NotFoundError, refuseTableOutOfScope, type ConnectorCall, type ConnectorDefinition, type RelationKey } from '@sourced/core';
import type { MongoClient } from 'mongodb';
import { countCollections, readCollections, readDatabases, type CatalogLimits } from './catalog';
import { mongoValidationPlan } from './checks';
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

/** The limits of each client's catalog commands, from the arguments it was opened with. */
const limits = new WeakMap<MongoClient, CatalogLimits>();
const limitsOf = (conn: MongoClient): CatalogLimits => limits.get(conn) ?? {};

/** The kind of each previewed namespace (collection, view, timeseries) of a call, from its lookup. */
const kinds = new WeakMap<ConnectorCall<MongoClient>, Map<string, NamespaceKind>>();
function kindsOf(call: ConnectorCall<MongoClient>): Map<string, NamespaceKind> {
  let map = kinds.get(call);
  if (!map) kinds.set(call, (map = new Map<string, NamespaceKind>()));
  return map;
}
const kindKey = (t: RelationKey) => `${t.schema}\u0000${t.name}`;

/** The namespace's kind: the one its preview look-up found, else asked of the server; NOT_FOUND when there is none. */
async function kindOf(call: ConnectorCall<MongoClient>, conn: MongoClient, table: RelationKey, signal: AbortSignal): Promise<NamespaceKind> {
  const kind = kindsOf(call).get(kindKey(table)) ?? (await collectionKind(conn, table, signal, limitsOf(conn)));
  if (kind === undefined)
    throw new NotFoundError('TABLE_NOT_FOUND', `MongoDB has no collection or view "${table.name}" in database "${table.schema}" that this user may see`);
  return kind;
}

/**
 * The MongoDB connector, on the official driver, declared with `defineConnector`. One
 * `MongoClient` per endpoint: a single host with `directConnection`, or a `mongodb+srv` seed
 * list. Its pool gives the strategy's parallel reads, so no further clients are opened for
 * them. Every command carries the call's `AbortSignal` (the driver closes the connection of a
 * command in flight when it fires), and the catalog commands of discovery the strategy's
 * statement time limit as `maxTimeMS` (sampling its own, within that one), so the server stops
 * on its own too; the engine then closes the client, which closes every pooled and monitoring
 * connection.
 */
export const mongodbConnector: ConnectorDefinition = defineConnector<MongoClient>({
  type: 'mongodb',
  aliases: ['mongo'],
  displayName: 'MongoDB',
  description: 'MongoDB 4.2 and later (standalone, replica sets, sharded clusters, mongodb+srv), through the official driver',
  defaultPort: 27017,
  sessions: ({ source, context }) => {
    // Bad MongoDB settings (an unknown auth_mechanism) fail the call before anything connects.
    mongoSettings(source, source.primary.host);
    return {
      /** Opens one client (its pool of at most MAX_POOL_SIZE connections) and remembers its command limits. */
      async open(args, signal) {
        const settings = mongoSettings(source, args.host);
        let client: MongoClient;
        try {
          // mongodb+srv: the seed list comes from the target policy's DNS servers, not the driver's look-up.
          const seeds = settings.srv ? await seedListOf(settings.host, signal, args.targets, settings.authSource !== undefined) : undefined;
          client = await openClient(
            seeds?.url ?? mongoUrl(args, settings),
            { ...mongoClientOptions(args, settings, { authenticate: true, maxPoolSize: MAX_POOL_SIZE }), ...seeds?.options },
            signal,
            args.targets,
            (denied) =>
              context.logger.warn('the target policy refused a connection the MongoDB driver asked for', {
                host: denied.host,
                address: denied.address,
                rule: denied.rule,
              }),
          );
        } catch (error) {
          throw toConnectError(error, args, settings);
        }
        limits.set(client, { maxTimeMS: args.statementTimeoutMs, database: args.database || undefined });
        return client;
      },
      /** Closes the client and every pooled and monitoring connection; never throws. */
      close: closeClient,
      /** Network errors and timeouts, no selectable server, a closed client or pool, shutdowns and step-downs (see mongoErrors.ts). */
      isConnectionError,
    };
  },
  /** resolve-credentials, then the network, server and access checks (see checks.ts). */
  checks: (call) => mongoValidationPlan(call),
  catalog: ({ context }) => ({
    /** The databases that pass the filter (see catalog.ts). */
    listSchemas: (conn, filter, signal) => readDatabases(conn, filter, signal, limitsOf(conn)),
    /** One page of collections, read over the client's pool (at most MAX_POOL_SIZE at once). */
    listRelations: (conn, page, signal) =>
      readCollections(conn, { ...page, concurrency: Math.min(page.concurrency, MAX_POOL_SIZE) }, signal, context.logger, limitsOf(conn)),
    countEntities: (conn, filter, after, signal) => countCollections(conn, filter, after, signal, context.logger, limitsOf(conn), MAX_POOL_SIZE),
    /** The driver pools connections itself: no extra clients for parallel reads. */
    parallelConnections: () => 0,
  }),
  preview: (call) => ({
    async previewColumns(conn, table, columns, signal) {
      // The data source's database only (previews and profiles both start here): NOT_FOUND before any command.
      const secondary = call.activeRole === 'SECONDARY';
      refuseTableOutOfScope(
        table,
        { database: limitsOf(conn).database, field: secondary ? 'data_source.secondary.database' : 'data_source.primary.database' },
        'mongodb',
      );
      const found = await previewColumns(conn, table, columns, signal, limitsOf(conn));
      kindsOf(call).set(kindKey(table), found.kind);
      return found.columns;
    },
    async previewRows(conn, read, signal) {
      return previewRows(conn, read, await kindOf(call, conn, read.table, signal), signal, limitsOf(conn));
    },
    /** `admin`, `config`, `local` and `system.*` collections (see preview.ts). */
    isSystemTable,
    /** Fields holding credentials (see preview.ts). */
    credentialColumns,
  }),
  profile: (call) => ({
    async *profileTable(conn, read, signal) {
      yield* profileCollection(conn, read, await kindOf(call, conn, read.table, signal), signal, limitsOf(conn));
    },
  }),
});
