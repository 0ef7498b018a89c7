import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Errno, err, FAULT_GENPOOL_ADD, FAULT_GENPOOL_ALLOC, GenPool, Kernel, KernelBug, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE } from '../src/index';

const V = PAGE_OFFSET + 0xe000_0000; // a device BAR's linear-map address, as p2pdma adds it
const P = 0xe000_0000;

function pool(k = new Kernel()): GenPool {
  return new GenPool(k, PAGE_SHIFT, -1);
}

describe('GenPool (lib/genalloc.c, as pci_p2pdma_add_resource / pci_alloc_p2pmem use it)', () => {
  it('allocates first fit in whole granules and translates virt to phys (gen_pool_virt_to_phys)', () => {
    const p = pool();
    expect(p.addVirt(V, P, 16 * PAGE_SIZE)).toBe(0);
    expect(p.size()).toBe(16 * PAGE_SIZE);
    expect(p.alloc(1)).toBe(V); // rounded up to one page
    expect(p.alloc(PAGE_SIZE + 1)).toBe(V + PAGE_SIZE); // two pages
    expect(p.avail()).toBe(13 * PAGE_SIZE);
    expect(p.virtToPhys(V + PAGE_SIZE + 5)).toBe(P + PAGE_SIZE + 5);
    expect(p.virtToPhys(V + 16 * PAGE_SIZE)).toBe(-1);
    expect(p.virtToPhys(V - 1)).toBe(-1);
    expect(p.hasAddr(V, 16 * PAGE_SIZE)).toBe(true);
    expect(p.hasAddr(V + PAGE_SIZE, 16 * PAGE_SIZE)).toBe(false);
    expect(p.alloc(0)).toBe(0); // gen_pool_alloc(pool, 0) returns 0
    expect(p.alloc(14 * PAGE_SIZE)).toBe(0); // only 13 pages left
    p.free(V, 1);
    expect(p.alloc(PAGE_SIZE)).toBe(V); // the hole is reused first
  });

  it('searches the newest chunk first, as gen_pool_add_owner adds chunks at the list head', () => {
    const p = pool();
    expect(p.addVirt(V, P, 4 * PAGE_SIZE)).toBe(0);
    expect(p.addVirt(V + 0x10_0000, P + 0x10_0000, 4 * PAGE_SIZE)).toBe(0);
    expect(p.alloc(PAGE_SIZE)).toBe(V + 0x10_0000);
    expect(p.alloc(4 * PAGE_SIZE)).toBe(V); // does not fit in the newest chunk any more
    expect(p.chunkList().map((c) => c.virt)).toEqual([V + 0x10_0000, V]);
  });

  it('returns the chunk owner with the allocation (gen_pool_alloc_owner, used for the pgmap ref)', () => {
    const p = pool();
    const owner = { ref: 'devmap' };
    p.addVirt(V, P, 2 * PAGE_SIZE, -1, owner);
    expect(p.allocOwner(PAGE_SIZE)).toEqual({ virt: V, owner });
    expect(p.freeOwner(V, PAGE_SIZE)).toBe(owner);
  });

  it('BUG()s on frees of addresses not in the pool, double frees and partial frees, changing nothing', () => {
    const p = pool();
    p.addVirt(V, P, 8 * PAGE_SIZE);
    const a = p.alloc(2 * PAGE_SIZE);
    const before = p.avail();
    expect(() => p.free(V + 64 * PAGE_SIZE, PAGE_SIZE)).toThrow(KernelBug);
    expect(() => p.free(a, 3 * PAGE_SIZE)).toThrow(/not \(entirely\) allocated/); // third page is free
    expect(p.avail()).toBe(before);
    expect(() => p.free(V + 7 * PAGE_SIZE, 2 * PAGE_SIZE)).toThrow(/runs past the end/);
    p.free(a, 2 * PAGE_SIZE);
    expect(() => p.free(a, 2 * PAGE_SIZE)).toThrow(/double free/);
    expect(p.avail()).toBe(8 * PAGE_SIZE);
  });

  it('gen_pool_destroy BUG()s while allocations remain; a destroyed pool cannot be used', () => {
    const p = pool();
    p.addVirt(V, P, 4 * PAGE_SIZE);
    const a = p.alloc(PAGE_SIZE);
    expect(() => p.destroy()).toThrow("gen_pool_destroy: chunk 0x100000e0000000 still has an allocation at 0x100000e0000000");
    expect(p.size()).toBe(4 * PAGE_SIZE); // left intact
    p.free(a, PAGE_SIZE);
    p.destroy();
    expect(() => p.alloc(PAGE_SIZE)).toThrow(/pool was destroyed/);
    expect(() => p.destroy()).toThrow(KernelBug);
  });

  it('rejects chunks the model cannot keep consistent (overlap, unaligned, non-granule size)', () => {
    const p = pool();
    p.addVirt(V, P, 4 * PAGE_SIZE);
    expect(() => p.addVirt(V + PAGE_SIZE, P, PAGE_SIZE)).toThrow(/overlaps chunk/);
    expect(() => p.addVirt(V + 0x10_0001, P, PAGE_SIZE)).toThrow(/aligned/);
    expect(() => p.addVirt(V + 0x10_0000, P, 100)).toThrow(/granule/);
    expect(() => new GenPool(new Kernel(), 31)).toThrow(/min_alloc_order 31/);
  });

  it('fails the chosen call under fault injection (FAULT_GENPOOL_ALLOC, FAULT_GENPOOL_ADD)', () => {
    const k = new Kernel();
    const p = pool(k);
    k.faults.inject(FAULT_GENPOOL_ADD, { errno: err('ENOMEM') });
    expect(p.addVirt(V, P, 4 * PAGE_SIZE)).toBe(-Errno.ENOMEM);
    expect(p.size()).toBe(0);
    expect(p.addVirt(V, P, 4 * PAGE_SIZE)).toBe(0);
    k.faults.inject(FAULT_GENPOOL_ALLOC, { nth: 2 });
    expect(p.alloc(PAGE_SIZE)).toBe(V);
    expect(p.alloc(PAGE_SIZE)).toBe(0);
    expect(p.alloc(PAGE_SIZE)).toBe(V + PAGE_SIZE);
    expect(p.avail()).toBe(2 * PAGE_SIZE);
  });

  it('scans word-at-a-time: a 4 GiB pool with its only hole at the end serves 2000 allocations quickly', () => {
    const p = pool();
    const n = 2 ** 20; // 1 Mi pages: per-bit scanning would be ~2e9 steps here
    p.addVirt(PAGE_SIZE, 0, n * PAGE_SIZE);
    expect(p.alloc((n - 8) * PAGE_SIZE)).toBe(PAGE_SIZE);
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) {
      const a = p.alloc(4 * PAGE_SIZE);
      expect(a).toBe(PAGE_SIZE + (n - 8) * PAGE_SIZE);
      p.free(a, 4 * PAGE_SIZE);
    }
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('property: matches a first-fit oracle; no overlap; avail + allocated = size; frees restore exactly', () => {
    const G = PAGE_SIZE;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), size: fc.integer({ min: 1, max: 40 * G }) }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 3 }), fc.array(op, { maxLength: 60 }), (chunkPages, ops) => {
        const p = pool();
        // Oracle: per chunk a boolean array, chunks searched newest first.
        const chunks: { virt: number; used: boolean[] }[] = [];
        let base = V;
        for (const pages of chunkPages) {
          expect(p.addVirt(base, base - PAGE_OFFSET, pages * G)).toBe(0);
          chunks.unshift({ virt: base, used: new Array<boolean>(pages).fill(false) });
          base += (pages + 3) * G;
        }
        const total = chunkPages.reduce((a, b) => a + b, 0) * G;
        const live: { virt: number; size: number }[] = [];
        for (const o of ops) {
          if (o.kind === 'alloc') {
            const n = Math.ceil(o.size / G);
            let want = 0;
            for (const c of chunks) {
              let run = 0;
              for (let i = 0; i < c.used.length && want === 0; i++) {
                run = c.used[i] ? 0 : run + 1;
                if (run === n) {
                  want = c.virt + (i - n + 1) * G;
                  c.used.fill(true, i - n + 1, i + 1);
                }
              }
              if (want !== 0) break;
            }
            const got = p.alloc(o.size);
            expect(got).toBe(want);
            if (got !== 0) {
              expect((got - V) % G).toBe(0);
              live.push({ virt: got, size: o.size });
            }
          } else if (live.length > 0) {
            const [a] = live.splice(o.pick % live.length, 1);
            p.free(a!.virt, a!.size);
            const c = chunks.find((x) => a!.virt >= x.virt && a!.virt < x.virt + x.used.length * G)!;
            const first = (a!.virt - c.virt) / G;
            c.used.fill(false, first, first + Math.ceil(a!.size / G));
          }
          const allocated = live.reduce((s, a) => s + Math.ceil(a.size / G) * G, 0);
          expect(p.avail() + allocated).toBe(total);
        }
        const sorted = [...live].sort((a, b) => a.virt - b.virt);
        for (let i = 1; i < sorted.length; i++) {
          expect(sorted[i - 1]!.virt + Math.ceil(sorted[i - 1]!.size / G) * G).toBeLessThanOrEqual(sorted[i]!.virt);
        }
        for (const a of live) p.free(a.virt, a.size);
        expect(p.avail()).toBe(total);
        p.destroy();
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
