import { P2PDMA_POLICIES, PAGE_SIZE } from '@p2pdma/kernel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pciAllocP2pmem, pciFreeP2pmem, pciP2pmemVirtToBus } from '../src/alloc';
import { pciP2pdma } from '../src/pci-p2pdma';
import { pciP2pdmaAddResource } from '../src/provider';
import { boot } from './helpers';

const CARD = '0000:06:00.0';
const POOL = 4 * 2 ** 20; // 4 MiB: 1024 pages
const BAR_BUS = 0x8000_0000;

/** The largest gap between live allocations (page-rounded) in the pool. */
function largestFreeRun(live: ReadonlyArray<{ addr: number; size: number }>, base: number): number {
  const spans = live.map((l) => [l.addr, l.addr + Math.ceil(l.size / PAGE_SIZE) * PAGE_SIZE] as const).sort((a, b) => a[0] - b[0]);
  let best = 0;
  let at = base;
  for (const [s, e] of spans) {
    best = Math.max(best, s - at);
    at = e;
  }
  return Math.max(best, base + POOL - at);
}

type Op = { kind: 'alloc'; size: number } | { kind: 'free'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('alloc' as const), size: fc.integer({ min: 1, max: 96 * 1024 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
);

describe('p2pmem allocator properties (gen_pool with page granularity, sysfs available)', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: no overlap, page granularity, available + allocated = size, frees restore exactly`, () => {
      const b = boot('seed-switch', { policy });
      const card = b.dev(CARD);
      expect(pciP2pdmaAddResource(card, 4, POOL, 0)).toBe(0);
      const p2p = pciP2pdma(card)!;
      const base = p2p.pool.chunkList()[0]!.virt;
      const available = () => Number((b.kernel.sysfs.read(`/sys/bus/pci/devices/${CARD}/p2pmem/available`) as string).trim());
      fc.assert(
        fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
          const live: Array<{ addr: number; size: number }> = [];
          for (const o of ops) {
            if (o.kind === 'alloc') {
              const addr = pciAllocP2pmem(card, o.size);
              const bytes = Math.ceil(o.size / PAGE_SIZE) * PAGE_SIZE;
              if (addr === null) {
                // First fit fails only when no free run is large enough.
                expect(largestFreeRun(live, base)).toBeLessThan(bytes);
                continue;
              }
              expect(addr % PAGE_SIZE).toBe(0);
              expect(addr).toBeGreaterThanOrEqual(base);
              expect(addr + bytes).toBeLessThanOrEqual(base + POOL);
              expect(pciP2pmemVirtToBus(card, addr)).toBe(BAR_BUS + (addr - base));
              for (const l of live) {
                const lBytes = Math.ceil(l.size / PAGE_SIZE) * PAGE_SIZE;
                expect(addr + bytes <= l.addr || l.addr + lBytes <= addr).toBe(true);
              }
              live.push({ addr, size: o.size });
            } else if (live.length > 0) {
              const [l] = live.splice(o.pick % live.length, 1);
              pciFreeP2pmem(card, l!.addr, l!.size);
            }
            const allocated = live.reduce((s, l) => s + Math.ceil(l.size / PAGE_SIZE) * PAGE_SIZE, 0);
            expect(available() + allocated).toBe(POOL);
            expect(p2p.pool.avail()).toBe(available());
          }
          for (const l of live) pciFreeP2pmem(card, l.addr, l.size);
          expect(available()).toBe(POOL);
          // Everything back: one allocation of the whole pool succeeds again, at the start.
          const all = pciAllocP2pmem(card, POOL);
          expect(all).toBe(base);
          pciFreeP2pmem(card, all!, POOL);
        }),
        { seed: 42, numRuns: 200 },
      );
      expect(p2p.allocated).toBe(0);
    });
  }
});
