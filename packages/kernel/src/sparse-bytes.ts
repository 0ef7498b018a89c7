/**
 * Sparse byte storage: 4 KiB pages allocated on first write, never-written pages read as zeros,
 * every copy a typed-array copy. One store serves System RAM, BAR memory and device media.
 */
import { PAGE_SIZE } from './memory-constants';

/** A sparse, zero-filled byte space addressed by non-negative offsets (below 2^53). */
export class SparseBytes {
  private readonly pages = new Map<number, Uint8Array>();

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
        page = new Uint8Array(PAGE_SIZE);
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
      if (chunk === PAGE_SIZE) this.pages.delete(pfn);
      else this.pages.get(pfn)?.fill(0, off, off + chunk);
      pos += chunk;
    }
  }
}
