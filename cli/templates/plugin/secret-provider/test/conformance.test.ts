/**
 * The plugin SDK's conformance kit against this provider, loaded by a real daemon (in-process)
 * from the built dist/index.js. The store is test/fixture/secrets.json (copied to a folder of
 * its own). The kit skips the cancellation test without a `slow` reference: give one once your
 * store can hold a look-up (a stand-in that delays, for example).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describeSecretProviderConformance } from '@sourced/plugin-sdk/testing';

/** The built plugin, loaded by the daemon from its path. */
const PLUGIN = resolve(__dirname, '../dist/index.js');

const dir = mkdtempSync(join(tmpdir(), '__ID__-conformance-'));
cpSync(join(__dirname, 'fixture'), dir, { recursive: true });

describeSecretProviderConformance({
  plugin: PLUGIN,
  scheme: '__ID__',
  config: { pluginSettings: { '__ID__': { file: join(dir, 'secrets.json') } } },
  setup: () => ({
    existing: { reference: '__ID__://db/orders#password', value: 'conformance-pw-7f3a' },
    missing: '__ID__://db/nothing-here',
    malformed: '__ID__://bad key!',
  }),
  teardown: () => rmSync(dir, { recursive: true, force: true }),
});
