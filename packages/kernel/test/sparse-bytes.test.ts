/** The one sparse byte store behind System RAM, BAR memory and device media. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { PAGE_SIZE, SparseBytes } from '../src/index';

describe('SparseBytes', () => {
  test('unwritten bytes read as zero without allocating; writes allocate only touched pages', () => {
    const s = new SparseBytes();
    const out = new Uint8Array(3 * PAGE_SIZE).fill(0xaa);
    s.read(10 * PAGE_SIZE, out);
    expect(out.every((b) => b === 0)).toBe(true);
    expect(s.residentPages()).toBe(0);
    s.write(PAGE_SIZE - 2, new Uint8Array([1, 2, 3, 4]));
    expect(s.residentPages()).toBe(2);
    const back = new Uint8Array(4);
    s.read(PAGE_SIZE - 2, back);
    expect([...back]).toEqual([1, 2, 3, 4]);
  });

  test('zero drops whole pages and clears partial ones', () => {
    const s = new SparseBytes();
    s.write(0, new Uint8Array(2 * PAGE_SIZE).fill(7));
    s.zero(1, 2 * PAGE_SIZE - 1);
    expect(s.residentPages()).toBe(1);
    const out = new Uint8Array(2);
    s.read(0, out);
    expect([...out]).toEqual([7, 0]);
  });

  test('property: any sequence of writes and zeroes matches a flat-array oracle', () => {
    const size = 5 * PAGE_SIZE;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('w' as const), at: fc.nat(size - 1), data: fc.uint8Array({ minLength: 1, maxLength: 2 * PAGE_SIZE }) }),
      fc.record({ kind: fc.constant('z' as const), at: fc.nat(size - 1), len: fc.nat(2 * PAGE_SIZE) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const s = new SparseBytes();
        const oracle = new Uint8Array(size + 2 * PAGE_SIZE);
        for (const o of ops) {
          if (o.kind === 'w') {
            s.write(o.at, o.data);
            oracle.set(o.data, o.at);
          } else {
            s.zero(o.at, o.len);
            oracle.fill(0, o.at, o.at + o.len);
          }
        }
        const out = new Uint8Array(oracle.length);
        s.read(0, out);
        expect(Buffer.compare(out, oracle)).toBe(0);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
