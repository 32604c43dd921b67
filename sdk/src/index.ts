/**
 * `@sourced/plugin-sdk`: everything a plugin for sourced may use, and nothing else. A
 * plugin is an npm package (or a file) whose default export is {@link definePlugin}'s result;
 * it registers connectors, secret providers and database token providers through the
 * {@link PluginRegistrar}. Depend on this package as a peer dependency (`^1.0.0`), so that
 * the daemon's copy is the one your plugin uses at run time. The SDK follows semver: a minor
 * release adds to what is exported here, a major one may change it. Test helpers (a daemon
 * in-process, the conformance kit) are in `@sourced/plugin-sdk/testing`.
 *
 * See docs/plugins.md for a walk from an empty folder to a loaded plugin.
 *
 * @packageDocumentation
 */

// ---- the plugin and its registrar ----
export { definePlugin, isSourcedPlugin, PLUGIN_API_VERSION, PLUGIN_SDK_VERSION } from '@sourced/core';
export type { PluginOptions, PluginRegistrar, SourcedPlugin } from '@sourced/core';

// ---- connectors ----
export { DEFAULT_SAMPLING, toNodeTlsOptions } from '@sourced/core';
// eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated since SDK 1.3 (defineConnector replaces it), still exported for plugins built against 1.2 and earlier: removing an export is a major release
export { LocationAwareConnector } from '@sourced/core';
export type {
  ConnectionArgs,
  Connector,
  ConnectorCapability,
  ConnectorContext,
  ConnectorDefinition,
  RelationPage,
  SamplingOptions,
  SecretResolver,
  SessionSettings,
  TlsArgs,
} from '@sourced/core';
export type { ConnectionBudget, ReleaseSlot } from '@sourced/core';

// ---- a connector from the capabilities it has, on core's services (since 1.3.0) ----
export { CredentialResolver, defineConnector, EndpointPool, endpointOf } from '@sourced/core';
export type {
  CatalogSpec,
  ConnectionDriver,
  ConnectorCall,
  ConnectorSpec,
  CredentialContext,
  EndpointPoolOptions,
  PerCall,
  PreviewSpec,
  ProfileSpec,
  SessionsSpec,
} from '@sourced/core';

// ---- the capabilities a connector is composed of (since 1.3.0) ----
export type {
  CatalogReader,
  ConnectorSessions,
  DiscoverableConnector,
  PreviewableConnector,
  Previewer,
  ProfilableConnector,
  Profiler,
  TableGuard,
  ValidatableConnector,
  ValidationChecks,
} from '@sourced/core';

// ---- who answered a session (since 1.2.0): give `sessions.identify` (or override `identifySession`) to have every session checked ----
export { SourceIdentityError } from '@sourced/core';
export type { SourceIdentity } from '@sourced/core';

// ---- where connections may go ----
export { BUILTIN_DENIED_TARGETS, TargetDeniedError } from '@sourced/core';
export type { GuardedDialer, GuardLease, SocksGuard, TargetPolicy, TargetRules } from '@sourced/core';

// ---- why a connection failed ----
export { connectFailureToError, describeCertificateError, describeTlsHandshakeFailure, targetDeniedFailure } from '@sourced/core';
export type { ConnectFailure } from '@sourced/core';

// ---- TLS sessions, for a connector's tls check ----
export { CERT_EXPIRY_WARNING_DAYS, describeTlsSession, inspectTlsSession, probeTlsOptions, startTlsOnSocket, tlsSessionOf } from '@sourced/core';
export type { TlsSession } from '@sourced/core';

// ---- the data source a connector reads ----
export type { CloudProvider, CloudSettings, DataSource, Endpoint, EndpointRole, Location, SslMode, SslSettings } from '@sourced/core';

// ---- validation checks ----
export {
  connectionArgsOf,
  dnsCheck,
  failed,
  latencyCheck,
  LATENCY_ROUNDS,
  passed,
  resolveCredentialsCheck,
  skipped,
  SLOW_MEDIAN_MS,
  tcpCheck,
  warning,
} from '@sourced/core';
export type { CheckContext, CheckDefinition, CheckResult, CheckStatus, StandardCheckState, ValidationPlan } from '@sourced/core';

// ---- discovery: what a connector returns ----
export { compareRelationKeys, inferSchema, SchemaInferrer } from '@sourced/core';
export type {
  ArgumentMode,
  CatalogEntity,
  CheckConstraintEntity,
  CollectionEntity,
  CollectionIndexEntity,
  CollectionKind,
  ColumnEntity,
  CompiledFilter,
  FilterGlobs,
  FieldTypeCount,
  ForeignKeyEntity,
  IndexEntity,
  InferredField,
  InferredSchema,
  KeyConstraintEntity,
  PartitionEntity,
  RelationEntity,
  RelationKey,
  RelationKind,
  RoutineArgumentEntity,
  RoutineEntity,
  RoutineKind,
  SchemaEntity,
  SchemaInferenceOptions,
  SchemaObjects,
  SchemaObjectsRequest,
  SequenceEntity,
  TriggerEntity,
  TriggerEvent,
  TriggerTiming,
  TypeAttributeEntity,
  UserTypeEntity,
  UserTypeKind,
  ValueClassifier,
  ClassifiedValue,
  ValueShape,
} from '@sourced/core';

// ---- previews and profiles (since 1.1.0) ----
export { DEFAULT_MASKED_COLUMNS } from '@sourced/core';
export type { Cell, PreviewColumnInfo, PreviewRead } from '@sourced/core';
export type { ColumnFigureMethods, ColumnProfile, FigureMethod, ProfileItem, ProfileMode, ProfileRead, StatisticsAge, TableProfile } from '@sourced/core';

// ---- secrets ----
export {
  isSecret,
  parseSecretReference,
  pickJsonPath,
  REDACTED_TEXT,
  scrubbedErrorText,
  scrubSecrets,
  Secret,
  SecretErrorReason,
  SecretResolutionError,
} from '@sourced/core';
export type {
  ChainAttempt,
  ResolvedSecret,
  SecretInput,
  SecretProvider,
  SecretProviderContext,
  SecretReference,
  SecretRequest,
  SecretValueInput,
} from '@sourced/core';

// ---- key providers of envelope encryption (since 1.3.0; docs/encryption.md) ----
export {
  DataKeyInvalidError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KeyErrorReason,
  KeyNotFoundError,
  KeyProviderMissingError,
  KeyProviderUnavailableError,
  KeyUnusableError,
} from '@sourced/core';
export type { EncryptionContext, GeneratedDataKey, KeyProvider, KeyProviderContext } from '@sourced/core';

// ---- database tokens from cloud identities ----
export type { DatabaseToken, DatabaseTokenContext, DatabaseTokenMinter, DatabaseTokenProvider, DatabaseTokenRequest } from '@sourced/core';

// ---- errors a plugin may raise ----
export {
  AbortedError,
  abortedErrorFrom,
  describeError,
  InputError,
  NotAllowedError,
  NotFoundError,
  SourcedError,
  throwIfAborted,
  UnavailableError,
} from '@sourced/core';
export type { FieldViolation } from '@sourced/core';

// ---- helpers authors wrote by hand (since 1.4.0) ----
// Value renderers: a driver's value as the Cell of a kind, in the form sourced.v1.Cell documents.
export {
  booleanCell,
  bytesCell,
  dateCell,
  decimalCell,
  floatCell,
  integerCell,
  isoYear,
  jsonCell,
  localTimestampCell,
  NULL_CELL,
  otherCell,
  renderAs,
  textCell,
  timeCell,
  timestampCell,
} from './helpers/cells';
export type { ValueKind } from './helpers/cells';
// A statement time limit that cancels the running statement.
export { withStatementLimit } from './helpers/statementLimit';
export type { StatementLimitOptions } from './helpers/statementLimit';
// A base for file or embedded databases: the operator's root, path confinement, read-only open, no endpoints.
export { confineToRoot, DATABASE_PATH_FIELD, defineFileConnector, fileRootSetting, MAX_BUSY_TIMEOUT_MS } from './helpers/fileDatabase';
export type { ConfinedPath, FileConnectorSpec, FileOpenRequest } from './helpers/fileDatabase';

// ---- logging, tracing and small helpers ----
export { mapWithConcurrency, matchesAnyGlob, noopLogger, raceSignal, withSpan } from '@sourced/core';
// eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated (matchesGlob replaces it), still exported for plugins that call it: removing an export is a major release
export { globToRegExp } from '@sourced/core';
// Linear-time pattern matching and LIKE push-down (since 1.2.0).
export { globToLikePattern, matchesGlob, matchesLikePattern, MAX_FILTER_PATTERN_CHARS, MAX_FILTER_PATTERN_LENGTH, MAX_FILTER_PATTERNS } from '@sourced/core';
export type { LogFields, Logger } from '@sourced/core';
