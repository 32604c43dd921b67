/**
 * A fuzz pass over the bytes of envelopes made by the `aws-kms` key provider (issue 20), through a
 * daemon and the KMS stand-in (SigV4 verified, encryption context enforced): every mutation —
 * changed bytes, cuts, trailing bytes, spliced runs, from a fixed seed — is refused with a caller
 * status (INVALID_ARGUMENT, PERMISSION_DENIED or FAILED_PRECONDITION), never INTERNAL or a crash,
 * and the daemon keeps serving. The `local` provider's pass is in encryption.daemon.test.ts, the
 * Azure one in azure.keys.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataSource, SecretServiceClient, type EncryptSecretResponse } from '@sourced/api';
import { collect, expectFailure, startTestDaemon as startSdkTestDaemon, type TestDaemon } from '../sdk/src/testing';
import { KmsStandIn } from './harness/aws/KmsStandIn';
import { mutatedEnvelopes } from './support/envelopeFuzz';
import { captureSource, captureText, registerSecret, spansText } from './support/secretScan';
import { check } from './support/validation';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

describe('fuzz over aws-kms envelopes through the daemon', () => {
  const pg = inject('postgres');
  const access = { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64') };
  let kms: KmsStandIn;
  let t: TestDaemon;
  let secrets: SecretServiceClient;
  const source = (envelope: string) =>
    DataSource.fromPartial({
      id: 'orders-db',
      type: 'postgres',
      primary: { host: pg.host, port: pg.port, database: pg.database },
      credentials: { username: pg.user, password: { source: { $case: 'encrypted', value: envelope } } },
    });

  beforeAll(async () => {
    registerSecret('AWS secret access key', access.secretAccessKey);
    kms = await KmsStandIn.start({ keys: [access] });
    kms.createKey('alias/sourced-fuzz');
    process.env.AWS_ACCESS_KEY_ID = access.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = access.secretAccessKey;
    t = await startSdkTestDaemon({
      builtins: true,
      config: { pluginSettings: { aws: { kms: { keyId: 'alias/sourced-fuzz', region: kms.region, endpoint: kms.endpoint } } } } as never,
    });
    captureSource('daemon log lines', () => t.logs.join('\n'));
    captureSource('exported spans', () => spansText(t.spans.getFinishedSpans()));
    secrets = new SecretServiceClient(t.address, credentials.createInsecure());
  });
  afterAll(async () => {
    secrets?.close();
    await t?.stop();
    await kms?.stop();
  });

  it('mutated envelopes are always refused with a caller status, and the daemon keeps serving', async () => {
    const good = await new Promise<EncryptSecretResponse>((resolve, reject) =>
      secrets.encryptSecret(
        { plaintext: pg.password, context: { dataSourceId: 'orders-db', field: 'credentials.password' }, keyProvider: 'aws-kms', keyId: '' },
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    const allowed = new Set([status.INVALID_ARGUMENT, status.PERMISSION_DENIED, status.FAILED_PRECONDITION]);
    const codes = new Map<string, number>();
    for (const { index, envelope } of mutatedEnvelopes(good.envelope, 80, 4242)) {
      const error = await expectFailure(
        collect(
          t.dataSources.discoverDataSource({ dataSource: source(envelope), strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 1, maxDurationMs: 0 }),
        ),
      );
      captureText('error statuses', `${error.code} ${error.message}`);
      expect(allowed.has(error.code), `mutation ${index}: ${status[error.code]} ${error.message}`).toBe(true);
      codes.set(status[error.code], (codes.get(status[error.code]) ?? 0) + 1);
    }
    expect([...codes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(70);
    expect(check(await t.validate({ dataSource: source(good.envelope) }), 'authenticate').status).toBe(1);
  });
});
