/**
 * The general-purpose special-memory allocator: the pool p2pdma hands out peer-to-peer memory
 * from.
 *
 * A pool manages chunks of address space (kernel virtual addresses with a matching physical or
 * bus address) in units of `2^minAllocOrder` bytes, one bit per unit. Allocation is first fit
 * over the chunks, newest chunk first (the kernel adds chunks at the head of its list); requests
 * are rounded up to whole units. Bitmaps are `Uint32Array`s scanned a word at a time.
 *
 * @kernel lib/genalloc.c, include/linux/genalloc.h
 */
import { KernelBug } from './bug';
import type { KResult } from './errno';
import { FAULT_GENPOOL_ADD, FAULT_GENPOOL_ALLOC } from './fault-inject';
import { fillRange, findNextBit, findZeroRun, rangeIs } from './internal/bitmap';
import type { Kernel } from './kernel';
import { hex } from './vsprintf';

interface Chunk {
  readonly virt: number;
  readonly phys: number;
  /** One past the last byte (the kernel keeps `end_addr` inclusive). */
  readonly end: number;
  readonly nbits: number;
  readonly bits: Uint32Array;
  readonly owner: unknown;
  avail: number;
}

/** An allocation together with its chunk's owner cookie (`gen_pool_alloc_owner`). */
export interface GenPoolOwnedAlloc {
  /** The address allocated. */
  readonly virt: number;
  /** The `owner` given to `addVirt` for the chunk it came from (`null` when none). */
  readonly owner: unknown;
}

/**
 * A pool. Create with `new GenPool(kernel, minAllocOrder, nid)`; p2pdma uses `PAGE_SHIFT`.
 * @kernel struct gen_pool (gen_pool_create)
 */
export class GenPool {
  /** Bytes per allocation unit: `2^minAllocOrder`. */
  readonly granule: number;
  /** Chunks, newest first (the kernel's list order). */
  private readonly chunks: Chunk[] = [];
  private destroyed = false;

  /**
   * @param kernel the kernel (fault injection, messages).
   * @param minAllocOrder log2 of the allocation unit, 0..30.
   * @param nid the NUMA node (recorded only; -1 for any).
   * @throws KernelBug for an order outside 0..30.
   * @kernel gen_pool_create
   */
  constructor(
    readonly kernel: Kernel,
    readonly minAllocOrder: number,
    readonly nid = -1,
  ) {
    if (!Number.isInteger(minAllocOrder) || minAllocOrder < 0 || minAllocOrder > 30) {
      throw new KernelBug(`gen_pool_create: min_alloc_order ${minAllocOrder} is not in 0..30`);
    }
    this.granule = 2 ** minAllocOrder;
  }

  /**
   * Adds a chunk of address space.
   * @param virt first virtual address of the chunk (granule-aligned, > 0).
   * @param phys the physical (or bus) address `virtToPhys` maps `virt` to.
   * @param size bytes: a positive multiple of the granule.
   * @param nid NUMA node of the memory (recorded only).
   * @param owner a cookie returned by `allocOwner` for allocations from this chunk (p2pdma
   *   passes its pagemap's reference).
   * @returns `0`, or `-ENOMEM` when the chunk's bookkeeping cannot be allocated (fault site
   *   `FAULT_GENPOOL_ADD`).
   * @throws KernelBug for a destroyed pool, bad arguments, or a range overlapping an existing
   *   chunk (the kernel does not check; it would corrupt the pool).
   * @kernel gen_pool_add_owner / gen_pool_add_virt
   */
  addVirt(virt: number, phys: number, size: number, nid = -1, owner: unknown = null): KResult {
    this.checkLive('gen_pool_add_virt');
    const g = this.granule;
    if (!Number.isSafeInteger(virt) || virt <= 0 || virt % g !== 0) {
      throw new KernelBug(`gen_pool_add_virt: virt ${virt} is not a positive, ${g}-byte aligned address`);
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size % g !== 0 || !Number.isSafeInteger(virt + size)) {
      throw new KernelBug(`gen_pool_add_virt: size ${size} is not a positive multiple of the ${g}-byte granule`);
    }
    if (!Number.isSafeInteger(phys) || phys < 0) throw new KernelBug(`gen_pool_add_virt: phys ${phys} is not an address`);
    for (const c of this.chunks) {
      if (virt < c.end && c.virt < virt + size) {
        throw new KernelBug(`gen_pool_add_virt: ${hex(virt)}+${hex(size)} overlaps chunk ${hex(c.virt)}-${hex(c.end - 1)}`);
      }
    }
    const fail = this.kernel.faults.shouldFail(FAULT_GENPOOL_ADD);
    if (fail !== 0) return fail;
    void nid;
    const nbits = size / g;
    this.chunks.unshift({ virt, phys, end: virt + size, nbits, bits: new Uint32Array(Math.ceil(nbits / 32)), owner, avail: size });
    return 0;
  }

  /**
   * Allocates `size` bytes, rounded up to the granule, first fit (newest chunk first).
   * @param size bytes wanted; `0` returns `0` without allocating, as the kernel does.
   * @returns the granule-aligned address, or `0` when no chunk has a free run that large (or
   *   fault site `FAULT_GENPOOL_ALLOC` fires). The caller owns it until `free(addr, size)`.
   * @throws KernelBug for a destroyed pool or a size that is not a non-negative integer.
   * @kernel gen_pool_alloc
   */
  alloc(size: number): number {
    return this.allocOwner(size)?.virt ?? 0;
  }

  /**
   * `alloc`, also returning the chunk's owner cookie.
   * @param size bytes wanted (> 0).
   * @returns the allocation, or `null` when nothing fits or the fault site fires (and for `0`).
   * @kernel gen_pool_alloc_owner
   */
  allocOwner(size: number): GenPoolOwnedAlloc | null {
    this.checkLive('gen_pool_alloc');
    if (!Number.isSafeInteger(size) || size < 0) throw new KernelBug(`gen_pool_alloc: bad size ${size}`);
    if (size === 0) return null;
    if (this.kernel.faults.shouldFail(FAULT_GENPOOL_ALLOC) !== 0) return null;
    const nbits = Math.ceil(size / this.granule);
    const bytes = nbits * this.granule;
    for (const c of this.chunks) {
      if (bytes > c.avail) continue;
      const bit = findZeroRun(c.bits, c.nbits, nbits);
      if (bit < 0) continue;
      fillRange(c.bits, bit, nbits, 1);
      c.avail -= bytes;
      return { virt: c.virt + bit * this.granule, owner: c.owner };
    }
    return null;
  }

  /**
   * Frees an allocation. All-or-nothing: on a bug nothing changes.
   * @param addr an address `alloc` returned (inside one chunk).
   * @param size the size passed to `alloc` (rounded up the same way).
   * @throws KernelBug when `addr` is in no chunk, the range runs past its chunk, or any unit of
   *   it is not allocated (double free): the kernel BUG()s in each case.
   * @kernel gen_pool_free
   */
  free(addr: number, size: number): void {
    this.freeOwner(addr, size);
  }

  /**
   * `free`, returning the chunk's owner cookie.
   * @param addr an address `alloc` returned.
   * @param size the size passed to `alloc`.
   * @returns the owner of the chunk.
   * @kernel gen_pool_free_owner
   */
  freeOwner(addr: number, size: number): unknown {
    this.checkLive('gen_pool_free');
    if (!Number.isSafeInteger(size) || size < 0) throw new KernelBug(`gen_pool_free: bad size ${size}`);
    const c = this.chunkAt(addr);
    if (c === undefined) throw new KernelBug(`gen_pool_free: ${hex(Math.max(0, addr))} is not in the pool`);
    const nbits = Math.ceil(size / this.granule);
    if (addr + nbits * this.granule > c.end) {
      throw new KernelBug(`gen_pool_free: ${hex(addr)}+${hex(size)} runs past the end of its chunk ${hex(c.end - 1)}`);
    }
    const bit = Math.floor((addr - c.virt) / this.granule);
    if (!rangeIs(c.bits, bit, nbits, 1)) {
      throw new KernelBug(`gen_pool_free: ${hex(addr)}+${hex(size)} is not (entirely) allocated: double free?`);
    }
    fillRange(c.bits, bit, nbits, 0);
    c.avail += nbits * this.granule;
    return c.owner;
  }

  /**
   * Translates a pool address.
   * @param addr an address in a chunk.
   * @returns the chunk's physical (or bus) address for it, or `-1` when it is in no chunk.
   * @kernel gen_pool_virt_to_phys
   */
  virtToPhys(addr: number): number {
    const c = this.chunkAt(addr);
    return c === undefined ? -1 : c.phys + (addr - c.virt);
  }

  /**
   * Whether `[start, start + size)` lies entirely inside one chunk.
   * @param start first address.
   * @param size bytes.
   * @returns the answer.
   * @kernel gen_pool_has_addr
   */
  hasAddr(start: number, size: number): boolean {
    const c = this.chunkAt(start);
    return c !== undefined && start + size <= c.end;
  }

  /** @returns free bytes over all chunks. @kernel gen_pool_avail */
  avail(): number {
    let n = 0;
    for (const c of this.chunks) n += c.avail;
    return n;
  }

  /** @returns total bytes over all chunks. @kernel gen_pool_size */
  size(): number {
    let n = 0;
    for (const c of this.chunks) n += c.end - c.virt;
    return n;
  }

  /** @returns the chunks as `{ virt, phys, size }`, newest first. */
  chunkList(): { virt: number; phys: number; size: number }[] {
    return this.chunks.map((c) => ({ virt: c.virt, phys: c.phys, size: c.end - c.virt }));
  }

  /**
   * Destroys the pool. Every allocation must have been freed.
   * @throws KernelBug when an allocation remains (the kernel BUG()s) or the pool was already
   *   destroyed; the pool is left intact on the first.
   * @kernel gen_pool_destroy
   */
  destroy(): void {
    this.checkLive('gen_pool_destroy');
    for (const c of this.chunks) {
      const bit = findNextBit(c.bits, c.nbits, 0, 1);
      if (bit < c.nbits) {
        throw new KernelBug(`gen_pool_destroy: chunk ${hex(c.virt)} still has an allocation at ${hex(c.virt + bit * this.granule)}`);
      }
    }
    this.chunks.length = 0;
    this.destroyed = true;
  }

  private checkLive(fn: string): void {
    if (this.destroyed) throw new KernelBug(`${fn}: pool was destroyed`);
  }

  private chunkAt(addr: number): Chunk | undefined {
    for (const c of this.chunks) if (addr >= c.virt && addr < c.end) return c;
    return undefined;
  }
}
