/**
 * The data set a workload writes, and the byte-exact comparison of what comes back: seeded
 * pseudo-random bytes, generated a 32-bit word at a time, and compared with whole-range `Buffer`
 * compares, never byte by byte. The examples (nvmf-p2p-offload, cmb-copy) verify every byte they
 * read back with these.
 *
 * @kernel — (test data; the kernel has no such helper)
 */

/**
 * Deterministic pseudo-random bytes (xorshift32, one 32-bit word per step, little-endian).
 * @param len bytes wanted (a non-negative safe integer).
 * @param seed any integer; the same seed always gives the same bytes (0 is taken as 1, since
 *   xorshift's state must not be 0); only the low 32 bits count.
 * @returns a fresh array of `len` bytes the caller owns (a view on a fresh word buffer, so a
 *   longer set of the same seed starts with the same bytes).
 * @throws RangeError for a negative or non-integer length, naming it.
 */
export function seededDataSet(len: number, seed: number): Uint8Array {
  if (!Number.isSafeInteger(len) || len < 0) throw new RangeError(`data set length ${len} must be a non-negative integer`);
  const words = new Uint32Array(Math.ceil(len / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, len);
}

/** A `Buffer` over the same bytes (no copy), for its native `equals`. */
function view(a: Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.length);
}

/**
 * The first offset where two byte arrays differ: one whole-range compare, then halving the range
 * that differs (O(n log n) bytes compared in the worst case, no per-byte loop). Neither array is
 * changed or kept.
 * @param expected what was written.
 * @param actual what was read back.
 * @returns the first differing offset; the shorter length when one is a prefix of the other;
 *   `null` when both are equal.
 */
export function firstDifference(expected: Uint8Array, actual: Uint8Array): number | null {
  const n = Math.min(expected.length, actual.length);
  if (view(expected.subarray(0, n)).equals(view(actual.subarray(0, n)))) return expected.length === actual.length ? null : n;
  // Invariant: [0, lo) is equal and [lo, hi) holds a difference.
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (view(expected.subarray(lo, mid)).equals(view(actual.subarray(lo, mid)))) lo = mid;
    else hi = mid;
  }
  return lo;
}
