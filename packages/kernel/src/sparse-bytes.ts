/**
 * Sparse byte storage: 4 KiB pages allocated on first write, never-written pages read as zeros,
 * every copy a typed-array copy. One store serves System RAM, BAR memory and device media.
 */
import { PAGE_SIZE } from './memory-constants';

/**
 * The largest slab `SparseBytes` carves pages from, in pages. 64 pages (256 KiB) is above the C
 * allocator's mmap threshold, so a large store's slabs come as fresh zero pages from the OS
 * instead of being cleared once more by calloc (first-touch writes ran ~15% faster at 128 KiB).
 */
const SPARSE_SLAB_MAX_PAGES = 64;

/** A sparse, zero-filled byte space addressed by non-negative offsets (below 2^53). */
export class SparseBytes {
  private readonly pages = new Map<number, Uint8Array>();
  /** Pages are carved out of slabs (one allocation for many pages); the current one. */
  private slab: Uint8Array | null = null;
  /** Pages of `slab` handed out so far. */
  private slabUsed = 0;
  /** Pages `zero` took back, reused (zeroed again) before the slab is cut further. */
  private readonly spare: Uint8Array[] = [];

  /** Pages that hold bytes (written at least once and not zeroed back). */
  residentPages(): number {
    return this.pages.size;
  }

  /**
   * Copy bytes out.
   * @param offset first byte.
   * @param out filled completely (`out.length` bytes).
   * @param outIsZeroed the caller guarantees `out` is all zeros, so unwritten pages are skipped.
   */
  read(offset: number, out: Uint8Array, outIsZeroed = false): void {
    const len = out.length;
    let pos = 0;
    while (pos < len) {
      const at = offset + pos;
      const off = at % PAGE_SIZE;
      const chunk = Math.min(PAGE_SIZE - off, len - pos);
      const page = this.pages.get((at - off) / PAGE_SIZE);
      if (page !== undefined) out.set(chunk === PAGE_SIZE ? page : page.subarray(off, off + chunk), pos);
      else if (!outIsZeroed) out.fill(0, pos, pos + chunk);
      pos += chunk;
    }
  }

  /**
   * Copy bytes in; pages are allocated on first write.
   * @param offset first byte.
   * @param data the bytes (copied; the caller keeps ownership).
   */
  write(offset: number, data: Uint8Array): void {
    const len = data.length;
    let pos = 0;
    while (pos < len) {
      const at = offset + pos;
      const off = at % PAGE_SIZE;
      const chunk = Math.min(PAGE_SIZE - off, len - pos);
      const pfn = (at - off) / PAGE_SIZE;
      let page = this.pages.get(pfn);
      if (page === undefined) {
        page = this.newPage();
        this.pages.set(pfn, page);
      }
      page.set(chunk === len ? data : data.subarray(pos, pos + chunk), off);
      pos += chunk;
    }
  }

  /**
   * Zero bytes; whole pages go back to the unallocated state.
   * @param offset first byte.
   * @param len bytes to zero.
   */
  zero(offset: number, len: number): void {
    let pos = 0;
    while (pos < len) {
      const at = offset + pos;
      const off = at % PAGE_SIZE;
      const chunk = Math.min(PAGE_SIZE - off, len - pos);
      const pfn = (at - off) / PAGE_SIZE;
      if (chunk === PAGE_SIZE) {
        const page = this.pages.get(pfn);
        if (page !== undefined) {
          this.pages.delete(pfn);
          this.spare.push(page);
        }
      } else this.pages.get(pfn)?.fill(0, off, off + chunk);
      pos += chunk;
    }
  }

  /**
   * A zeroed page: a spare one, else the next page of the current slab. Slabs start at one page
   * and double up to `SPARSE_SLAB_MAX_PAGES`, so a store that holds a few pages stays small and
   * a large one allocates (and the GC tracks) one buffer per 64 pages instead of one per page.
   */
  private newPage(): Uint8Array {
    const spare = this.spare.pop();
    if (spare !== undefined) return spare.fill(0);
    let slab = this.slab;
    if (slab === null || this.slabUsed * PAGE_SIZE === slab.length) {
      const pages = slab === null ? 1 : Math.min(2 * (slab.length / PAGE_SIZE), SPARSE_SLAB_MAX_PAGES);
      slab = new Uint8Array(pages * PAGE_SIZE);
      this.slab = slab;
      this.slabUsed = 0;
    }
    const at = this.slabUsed++ * PAGE_SIZE;
    return slab.subarray(at, at + PAGE_SIZE);
  }
}
