/**
 * The package rules of sourced (docs/architecture.md, "Packages"), checked by
 * `npm run lint:deps` (run by `npm test` and CI):
 *
 *   npx depcruise --config .dependency-cruiser.cjs core/src plugins/*\/src daemon/src cli/src sdk/src api/src
 *
 * Paths are as dependency-cruiser resolves them: a workspace package imported by name
 * (`@sourced/core`) resolves through node_modules to its `dist/` (not followed), so a rule on
 * another workspace names both the package and its folder.
 */

/** Drivers, cloud SDKs, gRPC and the OpenTelemetry SDK: what core must never import (`@opentelemetry/api` is fine). */
const DRIVERS_AND_SDKS = [
  '^(node_modules/)?(pg|pg-[a-z-]+|mysql2|mongodb|better-sqlite3)(/|$)',
  '^(node_modules/)?@aws-sdk/',
  '^(node_modules/)?@azure/',
  '^(node_modules/)?@grpc/',
  '^(node_modules/)?@opentelemetry/(sdk-|exporter-|instrumentation|resources|semantic-conventions)',
  '^(node_modules/)?(awilix)(/|$)',
];

/** The daemon and the CLI: a plugin may not reach into them. */
const DAEMON_AND_CLI = ['^(node_modules/)?@sourced/daemon(/|$)', '^(node_modules/)?@sourced/cli(/|$)', '^daemon/', '^cli/'];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle (type imports count): the contract defines the types the engines consume, not the other way round.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-no-driver',
      severity: 'error',
      comment: 'core/ holds contracts, engines and shared services: no driver, cloud SDK, gRPC, OpenTelemetry SDK or DI container (a plugin owns its SDK; the daemon wires the rest).',
      from: { path: '^core/src/' },
      to: { path: DRIVERS_AND_SDKS },
    },
    {
      name: 'core-imports-no-workspace',
      severity: 'error',
      comment: 'core/ is the bottom of the package graph: it imports no other workspace package.',
      from: { path: '^core/src/' },
      to: { path: ['^(node_modules/)?@sourced/', '^(node_modules/)?sourced(/|$)', '^(api|daemon|cli|sdk|plugins)/'] },
    },
    {
      name: 'plugin-imports-no-daemon',
      severity: 'error',
      comment: 'A plugin builds on @sourced/core (or the plugin SDK) only, never on daemon or CLI internals.',
      from: { path: '^plugins/[^/]+/src/' },
      to: { path: DAEMON_AND_CLI },
    },
    {
      name: 'plugin-imports-no-other-plugin',
      severity: 'error',
      comment: 'Plugins are independent of each other.',
      from: { path: '^plugins/([^/]+)/src/' },
      to: { path: ['^plugins/', '^(node_modules/)?@sourced/plugin-'], pathNot: ['^plugins/$1/'] },
    },
    {
      name: 'sdk-imports-core-and-api-only',
      severity: 'error',
      comment: "The plugin SDK's main entry re-exports @sourced/core and @sourced/api only.",
      from: { path: '^sdk/src/', pathNot: '^sdk/src/testing/' },
      to: { dependencyTypesNot: ['core'], pathNot: ['^(node_modules/)?@sourced/(core|api)(/|$)', '^(core|api)/', '^sdk/src/'] },
    },
    {
      name: 'sdk-testing-imports',
      severity: 'error',
      comment:
        "The SDK's testing kit (@sourced/plugin-sdk/testing) adds the daemon (startTestDaemon, DEFAULT_CONFIG, toDataSourceInput), a gRPC client, the OpenTelemetry in-memory exporter and vitest; nothing else.",
      from: { path: '^sdk/src/testing/' },
      to: {
        dependencyTypesNot: ['core'],
        pathNot: [
          '^(node_modules/)?@sourced/(core|api|plugin-sdk)(/|$)',
          '^(node_modules/)?@sourced/daemon(/|$)',
          '^(core|api|daemon)/',
          '^sdk/src/',
          '^(node_modules/)?@grpc/grpc-js(/|$)',
          '^(node_modules/)?@opentelemetry/(api|sdk-trace-base)(/|$)',
          '^(node_modules/)?vitest(/|$)',
        ],
      },
    },
    {
      name: 'api-imports-nothing-of-ours',
      severity: 'error',
      comment: '@sourced/api is generated code, the status codec and a typed client: it imports no other workspace package.',
      from: { path: '^api/src/' },
      to: { path: ['^(node_modules/)?@sourced/', '^(node_modules/)?sourced(/|$)', '^(core|daemon|cli|sdk|plugins)/'] },
    },
  ],
  options: {
    // Another workspace resolves to its built dist/: seen (the rules match it), not followed.
    doNotFollow: { path: ['node_modules', '(^|/)dist/'] },
    exclude: { path: ['(^|/)src/gen/'] },
    // Type-only imports count: a cycle through types is still a cycle of the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    combinedDependencies: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
