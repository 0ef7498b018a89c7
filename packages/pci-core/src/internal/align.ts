/**
 * Alignment helpers for address assignment.
 */

/** Round `x` up to a multiple of `a` (a power of two; exact for values below 2^53). */
export function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** Round `x` down to a multiple of `a` (a power of two; exact for values below 2^53). */
export function alignDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}
