/**
 * Writes the configuration table of docs/configuration.md from the daemon's config schema
 * (daemon/src/config/schema.ts), between its markers. `npm run docs:config`;
 * daemon/test/configSchema.test.ts fails while the page's copy is stale.
 *
 *   npx tsx scripts/config-docs.ts          # write docs/configuration.md
 *   npx tsx scripts/config-docs.ts --check  # exit 1 when docs/configuration.md is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withConfigTable } from '../daemon/src/config/docs';

const path = join(__dirname, '..', 'docs', 'configuration.md');
const readme = readFileSync(path, 'utf8');
const fresh = withConfigTable(readme);
if (process.argv.includes('--check')) {
  if (fresh !== readme) {
    process.stderr.write('docs/configuration.md: the configuration table is stale; run `npm run docs:config`\n');
    process.exit(1);
  }
  process.stdout.write('docs/configuration.md: configuration table up to date\n');
} else if (fresh !== readme) {
  writeFileSync(path, fresh);
  process.stdout.write('docs/configuration.md: configuration table written\n');
} else {
  process.stdout.write('docs/configuration.md: configuration table up to date\n');
}
