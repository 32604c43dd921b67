/**
 * A small MongoDB query matcher for the stand-in: enough of the query language for the
 * filters drivers and the plugin send to listCollections/listDatabases and for `$match`
 * stages of fixture views. Strings compare by UTF-8 bytes, as the server's simple collation.
 */
import { BSONRegExp, type Document } from 'bson';

/** The BSON type of a deserialized value, for ordering across types. */
function rank(v: unknown): number {
  if (v === undefined || v === null) return 1;
  if (typeof v === 'number' || typeof v === 'bigint') return 2;
  if (typeof v === 'string') return 3;
  if (typeof v === 'boolean') return 8;
  if (v instanceof Date) return 9;
  if (Array.isArray(v)) return 5;
  const t = (v as { _bsontype?: string })._bsontype;
  if (t === 'Int32' || t === 'Double' || t === 'Long' || t === 'Decimal128') return 2;
  if (t === 'Binary') return 6;
  if (t === 'ObjectId') return 7;
  if (t === 'Timestamp') return 10;
  if (t === 'BSONRegExp' || v instanceof RegExp) return 11;
  return 4; // document
}

function numeric(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  const t = v as { _bsontype?: string; valueOf(): unknown; toNumber?(): number; toString(): string };
  if (t._bsontype === 'Long' && t.toNumber) return t.toNumber();
  if (t._bsontype === 'Decimal128') return Number(t.toString());
  return Number(t.valueOf());
}

/** Orders two values as the server would (by type, then value). */
export function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 1:
      return 0;
    case 2:
      return numeric(a) - numeric(b);
    case 3:
      return Buffer.compare(Buffer.from(a as string), Buffer.from(b as string));
    case 8:
      return Number(a) - Number(b);
    case 9:
      return (a as Date).getTime() - (b as Date).getTime();
    case 7:
      return (a as { toHexString(): string }).toHexString().localeCompare((b as { toHexString(): string }).toHexString());
    default:
      return JSON.stringify(a) === JSON.stringify(b) ? 0 : JSON.stringify(a) < JSON.stringify(b) ? -1 : 1;
  }
}

function equal(a: unknown, b: unknown): boolean {
  return rank(a) === rank(b) && compareValues(a, b) === 0;
}

/** Values at a dotted path; arrays along the way fan out, as in the query language. */
export function valuesAt(doc: unknown, path: string): unknown[] {
  const [head, ...rest] = path.split('.');
  if (doc === null || typeof doc !== 'object') return [];
  if (Array.isArray(doc) && !/^\d+$/.test(head)) return doc.flatMap((d) => valuesAt(d, path));
  const value = (doc as Record<string, unknown>)[head];
  if (value === undefined) return [];
  if (rest.length === 0) return [value];
  return valuesAt(value, rest.join('.'));
}

function toRegExp(pattern: unknown, options?: unknown): RegExp {
  if (pattern instanceof RegExp) return pattern;
  if (pattern instanceof BSONRegExp) return new RegExp(pattern.pattern, pattern.options.replace(/[^imsu]/g, ''));
  return new RegExp(String(pattern), typeof options === 'string' ? options.replace(/[^imsu]/g, '') : '');
}

const isOperatorDoc = (v: unknown): v is Document =>
  v !== null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  !(v instanceof Date) &&
  !(v as { _bsontype?: string })._bsontype &&
  Object.keys(v).length > 0 &&
  Object.keys(v).every((k) => k.startsWith('$'));

/** Whether one value (or any element of an array value) satisfies a condition. */
function matchesCondition(values: unknown[], condition: unknown): boolean {
  const candidates = values.flatMap((v) => (Array.isArray(v) ? [v, ...v] : [v]));
  if (condition instanceof RegExp || condition instanceof BSONRegExp) {
    const re = toRegExp(condition);
    return candidates.some((v) => typeof v === 'string' && re.test(v));
  }
  if (!isOperatorDoc(condition)) {
    if (condition === null) return values.length === 0 || candidates.some((v) => v === null);
    return candidates.some((v) => equal(v, condition));
  }
  return Object.entries(condition).every(([op, arg]) => {
    switch (op) {
      case '$eq':
        return matchesCondition(values, arg);
      case '$ne':
        return !matchesCondition(values, arg);
      case '$gt':
        return candidates.some((v) => rank(v) === rank(arg) && compareValues(v, arg) > 0);
      case '$gte':
        return candidates.some((v) => rank(v) === rank(arg) && compareValues(v, arg) >= 0);
      case '$lt':
        return candidates.some((v) => rank(v) === rank(arg) && compareValues(v, arg) < 0);
      case '$lte':
        return candidates.some((v) => rank(v) === rank(arg) && compareValues(v, arg) <= 0);
      case '$in':
        return (arg as unknown[]).some((a) => matchesCondition(values, a));
      case '$nin':
        return !(arg as unknown[]).some((a) => matchesCondition(values, a));
      case '$exists':
        return Boolean(arg) === values.length > 0;
      case '$regex': {
        const re = toRegExp(arg, (condition as Document).$options);
        return candidates.some((v) => typeof v === 'string' && re.test(v));
      }
      case '$options':
        return true;
      case '$not':
        return !matchesCondition(values, arg);
      case '$size':
        return values.some((v) => Array.isArray(v) && v.length === Number(arg));
      default:
        throw Object.assign(new Error(`unknown operator: ${op}`), { code: 2, codeName: 'BadValue' });
    }
  });
}

/** Whether a document matches a query filter. */
export function matches(doc: Document, filter: Document | undefined): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([key, condition]) => {
    switch (key) {
      case '$and':
        return (condition as Document[]).every((f) => matches(doc, f));
      case '$or':
        return (condition as Document[]).some((f) => matches(doc, f));
      case '$nor':
        return !(condition as Document[]).some((f) => matches(doc, f));
      default:
        if (key.startsWith('$')) throw Object.assign(new Error(`unknown top level operator: ${key}`), { code: 2, codeName: 'BadValue' });
        return matchesCondition(valuesAt(doc, key), condition);
    }
  });
}
