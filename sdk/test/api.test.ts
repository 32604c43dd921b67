import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The plugin SDK's API reports (`sdk/api/*.api.md`) are API Extractor's, from the built
 * declarations (`npm test` builds first). Each test runs API Extractor the way CI does (not a
 * local build: a changed report is a failure, nothing is rewritten), with its output in a
 * temporary folder.
 */
const sdk = join(__dirname, '..');
const CONFIGS = [
  { config: 'api-extractor.json', report: 'plugin-sdk.api.md', specifier: '@sourced/plugin-sdk' },
  { config: 'api-extractor.testing.json', report: 'plugin-sdk-testing.api.md', specifier: '@sourced/plugin-sdk/testing' },
] as const;
const API_CHANGED_MESSAGE =
  "the plugin SDK's public API changed: if intended, run `npm run api:update` and bump the SDK version per semver (a removal or change is a major bump)";

const scratch = mkdtempSync(join(tmpdir(), 'sourced-api-report-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs API Extractor with one of the SDK's configs, comparing against `reportFolder`; the fresh report goes to a new temporary folder. */
function extract(configName: string, reportFolder = join(sdk, 'api')) {
  const configPath = join(sdk, configName);
  const configObject = ExtractorConfig.loadFile(configPath);
  const tempFolder = mkdtempSync(join(scratch, 'temp-'));
  configObject.apiReport = { ...configObject.apiReport!, reportFolder, reportTempFolder: tempFolder };
  const config = ExtractorConfig.prepare({ configObject, configObjectFullPath: configPath, packageJsonFullPath: join(sdk, 'package.json') });
  const problems: string[] = [];
  const result = Extractor.invoke(config, {
    localBuild: false,
    messageCallback: (message) => {
      if (message.logLevel === ExtractorLogLevel.Error || message.logLevel === ExtractorLogLevel.Warning) problems.push(message.formatMessageWithLocation(sdk));
      message.handled = true;
    },
  });
  return { result, problems, fresh: () => readFileSync(config.reportTempFilePath, 'utf8') };
}

describe('plugin SDK API report (API Extractor)', () => {
  /** The public types of every SDK entry are exactly the committed report: a change must be deliberate (and versioned). */
  it.each(CONFIGS.map((c) => [c.specifier, c] as const))(
    '%s matches its committed report',
    (_specifier, { config, report }) => {
      const { result, problems, fresh } = extract(config);
      const committed = readFileSync(join(sdk, 'api', report), 'utf8');
      expect(fresh(), `sdk/api/${report}: ${API_CHANGED_MESSAGE}`).toBe(committed);
      expect(result.apiReportChanged).toBe(false);
      expect(problems).toEqual([]);
      expect(result.succeeded).toBe(true);
      // No machine-specific path in what is committed.
      expect(committed).not.toMatch(/(^|[\s"'(])\/(work|home|Users|tmp)\//m);
    },
    120_000,
  );

  /** The check fails when the API and the committed report differ (here: the report lost a declaration). */
  it('fails when the committed report does not match the API', () => {
    const stale = mkdtempSync(join(scratch, 'stale-'));
    cpSync(join(sdk, 'api', 'plugin-sdk.api.md'), join(stale, 'plugin-sdk.api.md'));
    const text = readFileSync(join(stale, 'plugin-sdk.api.md'), 'utf8');
    const edited = text.replace(/^export function definePlugin\b.*$/m, '');
    expect(edited).not.toBe(text);
    writeFileSync(join(stale, 'plugin-sdk.api.md'), edited);
    const { result, problems } = extract('api-extractor.json', stale);
    expect(result.apiReportChanged).toBe(true);
    expect(result.succeeded).toBe(false);
    expect(problems.join('\n')).toMatch(/console-api-report-not-copied/);
  }, 120_000);
});
