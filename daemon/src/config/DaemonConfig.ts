import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CHAIN_ORDER, DEFAULT_PREVIEW_SETTINGS, DEFAULT_PROFILE_SETTINGS, DEFAULT_SECRET_POLICY, TargetPolicy, type ChainLink, type DiscoveryStrategy } from '@sourced/core';
import { parse as parseYaml } from 'yaml';
import type { LogLevel } from '../logging/JsonLogger';

/** The daemon's configuration. See README "Configuration" for every option. */
export interface DaemonConfig {
  /** `host:port` to listen on. Port 0 picks a free port. */
  listen: string;
  /** Plugin module specifiers (package names or paths), loaded in order. */
  plugins: string[];
  /** Settings for plugins, by plugin id; each plugin gets its own in `register` (`registrar.settings`). File only. */
  pluginSettings: Record<string, unknown>;
  /** The lowest level of log line written: debug, info, warn or error. */
  logLevel: LogLevel;
  /** How long SIGTERM waits for in-flight calls before cancelling them. */
  shutdownGraceMs: number;
  /** Validation: `checkTimeoutMs`, the time limit of one check unless a request sets its own. */
  validation: { checkTimeoutMs: number };
  /** Discovery defaults. */
  discovery: {
    /** The strategy of a request that names none. */
    defaultStrategy: DiscoveryStrategy;
    /**
     * Heap growth (MiB) between batches after which the daemon runs a full garbage collection,
     * so memory follows the pages in flight rather than V8's lazy old-generation growth; 0 is off.
     */
    heapHeadroomMb: number;
    /**
     * The longest one catalog read may go without an answer, ms: past it the read is cancelled
     * and a HYBRID run fails over, any other ends UNAVAILABLE (`SOURCE_STALLED`) with the cursor
     * to resume after. A frozen server or a link that drops packets never fires the server's
     * own statement timeout; 0 is no bound.
     */
    stallTimeoutMs: number;
    /**
     * After a catalog read has waited this long, ms, the endpoint is probed with a new connection
     * (3 s at most): if it does not answer, the read is taken as stalled then (a HYBRID run fails
     * over within about this + 3 s), if it does, the read goes on (a slow statement). 0: no probe.
     */
    stallProbeAfterMs: number;
  };
  /** PreviewTable: rows by default and at most, and which columns are masked (never read). */
  preview: {
    /** Rows when a request asks for none. */
    defaultRows: number;
    /** The most rows a request may ask for. */
    maxRows: number;
    /** Globs of column names (MongoDB: field names) whose values are masked, case-insensitive. */
    maskColumns: string[];
    /** Globs of column types whose values are masked, case-insensitive. */
    maskTypes: string[];
    /**
     * Preview and profile tables of the database's own schemas (pg_catalog, information_schema,
     * mysql, performance_schema, sys, MongoDB's admin, local, config): false by default, and
     * a call for one is PERMISSION_DENIED (SYSTEM_TABLE_NOT_ALLOWED). Applies to profiles too.
     * Absent: false.
     */
    allowSystemSchemas?: boolean;
    /**
     * Mask the credential columns each connector names (pg_authid.rolpassword,
     * mysql.user.authentication_string, admin.system.users credentials, …) whatever
     * `maskColumns` says: true by default. Applies to profiles too. Absent: true.
     */
    maskCredentialColumns?: boolean;
  };
  /** ProfileTable: the sample's rows by default and at most (masking follows `preview`). */
  profile: {
    /** Rows a SAMPLE reads when a request names none. */
    defaultSampleRows: number;
    /** The most rows a SAMPLE may read. */
    maxSampleRows: number;
  };
  /** What one caller, or all together, may ask of the daemon. */
  limits: {
    /** Calls in flight at once, all callers together. */
    maxConcurrentCalls: number;
    /** Calls in flight at once per principal. */
    maxConcurrentCallsPerPrincipal: number;
    /** Largest request message, bytes. */
    maxMessageBytes: number;
    /** The deadline of a call that sets none, ms (0: none). */
    defaultDeadlineMs: number;
    /** The longest deadline a call gets, whatever it asks, ms (0: no maximum). */
    maxDeadlineMs: number;
    /** Most relations and collections one discovery sends (0: no cap); a request's max_entities is capped to it. */
    maxEntities: number;
    /** Largest sample per collection a request may ask for. */
    maxSampleSize: number;
    /** The longest connect timeout a data source may ask for (`connect_timeout_ms`/`_seconds`), ms (0: no maximum). */
    maxConnectTimeoutMs: number;
    /** The longest `check_timeout_ms` a validation may ask for, ms (0: no maximum). */
    maxCheckTimeoutMs: number;
    /**
     * Failed authentications one peer address may have at once, then `authFailuresPerMinute`;
     * past them its calls are refused before authentication (RESOURCE_EXHAUSTED). 0 in either: off.
     */
    authFailureBurst: number;
    authFailuresPerMinute: number;
  };
  /** One hash-chained JSON line per call, to a file (appended, mode 0600) or stdout; off when neither. */
  audit: {
    file?: string;
    stdout: boolean;
    /**
     * A secret reference (env://, file://, aws-sm://, ...) whose value (at least 16 bytes) signs
     * checkpoints in the log with HMAC-SHA256; `sourced audit verify --key` checks them. Off when absent.
     */
    signingKey?: string;
    /** A signed checkpoint after this many lines. */
    checkpointEveryLines: number;
    /** A signed checkpoint once lines have waited this long for one, ms (0: by count and at stop only). */
    checkpointEveryMs: number;
    /** Calls refused before the caller was known, per peer, RPC and code: one line, then one line with the count of the rest of this window, ms (0: a line each). */
    aggregateFailuresMs: number;
  };
  /** Who may call; off (everyone is `anonymous`) until a method is set. */
  auth: {
    /** Static bearer tokens, kept as the hex SHA-256 of the token. */
    tokens: { principal: string; sha256: string }[];
    /** The client certificate of a mutual-TLS connection names the caller (needs server.tls.clientCa). */
    mtls?: { principalFrom: 'subject' | 'san' };
    /** JWTs signed by a key of the JWKS (a file or an https URL), with this issuer and audience. */
    jwt?: {
      jwks: string;
      issuer: string;
      audience: string;
      principalClaim: string;
      /** Refuse a JWT without an `exp` claim (default true). */
      requireExpiry?: boolean;
    };
  };
  /** What each principal may do once authentication is on (default deny). */
  rbac: {
    roles: Record<string, { rpcs: string[]; connectors: string[]; hosts: string[]; secrets: string[] }>;
    /** Principal id (or `*`, everyone authenticated) → role names. */
    bindings: Record<string, string[]>;
  };
  /** The daemon's own transport. */
  server: {
    /** Serve TLS with these files (PEM); with `clientCa`, mutual TLS. Re-read on SIGHUP. */
    tls?: { cert: string; key: string; clientCa?: string };
    /** Serve plaintext on a non-loopback address (behind a TLS-terminating proxy, say). */
    allowPlaintext: boolean;
    /** Connections open at once, all peers together (0: no limit); more are closed as they arrive. */
    maxConnections: number;
    /** Connections open at once from one peer address (0: no limit); more are closed as they arrive. */
    maxConnectionsPerPeer: number;
    /** HTTP/2 streams (calls) one connection may have open at once (0: grpc-js's default, no limit). */
    maxConcurrentStreams: number;
    /** A keepalive ping on each connection this often, ms (0: none); a peer that does not answer within keepaliveTimeoutMs is dropped. */
    keepaliveTimeMs: number;
    keepaliveTimeoutMs: number;
    /** A connection without calls this long is closed, ms (0: never). */
    maxConnectionIdleMs: number;
    /** A connection is asked to go away (GOAWAY) after this long, ms (0: never); its calls finish first. */
    maxConnectionAgeMs: number;
    /** How long the calls of an aged-out connection may still run before it is closed, ms (0: until their deadlines). */
    maxConnectionAgeGraceMs: number;
    /** A connection that has sent nothing (no TLS hello, no HTTP/2 preface) this long after it opened is closed, ms (0: never). */
    handshakeTimeoutMs: number;
  };
  /** Limits towards the data sources. */
  sources: {
    /**
     * Most connections open at once to one source endpoint (connector type, host and port),
     * over all calls together; more wait for a free one.
     */
    maxConnectionsPerEndpoint: number;
  };
  /**
   * Where data-source connections may go (README "Target policy"): allow and deny lists of
   * CIDR blocks, addresses and host-name globs, checked after DNS resolution on the address
   * dialled. Link-local and cloud metadata addresses are denied unless `allowLinkLocal`.
   */
  targets: {
    allow: string[];
    deny: string[];
    allowLinkLocal: boolean;
    /** DNS servers for data-source names instead of the system resolver (empty: the system's). */
    dnsServers: string[];
  };
  /** The secret chain: its policy, order, cache and time limits (README "Where credentials come from"). */
  secrets: {
    /** Globs of the secret references a data source may use; any other is refused. */
    allowedReferences: string[];
    /** Whether a data source's id may name its password (`env://SOURCED_SECRET_<ID>_PASSWORD`). */
    dynamicStrategies: boolean;
    /** Links of the chain in the order tried; see README "Where credentials come from". */
    order: ChainLink[];
    /** How long a resolved value is kept, milliseconds. */
    cacheTtlMs: number;
    /** Serve a value fetched at most this long ago when its provider is down; 0 is off. */
    staleIfErrorMs: number;
    /** Time limit of one provider look-up, milliseconds. */
    providerTimeoutMs: number;
  };
  /**
   * OpenTelemetry metrics (README "Metrics"); the OTLP and console exporters are chosen by the
   * `OTEL_*` variables. `prometheus`: serve a scrape endpoint at `http://host:port/metrics`
   * (off when absent; host and port default to `OTEL_EXPORTER_PROMETHEUS_HOST`/`_PORT`, then
   * 127.0.0.1 and 9464).
   */
  metrics: { prometheus?: { host?: string; port?: number } };
}

/** The plugins a daemon loads when the configuration names none. */
export const BUILTIN_PLUGINS = ['@sourced/plugin-postgres', '@sourced/plugin-mysql', '@sourced/plugin-mongodb', '@sourced/plugin-aws', '@sourced/plugin-azure'];

/** The configuration a daemon starts from before its file, environment and flags (README "Configuration"). */
export const DEFAULT_CONFIG: DaemonConfig = {
  listen: '127.0.0.1:50051',
  plugins: BUILTIN_PLUGINS,
  pluginSettings: {},
  logLevel: 'info',
  shutdownGraceMs: 10_000,
  validation: { checkTimeoutMs: 5_000 },
  discovery: { defaultStrategy: 'BALANCED', heapHeadroomMb: 48, stallTimeoutMs: 60_000, stallProbeAfterMs: 5_000 },
  preview: {
    ...DEFAULT_PREVIEW_SETTINGS,
    maskColumns: [...DEFAULT_PREVIEW_SETTINGS.maskColumns],
    maskTypes: [...DEFAULT_PREVIEW_SETTINGS.maskTypes],
    allowSystemSchemas: false,
    maskCredentialColumns: true,
  },
  profile: { ...DEFAULT_PROFILE_SETTINGS },
  limits: {
    maxConcurrentCalls: 256,
    maxConcurrentCallsPerPrincipal: 32,
    maxMessageBytes: 4 * 1024 * 1024,
    defaultDeadlineMs: 600_000,
    maxDeadlineMs: 3_600_000,
    maxEntities: 0,
    maxSampleSize: 100_000,
    maxConnectTimeoutMs: 30_000,
    maxCheckTimeoutMs: 60_000,
    authFailureBurst: 20,
    authFailuresPerMinute: 60,
  },
  audit: { stdout: false, checkpointEveryLines: 1_000, checkpointEveryMs: 60_000, aggregateFailuresMs: 10_000 },
  auth: { tokens: [] },
  rbac: { roles: {}, bindings: {} },
  server: {
    allowPlaintext: false,
    maxConnections: 1_000,
    maxConnectionsPerPeer: 100,
    maxConcurrentStreams: 100,
    keepaliveTimeMs: 60_000,
    keepaliveTimeoutMs: 20_000,
    maxConnectionIdleMs: 300_000,
    maxConnectionAgeMs: 1_800_000,
    maxConnectionAgeGraceMs: 0,
    handshakeTimeoutMs: 10_000,
  },
  sources: { maxConnectionsPerEndpoint: 10 },
  targets: { allow: [], deny: [], allowLinkLocal: false, dnsServers: [] },
  secrets: {
    allowedReferences: DEFAULT_SECRET_POLICY.allowedReferences,
    dynamicStrategies: DEFAULT_SECRET_POLICY.dynamicStrategies,
    order: [...DEFAULT_CHAIN_ORDER],
    cacheTtlMs: 300_000,
    staleIfErrorMs: 0,
    providerTimeoutMs: 10_000,
  },
  metrics: {},
};

/** A configuration problem, naming where the bad value came from. */
export class ConfigError extends Error {}

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];
const STRATEGIES: DiscoveryStrategy[] = ['CONSERVATIVE', 'BALANCED', 'AGGRESSIVE', 'ADAPTIVE'];

/** The flags `sourced serve` takes. */
export const SERVE_FLAGS = {
  config: { type: 'string' },
  listen: { type: 'string' },
  plugin: { type: 'string', multiple: true },
  'log-level': { type: 'string' },
  'shutdown-grace-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Builds the configuration from, in increasing precedence: defaults, the config file
 * (`--config` or `SOURCED_CONFIG`; JSON or YAML), `SOURCED_*` environment variables, flags.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DaemonConfig {
  const { values } = parseArgs({ args: argv, options: SERVE_FLAGS, allowPositionals: false, strict: true });
  const config: DaemonConfig = structuredClone(DEFAULT_CONFIG);

  const file = values.config ?? env.SOURCED_CONFIG;
  if (file) mergeFile(config, resolve(cwd, file));

  const fromEnv: Record<string, string | undefined> = {
    listen: env.SOURCED_LISTEN,
    plugins: env.SOURCED_PLUGINS,
    logLevel: env.SOURCED_LOG_LEVEL,
    shutdownGraceMs: env.SOURCED_SHUTDOWN_GRACE_MS,
    checkTimeoutMs: env.SOURCED_CHECK_TIMEOUT_MS,
    allowedReferences: env.SOURCED_SECRETS_ALLOWED_REFERENCES,
    maxConnectionsPerEndpoint: env.SOURCED_MAX_CONNECTIONS_PER_ENDPOINT,
    tlsCert: env.SOURCED_TLS_CERT,
    tlsKey: env.SOURCED_TLS_KEY,
    tlsClientCa: env.SOURCED_TLS_CLIENT_CA,
    allowPlaintext: env.SOURCED_ALLOW_PLAINTEXT,
    auditFile: env.SOURCED_AUDIT_FILE,
    auditSigningKey: env.SOURCED_AUDIT_SIGNING_KEY,
    targetsAllow: env.SOURCED_TARGETS_ALLOW,
    targetsDeny: env.SOURCED_TARGETS_DENY,
    prometheusPort: env.SOURCED_PROMETHEUS_PORT,
  };
  apply(config, fromEnv, (k) => `environment variable SOURCED_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`, cwd);
  apply(
    config,
    {
      listen: values.listen,
      plugins: values.plugin?.join(','),
      logLevel: values['log-level'],
      shutdownGraceMs: values['shutdown-grace-ms'],
    },
    (k) => `flag --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace('plugins', 'plugin')}`,
    cwd,
  );
  parseListen(config.listen, 'listen');
  if (config.server.tls && (!config.server.tls.cert || !config.server.tls.key)) {
    throw new ConfigError('server.tls needs both cert and key (SOURCED_TLS_CERT and SOURCED_TLS_KEY)');
  }
  try {
    new TargetPolicy(config.targets, { dnsServers: config.targets.dnsServers });
  } catch (error) {
    throw new ConfigError(`targets.dnsServers: ${(error as Error).message}`);
  }
  if (config.auth.mtls && !config.server.tls?.clientCa) {
    throw new ConfigError('auth.mtls names callers by their client certificate: it needs mutual TLS (server.tls with clientCa)');
  }
  return config;
}

function apply(config: DaemonConfig, values: Record<string, string | undefined>, origin: (key: string) => string, cwd: string): void {
  for (const [key, raw] of Object.entries(values)) {
    if (raw === undefined || raw === '') continue;
    switch (key) {
      case 'listen':
        parseListen(raw, origin(key));
        config.listen = raw;
        break;
      case 'plugins':
        config.plugins = raw.split(',').map((p) => p.trim()).filter(Boolean).map((p) => resolvePluginPath(p, cwd));
        break;
      case 'logLevel':
        config.logLevel = oneOf(raw, LEVELS, origin(key));
        break;
      case 'shutdownGraceMs':
        config.shutdownGraceMs = nonNegative(raw, origin(key));
        break;
      case 'checkTimeoutMs':
        config.validation.checkTimeoutMs = nonNegative(raw, origin(key));
        break;
      case 'allowedReferences':
        config.secrets.allowedReferences = raw.split(',').map((p) => p.trim()).filter(Boolean);
        break;
      case 'maxConnectionsPerEndpoint':
        config.sources.maxConnectionsPerEndpoint = positiveInteger(raw, origin(key));
        break;
      case 'tlsCert':
      case 'tlsKey':
      case 'tlsClientCa': {
        const tls = (config.server.tls ??= { cert: '', key: '' });
        const path = resolve(cwd, raw);
        if (key === 'tlsCert') tls.cert = path;
        else if (key === 'tlsKey') tls.key = path;
        else tls.clientCa = path;
        break;
      }
      case 'allowPlaintext':
        config.server.allowPlaintext = bool(raw, origin(key));
        break;
      case 'auditFile':
        config.audit = { ...config.audit, file: resolve(cwd, raw), stdout: false };
        break;
      case 'auditSigningKey':
        config.audit.signingKey = raw;
        break;
      case 'prometheusPort':
        config.metrics.prometheus = { ...config.metrics.prometheus, port: portNumber(raw, origin(key)) };
        break;
      case 'targetsAllow':
      case 'targetsDeny': {
        const list = checkTargetEntries(raw.split(',').map((p) => p.trim()).filter(Boolean), key === 'targetsAllow' ? 'allow' : 'deny', origin(key));
        if (key === 'targetsAllow') config.targets.allow = list;
        else config.targets.deny = list;
        break;
      }
    }
  }
}

function mergeFile(config: DaemonConfig, path: string): void {
  let doc: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  if (doc === null || doc === undefined) return;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path} must hold an object`);
  const d = doc as Record<string, unknown>;
  const where = (k: string) => `${k} in ${path}`;
  const known = new Set(['listen', 'plugins', 'pluginSettings', 'logLevel', 'shutdownGraceMs', 'validation', 'discovery', 'limits', 'audit', 'auth', 'rbac', 'server', 'sources', 'targets', 'secrets', 'metrics', 'preview', 'profile']);
  for (const k of Object.keys(d)) if (!known.has(k)) throw new ConfigError(`unknown option ${where(k)}; known: ${[...known].join(', ')}`);
  if (d.listen !== undefined) config.listen = parseListen(String(d.listen), where('listen')) && String(d.listen);
  if (d.plugins !== undefined) {
    if (!Array.isArray(d.plugins) || !d.plugins.every((p) => typeof p === 'string')) throw new ConfigError(`${where('plugins')} must be a list of module names or paths`);
    config.plugins = (d.plugins as string[]).map((p) => resolvePluginPath(p, dirname(path)));
  }
  if (d.pluginSettings !== undefined && d.pluginSettings !== null) {
    if (typeof d.pluginSettings !== 'object' || Array.isArray(d.pluginSettings)) throw new ConfigError(`${where('pluginSettings')} must be a map of plugin id to that plugin's settings`);
    config.pluginSettings = d.pluginSettings as Record<string, unknown>;
  }
  if (d.logLevel !== undefined) config.logLevel = oneOf(String(d.logLevel), LEVELS, where('logLevel'));
  if (d.shutdownGraceMs !== undefined) config.shutdownGraceMs = nonNegative(String(d.shutdownGraceMs), where('shutdownGraceMs'));
  // The sections are checked like the top level: a misspelt key must not silently leave a
  // default in place (`secrets.dynamicStrategy: false` would keep dynamic look-ups on).
  const section = (key: string, keys: string[]): Record<string, unknown> | undefined => {
    const value = d[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${where(key)} must be an object with ${keys.join(', ')}`);
    for (const k of Object.keys(value)) if (!keys.includes(k)) throw new ConfigError(`unknown option ${where(`${key}.${k}`)}; known: ${keys.join(', ')}`);
    return value as Record<string, unknown>;
  };
  const validation = section('validation', ['checkTimeoutMs']);
  if (validation?.checkTimeoutMs !== undefined) config.validation.checkTimeoutMs = nonNegative(String(validation.checkTimeoutMs), where('validation.checkTimeoutMs'));
  const discovery = section('discovery', ['defaultStrategy', 'heapHeadroomMb', 'stallTimeoutMs', 'stallProbeAfterMs']);
  if (discovery?.defaultStrategy !== undefined) config.discovery.defaultStrategy = oneOf(String(discovery.defaultStrategy), STRATEGIES, where('discovery.defaultStrategy'));
  if (discovery?.heapHeadroomMb !== undefined) config.discovery.heapHeadroomMb = nonNegative(String(discovery.heapHeadroomMb), where('discovery.heapHeadroomMb'));
  if (discovery?.stallTimeoutMs !== undefined) config.discovery.stallTimeoutMs = nonNegative(String(discovery.stallTimeoutMs), where('discovery.stallTimeoutMs'));
  if (discovery?.stallProbeAfterMs !== undefined) config.discovery.stallProbeAfterMs = nonNegative(String(discovery.stallProbeAfterMs), where('discovery.stallProbeAfterMs'));
  const connectionKeys = ['maxConnections', 'maxConnectionsPerPeer', 'maxConcurrentStreams', 'keepaliveTimeMs', 'keepaliveTimeoutMs', 'maxConnectionIdleMs', 'maxConnectionAgeMs', 'maxConnectionAgeGraceMs', 'handshakeTimeoutMs'] as const;
  const server = section('server', ['tls', 'allowPlaintext', ...connectionKeys]);
  for (const k of connectionKeys) {
    if (server?.[k] === undefined) continue;
    const n = Number(server[k]);
    if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${where(`server.${k}`)}: "${String(server[k])}" is not a non-negative whole number`);
    config.server[k] = n;
  }
  if (server?.allowPlaintext !== undefined) {
    if (typeof server.allowPlaintext !== 'boolean') throw new ConfigError(`${where('server.allowPlaintext')} must be true or false`);
    config.server.allowPlaintext = server.allowPlaintext;
  }
  if (server?.tls !== undefined && server.tls !== null) {
    const tls = server.tls as Record<string, unknown>;
    const keys = ['cert', 'key', 'clientCa'];
    if (typeof tls !== 'object' || Array.isArray(tls)) throw new ConfigError(`${where('server.tls')} must be an object with ${keys.join(', ')}`);
    for (const k of Object.keys(tls)) if (!keys.includes(k)) throw new ConfigError(`unknown option ${where(`server.tls.${k}`)}; known: ${keys.join(', ')}`);
    for (const k of ['cert', 'key']) if (typeof tls[k] !== 'string' || tls[k] === '') throw new ConfigError(`${where(`server.tls.${k}`)} must be the path of a PEM file`);
    if (tls.clientCa !== undefined && typeof tls.clientCa !== 'string') throw new ConfigError(`${where('server.tls.clientCa')} must be the path of a PEM file`);
    // Paths in the file are relative to the file.
    config.server.tls = {
      cert: resolve(dirname(path), String(tls.cert)),
      key: resolve(dirname(path), String(tls.key)),
      ...(tls.clientCa ? { clientCa: resolve(dirname(path), String(tls.clientCa)) } : {}),
    };
  }
  const limitKeys = Object.keys(DEFAULT_CONFIG.limits) as (keyof DaemonConfig['limits'])[];
  const limits = section('limits', limitKeys);
  for (const k of limitKeys) {
    if (limits?.[k] === undefined) continue;
    const n = Number(limits[k]);
    const positive = k.startsWith('maxConcurrent') || k === 'maxMessageBytes' || k === 'maxSampleSize';
    if (!Number.isInteger(n) || n < (positive ? 1 : 0)) throw new ConfigError(`${where(`limits.${k}`)}: "${String(limits[k])}" is not a ${positive ? 'positive' : 'non-negative'} whole number`);
    config.limits[k] = n;
  }
  const audit = section('audit', ['file', 'stdout', 'signingKey', 'checkpointEveryLines', 'checkpointEveryMs', 'aggregateFailuresMs']);
  if (audit) {
    if (audit.signingKey !== undefined && (typeof audit.signingKey !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\//i.test(audit.signingKey))) {
      throw new ConfigError(`${where('audit.signingKey')} must be a secret reference (env://NAME, file:///path, aws-sm://..., azure-kv://...), never the key itself`);
    }
    if (audit.signingKey !== undefined) config.audit.signingKey = String(audit.signingKey);
    if (audit.checkpointEveryLines !== undefined) config.audit.checkpointEveryLines = positiveInteger(String(audit.checkpointEveryLines), where('audit.checkpointEveryLines'));
    if (audit.checkpointEveryMs !== undefined) config.audit.checkpointEveryMs = nonNegative(String(audit.checkpointEveryMs), where('audit.checkpointEveryMs'));
    if (audit.aggregateFailuresMs !== undefined) config.audit.aggregateFailuresMs = nonNegative(String(audit.aggregateFailuresMs), where('audit.aggregateFailuresMs'));
    if (audit.stdout !== undefined && typeof audit.stdout !== 'boolean') throw new ConfigError(`${where('audit.stdout')} must be true or false`);
    if (audit.file !== undefined && (typeof audit.file !== 'string' || audit.file === '')) throw new ConfigError(`${where('audit.file')} must be a path`);
    if (audit.file && audit.stdout) throw new ConfigError(`${where('audit')}: set file or stdout, not both`);
    const { file: _file, ...rest } = config.audit;
    config.audit = { ...rest, stdout: audit.stdout === true, ...(audit.file ? { file: resolve(dirname(path), String(audit.file)) } : {}) };
  }
  const auth = section('auth', ['tokens', 'mtls', 'jwt']);
  if (auth) readAuth(config, auth, where, dirname(path));
  const rbac = section('rbac', ['roles', 'bindings']);
  if (rbac) readRbac(config, rbac, where);
  const preview = section('preview', ['defaultRows', 'maxRows', 'maskColumns', 'maskTypes', 'allowSystemSchemas', 'maskCredentialColumns']);
  if (preview) {
    if (preview.defaultRows !== undefined) config.preview.defaultRows = positiveInteger(String(preview.defaultRows), where('preview.defaultRows'));
    if (preview.maxRows !== undefined) config.preview.maxRows = positiveInteger(String(preview.maxRows), where('preview.maxRows'));
    for (const k of ['maskColumns', 'maskTypes'] as const) {
      const value = preview[k];
      if (value === undefined || value === null) continue;
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) throw new ConfigError(`${where(`preview.${k}`)} must be a list of patterns`);
      config.preview[k] = value as string[];
    }
    for (const k of ['allowSystemSchemas', 'maskCredentialColumns'] as const) {
      if (preview[k] === undefined) continue;
      if (typeof preview[k] !== 'boolean') throw new ConfigError(`${where(`preview.${k}`)} must be true or false`);
      config.preview[k] = preview[k];
    }
    if (config.preview.defaultRows > config.preview.maxRows) {
      throw new ConfigError(`${where('preview.defaultRows')}: ${config.preview.defaultRows} is more than preview.maxRows (${config.preview.maxRows})`);
    }
  }
  const profile = section('profile', ['defaultSampleRows', 'maxSampleRows']);
  if (profile) {
    if (profile.defaultSampleRows !== undefined) config.profile.defaultSampleRows = positiveInteger(String(profile.defaultSampleRows), where('profile.defaultSampleRows'));
    if (profile.maxSampleRows !== undefined) config.profile.maxSampleRows = positiveInteger(String(profile.maxSampleRows), where('profile.maxSampleRows'));
    if (config.profile.defaultSampleRows > config.profile.maxSampleRows) {
      throw new ConfigError(`${where('profile.defaultSampleRows')}: ${config.profile.defaultSampleRows} is more than profile.maxSampleRows (${config.profile.maxSampleRows})`);
    }
  }
  const sources = section('sources', ['maxConnectionsPerEndpoint']);
  if (sources?.maxConnectionsPerEndpoint !== undefined) {
    config.sources.maxConnectionsPerEndpoint = positiveInteger(String(sources.maxConnectionsPerEndpoint), where('sources.maxConnectionsPerEndpoint'));
  }
  const targets = section('targets', ['allow', 'deny', 'allowLinkLocal', 'dnsServers']);
  if (targets) {
    for (const k of ['allow', 'deny', 'dnsServers'] as const) {
      const value = targets[k];
      if (value === undefined || value === null) continue;
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.trim() !== '')) {
        throw new ConfigError(`${where(`targets.${k}`)} must be a list of ${k === 'dnsServers' ? 'addresses (ip or ip:port)' : 'CIDR blocks, addresses or host-name patterns'}`);
      }
      const list = value.map((v: string) => v.trim());
      config.targets[k] = k === 'dnsServers' ? list : checkTargetEntries(list, k, where(`targets.${k}`));
    }
    if (targets.allowLinkLocal !== undefined) {
      if (typeof targets.allowLinkLocal !== 'boolean') throw new ConfigError(`${where('targets.allowLinkLocal')} must be true or false`);
      config.targets.allowLinkLocal = targets.allowLinkLocal;
    }
  }
  const secrets = section('secrets', ['allowedReferences', 'dynamicStrategies', 'order', 'cacheTtlMs', 'staleIfErrorMs', 'providerTimeoutMs']);
  if (secrets) {
    if (secrets.allowedReferences !== undefined) {
      if (!Array.isArray(secrets.allowedReferences)) throw new ConfigError(`${where('secrets.allowedReferences')} must be a list of patterns`);
      config.secrets.allowedReferences = secrets.allowedReferences.map(String);
    }
    if (secrets.dynamicStrategies !== undefined) {
      if (typeof secrets.dynamicStrategies !== 'boolean') throw new ConfigError(`${where('secrets.dynamicStrategies')} must be true or false`);
      config.secrets.dynamicStrategies = secrets.dynamicStrategies;
    }
    if (secrets.cacheTtlMs !== undefined) config.secrets.cacheTtlMs = nonNegative(String(secrets.cacheTtlMs), where('secrets.cacheTtlMs'));
    if (secrets.staleIfErrorMs !== undefined) config.secrets.staleIfErrorMs = nonNegative(String(secrets.staleIfErrorMs), where('secrets.staleIfErrorMs'));
    if (secrets.order !== undefined) {
      const links = Array.isArray(secrets.order) ? secrets.order.map(String) : [];
      const bad = links.find((l) => !(DEFAULT_CHAIN_ORDER as readonly string[]).includes(l));
      if (!Array.isArray(secrets.order) || bad !== undefined || new Set(links).size !== links.length) {
        throw new ConfigError(`${where('secrets.order')} must list distinct links among ${DEFAULT_CHAIN_ORDER.join(', ')}${bad ? `; "${bad}" is not one` : ''}`);
      }
      config.secrets.order = links as ChainLink[];
    }
    if (secrets.providerTimeoutMs !== undefined) config.secrets.providerTimeoutMs = nonNegative(String(secrets.providerTimeoutMs), where('secrets.providerTimeoutMs'));
  }
  const metrics = section('metrics', ['prometheus']);
  if (metrics?.prometheus === false || metrics?.prometheus === null) {
    delete config.metrics.prometheus;
  } else if (metrics?.prometheus !== undefined) {
    const p = metrics.prometheus as Record<string, unknown>;
    const keys = ['host', 'port'];
    if (typeof p !== 'object' || Array.isArray(p)) throw new ConfigError(`${where('metrics.prometheus')} must be an object with ${keys.join(', ')} (or false)`);
    for (const k of Object.keys(p)) if (!keys.includes(k)) throw new ConfigError(`unknown option ${where(`metrics.prometheus.${k}`)}; known: ${keys.join(', ')}`);
    if (p.host !== undefined && (typeof p.host !== 'string' || p.host.trim() === '')) throw new ConfigError(`${where('metrics.prometheus.host')} must be a host name or address`);
    config.metrics.prometheus = {
      ...(p.host !== undefined ? { host: String(p.host).trim() } : {}),
      ...(p.port !== undefined ? { port: portNumber(String(p.port), where('metrics.prometheus.port')) } : {}),
    };
  }
}

/** A relative path (`./x`, `../x`) is resolved against `base`; a package name is kept as it is. */
function resolvePluginPath(specifier: string, base: string): string {
  return specifier.startsWith('./') || specifier.startsWith('../') ? resolve(base, specifier) : specifier;
}

/** Splits `host:port` (IPv6 in brackets); throws ConfigError naming the origin. */
export function parseListen(value: string, origin: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`${origin}: "${value}" is not HOST:PORT (for example 127.0.0.1:50051, or [::]:50051)`);
  return { host: m[1], port };
}

/** Target-policy entries, each checked; a bad one is a ConfigError naming where it came from. */
function checkTargetEntries(entries: string[], key: 'allow' | 'deny', origin: string): string[] {
  try {
    new TargetPolicy({ allow: key === 'allow' ? entries : [], deny: key === 'deny' ? entries : [] });
  } catch (error) {
    const detail = (error as Error).message.replace(/^targets\.(allow|deny): /, '');
    throw new ConfigError(`${origin}: ${detail} (an entry is a CIDR block such as 10.0.0.0/8, an address, or a host-name pattern such as *.db.example.com)`);
  }
  return entries;
}

function oneOf<T extends string>(raw: string, allowed: readonly T[], origin: string): T {
  const v = allowed.find((a) => a.toLowerCase() === raw.toLowerCase());
  if (!v) throw new ConfigError(`${origin}: "${raw}" is not one of ${allowed.join(', ')}`);
  return v;
}

function nonNegative(raw: string, origin: string): number {
  const n = Number(raw);
  // Number('') and Number(' ') are 0: a blank value is a mistake, not "no grace period".
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new ConfigError(`${origin}: "${raw}" is not a non-negative number`);
  return n;
}

function positiveInteger(raw: string, origin: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 1) throw new ConfigError(`${origin}: "${raw}" is not a positive whole number`);
  return n;
}

function portNumber(raw: string, origin: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError(`${origin}: "${raw}" is not a port (1-65535)`);
  return n;
}

function bool(raw: string, origin: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new ConfigError(`${origin}: "${raw}" is not true or false`);
}

/** The `auth` section: every entry checked, the JWKS path relative to the file. */
function readAuth(config: DaemonConfig, auth: Record<string, unknown>, where: (k: string) => string, base: string): void {
  const object = (value: unknown, key: string, keys: string[]): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${where(key)} must be an object with ${keys.join(', ')}`);
    for (const k of Object.keys(value)) if (!keys.includes(k)) throw new ConfigError(`unknown option ${where(`${key}.${k}`)}; known: ${keys.join(', ')}`);
    return value as Record<string, unknown>;
  };
  const text = (value: unknown, key: string): string => {
    if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${where(key)} must be a non-empty string`);
    return value;
  };
  if (auth.tokens !== undefined) {
    if (!Array.isArray(auth.tokens)) throw new ConfigError(`${where('auth.tokens')} must be a list of { principal, sha256 }`);
    config.auth.tokens = auth.tokens.map((t, i) => {
      const entry = object(t, `auth.tokens[${i}]`, ['principal', 'sha256']);
      const sha256 = text(entry.sha256, `auth.tokens[${i}].sha256`).toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(sha256)) {
        throw new ConfigError(`${where(`auth.tokens[${i}].sha256`)} must be the hex SHA-256 of the token (64 hex digits; printf %s "$TOKEN" | sha256sum), never the token itself`);
      }
      const principal = text(entry.principal, `auth.tokens[${i}].principal`);
      // `jwt:` names JWT subjects (and `token:`/`mtls:` are binding prefixes): a token named so would pass for one.
      if (/^(jwt|token|mtls):/i.test(principal)) throw new ConfigError(`${where(`auth.tokens[${i}].principal`)}: "${principal}" starts with a prefix that names how a caller authenticated (jwt:, token:, mtls:); pick another name`);
      return { principal, sha256 };
    });
  }
  if (auth.mtls !== undefined && auth.mtls !== null) {
    const mtls = object(auth.mtls, 'auth.mtls', ['principalFrom']);
    config.auth.mtls = { principalFrom: mtls.principalFrom === undefined ? 'subject' : oneOf(String(mtls.principalFrom), ['subject', 'san'] as const, where('auth.mtls.principalFrom')) };
  }
  if (auth.jwt !== undefined && auth.jwt !== null) {
    const jwt = object(auth.jwt, 'auth.jwt', ['jwks', 'issuer', 'audience', 'principalClaim', 'requireExpiry']);
    if (jwt.requireExpiry !== undefined && typeof jwt.requireExpiry !== 'boolean') throw new ConfigError(`${where('auth.jwt.requireExpiry')} must be true or false`);
    const jwks = text(jwt.jwks, 'auth.jwt.jwks');
    config.auth.jwt = {
      jwks: /^https?:\/\//i.test(jwks) ? jwks : resolve(base, jwks),
      issuer: text(jwt.issuer, 'auth.jwt.issuer'),
      audience: text(jwt.audience, 'auth.jwt.audience'),
      principalClaim: jwt.principalClaim === undefined ? 'sub' : text(jwt.principalClaim, 'auth.jwt.principalClaim'),
      requireExpiry: jwt.requireExpiry !== false,
    };
  }
}

/** The `rbac` section: roles of glob lists, bindings to roles that exist. */
function readRbac(config: DaemonConfig, rbac: Record<string, unknown>, where: (k: string) => string): void {
  const GRANTS = ['rpcs', 'connectors', 'hosts', 'secrets'] as const;
  const map = (value: unknown, key: string): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${where(key)} must be a map`);
    return value as Record<string, unknown>;
  };
  const globs = (value: unknown, key: string): string[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) throw new ConfigError(`${where(key)} must be a list of patterns`);
    return value as string[];
  };
  for (const [name, raw] of Object.entries(map(rbac.roles ?? {}, 'rbac.roles'))) {
    const role = map(raw, `rbac.roles.${name}`);
    for (const k of Object.keys(role)) if (!(GRANTS as readonly string[]).includes(k)) throw new ConfigError(`unknown option ${where(`rbac.roles.${name}.${k}`)}; known: ${GRANTS.join(', ')}`);
    config.rbac.roles[name] = {
      rpcs: globs(role.rpcs, `rbac.roles.${name}.rpcs`),
      connectors: globs(role.connectors, `rbac.roles.${name}.connectors`),
      hosts: globs(role.hosts, `rbac.roles.${name}.hosts`),
      secrets: globs(role.secrets, `rbac.roles.${name}.secrets`),
    };
  }
  for (const [principal, raw] of Object.entries(map(rbac.bindings ?? {}, 'rbac.bindings'))) {
    const roles = globs(raw, `rbac.bindings.${principal}`);
    const unknown = roles.find((r) => !config.rbac.roles[r]);
    if (unknown) throw new ConfigError(`${where(`rbac.bindings.${principal}`)} names the role "${unknown}", which rbac.roles does not define`);
    config.rbac.bindings[principal] = roles;
  }
}
