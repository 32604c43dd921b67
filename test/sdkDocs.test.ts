/**
 * docs/sdk, the plugin SDK's API reference, is what the SDK's TSDoc generates now: a changed
 * or added export, or a changed comment, fails here until `npm run docs:sdk` (which `npm run
 * api:update` runs too) rewrites the pages. Reads the built declarations (`npm test` builds first).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { folderText, writeSdkDocs } from '../scripts/sdk-docs';

describe('docs/sdk', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sourced-sdk-docs-test-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('is the reference the SDK generates (npm run docs:sdk rewrites it)', () => {
    writeSdkDocs(scratch);
    const fresh = folderText(scratch);
    const kept = folderText(join(__dirname, '..', 'docs', 'sdk'));
    const stale = [...new Set([...fresh.keys(), ...kept.keys()])].filter((page) => fresh.get(page) !== kept.get(page));
    expect(stale, `docs/sdk is stale (${stale.length} pages); run \`npm run docs:sdk\``).toEqual([]);
    expect(fresh.has('plugin-sdk.defineconnector.md')).toBe(true);
    expect(fresh.has('plugin-sdk-testing.describeconnectorconformance.md')).toBe(true);
  }, 600_000);
});
