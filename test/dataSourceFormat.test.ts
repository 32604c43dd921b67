import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDataSourceText } from '../cli/src/dataSourceFile';
import { SCHEMA_PATH, schemaText } from '../scripts/data-source-schema';

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

interface Case {
  name: string;
  doc: unknown;
  ok: boolean;
  /** Uses a shorthand proto3 JSON does not have (a short enum name, a secret as a string): buf curl refuses it. */
  shorthand?: boolean;
  /** What the CLI says for a bad file. */
  says?: string;
}

const ENDPOINT = { host: 'db.internal', port: 5432, database: 'app' };
const CASES: Case[] = [
  { name: 'the minimum', doc: { type: 'postgres', primary: { host: 'db.internal' } }, ok: true },
  {
    name: 'every field, proto names, full enum names',
    doc: {
      id: 'orders',
      name: 'Orders',
      type: 'postgres',
      location: 'LOCATION_HYBRID',
      cloud_provider: 'CLOUD_PROVIDER_AWS',
      primary: ENDPOINT,
      secondary: { ...ENDPOINT, host: 'db2.internal' },
      credentials: { username: 'reader', password: { reference: 'env://SOURCED_SECRET_X' } },
      ssl_config: { mode: 'SSL_MODE_VERIFY_FULL', ca: '-----BEGIN CERTIFICATE-----', cert: 'c', key: { inline_value: 'k' }, server_name: 'db' },
      cloud_config: {
        aws_region: 'eu-west-1',
        aws_access_key_id: { reference: 'env://SOURCED_SECRET_K' },
        aws_secret_access_key: { encrypted: 'sourced:enc:v1:x' },
        use_iam_auth: true,
        azure_tenant_id: 't',
        azure_client_id: 'c',
        azure_client_secret: { reference: 'azure-kv://v/s' },
        use_managed_identity: false,
      },
      connection_properties: { connect_timeout_seconds: 5, replica_config: { host: 'x' } },
      additional_properties: { anything: ['goes', 1, null] },
    },
    ok: true,
  },
  {
    name: 'lowerCamelCase names',
    doc: { type: 'postgres', cloudProvider: 'CLOUD_PROVIDER_GCP', sslConfig: { mode: 'SSL_MODE_REQUIRE', serverName: 'x' }, connectionProperties: {} },
    ok: true,
  },
  { name: 'an enum value as its number', doc: { type: 'postgres', location: 2 }, ok: true },
  { name: 'the short enum names', doc: { type: 'postgres', location: 'ON_PREM', ssl_config: { mode: 'VERIFY_CA' } }, ok: true, shorthand: true },
  { name: 'a secret as a string', doc: { type: 'postgres', credentials: { username: 'u', password: 'env://SOURCED_SECRET_X' } }, ok: true, shorthand: true },
  { name: 'an empty secret string (an empty inline value)', doc: { type: 'postgres', credentials: { password: '' } }, ok: true, shorthand: true },
  { name: 'a $schema key (not a field)', doc: { $schema: './data-source.schema.json', type: 'postgres' }, ok: false, says: '$schema: unknown field' },
  {
    name: 'a typo in a field',
    doc: { type: 'postgres', primary: { host: 'h', databse: 'x' } },
    ok: false,
    says: 'primary.databse: unknown field; did you mean "database"?',
  },
  {
    name: 'a typo in a nested secret',
    doc: { type: 'postgres', credentials: { pasword: 'x' } },
    ok: false,
    says: 'credentials.pasword: unknown field; did you mean "password"?',
  },
  { name: 'a typo at the top', doc: { type: 'postgres', primery: { host: 'h' } }, ok: false, says: 'primery: unknown field; did you mean "primary"?' },
  { name: 'an unknown top-level field', doc: { type: 'postgres', replica_config: { host: 'h' } }, ok: false, says: 'replica_config: unknown field' },
  {
    name: 'an enum value that does not exist',
    doc: { type: 'postgres', location: 'ONPREM' },
    ok: false,
    says: 'location: "ONPREM" is not one of ON_PREM, CLOUD, HYBRID (or with the LOCATION_ prefix); did you mean ON_PREM?',
  },
  { name: 'a lower-case enum value', doc: { type: 'postgres', ssl_config: { mode: 'verify-full' } }, ok: false, says: '"verify-full" is not one of' },
  { name: 'a port as text', doc: { type: 'postgres', primary: { host: 'h', port: '5432x' } }, ok: false, says: 'primary.port: must be a whole number' },
  { name: 'a negative port', doc: { type: 'postgres', primary: { host: 'h', port: -1 } }, ok: false, says: 'primary.port: must be a whole number' },
  { name: 'a number for a string', doc: { type: 'postgres', id: 7 }, ok: false, says: 'id: must be a string' },
  {
    name: 'two members of a oneof',
    doc: { type: 'postgres', credentials: { password: { reference: 'env://A', inline_value: 'b' } } },
    ok: false,
    says: 'cannot be given with reference',
  },
  { name: 'one field under both names', doc: { type: 'postgres', ssl_config: {}, sslConfig: {} }, ok: false, says: 'one field, two names' },
  { name: 'a list for an object', doc: { type: 'postgres', primary: ['h'] }, ok: false, says: 'primary: must be an object' },
  {
    name: 'properties that are not an object',
    doc: { type: 'postgres', connection_properties: 'x' },
    ok: false,
    says: 'connection_properties: must be an object',
  },
  {
    name: 'a bool as text',
    doc: { type: 'postgres', cloud_config: { use_iam_auth: 'yes' } },
    ok: false,
    says: 'cloud_config.use_iam_auth: must be true or false',
  },
];

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
