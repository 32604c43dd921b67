/**
 * @sourced/plugin-mongodb: the MongoDB connector of sourced, on the official driver.
 * Load it as a plugin (the default export) or use {@link mongodbConnector} directly.
 */
import { definePlugin } from '@sourced/core';
import { mongodbConnector } from './MongoConnector';

/** The plugin that registers {@link mongodbConnector}. */
export default definePlugin({
  id: 'mongodb',
  version: '0.1.0',
  sdk: '^1.3.0',
  description: 'MongoDB connector: validation checks, catalog discovery, schema inference by sampling, previews and profiles',
  register(r) {
    r.registerConnector(mongodbConnector);
  },
});

/** The MongoDB connector definition: type `mongodb`, also `mongo`. */
export { mongodbConnector } from './MongoConnector';
export type { MongoCheckState } from './checks';
export { classifyBsonValue } from './bsonTypes';
