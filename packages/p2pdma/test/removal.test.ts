import { deviceDel, deviceReleaseDriver, FAULT_DEVM_MEMREMAP_PAGES, FAULT_SYSFS_CREATE_GROUP, KERN_WARNING, P2PDMA_POLICIES } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { pciAllocP2pmem, pciFreeP2pmem, pciP2pmemAllocSgl, pciP2pmemFreeSgl } from '../src/alloc';
import { pciP2pdma, pciP2pdmaRemovalPending } from '../src/pci-p2pdma';
import { pciHasP2pmem, pciP2pdmaAddResource, pciP2pmemPublish } from '../src/provider';
import { bindStub, boot, lines } from './helpers';

const CARD = '0000:06:00.0';
const SYS = `/sys/bus/pci/devices/${CARD}/p2pmem`;
const MiB = 2 ** 20;

function setup(policy: 'v2' | 'upstream') {
  const b = boot('seed-switch', { policy });
  const card = b.dev(CARD);
  bindStub(b.kernel, [card]);
  expect(card.driver?.name).toBe('p2ptest');
  expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
  pciP2pmemPublish(card, true);
  return { b, card, p2p: pciP2pdma(card)! };
}

describe('provider removal waits for every allocation (seed devmap_ref_done, 6.6 memunmap_pages)', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: unbind with allocations outstanding: pending, allocs fail, done only after the last free`, () => {
      const { b, card, p2p } = setup(policy);
      const a = pciAllocP2pmem(card, 4096)!;
      const c = pciAllocP2pmem(card, 3 * MiB)!;
      const sg = pciP2pmemAllocSgl(card, 8192);
      if (typeof sg === 'number') throw new Error('alloc_sgl failed');
      deviceReleaseDriver(card);
      expect(card.driver).toBeNull();
      expect(pciP2pdmaRemovalPending(card)).toBe(true);
      expect(p2p.lifecycle).toBe('removing');
      expect(p2p.released.done).toBe(false);
      expect(pciAllocP2pmem(card, 4096)).toBeNull(); // the reference is dying
      expect(pciP2pmemAllocSgl(card, 4096)).toBe(-12);
      expect(b.kernel.memmap.pagemaps()).toHaveLength(1); // the pages are still there
      expect(b.kernel.sysfs.read(`${SYS}/available`)).toBe(`${256 * MiB - 4096 - 3 * MiB - 8192}\n`);
      pciFreeP2pmem(card, a, 4096);
      pciP2pmemFreeSgl(card, sg.sgl);
      expect(p2p.released.done).toBe(false);
      expect(pciP2pdmaRemovalPending(card)).toBe(true);
      pciFreeP2pmem(card, c, 3 * MiB); // the last one
      expect(p2p.released.done).toBe(true);
      expect(p2p.lifecycle).toBe('released');
      expect(pciP2pdma(card)).toBeNull();
      expect(pciHasP2pmem(card)).toBe(false);
      expect(pciP2pdmaRemovalPending(card)).toBe(false);
      expect(b.kernel.memmap.pagemaps()).toHaveLength(0);
      expect(b.kernel.sysfs.exists(SYS)).toBe(false);
      expect(b.kernel.log.lines(KERN_WARNING)).toEqual([]);
    });

    it(`${policy}: unbind with nothing allocated releases at once; the device can provide again after rebinding`, async () => {
      const { b, card, p2p } = setup(policy);
      deviceReleaseDriver(card);
      expect(p2p.released.done).toBe(true);
      await p2p.released.whenDone();
      expect(b.kernel.sysfs.exists(SYS)).toBe(false);
      expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
      expect(pciP2pdma(card)).not.toBe(p2p);
    });

    it(`${policy}: device_del with an allocation outstanding completes after the free, without touching the removed sysfs`, () => {
      const { b, card, p2p } = setup(policy);
      const a = pciAllocP2pmem(card, 4096)!;
      deviceDel(card);
      expect(p2p.lifecycle).toBe('removing');
      expect(b.kernel.sysfs.exists(`/sys/bus/pci/devices/${CARD}`)).toBe(false);
      pciFreeP2pmem(card, a, 4096);
      expect(p2p.released.done).toBe(true);
      expect(b.kernel.log.lines(KERN_WARNING)).toEqual([]);
    });
  }

  it('seed v2 finding: a setup whose memremap then failed leaves devmap_ref alive, so unbind waits forever (6.6 releases)', () => {
    for (const policy of P2PDMA_POLICIES) {
      const b = boot('seed-switch', { policy });
      const card = b.dev(CARD);
      bindStub(b.kernel, [card]);
      b.kernel.faults.inject(FAULT_DEVM_MEMREMAP_PAGES);
      expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(-12);
      const p2p = pciP2pdma(card)!;
      deviceReleaseDriver(card);
      // The seed's pci_p2pdma_release blocks in wait_for_completion(&devmap_ref_done): nothing
      // ever kills the ref (no pagemap, no percpu_kill action).
      expect(p2p.released.done).toBe(policy === 'upstream');
      expect(pciP2pdmaRemovalPending(card)).toBe(policy === 'v2');
    }
  });

  it('seed v2 patch 02: the ignored group error shows at unbind, when sysfs warns that p2pmem is missing', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    const card = b.dev(CARD);
    bindStub(b.kernel, [card]);
    b.kernel.faults.inject(FAULT_SYSFS_CREATE_GROUP);
    expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
    deviceReleaseDriver(card);
    expect(lines(b.kernel, 'not found for kobject')).toEqual([`sysfs group 'p2pmem' not found for kobject '${CARD}'`]);
  });
});
