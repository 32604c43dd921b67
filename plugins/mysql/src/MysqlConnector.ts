import {
  LocationAwareConnector,
  InputError,
  refuseTableOutOfScope,
  type Cell,
  type DatabaseScope,
  type CompiledFilter,
  type ConnectionArgs,
  type EndpointRole,
  type PreviewColumnInfo,
  type PreviewRead,
  type ProfileItem,
  type ProfileRead,
  type RelationEntity,
  type RelationKey,
  type RelationPage,
  type SchemaEntity,
  type SourceIdentity,
  type ValidationPlan,
} from '@sourced/core';
import type { Connection } from 'mysql2';
import { countRelations, readRelations, readSchemas } from './catalog';
import { mysqlValidationPlan, type MysqlCheckState } from './checks';
import { connectSession, readSessionIdentity } from './connect';
import { toConnectError } from './connectFailure';
import { isConnectionError } from './mysqlErrors';
import { credentialColumns, isSystemTable, readPreviewColumns, readPreviewRows } from './preview';
import { readProfile } from './profile';
import { endConnection } from './query';

/**
 * The MySQL and MariaDB connector, on the `mysql2` driver. One connection per endpoint, plus
 * the extra connections the base class opens for the strategy's parallel reads (each
 * statement of a page runs on one of them, one at a time per connection). Every statement
 * goes through the abortable `query` helper, so a cancelled call also stops its statements
 * on the server (KILL QUERY for each connection's session). Databases are discovered as
 * schemas: the one the data source names, or every database the account can see but the
 * server's own when it names none; previews and profiles stay in that scope.
 */
export class MysqlConnector extends LocationAwareConnector<Connection> {
  /** Opens and prepares one connection; failures become core's semantic errors with a hint. */
  protected override async openConnection(args: ConnectionArgs, signal: AbortSignal): Promise<Connection> {
    if (!args.user) {
      throw new InputError([{ field: 'data_source.credentials.username', description: 'is required for MySQL' }]);
    }
    try {
      return await connectSession(args, signal, this.context.logger);
    } catch (error) {
      throw toConnectError(error, args);
    }
  }

  /** One statement: DATABASE(), USER(), @@port, the server's id, version and start. */
  protected override identifySession(conn: Connection, signal: AbortSignal): Promise<SourceIdentity | undefined> {
    return readSessionIdentity(conn, signal);
  }

  /** COM_QUIT, then the socket after a short wait; never throws. */
  protected override closeConnection(conn: Connection): Promise<void> {
    return endConnection(conn);
  }

  /** Socket errors, mysql2's lost-connection errors, server shutdown and killed connections. */
  override isConnectionError(error: unknown): boolean {
    return isConnectionError(error);
  }

  /** resolve-credentials, dns, tcp, tls, authenticate, server-version, privileges, metadata-read, latency. */
  override validationPlan(_role: EndpointRole): ValidationPlan<MysqlCheckState> {
    return mysqlValidationPlan(this);
  }

  /** One query over information_schema.SCHEMATA, the filter pushed down, within the data source's database. */
  protected override querySchemas(conn: Connection, filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]> {
    return readSchemas(conn, filter, signal, this.scope().database);
  }

  /** A keyset query for the page, then one query per kind restricted to its relations, spread over `parallel` too. */
  protected override queryRelations(conn: Connection, page: RelationPage, signal: AbortSignal, parallel: readonly Connection[]): Promise<RelationEntity[]> {
    return readRelations(conn, page, signal, parallel, this.scope().database);
  }

  /** One count over information_schema.TABLES with the page query's filter and keyset. */
  protected override queryCount(conn: Connection, filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number> {
    return countRelations(conn, filter, after, signal, this.scope().database);
  }

  /**
   * The table by exact name from information_schema.TABLES, its columns from COLUMNS
   * (COLUMN_TYPE; `json` for MariaDB's JSON alias). A table outside the data source's
   * database is NOT_FOUND (`TABLE_OUT_OF_SCOPE`) before anything is read; previews and
   * profiles both start here.
   */
  protected override queryPreviewColumns(conn: Connection, table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]> {
    refuseTableOutOfScope(table, this.scope(), 'mysql');
    return readPreviewColumns(conn, table, columns, signal);
  }

  /**
   * The database the active endpoint names (every session is checked to be connected to it),
   * or none: every database the account can see.
   */
  private scope(): DatabaseScope {
    const secondary = this.activeRole === 'SECONDARY' && this.source.secondary;
    const endpoint = secondary || this.source.primary;
    return { database: endpoint.database || undefined, field: secondary ? 'data_source.secondary.database' : 'data_source.primary.database' };
  }

  /** `SELECT <columns> FROM <db>.<table> [ORDER BY <primary key>] LIMIT ?` in a read-only transaction, each value rendered by its type. */
  protected override queryPreviewRows(conn: Connection, read: PreviewRead, signal: AbortSignal): Promise<Cell[][]> {
    return readPreviewRows(conn, read, signal);
  }

  /**
   * STATISTICS: information_schema.TABLES, MariaDB's mysql.column_stats or MySQL 8's
   * COLUMN_STATISTICS, and index cardinality, never the table's rows. SAMPLE: aggregates over
   * `(SELECT … FROM t LIMIT n) s` in a read-only transaction (see ./profile).
   */
  protected override queryProfile(conn: Connection, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
    return readProfile(conn, read, signal);
  }

  /** Tables of the database's own schemas (see preview.ts); previews and profiles refuse them unless the daemon opts in. */
  isSystemTable(table: RelationKey): boolean {
    return isSystemTable(table);
  }

  /** Columns holding password hashes or connection secrets (see preview.ts); always masked unless the daemon says otherwise. */
  credentialColumns(table: RelationKey): readonly string[] {
    return credentialColumns(table);
  }
}
