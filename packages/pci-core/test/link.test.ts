import { describe, expect, it } from 'vitest';
import { linkCapacityBytesPerSec, PCIE_SPEEDS } from '../src/link';

describe('link capacity: GT/s x lanes x encoding / 8 (8b/10b Gen1-2, 128b/130b Gen3-5, FLIT 1b/1b Gen6)', () => {
  it('gives the per-direction raw rates', () => {
    expect(linkCapacityBytesPerSec(1, 1)).toBe(250e6);
    expect(linkCapacityBytesPerSec(2, 8)).toBe(4e9);
    expect(linkCapacityBytesPerSec(3, 4)! / 1e9).toBeCloseTo(3.938, 3);
    expect(linkCapacityBytesPerSec(4, 16)! / 1e9).toBeCloseTo(31.508, 3);
    expect(linkCapacityBytesPerSec(5, 16)! / 1e9).toBeCloseTo(63.015, 3);
    expect(linkCapacityBytesPerSec(6, 16)).toBe(128e9);
    expect(PCIE_SPEEDS.map((s) => s.encoding)).toEqual(['8b/10b', '8b/10b', '128b/130b', '128b/130b', '128b/130b', '1b/1b (FLIT)']);
  });

  it('is null for an unknown generation or width', () => {
    expect(linkCapacityBytesPerSec(7, 4)).toBeNull();
    expect(linkCapacityBytesPerSec(0, 4)).toBeNull();
    expect(linkCapacityBytesPerSec(3, 0)).toBeNull();
  });
});
