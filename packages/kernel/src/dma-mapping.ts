/**
 * The DMA mapping API: turning pages and scatterlists into addresses a device can DMA to.
 *
 * What a DMA address is depends on the device's DMA ops (`dev.dmaOps`, a table here, not an
 * if-chain):
 * - `'direct'`: the CPU physical address plus `dev.dmaOffset` (0 unless a host bridge
 *   translates), checked against the DMA mask: a mapping the device cannot reach fails (there is
 *   no swiotlb bouncing in the model) with the kernel's one-time `DMA addr … overflow` warning.
 * - `'iommu'`: an IOVA from the device's IOMMU group's domain, mapped to the pages with
 *   read/write permission from the direction. A scatterlist gets one IOVA range for all its
 *   entries, each entry at the next page boundary; entries are then merged into one DMA segment
 *   when an entry starts on a page boundary right after a segment that ended on one, up to
 *   `dev.dmaMaxSegSize` and not across `dev.dmaSegBoundary` (the kernel's `__finalise_sg`), so
 *   `dmaMapSg` may return fewer entries than it was given.
 * - `'virt'`: the kernel virtual address (`page_address + offset`), as software RDMA devices
 *   (rxe, siw) use: their "DMA" is a CPU copy.
 *
 * Every mapping is recorded in `kernel.dmaDebug` and every unmap is checked against it (see
 * `dma-debug.ts`). Mapping a P2PDMA page here gives its CPU-side address (the host-bridge
 * path); mapping to a PCI bus address is the p2pdma layer's job.
 *
 * @kernel kernel/dma/mapping.c, kernel/dma/direct.c, drivers/iommu/dma-iommu.c,
 *   include/linux/dma-direction.h
 */
import { KernelBug } from './bug';
import type { Device, DmaOpsKind } from './device';
import type { KResult, NegErrno } from './errno';
import { err } from './errno';
import { FAULT_DMA_MAP } from './fault-inject';
import type { IommuDomain, IommuProt } from './iommu';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE } from './iommu';
import { PAGE_SIZE, physToVirt, virtToPhys } from './memory';
import type { Page } from './page';
import { pageToPhys, virtToPage } from './page';
import type { Scatterlist, SgTable } from './scatterlist';
import { sgDmaIsBusAddress, sgDmaUnmarkBusAddress, sgPhys } from './scatterlist';
import type { DmaDebugRef } from './dma-debug';
import { hex } from './vsprintf';

/** The device reads and writes the buffer. @kernel DMA_BIDIRECTIONAL */
export const DMA_BIDIRECTIONAL = 0;
/** The device reads the buffer (memory → device). @kernel DMA_TO_DEVICE */
export const DMA_TO_DEVICE = 1;
/** The device writes the buffer (device → memory). @kernel DMA_FROM_DEVICE */
export const DMA_FROM_DEVICE = 2;
/** No direction: invalid for mapping (debugging only). @kernel DMA_NONE */
export const DMA_NONE = 3;

/** A DMA direction. @kernel enum dma_data_direction */
export type DmaDirection = typeof DMA_BIDIRECTIONAL | typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE | typeof DMA_NONE;

/** Direction → the kernel's name. */
export const DMA_DIRECTION_NAMES: Readonly<Record<DmaDirection, string>> = {
  [DMA_BIDIRECTIONAL]: 'DMA_BIDIRECTIONAL',
  [DMA_TO_DEVICE]: 'DMA_TO_DEVICE',
  [DMA_FROM_DEVICE]: 'DMA_FROM_DEVICE',
  [DMA_NONE]: 'DMA_NONE',
};

/**
 * The address a failed `dmaMapPage` returns. The kernel uses `~(dma_addr_t)0`, which a
 * JavaScript number cannot hold exactly; no valid DMA address is negative.
 * @kernel DMA_MAPPING_ERROR
 */
export const DMA_MAPPING_ERROR = -1;

/** IOMMU permissions per direction (the device is cache coherent, as on x86). @kernel dma_info_to_prot */
export const DMA_DIRECTION_PROT: Readonly<Record<DmaDirection, IommuProt>> = {
  [DMA_BIDIRECTIONAL]: IOMMU_CACHE | IOMMU_READ | IOMMU_WRITE,
  [DMA_TO_DEVICE]: IOMMU_CACHE | IOMMU_READ,
  [DMA_FROM_DEVICE]: IOMMU_CACHE | IOMMU_WRITE,
  [DMA_NONE]: 0,
};

/** A coherent allocation: where the CPU sees it and the handle the device uses. */
export interface DmaCoherent {
  /** Kernel virtual address (linear map) of the zeroed buffer. */
  readonly virt: number;
  /** DMA address for the device. */
  readonly dmaHandle: number;
}

/** What one kind of DMA ops does. Internal to this module. */
interface DmaOps {
  mapPhys(dev: Device, phys: number, size: number, dir: DmaDirection): number;
  unmapSingle(dev: Device, dma: number, size: number): void;
  mapSg(dev: Device, sgs: readonly Scatterlist[], dir: DmaDirection): number | NegErrno;
  unmapSg(dev: Device, sgs: readonly Scatterlist[]): void;
  allocCoherent(dev: Device, phys: number, size: number): number;
  freeCoherent(dev: Device, dma: number, size: number): void;
}

function roundUpPage(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

/** Whether the device can address `[addr, addr + size)` (`dma_capable`, no bus limit). */
function dmaCapable(dev: Device, addr: number, size: number): boolean {
  if (addr < 0) return false;
  if (dev.dmaMask >= 64) return true;
  return addr + Math.max(size, 1) - 1 < 2 ** dev.dmaMask;
}

function maskHex(bits: number): string {
  return ((1n << BigInt(Math.min(bits, 64))) - 1n).toString(16);
}

function domainOf(dev: Device): IommuDomain {
  const g = dev.iommuGroup;
  if (g === null) throw new KernelBug(`${dev.name}: DMA ops are 'iommu' but the device is in no IOMMU group`);
  return g.domain;
}

function invalidate(sgs: readonly Scatterlist[]): void {
  for (const s of sgs) {
    s.dmaAddress = DMA_MAPPING_ERROR;
    s.dmaLength = 0;
  }
}

const DIRECT_OPS: DmaOps = {
  mapPhys(dev, phys, size) {
    const dma = phys + dev.dmaOffset;
    if (dmaCapable(dev, dma, size)) return dma;
    const dbg = dev.kernel.dmaDebug;
    if (!dbg.overflowWarned) {
      dbg.overflowWarned = true;
      dev.kernel.log.devWarn(dev, `DMA addr ${hex(Math.max(dma, 0), 16)}+${size} overflow (mask ${maskHex(dev.dmaMask)}, bus limit 0).`);
    }
    return DMA_MAPPING_ERROR;
  },
  unmapSingle() {},
  mapSg(dev, sgs, dir) {
    for (const s of sgs) {
      const dma = this.mapPhys(dev, sgPhys(s), s.length, dir);
      if (dma === DMA_MAPPING_ERROR) {
        invalidate(sgs);
        return err('EIO');
      }
      s.dmaAddress = dma;
      s.dmaLength = s.length;
    }
    return sgs.length;
  },
  unmapSg() {},
  allocCoherent(dev, phys, size) {
    const dma = phys + dev.dmaOffset;
    return dmaCapable(dev, dma, size) ? dma : DMA_MAPPING_ERROR;
  },
  freeCoherent() {},
};

const VIRT_OPS: DmaOps = {
  mapPhys: (_dev, phys) => physToVirt(phys),
  unmapSingle() {},
  mapSg(_dev, sgs) {
    for (const s of sgs) {
      s.dmaAddress = physToVirt(sgPhys(s));
      s.dmaLength = s.length;
    }
    return sgs.length;
  },
  unmapSg() {},
  allocCoherent: (_dev, phys) => physToVirt(phys),
  freeCoherent() {},
};

/** Maps `[phys, phys + size)` into `d` at a fresh IOVA; returns the IOVA of `phys` or the error. */
function iommuMapRange(d: IommuDomain, phys: number, size: number, prot: IommuProt): number {
  const off = phys % PAGE_SIZE;
  const len = roundUpPage(off + size);
  const iova = d.iovaAlloc(len);
  if (iova === 0) return DMA_MAPPING_ERROR;
  if (d.map(iova, phys - off, len, prot) !== 0) {
    d.iovaFree(iova, len);
    return DMA_MAPPING_ERROR;
  }
  return iova + off;
}

/** Undoes `iommuMapRange` for the DMA range `[dma, dma + size)`. */
function iommuUnmapRange(d: IommuDomain, dma: number, size: number): void {
  const off = dma % PAGE_SIZE;
  const len = roundUpPage(off + size);
  d.unmap(dma - off, len);
  d.iovaFree(dma - off, len);
}

const IOMMU_OPS: DmaOps = {
  mapPhys: (dev, phys, size, dir) => iommuMapRange(domainOf(dev), phys, size, DMA_DIRECTION_PROT[dir]),
  unmapSingle: (dev, dma, size) => iommuUnmapRange(domainOf(dev), dma, size),
  mapSg(dev, sgs, dir) {
    const d = domainOf(dev);
    const boundary = dev.dmaSegBoundary + 1;
    // Lay every entry out at the next page boundary of one IOVA range (iommu_dma_map_sg).
    const layout = sgs.map((s) => {
      const phys = sgPhys(s);
      const off = phys % PAGE_SIZE;
      return { base: phys - off, off, len: s.length, ilen: roundUpPage(off + s.length) };
    });
    let total = 0;
    for (let i = 0; i < layout.length; i++) {
      const l = layout[i]!;
      const pad = (boundary - (total % boundary)) % boundary;
      if (i > 0 && pad !== 0 && pad < l.ilen - 1) {
        layout[i - 1]!.ilen += pad;
        total += pad;
      }
      total += l.ilen;
    }
    const iova = d.iovaAlloc(total);
    if (iova === 0) {
      invalidate(sgs);
      return err('ENOMEM');
    }
    const prot = DMA_DIRECTION_PROT[dir];
    let at = iova;
    for (const l of layout) {
      const mapLen = roundUpPage(l.off + l.len);
      if (mapLen > 0 && d.map(at, l.base, mapLen, prot) !== 0) {
        d.unmap(iova, at - iova);
        d.iovaFree(iova, total);
        invalidate(sgs);
        return err('EINVAL');
      }
      at += l.ilen;
    }
    // Fill in DMA segments, merging where the IOVA layout is contiguous (__finalise_sg).
    invalidate(sgs);
    let cur = 0;
    let curLen = 0;
    let count = 0;
    let dma = iova;
    for (let i = 0; i < sgs.length; i++) {
      const l = layout[i]!;
      if (curLen > 0 && l.off === 0 && dma % boundary !== 0 && dev.dmaMaxSegSize - curLen >= l.len) {
        curLen += l.len;
      } else {
        if (i > 0) cur++;
        curLen = l.len;
        count++;
        sgs[cur]!.dmaAddress = dma + l.off;
      }
      sgs[cur]!.dmaLength = curLen;
      dma += l.ilen;
      if (l.len + l.off < l.ilen) curLen = 0;
    }
    return count;
  },
  unmapSg(dev, sgs) {
    // The segments share one IOVA allocation: unmap from the first segment's start to the last
    // segment's end (iommu_dma_unmap_sg); bus-address entries are skipped.
    let start = -1;
    let end = -1;
    for (const s of sgs) {
      if (sgDmaIsBusAddress(s)) {
        sgDmaUnmarkBusAddress(s);
        continue;
      }
      if (s.dmaLength === 0) break;
      if (start < 0) start = s.dmaAddress;
      end = s.dmaAddress + s.dmaLength;
    }
    if (start >= 0) iommuUnmapRange(domainOf(dev), start, end - start);
  },
  allocCoherent: (dev, phys, size) => iommuMapRange(domainOf(dev), phys, size, DMA_DIRECTION_PROT[DMA_BIDIRECTIONAL]),
  freeCoherent: (dev, dma, size) => iommuUnmapRange(domainOf(dev), dma, size),
};

/** DMA ops kind → its implementation. @kernel get_dma_ops */
const DMA_OPS: Readonly<Record<DmaOpsKind, DmaOps>> = { direct: DIRECT_OPS, iommu: IOMMU_OPS, virt: VIRT_OPS };

function checkDir(dir: number, fn: string): asserts dir is DmaDirection {
  if (dir !== DMA_BIDIRECTIONAL && dir !== DMA_TO_DEVICE && dir !== DMA_FROM_DEVICE) {
    throw new KernelBug(`${fn}: invalid DMA direction ${dir} (BUG_ON(!valid_dma_direction(dir)))`);
  }
}

function collect(sgl: Scatterlist, nents: number, fn: string, forMap = false): Scatterlist[] {
  const out: Scatterlist[] = [];
  let s: Scatterlist | null = sgl;
  for (let i = 0; i < nents; i++) {
    if (s === null) throw new KernelBug(`${fn}: list ends after ${i} of ${nents} entries`);
    if (s.page === null) throw new KernelBug(`${fn}: entry ${i} has no page`);
    if (forMap && s.length === 0) throw new KernelBug(`${fn}: entry ${i} has length 0`);
    out.push(s);
    s = s.next;
  }
  return out;
}

function mapSgInternal(dev: Device, sgl: Scatterlist, nents: number, dir: DmaDirection, fn: string): number | NegErrno {
  checkDir(dir, fn);
  if (!Number.isSafeInteger(nents) || nents < 1) return err('EINVAL');
  const sgs = collect(sgl, nents, fn, true);
  if (dev.kernel.faults.shouldFail(FAULT_DMA_MAP) !== 0) {
    invalidate(sgs);
    return err('ENOMEM');
  }
  const r = DMA_OPS[dev.dmaOps].mapSg(dev, sgs, dir);
  if (r <= 0) return r;
  for (let i = 0; i < r; i++) {
    const s = sgs[i]!;
    dev.kernel.dmaDebug.add({
      dev,
      type: 'sg',
      dmaAddress: s.dmaAddress,
      size: s.dmaLength,
      direction: dir,
      pfn: s.page!.pfn,
      offset: s.offset,
      sgCallEnts: nents,
      sgMappedEnts: r,
      mapErrChecked: true,
    });
  }
  return r;
}

/**
 * Maps the first `nents` entries of a scatterlist for DMA by `dev`, filling each entry's
 * `dmaAddress`/`dmaLength`.
 * @param dev the device that will do the DMA.
 * @param sgl the first entry; every used entry needs a page.
 * @param nents entries to map (≥ 1).
 * @param dir the direction (not `DMA_NONE`).
 * @returns the number of DMA segments (≤ `nents` under an IOMMU, which may merge entries; the
 *   DMA fields of entries past it are `DMA_MAPPING_ERROR`/0), or `0` on failure: an address
 *   beyond the DMA mask (`'direct'`), IOVA space exhausted (`'iommu'`), `nents < 1`, or fault
 *   site `FAULT_DMA_MAP`. Unmap with the same `nents` and `dir`.
 * @throws KernelBug for an invalid direction, a list shorter than `nents`, an entry without a
 *   page or with length 0, or `'iommu'` ops on a device in no IOMMU group.
 * @kernel dma_map_sg
 */
export function dmaMapSg(dev: Device, sgl: Scatterlist, nents: number, dir: DmaDirection): number {
  const r = mapSgInternal(dev, sgl, nents, dir, 'dma_map_sg');
  return Math.max(r, 0);
}

/**
 * Unmaps what `dmaMapSg` mapped. Checked by the DMA-API debug registry: an unmap that does not
 * match a live mapping (address, sizes, direction, entry count) is warned about and ignored.
 * @param dev the device passed to `dmaMapSg`.
 * @param sgl the same list.
 * @param nents the `nents` passed to `dmaMapSg` (not its result).
 * @param dir the same direction.
 * @throws KernelBug for an invalid direction or a list shorter than `nents`.
 * @kernel dma_unmap_sg
 */
export function dmaUnmapSg(dev: Device, sgl: Scatterlist, nents: number, dir: DmaDirection): void {
  checkDir(dir, 'dma_unmap_sg');
  const sgs = collect(sgl, nents, 'dma_unmap_sg');
  const dbg = dev.kernel.dmaDebug;
  const refs: DmaDebugRef[] = [];
  let mapped = 0;
  for (let i = 0; i < sgs.length; i++) {
    if (mapped !== 0 && i >= mapped) break;
    const s = sgs[i]!;
    const ref: DmaDebugRef = { dev, type: 'sg', dmaAddress: s.dmaAddress, size: s.dmaLength, direction: dir, sgCallEnts: nents, phys: sgPhys(s) };
    if (i === 0) mapped = dbg.mappedEntsOf(ref);
    refs.push(ref);
  }
  if (!dbg.checkUnmap(refs, (a) => a === DMA_MAPPING_ERROR)) return;
  DMA_OPS[dev.dmaOps].unmapSg(dev, sgs.slice(0, mapped));
}

/**
 * `dmaMapSg` for a table: maps `sgt.origNents` entries and stores the segment count in
 * `sgt.nents`.
 * @param dev the device.
 * @param sgt the table.
 * @param dir the direction.
 * @returns `0`; `-EIO` when an address is beyond the DMA mask, `-ENOMEM` when IOVA space (or
 *   the fault site) fails, `-EINVAL` for anything else. `sgt.nents` is unchanged on failure.
 * @kernel dma_map_sgtable
 */
export function dmaMapSgtable(dev: Device, sgt: SgTable, dir: DmaDirection): KResult {
  const r = mapSgInternal(dev, sgt.sgl, sgt.origNents, dir, 'dma_map_sgtable');
  if (r < 0) return r as NegErrno;
  sgt.nents = r;
  return 0;
}

/**
 * Unmaps a table mapped with `dmaMapSgtable`.
 * @param dev the device.
 * @param sgt the table.
 * @param dir the direction it was mapped with.
 * @kernel dma_unmap_sgtable
 */
export function dmaUnmapSgtable(dev: Device, sgt: SgTable, dir: DmaDirection): void {
  dmaUnmapSg(dev, sgt.sgl, sgt.origNents, dir);
}

/**
 * Maps part of a page for DMA.
 * @param dev the device.
 * @param page the page (RAM or device memory).
 * @param offset offset into the page (may run into following, contiguous pages).
 * @param size bytes (> 0).
 * @param dir the direction (not `DMA_NONE`).
 * @returns the DMA address, or `DMA_MAPPING_ERROR` (beyond the DMA mask, IOVA exhausted, fault
 *   site `FAULT_DMA_MAP`). The caller must test it with `dmaMappingError` (dma-debug warns at
 *   unmap otherwise) and unmap it with `dmaUnmapPage`.
 * @throws KernelBug for an invalid direction or size.
 * @kernel dma_map_page
 */
export function dmaMapPage(dev: Device, page: Page, offset: number, size: number, dir: DmaDirection): number {
  checkDir(dir, 'dma_map_page');
  if (!Number.isSafeInteger(size) || size <= 0 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new KernelBug(`dma_map_page(${dev.name}): bad offset ${offset} or size ${size}`);
  }
  if (dev.kernel.faults.shouldFail(FAULT_DMA_MAP) !== 0) return DMA_MAPPING_ERROR;
  const dma = DMA_OPS[dev.dmaOps].mapPhys(dev, pageToPhys(page) + offset, size, dir);
  if (dma === DMA_MAPPING_ERROR) return dma;
  const pfn = page.pfn + Math.floor(offset / PAGE_SIZE);
  dev.kernel.dmaDebug.add({
    dev,
    type: 'single',
    dmaAddress: dma,
    size,
    direction: dir,
    pfn,
    offset: offset % PAGE_SIZE,
    sgCallEnts: 0,
    sgMappedEnts: 0,
    mapErrChecked: false,
  });
  return dma;
}

/**
 * Unmaps a `dmaMapPage`/`dmaMapSingle` mapping (checked by dma-debug as `dmaUnmapSg` is).
 * @param dev the device.
 * @param addr the DMA address returned.
 * @param size the size mapped.
 * @param dir the direction mapped with.
 * @kernel dma_unmap_page
 */
export function dmaUnmapPage(dev: Device, addr: number, size: number, dir: DmaDirection): void {
  checkDir(dir, 'dma_unmap_page');
  const ref: DmaDebugRef = { dev, type: 'single', dmaAddress: addr, size, direction: dir, sgCallEnts: 0, phys: -1 };
  if (!dev.kernel.dmaDebug.checkUnmap([ref], (a) => a === DMA_MAPPING_ERROR)) return;
  DMA_OPS[dev.dmaOps].unmapSingle(dev, addr, size);
}

/**
 * Maps a linear-map kernel buffer for DMA.
 * @param dev the device.
 * @param virt the buffer's kernel virtual address.
 * @param size bytes.
 * @param dir the direction.
 * @returns as `dmaMapPage`.
 * @throws KernelBug when `virt` has no page.
 * @kernel dma_map_single
 */
export function dmaMapSingle(dev: Device, virt: number, size: number, dir: DmaDirection): number {
  const page = virtToPage(dev.kernel, virt);
  if (page === null) throw new KernelBug(`dma_map_single(${dev.name}): ${virt} has no struct page`);
  return dmaMapPage(dev, page, virtToPhys(virt) % PAGE_SIZE, size, dir);
}

/**
 * Unmaps a `dmaMapSingle` mapping.
 * @param dev the device.
 * @param addr the DMA address.
 * @param size the size.
 * @param dir the direction.
 * @kernel dma_unmap_single
 */
export function dmaUnmapSingle(dev: Device, addr: number, size: number, dir: DmaDirection): void {
  dmaUnmapPage(dev, addr, size, dir);
}

/**
 * Tests a `dmaMapPage` result (and tells dma-debug the driver checked it).
 * @param dev the device.
 * @param addr the returned address.
 * @returns whether the mapping failed.
 * @kernel dma_mapping_error
 */
export function dmaMappingError(dev: Device, addr: number): boolean {
  dev.kernel.dmaDebug.markChecked(dev, addr);
  return addr === DMA_MAPPING_ERROR;
}

/**
 * Allocates zeroed, physically contiguous RAM the CPU and the device can both use, mapped for
 * the device per its DMA ops.
 * @param dev the device.
 * @param size bytes (> 0; whole pages are allocated).
 * @returns the CPU address and DMA handle, or `null` when pages run out, the pages are beyond a
 *   `'direct'` device's mask (no retry from a lower zone in the model), IOVA space runs out, or
 *   fault site `FAULT_DMA_MAP` (or `FAULT_ALLOC_PAGES`) fires. Free with `dmaFreeCoherent`.
 * @throws KernelBug for a size that is not a positive integer.
 * @kernel dma_alloc_coherent
 */
export function dmaAllocCoherent(dev: Device, size: number): DmaCoherent | null {
  if (!Number.isSafeInteger(size) || size <= 0) throw new KernelBug(`dma_alloc_coherent(${dev.name}): bad size ${size}`);
  const kernel = dev.kernel;
  if (kernel.faults.shouldFail(FAULT_DMA_MAP) !== 0) return null;
  const pages = Math.ceil(size / PAGE_SIZE);
  const phys = kernel.memory.allocPages(pages);
  if (phys === null) return null;
  kernel.memory.ramZero(phys, pages * PAGE_SIZE);
  const dma = DMA_OPS[dev.dmaOps].allocCoherent(dev, phys, pages * PAGE_SIZE);
  if (dma === DMA_MAPPING_ERROR) {
    kernel.memory.freePages(phys, pages);
    return null;
  }
  kernel.dmaDebug.add({
    dev,
    type: 'coherent',
    dmaAddress: dma,
    size,
    direction: DMA_BIDIRECTIONAL,
    pfn: phys / PAGE_SIZE,
    offset: 0,
    sgCallEnts: 0,
    sgMappedEnts: 0,
    mapErrChecked: true,
  });
  return { virt: physToVirt(phys), dmaHandle: dma };
}

/**
 * Frees a `dmaAllocCoherent` buffer (checked by dma-debug: size, handle and CPU address must
 * match the allocation, else it is warned about and nothing is freed).
 * @param dev the device.
 * @param size the size allocated.
 * @param virt the CPU address returned.
 * @param dmaHandle the DMA handle returned.
 * @throws KernelBug when `virt` is not a linear-map address.
 * @kernel dma_free_coherent
 */
export function dmaFreeCoherent(dev: Device, size: number, virt: number, dmaHandle: number): void {
  const phys = virtToPhys(virt);
  const ref: DmaDebugRef = { dev, type: 'coherent', dmaAddress: dmaHandle, size, direction: DMA_BIDIRECTIONAL, sgCallEnts: 0, phys };
  if (!dev.kernel.dmaDebug.checkUnmap([ref], (a) => a === DMA_MAPPING_ERROR)) return;
  const pages = Math.ceil(size / PAGE_SIZE);
  DMA_OPS[dev.dmaOps].freeCoherent(dev, dmaHandle, pages * PAGE_SIZE);
  dev.kernel.memory.freePages(phys, pages);
}
