/**
 * A fixed-size byte range (a namespace's media, a CMB) backed by the kernel's one sparse store:
 * never-written pages read as zeros; this wrapper adds the size and the range check.
 */
import { SparseBytes } from '@p2pdma/kernel';

/** Sparse bytes addressable at offsets `0..size-1`. */
export class SparsePages {
  private readonly bytes = new SparseBytes();

  /** @param size bytes addressable (offsets `0..size-1`). */
  constructor(readonly size: number) {}

  /** Pages holding bytes. */
  get residentPages(): number {
    return this.bytes.residentPages();
  }

  /**
   * Copies bytes out.
   * @param offset first byte (the caller checked the range).
   * @param out destination; its whole length is filled.
   */
  read(offset: number, out: Uint8Array): void {
    this.bytes.read(offset, out);
  }

  /**
   * Copies bytes in.
   * @param offset first byte (the caller checked the range).
   * @param data the bytes (copied).
   */
  write(offset: number, data: Uint8Array): void {
    this.bytes.write(offset, data);
  }

  /**
   * Whether `[offset, offset + len)` lies inside the store.
   * @param offset first byte.
   * @param len bytes.
   * @returns `true` when in range.
   */
  contains(offset: number, len: number): boolean {
    return Number.isSafeInteger(offset) && Number.isSafeInteger(len) && offset >= 0 && len >= 0 && offset + len <= this.size;
  }
}
