/**
 * The daemon's configuration as loadConfig builds it: the documented defaults, YAML and JSON
 * files, the environment and flags in their order, and every section's settings. How it
 * refuses bad values (naming where each came from) is config.errors.test.ts.
 * About 400 lines in one file: every section's settings, each case a few lines over the same helpers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, loadConfig } from '../src/config/DaemonConfig';
import { configFiles } from './configFiles';

const { dir, write, errorOf } = configFiles('sourced-config-');

describe('loadConfig', () => {
  /** With no file, no SOURCED_* variable and no flag, the documented defaults apply. */
  it('starts from the documented defaults', () => {
    const config = loadConfig([], {}, dir);
    expect(config).toEqual(DEFAULT_CONFIG);
    expect(config).toMatchInlineSnapshot(`
      {
        "audit": {
          "aggregateFailuresMs": 10000,
          "checkpointEveryLines": 1000,
          "checkpointEveryMs": 60000,
          "stdout": false,
        },
        "auth": {
          "tokens": [],
        },
        "discovery": {
          "defaultStrategy": "BALANCED",
          "heapGrowingPercent": 60,
          "heapHeadroomMb": 48,
        },
        "limits": {
          "authFailureBurst": 20,
          "authFailuresPerMinute": 60,
          "defaultDeadlineMs": 600000,
          "maxCheckTimeoutMs": 60000,
          "maxConcurrentCalls": 256,
          "maxConcurrentCallsPerPrincipal": 32,
          "maxConnectTimeoutMs": 30000,
          "maxDeadlineMs": 3600000,
          "maxEntities": 0,
          "maxMessageBytes": 4194304,
          "maxSampleSize": 100000,
        },
        "listen": "127.0.0.1:50051",
        "logLevel": "info",
        "metrics": {},
        "pluginSettings": {},
        "plugins": [
          "@sourced/plugin-postgres",
          "@sourced/plugin-mysql",
          "@sourced/plugin-mongodb",
          "@sourced/plugin-aws",
          "@sourced/plugin-azure",
        ],
        "preview": {
          "allowSystemSchemas": false,
          "defaultRows": 50,
          "maskColumns": [
            "*password*",
            "*passwd*",
            "*secret*",
            "*token*",
            "*api_key*",
            "*apikey*",
            "*private_key*",
            "*ssn*",
            "*social_security*",
            "*credit_card*",
            "*card_number*",
          ],
          "maskCredentialColumns": true,
          "maskTypes": [],
          "maxRows": 1000,
        },
        "profile": {
          "defaultSampleRows": 10000,
          "maxSampleRows": 100000,
        },
        "rbac": {
          "bindings": {},
          "roles": {},
        },
        "secrets": {
          "allowedReferences": [
            "env://SOURCED_SECRET_*",
            "aws-sm://*",
            "azure-kv://*",
          ],
          "cacheTtlMs": 300000,
          "dynamicStrategies": true,
          "order": [
            "reference",
            "connection_properties",
            "additional_properties",
            "dynamic",
          ],
          "providerTimeoutMs": 10000,
          "staleIfErrorMs": 0,
        },
        "server": {
          "allowPlaintext": false,
          "handshakeTimeoutMs": 10000,
          "keepaliveTimeMs": 60000,
          "keepaliveTimeoutMs": 20000,
          "maxConcurrentStreams": 100,
          "maxConnectionAgeGraceMs": 0,
          "maxConnectionAgeMs": 1800000,
          "maxConnectionIdleMs": 300000,
          "maxConnections": 1000,
          "maxConnectionsPerPeer": 100,
        },
        "shutdownGraceMs": 10000,
        "sources": {
          "maxConnectionsPerEndpoint": 10,
        },
        "targets": {
          "allow": [],
          "allowLinkLocal": false,
          "deny": [],
          "dnsServers": [],
        },
        "validation": {
          "checkTimeoutMs": 5000,
        },
      }
    `);
  });

  /** A returned configuration is a copy: changing it never changes the defaults of the next daemon. */
  it('never hands out the defaults themselves', () => {
    const config = loadConfig([], {}, dir);
    config.plugins.push('./mine.js');
    config.secrets.allowedReferences.push('file:///*');
    expect(loadConfig([], {}, dir)).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG.plugins).toEqual([
      '@sourced/plugin-postgres',
      '@sourced/plugin-mysql',
      '@sourced/plugin-mongodb',
      '@sourced/plugin-aws',
      '@sourced/plugin-azure',
    ]);
  });

  /** Every option of a YAML file is read, enum values in any case. */
  it('reads a YAML file', () => {
    const file = write(
      'yaml/sourced.yaml',
      `listen: 0.0.0.0:6000
logLevel: WARN
shutdownGraceMs: 2500
plugins:
  - "@sourced/plugin-postgres"
  - sourced-plugin-clickhouse
pluginSettings:
  clickhouse: { maxRows: 10 }
validation:
  checkTimeoutMs: 1500
discovery:
  defaultStrategy: adaptive
  heapHeadroomMb: 0
  stallTimeoutMs: 15000
  stallProbeAfterMs: 2000
sources:
  maxConnectionsPerEndpoint: 25
preview:
  defaultRows: 20
  maxRows: 200
  maskColumns: ["*password*", notes]
  maskTypes: [bytea]
  allowSystemSchemas: true
profile:
  defaultSampleRows: 500
  maxSampleRows: 5000
targets:
  allow: ["10.0.0.0/8", "*.db.example.com"]
  deny: ["10.9.0.0/16"]
  allowLinkLocal: false
  dnsServers: ["10.0.0.2"]
secrets:
  allowedReferences: ["env://SOURCED_SECRET_*", "file:///run/secrets/*"]
  dynamicStrategies: false
  cacheTtlMs: 1000
  providerTimeoutMs: 2000
`,
    );
    expect(loadConfig(['--config', file], {}, dir)).toEqual({
      listen: '0.0.0.0:6000',
      logLevel: 'warn',
      shutdownGraceMs: 2500,
      plugins: ['@sourced/plugin-postgres', 'sourced-plugin-clickhouse'],
      pluginSettings: { clickhouse: { maxRows: 10 } },
      validation: { checkTimeoutMs: 1500 },
      discovery: { defaultStrategy: 'ADAPTIVE', heapHeadroomMb: 0, heapGrowingPercent: 60, stallTimeoutMs: 15000, stallProbeAfterMs: 2000 },
      limits: DEFAULT_CONFIG.limits,
      preview: {
        defaultRows: 20,
        maxRows: 200,
        maskColumns: ['*password*', 'notes'],
        maskTypes: ['bytea'],
        allowSystemSchemas: true,
        maskCredentialColumns: true,
      },
      profile: { defaultSampleRows: 500, maxSampleRows: 5000 },
      audit: DEFAULT_CONFIG.audit,
      auth: { tokens: [] },
      rbac: { roles: {}, bindings: {} },
      server: DEFAULT_CONFIG.server,
      sources: { maxConnectionsPerEndpoint: 25 },
      targets: { allow: ['10.0.0.0/8', '*.db.example.com'], deny: ['10.9.0.0/16'], allowLinkLocal: false, dnsServers: ['10.0.0.2'] },
      secrets: {
        allowedReferences: ['env://SOURCED_SECRET_*', 'file:///run/secrets/*'],
        dynamicStrategies: false,
        order: ['reference', 'connection_properties', 'additional_properties', 'dynamic'],
        cacheTtlMs: 1000,
        staleIfErrorMs: 0,
        providerTimeoutMs: 2000,
      },
      metrics: {},
    });
  });

  /** TLS files from the file are relative to it; from the environment, to the working folder. */
  it('reads the server TLS settings from the file and the environment', () => {
    const file = write('tls/sourced.yaml', 'server:\n  tls:\n    cert: certs/server.crt\n    key: certs/server.key\n    clientCa: /etc/ca.crt\n');
    expect(loadConfig(['--config', file], {}, dir).server).toEqual({
      ...DEFAULT_CONFIG.server,
      allowPlaintext: false,
      tls: { cert: join(dir, 'tls/certs/server.crt'), key: join(dir, 'tls/certs/server.key'), clientCa: '/etc/ca.crt' },
    });
    expect(loadConfig([], { SOURCED_TLS_CERT: 'a.crt', SOURCED_TLS_KEY: 'a.key', SOURCED_ALLOW_PLAINTEXT: 'true' }, dir).server).toEqual({
      ...DEFAULT_CONFIG.server,
      allowPlaintext: true,
      tls: { cert: join(dir, 'a.crt'), key: join(dir, 'a.key') },
    });
    // the audit file from the environment, relative to the working folder
    expect(loadConfig([], { SOURCED_AUDIT_FILE: 'logs/audit.log' }, dir).audit).toEqual({
      ...DEFAULT_CONFIG.audit,
      file: join(dir, 'logs/audit.log'),
      stdout: false,
    });
    expect(errorOf([], { SOURCED_TLS_CERT: 'a.crt' })).toMatchInlineSnapshot(
      `"server.tls needs both cert and key (in the file, or SOURCED_SERVER_TLS_CERT and SOURCED_SERVER_TLS_KEY)"`,
    );
    expect(errorOf([], { SOURCED_ALLOW_PLAINTEXT: 'maybe' })).toMatchInlineSnapshot(
      `"environment variable SOURCED_ALLOW_PLAINTEXT: "maybe" is not true or false"`,
    );
    expect(errorOf(['--config', write('tls/bad.yaml', 'server:\n  tls:\n    cert: a.crt\n    keyFile: a.key\n')])).toMatchInlineSnapshot(`
      "server.tls.key in <dir>/tls/bad.yaml: missing: the path of a PEM file
      server.tls.keyFile in <dir>/tls/bad.yaml: unknown key (did you mean key?); known: cert, key, clientCa"
    `);
  });

  /** Authentication settings are checked as strictly: a token in clear is refused, mTLS needs a client CA. */
  it('checks the auth section', () => {
    const file = write(
      'auth/ok.yaml',
      `auth:\n  tokens:\n    - principal: ci\n      sha256: ${'AB'.repeat(32)}\n  jwt:\n    jwks: keys/jwks.json\n    issuer: https://idp\n    audience: sourced\n`,
    );
    expect(loadConfig(['--config', file], {}, dir).auth).toEqual({
      tokens: [{ principal: 'ci', sha256: 'ab'.repeat(32) }],
      jwt: { jwks: join(dir, 'auth/keys/jwks.json'), issuer: 'https://idp', audience: 'sourced', principalClaim: 'sub', requireExpiry: true },
    });
    expect(errorOf(['--config', write('auth/clear.yaml', 'auth:\n  tokens:\n    - principal: ci\n      sha256: my-secret-token\n')])).toMatchInlineSnapshot(
      `"auth.tokens[0].sha256 in <dir>/auth/clear.yaml: must be the hex SHA-256 of the token (64 hex digits; printf %s "$TOKEN" | sha256sum), never the token itself"`,
    );
    expect(errorOf(['--config', write('auth/mtls.yaml', 'auth:\n  mtls: {}\n')])).toMatchInlineSnapshot(
      `"auth.mtls in <dir>/auth/mtls.yaml: names callers by their client certificate: it needs mutual TLS (server.tls with clientCa)"`,
    );
  });

  /** RBAC bindings must name roles that exist; the audit log goes to a file or stdout, not both. */
  it('checks the rbac and audit sections', () => {
    const ok = write(
      'rbac/ok.yaml',
      'rbac:\n  roles:\n    r: { rpcs: ["*"], hosts: ["*.internal"] }\n  bindings:\n    ci: [r]\naudit:\n  file: logs/audit.log\n',
    );
    const c = loadConfig(['--config', ok], {}, dir);
    expect(c.rbac).toEqual({ roles: { r: { rpcs: ['*'], connectors: [], hosts: ['*.internal'], secrets: [] } }, bindings: { ci: ['r'] } });
    expect(c.audit).toEqual({ ...DEFAULT_CONFIG.audit, stdout: false, file: join(dir, 'rbac/logs/audit.log') });
    expect(errorOf(['--config', write('rbac/key.yaml', 'audit:\n  signingKey: 0123456789abcdef0123\n')])).toMatchInlineSnapshot(
      `"audit.signingKey in <dir>/rbac/key.yaml: must be a secret reference (env://NAME, file:///path, aws-sm://..., azure-kv://...), never the key itself"`,
    );
    expect(loadConfig([], { SOURCED_AUDIT_SIGNING_KEY: 'env://AUDIT_KEY' }, dir).audit.signingKey).toBe('env://AUDIT_KEY');
    expect(errorOf(['--config', write('rbac/unknown-role.yaml', 'rbac:\n  roles: {}\n  bindings:\n    ci: [admin]\n')])).toMatchInlineSnapshot(
      `"rbac.bindings.ci in <dir>/rbac/unknown-role.yaml: names the role "admin", which rbac.roles does not define"`,
    );
    expect(errorOf(['--config', write('rbac/grant.yaml', 'rbac:\n  roles:\n    r: { methods: ["*"] }\n')])).toMatchInlineSnapshot(
      `"rbac.roles.r.methods in <dir>/rbac/grant.yaml: unknown key; known: rpcs, connectors, hosts, secrets, keys"`,
    );
    expect(errorOf(['--config', write('rbac/both.yaml', 'audit:\n  file: a.log\n  stdout: true\n')])).toMatchInlineSnapshot(
      `"audit in <dir>/rbac/both.yaml: set file or stdout, not both"`,
    );
  });

  /** docs/security.md's hardened configuration is one the daemon accepts, and means what it says. */
  it("accepts docs/security.md's hardened configuration", () => {
    const readme = readFileSync(join(__dirname, '../../docs/security.md'), 'utf8');
    const yaml = /A hardened configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(yaml).toBeDefined();
    const c = loadConfig(['--config', write('readme/hardened.yaml', yaml ?? '')], {}, dir);
    expect(c.server.tls?.clientCa).toBe('/etc/sourced/tls/clients-ca.crt');
    expect(c.auth.mtls).toEqual({ principalFrom: 'san' });
    expect(Object.keys(c.rbac.bindings)).toEqual(['spiffe://example.org/ns/catalog/sa/platform']);
    expect(c.secrets.dynamicStrategies).toBe(false);
    expect(c.audit.file).toBe('/var/log/sourced/audit.log');
  });

  /** A JSON file works the same, found through SOURCED_CONFIG (relative to the working folder); what it leaves out keeps its default. */
  it('reads a JSON file named by SOURCED_CONFIG', () => {
    write('json/sourced.json', JSON.stringify({ listen: '[::1]:7000', logLevel: 'debug', secrets: { cacheTtlMs: 0 } }));
    expect(loadConfig([], { SOURCED_CONFIG: 'json/sourced.json' }, dir)).toEqual({
      ...DEFAULT_CONFIG,
      listen: '[::1]:7000',
      logLevel: 'debug',
      secrets: { ...DEFAULT_CONFIG.secrets, cacheTtlMs: 0 },
    });
  });

  /** An empty file is an empty configuration. */
  it('accepts an empty file', () => {
    expect(loadConfig(['--config', write('empty.yaml', '')], {}, dir)).toEqual(DEFAULT_CONFIG);
  });

  /** Precedence, lowest first: defaults, the file, SOURCED_* variables, flags; each level only replaces what it sets. */
  it('lets the environment override the file and flags override both', () => {
    const file = write('precedence/sourced.yaml', 'listen: 127.0.0.1:1001\nlogLevel: warn\nplugins: [from-file]\nshutdownGraceMs: 1\n');
    const env = { SOURCED_LISTEN: '127.0.0.1:1002', SOURCED_LOG_LEVEL: 'error', SOURCED_PLUGINS: 'from-env-a, from-env-b', SOURCED_CHECK_TIMEOUT_MS: '750' };
    const flags = ['--listen', '127.0.0.1:1003', '--log-level', 'debug', '--plugin', 'from-flag-a', '--plugin', 'from-flag-b'];
    const pick = (c: ReturnType<typeof loadConfig>) => ({
      listen: c.listen,
      logLevel: c.logLevel,
      plugins: c.plugins,
      shutdownGraceMs: c.shutdownGraceMs,
      checkTimeoutMs: c.validation.checkTimeoutMs,
    });

    expect(pick(loadConfig(['--config', file], {}, dir))).toEqual({
      listen: '127.0.0.1:1001',
      logLevel: 'warn',
      plugins: ['from-file'],
      shutdownGraceMs: 1,
      checkTimeoutMs: 5000,
    });
    expect(pick(loadConfig(['--config', file], env, dir))).toEqual({
      listen: '127.0.0.1:1002',
      logLevel: 'error',
      plugins: ['from-env-a', 'from-env-b'],
      shutdownGraceMs: 1,
      checkTimeoutMs: 750,
    });
    expect(pick(loadConfig(['--config', file, ...flags], env, dir))).toEqual({
      listen: '127.0.0.1:1003',
      logLevel: 'debug',
      plugins: ['from-flag-a', 'from-flag-b'],
      shutdownGraceMs: 1,
      checkTimeoutMs: 750,
    });
    // --config beats SOURCED_CONFIG
    const other = write('precedence/other.yaml', 'listen: 127.0.0.1:1004\n');
    expect(loadConfig(['--config', other], { SOURCED_CONFIG: file }, dir).listen).toBe('127.0.0.1:1004');
  });

  /** Each documented SOURCED_* variable sets its option; lists are comma-separated. */
  it('reads every SOURCED_* variable', () => {
    const config = loadConfig(
      [],
      {
        SOURCED_LISTEN: '0.0.0.0:9000',
        SOURCED_PLUGINS: '@sourced/plugin-postgres, sourced-plugin-clickhouse',
        SOURCED_LOG_LEVEL: 'Debug',
        SOURCED_SHUTDOWN_GRACE_MS: '1500',
        SOURCED_CHECK_TIMEOUT_MS: '2500',
        SOURCED_SECRETS_ALLOWED_REFERENCES: 'env://APP_*, file:///run/secrets/*',
        SOURCED_TARGETS_ALLOW: '10.0.0.0/8, db.example.com',
        SOURCED_TARGETS_DENY: '10.0.0.99',
      },
      dir,
    );
    expect(config).toEqual({
      ...DEFAULT_CONFIG,
      listen: '0.0.0.0:9000',
      plugins: ['@sourced/plugin-postgres', 'sourced-plugin-clickhouse'],
      logLevel: 'debug',
      shutdownGraceMs: 1500,
      validation: { checkTimeoutMs: 2500 },
      secrets: { ...DEFAULT_CONFIG.secrets, allowedReferences: ['env://APP_*', 'file:///run/secrets/*'] },
      targets: { ...DEFAULT_CONFIG.targets, allow: ['10.0.0.0/8', 'db.example.com'], deny: ['10.0.0.99'] },
    });
  });

  /** A relative plugin path in a file is relative to that file's folder; from a variable or flag, to the working folder; a package name stays as it is. */
  it('resolves relative plugin paths against where they were written', () => {
    const file = write(
      'deploy/etc/sourced.yaml',
      'plugins:\n  - ./plugins/mine.js\n  - ../shared/theirs.js\n  - "@acme/sourced-plugin-db2"\n  - /opt/abs.js\n',
    );
    expect(loadConfig(['--config', file], {}, '/somewhere/else').plugins).toEqual([
      join(dir, 'deploy/etc/plugins/mine.js'),
      join(dir, 'deploy/shared/theirs.js'),
      '@acme/sourced-plugin-db2',
      '/opt/abs.js',
    ]);
    expect(loadConfig(['--plugin', './flag.js'], { SOURCED_PLUGINS: './env.js' }, dir).plugins).toEqual([join(dir, 'flag.js')]);
    expect(loadConfig([], { SOURCED_PLUGINS: './env.js,pkg' }, dir).plugins).toEqual([join(dir, 'env.js'), 'pkg']);
  });
});
