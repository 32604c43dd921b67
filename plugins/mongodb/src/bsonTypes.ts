import { classifyJsValue, type ClassifiedValue, type ValueClassifier } from '@sourced/core';

/**
 * MongoDB's `$type` names of the driver's BSON classes (by their `_bsontype` tag).
 * Documents must be read with `promoteValues: false`, so that `int`, `long` and `double`
 * stay distinguishable instead of all becoming JavaScript numbers.
 */
const BSON_TYPES: Record<string, string> = {
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
  // A DBRef is an embedded document ({ $ref, $id }) to the server.
  DBRef: 'object',
};

/** Names a deserialized BSON value as MongoDB's `$type` operator does; documents and arrays are descended into. */
export const classifyBsonValue: ValueClassifier = (value): ClassifiedValue => {
  const tag = (value as { _bsontype?: unknown } | null)?._bsontype;
  if (typeof tag === 'string') {
    if (tag === 'Code') {
      return { type: (value as { scope?: unknown }).scope ? 'javascriptWithScope' : 'javascript', shape: 'scalar' };
    }
    return { type: BSON_TYPES[tag] ?? tag.toLowerCase(), shape: 'scalar' };
  }
  return classifyJsValue(value);
};
