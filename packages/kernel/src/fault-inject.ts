/**
 * Fault injection: make a chosen call of an allocator fail, so every layer can test its error
 * paths deterministically.
 *
 * Each kernel has one `FaultInjector` (`kernel.faults`). Allocation sites ask it
 * `shouldFail(site)` on every call; a site armed with `inject(site, { nth, times, errno })` fails
 * its `nth` call after arming (and the `times - 1` calls after that), returning the chosen errno.
 * Sites are plain strings so higher layers can add their own; the base layer's are the
 * `FAULT_*` constants. Nothing is logged (the kernel's fault-injection framework prints only in
 * verbose mode).
 *
 * @kernel lib/fault-inject.c (should_fail, failslab / fail_page_alloc style attributes)
 */
import type { NegErrno } from './errno';
import { err, isErr } from './errno';

/** `GenPool.alloc` / `allocOwner` return 0 (no memory). @kernel gen_pool_alloc */
export const FAULT_GENPOOL_ALLOC = 'gen_pool_alloc';
/** `GenPool.addVirt` returns the errno (the chunk allocation failed). @kernel gen_pool_add_owner */
export const FAULT_GENPOOL_ADD = 'gen_pool_add';
/** `PhysicalMemory.allocPages` returns `null`. @kernel alloc_pages (fail_page_alloc) */
export const FAULT_ALLOC_PAGES = 'alloc_pages';
/** `sysfsCreateGroup` fails at its last attribute and rolls back. @kernel internal_create_group */
export const FAULT_SYSFS_CREATE_GROUP = 'sysfs_create_group';
/** `devmMemremapPages` returns the errno before touching anything. @kernel devm_memremap_pages */
export const FAULT_DEVM_MEMREMAP_PAGES = 'devm_memremap_pages';
/** `sgAllocTable` returns `null`. @kernel sg_alloc_table */
export const FAULT_SG_ALLOC_TABLE = 'sg_alloc_table';
/**
 * Every DMA mapping call (`dmaMapSg` → 0, `dmaMapPage` → `DMA_MAPPING_ERROR`,
 * `dmaAllocCoherent` → `null`), as when IOVA space or swiotlb slots run out.
 * @kernel iommu_dma_map_sg / dma_direct_map_page failures
 */
export const FAULT_DMA_MAP = 'dma_map';

/** Every fault site the base layer checks, for listings and table-driven tests. */
export const KERNEL_FAULT_SITES: readonly string[] = [
  FAULT_GENPOOL_ALLOC,
  FAULT_GENPOOL_ADD,
  FAULT_ALLOC_PAGES,
  FAULT_SYSFS_CREATE_GROUP,
  FAULT_DEVM_MEMREMAP_PAGES,
  FAULT_SG_ALLOC_TABLE,
  FAULT_DMA_MAP,
];

/** How an armed site fails. */
export interface FaultSpec {
  /** Which call after arming fails first: 1 (default) is the next call. */
  nth?: number;
  /** How many consecutive calls fail from the `nth` on (default 1; `Infinity` = all). */
  times?: number;
  /** The errno returned (default `-ENOMEM`). Sites that return `null`/`0` ignore it. */
  errno?: NegErrno;
}

interface Armed {
  countdown: number;
  remaining: number;
  readonly errno: NegErrno;
}

/** One site's counters and arming, kept in one record so a call costs one map lookup. */
interface SiteState {
  calls: number;
  failures: number;
  armed: Armed | null;
}

/**
 * A kernel's fault-injection registry (`kernel.faults`).
 * @kernel struct fault_attr
 */
export class FaultInjector {
  /** Every site asked or armed so far (sites are never removed: their counters live on). */
  private readonly sites = new Map<string, SiteState>();

  private site(site: string): SiteState {
    let s = this.sites.get(site);
    if (s === undefined) {
      s = { calls: 0, failures: 0, armed: null };
      this.sites.set(site, s);
    }
    return s;
  }

  /**
   * Arms a site, replacing any earlier arming of it.
   * @param site the site (`FAULT_GENPOOL_ALLOC`, or a higher layer's own string).
   * @param spec which call fails, how many times, with which errno.
   * @throws RangeError for an empty site, `nth` not a positive integer, `times` not a positive
   *   integer or `Infinity`, or an `errno` that is not a negated errno.
   */
  inject(site: string, spec: FaultSpec = {}): void {
    const nth = spec.nth ?? 1;
    const times = spec.times ?? 1;
    const errno = spec.errno ?? err('ENOMEM');
    if (site === '') throw new RangeError('faults.inject: site is empty');
    if (!Number.isSafeInteger(nth) || nth < 1) throw new RangeError(`faults.inject(${site}): nth ${nth} must be a positive integer`);
    if (times !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(times) || times < 1)) {
      throw new RangeError(`faults.inject(${site}): times ${times} must be a positive integer or Infinity`);
    }
    if (!isErr(errno)) throw new RangeError(`faults.inject(${site}): errno ${errno} is not a negated errno`);
    this.site(site).armed = { countdown: nth, remaining: times, errno };
  }

  /**
   * Asked by a site on every call.
   * @param site the site.
   * @returns the armed errno when this call must fail, else `0`.
   * @kernel should_fail
   */
  shouldFail(site: string): NegErrno | 0 {
    const s = this.site(site);
    s.calls++;
    const a = s.armed;
    if (a === null) return 0;
    if (a.countdown > 1) {
      a.countdown--;
      return 0;
    }
    a.remaining--;
    if (a.remaining <= 0) s.armed = null;
    s.failures++;
    return a.errno;
  }

  /**
   * Disarms one site, or every site.
   * @param site the site; omitted: all.
   */
  clear(site?: string): void {
    if (site === undefined) {
      for (const s of this.sites.values()) s.armed = null;
    } else {
      const s = this.sites.get(site);
      if (s !== undefined) s.armed = null;
    }
  }

  /** @param site a site. @returns whether it is armed (a failure is still pending). */
  isArmed(site: string): boolean {
    return (this.sites.get(site)?.armed ?? null) !== null;
  }

  /** @param site a site. @returns how many times it was asked since boot. */
  calls(site: string): number {
    return this.sites.get(site)?.calls ?? 0;
  }

  /** @param site a site. @returns how many injected failures it returned since boot. */
  failures(site: string): number {
    return this.sites.get(site)?.failures ?? 0;
  }
}
