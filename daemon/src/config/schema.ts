/**
 * The daemon's configuration, declared once: this schema gives the TypeScript type
 * (`DaemonConfig`), the defaults (`DEFAULT_CONFIG`), the file parser (strict: an unknown key is
 * an error naming its path), the `SOURCED_*` environment variables (`env.ts`, one per leaf) and
 * the README's configuration table (`docs.ts`, from the descriptions below).
 */
import { DEFAULT_CHAIN_ORDER, DEFAULT_PREVIEW_SETTINGS, DEFAULT_PROFILE_SETTINGS, DEFAULT_SECRET_POLICY } from '@sourced/core';
import { z } from 'zod';
import { bool, dnsServers, list, listenAddress, number, oneOf, patterns, secretReference, targetEntries, text, tokenEntry, type ConfigMeta } from './kinds';

/** The plugins a daemon loads when the configuration names none. */
export const BUILTIN_PLUGINS = ['@sourced/plugin-postgres', '@sourced/plugin-mysql', '@sourced/plugin-mongodb', '@sourced/plugin-aws', '@sourced/plugin-azure'];

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const STRATEGIES = ['CONSERVATIVE', 'BALANCED', 'AGGRESSIVE', 'ADAPTIVE'] as const;
const CHAIN_LINKS = ['reference', 'connection_properties', 'additional_properties', 'dynamic'] as const satisfies typeof DEFAULT_CHAIN_ORDER;

/** Documents a node: its description, and what else the README and the loaders need. */
const doc = <T extends z.ZodType>(schema: T, description: string, meta: Omit<ConfigMeta, 'description'> = {}): T => schema.meta({ description, ...meta });
/** A section: its keys checked strictly, missing keys taking their defaults. */
const section = <S extends z.core.$ZodLooseShape>(shape: S) => z.strictObject(shape).prefault({} as never);
const ms = (value: number, description: string, meta?: Omit<ConfigMeta, 'description'>) => doc(number('nonNegative').default(value), description, meta);
const wholeMs = (value: number, description: string) => doc(number('nonNegativeInt').default(value), description);
const count = (value: number, description: string, meta?: Omit<ConfigMeta, 'description'>) => doc(number('positiveInt').default(value), description, meta);
const filePath = (description: string, meta: Omit<ConfigMeta, 'description'> = {}) =>
  doc(text('the path of a PEM file'), description, { path: 'file', ...meta });

const rbacRole = z.strictObject({
  rpcs: patterns().default([]),
  connectors: patterns().default([]),
  hosts: patterns().default([]),
  secrets: patterns().default([]),
  // Keys of envelope encryption, as `<key provider>:<key id>` globs (`local:*`); absent: none.
  keys: patterns().optional(),
});

/** The configuration's shape, every key checked; `DaemonConfigSchema` adds the rules between keys. */
export const DaemonConfigShape = z.strictObject({
  listen: doc(listenAddress().default('127.0.0.1:50051'), '`HOST:PORT` to listen on; port 0 picks a free port.', { flag: '--listen HOST:PORT' }),
  plugins: doc(
    list(z.string({ error: 'must be a module name or path' }), 'a list of module names or paths').default(() => [...BUILTIN_PLUGINS]),
    'Plugin module specifiers (package names or paths, a relative path relative to where it was written), loaded in order.',
    {
      path: 'module',
      flag: '--plugin MODULE (repeatable)',
      defaultText: 'the five built-ins: `@sourced/plugin-postgres`, `-mysql`, `-mongodb`, `-aws`, `-azure`',
    },
  ),
  pluginSettings: doc(
    z.record(z.string(), z.unknown(), { error: "must be a map of plugin id to that plugin's settings" }).default(() => ({})),
    'Settings for plugins, by plugin id; each plugin reads its own in `register` (`registrar.settings`).',
  ),
  logLevel: doc(oneOf(LOG_LEVELS).default('info'), 'The lowest level of log line written (JSON lines on stderr).', { flag: '--log-level' }),
  shutdownGraceMs: ms(10_000, 'How long SIGTERM lets in-flight calls finish before cancelling them, ms.', { flag: '--shutdown-grace-ms' }),
  validation: section({
    checkTimeoutMs: ms(5_000, 'The time limit of one validation check unless a request sets its own, ms.', { envAliases: ['SOURCED_CHECK_TIMEOUT_MS'] }),
  }),
  discovery: section({
    defaultStrategy: doc(oneOf(STRATEGIES).default('BALANCED'), 'The strategy of a request that names none (see Discovery strategies).'),
    heapHeadroomMb: ms(
      48,
      'Heap growth (MiB) between batches after which the daemon runs a full garbage collection, so memory follows the pages in flight (the bound when V8 falls behind `heapGrowingPercent`); `0` is off.',
    ),
    heapGrowingPercent: doc(
      number('nonNegative').default(60),
      "How far V8 lets the heap grow past what a full collection left alive before it collects again, percent (V8's `--heap-growing-percent`, set for the whole process when the daemon starts): a discovery page is garbage soon after it is promoted, and V8's own factor (up to 4x) let a 35 MiB live heap reach 147 MiB; `0` leaves V8's own.",
    ),
    stallTimeoutMs: doc(
      number('nonNegative').optional(),
      "Overrides every strategy's stall backstop, ms, for every kind of call (catalog reads, a preview's reads, each figure of a profile): the longest one read may go without an answer whatever the probes say; past it the read is cancelled, a HYBRID call fails over, any other ends `UNAVAILABLE` `SOURCE_STALLED` (a discovery with `resume_after` in the error; a frozen server never fires its own statement timeout); `0` is no bound.",
      { defaultText: "unset: the strategy's (see Discovery strategies)" },
    ),
    stallProbeAfterMs: doc(
      number('nonNegative').optional(),
      "Overrides every strategy's stall probe delay, ms, for every kind of call: after a read has waited this long the endpoint is probed with a new connection (3 s at most), and again every this long while the read waits; one that does not answer makes the read stalled then, so a frozen HYBRID primary fails over within about this + 3 s; one that answers lets a slow statement go on; `0` is no probe.",
      { defaultText: "unset: the strategy's (see Discovery strategies)" },
    ),
  }),
  preview: section({
    defaultRows: count(DEFAULT_PREVIEW_SETTINGS.defaultRows, 'PreviewTable: rows when a request asks for none (see Previewing a table).'),
    maxRows: count(DEFAULT_PREVIEW_SETTINGS.maxRows, 'PreviewTable: the most rows a request may ask for.'),
    maskColumns: doc(
      patterns().default(() => [...DEFAULT_PREVIEW_SETTINGS.maskColumns]),
      'Globs of column names (MongoDB: field names) whose values are masked (never read), case-insensitive; applies to profiles too.',
    ),
    maskTypes: doc(
      patterns().default(() => [...DEFAULT_PREVIEW_SETTINGS.maskTypes]),
      'Globs of column types whose values are masked, case-insensitive.',
    ),
    allowSystemSchemas: doc(
      bool().default(false).optional(),
      "Preview and profile tables of the databases' own schemas (pg_catalog, information_schema, mysql, performance_schema, sys, MongoDB's admin, local, config); off, a call for one is `PERMISSION_DENIED` `SYSTEM_TABLE_NOT_ALLOWED`.",
    ),
    maskCredentialColumns: doc(
      bool().default(true).optional(),
      "Mask each connector's credential columns (pg_authid.rolpassword, mysql.user.authentication_string, admin.system.users credentials, …) whatever `maskColumns` says; applies to profiles too.",
    ),
  }),
  profile: section({
    defaultSampleRows: count(
      DEFAULT_PROFILE_SETTINGS.defaultSampleRows,
      'ProfileTable: rows a SAMPLE reads when a request names none (see Profiling a table; masking follows `preview`).',
    ),
    maxSampleRows: count(DEFAULT_PROFILE_SETTINGS.maxSampleRows, 'ProfileTable: the most rows a SAMPLE may read.'),
  }),
  limits: section({
    maxConcurrentCalls: count(256, 'Calls in flight at once, all callers together.'),
    maxConcurrentCallsPerPrincipal: count(32, 'Calls in flight at once per principal.'),
    maxMessageBytes: count(4 * 1024 * 1024, 'Largest request message, bytes.'),
    defaultDeadlineMs: wholeMs(600_000, 'The deadline of a call that sets none, ms; `0`: none.'),
    maxDeadlineMs: wholeMs(3_600_000, 'The longest deadline a call gets, whatever it asks, ms; `0`: no maximum.'),
    maxEntities: wholeMs(0, "Most relations and collections one discovery sends; a request's `max_entities` is capped to it; `0`: no cap."),
    maxSampleSize: count(100_000, 'Largest sample per collection a request may ask for.'),
    maxConnectTimeoutMs: wholeMs(30_000, 'The longest `connect_timeout_ms`/`connect_timeout_seconds` a data source gets, ms; `0`: no maximum.'),
    maxCheckTimeoutMs: wholeMs(60_000, 'The longest `check_timeout_ms` a validation gets, ms; `0`: no maximum.'),
    authFailureBurst: wholeMs(
      20,
      'Failed authentications one peer address may have at once; past them (and `authFailuresPerMinute`) its calls are refused before authentication, `RESOURCE_EXHAUSTED`; `0`: off.',
    ),
    authFailuresPerMinute: wholeMs(60, 'Failed authentications one peer address may add per minute after the burst; `0`: off.'),
  }),
  audit: section({
    file: doc(text('a path').optional(), 'Write the audit log (one hash-chained JSON line per call) to this file, appended, mode 0600; not with `stdout`.', {
      path: 'file',
      defaultText: 'none (off)',
    }),
    stdout: doc(bool().default(false), 'Write the audit log to stdout; not with `file`.'),
    signingKey: doc(
      secretReference().optional(),
      'A secret reference (`env://`, `file://`, `aws-sm://`, `azure-kv://`) whose value, at least 16 bytes, signs checkpoints in the audit log with HMAC-SHA256; never the key itself.',
      { defaultText: 'none (off)' },
    ),
    checkpointEveryLines: count(1_000, 'A signed checkpoint after this many lines (also at every start and stop).'),
    checkpointEveryMs: ms(60_000, 'A signed checkpoint once lines have waited this long for one, ms; `0`: by count and at stop only.'),
    aggregateFailuresMs: ms(
      10_000,
      'Calls refused before the caller is known: the first per peer, RPC and code is a line, the rest of this window one line with their `count`, ms; `0`: a line each.',
    ),
  }),
  auth: section({
    tokens: doc(
      list(tokenEntry(), 'a list of { principal, sha256 }').default([]),
      'Static bearer tokens as `{ principal, sha256 }`, the hex SHA-256 of each token, never the token (see Security).',
    ),
    mtls: z
      .strictObject({
        principalFrom: doc(
          oneOf(['subject', 'san'] as const).default('subject'),
          'Name a mutual-TLS caller by its client certificate (needs `server.tls.clientCa`): `subject` or `san`.',
          { defaultText: 'none (off); `subject` when the section is set' },
        ),
      })
      .optional(),
    jwt: z
      .strictObject({
        jwks: doc(text(), 'JWTs signed by a key of this JWKS (a file, relative to where it was written, or an https URL) authenticate callers.', {
          path: 'fileOrUrl',
          defaultText: 'none (off)',
        }),
        issuer: doc(text(), 'The `iss` a JWT must have.', { defaultText: 'none; required with `jwks`' }),
        audience: doc(text(), 'The `aud` a JWT must have.', { defaultText: 'none; required with `jwks`' }),
        principalClaim: doc(text().default('sub'), 'The claim that names the caller.'),
        requireExpiry: doc(bool().default(true).optional(), 'Refuse a JWT without an `exp` claim.'),
      })
      .optional(),
  }),
  rbac: section({
    roles: doc(
      z.record(z.string(), rbacRole, { error: 'must be a map of role name to { rpcs, connectors, hosts, secrets, keys }' }).default(() => ({})),
      'Roles by name, each globs of `rpcs`, `connectors`, `hosts`, `secrets` and `keys` (`<key provider>:<key id>` of encrypted secrets) it grants (default deny once authentication is on; see Security).',
    ),
    bindings: doc(
      z.record(z.string(), patterns(), { error: 'must be a map of principal to role names' }).default(() => ({})),
      'Principal id (or `*`, everyone authenticated) → the role names it has.',
    ),
  }),
  server: section({
    tls: z
      .strictObject({
        cert: filePath('Serve TLS with this certificate (PEM; re-read on SIGHUP).', { envAliases: ['SOURCED_TLS_CERT'], defaultText: 'none: plaintext' }),
        key: filePath('The private key of `server.tls.cert` (PEM).', { envAliases: ['SOURCED_TLS_KEY'], defaultText: 'none: plaintext' }),
        clientCa: filePath('Mutual TLS: every client must present a certificate this CA (PEM) signed.', {
          envAliases: ['SOURCED_TLS_CLIENT_CA'],
          defaultText: 'none',
        }).optional(),
      })
      .optional(),
    allowPlaintext: doc(bool().default(false), 'Serve plaintext on an address that is not loopback (behind a TLS-terminating proxy, say).', {
      envAliases: ['SOURCED_ALLOW_PLAINTEXT'],
    }),
    maxConnections: wholeMs(1_000, 'Connections open at once, all peers together; more are closed as they arrive; `0`: no limit.'),
    maxConnectionsPerPeer: wholeMs(100, 'Connections open at once from one peer address; `0`: no limit.'),
    maxConcurrentStreams: wholeMs(100, "Calls (HTTP/2 streams) one connection may have open at once; `0`: grpc-js's default, no limit."),
    keepaliveTimeMs: wholeMs(60_000, 'A keepalive ping on each connection this often, ms; `0`: none.'),
    keepaliveTimeoutMs: wholeMs(20_000, 'A peer that does not answer a keepalive ping within this, ms, is dropped.'),
    maxConnectionIdleMs: wholeMs(300_000, 'A connection without calls this long is closed, ms; `0`: never.'),
    maxConnectionAgeMs: wholeMs(1_800_000, 'A connection is asked to go away (GOAWAY) at this age, ms, its calls finishing first; `0`: never.'),
    maxConnectionAgeGraceMs: wholeMs(0, 'How long the calls of an aged-out connection may still run before it is closed, ms; `0`: until their deadlines.'),
    handshakeTimeoutMs: wholeMs(
      10_000,
      'A connection that has sent nothing (no TLS hello, no HTTP/2 preface) this long after it opened is closed, ms; `0`: never.',
    ),
  }),
  sources: section({
    maxConnectionsPerEndpoint: count(
      10,
      "Connections open at once to one source endpoint (connector type, host and port), over all calls; more wait, in order, until the call's deadline.",
      { envAliases: ['SOURCED_MAX_CONNECTIONS_PER_ENDPOINT'] },
    ),
  }),
  targets: section({
    allow: doc(
      targetEntries('allow').default([]),
      'CIDR blocks, addresses and host-name globs data sources may be at, checked after DNS resolution on the address dialled (see Security); empty: all.',
    ),
    deny: doc(
      targetEntries('deny').default([]),
      'CIDR blocks, addresses and host-name globs data sources may not be at; link-local and cloud metadata addresses are always denied unless `allowLinkLocal`.',
    ),
    allowLinkLocal: doc(bool().default(false), 'Allow link-local and cloud metadata addresses.'),
    dnsServers: doc(dnsServers().default([]), "DNS servers (`ip` or `ip:port`) for data-source names instead of the system's resolver; empty: the system's."),
  }),
  secrets: section({
    allowedReferences: doc(
      patterns().default(() => [...DEFAULT_SECRET_POLICY.allowedReferences]),
      'Globs of the secret references a request may use, the dynamic `SOURCED_SECRET_<ID>_*` variables included; its `file://` patterns are also the folders `ssl_config` paths may name (see Where credentials come from).',
    ),
    dynamicStrategies: doc(
      bool().default(DEFAULT_SECRET_POLICY.dynamicStrategies),
      "Look-ups by data-source id (`env://SOURCED_SECRET_<ID>_PASSWORD`), each still under the policy and the caller's grants.",
    ),
    order: doc(
      list(oneOf(CHAIN_LINKS), 'a list of chain links')
        .refine((links) => new Set(links).size === links.length, { error: 'lists a link twice' })
        .default(() => [...DEFAULT_CHAIN_ORDER]),
      'The links of the secret chain in the order tried: `reference`, `connection_properties`, `additional_properties`, `dynamic`.',
    ),
    cacheTtlMs: ms(300_000, 'How long a resolved secret is kept, ms.'),
    staleIfErrorMs: ms(0, 'Serve a value fetched at most this long ago when its provider is down, ms; `0` is off.'),
    providerTimeoutMs: ms(10_000, 'Time limit of one provider look-up, ms.'),
  }),
  metrics: section({
    prometheus: z.preprocess(
      (v) => (v === false ? undefined : v),
      z
        .strictObject({
          host: doc(
            text('a host name or address').trim().optional(),
            'Serve a Prometheus scrape endpoint at `http://host:port/metrics` (see Metrics); the host defaults to `OTEL_EXPORTER_PROMETHEUS_HOST`, then 127.0.0.1. `metrics.prometheus: false` in the file turns it off.',
            { defaultText: 'none (off)' },
          ),
          port: doc(number('port').optional(), 'The port of the Prometheus endpoint; defaults to `OTEL_EXPORTER_PROMETHEUS_PORT`, then 9464.', {
            envAliases: ['SOURCED_PROMETHEUS_PORT'],
            defaultText: 'none (off)',
          }),
        })
        .optional(),
    ),
  }),
});

/** The rules between keys; each issue names the key a reader should change. */
export const DaemonConfigSchema = DaemonConfigShape.superRefine((c, ctx) => {
  if (c.preview.defaultRows > c.preview.maxRows)
    ctx.addIssue({
      code: 'custom',
      path: ['preview', 'defaultRows'],
      message: `${String(c.preview.defaultRows)} is more than preview.maxRows (${String(c.preview.maxRows)})`,
    });
  if (c.profile.defaultSampleRows > c.profile.maxSampleRows) {
    ctx.addIssue({
      code: 'custom',
      path: ['profile', 'defaultSampleRows'],
      message: `${String(c.profile.defaultSampleRows)} is more than profile.maxSampleRows (${String(c.profile.maxSampleRows)})`,
    });
  }
  if (c.audit.file && c.audit.stdout) ctx.addIssue({ code: 'custom', path: ['audit'], message: 'set file or stdout, not both' });
  for (const [principal, roles] of Object.entries(c.rbac.bindings)) {
    const unknown = roles.find((r) => !Object.hasOwn(c.rbac.roles, r));
    if (unknown)
      ctx.addIssue({ code: 'custom', path: ['rbac', 'bindings', principal], message: `names the role "${unknown}", which rbac.roles does not define` });
  }
  if (c.auth.mtls && !c.server.tls?.clientCa) {
    ctx.addIssue({
      code: 'custom',
      path: ['auth', 'mtls'],
      message: 'names callers by their client certificate: it needs mutual TLS (server.tls with clientCa)',
    });
  }
});

/** The daemon's configuration. See README "Configuration" for every option. */
export type DaemonConfig = z.output<typeof DaemonConfigShape>;

/** The configuration a daemon starts from before its file, environment and flags (README "Configuration"). */
export const DEFAULT_CONFIG: DaemonConfig = DaemonConfigSchema.parse({});
