/**
 * Sorted, non-overlapping intervals with lookups that also report the constant-decision region
 * around an address (the hit interval, or the gap between intervals). The fabric router
 * intersects these regions along a route to know how far a cached route stays valid.
 */
import { KernelBug } from '@p2pdma/kernel';

/** One interval `[start, end)` with its value. */
export interface Interval<T> {
  readonly start: number;
  readonly end: number;
  readonly value: T;
}

/** Result of a lookup: the interval hit (or `null`) and the region `[lo, hi)` around the address. */
export interface Located<T> {
  readonly hit: Interval<T> | null;
  readonly lo: number;
  readonly hi: number;
}

/** A static map from address ranges to values. */
export class IntervalMap<T> {
  private readonly items: Interval<T>[];
  /** The one result `locateShared` fills in. */
  private readonly shared: { hit: Interval<T> | null; lo: number; hi: number } = { hit: null, lo: 0, hi: 0 };

  /**
   * @param items intervals (any order, non-overlapping, non-empty).
   * @param what name for the error message.
   * @throws KernelBug when two intervals overlap.
   */
  constructor(items: readonly Interval<T>[], what: string) {
    this.items = [...items].filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
    for (let i = 1; i < this.items.length; i++) {
      if (this.items[i]!.start < this.items[i - 1]!.end) throw new KernelBug(`${what}: overlapping decode ranges`);
    }
  }

  /** Number of intervals. */
  get size(): number {
    return this.items.length;
  }

  /** The intervals in address order. */
  all(): readonly Interval<T>[] {
    return this.items;
  }

  /**
   * @param addr an address.
   * @returns the interval holding it and its bounds, or the surrounding gap.
   */
  locate(addr: number): Located<T> {
    const items = this.items;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid]!.start <= addr) lo = mid + 1;
      else hi = mid;
    }
    const prev = items[lo - 1];
    if (prev !== undefined && addr < prev.end) return { hit: prev, lo: prev.start, hi: prev.end };
    const next = items[lo];
    return { hit: null, lo: prev === undefined ? Number.NEGATIVE_INFINITY : prev.end, hi: next === undefined ? Number.POSITIVE_INFINITY : next.start };
  }

  /**
   * `locate` without allocating: the result is one object per map, overwritten by the next
   * `locateShared` call on this map (for the data path, which reads it at once).
   * @param addr an address.
   * @returns the interval holding it and its bounds, or the surrounding gap.
   */
  locateShared(addr: number): Located<T> {
    const items = this.items;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid]!.start <= addr) lo = mid + 1;
      else hi = mid;
    }
    const out = this.shared;
    const prev = items[lo - 1];
    if (prev !== undefined && addr < prev.end) {
      out.hit = prev;
      out.lo = prev.start;
      out.hi = prev.end;
      return out;
    }
    const next = items[lo];
    out.hit = null;
    out.lo = prev === undefined ? Number.NEGATIVE_INFINITY : prev.end;
    out.hi = next === undefined ? Number.POSITIVE_INFINITY : next.start;
    return out;
  }
}

/** A cache of values valid over `[lo, hi)` address regions that never overlap. */
export class ExtentCache<T extends { readonly lo: number; readonly hi: number }> {
  private los: number[] = [];
  private vals: T[] = [];

  /**
   * @param addr an address.
   * @returns the cached value whose region holds it, or `null`.
   */
  get(addr: number): T | null {
    const los = this.los;
    let lo = 0;
    let hi = los.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (los[mid]! <= addr) lo = mid + 1;
      else hi = mid;
    }
    const v = this.vals[lo - 1];
    return v !== undefined && addr < v.hi ? v : null;
  }

  /** Adds a value (its region must not overlap a cached one). */
  put(v: T): void {
    const los = this.los;
    let lo = 0;
    let hi = los.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (los[mid]! <= v.lo) lo = mid + 1;
      else hi = mid;
    }
    los.splice(lo, 0, v.lo);
    this.vals.splice(lo, 0, v);
  }

  /** Entries cached. */
  get size(): number {
    return this.los.length;
  }

  /** Drops everything. */
  clear(): void {
    this.los = [];
    this.vals = [];
  }
}
