/**
 * ZONE_DEVICE memory: giving device memory (a PCI BAR, persistent memory) struct pages so it
 * can be used wherever RAM pages can, including scatterlists and DMA mappings.
 *
 * A driver describes the range in a `DevPagemap` and maps it with `devmMemremapPages`; the
 * pages then exist (`pfnToPage`) and carry the pagemap (`page.pgmap`). The mapping is devres
 * managed: on unbind it is torn down with `memunmapPages`, which kills the pagemap's reference
 * and removes the pages only once every reference is dropped (`pgmap.done` completes then).
 *
 * The checks follow the kernel generation selected by the P2PDMA policy (`MEMREMAP_RULES`):
 * `upstream` (6.6) checks the exact range and needs it 2 MiB (sub-section) aligned; `v2` (4.16)
 * rounds the range out to 128 MiB sections, so two small BARs in one section conflict.
 *
 * @kernel mm/memremap.c, include/linux/memremap.h, mm/memory_hotplug.c (check_pfn_span)
 */
import { KernelBug } from './bug';
import { Completion } from './completion';
import type { P2pdmaPolicy } from './config';
import type { Device } from './device';
import { devmAdd, devmRelease } from './device';
import type { NegErrno } from './errno';
import { err } from './errno';
import { FAULT_DEVM_MEMREMAP_PAGES } from './fault-inject';
import type { Kernel } from './kernel';
import { KERN_WARNING } from './log';
import { PAGE_SIZE, PHYS_ADDR_LIMIT, physToVirt } from './memory';
import type { Page } from './page';
import { PercpuRef } from './percpu-ref';
import { formatMemResource, hex } from './vsprintf';

/** Device memory not directly addressable by the CPU (HMM). @kernel MEMORY_DEVICE_PRIVATE */
export const MEMORY_DEVICE_PRIVATE = 1;
/** Cache-coherent device memory managed by a driver. @kernel MEMORY_DEVICE_COHERENT */
export const MEMORY_DEVICE_COHERENT = 2;
/** Persistent memory for filesystem DAX. @kernel MEMORY_DEVICE_FS_DAX */
export const MEMORY_DEVICE_FS_DAX = 3;
/** Device memory with no special handling (device-dax). @kernel MEMORY_DEVICE_GENERIC */
export const MEMORY_DEVICE_GENERIC = 4;
/** PCI BAR memory used for peer-to-peer DMA. @kernel MEMORY_DEVICE_PCI_P2PDMA */
export const MEMORY_DEVICE_PCI_P2PDMA = 5;

/** A ZONE_DEVICE memory type (`enum memory_type`; 0 is reserved as "uninitialized"). */
export type MemoryType =
  | typeof MEMORY_DEVICE_PRIVATE
  | typeof MEMORY_DEVICE_COHERENT
  | typeof MEMORY_DEVICE_FS_DAX
  | typeof MEMORY_DEVICE_GENERIC
  | typeof MEMORY_DEVICE_PCI_P2PDMA;

/** Memory type → the kernel's enumerator name. */
export const MEMORY_TYPE_NAMES: Readonly<Record<MemoryType, string>> = {
  [MEMORY_DEVICE_PRIVATE]: 'MEMORY_DEVICE_PRIVATE',
  [MEMORY_DEVICE_COHERENT]: 'MEMORY_DEVICE_COHERENT',
  [MEMORY_DEVICE_FS_DAX]: 'MEMORY_DEVICE_FS_DAX',
  [MEMORY_DEVICE_GENERIC]: 'MEMORY_DEVICE_GENERIC',
  [MEMORY_DEVICE_PCI_P2PDMA]: 'MEMORY_DEVICE_PCI_P2PDMA',
};

/** x86-64 memory section size (SECTION_SIZE_BITS 27): the 4.16 hotplug granule. @kernel SECTION_SIZE */
export const SECTION_SIZE = 2 ** 27;
/** Sub-section size (2 MiB): the ZONE_DEVICE granule since 5.3. @kernel SUBSECTION_SIZE */
export const SUBSECTION_SIZE = 2 ** 21;

/** A CPU physical address range; `end` is inclusive, as `struct range` keeps it. @kernel struct range */
export interface PagemapRange {
  /** First byte. */
  readonly start: number;
  /** Last byte (inclusive). */
  readonly end: number;
}

/**
 * Callbacks a pagemap's driver provides.
 * @kernel struct dev_pagemap_ops
 */
export interface DevPagemapOps {
  /**
   * A page's reference count dropped to zero: the driver takes the page back.
   * @kernel dev_pagemap_ops.page_free
   */
  pageFree?(page: Page): void;
  /**
   * CPU fault on a device-private page (required for `MEMORY_DEVICE_PRIVATE`; not modelled).
   * @kernel dev_pagemap_ops.migrate_to_ram
   */
  migrateToRam?(page: Page): number;
}

/** Options for `new DevPagemap(...)`. */
export interface DevPagemapOptions {
  /** The memory type. */
  type: MemoryType;
  /** The CPU physical range; `end` inclusive. */
  range: PagemapRange;
  /** The device the memory belongs to (required for PRIVATE and COHERENT; set by devm if null). */
  owner?: Device | null;
  /** Driver callbacks. */
  ops?: DevPagemapOps | null;
  /**
   * An externally managed reference (the 2018 API, where p2pdma passed its own `devmap_ref`).
   * Omitted: the pagemap has its own, initialized by `devmMemremapPages` (6.6).
   */
  ref?: PercpuRef;
  /** Bus address − CPU address of the memory; set by the p2pdma layer. Default 0. */
  pciP2pdmaBusOffset?: number;
}

type PagemapState = 'new' | 'mapped' | 'dying' | 'unmapped';

/**
 * A ZONE_DEVICE memory range and its driver's view of it.
 * @kernel struct dev_pagemap
 */
export class DevPagemap {
  /** The memory type. */
  readonly type: MemoryType;
  /** The CPU physical range (`end` inclusive). */
  readonly range: PagemapRange;
  /** The owning device. */
  owner: Device | null;
  /** Driver callbacks, or `null`. */
  ops: DevPagemapOps | null;
  /** The reference users hold while they use the pages; killed on unmap. */
  readonly ref: PercpuRef;
  /** Bus − CPU address offset for PCI P2PDMA memory (set by p2pdma). @kernel pci_p2pdma_bus_offset */
  pciP2pdmaBusOffset: number;
  /** Completed once the pages are gone after `memunmapPages`. @kernel dev_pagemap.done */
  readonly done = new Completion();
  private st: PagemapState = 'new';
  private ownsRef: boolean;
  /** @internal the devres action, for `devmMemunmapPages`. */
  devresAction: (() => void) | null = null;
  /** @internal the device that mapped it (`devmMemremapPages`). */
  mappedBy: Device | null = null;

  /**
   * @param opts type, range, owner, ops, optional external ref, bus offset.
   * @throws KernelBug for a range that is not a non-empty range of physical addresses, or an
   *   unknown type.
   */
  constructor(opts: DevPagemapOptions) {
    const { start, end } = opts.range;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end >= PHYS_ADDR_LIMIT) {
      throw new KernelBug(`dev_pagemap: bad range ${start}-${end}`);
    }
    if (!(opts.type in MEMORY_TYPE_NAMES)) throw new KernelBug(`dev_pagemap: unknown memory type ${opts.type}`);
    this.type = opts.type;
    this.range = { start, end };
    this.owner = opts.owner ?? null;
    this.ops = opts.ops ?? null;
    this.ownsRef = opts.ref === undefined;
    this.ref = opts.ref ?? new PercpuRef(`dev_pagemap ${formatMemResource(start, end)}`);
    this.pciP2pdmaBusOffset = opts.pciP2pdmaBusOffset ?? 0;
  }

  /** Size in bytes. @kernel range_len */
  get size(): number {
    return this.range.end - this.range.start + 1;
  }

  /** Lifecycle: `new` → `mapped` → `dying` (unmap waiting for references) → `unmapped`. */
  get state(): PagemapState {
    return this.st;
  }

  /** `[mem 0x...-0x...] MEMORY_DEVICE_…`, for messages. */
  describe(): string {
    return `${formatMemResource(this.range.start, this.range.end)} ${MEMORY_TYPE_NAMES[this.type]}`;
  }

  /** @internal state transitions by this module. */
  setState(s: PagemapState): void {
    this.st = s;
  }

  /** @internal whether the pagemap created (and so exits) its own ref. */
  get ownRef(): boolean {
    return this.ownsRef;
  }
}

/** How one kernel generation checks a new pagemap. */
export interface MemremapRules {
  /** The kernel the rules come from. */
  readonly kernel: string;
  /** Granule the range is checked at (bytes). */
  readonly granule: number;
  /**
   * `'round-out'`: the range is widened to whole granules and conflicts are checked on the
   * widened ranges (4.16). `'exact'`: the exact range is checked and must be granule aligned
   * in start and size (6.6 `check_pfn_span`).
   */
  readonly mode: 'round-out' | 'exact';
  /** Whether the conflict warning carries the device prefix (`dev_WARN`) or not (`WARN`). */
  readonly conflictWithDevPrefix: boolean;
  /** The warning for a range touching System RAM. */
  readonly ramMessage: (kind: 'ram' | 'mixed', start: number, end: number) => string;
}

/**
 * The memremap checks per P2PDMA policy (the policy doubles as the kernel generation).
 * @kernel devm_memremap_pages (4.16) / memremap_pages + pagemap_range (6.6)
 */
export const MEMREMAP_RULES: Readonly<Record<P2pdmaPolicy, MemremapRules>> = {
  v2: {
    kernel: '4.16',
    granule: SECTION_SIZE,
    mode: 'round-out',
    conflictWithDevPrefix: true,
    ramMessage: (kind, start, end) => `devm_memremap_pages attempted on ${kind} region ${formatMemResource(start, end, 'flags 0x200')}`,
  },
  upstream: {
    kernel: '6.6',
    granule: SUBSECTION_SIZE,
    mode: 'exact',
    conflictWithDevPrefix: false,
    ramMessage: (kind, start, end) => `attempted on ${kind} region ${hex(start)}-${hex(end)}`,
  },
};

/** The type-specific requirements `memremap_pages` checks (WARN message, -EINVAL). */
const TYPE_REQUIREMENTS: Readonly<Record<MemoryType, readonly { missing: (p: DevPagemap) => boolean; message: string }[]>> = {
  [MEMORY_DEVICE_PRIVATE]: [
    { missing: (p) => p.ops?.migrateToRam === undefined, message: 'Missing migrate_to_ram method' },
    { missing: (p) => p.ops?.pageFree === undefined, message: 'Missing page_free method' },
    { missing: (p) => p.owner === null, message: 'Missing owner' },
  ],
  [MEMORY_DEVICE_COHERENT]: [
    { missing: (p) => p.ops?.pageFree === undefined, message: 'Missing page_free method' },
    { missing: (p) => p.owner === null, message: 'Missing owner' },
  ],
  [MEMORY_DEVICE_FS_DAX]: [],
  [MEMORY_DEVICE_GENERIC]: [],
  [MEMORY_DEVICE_PCI_P2PDMA]: [],
};

/** The range a pagemap claims under the rules (widened to granules for `'round-out'`). */
function claimedRange(rules: MemremapRules, r: PagemapRange): PagemapRange {
  if (rules.mode === 'exact') return r;
  const g = rules.granule;
  return { start: Math.floor(r.start / g) * g, end: Math.ceil((r.end + 1) / g) * g - 1 };
}

/**
 * Gives a device memory range struct pages and maps it into the linear map; devres-managed
 * (torn down with `memunmapPages` when the driver unbinds).
 * @param dev the device whose lifetime bounds the mapping.
 * @param pgmap a new pagemap (state `new`); its `owner` is set to `dev` when `null`.
 * @returns the kernel virtual address of `range.start`, or:
 *   `-ENXIO` without `CONFIG_ZONE_DEVICE` (WARNING logged), or when the (widened) range touches
 *   System RAM (the kernel's "attempted on … region" warning);
 *   `-EINVAL` when a type requirement is missing (its WARN message) or, under `upstream`, when
 *   start or size is not 2 MiB aligned (`Misaligned __add_pages start: … end: …`, pfns);
 *   `-ENOMEM` when the (widened) range overlaps a mapped pagemap (`Conflicting mapping in same
 *   section`), or from fault site `FAULT_DEVM_MEMREMAP_PAGES`.
 *   Nothing is changed on failure.
 * @throws KernelBug when the pagemap was mapped before, or carries an external ref that is not
 *   live.
 * @kernel devm_memremap_pages
 */
export function devmMemremapPages(dev: Device, pgmap: DevPagemap): number | NegErrno {
  const kernel = dev.kernel;
  const log = kernel.log;
  if (pgmap.state !== 'new') throw new KernelBug(`devm_memremap_pages(${dev.name}): pagemap ${pgmap.describe()} was already mapped`);
  if (!pgmap.ownRef && pgmap.ref.isDying()) throw new KernelBug(`devm_memremap_pages(${dev.name}): external ref ${pgmap.ref.name} is not live`);
  if (!pgmap.ownRef && !pgmap.ref.initialized) throw new KernelBug(`devm_memremap_pages(${dev.name}): external ref ${pgmap.ref.name} is not initialized`);
  if (!kernel.config.CONFIG_ZONE_DEVICE) {
    log.printk(KERN_WARNING, 'WARNING: devm_memremap_pages() called without CONFIG_ZONE_DEVICE');
    return err('ENXIO');
  }
  const fail = kernel.faults.shouldFail(FAULT_DEVM_MEMREMAP_PAGES);
  if (fail !== 0) return fail;
  if (pgmap.owner === null) pgmap.owner = dev;
  for (const req of TYPE_REQUIREMENTS[pgmap.type]) {
    if (req.missing(pgmap)) {
      log.printk(KERN_WARNING, req.message);
      return err('EINVAL');
    }
  }
  const rules = MEMREMAP_RULES[kernel.policy];
  const claim = claimedRange(rules, pgmap.range);
  for (const other of kernel.memmap.pagemaps()) {
    const o = claimedRange(rules, other.range);
    if (claim.start <= o.end && o.start <= claim.end) {
      if (rules.conflictWithDevPrefix) log.devWarn(dev, 'Conflicting mapping in same section');
      else log.printk(KERN_WARNING, 'Conflicting mapping in same section');
      return err('ENOMEM');
    }
  }
  const ram = ramOverlap(kernel, claim);
  if (ram !== null) {
    log.printk(KERN_WARNING, rules.ramMessage(ram, pgmap.range.start, pgmap.range.end));
    return err('ENXIO');
  }
  if (rules.mode === 'exact' && (pgmap.range.start % rules.granule !== 0 || pgmap.size % rules.granule !== 0)) {
    const pfn = pgmap.range.start / PAGE_SIZE;
    const last = Math.floor(pgmap.range.end / PAGE_SIZE);
    log.printk(KERN_WARNING, `Misaligned __add_pages start: ${hex(Math.floor(pfn))} end: ${hex(last)}`);
    return err('EINVAL');
  }
  if (pgmap.ownRef) pgmap.ref.init(() => {});
  kernel.memmap.addPagemap(pgmap);
  pgmap.setState('mapped');
  pgmap.mappedBy = dev;
  const action = (): void => memunmapPages(pgmap);
  pgmap.devresAction = action;
  devmAdd(dev, 'devm_memremap_pages_release', action);
  return physToVirt(pgmap.range.start);
}

/**
 * Tears a pagemap down: kills its reference (unless already dying) and, once the count
 * reaches zero, removes its pages and completes `pgmap.done`. Runs synchronously when no
 * reference is held; otherwise the removal happens at the last `put`.
 * @param pgmap a mapped pagemap.
 * @throws KernelBug when the pagemap is not mapped (never mapped, or unmapped twice).
 * @kernel memunmap_pages
 */
export function memunmapPages(pgmap: DevPagemap): void {
  if (pgmap.state !== 'mapped') throw new KernelBug(`memunmap_pages: pagemap ${pgmap.describe()} is ${pgmap.state}, not mapped`);
  const kernel = pgmap.mappedBy!.kernel;
  pgmap.setState('dying');
  pgmap.devresAction = null;
  pgmap.ref.released.onDone(() => {
    kernel.memmap.removePagemap(pgmap);
    pgmap.setState('unmapped');
    if (pgmap.ownRef) pgmap.ref.exit();
    pgmap.done.complete();
  });
  if (!pgmap.ref.isDying()) pgmap.ref.kill();
}

/**
 * Releases a devres-managed pagemap now instead of at unbind.
 * @param dev the device passed to `devmMemremapPages`.
 * @param pgmap the pagemap.
 * @returns `true` when found and released (`false` and a warning otherwise).
 * @kernel devm_memunmap_pages
 */
export function devmMemunmapPages(dev: Device, pgmap: DevPagemap): boolean {
  const action = pgmap.devresAction;
  if (action === null) {
    dev.kernel.log.devWarn(dev, 'WARNING: devm_release_action: action not found');
    return false;
  }
  return devmRelease(dev, action);
}

/**
 * Looks up the live pagemap of a pfn and takes a reference on it.
 * @param kernel the kernel.
 * @param pfn a page frame number.
 * @returns the pagemap (release with `putDevPagemap`), or `null` when the pfn has none or it
 *   is being torn down.
 * @kernel get_dev_pagemap
 */
export function getDevPagemap(kernel: Kernel, pfn: number): DevPagemap | null {
  const pgmap = kernel.memmap.findPagemap(pfn);
  if (pgmap === null || pgmap.state !== 'mapped') return null;
  return pgmap.ref.tryGetLive() ? pgmap : null;
}

/**
 * Drops the reference `getDevPagemap` took.
 * @param pgmap the pagemap.
 * @kernel put_dev_pagemap
 */
export function putDevPagemap(pgmap: DevPagemap): void {
  pgmap.ref.put();
}

/** Whether `r` is entirely System RAM (`'ram'`), partly (`'mixed'`), or not at all (`null`). */
function ramOverlap(kernel: Kernel, r: PagemapRange): 'ram' | 'mixed' | null {
  const len = r.end - r.start + 1;
  if (kernel.memory.isRam(r.start, len)) return 'ram';
  for (const ram of kernel.memory.ramRanges()) {
    if (ram.base <= r.end && r.start < ram.base + ram.size) return 'mixed';
  }
  return null;
}
