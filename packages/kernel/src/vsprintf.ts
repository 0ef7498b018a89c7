/**
 * The kernel's printf extensions the model's log lines use.
 * @kernel lib/vsprintf.c
 */

/**
 * Hex the way `%#llx` prints: `0x` and lowercase digits, zero-padded to at least `minDigits`.
 * @param n a non-negative safe integer.
 * @param minDigits minimum digit count (default 1).
 * @returns the rendering, e.g. `hex(0x1000)` is `"0x1000"`.
 */
export function hex(n: number, minDigits = 1): string {
  return `0x${n.toString(16).padStart(minDigits, '0')}`;
}

/**
 * A memory resource as `%pR` prints it: `[mem 0xf6000000-0xf6ffffff]`, each bound zero-padded
 * to 8 hex digits, with optional trailing flag words (`64bit pref`, `window`).
 * @param start first byte.
 * @param end last byte (inclusive, as `struct resource` keeps it).
 * @param flags words appended after a space when non-empty.
 * @returns the rendering.
 * @kernel resource_string (%pR)
 */
export function formatMemResource(start: number, end: number, flags = ''): string {
  return `[mem ${hex(start, 8)}-${hex(end, 8)}${flags === '' ? '' : ` ${flags}`}]`;
}

/**
 * A physical address as `%pa` prints it on a 64-bit kernel: `0x` and 16 hex digits.
 * @param phys the address.
 * @returns e.g. `0x00000000c0000000`.
 * @kernel phys_addr_t printing (%pa)
 */
export function formatPhysAddr(phys: number): string {
  return hex(phys, 16);
}
