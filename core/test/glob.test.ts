import { describe, expect, it } from 'vitest';
import { globToLikePattern, globToRegExp, matchesGlob, matchesLikePattern } from '../src';

/** Every string over `alphabet` up to `max` characters long. */
function* strings(alphabet: string, max: number): Generator<string> {
  yield '';
  let level = [''];
  for (let n = 1; n <= max; n++) {
    level = level.flatMap((s) => [...alphabet].map((c) => s + c));
    yield* level;
  }
}

describe('glob matching', () => {
  /** The linear matcher agrees with the (backtracking) regular expression on every short pattern and name. */
  it('agrees with the anchored regular expression on every small case', () => {
    const patterns = [...strings('a*?', 4)];
    const names = [...strings('ab', 5)];
    for (const p of patterns) {
      const re = globToRegExp(p);
      for (const n of names) expect(matchesGlob(n, p), `${JSON.stringify(n)} ~ ${JSON.stringify(p)}`).toBe(re.test(n));
    }
  });

  it('takes `?` as one code point and everything else literally', () => {
    expect(matchesGlob('😀', '?')).toBe(true);
    expect(matchesGlob('a.b(c)+', 'a.b(c)+')).toBe(true);
    expect(matchesGlob('abc', 'a.c')).toBe(false);
    expect(matchesGlob('line\nbreak', 'line*')).toBe(true);
  });

  /** Issue 15: the pattern that froze the daemon's event loop through a regular expression answers at once. */
  it('matches crafted patterns in linear time', () => {
    const started = performance.now();
    expect(matchesGlob('a'.repeat(60), `${'*a'.repeat(20)}*s`)).toBe(false);
    expect(matchesGlob('a'.repeat(5000), `${'*a'.repeat(100)}*s`)).toBe(false);
    expect(matchesGlob('a'.repeat(5000), `${'*?'.repeat(100)}*b`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  /** A glob as a LIKE pattern: wildcards translated, LIKE's own wildcards and the escape character escaped. */
  it('writes globs as LIKE patterns and matches LIKE patterns the same way', () => {
    expect(globToLikePattern('sales_*')).toBe('sales\\_%');
    expect(globToLikePattern('100%?')).toBe('100\\%_');
    expect(globToLikePattern('a\\b')).toBe('a\\\\b');
    expect(globToLikePattern('a!_*', '!')).toBe('a!!!_%');
    for (const p of strings('a*?_%', 3)) {
      for (const n of strings('a_%', 3)) expect(matchesLikePattern(n, globToLikePattern(p)), `${n} ~ ${p}`).toBe(matchesGlob(n, p));
    }
    expect(matchesLikePattern('shop_eu', 'shop\\_%')).toBe(true);
    expect(matchesLikePattern('shopxeu', 'shop\\_%')).toBe(false);
  });
});
