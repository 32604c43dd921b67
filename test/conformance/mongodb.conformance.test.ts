/**
 * The plugin conformance kit against the built-in MongoDB connector, on the MongoDB of the
 * global setup (the stand-in unless SOURCED_TEST_MONGODB_URL is set). Sessions are not counted
 * from the server's side here (the suites share one user and application name, so other files
 * running at once would blur the count); the kit checks the daemon's connection budget instead.
 * The type fixture is a database of its own (on a stand-in of its own, or loaded into the real
 * server), read by a user of its own.
 */
import { randomBytes } from 'node:crypto';
import { Binary, Decimal128, Double, Int32, Long, ObjectId } from 'bson';
import { inject } from 'vitest';
import { describeConnectorConformance, type ExpectedCell } from '../../sdk/src/testing';
import { loadMongoDataset } from '../fixtures/mongodb/load';
import type { MongoDataset } from '../harness/mongo/dataset';
import { startMongoStandIn, type MongoStandIn } from '../harness/mongo/MongoStandIn';
import { mongoSource } from '../harness/mongo/sources';
import { freePort } from '../harness/ports';
import { registerSecret } from '../support/secretScan';

const mongo = inject('mongodb');
const wrong = `wrong-Pa55-${randomBytes(9).toString('hex')}`;
registerSecret('the conformance wrong password', wrong);

const TYPES_DB = 'sourced_conformance_types';
const typesPassword = `Pa55-${randomBytes(9).toString('base64url')}`;
registerSecret('the conformance type fixture password', typesPassword);
const TYPES: MongoDataset = {
  databases: [
    {
      name: TYPES_DB,
      collections: [
        {
          name: 'types',
          type: 'collection',
          documents: [
            {
              _id: new Int32(1),
              i: new Int32(2147483647),
              l: Long.fromString('9223372036854775807'),
              dbl: new Double(1.5),
              dec: Decimal128.fromString('12345678901234567890.0123456789'),
              s: 'héllo ☃',
              b: true,
              bin: new Binary(Buffer.from([0, 255, 16])),
              d: new Date('-000044-03-15T00:00:00.000Z'),
              oid: new ObjectId('65000000000000000000abcd'),
              arr: [new Int32(1), 'x'],
              doc: { a: { b: null } },
              nul: null,
            },
            {
              _id: new Int32(2),
              i: new Int32(-2147483648),
              l: Long.fromString('-9223372036854775808'),
              dbl: new Double(Number.NaN),
              dec: Decimal128.fromString('-0.0000000001'),
              s: '',
              b: false,
              bin: new Binary(Buffer.alloc(0)),
              d: new Date(0),
              oid: new ObjectId('000000000000000000000000'),
              arr: [],
              doc: {},
            },
            { _id: new Int32(3) },
          ],
        },
      ],
    },
  ],
  roles: [],
  users: [{ user: 'sourced_conformance_types', db: 'admin', password: typesPassword, roles: [{ role: 'read', db: TYPES_DB }] }],
};
const TYPE_COLUMNS = ['_id', 'i', 'l', 'dbl', 'dec', 's', 'b', 'bin', 'd', 'oid', 'arr', 'doc', 'nul'];
/** Each field a canonical Extended JSON cell; a missing or null field a null cell. */
const j = (value: string): ExpectedCell => ({ kind: 'json', value });
const NULL = { kind: 'null' } as const;
const TYPE_ROWS: ExpectedCell[][] = [
  [
    j('{"$numberInt":"1"}'),
    j('{"$numberInt":"2147483647"}'),
    j('{"$numberLong":"9223372036854775807"}'),
    j('{"$numberDouble":"1.5"}'),
    j('{"$numberDecimal":"12345678901234567890.0123456789"}'),
    j('"héllo ☃"'),
    j('true'),
    j('{"$binary":{"base64":"AP8Q","subType":"00"}}'),
    j('{"$date":{"$numberLong":"-63549360000000"}}'), // 15 March 44 BC
    j('{"$oid":"65000000000000000000abcd"}'),
    j('[{"$numberInt":"1"},"x"]'),
    j('{"a":{"b":null}}'),
    NULL,
  ],
  [
    j('{"$numberInt":"2"}'),
    j('{"$numberInt":"-2147483648"}'),
    j('{"$numberLong":"-9223372036854775808"}'),
    j('{"$numberDouble":"NaN"}'),
    j('{"$numberDecimal":"-1E-10"}'),
    j('""'),
    j('false'),
    j('{"$binary":{"base64":"","subType":"00"}}'),
    j('{"$date":{"$numberLong":"0"}}'),
    j('{"$oid":"000000000000000000000000"}'),
    j('[]'),
    j('{}'),
    NULL,
  ],
  [j('{"$numberInt":"3"}'), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL],
];

let typesStandIn: MongoStandIn | undefined;
let typesServer = { ...mongo, user: 'sourced_conformance_types', password: typesPassword, database: TYPES_DB };

describeConnectorConformance({
  plugin: '@sourced/plugin-mongodb',
  type: 'mongodb',
  async source() {
    if (mongo.standIn) {
      typesStandIn = await startMongoStandIn({ dataset: TYPES });
      typesServer = { ...typesServer, host: typesStandIn.host, port: typesStandIn.port };
    } else await loadMongoDataset(mongo.url, TYPES);
    return { dataSource: mongoSource(mongo), secrets: [mongo.password, typesPassword] };
  },
  typeFixture: () => ({ dataSource: mongoSource(typesServer), table: { schema: TYPES_DB, name: 'types' }, columns: TYPE_COLUMNS, rows: TYPE_ROWS }),
  wrongPassword: () => ({ dataSource: mongoSource(mongo, {}, wrong), secrets: [wrong, mongo.password] }),
  async unreachable() {
    const port = await freePort();
    return { dataSource: mongoSource(mongo, { primary: { host: '127.0.0.1', port, database: mongo.database } }), secrets: [mongo.password] };
  },
  teardown: () => typesStandIn?.stop(),
});
