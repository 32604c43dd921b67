/**
 * The data-source file format, read from the contract itself: the descriptors `buf build` wrote
 * (`@sourced/api/sourced.binpb`), so the fields a file may hold are always the proto's, never a
 * copy that drifts. One walk checks a file and puts it in the contract's JSON shape; the same
 * descriptors generate the JSON Schema (docs/data-source.schema.json, `npm run docs:schema`).
 *
 * The format is the contract's proto3 JSON (field names as in the proto or in lowerCamelCase,
 * enum values by name or number), as JSON or YAML, with two shorthands:
 * - an enum value without its prefix: `ON_PREM` for `LOCATION_ON_PREM`, `VERIFY_FULL` for
 *   `SSL_MODE_VERIFY_FULL`;
 * - a secret (`SecretValue`) as a plain string: `scheme://...` is a reference, `sourced:enc:...`
 *   an envelope, anything else an inline value.
 * Unknown fields, values of the wrong type, two members of one oneof and a field given under both
 * of its names are errors naming the path (and the nearest known field for a typo).
 */
import { createFileRegistry, fromBinary, ScalarType, type DescEnum, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { readDescriptorSet } from '@sourced/api';

/** The contract's data source message. */
export const DATA_SOURCE_TYPE = 'sourced.v1.DataSource';
const SECRET_VALUE_TYPE = 'sourced.v1.SecretValue';
const STRUCT_TYPE = 'google.protobuf.Struct';

let cached: DescMessage | undefined;

/** The DataSource message's descriptor, from the contract's descriptor set. */
export function dataSourceDescriptor(): DescMessage {
  if (!cached) {
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readDescriptorSet()));
    const desc = registry.getMessage(DATA_SOURCE_TYPE);
    if (!desc) throw new Error(`the contract's descriptors hold no ${DATA_SOURCE_TYPE}`);
    cached = desc;
  }
  return cached;
}

/** One thing wrong in a file: where (`primary.databse`) and what. */
export interface FormatProblem {
  path: string;
  message: string;
}

/** The names an enum value may be written as: the full name, the short one, the number. */
export function enumNames(e: DescEnum): { full: string[]; short: string[]; numbers: number[] } {
  const prefix = enumPrefix(e);
  return {
    full: e.values.map((v) => v.name),
    short: e.values.map((v) => (prefix && v.name.startsWith(prefix) ? v.name.slice(prefix.length) : v.name)),
    numbers: e.values.map((v) => v.number),
  };
}

/** `LOCATION_` for Location (the prefix every value shares), '' when there is none. */
function enumPrefix(e: DescEnum): string {
  return e.sharedPrefix ? e.sharedPrefix.toUpperCase() : '';
}

/**
 * Checks a parsed file (JSON or YAML) against the message and returns it in the contract's JSON
 * (the proto's field names, full enum names, secrets as objects), or the problems found (all of them).
 */
export function normalizeMessage(input: unknown, desc: DescMessage, path: string): { value?: Record<string, unknown>; problems: FormatProblem[] } {
  const problems: FormatProblem[] = [];
  const value = walkMessage(input, desc, path, problems);
  return problems.length ? { problems } : { value: value ?? {}, problems };
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the text ${JSON.stringify(value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function walkMessage(input: unknown, desc: DescMessage, path: string, problems: FormatProblem[]): Record<string, unknown> | undefined {
  if (desc.typeName === STRUCT_TYPE) {
    if (!isObject(input)) problems.push({ path, message: `must be an object (any keys), not ${describe(input)}` });
    return input as Record<string, unknown>;
  }
  if (desc.typeName === SECRET_VALUE_TYPE && typeof input === 'string') return secretShorthand(input);
  if (!isObject(input)) {
    const also = desc.typeName === SECRET_VALUE_TYPE ? ' or a string (a scheme:// reference, a sourced:enc: envelope, or the value)' : '';
    problems.push({ path, message: `must be an object${also}, not ${describe(input)}` });
    return undefined;
  }
  const out: Record<string, unknown> = {};
  const seen = new Map<string, string>();
  const oneofs = new Map<string, string>();
  for (const [key, raw] of Object.entries(input)) {
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    const at = join(path, key);
    if (!field) {
      problems.push({ path: at, message: unknownField(key, desc) });
      continue;
    }
    const other = seen.get(field.name);
    if (other !== undefined) {
      problems.push({ path: at, message: `is ${other} again (one field, two names): keep one` });
      continue;
    }
    seen.set(field.name, key);
    if (field.oneof) {
      const first = oneofs.get(field.oneof.name);
      if (first !== undefined) {
        problems.push({
          path: at,
          message: `cannot be given with ${first}: they are alternatives (${field.oneof.fields.map((f) => f.name).join(', ')}), give one`,
        });
        continue;
      }
      oneofs.set(field.oneof.name, key);
    }
    if (raw === null || raw === undefined) {
      problems.push({ path: at, message: 'has no value: give one, or leave the field out' });
      continue;
    }
    const value = walkField(raw, field, at, problems);
    if (value !== undefined) out[field.name] = value;
  }
  return out;
}

function walkField(raw: unknown, field: DescField, path: string, problems: FormatProblem[]): unknown {
  switch (field.fieldKind) {
    case 'message':
      return walkMessage(raw, field.message, path, problems);
    case 'enum':
      return enumValue(raw, field.enum, path, problems);
    case 'scalar':
      return scalarValue(raw, field.scalar, path, problems);
    default:
      // The data source has no repeated or map fields; a future one is read as the contract's JSON.
      return raw;
  }
}

function enumValue(raw: unknown, e: DescEnum, path: string, problems: FormatProblem[]): string | undefined {
  const { full, short, numbers } = enumNames(e);
  if (typeof raw === 'number') {
    const i = numbers.indexOf(raw);
    if (i >= 0) return full[i];
  } else if (typeof raw === 'string') {
    const i = full.indexOf(raw) >= 0 ? full.indexOf(raw) : short.indexOf(raw);
    if (i >= 0) return full[i];
  }
  const written = typeof raw === 'string' ? JSON.stringify(raw) : describe(raw);
  const accepted = short.filter((s) => !/UNSPECIFIED$/.test(s));
  const near = typeof raw === 'string' ? nearest(raw.toUpperCase().replace(/[- ]/g, '_'), [...accepted, ...full]) : undefined;
  const prefix = enumPrefix(e);
  problems.push({
    path,
    message: `${written} is not one of ${accepted.join(', ')}${prefix ? ` (or with the ${prefix} prefix)` : ''}` + (near ? `; did you mean ${near}?` : ''),
  });
  return undefined;
}

function scalarValue(raw: unknown, scalar: ScalarType, path: string, problems: FormatProblem[]): unknown {
  switch (scalar) {
    case ScalarType.STRING:
      if (typeof raw === 'string') return raw;
      problems.push({ path, message: `must be a string, not ${describe(raw)}${typeof raw === 'number' ? ' (quote it)' : ''}` });
      return undefined;
    case ScalarType.BOOL:
      if (typeof raw === 'boolean') return raw;
      problems.push({ path, message: `must be true or false, not ${describe(raw)}` });
      return undefined;
    case ScalarType.UINT32:
      if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 && raw <= 0xffffffff) return raw;
      problems.push({ path, message: `must be a whole number from 0 to 4294967295, not ${describe(raw)}` });
      return undefined;
    default:
      // Not used by the data source today; the contract's JSON as it is.
      return raw;
  }
}

/** A secret written as a string: a reference, an envelope, or the value itself. */
export function secretShorthand(value: string): Record<string, string> {
  // An envelope from `sourced encrypt` (docs/encryption.md).
  if (value.startsWith('sourced:enc:')) return { encrypted: value };
  return /^[a-z][a-z0-9+.-]*:\/\/./i.test(value) ? { reference: value } : { inline_value: value };
}

function unknownField(key: string, desc: DescMessage): string {
  const names = desc.fields.map((f) => f.name);
  const near =
    nearest(key, names) ??
    nearest(
      key,
      desc.fields.map((f) => f.jsonName),
    );
  const field = near && desc.fields.find((f) => f.name === near || f.jsonName === near);
  return field ? `unknown field; did you mean "${field.name}"?` : `unknown field (${desc.name} has ${names.join(', ')})`;
}

/** The candidate closest to `word` (Damerau-Levenshtein, case-insensitive), when close enough to be a typo. */
export function nearest(word: string, candidates: string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

// ---------------------------------------------------------------------------------------------
// The JSON Schema

type Schema = Record<string, unknown>;

/** The leading comment of a message, field or enum in the proto, as one paragraph. */
function comment(desc: DescMessage | DescEnum | DescField): string {
  const path = sourcePath(desc);
  const file = desc.kind === 'field' ? desc.parent.file : desc.file;
  const loc = file.proto.sourceCodeInfo?.location.find((l) => l.path.length === path.length && l.path.every((p, i) => p === path[i]));
  return (loc?.leadingComments ?? '').replace(/\s+/g, ' ').trim();
}

/** The source-code-info path of a top-level message or enum, or a field of a top-level message. */
function sourcePath(desc: DescMessage | DescEnum | DescField): number[] {
  if (desc.kind === 'field') return [...sourcePath(desc.parent), 2, desc.parent.fields.indexOf(desc)];
  if (desc.kind === 'message') return [4, desc.file.messages.indexOf(desc)];
  return [5, desc.file.enums.indexOf(desc)];
}

/** The JSON Schema (draft 2020-12) of a data-source file, from the contract's descriptors. */
export function dataSourceJsonSchema(): Schema {
  const root = dataSourceDescriptor();
  const defs: Record<string, Schema> = {};
  const ref = (name: string) => ({ $ref: `#/$defs/${name}` });
  const addMessage = (desc: DescMessage): void => {
    const name = desc.typeName;
    if (name in defs) return;
    if (name === STRUCT_TYPE) {
      defs[name] = { type: 'object', description: 'Any JSON object (google.protobuf.Struct).' };
      return;
    }
    const schema: Schema = { type: 'object', description: comment(desc), additionalProperties: false };
    defs[name] = schema;
    const properties: Record<string, Schema> = {};
    const exclusive: string[][] = [];
    for (const f of desc.fields) {
      const names = f.jsonName === f.name ? [f.name] : [f.name, f.jsonName];
      let s: Schema;
      if (f.fieldKind === 'message') {
        addMessage(f.message);
        s = ref(f.message.typeName);
      } else if (f.fieldKind === 'enum') {
        addEnum(f.enum);
        s = ref(f.enum.typeName);
      } else if (f.fieldKind === 'scalar') {
        s = scalarSchema(f.scalar);
      } else {
        throw new Error(`${f.parent.typeName}.${f.name}: a ${f.fieldKind} field; the data-source schema generator handles none yet`);
      }
      const description = comment(f);
      names.forEach((n, i) => {
        properties[n] = { ...s, description: i === 0 ? description : `${description} (the lowerCamelCase name of ${f.name})` };
      });
      if (names.length > 1) exclusive.push(names);
    }
    for (const o of desc.oneofs) {
      const members = o.fields.flatMap((f) => (f.jsonName === f.name ? [f.name] : [f.name, f.jsonName]));
      for (let i = 0; i < members.length; i++) for (let j = i + 1; j < members.length; j++) exclusive.push([members[i], members[j]]);
    }
    schema.properties = properties;
    if (exclusive.length) schema.not = { anyOf: dedupe(exclusive).map((pair) => ({ required: pair })) };
    if (name === SECRET_VALUE_TYPE) {
      defs[name] = {
        description: `${comment(desc)} In a file, also a string: a scheme:// reference, a sourced:enc: envelope, otherwise the value itself.`,
        oneOf: [{ type: 'string' }, { ...schema, description: undefined }],
      };
    }
  };
  const addEnum = (e: DescEnum): void => {
    if (e.typeName in defs) return;
    const { full, short, numbers } = enumNames(e);
    defs[e.typeName] = {
      description: `${comment(e)} The full name (${full[1] ?? full[0]}), the name without its prefix (${short[1] ?? short[0]}) or the number.`,
      enum: [...full, ...short.filter((s) => !full.includes(s)), ...numbers],
    };
  };
  addMessage(root);
  const dataSource = ref(root.typeName);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://sourced.dev/schemas/data-source.schema.json',
    title: 'sourced data source file',
    description:
      'A data source as sourced reads it from a file (sourced validate FILE, the Python client): the contract sourced.v1.DataSource in proto3 JSON (JSON or YAML), field names as in the proto or in lowerCamelCase, enum values with or without their prefix, a secret as a string; optionally wrapped as {"data_source": {...}}. Generated from proto/sourced/v1/data_source.proto by `npm run docs:schema`: do not edit.',
    anyOf: [
      dataSource,
      {
        type: 'object',
        properties: { data_source: dataSource, dataSource },
        minProperties: 1,
        maxProperties: 1,
        additionalProperties: false,
      },
    ],
    $defs: JSON.parse(JSON.stringify(defs)) as Schema,
  };
}

function dedupe(pairs: string[][]): string[][] {
  const seen = new Set<string>();
  return pairs.filter((p) => {
    const key = p.join('\0');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function scalarSchema(scalar: ScalarType): Schema {
  switch (scalar) {
    case ScalarType.STRING:
      return { type: 'string' };
    case ScalarType.BOOL:
      return { type: 'boolean' };
    case ScalarType.UINT32:
      return { type: 'integer', minimum: 0, maximum: 0xffffffff };
    default:
      throw new Error(`scalar type ${ScalarType[scalar]}: the data-source schema generator handles none yet`);
  }
}
