/** The plugin conformance kit: vitest suites every connector and secret provider must pass. */
export { describeConnectorConformance, CONNECTOR_TESTS } from './connector';
export { validationStreamProblems, finishedCheckProblems, typeFixtureProblems } from './streamChecks';
export { describeSecretProviderConformance, SECRET_PROVIDER_TESTS } from './secretProvider';
export type {
  ConformanceSource,
  ConnectorConformanceOptions,
  ExpectedCell,
  SecretProviderConformanceOptions,
  SecretProviderFixture,
  TypeFixture,
} from './types';
export type { VitestApi } from './shared';
