import type { TableGuard } from '../contract/capabilities';
import type { DataSource } from '../datasource/DataSource';
import type { RelationKey } from '../discovery/entities';
import { NotAllowedError } from '../errors';
import { matchesAnyGlob } from '../util/glob';
/** What previews and profiles do with the database's own tables and credential columns (the preview settings' fields of the same names). */
export interface SystemTableSettings {
  /** Whether tables of the database's own schemas may be previewed and profiled. */
  allowSystemSchemas?: boolean;
  /** Whether the connector's credential columns are masked whatever the globs say (absent: true). */
  maskCredentialColumns?: boolean;
}

/** What the guards need of a connector: its source's type, and its {@link TableGuard}. */
type GuardedConnector = TableGuard & { readonly source: Pick<DataSource, 'type'> };

/**
 * Refuses a table of the database's own schemas (the connector tells which) unless the
 * daemon opted in: `NotAllowedError` (PERMISSION_DENIED) with the reason
 * `SYSTEM_TABLE_NOT_ALLOWED`, naming the setting. A caller cannot change this, only an
 * operator, so it is not an argument error.
 */
export function refuseSystemTable(connector: GuardedConnector, table: RelationKey, settings: SystemTableSettings, what: 'preview' | 'profile'): void {
  if (settings.allowSystemSchemas || !connector.isSystemTable?.(table)) return;
  throw new NotAllowedError(
    'SYSTEM_TABLE_NOT_ALLOWED',
    `this daemon does not ${what} ${table.schema}.${table.name}: it belongs to the ${connector.source.type} server's own system schemas, which can hold credentials. ` +
      "An operator can allow it with preview.allowSystemSchemas: true in the daemon's config (credential columns stay masked)",
    { metadata: { schema: table.schema, table: table.name, setting: 'preview.allowSystemSchemas' } },
  );
}

/**
 * Whether a column (or nested field) is masked: the settings' name and type globs
 * (case-insensitive, matched in linear time), or one of the connector's credential columns
 * of the table.
 */
export function columnMasker(
  connector: GuardedConnector,
  table: RelationKey,
  settings: SystemTableSettings & { maskColumns: readonly string[]; maskTypes: readonly string[] },
): (name: string, type?: string) => boolean {
  const names = settings.maskColumns.map((g) => g.toLowerCase());
  const types = settings.maskTypes.map((g) => g.toLowerCase());
  const credentials = new Set(settings.maskCredentialColumns === false ? [] : (connector.credentialColumns?.(table) ?? []).map((c) => c.toLowerCase()));
  return (name, type) => {
    const lower = name.toLowerCase();
    return credentials.has(lower) || matchesAnyGlob(lower, names) || (type !== undefined && matchesAnyGlob(type.toLowerCase(), types));
  };
}
