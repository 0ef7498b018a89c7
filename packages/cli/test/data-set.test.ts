/**
 * The data set and its comparison (the examples' verification of every byte read back): seeded
 * xorshift32 bytes, and the first differing offset found without a per-byte loop.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { firstDifference, seededDataSet } from '../src/data-set';

describe('seededDataSet', () => {
  test('same seed, same bytes; another seed, other bytes; any length', () => {
    expect(seededDataSet(4096, 1)).toEqual(seededDataSet(4096, 1));
    expect(Buffer.from(seededDataSet(4096, 1)).equals(Buffer.from(seededDataSet(4096, 2)))).toBe(false);
    expect(seededDataSet(7, 1)).toEqual(seededDataSet(8, 1).subarray(0, 7));
    expect(seededDataSet(0, 5)).toHaveLength(0);
    // xorshift32 from state 1: the first word is 270369 (0x00042021), little-endian.
    expect([...seededDataSet(4, 1)]).toEqual([0x21, 0x20, 0x04, 0x00]);
    expect(seededDataSet(4, 0)).toEqual(seededDataSet(4, 1));
  });

  test('bad lengths are refused naming the length', () => {
    expect(() => seededDataSet(-1, 1)).toThrow('data set length -1 must be a non-negative integer');
    expect(() => seededDataSet(1.5, 1)).toThrow('data set length 1.5 must be a non-negative integer');
    expect(() => seededDataSet(Number.NaN, 1)).toThrow('data set length NaN must be a non-negative integer');
  });
});

describe('firstDifference', () => {
  test('property: equals the first index a byte-by-byte scan finds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }), fc.nat(3), (a, flips, cut) => {
        const b = a.slice(0, Math.max(0, a.length - (cut === 3 ? 1 : 0)));
        for (const [i, x] of flips) if (b.length > 0) b[i % b.length]! ^= x;
        let want: number | null = null;
        const n = Math.min(a.length, b.length);
        for (let i = 0; i < n && want === null; i++) if (a[i] !== b[i]) want = i;
        if (want === null && a.length !== b.length) want = n;
        expect(firstDifference(a, b)).toBe(want);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  test('equal arrays: null; a changed last byte of 4 MiB is found; subarrays compare by their own offsets', () => {
    const a = seededDataSet(4 * 2 ** 20, 3);
    const b = a.slice();
    expect(firstDifference(a, b)).toBeNull();
    b[b.length - 1]! ^= 0x80;
    expect(firstDifference(a, b)).toBe(b.length - 1);
    expect(firstDifference(a.subarray(1000, 2000), b.subarray(1000, 2000))).toBeNull();
    expect(firstDifference(a.subarray(100), b.subarray(100))).toBe(b.length - 101);
  });
});
