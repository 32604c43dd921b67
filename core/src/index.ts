/**
 * @sourced/core: the contracts and engines of sourced. Imports no driver, cloud SDK,
 * gRPC or DI container; plugin authors build on what this module exports.
 */
export * from './errors';
export * from './logging/Logger';
export * from './util/glob';
export * from './telemetry/withSpan';
export * from './secret/Secret';
export * from './secret/SecretProvider';
export * from './secret/SecretChain';
export * from './secret/jsonPath';
export * from './secret/builtinSecretProviders';
export * from './secret/builtinSecretsPlugin';
export * from './secret/KeyProvider';
export * from './secret/envelope';
export * from './secret/envelopeErrors';
export * from './secret/localKeyProvider';
export * from './datasource/DataSource';
export * from './datasource/normalizeDataSource';
export * from './connector/ConnectionArgs';
export * from './connector/Connector';
export * from './contract/capabilities';
export * from './connector/ConnectionBudget';
export * from './connector/TargetPolicy';
export * from './connector/SocksGuard';
export * from './connector/LocationAwareConnector';
export * from './connector/SourceIdentity';
export * from './validation/Check';
export * from './validation/standardChecks';
export * from './validation/ValidationRunner';
export * from './discovery/entities';
export * from './discovery/DiscoveryFilter';
export * from './discovery/cursor';
export * from './discovery/strategies';
export * from './discovery/DiscoveryEngine';
export * from './plugin/Plugin';
export * from './secret/scrubSecrets';
export * from './connector/tlsSession';
export * from './discovery/inferSchema';
export * from './util/mapWithConcurrency';
export * from './connector/ConnectFailure';
export * from './connector/DatabaseTokenProvider';
export * from './preview/PreviewEngine';
export * from './preview/tableScope';
export * from './connector/readWithFailover';
export * from './preview/ProfileEngine';
export * from './preview/distinctEstimate';
