/**
 * Struct pages: one `Page` object per page frame the model has been asked about.
 *
 * System RAM pages are created lazily by `pfnToPage` and cached (one object per pfn, so pages
 * compare with `===`). Device (ZONE_DEVICE) pages exist only while their `DevPagemap` is mapped
 * (`devmMemremapPages`); they carry the pagemap, and vanish when it is unmapped. Every other pfn
 * has no page (`null`: the model's `pfn_valid()` is false there). A page's kernel virtual address
 * is its linear-map address (`PAGE_OFFSET + phys`), for device pages too: CPU accesses to it go
 * through `kernel.memory.cpuRead/cpuWrite`, which dispatch device memory to its MMIO handler.
 *
 * @kernel include/linux/mm_types.h (struct page), include/linux/mm.h (pfn_to_page,
 *   page_address, virt_to_page, get_page/put_page), mm/memremap.c (free_zone_device_page)
 */
import { KernelBug } from './bug';
import type { Kernel } from './kernel';
import type { DevPagemap } from './memremap';
import { PAGE_SIZE, PHYS_ADDR_LIMIT, physToVirt, virtToPhys } from './memory';

/**
 * A page frame's descriptor. Created by the kernel's memmap only; never construct directly.
 * @kernel struct page
 */
export class Page {
  private refs = 0;

  /**
   * @param kernel the kernel whose memory the frame belongs to.
   * @param pfn the page frame number.
   * @param pgmap the device pagemap for ZONE_DEVICE pages, `null` for System RAM.
   * @internal created by `MemMap` only.
   */
  constructor(
    readonly kernel: Kernel,
    readonly pfn: number,
    readonly pgmap: DevPagemap | null,
  ) {}

  /** The page reference count (`page_ref_count`). Free device pages have 0. */
  get refcount(): number {
    return this.refs;
  }

  /** @internal used by `getPage`/`putPage`. */
  addRef(delta: 1 | -1): number {
    this.refs += delta;
    return this.refs;
  }
}

/**
 * A kernel's page descriptors (`kernel.memmap`): the RAM page cache and the registry of mapped
 * device pagemaps, kept sorted by address so lookups are binary searches.
 * @kernel mem_map / vmemmap + pgmap_array
 */
export class MemMap {
  private readonly ram = new Map<number, Page>();
  private readonly maps: DevPagemap[] = [];
  private readonly devPages = new Map<DevPagemap, Map<number, Page>>();

  /** @param kernel the owning kernel. */
  constructor(private readonly kernel: Kernel) {}

  /**
   * The page for a pfn.
   * @param pfn a page frame number.
   * @returns the cached or new `Page` for System RAM and mapped device memory, `null` otherwise.
   * @kernel pfn_to_page (+ pfn_valid)
   */
  pfnToPage(pfn: number): Page | null {
    if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= PHYS_ADDR_LIMIT / PAGE_SIZE) return null;
    const cached = this.ram.get(pfn);
    if (cached !== undefined) return cached;
    const pgmap = this.findPagemap(pfn);
    if (pgmap !== null) {
      let pages = this.devPages.get(pgmap);
      if (pages === undefined) {
        pages = new Map();
        this.devPages.set(pgmap, pages);
      }
      let p = pages.get(pfn);
      if (p === undefined) {
        p = new Page(this.kernel, pfn, pgmap);
        pages.set(pfn, p);
      }
      return p;
    }
    if (!this.kernel.memory.isRam(pfn * PAGE_SIZE, PAGE_SIZE)) return null;
    const p = new Page(this.kernel, pfn, null);
    this.ram.set(pfn, p);
    return p;
  }

  /**
   * The mapped pagemap covering a pfn (no reference taken; see `getDevPagemap`).
   * @param pfn a page frame number.
   * @returns the pagemap, or `null`.
   */
  findPagemap(pfn: number): DevPagemap | null {
    const phys = pfn * PAGE_SIZE;
    const m = this.maps[this.indexAfter(phys) - 1];
    return m !== undefined && phys <= m.range.end ? m : null;
  }

  /** The mapped pagemaps, in address order. */
  pagemaps(): DevPagemap[] {
    return this.maps.slice();
  }

  /** Number of RAM page descriptors created so far (for tests of the lazy cache). */
  ramPagesCreated(): number {
    return this.ram.size;
  }

  /** @internal called by `devmMemremapPages` once every check passed. */
  addPagemap(pgmap: DevPagemap): void {
    const i = this.indexAfter(pgmap.range.start);
    this.maps.splice(i, 0, pgmap);
  }

  /** @internal called when a pagemap's pages are torn down; its page objects are dropped. */
  removePagemap(pgmap: DevPagemap): void {
    const i = this.maps.indexOf(pgmap);
    if (i < 0) throw new KernelBug(`memmap: pagemap ${pgmap.describe()} is not registered`);
    this.maps.splice(i, 1);
    this.devPages.delete(pgmap);
  }

  /** Index of the first pagemap whose start is > `phys`. */
  private indexAfter(phys: number): number {
    const m = this.maps;
    let lo = 0;
    let hi = m.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (m[mid]!.range.start <= phys) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The page for a pfn.
 * @param kernel the kernel.
 * @param pfn a page frame number.
 * @returns the page, or `null` when the pfn is neither System RAM nor mapped device memory.
 * @kernel pfn_to_page
 */
export function pfnToPage(kernel: Kernel, pfn: number): Page | null {
  return kernel.memmap.pfnToPage(pfn);
}

/**
 * The page frame number of a page.
 * @param page a page.
 * @returns its page frame number.
 * @kernel page_to_pfn
 */
export function pageToPfn(page: Page): number {
  return page.pfn;
}

/**
 * The physical address of a page.
 * @param page a page.
 * @returns the physical address of its first byte.
 * @kernel page_to_phys
 */
export function pageToPhys(page: Page): number {
  return page.pfn * PAGE_SIZE;
}

/**
 * The kernel virtual address of a page.
 * @param page a page (RAM or device).
 * @returns its kernel virtual address in the linear map.
 * @kernel page_address
 */
export function pageAddress(page: Page): number {
  return physToVirt(pageToPhys(page));
}

/**
 * The page holding a linear-map kernel virtual address.
 * @param kernel the kernel.
 * @param virt a kernel virtual address from `pageAddress`/`physToVirt`.
 * @returns the page, or `null` when the address has none.
 * @throws KernelBug for an address outside the linear map (as `virtToPhys` does).
 * @kernel virt_to_page
 */
export function virtToPage(kernel: Kernel, virt: number): Page | null {
  return kernel.memmap.pfnToPage(Math.floor(virtToPhys(virt) / PAGE_SIZE));
}

/**
 * The page holding a physical address.
 * @param kernel the kernel.
 * @param phys a physical address.
 * @returns the page, or `null`.
 * @kernel phys_to_page
 */
export function physToPage(kernel: Kernel, phys: number): Page | null {
  if (!Number.isSafeInteger(phys) || phys < 0) return null;
  return kernel.memmap.pfnToPage(Math.floor(phys / PAGE_SIZE));
}

/**
 * Whether a page is device memory with a pagemap.
 * @param page a page.
 * @returns `true` for ZONE_DEVICE pages.
 * @kernel is_zone_device_page
 */
export function isZoneDevicePage(page: Page): boolean {
  return page.pgmap !== null;
}

/**
 * Takes a page reference.
 * @param page the page.
 * @kernel get_page
 */
export function getPage(page: Page): void {
  page.addRef(1);
}

/**
 * Drops a page reference. When a ZONE_DEVICE page's count reaches zero it is handed back to its
 * driver through `pgmap.ops.pageFree`.
 * @param page the page.
 * @throws KernelBug when the count is already zero.
 * @kernel put_page (+ free_zone_device_page)
 */
export function putPage(page: Page): void {
  if (page.refcount <= 0) throw new KernelBug(`put_page: pfn 0x${page.pfn.toString(16)} has refcount 0`);
  if (page.addRef(-1) === 0 && page.pgmap !== null) page.pgmap.ops?.pageFree?.(page);
}
