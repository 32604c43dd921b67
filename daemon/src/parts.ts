/**
 * `sourced/parts`: the parts of the daemon that a tool uses without starting a server (the
 * `sourced` command-line client of @sourced/cli): the configuration error, the version, the
 * plugin loader and registry, the logger, and audit-log verification. Lighter to load than the
 * package root, which brings the whole server (gRPC, telemetry, every service), and than
 * `sourced/config`, which builds the configuration schema (zod).
 */
export { ConfigError } from './config/configError';
export { VERSION } from './version';
export { JsonLogger, type LogSink, type LogLevel } from './logging/JsonLogger';
export { loadPlugins } from './plugins/loadPlugins';
export { PluginRegistry } from './plugins/PluginRegistry';
export { resolveSigningKey, SigningKeyError } from './audit/signingKey';
export { AuditFileError, verifyAuditLog, type VerifyOptions, type VerifyResult } from './audit/verifyAuditLog';
