/**
 * Little-endian fields of queue entries and PRP lists, read and written on every I/O: 64-bit
 * ones as JavaScript numbers without BigInt (two 32-bit halves; a BigInt per field costs an
 * allocation), and 16/32/64-bit ones straight on the bytes (no DataView per entry).
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

/**
 * Reads a le16 from bytes.
 * @param b the bytes.
 * @param off byte offset.
 * @returns the value.
 */
export function getLe16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

/**
 * Reads a le32 from bytes.
 * @param b the bytes.
 * @param off byte offset.
 * @returns the value (unsigned).
 */
export function getLe32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/**
 * Writes the low 16 bits of a value as le16 (what `DataView.setUint16(off, v, true)` writes).
 * @param b the bytes.
 * @param off byte offset.
 * @param v the value.
 */
export function putLe16(b: Uint8Array, off: number, v: number): void {
  const x = v & 0xffff;
  b[off] = x & 0xff;
  b[off + 1] = x >>> 8;
}

/**
 * Writes a value as le32 after `>>> 0` (what `DataView.setUint32(off, v >>> 0, true)` writes).
 * @param b the bytes.
 * @param off byte offset.
 * @param v the value.
 */
export function putLe32(b: Uint8Array, off: number, v: number): void {
  const x = v >>> 0;
  b[off] = x & 0xff;
  b[off + 1] = (x >>> 8) & 0xff;
  b[off + 2] = (x >>> 16) & 0xff;
  b[off + 3] = x >>> 24;
}

/**
 * `getLe64` on bytes.
 * @param b the bytes.
 * @param off byte offset.
 * @param invalid what to return when the value is not a safe integer.
 * @returns the value, or `invalid`.
 */
export function getLe64Bytes(b: Uint8Array, off: number, invalid: number): number {
  const hi = getLe32(b, off + 4);
  if (hi >= HI_UNSAFE) return invalid;
  return hi * TWO_32 + getLe32(b, off);
}

/**
 * `setLe64` on bytes (same bytes; anything but a safe non-negative integer still goes through
 * `setBigUint64(BigInt(x))`, with its errors).
 * @param b the bytes.
 * @param off byte offset.
 * @param x the value.
 */
export function setLe64Bytes(b: Uint8Array, off: number, x: number): void {
  if (x >= 0 && Number.isSafeInteger(x)) {
    putLe32(b, off, x);
    putLe32(b, off + 4, Math.floor(x / TWO_32));
  } else new DataView(b.buffer, b.byteOffset, b.length).setBigUint64(off, BigInt(x), true);
}
