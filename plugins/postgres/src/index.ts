/**
 * @sourced/plugin-postgres: the PostgreSQL connector of sourced, on the `pg` driver.
 * Load it as a plugin (the default export) or use {@link postgresConnector} directly.
 */
import { definePlugin, type ConnectorDefinition } from '@sourced/core';
import { PostgresConnector } from './PostgresConnector';

/** The PostgreSQL connector definition: type `postgres`, also `postgresql` and `pg`. */
export const postgresConnector: ConnectorDefinition = {
  type: 'postgres',
  aliases: ['postgresql', 'pg'],
  displayName: 'PostgreSQL',
  description: 'PostgreSQL 12 and later (and compatible servers), through the pg driver',
  defaultPort: 5432,
  capabilities: ['validate', 'discover', 'preview', 'profile'],
  create(source, context) {
    return new PostgresConnector(postgresConnector, source, context);
  },
};

/** The plugin that registers {@link postgresConnector}. */
export default definePlugin({
  id: 'postgres',
  version: '0.1.0',
  sdk: '^1.0.0',
  description: 'PostgreSQL connector: validation checks and set-based catalog discovery',
  register(r) {
    r.registerConnector(postgresConnector);
  },
});

export { PostgresConnector } from './PostgresConnector';
export type { PostgresCheckState } from './checks';
