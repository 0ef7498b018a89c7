/**
 * Small statistics used by every figure: median, mean, and the least-squares growth exponent.
 */

/**
 * The median of a non-empty list.
 * @param xs the values.
 * @returns the middle value (the mean of the two middle ones for an even count).
 * @throws RangeError for an empty list.
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median: no values');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The mean of a non-empty list.
 * @param xs the values.
 * @returns their arithmetic mean.
 * @throws RangeError for an empty list.
 */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('mean: no values');
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

/**
 * The growth exponent k of `y ≈ c·x^k`: the least-squares slope of log(y) against log(x).
 * @param points at least two points with distinct positive x and positive y.
 * @returns the slope.
 * @throws RangeError for fewer than two points, a non-positive value, or all x equal.
 */
export function fitExponent(points: readonly { readonly x: number; readonly y: number }[]): number {
  if (points.length < 2) throw new RangeError(`fitExponent: need at least two points, got ${points.length}`);
  for (const p of points) {
    if (!(p.x > 0) || !(p.y > 0)) throw new RangeError(`fitExponent: point (${p.x}, ${p.y}) is not positive; a log-log fit needs x > 0 and y > 0`);
  }
  const lx = points.map((p) => Math.log(p.x));
  const ly = points.map((p) => Math.log(p.y));
  const mx = mean(lx);
  const my = mean(ly);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < points.length; i++) {
    sxy += (lx[i]! - mx) * (ly[i]! - my);
    sxx += (lx[i]! - mx) ** 2;
  }
  if (sxx === 0) throw new RangeError('fitExponent: every point has the same x; the slope is undefined');
  return sxy / sxx;
}
