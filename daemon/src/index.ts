/** The sourced daemon as a library: start one in-process (tests, embedding) or read its config. */
export { startDaemon, type RunningDaemon, type StartOptions, type Cradle } from './Daemon';
export { loadConfig, DEFAULT_CONFIG, BUILTIN_PLUGINS, ConfigError, type DaemonConfig } from './config/DaemonConfig';
export { JsonLogger, type LogSink, type LogLevel } from './logging/JsonLogger';
export { toDataSourceInput } from './grpc/mapping';
export { VERSION } from './version';
