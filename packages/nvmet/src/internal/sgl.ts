/**
 * System-memory scatterlists for request data: one freshly allocated page per entry, as
 * `sgl_alloc` builds them, and their release.
 * @kernel lib/scatterlist.c (sgl_alloc, sgl_alloc_order, sgl_free)
 */
import type { Kernel, Scatterlist } from '@p2pdma/kernel';
import { forEachSg, KernelBug, PAGE_SIZE, pageToPhys, physToPage, sgAllocTable, sgSetPage } from '@p2pdma/kernel';

/** A list from `sglAlloc`. */
export interface SystemSgl {
  /** The first entry. */
  readonly sgl: Scatterlist;
  /** Entries (one per page). */
  readonly nents: number;
}

/**
 * Allocates `length` bytes of System RAM as a list of page-sized entries (the last one shorter).
 * @param kernel the kernel.
 * @param length bytes (> 0).
 * @returns the list, or `null` when the table or a page cannot be allocated (fault sites
 *   `FAULT_SG_ALLOC_TABLE`, `FAULT_ALLOC_PAGES`, or RAM exhausted); nothing is left allocated.
 * @kernel sgl_alloc
 */
export function sglAlloc(kernel: Kernel, length: number): SystemSgl | null {
  if (!Number.isSafeInteger(length) || length <= 0) return null;
  const nents = Math.ceil(length / PAGE_SIZE);
  const table = sgAllocTable(kernel, nents);
  if (table === null) return null;
  const pages: number[] = [];
  let left = length;
  let sg: Scatterlist | null = table.sgl;
  for (let i = 0; i < nents; i++, sg = sg.next) {
    if (sg === null) throw new KernelBug('sgl_alloc: table shorter than requested');
    const phys = kernel.memory.allocPages(1);
    if (phys === null) {
      for (const p of pages) kernel.memory.freePages(p, 1);
      return null;
    }
    pages.push(phys);
    const page = physToPage(kernel, phys);
    if (page === null) throw new KernelBug(`sgl_alloc: RAM page 0x${phys.toString(16)} has no struct page`);
    const len = Math.min(left, PAGE_SIZE);
    sgSetPage(sg, page, len, 0);
    left -= len;
  }
  return { sgl: table.sgl, nents };
}

/**
 * Frees a list from `sglAlloc`: every page goes back to the allocator and the entries are
 * cleared.
 * @param kernel the kernel.
 * @param sgl the first entry.
 * @param nents its entry count.
 * @throws KernelBug for an entry without a page (freed twice).
 * @kernel sgl_free
 */
export function sglFree(kernel: Kernel, sgl: Scatterlist, nents: number): void {
  forEachSg(sgl, nents, (sg) => {
    if (sg.page === null) throw new KernelBug('sgl_free: entry has no page (double free?)');
    kernel.memory.freePages(pageToPhys(sg.page), 1);
    sg.page = null;
    sg.length = 0;
    sg.offset = 0;
  });
}
