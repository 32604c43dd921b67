/**
 * The aggregation stages the stand-in evaluates: those of the fixture's views and those
 * the plugin sends to sample documents. `$sample` is deterministic (a shuffle seeded by
 * the namespace), so repeated runs sample the same documents.
 */
import { BSON, EJSON, type Document } from 'bson';
import { compareValues, matches, valuesAt } from './match';

/** An error a command answers with `{ ok: 0, code, codeName, errmsg }`. */
export class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
  ) {
    super(message);
  }
}

function seeded(seed: string): () => number {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function setPath(target: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let at = target;
  for (const p of parts.slice(0, -1)) {
    if (typeof at[p] !== 'object' || at[p] === null) at[p] = {};
    at = at[p] as Document;
  }
  at[parts[parts.length - 1]] = value;
}

function unsetPath(target: Document, path: string): void {
  const parts = path.split('.');
  let at: unknown = target;
  for (const p of parts.slice(0, -1)) {
    at = (at as Document | undefined)?.[p];
    if (typeof at !== 'object' || at === null) return;
  }
  if (Array.isArray(at)) for (const element of at) unsetPath(element as Document, parts[parts.length - 1]);
  else delete (at as Document)[parts[parts.length - 1]];
}

/** An operator expression: an object whose one key starts with `$`. */
const isOperator = (v: unknown): v is Document =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  !('_bsontype' in v) &&
  !(v instanceof Date) &&
  Object.keys(v).length === 1 &&
  Object.keys(v)[0].startsWith('$');
/** An expression object of `$project` (`{ a: '$x', b: { $literal: 1 } }`), not a BSON value. */
const isExpressionObject = (v: unknown): v is Document =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !('_bsontype' in v) && !(v instanceof Date) && !(v instanceof Uint8Array);

/**
 * Evaluates an aggregation expression over a document: field paths (`$a.b`), variables
 * (`$$ROOT`, `$$CURRENT`, `$$name.path` of `$map`'s `as`), literals, `$literal`,
 * `$objectToArray`, `$map`, `$type` and `$bsonSize`; anything else is InvalidPipelineOperator, as on a server
 * that lacks it.
 */
export function evaluate(expr: unknown, doc: Document, vars: Record<string, unknown> = {}): unknown {
  if (typeof expr === 'string' && expr.startsWith('$$')) {
    const [name, ...path] = expr.slice(2).split('.');
    const value = name === 'ROOT' || name === 'CURRENT' ? doc : vars[name];
    if (!(name in vars) && name !== 'ROOT' && name !== 'CURRENT') throw new CommandError(17276, 'Location17276', `Use of undefined variable: ${name}`);
    return path.length === 0 ? value : valuesAt(value, path.join('.'))[0];
  }
  if (typeof expr === 'string' && expr.startsWith('$')) {
    const values = valuesAt(doc, expr.slice(1));
    return values.length > 1 ? values : values[0];
  }
  if (Array.isArray(expr)) return expr.map((e) => evaluate(e, doc, vars));
  if (isOperator(expr)) {
    const [op, arg] = Object.entries(expr)[0];
    switch (op) {
      case '$literal':
        return arg;
      case '$objectToArray': {
        const value = evaluate(arg, doc, vars);
        if (value === undefined || value === null) return null;
        if (!isExpressionObject(value)) throw new CommandError(40390, 'Location40390', '$objectToArray requires a document input');
        return Object.entries(value).map(([k, v]) => ({ k, v }));
      }
      case '$map': {
        const { input, as = 'this', in: body } = arg as Document;
        const items = evaluate(input, doc, vars);
        if (items === undefined || items === null) return null;
        if (!Array.isArray(items)) throw new CommandError(16883, 'Location16883', 'input to $map must be an array not object');
        return items.map((item) => evaluate(body, doc, { ...vars, [String(as)]: item }));
      }
      case '$type':
        return bsonTypeName(evaluate(Array.isArray(arg) && arg.length === 1 ? arg[0] : arg, doc, vars));
      case '$bsonSize': {
        const value = evaluate(Array.isArray(arg) && arg.length === 1 ? arg[0] : arg, doc, vars);
        if (value === undefined || value === null) return null;
        if (!isExpressionObject(value) || Array.isArray(value)) throw new CommandError(31393, 'Location31393', '$bsonSize requires a document input');
        return BSON.calculateObjectSize(value);
      }
      default:
        throw new CommandError(168, 'InvalidPipelineOperator', `Unrecognized expression '${op}'`);
    }
  }
  if (isExpressionObject(expr)) return Object.fromEntries(Object.entries(expr).map(([k, v]) => [k, evaluate(v, doc, vars)]));
  return expr;
}

const BSON_TYPE_NAMES: Record<string, string> = {
  Double: 'double',
  Int32: 'int',
  Long: 'long',
  Decimal128: 'decimal',
  ObjectId: 'objectId',
  Binary: 'binData',
  Timestamp: 'timestamp',
  BSONRegExp: 'regex',
  BSONSymbol: 'symbol',
  MinKey: 'minKey',
  MaxKey: 'maxKey',
  Code: 'javascript',
  DBRef: 'object',
};

/** `$type` of a value as a server names it: `missing` for no value; plain JS numbers as the BSON serializer stores them. */
export function bsonTypeName(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  const tag = (value as { _bsontype?: unknown })._bsontype;
  if (typeof tag === 'string') return BSON_TYPE_NAMES[tag] ?? tag.toLowerCase();
  switch (typeof value) {
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    case 'bigint':
      return 'long';
    case 'number':
      return Number.isInteger(value) && value >= -2147483648 && value <= 2147483647 ? 'int' : 'double';
    default:
      if (Array.isArray(value)) return 'array';
      if (value instanceof Date) return 'date';
      if (value instanceof RegExp) return 'regex';
      if (value instanceof Uint8Array) return 'binData';
      return 'object';
  }
}

/** A copy of a document's own structure (documents and arrays); BSON values (ObjectId, Int32, Binary, dates) are shared, keeping their classes. */
function copyDocument<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => copyDocument(v)) as T;
  if (isExpressionObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyDocument(v)])) as T;
  return value;
}

function project(doc: Document, spec: Document): Document {
  const entries = Object.entries(spec);
  const exclusion = entries.every(([k, v]) => k === '_id' || v === 0 || v === false);
  if (exclusion) {
    const out = copyDocument(doc);
    for (const [k, v] of entries) if (v === 0 || v === false) unsetPath(out, k);
    return out;
  }
  const out: Document = {};
  if (spec._id !== 0 && spec._id !== false && doc._id !== undefined) out._id = doc._id;
  for (const [k, v] of entries) {
    if (k === '_id') continue;
    if (typeof v === 'string' && v.startsWith('$')) {
      const [value] = valuesAt(doc, v.slice(1));
      if (value !== undefined) setPath(out, k, value);
    } else if (v === 1 || v === true) {
      const [value] = valuesAt(doc, k);
      if (value !== undefined) setPath(out, k, value);
    } else if (isExpressionObject(v)) {
      const value = evaluate(v, doc);
      if (value !== undefined) setPath(out, k, value);
    }
  }
  return out;
}

/**
 * The key `$group` groups a value under: numbers by their value whatever their type (a server
 * groups `1` as int, long and double together), everything else by its canonical Extended
 * JSON (documents then differ by field order, as on a server); null and missing are one group.
 * Not a server's: numbers inside documents and arrays keep their type in the key.
 */
function groupKey(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  const type = bsonTypeName(value);
  if (type === 'int' || type === 'long') return `n:${BigInt(String(value))}`;
  if (type === 'double') {
    const x = Number((value as { valueOf(): unknown }).valueOf());
    return Number.isSafeInteger(x) ? `n:${BigInt(x)}` : `n:${x}`;
  }
  if (type === 'decimal') return `n:${Number(String(value))}`;
  return EJSON.stringify({ v: value } as Document, { relaxed: false });
}

/** A number of any BSON numeric type as a JavaScript number (for `$sum`/`$avg`), undefined for anything else. */
function asNumber(value: unknown): number | undefined {
  const type = bsonTypeName(value);
  if (type === 'int' || type === 'double') return Number((value as { valueOf(): unknown }).valueOf());
  if (type === 'long' || type === 'decimal') return Number(String(value));
  return undefined;
}

/**
 * `$group` with an `_id` expression and the accumulators `$sum`, `$avg`, `$min`, `$max`,
 * `$first` and `$last` (`$min`/`$max` skip null and missing and compare across types in
 * BSON order, `$sum`/`$avg` skip what is not a number), as the test oracles use it.
 */
function group(docs: Document[], spec: Document): Document[] {
  const groups = new Map<string, { id: unknown; docs: Document[] }>();
  for (const d of docs) {
    const id = evaluate(spec._id ?? null, d);
    const key = groupKey(id);
    const g = groups.get(key);
    if (g) g.docs.push(d);
    else groups.set(key, { id: id === undefined ? null : id, docs: [d] });
  }
  return [...groups.values()].map((g) => {
    const out: Document = { _id: g.id };
    for (const [field, acc] of Object.entries(spec)) {
      if (field === '_id') continue;
      const [op, expr] = Object.entries(acc as Document)[0] ?? [];
      const values = g.docs.map((d) => evaluate(expr, d));
      const present = values.filter((v) => v !== undefined && v !== null);
      const numbers = values.map(asNumber).filter((v): v is number => v !== undefined);
      switch (op) {
        case '$sum':
          out[field] = numbers.reduce((a, b) => a + b, 0);
          break;
        case '$avg':
          out[field] = numbers.length ? numbers.reduce((a, b) => a + b, 0) / numbers.length : null;
          break;
        case '$min':
        case '$max': {
          const sorted = [...present].sort(compareValues);
          out[field] = (op === '$min' ? sorted[0] : sorted[sorted.length - 1]) ?? null;
          break;
        }
        case '$first':
          out[field] = values[0] ?? null;
          break;
        case '$last':
          out[field] = values[values.length - 1] ?? null;
          break;
        default:
          throw new CommandError(15952, 'Location15952', `unknown group operator '${String(op)}'`);
      }
    }
    return out;
  });
}

/** Runs a pipeline over documents. `seed` makes `$sample` repeatable. */
export function runPipeline(docs: Document[], pipeline: Document[], seed: string): Document[] {
  let out = docs;
  for (const stage of pipeline) {
    const [name, arg] = Object.entries(stage)[0] ?? [];
    switch (name) {
      case '$match':
        out = out.filter((d) => matches(d, arg as Document));
        break;
      case '$project':
        out = out.map((d) => project(d, arg as Document));
        break;
      case '$limit':
        out = out.slice(0, Number(arg));
        break;
      case '$skip':
        out = out.slice(Number(arg));
        break;
      case '$sort': {
        const keys = Object.entries(arg as Document);
        out = [...out].sort((a, b) => {
          for (const [k, dir] of keys) {
            const c = compareValues(valuesAt(a, k)[0], valuesAt(b, k)[0]);
            if (c !== 0) return Number(dir) < 0 ? -c : c;
          }
          return 0;
        });
        break;
      }
      case '$sample': {
        const size = Number((arg as Document).size);
        if (!Number.isInteger(size) || size < 0) throw new CommandError(28747, 'Location28747', 'size argument to $sample must not be negative');
        if (size >= out.length) break;
        const random = seeded(seed);
        const copy = [...out];
        for (let i = 0; i < size; i++) {
          const j = i + Math.floor(random() * (copy.length - i));
          [copy[i], copy[j]] = [copy[j], copy[i]];
        }
        out = copy.slice(0, size);
        break;
      }
      case '$count':
        out = out.length === 0 ? [] : [{ [String(arg)]: out.length }];
        break;
      case '$group':
        out = group(out, arg as Document);
        break;
      default:
        throw new CommandError(40324, 'Location40324', `Unrecognized pipeline stage name: '${name}'`);
    }
  }
  return out;
}
