/**
 * @sourced/plugin-mysql: the MySQL and MariaDB connector of sourced, on the `mysql2` driver.
 * Load it as a plugin (the default export) or use {@link mysqlConnector} directly.
 */
import { definePlugin } from '@sourced/core';
import { mysqlConnector } from './MysqlConnector';

/** The plugin that registers {@link mysqlConnector}. */
export default definePlugin({
  id: 'mysql',
  version: '0.1.0',
  sdk: '^1.3.0',
  description: 'MySQL and MariaDB connector: validation checks, set-based information_schema discovery, table preview and profile',
  register(r) {
    r.registerConnector(mysqlConnector);
  },
});

/** The MySQL connector definition: type `mysql`, also `mariadb`. */
export { mysqlConnector } from './MysqlConnector';
export type { MysqlCheckState } from './checks';
export { ed25519PublicKey } from './ed25519';
