import { defineConnector, InputError, type ConnectorDefinition } from '@sourced/core';
import type { Client } from 'pg';
import { KeyWindow, readRelations, readSchemas } from './catalog';
import { addSchemaObjects } from './catalogSchemaObjects';
import { postgresValidationPlan } from './checks';
import { connectClient, sessionIdentity } from './connect';
import { toConnectError } from './connectFailure';
import { isConnectionError, isNotPopulated, notPopulatedError } from './pgErrors';
import { credentialColumns, isSystemTable, readPreviewColumns, readPreviewRows } from './preview';
import { profileTable } from './profile';
import { endClient } from './query';

/**
 * The PostgreSQL connector, on the `pg` driver, declared with `defineConnector`: one
 * `pg.Client` per endpoint (core's endpoint pool holds them, fails over between a HYBRID
 * primary and secondary and opens up to the strategy's concurrency - 1 more to the active
 * endpoint for parallel reads, within the daemon's per-endpoint connection limit). Every
 * statement goes through the abortable `query` helper, so a cancelled call also cancels its
 * statement on the server. Discovery needs PostgreSQL 12 or later.
 */
export const postgresConnector: ConnectorDefinition = defineConnector<Client>({
  type: 'postgres',
  aliases: ['postgresql', 'pg'],
  displayName: 'PostgreSQL',
  description: 'PostgreSQL 12 and later (and compatible servers), through the pg driver',
  defaultPort: 5432,
  sessions: ({ context }) => ({
    /** Opens and prepares one client; failures become core's semantic errors with a hint. */
    async open(args, signal) {
      if (!args.user) {
        throw new InputError([{ field: 'data_source.credentials.username', description: 'is required for PostgreSQL' }]);
      }
      try {
        return (await connectClient(args, signal, context.logger)).client;
      } catch (error) {
        throw toConnectError(error, args);
      }
    },
    /** Ends the client (Terminate, then the socket after a short wait); never throws. */
    close: endClient,
    /** Socket errors, pg's closed-connection errors, SQLSTATE class 08 and 57P01-57P03. */
    isConnectionError,
    /** Read while the session was prepared (one round trip with the session settings). */
    identify: (conn) => Promise.resolve(sessionIdentity(conn)),
  }),
  /** resolve-credentials, dns, tcp, tls, authenticate, server-version, privileges, metadata-read, latency. */
  checks: (call) => postgresValidationPlan(call),
  catalog: () => {
    /** Relation keys read ahead of the pages (names only), for the call. */
    const keys = new KeyWindow();
    return {
      /**
       * One query over pg_namespace, the filter pushed down; when asked for the schema-level
       * objects, one query each for sequences, routines and types of those schemas (catalogSchemaObjects.ts).
       */
      listSchemas: async (conn, filter, signal, objects, parallel) => {
        const schemas = await readSchemas(conn, filter, signal);
        return objects ? addSchemaObjects(conn, schemas, objects, signal, parallel) : schemas;
      },
      /**
       * Five queries per page whatever its size (relations, then columns, constraints with
       * checks, indexes with their details, and the triggers of the relations that have any,
       * by oid, at once when the strategy gives parallel connections), plus one query of keys
       * per ten pages (catalog.ts). When the engine names the next page, its queries start as
       * soon as this page's have answered, while this one is mapped and sent (`readsAhead`).
       */
      listRelations: (conn, page, signal, parallel) => readRelations(conn, page, signal, parallel, keys),
      readsAhead: true,
      /** One scan of pg_class with the page query's filter, which reads the first window of keys too. */
      countEntities: (conn, filter, after, signal) => keys.count(conn, filter, after, signal),
    };
  },
  preview: {
    /** The relation by exact schema and name in pg_class, its columns from pg_attribute (see preview.ts). */
    previewColumns: readPreviewColumns,
    /** A read-only transaction: the catalog names again, then one SELECT ... LIMIT $1 read as text and rendered by type. */
    async previewRows(conn, read, signal) {
      try {
        return await readPreviewRows(conn, read, signal);
      } catch (error) {
        // A materialized view created WITH NO DATA: the caller's to fix (refresh it), not INTERNAL.
        if (isNotPopulated(error)) throw notPopulatedError(read.table, error);
        throw error;
      }
    },
    /** Tables of the database's own schemas (see preview.ts); previews and profiles refuse them unless the daemon opts in. */
    isSystemTable,
    /** Columns holding password hashes or connection secrets (see preview.ts); always masked unless the daemon says otherwise. */
    credentialColumns,
  },
  /**
   * A read-only transaction (see profile.ts). STATISTICS: pg_class, pg_attribute and one
   * pg_stats query, nothing reads the table. SAMPLE: at most `read.sampleRows` rows through
   * TABLESAMPLE SYSTEM ... LIMIT n, one set-based statement per column over that sample.
   */
  profile: { profileTable },
});
