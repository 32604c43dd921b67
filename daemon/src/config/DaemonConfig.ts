/**
 * The daemon's configuration: one zod schema (`schema.ts`) from which the type, the defaults,
 * the file parser (`load.ts`), the `SOURCED_*` variables (`env.ts`) and the README's table
 * (`docs.ts`) are derived. This module is what the rest of the daemon imports.
 */
export { BUILTIN_PLUGINS, DEFAULT_CONFIG, DaemonConfigSchema, type DaemonConfig } from './schema';
export { ConfigError } from './errors';
export { loadConfig, parseListen, SERVE_FLAGS } from './load';
export { CONFIG_FILE_VARIABLE } from './env';
// The CLI builds `sourced serve`'s flags and their help from the options' metadata.
export { CONFIG_LEAVES, type ConfigLeaf } from './fields';
