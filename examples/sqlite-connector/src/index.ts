/**
 * sourced-plugin-sqlite: a SQLite connector for sourced, on better-sqlite3. An example of a
 * third-party plugin: it imports only `@sourced/plugin-sdk`.
 *
 * The operator names the folder whose files it may open:
 *
 * ```yaml
 * plugins: [/opt/sourced/plugins/sourced-plugin-sqlite/dist/index.js]
 * pluginSettings:
 *   sqlite: { root: /srv/sqlite }
 * ```
 *
 * and callers name a file in it: `primary.database: shop.db` (relative to the root).
 */
import { definePlugin, type ConnectorDefinition } from '@sourced/plugin-sdk';
import { SqliteConnector } from './SqliteConnector';
import { parseSettings, type ResolvedSqliteSettings } from './settings';

/** The connector definition for a root folder. */
export function sqliteConnector(settings: ResolvedSqliteSettings): ConnectorDefinition {
  return {
    type: 'sqlite',
    aliases: ['sqlite3'],
    displayName: 'SQLite',
    description: 'SQLite 3 database files inside one folder, read-only, through better-sqlite3',
    defaultPort: 0,
    addressing: 'file',
    capabilities: ['validate', 'discover', 'preview', 'profile'],
    create: (source, context) => new SqliteConnector(source, context, settings),
  };
}

export default definePlugin({
  id: 'sqlite',
  version: '1.0.0',
  sdk: '^1.0.0',
  description: 'SQLite connector: database files in one folder, read-only (better-sqlite3)',
  register(registrar) {
    const settings = parseSettings(registrar.settings);
    registrar.registerConnector(sqliteConnector(settings));
    registrar.logger.info('serving SQLite files of one folder', { root: settings.root });
  },
});

export { SqliteConnector } from './SqliteConnector';
export type { SqliteCheckState } from './checks';
export type { ResolvedSqliteSettings, SqliteSettings } from './settings';
