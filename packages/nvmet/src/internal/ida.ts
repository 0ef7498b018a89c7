/**
 * An ID allocator handing out the lowest free integer of a range, as `ida_simple_get` does.
 * @kernel lib/idr.c (ida_simple_get, ida_simple_remove)
 */
import { KernelBug } from '@p2pdma/kernel';

/** A set of allocated IDs. */
export class Ida {
  private readonly used = new Set<number>();

  /**
   * Allocates the lowest free ID in `[min, max]`.
   * @param min lowest ID.
   * @param max highest ID (inclusive).
   * @returns the ID, or `-1` when the range is full (the kernel's -ENOSPC).
   */
  get(min: number, max: number): number {
    for (let id = min; id <= max; id++) {
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
    return -1;
  }

  /**
   * Frees an ID.
   * @param id an allocated ID.
   * @throws KernelBug when it is not allocated (the kernel WARNs `ida_free called for id=…`).
   */
  remove(id: number): void {
    if (!this.used.delete(id)) throw new KernelBug(`ida_free called for id=${id} which is not allocated`);
  }

  /** Number of IDs allocated. */
  get size(): number {
    return this.used.size;
  }
}
