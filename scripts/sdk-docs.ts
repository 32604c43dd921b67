/**
 * Writes the plugin SDK's API reference, docs/sdk/*.md, from its TSDoc: API Extractor reads the
 * built declarations of both entry points (sdk/dist: `@sourced/plugin-sdk` and
 * `@sourced/plugin-sdk/testing`, with the types of core, api and the daemon they re-export) into
 * doc models, and API Documenter renders them as Markdown, one page per member. `npm run
 * docs:sdk` (after `npm run build`); sdk/test/apiDocs.test.ts fails while docs/sdk is stale.
 *
 *   npx tsx scripts/sdk-docs.ts                 # write docs/sdk
 *   npx tsx scripts/sdk-docs.ts --check         # exit 1 when docs/sdk is stale
 *   npx tsx scripts/sdk-docs.ts --out DIR       # write elsewhere (the test's scratch folder)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const ROOT = join(__dirname, '..');
const SDK = join(ROOT, 'sdk');
const DOCS = join(ROOT, 'docs', 'sdk');
/** The testing entry's package name in its doc model. */
const TESTING_MODEL = '@sourced/plugin-sdk-testing';

/** The doc model (.api.json) of one entry point, written into `dir` under `name`. */
function docModel(configFile: string, dir: string, name: string): string {
  const prepared = ExtractorConfig.prepare({
    configObject: {
      ...ExtractorConfig.loadFile(join(SDK, configFile)),
      projectFolder: SDK,
      apiReport: { enabled: false, reportFileName: name },
      docModel: { enabled: true, apiJsonFilePath: join(dir, `${name}.api.json`) },
    },
    configObjectFullPath: join(SDK, configFile),
    packageJsonFullPath: join(SDK, 'package.json'),
  });
  const result = Extractor.invoke(prepared, { localBuild: true, showVerboseMessages: false, messageCallback: (m) => (m.handled = true) });
  if (!result.succeeded) throw new Error(`api-extractor failed on sdk/${configFile}: ${result.errorCount} errors`);
  return join(dir, `${name}.api.json`);
}

/** Renders the SDK's reference into `out` (emptied first). */
export function writeSdkDocs(out: string): void {
  const models = mkdtempSync(join(tmpdir(), 'sourced-sdk-docs-'));
  try {
    docModel('api-extractor.json', models, 'plugin-sdk');
    // The testing entry is a package of its own name for the documenter (its pages then link
    // to each other, not to the main entry's members of the same name).
    const testing = docModel('api-extractor.testing.json', models, 'plugin-sdk-testing');
    // (A package name cannot hold a slash: `plugin-sdk-testing` in the model and the file
    // names, put back as the import path `@sourced/plugin-sdk/testing` in the pages' text.)
    writeFileSync(
      testing,
      readFileSync(testing, 'utf8')
        .replaceAll('@sourced/plugin-sdk!', `${TESTING_MODEL}!`)
        .replace('"name": "@sourced/plugin-sdk"', `"name": "${TESTING_MODEL}"`),
    );
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    execFileSync(join(ROOT, 'node_modules', '.bin', 'api-documenter'), ['markdown', '-i', models, '-o', out], { stdio: 'pipe' });
    for (const page of readdirSync(out)) {
      const text = readFileSync(join(out, page), 'utf8');
      if (text.includes(TESTING_MODEL))
        writeFileSync(
          join(out, page),
          text.replaceAll(`${TESTING_MODEL} package`, '@sourced/plugin-sdk/testing entry point').replaceAll(TESTING_MODEL, '@sourced/plugin-sdk/testing'),
        );
    }
  } finally {
    rmSync(models, { recursive: true, force: true });
  }
}

/** The files of a folder and their text, for comparison. */
export function folderText(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir)
      .sort()
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  );
}

if (require.main === module) {
  const at = process.argv.indexOf('--out');
  if (process.argv.includes('--check')) {
    const scratch = mkdtempSync(join(tmpdir(), 'sourced-sdk-docs-check-'));
    writeSdkDocs(scratch);
    const fresh = folderText(scratch);
    rmSync(scratch, { recursive: true, force: true });
    const kept = folderText(DOCS);
    const stale = [...new Set([...fresh.keys(), ...kept.keys()])].filter((f) => fresh.get(f) !== kept.get(f));
    if (stale.length) {
      process.stderr.write(
        `docs/sdk is stale (${stale.length} pages: ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', ...' : ''}); run \`npm run docs:sdk\`\n`,
      );
      process.exit(1);
    }
    process.stdout.write(`docs/sdk: ${kept.size} pages up to date\n`);
  } else {
    const out = at > 0 ? (process.argv[at + 1] ?? DOCS) : DOCS;
    writeSdkDocs(out);
    process.stdout.write(`${out}: ${readdirSync(out).length} pages written\n`);
  }
}
