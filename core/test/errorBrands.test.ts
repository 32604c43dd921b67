import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors';

/** A second, separate copy of core's errors module, as a plugin's own node_modules would load it. */
function anotherCopy(): typeof errors {
  const require = createRequire(__filename);
  const file = require.resolve(resolve(__dirname, '../dist/errors.js'));
  const saved = require.cache[file];
  delete require.cache[file];
  try {
    return require(file) as typeof errors;
  } finally {
    if (saved) require.cache[file] = saved;
  }
}

describe('error brands', () => {
  const copy = anotherCopy();

  /** The premise: the copy's classes are other objects, so only the brand can tie them together. */
  it('is a separate copy', () => {
    expect(copy.NotFoundError).not.toBe(errors.NotFoundError);
  });

  /** An error thrown by another copy of core is recognised as the class it is, and only as that. */
  it('recognises errors of another copy by brand', () => {
    const notFound = new copy.NotFoundError('TABLE_NOT_FOUND', 'no table');
    expect(notFound instanceof errors.NotFoundError).toBe(true);
    expect(notFound instanceof errors.SourcedError).toBe(true);
    expect(notFound instanceof errors.InputError).toBe(false);
    const input = new copy.InputError([{ field: 'columns[0]', description: 'no such column' }]);
    expect(input instanceof errors.InputError).toBe(true);
    expect(input instanceof errors.NotFoundError).toBe(false);
    expect(new copy.AbortedError() instanceof errors.AbortedError).toBe(true);
    expect(errors.hasErrorBrand(input, 'InputError')).toBe(true);
    expect(new Error('plain') instanceof errors.SourcedError).toBe(false);
    expect((null as unknown) instanceof errors.SourcedError).toBe(false);
  });

  /** A plugin's own subclass keeps ordinary instanceof for itself and is recognised as the sourced class it extends. */
  it('recognises a plugin subclass of another copy as its sourced base', () => {
    class TableGone extends copy.NotFoundError {}
    const gone = new TableGone('TABLE_NOT_FOUND', 'gone');
    expect(gone instanceof TableGone).toBe(true);
    expect(gone instanceof errors.NotFoundError).toBe(true);
    expect(new errors.NotFoundError('X', 'y') instanceof TableGone).toBe(false);
  });

  /** The brand is the same key in every copy: Symbol.for('sourced.error.<class name>'). */
  it('brands with Symbol.for keys', () => {
    const e = new errors.UnavailableError('DOWN', 'down');
    expect((e as unknown as Record<symbol, unknown>)[Symbol.for('sourced.error.UnavailableError')]).toBe(true);
    expect((e as unknown as Record<symbol, unknown>)[Symbol.for('sourced.error.SourcedError')]).toBe(true);
    // Not enumerable: JSON and log lines of the error stay as they were.
    expect(Object.keys(e)).toEqual(['reason', 'metadata', 'name']);
  });
});
