/**
 * The configuration schema walked: its leaves (each option a user sets, with its environment
 * variable) and the node at a path (for the keys an error lists).
 */
import { z } from 'zod';
import type { ConfigMeta } from './kinds';
import { DaemonConfigShape } from './schema';

type Path = readonly (string | number)[];

/** One option: where it is in the file, its variable and what the schema says of it. */
export interface ConfigLeaf {
  /** The keys from the top, e.g. `['discovery', 'stallTimeoutMs']`. */
  path: string[];
  /** `discovery.stallTimeoutMs`. */
  key: string;
  /** `SOURCED_DISCOVERY_STALL_TIMEOUT_MS`: `SOURCED_`, then each key in upper snake case, joined by `_`. */
  env: string;
  /** The schema of the value (with its default and optionality). */
  schema: z.ZodType;
  /** How a string from the environment or a flag becomes the value. */
  kind: 'number' | 'boolean' | 'string' | 'list' | 'json';
  meta: ConfigMeta;
}

/** The schema inside optional, default, prefault and preprocess wrappers. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema as z.ZodType & { def: { type: string; innerType?: z.ZodType; out?: z.ZodType } };
  for (;;) {
    const { def } = s;
    if (['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(def.type) && def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.out && def.out.def.type !== 'transform') s = def.out;
    else return s;
  }
}

/** The metadata of a node, from the outermost wrapper that has it. */
export function metaOf(schema: z.ZodType): ConfigMeta {
  let s: z.ZodType | undefined = schema;
  while (s) {
    const meta = z.globalRegistry.get(s);
    if (meta) return meta;
    const def = s.def as { type: string; innerType?: z.ZodType; out?: z.ZodType };
    s = def.innerType ?? (def.type === 'pipe' ? def.out : undefined);
  }
  return {};
}

/** `stallTimeoutMs` → `STALL_TIMEOUT_MS`. */
const upperSnake = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** The environment variable of an option at `path`. */
export const envName = (path: readonly string[]) => `SOURCED_${path.map(upperSnake).join('_')}`;

function kindOf(schema: z.ZodType): ConfigLeaf['kind'] {
  const inner = unwrap(schema);
  switch (inner.def.type) {
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'string':
    case 'enum':
      return 'string';
    case 'array': {
      const element = unwrap((inner as z.ZodArray<z.ZodType>).element);
      return element.def.type === 'string' || element.def.type === 'enum' ? 'list' : 'json';
    }
    default:
      return 'json';
  }
}

function collect(schema: z.ZodType, path: string[], out: ConfigLeaf[]): void {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    for (const [key, child] of Object.entries<z.ZodType>(inner.shape)) collect(child, [...path, key], out);
    return;
  }
  out.push({ path, key: path.join('.'), env: envName(path), schema, kind: kindOf(schema), meta: metaOf(schema) });
}

/** Every option, in the schema's order. Sections and optional groups (`server.tls`) are not leaves: their keys are. */
export const CONFIG_LEAVES: readonly ConfigLeaf[] = (() => {
  const out: ConfigLeaf[] = [];
  collect(DaemonConfigShape, [], out);
  return out;
})();

/** The schema node at `path` (through records and lists), or undefined. */
export function schemaAt(path: Path, schema: z.ZodType = DaemonConfigShape): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  for (const key of path) {
    if (!s) return undefined;
    const inner = unwrap(s);
    if (inner instanceof z.ZodObject) s = (inner.shape as Record<string, z.ZodType | undefined>)[String(key)];
    else if (inner instanceof z.ZodRecord) s = inner.valueType as z.ZodType;
    else if (inner instanceof z.ZodArray) s = inner.element as z.ZodType;
    else return undefined;
  }
  return s;
}

/** The keys an object node accepts, or undefined when it is not an object. */
export function keysAt(path: Path): string[] | undefined {
  const node = schemaAt(path);
  const inner = node && unwrap(node);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : undefined;
}

/** `auth.tokens[0].sha256`. */
export const formatPath = (path: Path) => path.map((k, i) => (typeof k === 'number' ? `[${String(k)}]` : i === 0 ? k : `.${k}`)).join('');
