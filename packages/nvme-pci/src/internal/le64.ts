/**
 * Little-endian 64-bit fields as JavaScript numbers without BigInt: two 32-bit halves. The hot
 * paths (command encode/decode, PRP lists) read and write addresses on every I/O, and a BigInt
 * per field costs an allocation.
 */
const TWO_32 = 2 ** 32;
/** The high half of the first value above `Number.MAX_SAFE_INTEGER` (2^53 = 2^21 · 2^32). */
const HI_UNSAFE = 2 ** 21;

/**
 * Reads a le64 field.
 * @param v the view.
 * @param off byte offset.
 * @param invalid what to return when the value is not a safe integer (`NVME_ADDR_INVALID`).
 * @returns the value, or `invalid`.
 */
export function getLe64(v: DataView, off: number, invalid: number): number {
  const hi = v.getUint32(off + 4, true);
  if (hi >= HI_UNSAFE) return invalid;
  return hi * TWO_32 + v.getUint32(off, true);
}

/**
 * Writes a le64 field with the bytes `setBigUint64(off, BigInt(x), true)` writes (which it
 * still does for anything but a safe non-negative integer, so its errors stay the same).
 * @param v the view.
 * @param off byte offset.
 * @param x the value.
 */
export function setLe64(v: DataView, off: number, x: number): void {
  if (x >= 0 && Number.isSafeInteger(x)) {
    v.setUint32(off, x >>> 0, true);
    v.setUint32(off + 4, Math.floor(x / TWO_32), true);
  } else v.setBigUint64(off, BigInt(x), true);
}
