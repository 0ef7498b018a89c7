import { err, KernelBug, P2PDMA_POLICIES, PAGE_SIZE, physToVirt, pfnToPage, sgPhys, virtToPage } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { pciAllocP2pmem, pciFreeP2pmem, pciP2pmemAllocSgl, pciP2pmemFreeSgl, pciP2pmemVirtToBus } from '../src/alloc';
import { isPciP2pdmaPage } from '../src/page';
import { pciP2pdma } from '../src/pci-p2pdma';
import { pciP2pdmaAddResource } from '../src/provider';
import { boot } from './helpers';

const CARD = '0000:06:00.0';
const MiB = 2 ** 20;

function provider(policy: 'v2' | 'upstream', size = 4 * MiB) {
  const b = boot('seed-switch', { policy });
  const card = b.dev(CARD);
  expect(pciP2pdmaAddResource(card, 4, size, 0)).toBe(0);
  const p2p = pciP2pdma(card)!;
  const avail = () => b.kernel.sysfs.read(`/sys/bus/pci/devices/${CARD}/p2pmem/available`);
  const refCount = () => (p2p.devmapRef ?? p2p.pagemaps[0]!.ref).count;
  return { b, card, p2p, avail, refCount };
}

describe('pci_alloc_p2pmem / pci_free_p2pmem (seed patch 01, 6.6)', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: allocations are whole pages of the BAR, at the bus address, each holding a reference`, () => {
      const { b, card, p2p, avail, refCount } = provider(policy);
      const base = refCount();
      const a = pciAllocP2pmem(card, 1)!;
      const c = pciAllocP2pmem(card, PAGE_SIZE + 1)!;
      expect(a % PAGE_SIZE).toBe(0);
      expect(c % PAGE_SIZE).toBe(0);
      expect(avail()).toBe(`${4 * MiB - 3 * PAGE_SIZE}\n`);
      expect(refCount()).toBe(base + 2);
      const bus = pciP2pmemVirtToBus(card, a);
      expect(bus).toBeGreaterThanOrEqual(0x8000_0000);
      expect(bus).toBeLessThan(0x8000_0000 + 4 * MiB);
      expect(bus).toBe(a - physToVirt(0x8000_0000) + 0x8000_0000); // offset 0: bus == CPU
      const page = virtToPage(b.kernel, a)!;
      expect(isPciP2pdmaPage(page)).toBe(true);
      expect(isPciP2pdmaPage(pfnToPage(b.kernel, 0x1000)!)).toBe(false); // a RAM page
      pciFreeP2pmem(card, a, 1);
      pciFreeP2pmem(card, c, PAGE_SIZE + 1);
      expect(avail()).toBe(`${4 * MiB}\n`);
      expect(refCount()).toBe(base);
      expect(p2p.allocated).toBe(0);
    });

    it(`${policy}: null for size 0, a request larger than what is free, and a device without p2pdma`, () => {
      const { b, card, refCount } = provider(policy);
      const base = refCount();
      expect(pciAllocP2pmem(card, 0)).toBeNull();
      expect(pciAllocP2pmem(card, 4 * MiB + 1)).toBeNull();
      const all = pciAllocP2pmem(card, 4 * MiB)!;
      expect(pciAllocP2pmem(card, PAGE_SIZE)).toBeNull(); // exhausted
      expect(refCount()).toBe(base + 1); // failed allocations hold nothing
      pciFreeP2pmem(card, all, 4 * MiB);
      expect(pciAllocP2pmem(b.dev('0000:05:00.0'), PAGE_SIZE)).toBeNull();
    });

    it(`${policy}: a double free or a foreign address BUGs in gen_pool_free and changes nothing`, () => {
      const { b, card, avail, refCount } = provider(policy);
      const a = pciAllocP2pmem(card, PAGE_SIZE)!;
      pciFreeP2pmem(card, a, PAGE_SIZE);
      const before = { avail: avail(), ref: refCount() };
      expect(() => pciFreeP2pmem(card, a, PAGE_SIZE)).toThrow(KernelBug);
      expect(() => pciFreeP2pmem(card, a, PAGE_SIZE)).toThrow(/double free/);
      expect(() => pciFreeP2pmem(card, physToVirt(0x10_0000), PAGE_SIZE)).toThrow(/is not in the pool/);
      const c = pciAllocP2pmem(card, PAGE_SIZE)!;
      expect(() => pciFreeP2pmem(card, c, 2 * PAGE_SIZE)).toThrow(KernelBug); // second page not allocated
      pciFreeP2pmem(card, c, PAGE_SIZE);
      expect({ avail: avail(), ref: refCount() }).toEqual(before);
      expect(() => pciFreeP2pmem(b.dev('0000:05:00.0'), a, PAGE_SIZE)).toThrow(/NULL pointer dereference in pci_free_p2pmem/);
    });

    it(`${policy}: pci_p2pmem_virt_to_bus is 0 for NULL or a device without p2pdma, -1 outside the pool`, () => {
      const { b, card } = provider(policy);
      expect(pciP2pmemVirtToBus(card, 0)).toBe(0);
      expect(pciP2pmemVirtToBus(b.dev('0000:05:00.0'), physToVirt(0x8000_0000))).toBe(0);
      expect(pciP2pmemVirtToBus(card, physToVirt(0x10_0000))).toBe(-1);
    });
  }

  it('the pool hands out bus addresses when the host bridge translates (bus = CPU - offset)', () => {
    // Covered with a translating host bridge in map-sg.test.ts; here: the pool chunk's phys is pci_bus_address.
    const { p2p } = provider('upstream');
    expect(p2p.pool.chunkList()).toEqual([{ virt: physToVirt(0x8000_0000), phys: 0x8000_0000, size: 4 * MiB }]);
  });
});

describe('pci_p2pmem_alloc_sgl / pci_p2pmem_free_sgl', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: one entry on a P2PDMA page; -ENOMEM when the pool is empty; freeing returns the memory`, () => {
      const { card, avail } = provider(policy, 2 * MiB);
      const r = pciP2pmemAllocSgl(card, 8192);
      if (typeof r === 'number') throw new Error(`alloc_sgl failed: ${r}`);
      expect(r.nents).toBe(1);
      expect(r.sgl.next).toBeNull();
      expect(r.sgl.length).toBe(8192);
      expect(isPciP2pdmaPage(r.sgl.page!)).toBe(true);
      expect(sgPhys(r.sgl)).toBeGreaterThanOrEqual(0x8000_0000);
      expect(pciP2pmemAllocSgl(card, 2 * MiB)).toBe(err('ENOMEM'));
      expect(avail()).toBe(`${2 * MiB - 8192}\n`);
      pciP2pmemFreeSgl(card, r.sgl, r.nents);
      expect(avail()).toBe(`${2 * MiB}\n`);
      expect(() => pciP2pmemFreeSgl(card, r.sgl, 1)).toThrow(KernelBug); // freed twice: the entry is gone
      pciP2pmemFreeSgl(card, r.sgl, 0); // the seed returns at once for nents 0
      expect(avail()).toBe(`${2 * MiB}\n`);
    });
  }
});
