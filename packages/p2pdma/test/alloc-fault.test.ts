/**
 * Fault site FAULT_P2PMEM_ALLOC: pci_alloc_p2pmem fails before touching the pool or the
 * reference (as an exhausted pool does); pci_p2pmem_alloc_sgl then returns -ENOMEM. Nothing
 * leaks: the pool's available bytes and the provider's removal are unaffected.
 */
import { deviceReleaseDriver, P2PDMA_POLICIES } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { FAULT_P2PMEM_ALLOC, pciAllocP2pmem, pciFreeP2pmem, pciP2pmemAllocSgl } from '../src/index';
import { pciP2pdma } from '../src/pci-p2pdma';
import { pciP2pdmaAddResource, pciP2pmemPublish } from '../src/provider';
import { bindStub, boot } from './helpers';

const CARD = '0000:06:00.0';

describe('fault injection: pci_alloc_p2pmem fails at a chosen call', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: the 2nd allocation returns null, the sgl helper -ENOMEM; the pool and removal are untouched`, () => {
      const b = boot('seed-switch', { policy });
      const card = b.dev(CARD);
      bindStub(b.kernel, [card]);
      expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
      pciP2pmemPublish(card, true);
      const p2p = pciP2pdma(card)!;
      const size = p2p.pool.size();
      b.kernel.faults.inject(FAULT_P2PMEM_ALLOC, { nth: 2, times: 2 });
      const a = pciAllocP2pmem(card, 4096);
      expect(a).not.toBeNull();
      expect(pciAllocP2pmem(card, 4096)).toBeNull();
      expect(pciP2pmemAllocSgl(card, 8192)).toBe(-12);
      expect(p2p.pool.avail()).toBe(size - 4096);
      expect(b.kernel.faults.failures(FAULT_P2PMEM_ALLOC)).toBe(2);
      pciFreeP2pmem(card, a!, 4096);
      expect(p2p.pool.avail()).toBe(size);
      deviceReleaseDriver(card);
      expect(p2p.released.done).toBe(true);
    });
  }
});
