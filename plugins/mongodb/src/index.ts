/**
 * @sourced/plugin-mongodb: the MongoDB connector of sourced, on the official driver.
 * Load it as a plugin (the default export) or use {@link mongodbConnector} directly.
 */
import { definePlugin, type ConnectorDefinition } from '@sourced/core';
import { MongoConnector } from './MongoConnector';

/** The MongoDB connector definition: type `mongodb`, also `mongo`. */
export const mongodbConnector: ConnectorDefinition = {
  type: 'mongodb',
  aliases: ['mongo'],
  displayName: 'MongoDB',
  description: 'MongoDB 4.2 and later (standalone, replica sets, sharded clusters, mongodb+srv), through the official driver',
  defaultPort: 27017,
  capabilities: ['validate', 'discover', 'preview', 'profile'],
  create(source, context) {
    return new MongoConnector(mongodbConnector, source, context);
  },
};

/** The plugin that registers {@link mongodbConnector}. */
export default definePlugin({
  id: 'mongodb',
  version: '0.1.0',
  sdk: '^1.1.0',
  description: 'MongoDB connector: validation checks, catalog discovery, schema inference by sampling, previews and profiles',
  register(r) {
    r.registerConnector(mongodbConnector);
  },
});

export { MongoConnector } from './MongoConnector';
export type { MongoCheckState } from './checks';
export { classifyBsonValue } from './bsonTypes';
