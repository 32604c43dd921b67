/**
 * The `SOURCED_*` environment variables, derived from the schema: every option has one,
 * `SOURCED_` and its path in upper snake case (`discovery.stallTimeoutMs` →
 * `SOURCED_DISCOVERY_STALL_TIMEOUT_MS`). Numbers and `true`/`false` (also `1`/`0`, `yes`/`no`)
 * are read as such; a list of strings is comma-separated or a JSON array; lists of objects and
 * maps are JSON. An empty variable is unset. A few options keep an older, shorter name too.
 */
import { ConfigError } from './errors';
import { CONFIG_LEAVES, type ConfigLeaf } from './fields';

/** The variable that names the config file; not an option itself. */
export const CONFIG_FILE_VARIABLE = 'SOURCED_CONFIG';

/** A value from the environment (or a flag), turned into what its option's schema checks. */
export function fromString(leaf: ConfigLeaf, raw: string, origin: string): unknown {
  switch (leaf.kind) {
    case 'number':
      // Number('') and Number(' ') are 0: a blank value is a mistake, left for the schema to refuse.
      return raw.trim() === '' || !Number.isFinite(Number(raw)) ? raw : Number(raw);
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      return ['true', '1', 'yes'].includes(v) ? true : ['false', '0', 'no'].includes(v) ? false : raw;
    }
    case 'string':
      return raw;
    case 'list':
      if (raw.trim().startsWith('[')) return json(raw, origin);
      return raw
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
    case 'json':
      return json(raw, origin);
  }
}

function json(raw: string, origin: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new ConfigError(`${origin}: not valid JSON (${(error as Error).message})`);
  }
}

/** One option set by a variable. */
export interface EnvSetting {
  leaf: ConfigLeaf;
  /** The variable that set it (its older name when that one was used). */
  variable: string;
  raw: string;
}

/** The options the environment sets, each from its variable or, failing that, its older name; both set and different is an error. */
export function readEnvironment(env: NodeJS.ProcessEnv): EnvSetting[] {
  const settings: EnvSetting[] = [];
  for (const leaf of CONFIG_LEAVES) {
    const set = [leaf.env, ...(leaf.meta.envAliases ?? [])].filter((name) => env[name] !== undefined && env[name] !== '');
    if (set.length === 0) continue;
    const values = new Set(set.map((name) => env[name]));
    if (values.size > 1) throw new ConfigError(`environment variables ${set.join(' and ')} both set ${leaf.key}, differently; set one (${leaf.env})`);
    settings.push({ leaf, variable: set[0], raw: env[set[0]] as string });
  }
  return settings;
}

/** Every variable the daemon reads for its options, older names included. */
export function environmentVariables(): string[] {
  return CONFIG_LEAVES.flatMap((leaf) => [leaf.env, ...(leaf.meta.envAliases ?? [])]);
}
