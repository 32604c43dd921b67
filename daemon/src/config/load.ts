/**
 * `loadConfig`: the configuration from, in increasing precedence, the schema's defaults, the
 * config file (`--config` or `SOURCED_CONFIG`; JSON or YAML), `SOURCED_*` environment variables
 * and flags. Each layer replaces only what it sets; each is checked against the schema on its
 * own, so an error names where the bad value came from; the rules between keys are checked on
 * the result, naming the layer that set the key.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CONFIG_FILE_VARIABLE, fromString, readEnvironment } from './env';
import { ConfigError, issueMessage, throwIssues, type Origin } from './errors';
import { CONFIG_LEAVES, formatPath, unwrap, type ConfigLeaf } from './fields';
import { LISTEN_HINT, splitListen } from './kinds';
import { DaemonConfigSchema, DaemonConfigShape, DEFAULT_CONFIG, type DaemonConfig } from './schema';

/** The flag name of an option that has one (`--log-level` → `log-level`). */
const flagOf = (leaf: ConfigLeaf) => leaf.meta.flag?.split(' ')[0].replace(/^--/, '');

/** The flags `sourced serve` takes: `--config`, `--help`, and the `flag` of each option in the schema. */
export const SERVE_FLAGS: NonNullable<ParseArgsConfig['options']> = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...Object.fromEntries(
    CONFIG_LEAVES.filter(flagOf).map((leaf): [string, { type: 'string'; multiple: boolean }] => [
      String(flagOf(leaf)),
      { type: 'string', multiple: leaf.meta.flag?.includes('(repeatable)') === true },
    ]),
  ),
};

/** Splits `host:port` (IPv6 in brackets); throws ConfigError naming the origin. */
export function parseListen(value: string, origin: string): { host: string; port: number } {
  const parts = splitListen(value);
  if (!parts) throw new ConfigError(`${origin}: "${value}" is not ${LISTEN_HINT}`);
  return parts;
}

type Key = string | number;
type Tree = Record<string, unknown>;
const isObject = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);
const getAt = (tree: unknown, path: readonly string[]) => path.reduce<unknown>((node, k) => (isObject(node) ? node[k] : undefined), tree);
function setAt(tree: Tree, path: readonly string[], value: unknown): void {
  let node = tree;
  for (const k of path.slice(0, -1)) node = isObject(node[k]) ? node[k] : (node[k] = {});
  node[path[path.length - 1]] = value;
}

/** A path as written: relative to `base` (the file's folder, or the working folder). */
function resolvePaths(leaf: ConfigLeaf, value: unknown, base: string): unknown {
  const one = (v: string) => {
    if (leaf.meta.path === 'module') return v.startsWith('./') || v.startsWith('../') ? resolve(base, v) : v;
    if (leaf.meta.path === 'fileOrUrl' && /^https?:\/\//i.test(v)) return v;
    return resolve(base, v);
  };
  if (!leaf.meta.path || value === undefined) return value;
  return Array.isArray(value) ? value.map((v) => one(String(v))) : typeof value === 'string' ? one(value) : value;
}

/** A key with no value (YAML `key:`, JSON `null`) is left out: it keeps its default. */
function withoutNulls(value: unknown, schema: z.ZodType | undefined): unknown {
  const inner = schema && unwrap(schema);
  if (!(inner instanceof z.ZodObject) || !isObject(value)) return value;
  const shape = inner.shape as Record<string, z.ZodType>;
  return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (v === null ? [] : [[k, withoutNulls(v, shape[k])]])));
}

/** Every path a document sets, for the origin of a later error. */
function pathsIn(value: unknown, prefix: Key[], out: string[]): string[] {
  if (prefix.length) out.push(formatPath(prefix));
  if (Array.isArray(value)) value.forEach((v, i) => pathsIn(v, [...prefix, i], out));
  else if (isObject(value)) for (const [k, v] of Object.entries(value)) pathsIn(v, [...prefix, k], out);
  return out;
}

/** The layers that set each path, for the origin of an error found on the result. */
class Origins {
  private readonly byPath = new Map<string, Origin>();
  set(path: string, origin: Origin): void {
    this.byPath.set(path, origin);
  }
  /** The origin of `path` or of the nearest key above it that a layer set. */
  of = (path: readonly PropertyKey[]): Origin | undefined => {
    const keys = path.filter((k): k is Key => typeof k !== 'symbol');
    for (let n = keys.length; n > 0; n--) {
      const origin = this.byPath.get(formatPath(keys.slice(0, n)));
      if (origin) return origin;
    }
    return undefined;
  };
}

/** The file, parsed onto the defaults, its paths resolved against its folder. */
function readConfigFile(path: string, origins: Origins): DaemonConfig {
  let doc: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  if (doc === null || doc === undefined) return structuredClone(DEFAULT_CONFIG);
  if (!isObject(doc)) throw new ConfigError(`config file ${path} must hold an object`);
  doc = withoutNulls(doc, DaemonConfigShape);
  const origin: Origin = { name: (p) => `${p} in ${path}` };
  const parsed = DaemonConfigShape.safeParse(doc, { error: issueMessage });
  if (!parsed.success) throwIssues(parsed.error, () => origin);
  const config = parsed.data;
  for (const leaf of CONFIG_LEAVES) {
    if (leaf.meta.path && getAt(doc, leaf.path) !== undefined) setAt(config, leaf.path, resolvePaths(leaf, getAt(config, leaf.path), dirname(path)));
  }
  for (const p of pathsIn(doc, [], [])) origins.set(p, origin);
  return config;
}

/** Sets one option from a variable or a flag, checked against its schema; paths are relative to the working folder. */
function overlay(config: DaemonConfig, leaf: ConfigLeaf, value: unknown, origin: Origin, cwd: string, origins: Origins): void {
  const parsed = leaf.schema.safeParse(value, { error: issueMessage });
  if (!parsed.success) {
    throwIssues(new z.ZodError(parsed.error.issues.map((i) => ({ ...i, path: [...leaf.path, ...i.path] }))), () => origin);
  }
  setAt(config, leaf.path, resolvePaths(leaf, parsed.data, cwd));
  origins.set(leaf.key, origin);
  // The audit log goes to a file or stdout: a later layer that picks one drops the other.
  if (leaf.key === 'audit.file') config.audit.stdout = false;
  if (leaf.key === 'audit.stdout' && parsed.data === true) delete config.audit.file;
}

/** The origin of a value from a variable or flag: its name, and the path inside when it is not the option itself (JSON). */
const named = (what: string, leaf: ConfigLeaf): Origin => ({ name: (p) => (p === leaf.key ? what : `${what} (at ${p})`) });

/**
 * Builds the configuration from, in increasing precedence: defaults, the config file
 * (`--config` or `SOURCED_CONFIG`; JSON or YAML), `SOURCED_*` environment variables, flags.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DaemonConfig {
  const { values } = parseArgs({ args: argv, options: SERVE_FLAGS, allowPositionals: false, strict: true });
  const origins = new Origins();
  const file = typeof values.config === 'string' ? values.config : env[CONFIG_FILE_VARIABLE];
  const config = file ? readConfigFile(resolve(cwd, file), origins) : structuredClone(DEFAULT_CONFIG);

  for (const { leaf, variable, raw } of readEnvironment(env)) {
    const origin = named(`environment variable ${variable}`, leaf);
    overlay(config, leaf, fromString(leaf, raw, origin.name(leaf.key)), origin, cwd, origins);
  }
  for (const [flag, value] of Object.entries(values)) {
    const leaf = CONFIG_LEAVES.find((l) => flagOf(l) === flag);
    if (!leaf || value === undefined) continue;
    const origin = named(`flag --${flag}`, leaf);
    overlay(config, leaf, Array.isArray(value) ? value : fromString(leaf, String(value), origin.name(leaf.key)), origin, cwd, origins);
  }

  const tls = config.server.tls as Partial<NonNullable<DaemonConfig['server']['tls']>> | undefined;
  if (tls && (!tls.cert || !tls.key))
    throw new ConfigError('server.tls needs both cert and key (in the file, or SOURCED_SERVER_TLS_CERT and SOURCED_SERVER_TLS_KEY)');
  const result = DaemonConfigSchema.safeParse(config, { error: issueMessage });
  // A key no layer set (a group's missing key): say where it could be set.
  const settable = (path: readonly PropertyKey[]): Origin | undefined => {
    const leaf = CONFIG_LEAVES.find((l) => l.key === path.join('.'));
    return leaf && { name: (p) => `${p} (in the file, or ${leaf.env})` };
  };
  if (!result.success) throwIssues(result.error, (path) => origins.of(path) ?? settable(path));
  return result.data;
}
