/**
 * Sparse byte storage for BAR backings: 4 KiB pages allocated on first write, never-written
 * pages read as zeros. All copies are typed-array copies.
 */

/** Page size of the sparse store (4 KiB, like the kernel's PAGE_SIZE). */
export const SPARSE_PAGE_SIZE = 4096;

/** A sparse, zero-filled byte array of a fixed length. */
export class SparseMemory {
  private readonly pages = new Map<number, Uint8Array>();

  /** @param length bytes addressable (offsets `[0, length)`). */
  constructor(readonly length: number) {}

  /** Pages holding bytes (written at least once). */
  residentPages(): number {
    return this.pages.size;
  }

  /**
   * Copies bytes out.
   * @param offset first byte; `offset + out.length <= length` (the caller checks).
   * @param out filled completely.
   */
  read(offset: number, out: Uint8Array): void {
    const len = out.length;
    let pos = 0;
    while (pos < len) {
      const at = offset + pos;
      const off = at % SPARSE_PAGE_SIZE;
      const chunk = Math.min(SPARSE_PAGE_SIZE - off, len - pos);
      const page = this.pages.get((at - off) / SPARSE_PAGE_SIZE);
      if (page === undefined) out.fill(0, pos, pos + chunk);
      else out.set(page.subarray(off, off + chunk), pos);
      pos += chunk;
    }
  }

  /**
   * Copies bytes in.
   * @param offset first byte; `offset + data.length <= length` (the caller checks).
   * @param data the bytes.
   */
  write(offset: number, data: Uint8Array): void {
    const len = data.length;
    let pos = 0;
    while (pos < len) {
      const at = offset + pos;
      const off = at % SPARSE_PAGE_SIZE;
      const chunk = Math.min(SPARSE_PAGE_SIZE - off, len - pos);
      const pfn = (at - off) / SPARSE_PAGE_SIZE;
      let page = this.pages.get(pfn);
      if (page === undefined) {
        page = new Uint8Array(SPARSE_PAGE_SIZE);
        this.pages.set(pfn, page);
      }
      page.set(data.subarray(pos, pos + chunk), off);
      pos += chunk;
    }
  }
}

/** Round `x` up to a multiple of `a` (a power of two; exact for values below 2^53). */
export function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** Round `x` down to a multiple of `a` (a power of two; exact for values below 2^53). */
export function alignDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}
