import { defineConnector, InputError, refuseTableOutOfScope, type ConnectorCall, type ConnectorDefinition, type DatabaseScope } from '@sourced/core';
import type { Connection } from 'mysql2';
import { countRelations, readRelations, readSchemas } from './catalog';
import { mysqlValidationPlan } from './checks';
import { connectSession, readSessionIdentity } from './connect';
import { toConnectError } from './connectFailure';
import { isConnectionError } from './mysqlErrors';
import { credentialColumns, isSystemTable, readPreviewColumns, readPreviewRows } from './preview';
import { readProfile } from './profile';
import { endConnection } from './query';

/**
 * The database the call reads: the active endpoint's (`primary.database`, or the secondary's
 * after a failover), or every database but the server's own when it names none.
 */
function scopeOf(call: ConnectorCall<Connection>): DatabaseScope {
  const secondary = call.activeRole === 'SECONDARY' && call.source.secondary;
  const endpoint = secondary || call.source.primary;
  return { database: endpoint.database || undefined, field: secondary ? 'data_source.secondary.database' : 'data_source.primary.database' };
}

/**
 * The MySQL and MariaDB connector, on the `mysql2` driver, declared with `defineConnector`. One
 * connection per endpoint, plus the extra connections core's endpoint pool opens for the
 * strategy's parallel reads (each statement of a page runs on one of them, one at a time per
 * connection). Every statement goes through the abortable `query` helper, so a cancelled call
 * also stops its statements on the server (KILL QUERY for each connection's session).
 * Databases are discovered as schemas: the one the data source names, or every database the
 * account can see but the server's own when it names none; previews and profiles stay in that
 * scope.
 */
export const mysqlConnector: ConnectorDefinition = defineConnector<Connection>({
  type: 'mysql',
  aliases: ['mariadb'],
  displayName: 'MySQL / MariaDB',
  description: 'MySQL 5.7 and later, MariaDB 10.3 and later (and compatible servers), through the mysql2 driver',
  defaultPort: 3306,
  sessions: ({ context }) => ({
    /** Opens one connection and applies the session settings; failures become core's semantic errors with a hint. */
    async open(args, signal) {
      if (!args.user) {
        throw new InputError([{ field: 'data_source.credentials.username', description: 'is required for MySQL' }]);
      }
      try {
        return await connectSession(args, signal, context.logger);
      } catch (error) {
        throw toConnectError(error, args);
      }
    },
    /** Ends the connection; never throws (see query.ts). */
    close: endConnection,
    /** Socket errors, mysql2's lost-connection and closed-state errors, the server's shutdown/killed errors (see mysqlErrors.ts). */
    isConnectionError,
    /** Who answered, in one statement after the session settings (see connect.ts). */
    identify: readSessionIdentity,
  }),
  /** resolve-credentials, dns, tcp, tls, authenticate, server-version, privileges, metadata-read, latency. */
  checks: (call) => mysqlValidationPlan(call),
  catalog: (call) => ({
    /** The databases in scope that pass the filter, with their routines and sequences when asked (see catalog.ts). */
    listSchemas: (conn, filter, signal, objects, parallel) => readSchemas(conn, filter, signal, scopeOf(call).database, objects, parallel),
    /** One page of relations with their columns, keys and indexes, set-based (see catalog.ts). */
    listRelations: (conn, page, signal, parallel) => readRelations(conn, page, signal, parallel, scopeOf(call).database),
    /** How many relations pass the filter after the cursor, one query (see catalog.ts). */
    countEntities: (conn, filter, after, signal) => countRelations(conn, filter, after, signal, scopeOf(call).database),
  }),
  preview: (call) => ({
    /** The table in information_schema, refused when outside the database the data source names. */
    previewColumns(conn, table, columns, signal) {
      refuseTableOutOfScope(table, scopeOf(call), 'mysql');
      return readPreviewColumns(conn, table, columns, signal);
    },
    /** At most `read.limit` rows, each value rendered by its column's type (see preview.ts). */
    previewRows: readPreviewRows,
    /** Tables of the server's own databases (see preview.ts). */
    isSystemTable,
    /** Columns holding credential material (see preview.ts). */
    credentialColumns,
  }),
  /** STATISTICS from the server's own statistics, SAMPLE from a bounded sample (see profile.ts). */
  profile: { profileTable: readProfile },
});
