import {
  abortedErrorFrom,
  throwIfAborted,
  UnavailableError,
  type CompiledFilter,
  type Cell,
  type Connector,
  type ConnectorContext,
  type DataSource,
  type Endpoint,
  type EndpointRole,
  type PreviewColumnInfo,
  type PreviewRead,
  type ProfileItem,
  type ProfileRead,
  type RelationEntity,
  type RelationKey,
  type RelationPage,
  type SchemaEntity,
  type SessionSettings,
  type ValidationPlan,
} from '@sourced/plugin-sdk';
import { SqliteCatalog } from './catalog';
import { sqliteValidationPlan, type SqliteCheckState } from './checks';
import { DEFAULT_BUSY_TIMEOUT_MS, openDatabase, type SqliteDatabase } from './database';
import { confineToRoot, type ConfinedPath } from './paths';
import { pickColumns, previewRows, tableColumns } from './preview';
import { profileTable } from './profile';
import type { ResolvedSqliteSettings } from './settings';

/**
 * The SQLite connector: one read-only better-sqlite3 connection per call, to a file inside
 * the plugin's root folder. It implements `Connector` directly: a file has no host, no
 * credentials, no TLS and no standby, which is what `LocationAwareConnector` manages for
 * network databases.
 *
 * better-sqlite3 is synchronous: a statement cannot be interrupted once it runs. Each page is
 * a handful of small catalog queries, with a turn of the event loop (and a look at the
 * signal) between them, so a cancelled discovery stops within one query.
 */
export class SqliteConnector implements Connector {
  readonly activeRole: EndpointRole = 'PRIMARY';
  /** The file, confined to the root (throws an InputError naming `data_source.primary.database` otherwise). */
  readonly file: ConfinedPath;
  private db: SqliteDatabase | undefined;
  private catalog: SqliteCatalog | undefined;

  constructor(
    readonly source: DataSource,
    readonly context: ConnectorContext,
    readonly settings: ResolvedSqliteSettings,
  ) {
    this.file = confineToRoot(settings.root, source.primary.database ?? '');
  }

  endpoint(_role: EndpointRole): Endpoint & { port: number } {
    return { host: '', port: 0, database: this.source.primary.database };
  }

  /** file, open, sqlite-version, journal-mode, quick-check, metadata-read. */
  validationPlan(_role: EndpointRole): ValidationPlan<SqliteCheckState> {
    return sqliteValidationPlan(this.file, this.settings);
  }

  /**
   * Opens the file read-only. The strategy's statement time limit bounds how long a statement
   * waits for a writer's lock (SQLite's busy timeout); SQLite has no limit on a running statement.
   */
  async initialize(signal: AbortSignal, settings?: SessionSettings): Promise<void> {
    throwIfAborted(signal);
    if (this.db) return;
    const busy = settings?.statementTimeoutMs ? Math.min(settings.statementTimeoutMs, DEFAULT_BUSY_TIMEOUT_MS) : DEFAULT_BUSY_TIMEOUT_MS;
    this.db = openDatabase(this.file, busy);
    this.catalog = new SqliteCatalog(this.db, this.context.logger);
  }

  canFailover(): boolean {
    return false;
  }

  async failover(_reason: string, _signal: AbortSignal): Promise<EndpointRole> {
    throw new UnavailableError('FAILOVER_UNSUPPORTED', 'a SQLite source is one file: there is no standby to fail over to');
  }

  /** A file does not drop a connection: no error means "reconnect elsewhere". */
  isConnectionError(_error: unknown): boolean {
    return false;
  }

  async listSchemas(filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]> {
    throwIfAborted(signal);
    return this.open().schemas(filter);
  }

  async listRelations(page: RelationPage, signal: AbortSignal): Promise<RelationEntity[]> {
    throwIfAborted(signal);
    const relations = await this.open().relations(page, signal);
    if (signal.aborted) throw abortedErrorFrom(signal);
    return relations;
  }

  async countEntities(filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number | undefined> {
    throwIfAborted(signal);
    return this.open().count(filter, after);
  }

  /** The columns of a table or view (all when none named), or TABLE_NOT_FOUND / an InputError naming `columns[i]`. */
  async previewColumns(table: RelationKey, columns: readonly string[], signal: AbortSignal): Promise<PreviewColumnInfo[]> {
    throwIfAborted(signal);
    this.open();
    return pickColumns(tableColumns(this.database(), table), columns, table).map(({ name, type }) => ({ name, type }));
  }

  /** The first rows in primary-key order, one cell per column (see `preview.ts` for the kinds). */
  async previewRows(read: PreviewRead, signal: AbortSignal): Promise<Cell[][]> {
    throwIfAborted(signal);
    return previewRows(this.database(), read);
  }

  /** STATISTICS from sqlite_stat1, SAMPLE over every row or the first n (see `profile.ts`). */
  profileTable(read: ProfileRead, signal: AbortSignal): AsyncIterable<ProfileItem> {
    return profileTable(this.database(), read, signal);
  }

  /** SQLite's own tables (`sqlite_schema`, `sqlite_stat1`, `sqlite_sequence`, …): refused unless the daemon opts in. */
  isSystemTable(table: RelationKey): boolean {
    return /^sqlite_/i.test(table.name);
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.catalog = undefined;
    if (db?.open) db.close();
  }

  private database(): SqliteDatabase {
    if (!this.db) throw new Error('the SQLite connector was not initialized');
    return this.db;
  }

  private open(): SqliteCatalog {
    if (!this.catalog) throw new Error('the SQLite connector was not initialized');
    return this.catalog;
  }
}
