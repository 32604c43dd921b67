/**
 * The plugin conformance kit against the built-in AWS Secrets Manager provider (aws-sm://), on
 * the Secrets Manager stand-in (the real SDK, SigV4 verified). The data source brings its own
 * keys and points the provider at the stand-in; the slow look-up goes to a second stand-in
 * that holds every answer.
 */
import { randomBytes } from 'node:crypto';
import { DataSource } from '@sourced/api';
import { describeSecretProviderConformance } from '../../sdk/src/testing';
import { SecretsManagerStandIn } from '../harness/aws/SecretsManagerStandIn';
import { registerSecret } from '../support/secretScan';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const REGION = 'eu-west-1';
const HOLD_MS = 10_000;
const key = { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64') };
const value = `conformance-${randomBytes(16).toString('base64url')}`;
registerSecret('the conformance AWS secret key', key.secretAccessKey);
registerSecret('the conformance secret value', value);

/** A data source whose cloud_config carries the keys, with the provider pointed at `endpoint`. */
const source = (endpoint: string) =>
  DataSource.fromPartial({
    type: 'postgres',
    primary: { host: 'db.conformance.invalid', port: 5432, database: 'app' },
    cloudConfig: {
      awsRegion: REGION,
      awsAccessKeyId: { source: { $case: 'inlineValue', value: key.accessKeyId } },
      awsSecretAccessKey: { source: { $case: 'inlineValue', value: key.secretAccessKey } },
    },
    connectionProperties: { aws_sm_endpoint: endpoint },
  });

let store: SecretsManagerStandIn | undefined;
let slowStore: SecretsManagerStandIn | undefined;

describeSecretProviderConformance({
  plugin: '@sourced/plugin-aws',
  scheme: 'aws-sm',
  async setup() {
    store = await SecretsManagerStandIn.start({ region: REGION, keys: [key] });
    slowStore = await SecretsManagerStandIn.start({ region: REGION, keys: [key] });
    store.putSecret('conformance/db-password', value);
    slowStore.putSecret('conformance/slow', value);
    slowStore.setDelay(HOLD_MS);
    return {
      existing: { reference: `aws-sm://${REGION}/conformance/db-password`, value },
      missing: `aws-sm://${REGION}/conformance/not-there`,
      malformed: `aws-sm://${REGION}/conformance/db-password?versionStage=AWSCURRENT&versionId=00000000-0000-0000-0000-000000000000`,
      slow: { reference: `aws-sm://${REGION}/conformance/slow`, holdMs: HOLD_MS, dataSource: source(slowStore.endpoint) },
      dataSource: source(store.endpoint),
      secrets: [key.secretAccessKey],
    };
  },
  async teardown() {
    await Promise.all([store?.stop(), slowStore?.stop()]);
  },
});
