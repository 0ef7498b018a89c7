/**
 * Scatter-gather lists: a chain of (page, offset, length) segments describing one buffer, plus
 * the DMA address and length each segment gets when mapped for a device.
 *
 * Entries are linked (`sgNext`), as the kernel's chained lists are; an `SgTable` owns one
 * chain. CPU copies in and out of a list (`sgCopyFromBuffer`, `sgCopyToBuffer`) go through
 * `kernel.memory.cpuWrite/cpuRead`, so RAM and device memory (a P2P BAR) are both reached, one
 * typed-array copy per segment.
 *
 * @kernel lib/scatterlist.c, include/linux/scatterlist.h
 */
import { KernelBug } from './bug';
import { isErr } from './errno';
import { FAULT_SG_ALLOC_TABLE } from './fault-inject';
import type { Kernel } from './kernel';
import type { Page } from './page';
import { pageAddress, pageToPhys, virtToPage } from './page';
import { PAGE_SIZE, virtToPhys } from './memory';

/** `dmaFlags` bit: the DMA address is a PCI bus address (P2PDMA), not an IOVA or phys. @kernel SG_DMA_BUS_ADDRESS */
export const SG_DMA_BUS_ADDRESS = 1 << 0;
/** `dmaFlags` bit: the segment was bounced through swiotlb (not modelled; reserved). @kernel SG_DMA_SWIOTLB */
export const SG_DMA_SWIOTLB = 1 << 1;

/**
 * One scatterlist entry.
 * @kernel struct scatterlist
 */
export class Scatterlist {
  /** The first page of the segment (`null` until set). @kernel sg_page */
  page: Page | null = null;
  /** Byte offset of the segment into `page` (may exceed a page: the segment is contiguous). */
  offset = 0;
  /** Segment length in bytes. */
  length = 0;
  /** DMA address after mapping. @kernel sg_dma_address */
  dmaAddress = 0;
  /** DMA length after mapping (0 for entries merged into an earlier one). @kernel sg_dma_len */
  dmaLength = 0;
  /** `SG_DMA_*` flags. @kernel scatterlist.dma_flags */
  dmaFlags = 0;
  /** The next entry, or `null` for the last (`sg_is_last`). */
  next: Scatterlist | null = null;
}

/**
 * A scatterlist table: the chain plus its entry counts.
 * @kernel struct sg_table
 */
export class SgTable {
  /** Number of entries after DMA mapping (`dmaMapSgtable` sets it). */
  nents: number;

  /**
   * @param sgl the first entry of a chain of `origNents` entries.
   * @param origNents number of CPU entries.
   */
  constructor(
    readonly sgl: Scatterlist,
    readonly origNents: number,
  ) {
    this.nents = origNents;
  }

  /** The entries, first to last (a fresh array). */
  entries(): Scatterlist[] {
    const out: Scatterlist[] = [];
    for (let s: Scatterlist | null = this.sgl; s !== null; s = s.next) out.push(s);
    return out;
  }
}

/**
 * Allocates a table of `nents` empty, chained entries.
 * @param kernel the kernel (fault injection).
 * @param nents number of entries (positive integer).
 * @returns the table, or `null` for `nents < 1` (the kernel's -EINVAL) or when fault site
 *   `FAULT_SG_ALLOC_TABLE` fires (-ENOMEM).
 * @kernel sg_alloc_table
 */
export function sgAllocTable(kernel: Kernel, nents: number): SgTable | null {
  if (!Number.isSafeInteger(nents) || nents < 1) return null;
  if (kernel.faults.shouldFail(FAULT_SG_ALLOC_TABLE) !== 0) return null;
  const first = new Scatterlist();
  let prev = first;
  for (let i = 1; i < nents; i++) {
    const s = new Scatterlist();
    prev.next = s;
    prev = s;
  }
  return new SgTable(first, nents);
}

/**
 * Empties a table: every entry loses its page and DMA fields. Using it afterwards is the
 * caller's bug (the kernel frees the memory).
 * @param table the table.
 * @kernel sg_free_table
 */
export function sgFreeTable(table: SgTable): void {
  for (let s: Scatterlist | null = table.sgl; s !== null; s = s.next) {
    s.page = null;
    s.offset = 0;
    s.length = 0;
    s.dmaAddress = 0;
    s.dmaLength = 0;
    s.dmaFlags = 0;
  }
  table.nents = 0;
}

/**
 * Points an entry at a page range.
 * @param sg the entry.
 * @param page the first page.
 * @param len bytes (non-negative integer).
 * @param offset offset into the page (non-negative integer).
 * @throws KernelBug for a negative or non-integer length or offset.
 * @kernel sg_set_page
 */
export function sgSetPage(sg: Scatterlist, page: Page, len: number, offset: number): void {
  if (!Number.isSafeInteger(len) || len < 0 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new KernelBug(`sg_set_page: bad length ${len} or offset ${offset}`);
  }
  sg.page = page;
  sg.length = len;
  sg.offset = offset;
}

/**
 * Points an entry at a linear-map kernel buffer.
 * @param kernel the kernel.
 * @param sg the entry.
 * @param virt the buffer's kernel virtual address.
 * @param len bytes.
 * @throws KernelBug when `virt` has no page (not RAM or mapped device memory).
 * @kernel sg_set_buf
 */
export function sgSetBuf(kernel: Kernel, sg: Scatterlist, virt: number, len: number): void {
  const page = virtToPage(kernel, virt);
  if (page === null) throw new KernelBug(`sg_set_buf: ${virt} has no struct page`);
  sgSetPage(sg, page, len, virtToPhys(virt) % PAGE_SIZE);
}

/**
 * A one-entry list for a linear-map kernel buffer.
 * @param kernel the kernel.
 * @param virt the buffer's kernel virtual address.
 * @param len bytes.
 * @returns the entry (the caller owns it).
 * @kernel sg_init_one
 */
export function sgInitOne(kernel: Kernel, virt: number, len: number): Scatterlist {
  const sg = new Scatterlist();
  sgSetBuf(kernel, sg, virt, len);
  return sg;
}

/**
 * The page an entry points at.
 * @param sg an entry.
 * @returns its page, or `null`.
 * @kernel sg_page
 */
export function sgPage(sg: Scatterlist): Page | null {
  return sg.page;
}

/**
 * The physical address of an entry's data.
 * @param sg an entry with a page.
 * @returns the physical address of the segment's first byte.
 * @throws KernelBug for an entry without a page.
 * @kernel sg_phys
 */
export function sgPhys(sg: Scatterlist): number {
  if (sg.page === null) throw new KernelBug('sg_phys: entry has no page');
  return pageToPhys(sg.page) + sg.offset;
}

/**
 * The kernel virtual address of an entry's data.
 * @param sg an entry with a page.
 * @returns the kernel virtual address of the segment's first byte.
 * @throws KernelBug for an entry without a page.
 * @kernel sg_virt
 */
export function sgVirt(sg: Scatterlist): number {
  if (sg.page === null) throw new KernelBug('sg_virt: entry has no page');
  return pageAddress(sg.page) + sg.offset;
}

/**
 * The next entry of a scatterlist.
 * @param sg an entry.
 * @returns the next entry, or `null` after the last.
 * @kernel sg_next
 */
export function sgNext(sg: Scatterlist): Scatterlist | null {
  return sg.next;
}

/**
 * The DMA address of a mapped entry.
 * @param sg an entry.
 * @returns its DMA address.
 * @kernel sg_dma_address
 */
export function sgDmaAddress(sg: Scatterlist): number {
  return sg.dmaAddress;
}

/**
 * The DMA length of a mapped entry.
 * @param sg an entry.
 * @returns its DMA length.
 * @kernel sg_dma_len
 */
export function sgDmaLen(sg: Scatterlist): number {
  return sg.dmaLength;
}

/**
 * Whether a mapped entry holds a PCI bus address (a P2PDMA mapping) rather than a DMA-API one.
 * @param sg an entry.
 * @returns whether its DMA address is a PCI bus address.
 * @kernel sg_dma_is_bus_address
 */
export function sgDmaIsBusAddress(sg: Scatterlist): boolean {
  return (sg.dmaFlags & SG_DMA_BUS_ADDRESS) !== 0;
}

/** Marks an entry's DMA address as a PCI bus address. @param sg the entry. @kernel sg_dma_mark_bus_address */
export function sgDmaMarkBusAddress(sg: Scatterlist): void {
  sg.dmaFlags |= SG_DMA_BUS_ADDRESS;
}

/** Clears the bus-address mark. @param sg the entry. @kernel sg_dma_unmark_bus_address */
export function sgDmaUnmarkBusAddress(sg: Scatterlist): void {
  sg.dmaFlags &= ~SG_DMA_BUS_ADDRESS;
}

/**
 * Number of entries in a chain.
 * @param sgl the first entry.
 * @returns the count.
 * @kernel sg_nents
 */
export function sgNents(sgl: Scatterlist): number {
  let n = 0;
  for (let s: Scatterlist | null = sgl; s !== null; s = s.next) n++;
  return n;
}

/**
 * Calls `fn` for the first `nents` entries.
 * @param sgl the first entry.
 * @param nents how many entries to visit.
 * @param fn called with each entry and its index.
 * @throws KernelBug when the chain has fewer than `nents` entries.
 * @kernel for_each_sg
 */
export function forEachSg(sgl: Scatterlist, nents: number, fn: (sg: Scatterlist, i: number) => void): void {
  let s: Scatterlist | null = sgl;
  for (let i = 0; i < nents; i++) {
    if (s === null) throw new KernelBug(`for_each_sg: list ends after ${i} of ${nents} entries`);
    fn(s, i);
    s = s.next;
  }
}

/**
 * Copies a buffer into the memory a list describes (CPU stores; device memory goes to its
 * MMIO handler).
 * @param sgl the first entry.
 * @param nents entries to use.
 * @param buf the source bytes.
 * @param skip bytes of the list to skip first (default 0).
 * @returns bytes copied: `min(buf.length, list length - skip)`, less if a store faults (the
 *   fault is logged by `cpuWrite`).
 * @kernel sg_copy_from_buffer / sg_pcopy_from_buffer
 */
export function sgCopyFromBuffer(sgl: Scatterlist, nents: number, buf: Uint8Array, skip = 0): number {
  return sgCopy(sgl, nents, buf, skip, 'to-sg');
}

/**
 * Copies the memory a list describes into a buffer (CPU loads).
 * @param sgl the first entry.
 * @param nents entries to use.
 * @param buf the destination.
 * @param skip bytes of the list to skip first (default 0).
 * @returns bytes copied: `min(buf.length, list length - skip)`, less if a load faults.
 * @kernel sg_copy_to_buffer / sg_pcopy_to_buffer
 */
export function sgCopyToBuffer(sgl: Scatterlist, nents: number, buf: Uint8Array, skip = 0): number {
  return sgCopy(sgl, nents, buf, skip, 'from-sg');
}

function sgCopy(sgl: Scatterlist, nents: number, buf: Uint8Array, skip: number, dir: 'to-sg' | 'from-sg'): number {
  let done = 0;
  let toSkip = skip;
  let s: Scatterlist | null = sgl;
  for (let i = 0; i < nents && s !== null && done < buf.length; i++, s = s.next) {
    if (toSkip >= s.length) {
      toSkip -= s.length;
      continue;
    }
    if (s.page === null) throw new KernelBug(`sg_copy: entry ${i} has no page`);
    const mem = s.page.kernel.memory;
    const phys = sgPhys(s) + toSkip;
    const chunk = Math.min(s.length - toSkip, buf.length - done);
    toSkip = 0;
    const part = buf.subarray(done, done + chunk);
    if (dir === 'to-sg') {
      if (mem.cpuWrite(phys, part) !== 0) return done;
    } else if (isErr(mem.cpuRead(phys, chunk, part))) return done;
    done += chunk;
  }
  return done;
}
