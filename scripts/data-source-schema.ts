/**
 * Writes docs/data-source.schema.json, the JSON Schema of a data-source file, from the contract's
 * descriptors (cli/src/dataSourceFormat.ts: the same walk the CLI reads files with, so the two
 * never differ). `npm run docs:schema`; test/dataSourceFormat.test.ts fails while the copy is stale.
 *
 *   npx tsx scripts/data-source-schema.ts          # write docs/data-source.schema.json
 *   npx tsx scripts/data-source-schema.ts --check  # exit 1 when it is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataSourceJsonSchema } from '../cli/src/dataSourceFormat';

/** Where the schema is kept. */
export const SCHEMA_PATH = join(__dirname, '..', 'docs', 'data-source.schema.json');

/** The schema file's text as the generator writes it. */
export function schemaText(): string {
  return `${JSON.stringify(dataSourceJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
  const fresh = schemaText();
  let current = '';
  try {
    current = readFileSync(SCHEMA_PATH, 'utf8');
  } catch {
    // not written yet
  }
  if (process.argv.includes('--check')) {
    if (fresh !== current) {
      process.stderr.write('docs/data-source.schema.json is stale; run `npm run docs:schema`\n');
      process.exit(1);
    }
    process.stdout.write('docs/data-source.schema.json: up to date\n');
  } else {
    if (fresh !== current) writeFileSync(SCHEMA_PATH, fresh);
    process.stdout.write(`docs/data-source.schema.json: ${fresh === current ? 'up to date' : 'written'}\n`);
  }
}
