/**
 * The plugin conformance kit against the built-in secret providers every daemon has: env://
 * (variables of the daemon's process) and file:// (files on the daemon's host). Neither has a
 * reference syntax to refuse or a look-up that can be held, so the fixtures have no malformed
 * or slow reference.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinSecretsPlugin } from '@sourced/core';
import { describeSecretProviderConformance } from '../../sdk/src/testing';
import { registerSecret } from '../support/secretScan';

const suffix = randomBytes(4).toString('hex').toUpperCase();
const ENV_NAME = `SOURCED_SECRET_CONFORMANCE_${suffix}`;
const envValue = `env-${randomBytes(16).toString('base64url')}`;
const fileValue = `file-${randomBytes(16).toString('base64url')}`;
registerSecret('the env:// conformance value', envValue);
registerSecret('the file:// conformance value', fileValue);

describeSecretProviderConformance({
  plugin: builtinSecretsPlugin,
  scheme: 'env',
  setup() {
    process.env[ENV_NAME] = envValue;
    return { existing: { reference: `env://${ENV_NAME}`, value: envValue }, missing: `env://SOURCED_SECRET_CONFORMANCE_MISSING_${suffix}` };
  },
  teardown() {
    delete process.env[ENV_NAME];
  },
});

let dir: string | undefined;

describeSecretProviderConformance({
  plugin: builtinSecretsPlugin,
  scheme: 'file',
  async setup() {
    dir = await mkdtemp(join(tmpdir(), 'sourced-conformance-'));
    const path = join(dir, 'db-password');
    // A trailing newline, as mounted secrets often have: the provider drops it.
    await writeFile(path, `${fileValue}\n`, { mode: 0o600 });
    return { existing: { reference: `file://${path}`, value: fileValue }, missing: `file://${join(dir, 'not-there')}` };
  },
  async teardown() {
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});
