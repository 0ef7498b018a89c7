/**
 * First-fit allocator over integer units (page frames, IOVA pages), shared by the page-frame
 * allocator and the IOVA allocator. Free space is a sorted array of disjoint, non-adjacent
 * extents (binary search to free, merge with neighbours); live allocations are kept by start so
 * that a bad free is caught.
 */
import { KernelBug } from '../bug';

interface Extent {
  start: number;
  count: number;
}

/** Allocator of unit ranges. Internal: wrapped by `PhysicalMemory` and `IommuDomain`. */
export class ExtentAllocator {
  private readonly free: Extent[] = [];
  private readonly live = new Map<number, number>();
  private freeUnits = 0;

  /** @param what name for KernelBug messages (`'page allocator'`, `'iova domain 3'`). */
  constructor(private readonly what: string) {}

  /**
   * Adds free space. Ranges must not overlap space already added.
   * @param start first unit.
   * @param count number of units (> 0).
   */
  addFree(start: number, count: number): void {
    if (count <= 0) return;
    this.insertFree(start, count);
  }

  /**
   * Allocates `count` contiguous units, first fit from the lowest address.
   * @param count units wanted (a positive integer).
   * @returns the first unit, or `null` when no free extent is large enough.
   */
  alloc(count: number): number | null {
    if (!Number.isSafeInteger(count) || count <= 0) throw new KernelBug(`${this.what}: bad allocation size ${count}`);
    for (let i = 0; i < this.free.length; i++) {
      const e = this.free[i]!;
      if (e.count < count) continue;
      const start = e.start;
      if (e.count === count) this.free.splice(i, 1);
      else {
        e.start += count;
        e.count -= count;
      }
      this.freeUnits -= count;
      this.live.set(start, count);
      return start;
    }
    return null;
  }

  /**
   * Frees an allocation. `start` and `count` must be exactly those of one live allocation.
   * @throws KernelBug for a free of something not allocated, a double free or a size mismatch.
   */
  release(start: number, count: number): void {
    const have = this.live.get(start);
    if (have === undefined) throw new KernelBug(`${this.what}: freeing unit 0x${start.toString(16)} which is not allocated (double free?)`);
    if (have !== count) {
      throw new KernelBug(`${this.what}: freeing ${count} unit(s) at 0x${start.toString(16)}, but ${have} were allocated there`);
    }
    this.live.delete(start);
    this.insertFree(start, count);
  }

  /** Number of free units. */
  freeCount(): number {
    return this.freeUnits;
  }

  /** Number of live allocations. */
  liveCount(): number {
    return this.live.size;
  }

  private insertFree(start: number, count: number): void {
    const f = this.free;
    // First extent starting after `start`.
    let lo = 0;
    let hi = f.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (f[mid]!.start <= start) lo = mid + 1;
      else hi = mid;
    }
    const prev = f[lo - 1];
    const next = f[lo];
    if ((prev && prev.start + prev.count > start) || (next && start + count > next.start)) {
      throw new KernelBug(`${this.what}: free range 0x${start.toString(16)}+${count} overlaps free space`);
    }
    this.freeUnits += count;
    const joinPrev = prev !== undefined && prev.start + prev.count === start;
    const joinNext = next !== undefined && start + count === next.start;
    if (joinPrev && joinNext) {
      prev.count += count + next.count;
      f.splice(lo, 1);
    } else if (joinPrev) prev.count += count;
    else if (joinNext) {
      next.start = start;
      next.count += count;
    } else f.splice(lo, 0, { start, count });
  }
}
