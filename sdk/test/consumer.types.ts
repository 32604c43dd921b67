/**
 * A third-party plugin, written against `@sourced/plugin-sdk` only, the way a plugin author
 * would: a connector implementing `Connector` directly, one extending `LocationAwareConnector`
 * (every protected hook overridden with its exact signature), a secret provider, a database
 * token provider, checks of every status, entities of every kind and every SDK error thrown;
 * then `expectTypeOf` assertions locking the shapes plugins rely on.
 *
 * Never run: it only has to compile (`tsc -p tsconfig.test.json`, against the built SDK).
 * When it stops compiling, the SDK broke its plugins: that needs a major version bump, or a fix.
 *
 * Why one file (~860 lines): it is one plugin, compiled as a whole the way an author writes it; its connectors, provider,
 * checks and type assertions refer to each other, and a split would hide what a single consumer of the SDK needs.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  AbortedError,
  abortedErrorFrom,
  BUILTIN_DENIED_TARGETS,
  CERT_EXPIRY_WARNING_DAYS,
  compareRelationKeys,
  connectFailureToError,
  connectionArgsOf,
  DEFAULT_SAMPLING,
  definePlugin,
  describeCertificateError,
  describeError,
  describeTlsHandshakeFailure,
  describeTlsSession,
  dnsCheck,
  failed,
  globToRegExp,
  inferSchema,
  InputError,
  inspectTlsSession,
  isSecret,
  isSourcedPlugin,
  LATENCY_ROUNDS,
  latencyCheck,
  LocationAwareConnector,
  mapWithConcurrency,
  matchesAnyGlob,
  noopLogger,
  NotAllowedError,
  NotFoundError,
  parseSecretReference,
  passed,
  pickJsonPath,
  PLUGIN_API_VERSION,
  PLUGIN_SDK_VERSION,
  probeTlsOptions,
  raceSignal,
  REDACTED_TEXT,
  resolveCredentialsCheck,
  SchemaInferrer,
  scrubbedErrorText,
  scrubSecrets,
  Secret,
  SecretErrorReason,
  SecretResolutionError,
  skipped,
  SLOW_MEDIAN_MS,
  SourcedError,
  startTlsOnSocket,
  TargetDeniedError,
  targetDeniedFailure,
  tcpCheck,
  throwIfAborted,
  tlsSessionOf,
  toNodeTlsOptions,
  UnavailableError,
  warning,
  withSpan,
  type CatalogEntity,
  type CheckContext,
  type CheckDefinition,
  type CheckResult,
  type CheckStatus,
  type CloudProvider,
  type CloudSettings,
  type CollectionEntity,
  type CollectionIndexEntity,
  type CollectionKind,
  type ColumnEntity,
  type CompiledFilter,
  type ConnectFailure,
  type ConnectionArgs,
  type ConnectionBudget,
  type Connector,
  type ConnectorCapability,
  type ConnectorContext,
  type ConnectorDefinition,
  type DatabaseToken,
  type DatabaseTokenContext,
  type DatabaseTokenMinter,
  type DatabaseTokenProvider,
  type DatabaseTokenRequest,
  type DataSource,
  type Endpoint,
  type EndpointRole,
  type FieldTypeCount,
  type FieldViolation,
  type ForeignKeyEntity,
  type GuardLease,
  type IndexEntity,
  type InferredField,
  type InferredSchema,
  type KeyConstraintEntity,
  type Location,
  type LogFields,
  type Logger,
  type PartitionEntity,
  type PluginOptions,
  type PluginRegistrar,
  type RelationEntity,
  type RelationKey,
  type RelationKind,
  type RelationPage,
  type ReleaseSlot,
  type ResolvedSecret,
  type SamplingOptions,
  type SchemaEntity,
  type SourceIdentity,
  type SchemaInferenceOptions,
  type SecretInput,
  type SecretProvider,
  type SecretProviderContext,
  type SecretReference,
  type SecretRequest,
  type SecretResolver,
  type SecretValueInput,
  type SessionSettings,
  type SocksGuard,
  type SourcedPlugin,
  type SslMode,
  type SslSettings,
  type StandardCheckState,
  type TargetPolicy,
  type TargetRules,
  type TlsArgs,
  type TlsSession,
  type ValidationPlan,
} from '@sourced/plugin-sdk';
import { expectTypeOf } from 'vitest';

// ---------------------------------------------------------------------------------------------
// Entities of every kind
// ---------------------------------------------------------------------------------------------

const schema: SchemaEntity = { name: 'shop', owner: 'admin', comment: 'the shop', usable: true };

const column: ColumnEntity = {
  name: 'tags',
  ordinal: 1,
  dataType: 'text[]',
  baseType: 'text',
  nullable: true,
  defaultValue: "'{}'",
  comment: 'labels',
  isArray: true,
  enumValues: ['a', 'b'],
  domain: 'label_list',
  generated: 'STORED',
  generationExpression: "array['x']",
  charset: 'utf8mb4',
  collation: 'utf8mb4_bin',
  extra: 'auto_increment',
};
const primaryKey: KeyConstraintEntity = { name: 'orders_pkey', columns: ['id'] };
const foreignKey: ForeignKeyEntity = {
  name: 'orders_customer_fk',
  columns: ['customer_id'],
  referencedSchema: 'shop',
  referencedTable: 'customers',
  referencedColumns: ['id'],
  onUpdate: 'NO ACTION',
  onDelete: 'CASCADE',
};
const index: IndexEntity = {
  name: 'orders_tags_idx',
  columns: ['tags'],
  unique: false,
  primary: false,
  method: 'gin',
  predicate: 'tags IS NOT NULL',
  definition: 'CREATE INDEX orders_tags_idx ON shop.orders USING gin (tags)',
  prefixLengths: [0],
  invisible: false,
};
const partition: PartitionEntity = { name: 'p2024', method: 'RANGE', expression: 'YEAR(created)', description: '2025', estimatedRows: 10, ordinal: 1 };
const relationKind: RelationKind = 'PARTITIONED_TABLE';
const relation: RelationEntity = {
  entity: 'relation',
  schema: 'shop',
  name: 'orders',
  kind: relationKind,
  owner: 'admin',
  comment: 'orders',
  columns: [column],
  primaryKey,
  uniqueConstraints: [primaryKey],
  foreignKeys: [foreignKey],
  indexes: [index],
  estimatedRows: -1,
  viewDefinition: 'SELECT 1',
  partitionOf: 'shop.orders_all',
  partitionBound: 'FOR VALUES FROM (1) TO (2)',
  partitionKey: 'RANGE (id)',
  foreignServer: 'remote',
  engine: 'InnoDB',
  collation: 'utf8mb4_bin',
  createdAt: '2024-01-01T00:00:00Z',
  updatedAt: '2024-01-02T00:00:00Z',
  partitions: [partition],
};
const typeCount: FieldTypeCount = { type: 'string', count: 3 };
const field: InferredField = { path: 'tags[]', types: [typeCount], documents: 2, frequency: 1 };
const inferred: InferredSchema = { sampledDocuments: 2, fields: [field], truncated: false };
const collectionIndex: CollectionIndexEntity = {
  name: 'email_1',
  keys: '{"email":1}',
  unique: true,
  sparse: false,
  expireAfterSeconds: 0,
  partialFilter: '{"email":{"$exists":true}}',
  hidden: false,
};
const collectionKind: CollectionKind = 'TIMESERIES';
const collection: CollectionEntity = {
  entity: 'collection',
  schema: 'app',
  name: 'events',
  kind: collectionKind,
  viewOn: 'raw_events',
  pipeline: '[]',
  timeseries: '{"timeField":"at"}',
  indexes: [collectionIndex],
  estimatedDocuments: -1,
  schemaInference: inferred,
  capped: false,
};
const entities: CatalogEntity[] = [relation, collection];
const key: RelationKey = { schema: relation.schema, name: relation.name };
const sorted = [...entities].sort(compareRelationKeys);

// Schema inference of documents, in one call or a document at a time.
const inferenceOptions: SchemaInferenceOptions = {
  maxFields: DEFAULT_SAMPLING.maxFields,
  maxDepth: 10,
  classify: (value) => ({ type: typeof value, shape: 'scalar' }),
};
const fromSample: InferredSchema = inferSchema([{ tags: ['a'] }], inferenceOptions);
const inferrer = new SchemaInferrer({ maxFields: 100 });
inferrer.add({ email: 'a@example.com' });
const inferredOneByOne: InferredSchema = inferrer.result();

// ---------------------------------------------------------------------------------------------
// Checks, with every status
// ---------------------------------------------------------------------------------------------

interface KvState extends StandardCheckState {
  greeting?: string;
}

const statuses: CheckResult[] = [
  passed('reachable', { 'server.version': '1.2' }),
  failed('refused', 'Open the port', { code: 'ECONNREFUSED' }),
  warning('slow', 'Move closer', { median_ms: '120' }),
  skipped('no TLS requested'),
  { status: 'PASSED', message: 'by hand', hint: 'none', details: {} },
];
const status: CheckStatus = statuses[0].status;

const greetCheck: CheckDefinition<KvState> = {
  id: 'greet',
  title: 'Greeting',
  dependsOn: ['tcp'],
  async run(ctx: CheckContext<KvState>): Promise<CheckResult> {
    throwIfAborted(ctx.signal);
    const args = connectionArgsOf(ctx.state);
    const endpoint: Endpoint & { host: string; port: number } = ctx.endpoint;
    ctx.logger.info('greeting', { host: endpoint.host, port: endpoint.port, role: ctx.role, timeout_ms: ctx.timeoutMs });
    const socket: Socket = ctx.targets ? ctx.targets.connect({ host: args.host, port: args.port }) : netConnect(args.port, args.host);
    try {
      ctx.state.greeting = await raceSignal(Promise.resolve('hello'), ctx.signal);
    } catch (error) {
      const denied = targetDeniedFailure(error);
      if (denied) return failed(denied.message, denied.hint);
      return failed(scrubbedErrorText(error, [args.password]));
    } finally {
      socket.destroy();
    }
    if (ctx.source.location === 'HYBRID') return warning('greeted the primary only', 'Check the secondary too');
    return ctx.state.greeting ? passed(`greeted ${scrubSecrets(ctx.state.greeting, [args.password])}`) : skipped('no greeting');
  },
};

/** A `tls` check as the built-in connectors write it, from the SDK's TLS helpers. */
function tlsCheck(): CheckDefinition<KvState> {
  return {
    id: 'tls',
    title: 'TLS',
    dependsOn: ['tcp'],
    async run(ctx) {
      const args = connectionArgsOf(ctx.state);
      if (!args.tls) return skipped('TLS is off');
      const tls: TlsArgs = args.tls;
      const socket = ctx.targets ? ctx.targets.socket() : netConnect(args.port, args.host);
      try {
        const secure: TLSSocket = await startTlsOnSocket(socket, probeTlsOptions(tls, args.host), ctx.signal);
        const session: TlsSession = await inspectTlsSession(secure, ctx.signal);
        const quick: TlsSession = tlsSessionOf(secure);
        secure.destroy();
        if (quick.protocol === 'TLSv1') return warning('old protocol', 'Upgrade the server');
        return describeTlsSession(session, tls, args.host);
      } catch (error) {
        const certificate = describeCertificateError(error, args.host, tls);
        if (certificate) return failed(certificate.message, certificate.hint, { code: certificate.code });
        return describeTlsHandshakeFailure(error, tls, args.host, args.port, describeError(error));
      } finally {
        socket.destroy();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A connector implementing Connector directly (a file-based key-value store)
// ---------------------------------------------------------------------------------------------

class KvConnector implements Connector {
  readonly activeRole: EndpointRole = 'PRIMARY';
  readonly targetPolicy?: TargetPolicy;
  private open = false;

  constructor(
    readonly source: DataSource,
    private readonly context: ConnectorContext,
  ) {
    this.targetPolicy = context.targets;
  }

  endpoint(role: EndpointRole): Endpoint & { port: number } {
    const e = role === 'PRIMARY' ? this.source.primary : this.source.secondary;
    if (!e) throw new InputError([{ field: 'data_source.secondary', description: 'is not set' }]);
    return { ...e, port: e.port ?? 0 };
  }

  validationPlan(_role: EndpointRole): ValidationPlan<unknown> {
    const plan: ValidationPlan<KvState> = {
      createState: () => ({}),
      checks: [greetCheck, latencyCheck<KvState>(async () => undefined, ['greet'])],
      cleanup: async () => undefined,
    };
    return plan as ValidationPlan<unknown>;
  }

  async initialize(signal: AbortSignal, settings?: SessionSettings): Promise<void> {
    throwIfAborted(signal);
    const path = this.source.primary.database;
    if (!path) throw new InputError([{ field: 'data_source.primary.database', description: 'is required (the path of the store)' }]);
    this.context.logger.debug('opening', { path, statement_timeout_ms: settings?.statementTimeoutMs });
    const resolved: ResolvedSecret = await this.context.secrets.resolve(
      { input: this.source.password, propertyKeys: ['password'], label: 'password', field: 'data_source.credentials.password', source: this.source },
      signal,
    );
    if (resolved.secret.isEmpty) throw new NotAllowedError('KV_PASSWORD_EMPTY', `the password from ${resolved.link} is empty`);
    this.open = true;
  }

  canFailover(): boolean {
    return false;
  }

  async failover(reason: string, _signal: AbortSignal): Promise<EndpointRole> {
    throw new UnavailableError('NO_FAILOVER_ENDPOINT', `a file has no failover: ${reason}`);
  }

  async reconnect(signal: AbortSignal): Promise<void> {
    await this.initialize(signal);
  }

  isConnectionError(error: unknown): boolean {
    return error instanceof UnavailableError;
  }

  async listSchemas(filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]> {
    throwIfAborted(signal);
    return [schema].filter((s) => filter.schemaMatches(s.name));
  }

  async listRelations(page: RelationPage, signal: AbortSignal): Promise<CatalogEntity[]> {
    if (!this.open) throw new UnavailableError('NOT_CONNECTED', 'call initialize() first');
    const sampling: SamplingOptions = page.sampling;
    const all = await mapWithConcurrency(
      sorted,
      page.concurrency,
      async (entity) => withSpan(this.context.tracer, 'kv.read', { 'kv.sample_size': sampling.sampleSize }, async () => entity),
      signal,
    );
    return all
      .filter((e) => page.filter.relationMatches(e.schema, e.name))
      .filter((e) => page.after === undefined || compareRelationKeys(e, page.after) > 0)
      .slice(0, page.limit);
  }

  async countEntities(filter: CompiledFilter, after: RelationKey | undefined, _signal: AbortSignal): Promise<number | undefined> {
    return sorted.filter((e) => filter.relationMatches(e.schema, e.name) && (!after || compareRelationKeys(e, after) > 0)).length;
  }

  async close(): Promise<void> {
    this.open = false;
  }
}

const kvConnector: ConnectorDefinition = {
  type: 'kv',
  aliases: ['keyvalue'],
  displayName: 'Key-value store',
  description: 'Reads a key-value store file',
  defaultPort: 0,
  addressing: 'file',
  capabilities: ['validate', 'discover'],
  create: (source, context) => new KvConnector(source, context),
};

// ---------------------------------------------------------------------------------------------
// A connector extending LocationAwareConnector (a networked SQL database)
// ---------------------------------------------------------------------------------------------

interface SqlConnection {
  socket: Socket;
  query(sql: string, signal: AbortSignal): Promise<Record<string, unknown>[]>;
  end(): Promise<void>;
}

/** Turns a driver error into words for people, as a connector's classifier does. */
function classify(error: unknown): ConnectFailure {
  const denied = targetDeniedFailure(error);
  if (denied) return denied;
  const code = (error as { code?: string }).code;
  if (code === '28P01') return { reason: 'AUTHENTICATION_FAILED', message: 'the password was refused', hint: 'Check the password', kind: 'not-allowed', code };
  if (code === '3D000') return { reason: 'DATABASE_NOT_FOUND', message: 'no such database', kind: 'not-found', code };
  if (code === 'EPROTO') return { reason: 'PROTOCOL_ERROR', message: 'the server spoke another protocol', kind: 'invalid' };
  return { reason: 'UNREACHABLE', message: describeError(error), kind: 'unavailable' };
}

class SqlConnector extends LocationAwareConnector<SqlConnection> {
  protected override async openConnection(args: ConnectionArgs, signal: AbortSignal): Promise<SqlConnection> {
    const tls = args.tls ? toNodeTlsOptions(args.tls, args.host) : undefined;
    const socket: Socket = args.targets
      ? args.targets.connect({ host: args.host, port: args.port, keepAlive: args.keepAlive })
      : netConnect(args.port, args.host);
    try {
      throwIfAborted(signal);
      this.context.logger.debug('connected', { tls: tls !== undefined, user: args.user, database: args.database, timeout_ms: args.connectTimeoutMs });
      return {
        socket,
        query: async () => [{ application_name: args.applicationName, statement_timeout_ms: args.statementTimeoutMs }],
        end: async () => void socket.end(),
      };
    } catch (error) {
      socket.destroy();
      throw connectFailureToError(error, classify);
    }
  }

  protected override async closeConnection(conn: SqlConnection): Promise<void> {
    await conn.end().catch(() => undefined);
  }

  protected override async querySchemas(conn: SqlConnection, filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]> {
    const rows = await conn.query('SELECT nspname FROM pg_namespace', signal);
    return rows.map((r) => ({ name: String(r.nspname), usable: true })).filter((s) => filter.schemaMatches(s.name) || filter.includeSystemSchemas);
  }

  protected override async queryRelations(
    conn: SqlConnection,
    page: RelationPage,
    signal: AbortSignal,
    parallel: readonly SqlConnection[],
  ): Promise<CatalogEntity[]> {
    const readers = [conn, ...parallel];
    const parts = await mapWithConcurrency(readers, readers.length, (c) => c.query('SELECT ...', signal), signal);
    return parts.length > 0 ? [relation].filter((r) => matchesAnyGlob(r.name, page.filter.includeTables)) : [];
  }

  protected override parallelConnections(page: RelationPage): number {
    return Math.min(page.concurrency - 1, 3);
  }

  protected override async queryCount(
    conn: SqlConnection,
    filter: CompiledFilter,
    after: RelationKey | undefined,
    signal: AbortSignal,
  ): Promise<number | undefined> {
    const [row] = await conn.query(`SELECT count(*) FROM pg_class WHERE ${after ? 'after' : 'all'}`, signal);
    return filter.includeSchemas.length === 0 ? Number(row?.count ?? 0) : undefined;
  }

  protected override async identifySession(conn: SqlConnection, signal: AbortSignal): Promise<SourceIdentity | undefined> {
    const [row] = await conn.query('SELECT current_database(), session_user, inet_server_port()', signal);
    return row ? { database: String(row.current_database), user: String(row.session_user), serverPort: Number(row.inet_server_port) } : undefined;
  }

  override validationPlan(_role: EndpointRole): ValidationPlan<unknown> {
    const checks: CheckDefinition<KvState>[] = [resolveCredentialsCheck<KvState>(this), dnsCheck<KvState>(), tcpCheck<KvState>(), tlsCheck(), greetCheck];
    return { createState: (): KvState => ({}), checks, cleanup: async () => undefined } as ValidationPlan<unknown>;
  }

  override isConnectionError(error: unknown): boolean {
    return (error as { code?: string }).code === 'ECONNRESET';
  }
}

const sqlConnector: ConnectorDefinition = {
  type: 'acme-sql',
  displayName: 'Acme SQL',
  defaultPort: 5433,
  capabilities: ['validate', 'discover'] satisfies ConnectorCapability[],
  create(source, context) {
    const connector = new SqlConnector(sqlConnector, source, context);
    // What the base class offers its users besides Connector.
    const definition: ConnectorDefinition = connector.definition;
    const startedOnSecondary: boolean = connector.startedOnSecondary;
    const args: Promise<ConnectionArgs> = connector.connectionArgs('PRIMARY', AbortSignal.timeout(1000));
    void definition;
    void startedOnSecondary;
    void args;
    return connector;
  },
};

// ---------------------------------------------------------------------------------------------
// A secret provider
// ---------------------------------------------------------------------------------------------

const vaultProvider: SecretProvider = {
  id: 'acme-vault',
  schemes: ['acme-vault'],
  description: 'Secrets from Acme Vault',
  async resolve(reference: SecretReference, context: SecretProviderContext): Promise<string | Uint8Array> {
    throwIfAborted(context.signal);
    const region = context.source?.cloud.awsRegion ?? 'default';
    const input: SecretInput = { kind: 'reference', reference: 'env://ACME_VAULT_TOKEN', field: 'connection_properties.acme_vault_token' };
    const token: Secret = await context.resolveSecret(input, 'acme_vault_token');
    context.logger.debug('fetching', { uri: reference.uri, region, token });
    if (reference.target === '') throw new NotFoundError(SecretErrorReason.NOT_FOUND, `secret ${reference.uri} does not exist`);
    if (token.isEmpty) throw new NotAllowedError(SecretErrorReason.INVALID_CREDENTIALS, 'the vault token is empty');
    if (reference.target === 'denied') throw new NotAllowedError(SecretErrorReason.ACCESS_DENIED, `access to ${reference.uri} is denied`);
    if (reference.target === 'busy') throw new UnavailableError(SecretErrorReason.THROTTLED, 'the vault throttled the request');
    if (reference.target === 'down') throw new UnavailableError(SecretErrorReason.UNREACHABLE, 'the vault is unreachable');
    const text = '{"password":"x"}';
    return reference.fragment ? pickJsonPath(text, reference.fragment, reference.uri) : new TextEncoder().encode(text);
  },
  identity(_reference, context) {
    return context.source?.cloud.azureClientId ?? 'default';
  },
};

// ---------------------------------------------------------------------------------------------
// A database token provider
// ---------------------------------------------------------------------------------------------

const tokenProvider: DatabaseTokenProvider = {
  id: 'acme-iam',
  cloud: 'OTHER' satisfies CloudProvider,
  description: '@acme/sourced-plugin: database tokens',
  async mint(request: DatabaseTokenRequest, context: DatabaseTokenContext): Promise<DatabaseToken> {
    throwIfAborted(context.signal);
    const cloud: CloudSettings = request.source.cloud;
    if (!cloud.useIamAuth) throw new SourcedError('ACME_IAM_OFF', 'use_iam_auth is off');
    const key = cloud.awsAccessKeyId ? await context.resolveSecret(cloud.awsAccessKeyId, 'aws_access_key_id') : undefined;
    context.logger.info('minting', { host: request.host, port: request.port, user: request.user, connector: request.connector, key });
    return { token: new Secret(`${request.user}@${request.host}`, 'acme-iam'), expiresAt: Date.now() + 15 * 60_000 };
  },
};

// ---------------------------------------------------------------------------------------------
// The plugin
// ---------------------------------------------------------------------------------------------

const options: PluginOptions = {
  id: 'acme',
  version: '1.0.0',
  sdk: '^1.0.0',
  description: 'Acme connectors and secrets',
  register(registrar: PluginRegistrar) {
    const settings = registrar.settings as { root?: unknown } | undefined;
    if (settings?.root !== undefined && typeof settings.root !== 'string') throw new Error('pluginSettings.acme.root must be a path');
    registrar.logger.info('registering', { sdk: registrar.sdkVersion });
    registrar.registerConnector(kvConnector);
    registrar.registerConnector(sqlConnector);
    registrar.registerSecretProvider(vaultProvider);
    registrar.registerDatabaseTokenProvider(tokenProvider);
  },
};
const plugin: SourcedPlugin = definePlugin(options);
export default plugin;
const legacy = definePlugin({ id: 'acme-legacy', version: '0.1.0', apiVersion: PLUGIN_API_VERSION, register: async () => undefined });

// ---------------------------------------------------------------------------------------------
// Every SDK error a plugin may raise, and the helpers around them
// ---------------------------------------------------------------------------------------------

const violations: FieldViolation[] = [{ field: 'data_source.primary.host', description: 'is required' }];
const errors: SourcedError[] = [
  new SourcedError('ACME_FAILED', 'it failed', { cause: new Error('x'), metadata: { step: 'read' } }),
  new InputError(violations, { reason: 'INVALID_ACME', metadata: {} }),
  new NotFoundError('ACME_NOT_FOUND', 'no such thing'),
  new NotAllowedError('ACME_DENIED', 'not allowed', { cause: 'x' }),
  new UnavailableError('ACME_DOWN', 'down', { metadata: { code: 'ECONNREFUSED' } }),
  new AbortedError('the call was cancelled', { deadline: true }),
  abortedErrorFrom(AbortSignal.abort()),
  new TargetDeniedError('db.internal', '169.254.169.254', BUILTIN_DENIED_TARGETS[0], 'refused'),
  new SecretResolutionError('data_source.credentials.password', 'password', [{ link: 'reference', outcome: 'not set', reason: 'SECRET_NOT_FOUND' }]),
];
function raise(which: number): never {
  const error = errors[which];
  if (error instanceof InputError) throw new InputError([...error.violations]);
  if (error instanceof TargetDeniedError) throw new TargetDeniedError(error.host, error.address, error.rule, error.message);
  if (error instanceof SecretResolutionError) throw new SecretResolutionError(error.field, 'password', error.attempts);
  if (error instanceof AbortedError) throw new AbortedError();
  if (error instanceof NotFoundError) throw new NotFoundError(error.reason, error.message);
  if (error instanceof NotAllowedError) throw new NotAllowedError(error.reason, error.message, { metadata: error.metadata });
  if (error instanceof UnavailableError) throw new UnavailableError(error.reason, error.message);
  throw new SourcedError(error.reason, describeError(error));
}

// Small helpers, secrets and logging.
const secret = new Secret('hunter2', 'env://ACME');
const redacted: string = `${secret}` === REDACTED_TEXT ? secret.origin : secret.reveal();
const reference: SecretReference | undefined = parseSecretReference('acme-vault://db#password');
const fields: LogFields = { secret, ok: isSecret(secret) };
const logger: Logger = noopLogger.child(fields);
const glob: RegExp = globToRegExp('shop_*');
const constants: [number, number, number, string, string] = [
  CERT_EXPIRY_WARNING_DAYS,
  LATENCY_ROUNDS,
  SLOW_MEDIAN_MS,
  PLUGIN_SDK_VERSION,
  PLUGIN_API_VERSION.toString(),
];
const isPlugin: boolean = isSourcedPlugin(plugin) && isSourcedPlugin(legacy);

// Types plugins read from the host.
function readHost(
  context: ConnectorContext,
  budget: ConnectionBudget,
  policy: TargetPolicy,
  guard: SocksGuard,
  lease: GuardLease,
  minter: DatabaseTokenMinter,
): void {
  const resolver: SecretResolver = context.secrets;
  const request: SecretRequest = { propertyKeys: ['password'], label: 'password', field: 'data_source.credentials.password', source: {} as DataSource };
  const release: ReleaseSlot | undefined = budget.tryAcquire(`acme://db:1:${budget.limit}`);
  release?.();
  const rules: TargetRules = policy.rules;
  const denied: TargetDeniedError | undefined = policy.checkName('metadata.internal') ?? policy.checkAddress('db', '10.0.0.1');
  const leased: Promise<GuardLease> = guard.lease((error) => logger.warn('denied', { error: error.message }));
  const proxy = `socks5://${lease.username}:${lease.password}@${lease.host}:${lease.port}`;
  const minted = minter.mint({ source: {} as DataSource, host: 'db', port: 5432, user: 'app', connector: 'acme-sql' }, AbortSignal.timeout(1000));
  const plain: SecretValueInput = { reference: 'env://X', inlineValue: undefined };
  const ssl: SslSettings = { mode: 'verify-full' satisfies SslMode, ca: undefined, cert: undefined, key: undefined, serverName: 'db' };
  const location: Location = 'HYBRID';
  void [resolver, request, rules, denied, leased, proxy, minted, plain, ssl, location, raise];
}
void [readHost, redacted, reference, glob, constants, isPlugin, status, key, fromSample, inferredOneByOne];

// ---------------------------------------------------------------------------------------------
// Shapes locked: a change here breaks plugins written against SDK 1.x
// ---------------------------------------------------------------------------------------------

// The plugin and its registrar.
expectTypeOf(definePlugin).parameters.toEqualTypeOf<[options: PluginOptions]>();
expectTypeOf(definePlugin).returns.toEqualTypeOf<SourcedPlugin>();
expectTypeOf(isSourcedPlugin).guards.toEqualTypeOf<SourcedPlugin>();
expectTypeOf<SourcedPlugin>().toExtend<PluginOptions>();
expectTypeOf<SourcedPlugin['$$type']>().toEqualTypeOf<'@sourced/plugin'>();
expectTypeOf(PLUGIN_SDK_VERSION).toBeString();
expectTypeOf(PLUGIN_API_VERSION).toBeNumber();
expectTypeOf<PluginRegistrar>().toHaveProperty('registerConnector').toEqualTypeOf<(definition: ConnectorDefinition) => void>();
expectTypeOf<PluginRegistrar>().toHaveProperty('registerSecretProvider').toEqualTypeOf<(provider: SecretProvider) => void>();
expectTypeOf<PluginRegistrar>().toHaveProperty('registerDatabaseTokenProvider').toEqualTypeOf<(provider: DatabaseTokenProvider) => void>();
type RegistrarShape = { readonly sdkVersion: string; readonly settings: unknown; readonly logger: Logger };
expectTypeOf<Pick<PluginRegistrar, keyof RegistrarShape>>().toEqualTypeOf<RegistrarShape>();
type PluginOptionsShape = { id: string; version: string; sdk?: string; apiVersion?: number; description?: string };
expectTypeOf<Pick<PluginOptions, keyof PluginOptionsShape>>().toEqualTypeOf<PluginOptionsShape>();
expectTypeOf<PluginOptions['register']>().returns.toEqualTypeOf<void | Promise<void>>();

// Connectors.
expectTypeOf<ConnectorDefinition['create']>().parameters.toEqualTypeOf<[source: DataSource, context: ConnectorContext]>();
expectTypeOf<ConnectorDefinition['create']>().returns.toEqualTypeOf<Connector>();
type DefinitionShape = {
  readonly type: string;
  readonly aliases?: readonly string[];
  readonly displayName: string;
  readonly description?: string;
  readonly defaultPort: number;
  readonly addressing?: 'network' | 'file';
  readonly capabilities: readonly ConnectorCapability[];
};
expectTypeOf<Pick<ConnectorDefinition, keyof DefinitionShape>>().toEqualTypeOf<DefinitionShape>();
expectTypeOf<ConnectorCapability>().toEqualTypeOf<'validate' | 'discover' | 'preview' | 'profile'>();
type ContextShape = {
  secrets: SecretResolver;
  logger: Logger;
  applicationName: string;
  tokens?: DatabaseTokenMinter;
  connectionBudget?: ConnectionBudget;
  targets?: TargetPolicy;
};
expectTypeOf<Pick<ConnectorContext, keyof ContextShape>>().toEqualTypeOf<ContextShape>();
expectTypeOf<SecretResolver['resolve']>().parameters.toEqualTypeOf<[request: SecretRequest, signal: AbortSignal]>();
expectTypeOf<SecretResolver['resolve']>().returns.resolves.toEqualTypeOf<ResolvedSecret>();
expectTypeOf<Connector['listRelations']>().parameters.toEqualTypeOf<[page: RelationPage, signal: AbortSignal]>();
expectTypeOf<Connector['listRelations']>().returns.resolves.toEqualTypeOf<CatalogEntity[]>();
expectTypeOf<Connector['listSchemas']>().returns.resolves.toEqualTypeOf<SchemaEntity[]>();
expectTypeOf<Connector['validationPlan']>().returns.toEqualTypeOf<ValidationPlan<unknown>>();
expectTypeOf<Connector['initialize']>().parameters.toEqualTypeOf<[signal: AbortSignal, settings?: SessionSettings]>();
expectTypeOf<Connector['failover']>().returns.resolves.toEqualTypeOf<EndpointRole>();
type PageShape = { filter: CompiledFilter; after?: RelationKey; limit: number; concurrency: number; sampling: SamplingOptions };
expectTypeOf<Pick<RelationPage, keyof PageShape>>().toEqualTypeOf<PageShape>();
expectTypeOf<SamplingOptions>().toEqualTypeOf<{ sampleSize: number; maxTimeMs: number; maxFields: number }>();
expectTypeOf<ConstructorParameters<typeof LocationAwareConnector<unknown>>>().toEqualTypeOf<
  [definition: ConnectorDefinition, source: DataSource, context: ConnectorContext]
>();
expectTypeOf<SqlConnector>().toExtend<Connector>();
type ConnectionArgsShape = {
  role: EndpointRole;
  host: string;
  port: number;
  database?: string;
  user?: string;
  password?: Secret;
  tls?: TlsArgs;
  applicationName: string;
  keepAlive: boolean;
  connectTimeoutMs: number;
  statementTimeoutMs?: number;
  targets?: TargetPolicy;
  credentialSources: Record<string, string>;
  credentialTimings: Record<string, number>;
};
expectTypeOf<Pick<ConnectionArgs, keyof ConnectionArgsShape>>().toEqualTypeOf<ConnectionArgsShape>();
type TlsArgsShape = { mode: 'require' | 'verify-ca' | 'verify-full'; ca?: string; cert?: string; key?: Secret; servername?: string };
expectTypeOf<Pick<TlsArgs, keyof TlsArgsShape>>().toEqualTypeOf<TlsArgsShape>();

// Validation checks.
expectTypeOf<CheckStatus>().toEqualTypeOf<'PASSED' | 'FAILED' | 'WARNING' | 'SKIPPED'>();
type CheckResultShape = { status: CheckStatus; message: string; hint?: string; details?: Record<string, string> };
expectTypeOf<Pick<CheckResult, keyof CheckResultShape>>().toEqualTypeOf<CheckResultShape>();
expectTypeOf(passed).toEqualTypeOf<(message: string, details?: Record<string, string>) => CheckResult>();
expectTypeOf(failed).toEqualTypeOf<(message: string, hint?: string, details?: Record<string, string>) => CheckResult>();
expectTypeOf(warning).toEqualTypeOf<(message: string, hint?: string, details?: Record<string, string>) => CheckResult>();
expectTypeOf(skipped).toEqualTypeOf<(message: string, details?: Record<string, string>) => CheckResult>();
expectTypeOf<CheckDefinition<KvState>['run']>().parameters.toEqualTypeOf<[context: CheckContext<KvState>]>();
expectTypeOf<CheckDefinition<KvState>['run']>().returns.resolves.toEqualTypeOf<CheckResult>();
type PlanShape = { createState: () => KvState; checks: CheckDefinition<KvState>[]; cleanup: (state: KvState) => Promise<void> };
expectTypeOf<Pick<ValidationPlan<KvState>, keyof PlanShape>>().toEqualTypeOf<PlanShape>();
type StandardStateShape = { args?: ConnectionArgs; addresses?: string[]; address?: string };
expectTypeOf<Pick<StandardCheckState, keyof StandardStateShape>>().toEqualTypeOf<StandardStateShape>();

// Discovery entities.
expectTypeOf<CatalogEntity>().toEqualTypeOf<RelationEntity | CollectionEntity>();
expectTypeOf<RelationKind>().toEqualTypeOf<'TABLE' | 'PARTITIONED_TABLE' | 'FOREIGN_TABLE' | 'VIEW' | 'MATERIALIZED_VIEW'>();
expectTypeOf<CollectionKind>().toEqualTypeOf<'COLLECTION' | 'VIEW' | 'TIMESERIES'>();
type RelationShape = {
  entity: 'relation';
  schema: string;
  name: string;
  kind: RelationKind;
  owner?: string;
  comment?: string;
  columns: ColumnEntity[];
  primaryKey?: KeyConstraintEntity;
  uniqueConstraints: KeyConstraintEntity[];
  foreignKeys: ForeignKeyEntity[];
  indexes: IndexEntity[];
  estimatedRows: number;
  viewDefinition?: string;
  partitionOf?: string;
  partitionBound?: string;
  partitionKey?: string;
  foreignServer?: string;
  engine?: string;
  collation?: string;
  createdAt?: string;
  updatedAt?: string;
  partitions?: PartitionEntity[];
};
expectTypeOf<Pick<RelationEntity, keyof RelationShape>>().toEqualTypeOf<RelationShape>();
type ColumnShape = {
  name: string;
  ordinal: number;
  dataType: string;
  baseType: string;
  nullable: boolean;
  defaultValue?: string;
  comment?: string;
  isArray: boolean;
  enumValues?: string[];
  domain?: string;
  generated?: string;
  generationExpression?: string;
  charset?: string;
  collation?: string;
  extra?: string;
};
expectTypeOf<Pick<ColumnEntity, keyof ColumnShape>>().toEqualTypeOf<ColumnShape>();
type CollectionShape = {
  entity: 'collection';
  schema: string;
  name: string;
  kind: CollectionKind;
  indexes: CollectionIndexEntity[];
  estimatedDocuments: number;
  schemaInference?: InferredSchema;
  capped: boolean;
};
expectTypeOf<Pick<CollectionEntity, keyof CollectionShape>>().toEqualTypeOf<CollectionShape>();
type SchemaShape = { name: string; owner?: string; comment?: string; usable: boolean };
expectTypeOf<Pick<SchemaEntity, keyof SchemaShape>>().toEqualTypeOf<SchemaShape>();
expectTypeOf(compareRelationKeys).parameters.toEqualTypeOf<[a: RelationKey, b: RelationKey]>();

// Secrets and database tokens.
expectTypeOf<SecretProvider['resolve']>().parameters.toEqualTypeOf<[reference: SecretReference, context: SecretProviderContext]>();
expectTypeOf<SecretProvider['resolve']>().returns.toEqualTypeOf<Promise<string | Uint8Array>>();
type SecretProviderShape = { readonly id: string; readonly schemes: readonly string[]; readonly description?: string };
expectTypeOf<Pick<SecretProvider, keyof SecretProviderShape>>().toEqualTypeOf<SecretProviderShape>();
expectTypeOf<SecretReference>().toEqualTypeOf<{ readonly uri: string; readonly scheme: string; readonly target: string; readonly fragment?: string }>();
expectTypeOf<SecretProviderContext['resolveSecret']>().toEqualTypeOf<(input: SecretInput, label: string) => Promise<Secret>>();
expectTypeOf(SecretErrorReason).toEqualTypeOf<{
  readonly NOT_FOUND: 'SECRET_NOT_FOUND';
  readonly ACCESS_DENIED: 'SECRET_ACCESS_DENIED';
  readonly INVALID_CREDENTIALS: 'SECRET_PROVIDER_CREDENTIALS_INVALID';
  readonly THROTTLED: 'SECRET_PROVIDER_THROTTLED';
  readonly UNREACHABLE: 'SECRET_PROVIDER_UNREACHABLE';
}>();
expectTypeOf<Secret['reveal']>().toEqualTypeOf<() => string>();
expectTypeOf<DatabaseTokenProvider['mint']>().parameters.toEqualTypeOf<[request: DatabaseTokenRequest, context: DatabaseTokenContext]>();
expectTypeOf<DatabaseTokenProvider['mint']>().returns.resolves.toEqualTypeOf<DatabaseToken>();
expectTypeOf<DatabaseToken>().toEqualTypeOf<{ token: Secret; expiresAt: number }>();

// Errors.
expectTypeOf<SourcedError>().toExtend<Error>();
type SourcedErrorShape = { readonly reason: string; readonly metadata: Record<string, string> };
expectTypeOf<Pick<SourcedError, keyof SourcedErrorShape>>().toEqualTypeOf<SourcedErrorShape>();
expectTypeOf(SourcedError).constructorParameters.toEqualTypeOf<
  [reason: string, message: string, options?: { cause?: unknown; metadata?: Record<string, string> }]
>();
expectTypeOf<InputError>().toExtend<SourcedError>();
expectTypeOf<InputError['violations']>().toEqualTypeOf<FieldViolation[]>();
expectTypeOf<NotFoundError>().toExtend<SourcedError>();
expectTypeOf<NotAllowedError>().toExtend<SourcedError>();
expectTypeOf<UnavailableError>().toExtend<SourcedError>();
expectTypeOf<AbortedError>().toExtend<SourcedError>();
expectTypeOf<TargetDeniedError>().toExtend<NotAllowedError>();
expectTypeOf<SecretResolutionError>().toExtend<SourcedError>();
expectTypeOf(connectFailureToError).parameters.toEqualTypeOf<[error: unknown, describe: (error: unknown) => ConnectFailure]>();
expectTypeOf<ConnectFailure['kind']>().toEqualTypeOf<'unavailable' | 'not-allowed' | 'not-found' | 'invalid'>();
