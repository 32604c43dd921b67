/**
 * The MySQL connector's catalog key order, checked without a server: byteOrder must order
 * names as their UTF-8 bytes do (the keyset's ORDER BY CAST(... AS BINARY)), including code
 * points above U+FFFF (surrogate pairs in JavaScript) against units from U+E000 up.
 */
import { describe, expect, it } from 'vitest';
import { byteOrder } from '../plugins/mysql/src/catalogRows';

const sign = (x: number) => Math.sign(x);

describe('byteOrder', () => {
  it('orders every pair of names as Buffer.compare of their UTF-8 bytes does', () => {
    const pieces = ['', 'a', 'B', '_', '!', 'é', '\u00ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '😀', '\u{10000}', '\u{10ffff}'];
    const names = pieces.flatMap((a) => pieces.map((b) => a + b));
    const wrong: string[] = [];
    for (const a of names) {
      for (const b of names) {
        if (sign(byteOrder(a, b)) !== sign(Buffer.compare(Buffer.from(a), Buffer.from(b)))) wrong.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
    }
    expect(wrong).toEqual([]);
    // The case a UTF-16 comparison gets wrong: U+FFFF sorts before U+10000 in UTF-8.
    expect(byteOrder('\uffff', '\u{10000}')).toBeLessThan(0);
    expect('\uffff' < '\u{10000}').toBe(false);
  });
});
