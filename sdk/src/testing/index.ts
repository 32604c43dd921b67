/**
 * `@sourced/plugin-sdk/testing`: test a plugin the way the daemon runs it. {@link startTestDaemon}
 * starts a real daemon in-process with your plugin and connects clients to it; the
 * conformance kit checks a connector or a secret provider against what every plugin must do.
 * Needs `@sourced/daemon` (the daemon) and vitest as dev dependencies.
 *
 * @packageDocumentation
 */
export { collect, expectFailure, previewOf, profileOf, richStatusOf, spansText, startTestDaemon } from './startTestDaemon';
export type { CallOptions, PreviewResult, ProfileResult, TestDaemon, TestDaemonOptions } from './startTestDaemon';
export {
  describeConnectorConformance,
  describeSecretProviderConformance,
  CONNECTOR_TESTS,
  SECRET_PROVIDER_TESTS,
  validationStreamProblems,
  finishedCheckProblems,
} from './conformance';
export type { ConformanceSource, ConnectorConformanceOptions, SecretProviderConformanceOptions, SecretProviderFixture, VitestApi } from './conformance';
export { typeFixtureProblems } from './conformance';
export type { ExpectedCell, TypeFixture } from './conformance';
export { DataSource, Endpoint, Credentials, SecretValue, SslConfig, CloudConfig, Location, CloudProvider, SslMode } from '@sourced/api';
export type {
  DiscoverDataSourceRequest,
  DiscoverDataSourceResponse,
  PreviewTableRequest,
  PreviewTableResponse,
  ProfileTableRequest,
  ProfileTableResponse,
  ValidateDataSourceRequest,
  ValidateDataSourceResponse,
} from '@sourced/api';
export type { Cell as PreviewCell, PreviewColumn, PreviewHeader, PreviewRow, PreviewRows, PreviewSummary, TableRef } from '@sourced/api';
export type {
  ColumnFigureMethods as ProfiledColumnMethods,
  ColumnProfile as ProfiledColumn,
  ProfileHeader,
  ProfileSummary,
  TypeFrequency,
  ValueFrequency,
} from '@sourced/api';
export { FigureMethod } from '@sourced/api';
export { ProfileMode as ProfileModeEnum } from '@sourced/api';
export { CheckStatus } from '@sourced/api';
export type { Plugin } from '@sourced/api';
export { DEFAULT_CONFIG } from '@sourced/daemon';
export type { DaemonConfig, RunningDaemon } from '@sourced/daemon';
export type { RichStatus } from '@sourced/api';
export type { DataSourceServiceClient } from '@sourced/api';
export type { PluginServiceClient } from '@sourced/api';
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
} from '@sourced/api';
export { CollectionKind, DiscoveryStrategy, RelationKind } from '@sourced/api';
export { EndpointRole } from '@sourced/api';
export type { CheckFinished, CheckStarted, ValidationReport, ValidationSummary } from '@sourced/api';
export { PluginState, PluginKind } from '@sourced/api';
