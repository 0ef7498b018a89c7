/** The statistics behind the figures: median, mean, and the log-log growth exponent. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitExponent, mean, median } from '../src/stats';

describe('stats', () => {
  it('median and mean', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(() => median([])).toThrow('median: no values');
  });

  it('the exponent of exact power laws is recovered (synthetic points)', () => {
    expect(fitExponent([250, 500, 1000, 2000].map((x) => ({ x, y: 3e-4 * x * x })))).toBeCloseTo(2, 10);
    expect(fitExponent([1, 10, 100].map((x) => ({ x, y: 7 * x })))).toBeCloseTo(1, 10);
    fc.assert(
      fc.property(fc.double({ min: 0.1, max: 4, noNaN: true }), fc.double({ min: 1e-6, max: 1e3, noNaN: true }), (k, c) => {
        const pts = [250, 500, 1000, 2000].map((x) => ({ x, y: c * x ** k }));
        expect(fitExponent(pts)).toBeCloseTo(k, 6);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('noise around a quadratic gives a slope near 2; bad input is refused', () => {
    const pts = [
      { x: 250, y: 20 },
      { x: 500, y: 85 },
      { x: 1000, y: 310 },
      { x: 2000, y: 1300 },
    ];
    const k = fitExponent(pts);
    expect(k).toBeGreaterThan(1.9);
    expect(k).toBeLessThan(2.1);
    expect(() => fitExponent([{ x: 1, y: 1 }])).toThrow('need at least two points, got 1');
    expect(() => fitExponent([{ x: 1, y: 1 }, { x: 2, y: 0 }])).toThrow('point (2, 0) is not positive');
    expect(() => fitExponent([{ x: 5, y: 1 }, { x: 5, y: 2 }])).toThrow('every point has the same x');
  });
});
