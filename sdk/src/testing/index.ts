/**
 * `@sourced/plugin-sdk/testing`: test a plugin the way the daemon runs it. {@link startTestDaemon}
 * starts a real daemon in-process with your plugin and connects clients to it; the
 * conformance kit checks a connector or a secret provider against what every plugin must do.
 * Needs the `sourced` package (the daemon) and vitest as dev dependencies.
 *
 * @packageDocumentation
 */
export { collect, expectFailure, richStatusOf, spansText, startTestDaemon } from './startTestDaemon';
export type { CallOptions, TestDaemon, TestDaemonOptions } from './startTestDaemon';
export {
  describeConnectorConformance,
  describeSecretProviderConformance,
  CONNECTOR_TESTS,
  SECRET_PROVIDER_TESTS,
  validationStreamProblems,
  finishedCheckProblems,
} from './conformance';
export type { ConformanceSource, ConnectorConformanceOptions, SecretProviderConformanceOptions, SecretProviderFixture, VitestApi } from './conformance';
export { DataSource, Endpoint, Credentials, SecretValue, SslConfig, CloudConfig, Location, CloudProvider, SslMode } from 'sourced/dist/gen/sourced/v1/data_source';
export type {
  DiscoverDataSourceRequest,
  DiscoverDataSourceResponse,
  PreviewTableRequest,
  PreviewTableResponse,
  ProfileTableRequest,
  ProfileTableResponse,
  ValidateDataSourceRequest,
  ValidateDataSourceResponse,
} from 'sourced/dist/gen/sourced/v1/data_source_service';
export type { Cell as PreviewCell, PreviewColumn, PreviewHeader, PreviewRow, PreviewRows, PreviewSummary, TableRef } from 'sourced/dist/gen/sourced/v1/preview';
export type { ColumnFigureMethods as ProfiledColumnMethods, ColumnProfile as ProfiledColumn, ProfileHeader, ProfileSummary, TypeFrequency, ValueFrequency } from 'sourced/dist/gen/sourced/v1/profile';
export { FigureMethod } from 'sourced/dist/gen/sourced/v1/profile';
export { ProfileMode as ProfileModeEnum } from 'sourced/dist/gen/sourced/v1/profile';
export { CheckStatus } from 'sourced/dist/gen/sourced/v1/validation';
export type { Plugin } from 'sourced/dist/gen/sourced/v1/plugin_service';
export { DEFAULT_CONFIG } from 'sourced';
export type { DaemonConfig, RichStatus, RunningDaemon } from 'sourced';
export type { DataSourceServiceClient } from 'sourced/dist/gen/sourced/v1/data_source_service';
export type { PluginServiceClient } from 'sourced/dist/gen/sourced/v1/plugin_service';
export type {
  Collection,
  CollectionIndex,
  Column,
  ForeignKey,
  Index,
  InferredSchema,
  KeyConstraint,
  Partition,
  DiscoveryBatch,
  DiscoveryFilter,
  DiscoveryProgress,
  DiscoverySummary,
  DiscoveryWarning,
  FailoverNotice,
  MessageFns,
  Relation,
  Schema,
  SchemaBatch,
  SchemaSampling,
} from 'sourced/dist/gen/sourced/v1/discovery';
export { CollectionKind, DiscoveryStrategy, RelationKind } from 'sourced/dist/gen/sourced/v1/discovery';
export { EndpointRole } from 'sourced/dist/gen/sourced/v1/validation';
export type { CheckFinished, CheckStarted, ValidationReport, ValidationSummary } from 'sourced/dist/gen/sourced/v1/validation';
export { PluginState, PluginKind } from 'sourced/dist/gen/sourced/v1/plugin_service';
