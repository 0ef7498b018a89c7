/**
 * Word-at-a-time bitmap helpers over a `Uint32Array` (bit `i` is bit `i & 31` of word `i >> 5`),
 * used by `GenPool`. Every scan and range update touches each 32-bit word at most once, so the
 * cost is O(bits / 32), never a per-bit loop.
 *
 * @kernel lib/find_bit.c (find_next_bit, find_next_zero_bit), lib/bitmap.c (bitmap_set,
 *   bitmap_clear, bitmap_find_next_zero_area)
 */

/** Mask of bits `[lo, hi)` within one word (0 ≤ lo < hi ≤ 32). */
function wordMask(lo: number, hi: number): number {
  const upper = hi === 32 ? 0xffffffff : ((1 << hi) - 1) >>> 0;
  const lower = lo === 0 ? 0 : ((1 << lo) - 1) >>> 0;
  return (upper & ~lower) >>> 0;
}

/** Index of the lowest set bit of a non-zero word. */
function lowestBit(w: number): number {
  return 31 - Math.clz32(w & -w);
}

/**
 * The first bit `>= start` and `< size` whose value is `value`.
 * @param words the bitmap.
 * @param size number of valid bits.
 * @param start first bit to look at.
 * @param value `1` to find a set bit, `0` a clear one.
 * @returns the bit index, or `size` when there is none.
 */
export function findNextBit(words: Uint32Array, size: number, start: number, value: 0 | 1): number {
  if (start >= size) return size;
  const flip = value === 1 ? 0 : 0xffffffff;
  let wi = start >>> 5;
  let w = ((words[wi]! ^ flip) & wordMask(start & 31, 32)) >>> 0;
  const lastWord = (size - 1) >>> 5;
  for (;;) {
    if (w !== 0) {
      const bit = (wi << 5) + lowestBit(w);
      return Math.min(bit, size);
    }
    if (++wi > lastWord) return size;
    w = (words[wi]! ^ flip) >>> 0;
  }
}

/**
 * Sets or clears bits `[start, start + count)`.
 * @param words the bitmap.
 * @param start first bit.
 * @param count number of bits (may be 0).
 * @param value `1` to set, `0` to clear.
 */
export function fillRange(words: Uint32Array, start: number, count: number, value: 0 | 1): void {
  const end = start + count;
  let bit = start;
  while (bit < end) {
    const wi = bit >>> 5;
    const lo = bit & 31;
    const hi = Math.min(32, end - (wi << 5));
    const m = wordMask(lo, hi);
    words[wi] = value === 1 ? (words[wi]! | m) >>> 0 : (words[wi]! & ~m) >>> 0;
    bit = (wi + 1) << 5;
  }
}

/**
 * Whether every bit of `[start, start + count)` has the value `value`.
 * @param words the bitmap.
 * @param start first bit.
 * @param count number of bits.
 * @param value the value every bit must have.
 * @returns `true` for an empty range.
 */
export function rangeIs(words: Uint32Array, start: number, count: number, value: 0 | 1): boolean {
  const end = start + count;
  let bit = start;
  while (bit < end) {
    const wi = bit >>> 5;
    const m = wordMask(bit & 31, Math.min(32, end - (wi << 5)));
    const got = (words[wi]! & m) >>> 0;
    if (got !== (value === 1 ? m : 0)) return false;
    bit = (wi + 1) << 5;
  }
  return true;
}

/**
 * First fit: the lowest `start` such that bits `[start, start + count)` are all clear.
 * @param words the bitmap.
 * @param size number of valid bits.
 * @param count run length wanted (> 0).
 * @returns the first bit of the run, or `-1` when no clear run of `count` bits exists.
 * @kernel bitmap_find_next_zero_area (align_mask 0)
 */
export function findZeroRun(words: Uint32Array, size: number, count: number): number {
  let start = findNextBit(words, size, 0, 0);
  while (start + count <= size) {
    const set = findNextBit(words, start + count, start, 1);
    if (set >= start + count) return start;
    start = findNextBit(words, size, set, 0);
  }
  return -1;
}
