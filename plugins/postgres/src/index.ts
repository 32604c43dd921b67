/**
 * @sourced/plugin-postgres: the PostgreSQL connector of sourced, on the `pg` driver.
 * Load it as a plugin (the default export) or use {@link postgresConnector} directly.
 */
import { definePlugin } from '@sourced/core';
import { postgresConnector } from './PostgresConnector';

/** The plugin that registers {@link postgresConnector}. */
export default definePlugin({
  id: 'postgres',
  version: '0.1.0',
  sdk: '^1.3.0',
  description: 'PostgreSQL connector: validation checks and set-based catalog discovery',
  register(r) {
    r.registerConnector(postgresConnector);
  },
});

/** The PostgreSQL connector definition: type `postgres`, also `postgresql` and `pg`. */
export { postgresConnector } from './PostgresConnector';
export type { PostgresCheckState } from './checks';
