/**
 * Physical memory as the CPU sees it: System RAM holding real bytes, and MMIO ranges dispatched
 * to device models.
 *
 * RAM is sparse: bytes live in 4 KiB pages allocated on first write; never-written pages read
 * as zeros without allocating. All copies are typed-array copies. CPU accesses (`cpuRead`,
 * `cpuWrite`) go to RAM or to the MMIO handler registered for the range, and are counted;
 * device DMA reaches RAM through `ramRead`/`ramWrite` (the fabric router's DRAM endpoint) and is
 * not counted here. A page-frame allocator hands out RAM for kernel allocations, and the linear
 * map converts between physical and kernel virtual addresses.
 *
 * @kernel mm/memblock.c (System RAM), mm/page_alloc.c (alloc_pages), arch/x86 __va/__pa,
 *   ioremap'd MMIO
 */
import { KernelBug } from './bug';
import { ConfigError } from './config';
import type { KResult, NegErrno } from './errno';
import { err } from './errno';
import type { FaultInjector } from './fault-inject';
import { FAULT_ALLOC_PAGES } from './fault-inject';
import { ExtentAllocator } from './internal/extent-allocator';
import type { KernelLog } from './log';
import { PAGE_SHIFT, PAGE_SIZE } from './memory-constants';
import { SparseBytes } from './sparse-bytes';
import { formatMemResource, hex } from './vsprintf';

export { PAGE_SHIFT, PAGE_SIZE };
/**
 * Base of the kernel's linear map of physical memory: `virt = phys + PAGE_OFFSET`. 2^52 keeps
 * every virtual address an exact JavaScript number (below 2^53).
 * @kernel PAGE_OFFSET
 */
export const PAGE_OFFSET = 2 ** 52;
/** Physical addresses are below this (52-bit physical address space, like x86-64 and arm64). */
export const PHYS_ADDR_LIMIT = 2 ** 52;
/**
 * Physical memory below this is never handed out by `allocPages` (x86 reserves the low 1 MiB),
 * so no allocation is ever at physical address 0.
 */
export const LOW_RESERVED_BYTES = 1 << 20;

/** A physical address range. */
export interface PhysRange {
  /** First byte. */
  readonly base: number;
  /** Length in bytes. */
  readonly size: number;
}

/**
 * A device model's handler for CPU accesses to its MMIO range. Offsets are from the start of the
 * registered range, so a BAR's handler is unaffected when the BAR moves. Handlers must fill or
 * consume exactly the array given; a misbehaving handler is the device model's bug.
 */
export interface MmioHandler {
  /** Fill `out` with the bytes at `offset` (`out.length` bytes). */
  read(offset: number, out: Uint8Array): void;
  /** Accept `data.length` bytes written at `offset`. */
  write(offset: number, data: Uint8Array): void;
}

/** A registered MMIO range, as `mmioRegions()` lists it. */
export interface MmioRegion extends PhysRange {
  /** Who registered it (`'0000:03:00.0 BAR 4'`). */
  readonly owner: string;
}

interface MmioEntry extends MmioRegion {
  readonly end: number;
  readonly handler: MmioHandler;
}

interface RamRange {
  readonly base: number;
  readonly end: number;
}

/**
 * Kernel virtual address of a physical address in the linear map.
 * @param phys a physical address.
 * @returns `phys + PAGE_OFFSET`.
 * @throws KernelBug for an address outside the physical address space.
 * @kernel __va / phys_to_virt
 */
export function physToVirt(phys: number): number {
  if (!Number.isSafeInteger(phys) || phys < 0 || phys >= PHYS_ADDR_LIMIT) {
    throw new KernelBug(`physToVirt: ${phys} is not a physical address`);
  }
  return phys + PAGE_OFFSET;
}

/**
 * Physical address of a linear-map kernel virtual address.
 * @param virt a kernel virtual address from `physToVirt`.
 * @returns `virt - PAGE_OFFSET`.
 * @throws KernelBug for an address outside the linear map (as `CONFIG_DEBUG_VIRTUAL` BUGs).
 * @kernel __pa / virt_to_phys
 */
export function virtToPhys(virt: number): number {
  if (!Number.isSafeInteger(virt) || virt < PAGE_OFFSET || virt >= PAGE_OFFSET + PHYS_ADDR_LIMIT) {
    throw new KernelBug(`virtToPhys: ${virt} is not a linear-map address`);
  }
  return virt - PAGE_OFFSET;
}

function checkAddr(what: string, phys: number, len: number): void {
  if (!Number.isSafeInteger(phys) || phys < 0 || !Number.isSafeInteger(len) || len < 0 || phys + len > PHYS_ADDR_LIMIT) {
    throw new KernelBug(`${what}: bad physical range ${phys}+${len}`);
  }
}

/**
 * One machine's physical memory. Created by the `Kernel` from its `systemRam` option.
 * @kernel System RAM resources + MMIO + the buddy allocator
 */
export class PhysicalMemory {
  private readonly ram: RamRange[];
  private readonly ramBytes = new SparseBytes();
  private readonly mmio: MmioEntry[] = [];
  private readonly frames = new ExtentAllocator('page allocator');
  private readStats = 0;
  private writeStats = 0;
  private mmioReadStats = 0;
  private mmioWriteStats = 0;

  /**
   * @param systemRam the System RAM ranges: page-aligned, non-empty, non-overlapping, below
   *   `PHYS_ADDR_LIMIT`; adjacent ranges are merged.
   * @param log where access faults are reported.
   * @param faults fault injection for `allocPages` (`FAULT_ALLOC_PAGES`); `null`: none.
   * @throws ConfigError naming the bad range.
   */
  constructor(
    systemRam: readonly PhysRange[],
    private readonly log: KernelLog,
    private readonly faults: FaultInjector | null = null,
  ) {
    systemRam.forEach((r, i) => {
      const what = `systemRam[${i}]`;
      if (!Number.isSafeInteger(r.base) || !Number.isSafeInteger(r.size) || r.base < 0 || r.size <= 0) {
        throw new ConfigError(what, `base ${r.base} and size ${r.size} must be integers, size > 0`);
      }
      if (r.base % PAGE_SIZE !== 0 || r.size % PAGE_SIZE !== 0) {
        throw new ConfigError(what, `base ${hex(r.base)} and size ${hex(r.size)} must be multiples of PAGE_SIZE`);
      }
      if (r.base + r.size > PHYS_ADDR_LIMIT) throw new ConfigError(what, 'ends beyond the 52-bit physical address space');
    });
    const sorted = systemRam.map((r) => ({ base: r.base, end: r.base + r.size })).sort((a, b) => a.base - b.base);
    const merged: RamRange[] = [];
    for (const r of sorted) {
      const last = merged[merged.length - 1];
      if (last !== undefined && r.base < last.end) {
        throw new ConfigError('systemRam', `ranges ${formatMemResource(last.base, last.end - 1)} and ${formatMemResource(r.base, r.end - 1)} overlap`);
      }
      if (last !== undefined && r.base === last.end) merged[merged.length - 1] = { base: last.base, end: r.end };
      else merged.push(r);
    }
    this.ram = merged;
    for (const r of merged) {
      const base = Math.max(r.base, LOW_RESERVED_BYTES);
      if (base < r.end) this.frames.addFree(base / PAGE_SIZE, (r.end - base) / PAGE_SIZE);
    }
  }

  /** The System RAM ranges, sorted and merged. */
  ramRanges(): PhysRange[] {
    return this.ram.map((r) => ({ base: r.base, size: r.end - r.base }));
  }

  /** Total System RAM in bytes. */
  totalRam(): number {
    let t = 0;
    for (const r of this.ram) t += r.end - r.base;
    return t;
  }

  /** Number of 4 KiB pages holding bytes (pages ever written and not since freed or zeroed). */
  residentPages(): number {
    return this.ramBytes.residentPages();
  }

  /** Bytes the CPU read from RAM through `cpuRead`. */
  get cpuRamReadBytes(): number {
    return this.readStats;
  }
  /** Bytes the CPU wrote to RAM through `cpuWrite`. */
  get cpuRamWriteBytes(): number {
    return this.writeStats;
  }
  /** Bytes the CPU read from MMIO through `cpuRead`. */
  get cpuMmioReadBytes(): number {
    return this.mmioReadStats;
  }
  /** Bytes the CPU wrote to MMIO through `cpuWrite`. */
  get cpuMmioWriteBytes(): number {
    return this.mmioWriteStats;
  }

  /**
   * Whether `[phys, phys + len)` lies entirely in System RAM.
   * @param phys first byte.
   * @param len length in bytes (0 asks whether `phys` itself is RAM).
   * @returns `true` when the whole range is RAM.
   * @kernel page_is_ram / region_intersects(IORESOURCE_SYSTEM_RAM) == REGION_INTERSECTS
   */
  isRam(phys: number, len: number): boolean {
    if (!Number.isSafeInteger(phys) || !Number.isSafeInteger(len) || phys < 0 || len < 0) return false;
    const r = this.ramRangeAt(phys);
    return r !== undefined && phys + Math.max(len, 1) <= r.end;
  }

  /**
   * Reads RAM bytes (a DRAM access: not counted as a CPU access).
   * @param phys first byte; `[phys, phys + len)` must be RAM.
   * @param len bytes to read.
   * @param out optional destination with `length >= len`; filled from index 0.
   * @returns the bytes: `out.subarray(0, len)` or a new array the caller owns.
   * @throws KernelBug when the range is not entirely RAM (check `isRam` first).
   */
  ramRead(phys: number, len: number, out?: Uint8Array): Uint8Array {
    checkAddr('ramRead', phys, len);
    if (len > 0 && !this.isRam(phys, len)) throw new KernelBug(`ramRead: ${formatMemResource(phys, phys + len - 1)} is not System RAM`);
    let dst: Uint8Array;
    if (out === undefined) dst = new Uint8Array(len);
    else {
      if (out.length < len) throw new KernelBug(`ramRead: buffer of ${out.length} bytes for a ${len}-byte read`);
      dst = out.length === len ? out : out.subarray(0, len);
    }
    this.ramBytes.read(phys, dst, out === undefined);
    return dst;
  }

  /**
   * Writes RAM bytes (a DRAM access: not counted as a CPU access). Pages are allocated on first
   * write.
   * @param phys first byte; `[phys, phys + data.length)` must be RAM.
   * @param data the bytes; copied, the caller keeps ownership.
   * @throws KernelBug when the range is not entirely RAM.
   */
  ramWrite(phys: number, data: Uint8Array): void {
    const len = data.length;
    checkAddr('ramWrite', phys, len);
    if (len > 0 && !this.isRam(phys, len)) throw new KernelBug(`ramWrite: ${formatMemResource(phys, phys + len - 1)} is not System RAM`);
    this.ramBytes.write(phys, data);
  }

  /**
   * Zeroes RAM bytes; whole pages are dropped back to the sparse (unallocated) state.
   * @param phys first byte; the range must be RAM.
   * @param len bytes to zero.
   * @throws KernelBug when the range is not entirely RAM.
   * @kernel memset(.., 0, ..) / clear_page
   */
  ramZero(phys: number, len: number): void {
    checkAddr('ramZero', phys, len);
    if (len > 0 && !this.isRam(phys, len)) throw new KernelBug(`ramZero: ${formatMemResource(phys, phys + len - 1)} is not System RAM`);
    this.ramBytes.zero(phys, len);
  }

  /**
   * Routes CPU accesses to `[base, base + size)` to a device model (an ioremap'd BAR, a CMB).
   * @param base first byte, outside System RAM.
   * @param size length in bytes (> 0).
   * @param handler the device model's accessors (offsets relative to `base`).
   * @param owner who owns the range, for messages (`'0000:03:00.0 BAR 4'`).
   * @returns a function that removes the registration; the caller owns it and calls it once.
   * @throws KernelBug when the range overlaps RAM or another MMIO range, or when the returned
   *   function is called twice.
   * @kernel ioremap / request_mem_region
   */
  registerMmio(base: number, size: number, handler: MmioHandler, owner: string): () => void {
    checkAddr(`registerMmio(${owner})`, base, size);
    if (size <= 0) throw new KernelBug(`registerMmio(${owner}): empty range`);
    const end = base + size;
    for (const r of this.ram) {
      if (base < r.end && r.base < end) {
        throw new KernelBug(`registerMmio(${owner}): ${formatMemResource(base, end - 1)} overlaps System RAM ${formatMemResource(r.base, r.end - 1)}`);
      }
    }
    const i = this.mmioIndexAfter(base);
    const prev = this.mmio[i - 1];
    const next = this.mmio[i];
    const clash = prev !== undefined && prev.end > base ? prev : next !== undefined && next.base < end ? next : undefined;
    if (clash !== undefined) {
      throw new KernelBug(
        `registerMmio(${owner}): ${formatMemResource(base, end - 1)} overlaps ${formatMemResource(clash.base, clash.end - 1)} of ${clash.owner}`,
      );
    }
    const entry: MmioEntry = { base, size, end, owner, handler };
    this.mmio.splice(i, 0, entry);
    let done = false;
    return () => {
      if (done) throw new KernelBug(`MMIO ${formatMemResource(base, end - 1)} of ${owner} unregistered twice`);
      done = true;
      const at = this.mmio.indexOf(entry);
      this.mmio.splice(at, 1);
    };
  }

  /** The registered MMIO ranges, in address order. */
  mmioRegions(): MmioRegion[] {
    return this.mmio.map(({ base, size, owner }) => ({ base, size, owner }));
  }

  /**
   * The MMIO range containing an address.
   * @param phys the address.
   * @returns the region, or `null` when `phys` is in no registered range.
   */
  findMmio(phys: number): MmioRegion | null {
    const e = this.mmioAt(phys);
    return e === undefined ? null : { base: e.base, size: e.size, owner: e.owner };
  }

  /**
   * A CPU load: reads RAM or dispatches to the MMIO handler owning the range.
   * @param phys first byte.
   * @param len bytes to read.
   * @param out optional destination (`length >= len`).
   * @returns the bytes, or `-EFAULT` when the range is not entirely RAM nor entirely inside one
   *   MMIO range (logged at KERN_ERR).
   */
  cpuRead(phys: number, len: number, out?: Uint8Array): Uint8Array | NegErrno {
    checkAddr('cpuRead', phys, len);
    if (this.isRam(phys, len)) {
      this.readStats += len;
      return this.ramRead(phys, len, out);
    }
    const m = this.mmioAt(phys);
    if (m === undefined || phys + len > m.end) return this.fault('read', phys, len);
    let dst: Uint8Array;
    if (out === undefined) dst = new Uint8Array(len);
    else {
      if (out.length < len) throw new KernelBug(`cpuRead: buffer of ${out.length} bytes for a ${len}-byte read`);
      dst = out.length === len ? out : out.subarray(0, len);
    }
    m.handler.read(phys - m.base, dst);
    this.mmioReadStats += len;
    return dst;
  }

  /**
   * A CPU store: writes RAM or dispatches to the MMIO handler owning the range.
   * @param phys first byte.
   * @param data the bytes; copied (RAM) or handed to the handler for the call only (MMIO).
   * @returns `0`, or `-EFAULT` when the range is not entirely RAM nor entirely inside one MMIO
   *   range (logged at KERN_ERR; nothing is written).
   */
  cpuWrite(phys: number, data: Uint8Array): KResult {
    const len = data.length;
    checkAddr('cpuWrite', phys, len);
    if (this.isRam(phys, len)) {
      this.ramWrite(phys, data);
      this.writeStats += len;
      return 0;
    }
    const m = this.mmioAt(phys);
    if (m === undefined || phys + len > m.end) return this.fault('write', phys, len);
    m.handler.write(phys - m.base, data);
    this.mmioWriteStats += len;
    return 0;
  }

  /**
   * Allocates physically contiguous page frames from System RAM (first fit, never below
   * `LOW_RESERVED_BYTES`). Contents are whatever the frames last held (freed frames read as
   * zeros, see `freePages`).
   * @param count number of pages (a positive integer).
   * @returns the physical address of the first page, or `null` when no run of `count` free
   *   frames exists or fault site `FAULT_ALLOC_PAGES` fires. The caller owns the frames until
   *   `freePages(phys, count)`.
   * @throws KernelBug for a count that is not a positive integer.
   * @kernel alloc_pages
   */
  allocPages(count: number): number | null {
    if (this.faults !== null && Number.isSafeInteger(count) && count > 0 && this.faults.shouldFail(FAULT_ALLOC_PAGES) !== 0) return null;
    const pfn = this.frames.alloc(count);
    return pfn === null ? null : pfn * PAGE_SIZE;
  }

  /**
   * Returns frames from `allocPages`. Their bytes are dropped (they read as zeros until written).
   * @param phys exactly the address `allocPages` returned.
   * @param count exactly the count passed to `allocPages`.
   * @throws KernelBug for a double free, an address never allocated or a count mismatch.
   * @kernel __free_pages
   */
  freePages(phys: number, count: number): void {
    if (!Number.isSafeInteger(phys) || phys % PAGE_SIZE !== 0) throw new KernelBug(`freePages: ${phys} is not a page address`);
    this.frames.release(phys / PAGE_SIZE, count);
    this.ramZero(phys, count * PAGE_SIZE);
  }

  /**
   * @returns the number of free page frames.
   * @kernel nr_free_pages
   */
  freePageCount(): number {
    return this.frames.freeCount();
  }

  private fault(kind: 'read' | 'write', phys: number, len: number): NegErrno {
    this.log.prErr(`CPU ${kind} of unmapped physical range ${formatMemResource(phys, phys + Math.max(len, 1) - 1)}: -EFAULT`);
    return err('EFAULT');
  }

  private ramRangeAt(phys: number): RamRange | undefined {
    const ram = this.ram;
    let lo = 0;
    let hi = ram.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ram[mid]!.base <= phys) lo = mid + 1;
      else hi = mid;
    }
    const r = ram[lo - 1];
    return r !== undefined && phys < r.end ? r : undefined;
  }

  /** Index of the first MMIO entry whose base is > `phys`. */
  private mmioIndexAfter(phys: number): number {
    const m = this.mmio;
    let lo = 0;
    let hi = m.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (m[mid]!.base <= phys) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private mmioAt(phys: number): MmioEntry | undefined {
    const e = this.mmio[this.mmioIndexAfter(phys) - 1];
    return e !== undefined && phys < e.end ? e : undefined;
  }
}
