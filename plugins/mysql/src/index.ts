/**
 * @sourced/plugin-mysql: the MySQL and MariaDB connector of sourced, on the `mysql2` driver.
 * Load it as a plugin (the default export) or use {@link mysqlConnector} directly.
 */
import { definePlugin, type ConnectorDefinition } from '@sourced/core';
import { MysqlConnector } from './MysqlConnector';

/** The MySQL connector definition: type `mysql`, also `mariadb`. */
export const mysqlConnector: ConnectorDefinition = {
  type: 'mysql',
  aliases: ['mariadb'],
  displayName: 'MySQL / MariaDB',
  description: 'MySQL 5.7 and later, MariaDB 10.3 and later (and compatible servers), through the mysql2 driver',
  defaultPort: 3306,
  capabilities: ['validate', 'discover', 'preview', 'profile'],
  create(source, context) {
    return new MysqlConnector(mysqlConnector, source, context);
  },
};

/** The plugin that registers {@link mysqlConnector}. */
export default definePlugin({
  id: 'mysql',
  version: '0.1.0',
  sdk: '^1.0.0',
  description: 'MySQL and MariaDB connector: validation checks, set-based information_schema discovery, table preview and profile',
  register(r) {
    r.registerConnector(mysqlConnector);
  },
});

export { MysqlConnector } from './MysqlConnector';
export type { MysqlCheckState } from './checks';
export { ed25519PublicKey } from './ed25519';
