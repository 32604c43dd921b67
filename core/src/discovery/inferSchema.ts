/**
 * Schema inference for document stores: every field path of a sample of documents, with
 * the types seen at each and the share of documents that hold it. Not tied to a driver: a
 * connector passes a {@link ValueClassifier} that names its driver's value types (MongoDB's
 * `$type` names for BSON values, say); {@link classifyJsValue} names plain JavaScript values.
 */
import type { FieldTypeCount, InferredField, InferredSchema } from './entities';

/** How inference treats a value: descends into documents and arrays, counts the rest. */
export type ValueShape = 'document' | 'array' | 'scalar';

/** A value's type name (for example `string`, `int`, `objectId`) and shape. */
export interface ClassifiedValue {
  /** The type's name as the source calls it (`string`, `objectId`, `date`). */
  type: string;
  /** Whether inference descends into it: a scalar, a document, or an array. */
  shape: ValueShape;
}

/** Names the type of one value of a document. */
export type ValueClassifier = (value: unknown) => ClassifiedValue;

/** How {@link inferSchema} and {@link SchemaInferrer} infer a schema. */
export interface SchemaInferenceOptions {
  /** Most field paths reported; paths first seen after the cap are dropped and `truncated` is set. */
  maxFields: number;
  /** Names value types; default {@link classifyJsValue}. */
  classify?: ValueClassifier;
  /** Deepest nesting followed (documents and arrays); deeper values are counted at their path but not entered. Default 100 (MongoDB's own limit). */
  maxDepth?: number;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Names plain JavaScript values with MongoDB's `$type` names, the lingua franca of document
 * stores: `null`, `undefined`, `bool`, `int` (an integer within 32 bits), `double`, `long`
 * (bigint), `string`, `date`, `regex`, `binData` (bytes), `array`, `object`.
 */
export const classifyJsValue: ValueClassifier = (value) => {
  if (value === null) return { type: 'null', shape: 'scalar' };
  switch (typeof value) {
    case 'undefined':
      return { type: 'undefined', shape: 'scalar' };
    case 'boolean':
      return { type: 'bool', shape: 'scalar' };
    case 'string':
      return { type: 'string', shape: 'scalar' };
    case 'bigint':
      return { type: 'long', shape: 'scalar' };
    case 'number':
      return { type: Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX ? 'int' : 'double', shape: 'scalar' };
    case 'object':
      if (Array.isArray(value)) return { type: 'array', shape: 'array' };
      if (value instanceof Date) return { type: 'date', shape: 'scalar' };
      if (value instanceof RegExp) return { type: 'regex', shape: 'scalar' };
      if (value instanceof Uint8Array) return { type: 'binData', shape: 'scalar' };
      return { type: 'object', shape: 'document' };
    default:
      return { type: typeof value, shape: 'scalar' };
  }
};

interface PathStats {
  path: string;
  types: Map<string, number>;
  documents: number;
  /** The last document (by its index) that held the path, so each document counts once. */
  lastDocument: number;
}

/**
 * Accumulates documents one at a time and reports the inferred schema. Paths come in order
 * of first appearance (a parent before its children). A path's `documents` counts the
 * documents holding it at least once; its type counts count values, so `tags[]` of a
 * document with three tags adds three to `string`. Memory is bounded by `maxFields`.
 */
export class SchemaInferrer {
  private readonly paths = new Map<string, PathStats>();
  private readonly classify: ValueClassifier;
  private readonly maxDepth: number;
  private sampled = 0;
  private truncated = false;

  constructor(private readonly options: SchemaInferenceOptions) {
    this.classify = options.classify ?? classifyJsValue;
    this.maxDepth = options.maxDepth ?? 100;
  }

  /** Adds one document of the sample. */
  add(document: Record<string, unknown>): void {
    const index = this.sampled++;
    this.visitDocument(document, '', index, 0);
  }

  /** The schema of the documents added so far. */
  result(): InferredSchema {
    const sampled = this.sampled;
    const fields: InferredField[] = [...this.paths.values()].map((p) => ({
      path: p.path,
      types: sortTypes(p.types),
      documents: p.documents,
      frequency: sampled === 0 ? 0 : p.documents / sampled,
    }));
    return { sampledDocuments: sampled, fields, truncated: this.truncated };
  }

  private visitDocument(document: Record<string, unknown>, prefix: string, index: number, depth: number): void {
    for (const [key, value] of Object.entries(document)) {
      this.visitValue(prefix === '' ? key : `${prefix}.${key}`, value, index, depth + 1);
    }
  }

  private visitValue(path: string, value: unknown, index: number, depth: number): void {
    const stats = this.stats(path);
    if (!stats) return;
    const { type, shape } = this.classify(value);
    stats.types.set(type, (stats.types.get(type) ?? 0) + 1);
    if (stats.lastDocument !== index) {
      stats.lastDocument = index;
      stats.documents += 1;
    }
    if (depth >= this.maxDepth) return;
    if (shape === 'document') this.visitDocument(value as Record<string, unknown>, path, index, depth);
    else if (shape === 'array') for (const element of value as unknown[]) this.visitValue(`${path}[]`, element, index, depth + 1);
  }

  /** The stats of a path, created on first sight unless the cap is reached. */
  private stats(path: string): PathStats | undefined {
    let stats = this.paths.get(path);
    if (stats) return stats;
    if (this.paths.size >= this.options.maxFields) {
      this.truncated = true;
      return undefined;
    }
    stats = { path, types: new Map(), documents: 0, lastDocument: -1 };
    this.paths.set(path, stats);
    return stats;
  }
}

/** Most frequent first; equal counts by name, so the order never depends on the sample's order. */
function sortTypes(types: Map<string, number>): FieldTypeCount[] {
  return [...types.entries()].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

/** Infers the schema of a sample of documents in one call. */
export function inferSchema(documents: Iterable<Record<string, unknown>>, options: SchemaInferenceOptions): InferredSchema {
  const inferrer = new SchemaInferrer(options);
  for (const document of documents) inferrer.add(document);
  return inferrer.result();
}
