/**
 * The plugin conformance kit against the built-in MongoDB connector, on the MongoDB of the
 * global setup (the stand-in unless SOURCED_TEST_MONGODB_URL is set). Sessions are not counted
 * from the server's side here (the suites share one user and application name, so other files
 * running at once would blur the count); the kit checks the daemon's connection budget instead.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { describeConnectorConformance } from '../../sdk/src/testing';
import { mongoSource } from '../harness/mongo/sources';
import { freePort } from '../harness/ports';
import { registerSecret } from '../support/secretScan';

const mongo = inject('mongodb');
const wrong = `wrong-Pa55-${randomBytes(9).toString('hex')}`;
registerSecret('the conformance wrong password', wrong);

describeConnectorConformance({
  plugin: '@sourced/plugin-mongodb',
  type: 'mongodb',
  source: () => ({ dataSource: mongoSource(mongo), secrets: [mongo.password] }),
  wrongPassword: () => ({ dataSource: mongoSource(mongo, {}, wrong), secrets: [wrong, mongo.password] }),
  async unreachable() {
    const port = await freePort();
    return { dataSource: mongoSource(mongo, { primary: { host: '127.0.0.1', port, database: mongo.database } }), secrets: [mongo.password] };
  },
});
