import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withConfigTable } from '../src/config/docs';
import { environmentVariables } from '../src/config/env';
import { CONFIG_LEAVES, type ConfigLeaf } from '../src/config/fields';
import { DEFAULT_CONFIG, loadConfig, type DaemonConfig } from '../src/config/DaemonConfig';
import { configFiles } from './configFiles';

const { dir, write, errorOf } = configFiles('sourced-config-schema-');

const at = (config: DaemonConfig, path: readonly string[]) => path.reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], config);
const defaultOf = (leaf: ConfigLeaf) => {
  const parsed = leaf.schema.safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
};

const TLS = { SOURCED_SERVER_TLS_CERT: 'tls/server.crt', SOURCED_SERVER_TLS_KEY: 'tls/server.key' };
const JWT = { SOURCED_AUTH_JWT_JWKS: 'https://idp/jwks', SOURCED_AUTH_JWT_ISSUER: 'https://idp', SOURCED_AUTH_JWT_AUDIENCE: 'sourced' };

/**
 * A value for each option that is not a number or a switch (those are derived below): what the
 * variable says, what the option then holds, and the other variables it needs to be valid.
 */
const SAMPLES: Record<string, { raw: string; expected: unknown; needs?: Record<string, string> }> = {
  listen: { raw: '0.0.0.0:6001', expected: '0.0.0.0:6001' },
  plugins: { raw: './mine.js, sourced-plugin-clickhouse', expected: [join(dir, 'mine.js'), 'sourced-plugin-clickhouse'] },
  pluginSettings: { raw: '{"clickhouse":{"maxRows":10}}', expected: { clickhouse: { maxRows: 10 } } },
  logLevel: { raw: 'WARN', expected: 'warn' },
  'discovery.defaultStrategy': { raw: 'adaptive', expected: 'ADAPTIVE' },
  'discovery.stallTimeoutMs': { raw: '15000', expected: 15000 },
  'discovery.stallProbeAfterMs': { raw: '0', expected: 0 },
  'preview.maskColumns': { raw: '*pin*, notes', expected: ['*pin*', 'notes'] },
  'preview.maskTypes': { raw: '["bytea"]', expected: ['bytea'] },
  'audit.file': { raw: 'logs/audit.log', expected: join(dir, 'logs/audit.log') },
  'audit.signingKey': { raw: 'env://AUDIT_KEY', expected: 'env://AUDIT_KEY' },
  'auth.tokens': { raw: JSON.stringify([{ principal: 'ci', sha256: 'AB'.repeat(32) }]), expected: [{ principal: 'ci', sha256: 'ab'.repeat(32) }] },
  'auth.mtls.principalFrom': { raw: 'SAN', expected: 'san', needs: { ...TLS, SOURCED_SERVER_TLS_CLIENT_CA: 'tls/ca.crt' } },
  'auth.jwt.jwks': { raw: 'keys/jwks.json', expected: join(dir, 'keys/jwks.json'), needs: JWT },
  'auth.jwt.issuer': { raw: 'https://other-idp', expected: 'https://other-idp', needs: JWT },
  'auth.jwt.audience': { raw: 'catalog', expected: 'catalog', needs: JWT },
  'auth.jwt.principalClaim': { raw: 'email', expected: 'email', needs: JWT },
  'auth.jwt.requireExpiry': { raw: 'no', expected: false, needs: JWT },
  'rbac.roles': { raw: '{"reader":{"rpcs":["*"]}}', expected: { reader: { rpcs: ['*'], connectors: [], hosts: [], secrets: [] } } },
  'rbac.bindings': { raw: '{"ci":["reader"]}', expected: { ci: ['reader'] }, needs: { SOURCED_RBAC_ROLES: '{"reader":{}}' } },
  'server.tls.cert': { raw: 'other.crt', expected: join(dir, 'other.crt'), needs: { SOURCED_SERVER_TLS_KEY: TLS.SOURCED_SERVER_TLS_KEY } },
  'server.tls.key': { raw: 'other.key', expected: join(dir, 'other.key'), needs: { SOURCED_SERVER_TLS_CERT: TLS.SOURCED_SERVER_TLS_CERT } },
  'server.tls.clientCa': { raw: 'tls/ca.crt', expected: join(dir, 'tls/ca.crt'), needs: TLS },
  'targets.allow': { raw: '10.0.0.0/8, *.db.example.com', expected: ['10.0.0.0/8', '*.db.example.com'] },
  'targets.deny': { raw: '10.9.0.0/16', expected: ['10.9.0.0/16'] },
  'targets.dnsServers': { raw: '10.0.0.2, 10.0.0.3:5353', expected: ['10.0.0.2', '10.0.0.3:5353'] },
  'secrets.allowedReferences': { raw: 'env://APP_*,file:///run/secrets/*', expected: ['env://APP_*', 'file:///run/secrets/*'] },
  'secrets.order': { raw: 'dynamic, reference', expected: ['dynamic', 'reference'] },
  'metrics.prometheus.host': { raw: '0.0.0.0', expected: '0.0.0.0' },
  'metrics.prometheus.port': { raw: '9465', expected: 9465 },
};

/** The sample of a leaf: from the table, or the default plus one for a number, the other value for a switch. */
function sample(leaf: ConfigLeaf): { raw: string; expected: unknown; needs?: Record<string, string> } {
  if (SAMPLES[leaf.key]) return SAMPLES[leaf.key];
  const value = defaultOf(leaf);
  if (leaf.kind === 'number' && typeof value === 'number') return { raw: String(value + 1), expected: value + 1 };
  if (leaf.kind === 'boolean' && typeof value === 'boolean') return { raw: String(!value), expected: !value };
  throw new Error(`no sample value for ${leaf.key}: add one to SAMPLES`);
}

describe('the configuration schema', () => {
  /** Every option, read from the schema, is set by its variable (and by each older name it has) and reads back. */
  it.each(CONFIG_LEAVES.map((leaf) => [leaf.key, leaf] as const))('%s is settable by its environment variable', (_key, leaf) => {
    const { raw, expected, needs } = sample(leaf);
    expect(expected, 'the sample must differ from the default, or the test could not fail').not.toEqual(defaultOf(leaf));
    for (const variable of [leaf.env, ...(leaf.meta.envAliases ?? [])]) {
      const config = loadConfig([], { ...needs, [variable]: raw }, dir);
      expect(at(config, leaf.path), variable).toEqual(expected);
    }
  });

  /** The variables follow one rule, are distinct, and none is in the namespace a request's dynamic secret look-up may read. */
  it('derives one distinct variable per option, outside SOURCED_SECRET_*', () => {
    const names = environmentVariables();
    expect(new Set(names).size).toBe(names.length);
    expect(CONFIG_LEAVES.find((l) => l.key === 'discovery.stallTimeoutMs')?.env).toBe('SOURCED_DISCOVERY_STALL_TIMEOUT_MS');
    expect(CONFIG_LEAVES.find((l) => l.key === 'server.tls.clientCa')?.env).toBe('SOURCED_SERVER_TLS_CLIENT_CA');
    for (const name of names) {
      expect(name).toMatch(/^SOURCED_[A-Z0-9_]+$/);
      expect(name.startsWith('SOURCED_SECRET_')).toBe(false);
      expect(name).not.toBe('SOURCED_CONFIG');
    }
  });

  /** For every number, the file beats the default and the environment beats the file; a flag beats both. */
  it('keeps the precedence defaults < file < environment < flags for every number', () => {
    const numbers = CONFIG_LEAVES.filter((l) => l.kind === 'number' && typeof defaultOf(l) === 'number');
    expect(numbers.length).toBeGreaterThan(30);
    for (const leaf of numbers) {
      const base = defaultOf(leaf) as number;
      const doc: Record<string, unknown> = {};
      leaf.path.reduce<Record<string, unknown>>((node, k, i) => (node[k] = i === leaf.path.length - 1 ? base + 1 : {}) as Record<string, unknown>, doc);
      const file = write(`precedence/${leaf.key}.json`, JSON.stringify(doc));
      expect(at(loadConfig(['--config', file], {}, dir), leaf.path), leaf.key).toBe(base + 1);
      expect(at(loadConfig(['--config', file], { [leaf.env]: String(base + 2) }, dir), leaf.path), leaf.key).toBe(base + 2);
      const flag = leaf.meta.flag?.split(' ')[0];
      if (flag) expect(at(loadConfig(['--config', file, flag, String(base + 3)], { [leaf.env]: String(base + 2) }, dir), leaf.path), leaf.key).toBe(base + 3);
    }
  });

  /** A later layer that sends the audit log somewhere drops where an earlier one sent it. */
  it('lets the environment move the audit log from stdout to a file', () => {
    const file = write('audit/stdout.yaml', 'audit:\n  stdout: true\n');
    expect(loadConfig(['--config', file], { SOURCED_AUDIT_FILE: 'a.log' }, dir).audit).toEqual({
      ...DEFAULT_CONFIG.audit,
      stdout: false,
      file: join(dir, 'a.log'),
    });
    expect(loadConfig(['--config', write('audit/file.yaml', 'audit:\n  file: a.log\n')], { SOURCED_AUDIT_STDOUT: 'true' }, dir).audit.file).toBeUndefined();
  });

  /** An optional group set partly by the file and partly by the environment is one group. */
  it('merges a group the file and the environment both set', () => {
    const file = write('merge/prom.yaml', 'metrics:\n  prometheus:\n    port: 9999\n');
    expect(loadConfig(['--config', file], { SOURCED_METRICS_PROMETHEUS_HOST: '0.0.0.0' }, dir).metrics).toEqual({
      prometheus: { host: '0.0.0.0', port: 9999 },
    });
    expect(loadConfig(['--config', write('merge/off.yaml', 'metrics:\n  prometheus: false\n')], {}, dir).metrics).toEqual({});
  });

  /** A key with no value keeps its default, in the file as in a section. */
  it('reads a key without a value as unset', () => {
    expect(loadConfig(['--config', write('nulls.yaml', 'logLevel:\ndiscovery:\n  stallTimeoutMs:\nauth:\n  jwt:\n')], {}, dir)).toEqual(DEFAULT_CONFIG);
  });

  describe('errors name the path', () => {
    /** An unknown key anywhere names its full path and the nearest known key. */
    it('an unknown key, with the key meant', () => {
      expect(errorOf(['--config', write('unknown/stall.yaml', 'discovery:\n  stalTimeoutMs: 1000\n')])).toMatchInlineSnapshot(
        `"discovery.stalTimeoutMs in <dir>/unknown/stall.yaml: unknown key (did you mean stallTimeoutMs?); known: defaultStrategy, heapHeadroomMb, heapGrowingPercent, stallTimeoutMs, stallProbeAfterMs"`,
      );
      expect(
        errorOf(['--config', write('unknown/jwt.yaml', 'auth:\n  jwt:\n    jwks: k.json\n    issuer: i\n    audience: a\n    requireExp: false\n')]),
      ).toMatchInlineSnapshot(
        `"auth.jwt.requireExp in <dir>/unknown/jwt.yaml: unknown key (did you mean requireExpiry?); known: jwks, issuer, audience, principalClaim, requireExpiry"`,
      );
      expect(errorOf(['--config', write('unknown/tls.yaml', 'server:\n  tls:\n    cert: a.crt\n    key: a.key\n    caFile: ca.crt\n')])).toMatchInlineSnapshot(
        `"server.tls.caFile in <dir>/unknown/tls.yaml: unknown key; known: cert, key, clientCa"`,
      );
      // inside a map given as JSON in a variable: the variable and the path within
      expect(errorOf([], { SOURCED_RBAC_ROLES: '{"reader":{"rpc":["*"]}}' })).toMatchInlineSnapshot(
        `"environment variable SOURCED_RBAC_ROLES (at rbac.roles.reader.rpc): unknown key (did you mean rpcs?); known: rpcs, connectors, hosts, secrets, keys"`,
      );
    });

    /** A value of the wrong type names its path and the type expected; every problem of the file is listed. */
    it('a wrong type, with what was expected', () => {
      const file = write(
        'types/all.yaml',
        'shutdownGraceMs: "2500"\nlimits:\n  maxEntities: many\ntargets:\n  allow: 10.0.0.0/8\nrbac:\n  roles: []\nauth:\n  tokens:\n    - principal: ci\n',
      );
      expect(errorOf(['--config', file])).toMatchInlineSnapshot(`
        "shutdownGraceMs in <dir>/types/all.yaml: "2500" is not a non-negative number (a string: write the number without quotes)
        limits.maxEntities in <dir>/types/all.yaml: "many" is not a non-negative whole number
        auth.tokens[0].sha256 in <dir>/types/all.yaml: missing: the hex SHA-256 of the token
        rbac.roles in <dir>/types/all.yaml: must be a map of role name to { rpcs, connectors, hosts, secrets, keys }
        targets.allow in <dir>/types/all.yaml: "10.0.0.0/8" is not a list of CIDR blocks, addresses or host-name patterns"
      `);
      expect(errorOf([], { SOURCED_DISCOVERY_DEFAULT_STRATEGY: 'fast' })).toMatchInlineSnapshot(
        `"environment variable SOURCED_DISCOVERY_DEFAULT_STRATEGY: "fast" is not one of CONSERVATIVE, BALANCED, AGGRESSIVE, ADAPTIVE"`,
      );
      expect(errorOf([], { SOURCED_AUTH_TOKENS: '[{"principal": "ci", ' })).toMatch(/^environment variable SOURCED_AUTH_TOKENS: not valid JSON \(/);
      expect(errorOf([], { SOURCED_SECRETS_ORDER: 'reference,reference' })).toMatchInlineSnapshot(
        `"environment variable SOURCED_SECRETS_ORDER: lists a link twice"`,
      );
      expect(errorOf([], { SOURCED_TARGETS_DNS_SERVERS: '10.0.0.2, dns.example.com' })).toMatch(
        /^environment variable SOURCED_TARGETS_DNS_SERVERS: .*dns\.example\.com.* \(a DNS server is an address, ip or ip:port/,
      );
    });

    /** A rule between keys names the layer that set the key. */
    it('a rule between keys, with the layer that broke it', () => {
      expect(errorOf([], { SOURCED_PREVIEW_DEFAULT_ROWS: '5000' })).toMatchInlineSnapshot(
        `"environment variable SOURCED_PREVIEW_DEFAULT_ROWS: 5000 is more than preview.maxRows (1000)"`,
      );
      expect(errorOf([], { SOURCED_AUTH_JWT_ISSUER: 'https://idp' })).toMatchInlineSnapshot(`
        "auth.jwt.jwks (in the file, or SOURCED_AUTH_JWT_JWKS): missing: a non-empty string
        auth.jwt.audience (in the file, or SOURCED_AUTH_JWT_AUDIENCE): missing: a non-empty string"
      `);
    });

    /** An option's variable and its older name set to different values is refused, not silently resolved. */
    it('a variable and its older name that disagree', () => {
      expect(errorOf([], { SOURCED_TLS_CERT: 'a.crt', SOURCED_SERVER_TLS_CERT: 'b.crt' })).toMatchInlineSnapshot(
        `"environment variables SOURCED_SERVER_TLS_CERT and SOURCED_TLS_CERT both set server.tls.cert, differently; set one (SOURCED_SERVER_TLS_CERT)"`,
      );
    });
  });

  /** docs/configuration.md's table is the one the schema generates (`npm run docs:config` rewrites it). */
  it("matches docs/configuration.md's configuration table", () => {
    const readme = readFileSync(resolve(__dirname, '../../docs/configuration.md'), 'utf8');
    expect(withConfigTable(readme) === readme, 'docs/configuration.md: the configuration table is stale; run `npm run docs:config`').toBe(true);
    for (const leaf of CONFIG_LEAVES) expect(readme).toContain(`| \`${leaf.key}\` | \`${leaf.env}\``);
  });
});
