import type { RelationKey } from '../discovery/entities';
import { NotFoundError } from '../errors';

/**
 * The scope of a data source whose schemas are databases (MySQL/MariaDB, MongoDB): the
 * database its endpoint names, or every database the account can see when it names none.
 * Discovery lists only what is in scope, and a preview or profile of a table outside it is
 * refused by {@link refuseTableOutOfScope} before anything is read.
 */
export interface DatabaseScope {
  /** The database the data source names; undefined or empty: every database the account can see. */
  database?: string;
  /** Where the database was named in the request, for the hint (`data_source.primary.database`). */
  field: string;
}

/** Whether a table's schema (a database) is in the scope (compared exactly, as the catalog spells it). */
export function inDatabaseScope(table: RelationKey, scope: DatabaseScope): boolean {
  return !scope.database || table.schema === scope.database;
}

/**
 * Refuses a table outside the data source's database: NOT_FOUND with the reason
 * `TABLE_OUT_OF_SCOPE`, the database and `field: table.schema` in the metadata, and a hint.
 * NOT_FOUND rather than PERMISSION_DENIED: for this data source the table does not exist, and
 * whether it exists elsewhere on the server is not said (nothing is asked of the server).
 */
export function refuseTableOutOfScope(table: RelationKey, scope: DatabaseScope, sourceType: string): void {
  if (inDatabaseScope(table, scope)) return;
  const database = scope.database ?? '';
  const hint = `to read ${table.schema}.${table.name}, use a data source that names database "${table.schema}" in ${scope.field}, or one that names none (every database the account can see)`;
  throw new NotFoundError(
    'TABLE_OUT_OF_SCOPE',
    `the ${sourceType} data source names database "${database}", so only its tables can be previewed or profiled; ${table.schema}.${table.name} is not one of them (${hint})`,
    { metadata: { schema: table.schema, table: table.name, database, field: 'table.schema', hint } },
  );
}
