import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDataSourceText } from '../cli/src/dataSourceFile';
import { SCHEMA_PATH, schemaText } from '../scripts/data-source-schema';
import { DATA_SOURCE_CASES } from './support/dataSourceCases';

/**
 * One data-source file format (issue 22): docs/data-source.schema.json is generated from the
 * contract, the repository's examples follow it, and the CLI accepts exactly the files the schema
 * accepts. `buf curl` (proto3 JSON, no shorthands) accepts the same files written without the two
 * shorthands (a short enum name, a secret as a string) and refuses the same unknown fields.
 */

const ROOT = resolve(__dirname, '..');
const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true }).compile(schema);

/** Whether the CLI's reader takes the text; the message when not. */
function cliReads(text: string, name: string): { ok: boolean; message?: string } {
  try {
    parseDataSourceText(text, name);
    return { ok: true };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

const CASES = DATA_SOURCE_CASES;

describe('the data-source file format', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sourced-format-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The schema in docs/ is the one the contract generates (`npm run docs:schema` rewrites it). */
  it('keeps docs/data-source.schema.json generated from the contract', () => {
    expect(readFileSync(SCHEMA_PATH, 'utf8') === schemaText(), 'docs/data-source.schema.json is stale: run `npm run docs:schema`').toBe(true);
  });

  /** Every example data source in examples/ validates against the schema and reads in the CLI. */
  it('validates the examples against the schema and reads them in the CLI', () => {
    const examples = readdirSync(join(ROOT, 'examples')).filter((f) => /\.(json|ya?ml)$/.test(f));
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const name of examples) {
      const text = readFileSync(join(ROOT, 'examples', name), 'utf8');
      const doc: unknown = name.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
      expect(validate(doc), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(cliReads(text, name), name).toEqual({ ok: true });
    }
  });

  /** The schema and the CLI agree on every good and bad file, as JSON and as YAML; the CLI names the path. */
  it.each(CASES)('the schema and the CLI agree: $name', ({ doc, ok, says }) => {
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(ok);
    expect(validate({ data_source: doc })).toBe(ok);
    for (const name of ['file.json', 'file.yaml']) {
      const text = name.endsWith('.json') ? JSON.stringify(doc) : JSON.stringify(doc, null, 2); // JSON is YAML
      const read = cliReads(text, name);
      expect(read.ok, read.message).toBe(ok);
      if (says) expect(read.message).toContain(says);
    }
  });

  /**
   * buf curl parses a request with the contract's descriptors before it dials (`--schema`), so a
   * closed port tells its verdict: a JSON error, or a connection refused after the request parsed.
   */
  const buf = spawnSync(process.execPath, [join(ROOT, 'node_modules/@bufbuild/buf/bin/buf'), '--version'], { encoding: 'utf8' });
  const hasBuf = buf.status === 0;
  if (!hasBuf) console.warn('dataSourceFormat.test.ts: SKIPPING the buf curl comparison: buf is not installed (npm ci installs @bufbuild/buf)');
  (hasBuf ? it : it.skip)(
    'buf curl accepts the files without shorthands and refuses the same unknown fields',
    () => {
      for (const c of CASES) {
        const body = join(dir, `${c.name.replace(/\W+/g, '-')}.json`);
        writeFileSync(body, JSON.stringify({ data_source: c.doc }));
        const r = spawnSync(
          process.execPath,
          [
            join(ROOT, 'node_modules/@bufbuild/buf/bin/buf'),
            'curl',
            '--schema',
            join(ROOT, 'api/dist/sourced.binpb'),
            '--protocol',
            'grpc',
            '--http2-prior-knowledge',
            '-d',
            `@${body}`,
            'http://127.0.0.1:1/sourced.v1.DataSourceService/ValidateDataSource',
          ],
          { encoding: 'utf8', timeout: 60_000 },
        );
        const parsed = !/json unmarshal|unmarshal/i.test(r.stderr);
        expect(parsed, `${c.name}: ${r.stderr}`).toBe(c.ok && !c.shorthand);
      }
    },
    180_000,
  );
});
