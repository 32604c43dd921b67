import {
  LocationAwareConnector,
  InputError,
  type CompiledFilter,
  type ConnectionArgs,
  type EndpointRole,
  type RelationEntity,
  type RelationKey,
  type RelationPage,
  type SchemaEntity,
  type ValidationPlan,
  type Cell,
  type PreviewColumnInfo,
  type PreviewRead,
  type ProfileItem,
  type ProfileRead,
  type SourceIdentity,
} from '@sourced/core';
import type { Client } from 'pg';
import { countRelations, KeyWindow, readRelations, readSchemas } from './catalog';
import { postgresValidationPlan, type PostgresCheckState } from './checks';
import { connectClient, sessionIdentity } from './connect';
import { toConnectError } from './connectFailure';
import { isConnectionError, isNotPopulated, notPopulatedError } from './pgErrors';
import { credentialColumns, isSystemTable, readPreviewColumns, readPreviewRows } from './preview';
import { profileTable } from './profile';
import { endClient } from './query';

/**
 * The PostgreSQL connector, on the `pg` driver. One `pg.Client` per endpoint, plus up to
 * the strategy's concurrency - 1 more to the active endpoint for parallel reads (within the
 * daemon's per-endpoint connection limit). Every statement goes through the abortable
 * `query` helper, so a cancelled call also cancels its statement on the server.
 * Discovery needs PostgreSQL 12 or later.
 */
export class PostgresConnector extends LocationAwareConnector<Client> {
  /** Relation keys read ahead of the pages (names only). */
  private readonly keys = new KeyWindow();

  /** Opens and prepares one client; failures become core's semantic errors with a hint. */
  protected override async openConnection(args: ConnectionArgs, signal: AbortSignal): Promise<Client> {
    if (!args.user) {
      throw new InputError([{ field: 'data_source.credentials.username', description: 'is required for PostgreSQL' }]);
    }
    try {
      return (await connectClient(args, signal, this.context.logger)).client;
    } catch (error) {
      throw toConnectError(error, args);
    }
  }

  /** Read while the session was prepared (one round trip with the session settings). */
  protected override identifySession(conn: Client): Promise<SourceIdentity | undefined> {
    return Promise.resolve(sessionIdentity(conn));
  }

  /** Ends the client (Terminate, then the socket after a short wait); never throws. */
  protected override closeConnection(conn: Client): Promise<void> {
    return endClient(conn);
  }

  /** Socket errors, pg's closed-connection errors, SQLSTATE class 08 and 57P01-57P03. */
  override isConnectionError(error: unknown): boolean {
    return isConnectionError(error);
  }

  /** resolve-credentials, dns, tcp, tls, authenticate, server-version, privileges, metadata-read, latency. */
  override validationPlan(_role: EndpointRole): ValidationPlan<PostgresCheckState> {
    return postgresValidationPlan(this);
  }

  /** One query over pg_namespace, the filter pushed down. */
  protected override querySchemas(conn: Client, filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]> {
    return readSchemas(conn, filter, signal);
  }

  /**
   * Four queries per page whatever its size (relations, then columns, constraints and
   * indexes by oid, those three at once when the strategy gives parallel connections), plus
   * one query of keys per ten pages.
   */
  protected override queryRelations(conn: Client, page: RelationPage, signal: AbortSignal, parallel: readonly Client[]): Promise<RelationEntity[]> {
    return readRelations(conn, page, signal, parallel, this.keys);
  }

  /** One count over pg_class with the page query's filter. */
  protected override queryCount(conn: Client, filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number> {
    return countRelations(conn, filter, after, signal);
  }

  /** The relation by exact schema and name in pg_class, its columns from pg_attribute (see preview.ts). */
  protected override queryPreviewColumns(conn: Client, table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]> {
    return readPreviewColumns(conn, table, columns, signal);
  }

  /** A read-only transaction: the catalog names again, then one SELECT ... LIMIT $1 read as text and rendered by type. */
  protected override async queryPreviewRows(conn: Client, read: PreviewRead, signal: AbortSignal): Promise<Cell[][]> {
    try {
      return await readPreviewRows(conn, read, signal);
    } catch (error) {
      // A materialized view created WITH NO DATA: the caller's to fix (refresh it), not INTERNAL.
      if (isNotPopulated(error)) throw notPopulatedError(read.table, error);
      throw error;
    }
  }

  /**
   * A read-only transaction (see profile.ts). STATISTICS: pg_class, pg_attribute and one
   * pg_stats query, nothing reads the table. SAMPLE: at most `read.sampleRows` rows through
   * TABLESAMPLE SYSTEM ... LIMIT n, one set-based statement per column over that sample.
   */
  protected override async *queryProfile(conn: Client, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
    yield* profileTable(conn, read, signal);
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
