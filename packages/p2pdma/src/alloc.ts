/**
 * Allocating peer-to-peer memory from a provider's pool: plain allocations, their bus
 * addresses, and the one-entry scatterlists the NVMe target and RDMA paths use.
 *
 * Every allocation holds a reference on the memory (`v2`: the provider's `devmap_ref`, taken
 * before the pool allocation; 6.6: the owning pagemap's reference, taken after it through the
 * pool's owner cookie), so the provider's removal waits for it. Once removal has started the
 * reference is dying and allocation fails (`tryget_live`).
 *
 * @kernel drivers/pci/p2pdma.c (pci_alloc_p2pmem, pci_free_p2pmem, pci_p2pmem_virt_to_bus,
 *   pci_p2pmem_alloc_sgl, pci_p2pmem_free_sgl)
 */
import type { NegErrno, PercpuRef } from '@p2pdma/kernel';
import { err, forEachSg, KernelBug, Scatterlist, sgNents, sgSetBuf, sgVirt } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { pciP2pdma } from './pci-p2pdma';
import { P2PDMA_STUBS } from './stubs';

/**
 * Fault site asked once per `pciAllocP2pmem` (and so per `pciP2pmemAllocSgl`): when it fires the
 * allocation returns `null` before touching the pool or the reference, as when the provider's
 * pool is exhausted. Callers fall back (nvmet: System RAM for that command).
 * @kernel pci_alloc_p2pmem (gen_pool_alloc_owner returning NULL)
 */
export const FAULT_P2PMEM_ALLOC = 'pci_alloc_p2pmem';

/** A scatterlist of p2pmem from `pciP2pmemAllocSgl`: one entry, as the seed and 6.6 build it. */
export interface P2pSgl {
  /** The entry (the caller owns it until `pciP2pmemFreeSgl`). */
  readonly sgl: Scatterlist;
  /** Number of entries: always 1. */
  readonly nents: 1;
}

/**
 * Allocates p2pmem.
 * @param pdev the provider.
 * @param size bytes (rounded up to whole pages by the pool).
 * @returns the kernel virtual address (page aligned; the caller owns it until
 *   `pciFreeP2pmem(pdev, addr, size)`), or `null` when the device has no p2pdma, its removal has
 *   started (the reference is dying), the pool has no free run that large, `size` is 0, or fault
 *   site `FAULT_P2PMEM_ALLOC` or `FAULT_GENPOOL_ALLOC` fires; always `null` with `CONFIG_PCI_P2PDMA` off.
 * @throws KernelBug for a size that is not a non-negative integer.
 * @kernel pci_alloc_p2pmem
 */
export function pciAllocP2pmem(pdev: PciDev, size: number): number | null {
  if (!pdev.kernel.config.CONFIG_PCI_P2PDMA) return null;
  const p2p = pciP2pdma(pdev);
  if (p2p === null) return null;
  if (pdev.kernel.faults.shouldFail(FAULT_P2PMEM_ALLOC) !== 0) return null;
  const ref = p2p.devmapRef;
  if (ref !== null) {
    // Seed: take the live reference first, drop it when the pool is empty.
    if (!ref.tryGetLive()) return null;
    const addr = p2p.pool.alloc(size);
    if (addr === 0) {
      ref.put();
      return null;
    }
    return addr;
  }
  // 6.6: allocate, then take the owning pagemap's live reference or give the memory back.
  const a = p2p.pool.allocOwner(size);
  if (a === null) return null;
  if (!(a.owner as PercpuRef).tryGetLive()) {
    p2p.pool.free(a.virt, size);
    return null;
  }
  return a.virt;
}

/**
 * Frees p2pmem and drops its reference (the last one lets a pending removal finish).
 * @param pdev the provider it came from.
 * @param addr the address `pciAllocP2pmem` returned.
 * @param size the size passed to `pciAllocP2pmem`.
 * @throws KernelBug, changing nothing, for a double free, an address not in the pool or a range
 *   running past its chunk (`gen_pool_free` BUGs), or a device without p2pdma (NULL
 *   dereference). Nothing happens with `CONFIG_PCI_P2PDMA` off.
 * @kernel pci_free_p2pmem
 */
export function pciFreeP2pmem(pdev: PciDev, addr: number, size: number): void {
  if (!pdev.kernel.config.CONFIG_PCI_P2PDMA) return;
  const p2p = pciP2pdma(pdev);
  if (p2p === null) throw new KernelBug(`kernel NULL pointer dereference in pci_free_p2pmem(${pdev.name}): the device has no p2pdma`);
  const owner = p2p.pool.freeOwner(addr, size);
  (p2p.devmapRef ?? (owner as PercpuRef)).put();
}

/**
 * The PCI bus address of p2pmem (the pool's "physical" address, which is the bus address).
 * @param pdev the provider.
 * @param addr an address from `pciAllocP2pmem`.
 * @returns the bus address; `0` for `addr` 0, a device without p2pdma, or `CONFIG_PCI_P2PDMA`
 *   off; `-1` for an address outside the pool (`gen_pool_virt_to_phys`'s `~0`).
 * @kernel pci_p2pmem_virt_to_bus
 */
export function pciP2pmemVirtToBus(pdev: PciDev, addr: number): number {
  if (!pdev.kernel.config.CONFIG_PCI_P2PDMA) return P2PDMA_STUBS[pdev.kernel.policy].virtToBus;
  if (addr === 0) return 0;
  const p2p = pciP2pdma(pdev);
  if (p2p === null) return 0;
  return p2p.pool.virtToPhys(addr);
}

/**
 * Allocates p2pmem as a one-entry scatterlist.
 * @param pdev the provider.
 * @param length bytes.
 * @returns the list, or `-ENOMEM` when `pciAllocP2pmem` fails (6.6 returns `NULL`), or the
 *   header stub `-ENODEV` with `CONFIG_PCI_P2PDMA` off.
 * @kernel pci_p2pmem_alloc_sgl
 */
export function pciP2pmemAllocSgl(pdev: PciDev, length: number): P2pSgl | NegErrno {
  const kernel = pdev.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return P2PDMA_STUBS[kernel.policy].allocSgl as NegErrno;
  const addr = pciAllocP2pmem(pdev, length);
  if (addr === null) return err('ENOMEM');
  const sg = new Scatterlist();
  sgSetBuf(kernel, sg, addr, length);
  return { sgl: sg, nents: 1 };
}

/**
 * Frees a list from `pciP2pmemAllocSgl`: every entry's memory goes back to the pool, and the
 * entries are cleared (the kernel frees them; a second free then fails as a use after free).
 * @param pdev the provider.
 * @param sgl the list.
 * @param nents entries (default: the whole chain; the seed returns at once for 0).
 * @throws KernelBug as `pciFreeP2pmem` does, or for an entry without a page (freed twice).
 * @kernel pci_p2pmem_free_sgl
 */
export function pciP2pmemFreeSgl(pdev: PciDev, sgl: Scatterlist, nents: number = sgNents(sgl)): void {
  if (!pdev.kernel.config.CONFIG_PCI_P2PDMA || nents === 0) return;
  forEachSg(sgl, nents, (sg) => {
    pciFreeP2pmem(pdev, sgVirt(sg), sg.length);
    sg.page = null;
    sg.length = 0;
    sg.offset = 0;
  });
}
