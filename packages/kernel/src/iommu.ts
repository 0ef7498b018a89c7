/**
 * The IOMMU: groups, domains and their IOVA space.
 *
 * A device behind an enabled IOMMU issues DMA to I/O virtual addresses (IOVAs); its group's
 * domain translates them to physical addresses. The model keeps the mechanism only: which devices
 * share a group is decided by pci-core (ACS, bridges, multifunction), which calls `allocGroup`
 * and `groupAddDevice`. IOVAs are allocated from `IOVA_BASE` (2^40) upwards, so an IOVA is never
 * mistaken for a RAM address in tests.
 *
 * @kernel drivers/iommu/iommu.c, drivers/iommu/iova.c, drivers/iommu/dma-iommu.c
 */
import { KernelBug } from './bug';
import type { Device } from './device';
import type { KResult } from './errno';
import { err } from './errno';
import { ExtentAllocator } from './internal/extent-allocator';
import type { KernelLog } from './log';
import { PAGE_SIZE } from './memory';
import { formatPhysAddr, hex } from './vsprintf';

/** Mapping is readable by the device. @kernel IOMMU_READ */
export const IOMMU_READ = 1 << 0;
/** Mapping is writable by the device. @kernel IOMMU_WRITE */
export const IOMMU_WRITE = 1 << 1;
/** Cache-coherent mapping. @kernel IOMMU_CACHE */
export const IOMMU_CACHE = 1 << 2;
/** Not executable. @kernel IOMMU_NOEXEC */
export const IOMMU_NOEXEC = 1 << 3;
/** The target is MMIO (a peer BAR), not RAM. @kernel IOMMU_MMIO */
export const IOMMU_MMIO = 1 << 4;
/** Privileged access only. @kernel IOMMU_PRIV */
export const IOMMU_PRIV = 1 << 5;

/** A bitwise OR of the `IOMMU_*` protection flags. */
export type IommuProt = number;

/** First IOVA handed out by `iovaAlloc` (2^40: far above any modelled RAM). */
export const IOVA_BASE = 2 ** 40;
/** End (exclusive) of the IOVA space: a 48-bit input address width. */
export const IOVA_LIMIT = 2 ** 48;

/**
 * Domain types: `'dma'` translates through the domain's page table (dma-iommu); `'identity'`
 * passes every address through unchanged (`iommu=pt`).
 * @kernel IOMMU_DOMAIN_DMA, IOMMU_DOMAIN_IDENTITY
 */
export type IommuDomainType = 'dma' | 'identity';

/** The result of a translation: where an IOVA points and how far the mapping runs. */
export interface IommuTranslation {
  /** Physical address the IOVA maps to. */
  readonly phys: number;
  /** Protection flags of the mapping. */
  readonly prot: IommuProt;
  /** Bytes from the IOVA to the end of its mapping (physically contiguous). */
  readonly len: number;
}

interface Mapping {
  readonly iova: number;
  readonly phys: number;
  readonly size: number;
  readonly prot: IommuProt;
}

function isPageAligned(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n % PAGE_SIZE === 0;
}

/**
 * An IOMMU domain: an IOVA allocator and a page table (kept as sorted, disjoint mappings;
 * translations are a binary search).
 * @kernel struct iommu_domain + struct iova_domain
 */
export class IommuDomain {
  private readonly maps: Mapping[] = [];
  private readonly iovas: ExtentAllocator;
  private mapped = 0;

  /**
   * @param id the domain's number (unique per kernel).
   * @param type `'dma'` or `'identity'`.
   * @param log where map errors are reported.
   */
  constructor(
    readonly id: number,
    readonly type: IommuDomainType,
    private readonly log: KernelLog,
  ) {
    this.iovas = new ExtentAllocator(`iova domain ${id}`);
    this.iovas.addFree(IOVA_BASE / PAGE_SIZE, (IOVA_LIMIT - IOVA_BASE) / PAGE_SIZE);
  }

  /**
   * Allocates IOVA space, rounded up to whole pages.
   * @param size bytes wanted (> 0).
   * @returns the page-aligned IOVA, or `0` when the space is exhausted. The caller owns the
   *   range until `iovaFree(iova, size)`.
   * @throws KernelBug for a size that is not a positive integer.
   * @kernel alloc_iova_fast (via iommu_dma_alloc_iova)
   */
  iovaAlloc(size: number): number {
    if (!Number.isSafeInteger(size) || size <= 0) throw new KernelBug(`iovaAlloc: bad size ${size}`);
    const pfn = this.iovas.alloc(Math.ceil(size / PAGE_SIZE));
    return pfn === null ? 0 : pfn * PAGE_SIZE;
  }

  /**
   * Returns IOVA space from `iovaAlloc`.
   * @param iova the address `iovaAlloc` returned.
   * @param size the size passed to `iovaAlloc`.
   * @throws KernelBug for a double free or a range never allocated.
   * @kernel free_iova_fast
   */
  iovaFree(iova: number, size: number): void {
    if (!isPageAligned(iova)) throw new KernelBug(`iovaFree: ${iova} is not a page-aligned IOVA`);
    this.iovas.release(iova / PAGE_SIZE, Math.ceil(size / PAGE_SIZE));
  }

  /**
   * Maps `size` bytes at `iova` to `phys`. All-or-nothing: on error nothing is mapped.
   * @param iova page-aligned IOVA.
   * @param phys page-aligned physical address.
   * @param size page-multiple byte count (> 0).
   * @param prot `IOMMU_READ | IOMMU_WRITE | ...`.
   * @returns `0`; `-EINVAL` for unaligned arguments (logged as the kernel does) or an identity
   *   domain; `-EEXIST` when part of the range is already mapped (as io-pgtable reports it).
   * @kernel iommu_map
   */
  map(iova: number, phys: number, size: number, prot: IommuProt): KResult {
    if (this.type === 'identity') return err('EINVAL');
    if (!isPageAligned(iova) || !isPageAligned(phys) || !isPageAligned(size) || size === 0) {
      this.log.prErr(`unaligned: iova ${hex(iova)} pa ${formatPhysAddr(phys)} size ${hex(size)} min_pagesz ${hex(PAGE_SIZE)}`);
      return err('EINVAL');
    }
    const i = this.indexAfter(iova);
    const prev = this.maps[i - 1];
    const next = this.maps[i];
    if ((prev !== undefined && prev.iova + prev.size > iova) || (next !== undefined && next.iova < iova + size)) {
      return err('EEXIST');
    }
    this.maps.splice(i, 0, { iova, phys, size, prot });
    this.mapped += size;
    return 0;
  }

  /**
   * Unmaps whatever is mapped in `[iova, iova + size)`, splitting mappings that straddle the
   * range's ends.
   * @param iova page-aligned IOVA.
   * @param size page-multiple byte count.
   * @returns bytes unmapped (0 for unaligned arguments, an identity domain or nothing mapped).
   * @kernel iommu_unmap
   */
  unmap(iova: number, size: number): number {
    if (this.type === 'identity' || !isPageAligned(iova) || !isPageAligned(size) || size === 0) return 0;
    const end = iova + size;
    let i = this.indexAfter(iova) - 1;
    if (i < 0 || this.maps[i]!.iova + this.maps[i]!.size <= iova) i++;
    const keep: Mapping[] = [];
    let removed = 0;
    let j = i;
    for (; j < this.maps.length; j++) {
      const m = this.maps[j]!;
      if (m.iova >= end) break;
      const mEnd = m.iova + m.size;
      if (m.iova < iova) keep.push({ iova: m.iova, phys: m.phys, size: iova - m.iova, prot: m.prot });
      if (mEnd > end) keep.push({ iova: end, phys: m.phys + (end - m.iova), size: mEnd - end, prot: m.prot });
      removed += Math.min(mEnd, end) - Math.max(m.iova, iova);
    }
    this.maps.splice(i, j - i, ...keep);
    this.mapped -= removed;
    return removed;
  }

  /**
   * Translates an IOVA.
   * @param iova the address.
   * @returns the physical address, or `null` when unmapped. Identity domains return `iova`.
   * @kernel iommu_iova_to_phys
   */
  iovaToPhys(iova: number): number | null {
    return this.lookup(iova)?.phys ?? null;
  }

  /**
   * Translates an IOVA with the mapping's protection and extent (for the fabric router, which
   * checks the access type and walks multi-mapping transfers).
   * @param iova the address.
   * @returns the translation, or `null` when unmapped. Identity domains return the address
   *   itself, read-write, running to the end of the address space.
   */
  lookup(iova: number): IommuTranslation | null {
    if (this.type === 'identity') return { phys: iova, prot: IOMMU_READ | IOMMU_WRITE, len: IOVA_LIMIT - iova };
    const m = this.maps[this.indexAfter(iova) - 1];
    if (m === undefined || iova >= m.iova + m.size) return null;
    const off = iova - m.iova;
    return { phys: m.phys + off, prot: m.prot, len: m.size - off };
  }

  /** Bytes currently mapped. */
  mappedBytes(): number {
    return this.mapped;
  }

  /** Bytes of IOVA space currently allocated. */
  iovaAllocatedBytes(): number {
    return (IOVA_LIMIT - IOVA_BASE) - this.iovas.freeCount() * PAGE_SIZE;
  }

  /** Index of the first mapping whose IOVA is > `iova`. */
  private indexAfter(iova: number): number {
    const m = this.maps;
    let lo = 0;
    let hi = m.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (m[mid]!.iova <= iova) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * An IOMMU group: the devices the IOMMU cannot tell apart, sharing one domain.
 * @kernel struct iommu_group
 */
export class IommuGroup {
  private readonly members: Device[] = [];

  /**
   * Created by `IommuRegistry.allocGroup`.
   * @param id the group number (`/sys/kernel/iommu_groups/<id>`).
   * @param defaultDomain the domain its devices use for kernel DMA.
   */
  constructor(
    readonly id: number,
    readonly defaultDomain: IommuDomain,
  ) {}

  /** The domain currently attached (the default domain: the model does not model VFIO). */
  get domain(): IommuDomain {
    return this.defaultDomain;
  }

  /** The member devices in the order they were added. */
  get devices(): readonly Device[] {
    return this.members;
  }

  /** @internal used by `IommuRegistry` only. */
  addMember(dev: Device): void {
    this.members.push(dev);
  }

  /** @internal used by `IommuRegistry` only. */
  removeMember(dev: Device): void {
    const i = this.members.indexOf(dev);
    if (i >= 0) this.members.splice(i, 1);
  }
}

/**
 * A kernel's IOMMU subsystem: whether translation is on, and its groups. `kernel.iommu`.
 * @kernel drivers/iommu/iommu.c
 */
export class IommuRegistry {
  private readonly list: IommuGroup[] = [];
  private nextDomainId = 0;

  /**
   * @param enabled whether DMA from grouped devices is translated (the IOMMU is on).
   * @param passthrough whether default domains are identity (`iommu=pt`).
   * @param log where group membership is reported.
   */
  constructor(
    readonly enabled: boolean,
    readonly passthrough: boolean,
    private readonly log: KernelLog,
  ) {}

  /**
   * Creates a group with a fresh default domain (`'identity'` under passthrough, else `'dma'`).
   * Ids are the lowest free number, from 0, as the kernel's ida hands them out.
   * @returns the group; it is freed when its last device leaves.
   * @kernel iommu_group_alloc
   */
  allocGroup(): IommuGroup {
    let id = 0;
    for (const g of this.list) {
      if (g.id !== id) break;
      id++;
    }
    const group = new IommuGroup(id, this.newDomain(this.passthrough ? 'identity' : 'dma'));
    this.list.splice(id, 0, group);
    return group;
  }

  /**
   * Creates a stand-alone domain (for drivers that manage their own, like VFIO would).
   * @param type the domain type.
   * @returns the domain; the caller owns it.
   * @kernel iommu_domain_alloc
   */
  newDomain(type: IommuDomainType): IommuDomain {
    return new IommuDomain(this.nextDomainId++, type, this.log);
  }

  /**
   * Puts a device in a group. When the IOMMU is enabled the device's DMA ops become `'iommu'`
   * (or stay `'direct'` under an identity domain; `'virt'` devices are left alone) and the
   * kernel's `Adding to iommu group N` line is logged.
   * @param group a group from `allocGroup` that still exists.
   * @param dev the device.
   * @returns `0`, or `-EEXIST` when the device is already in a group.
   * @throws KernelBug for a group that is not this registry's live group.
   * @kernel iommu_group_add_device
   */
  groupAddDevice(group: IommuGroup, dev: Device): KResult {
    if (this.list[this.indexOf(group)] !== group) throw new KernelBug(`iommu group ${group.id} is not live in this kernel`);
    if (dev.iommuGroup !== null) return err('EEXIST');
    group.addMember(dev);
    dev.iommuGroup = group;
    if (this.enabled) {
      this.log.devInfo(dev, `Adding to iommu group ${group.id}`);
      if (dev.dmaOps !== 'virt') dev.dmaOps = group.defaultDomain.type === 'dma' ? 'iommu' : 'direct';
    }
    return 0;
  }

  /**
   * Takes a device out of its group (device removal). The group is freed when it empties.
   * @param dev the device; nothing happens when it is in no group.
   * @kernel iommu_group_remove_device
   */
  groupRemoveDevice(dev: Device): void {
    const group = dev.iommuGroup;
    if (group === null) return;
    if (this.enabled) this.log.devInfo(dev, `Removing from iommu group ${group.id}`);
    group.removeMember(dev);
    dev.iommuGroup = null;
    if (dev.dmaOps === 'iommu') dev.dmaOps = 'direct';
    if (group.devices.length === 0) {
      const i = this.indexOf(group);
      if (this.list[i] === group) this.list.splice(i, 1);
    }
  }

  /** The live groups in id order. */
  groups(): IommuGroup[] {
    return this.list.slice();
  }

  /**
   * @param id a group id.
   * @returns the live group with that id, or `null`.
   */
  findGroup(id: number): IommuGroup | null {
    const g = this.list[this.indexOfId(id)];
    return g !== undefined && g.id === id ? g : null;
  }

  private indexOf(group: IommuGroup): number {
    return this.indexOfId(group.id);
  }

  /** Index of the first group with id >= `id`. */
  private indexOfId(id: number): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.list[mid]!.id < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
