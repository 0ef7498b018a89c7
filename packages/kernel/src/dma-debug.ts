/**
 * DMA-API debugging: a registry of every live DMA mapping, checked on every unmap.
 *
 * Each kernel has one (`kernel.dmaDebug`). The mapping functions of `dma-mapping.ts` record an
 * entry per mapping (per DMA segment for scatterlists) and check each unmap against it. A bad
 * unmap (never mapped, or mapped with another size, function, direction, CPU address or entry
 * count) is reported with the kernel's `DMA-API: <driver> <device>: …` warning and, unlike the
 * kernel (which warns and unmaps anyway), refused: the mapping stays live, so a later leak
 * check still sees it. A forgotten `dmaMappingError` check is warned about but does not block.
 *
 * Tracking is always on (the mapping code needs it to undo IOMMU mappings safely); the warnings
 * are printed only with `CONFIG_DMA_API_DEBUG` (the default). Every error is printed (the
 * kernel's `all_errors=1`), not only the first one; `errorCount` counts them all.
 *
 * @kernel kernel/dma/debug.c
 */
import type { Device } from './device';
import { devDriverString, KERN_WARNING } from './log';
import type { KernelLog } from './log';
import { PAGE_SIZE } from './memory';
import { hex } from './vsprintf';

/** The kind of mapping an entry records. */
export type DmaDebugType = 'single' | 'sg' | 'coherent';

/** Entry type → the kernel's name for it in messages (the kernel spells one "scather-gather"). */
export const DMA_DEBUG_TYPE_NAMES: Readonly<Record<DmaDebugType, string>> = {
  single: 'single',
  sg: 'scather-gather',
  coherent: 'coherent',
};

/** Direction value → the kernel's name (indexed by `DmaDirection`). */
const DIR_NAMES: readonly string[] = ['DMA_BIDIRECTIONAL', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE', 'DMA_NONE'];

/** One live mapping. */
export interface DmaDebugEntry {
  /** The mapping device. */
  readonly dev: Device;
  /** How it was mapped. */
  readonly type: DmaDebugType;
  /** The DMA address the device uses. */
  readonly dmaAddress: number;
  /** Bytes mapped. */
  readonly size: number;
  /** The `DmaDirection` it was mapped with. */
  readonly direction: number;
  /** Page frame of the first byte. */
  readonly pfn: number;
  /** Offset into that page. */
  readonly offset: number;
  /** `nents` passed to `dmaMapSg` (0 for other types). */
  readonly sgCallEnts: number;
  /** Entries `dmaMapSg` returned (0 for other types). */
  readonly sgMappedEnts: number;
  /** For `single` mappings: whether `dmaMappingError` was called on the address. */
  mapErrChecked: boolean;
}

/** An unmap request to check: the fields of the entry it should match. */
export interface DmaDebugRef {
  readonly dev: Device;
  readonly type: DmaDebugType;
  readonly dmaAddress: number;
  readonly size: number;
  readonly direction: number;
  readonly sgCallEnts: number;
  /** Physical address of the CPU side (checked for coherent frees). */
  readonly phys: number;
}

/**
 * A kernel's DMA-API debug registry (`kernel.dmaDebug`).
 * @kernel dma_entry_hash
 */
export class DmaDebug {
  private readonly byDev = new Map<Device, Map<number, DmaDebugEntry[]>>();
  private errors = 0;
  private live = 0;
  /** @internal whether the one-time `DMA addr … overflow` warning was printed (dev_WARN_ONCE). */
  overflowWarned = false;

  /**
   * @param log where warnings go.
   * @param enabled whether warnings are printed (`CONFIG_DMA_API_DEBUG`).
   */
  constructor(
    private readonly log: KernelLog,
    readonly enabled: boolean,
  ) {}

  /** Errors found since boot (printed or not). @kernel dma-api/error_count */
  get errorCount(): number {
    return this.errors;
  }

  /**
   * Live mappings, for leak checks.
   * @param dev only this device's; omitted: every device's.
   * @returns copies, in mapping order per device.
   */
  liveMappings(dev?: Device): DmaDebugEntry[] {
    const out: DmaDebugEntry[] = [];
    const devs = dev === undefined ? [...this.byDev.values()] : [this.byDev.get(dev) ?? new Map<number, DmaDebugEntry[]>()];
    for (const m of devs) for (const list of m.values()) for (const e of list) out.push({ ...e });
    return out;
  }

  /** Number of live mappings over all devices. */
  liveCount(): number {
    return this.live;
  }

  /** @internal records a new mapping. */
  add(entry: DmaDebugEntry): void {
    let m = this.byDev.get(entry.dev);
    if (m === undefined) {
      m = new Map();
      this.byDev.set(entry.dev, m);
    }
    const list = m.get(entry.dmaAddress);
    if (list === undefined) m.set(entry.dmaAddress, [entry]);
    else list.push(entry);
    this.live++;
  }

  /** @internal the `sgMappedEnts` of the entry matching `ref`, or 0 (`get_nr_mapped_entries`). */
  mappedEntsOf(ref: DmaDebugRef): number {
    return this.find(ref)?.sgMappedEnts ?? 0;
  }

  /** @internal `dmaMappingError` was called for an address: mark its first unchecked entry. */
  markChecked(dev: Device, dmaAddress: number): void {
    const e = this.byDev.get(dev)?.get(dmaAddress)?.find((x) => !x.mapErrChecked);
    if (e !== undefined) e.mapErrChecked = true;
  }

  /**
   * @internal Checks a batch of unmaps (all entries of one `dmaUnmapSg`, or one unmap). Logs
   * every problem. When none blocks, removes the matched entries and returns `true`; otherwise
   * changes nothing and returns `false`.
   */
  checkUnmap(refs: readonly DmaDebugRef[], isMappingError: (addr: number) => boolean): boolean {
    const matched: DmaDebugEntry[] = [];
    let ok = true;
    for (const ref of refs) {
      const e = this.find(ref);
      if (e === undefined || matched.includes(e)) {
        ok = false;
        if (isMappingError(ref.dmaAddress)) this.report(ref.dev, 'device driver tries to free an invalid DMA memory address');
        else {
          this.report(
            ref.dev,
            `device driver tries to free DMA memory it has not allocated [device address=${hex(ref.dmaAddress, 16)}] [size=${ref.size} bytes]`,
          );
        }
        continue;
      }
      // Formatted only when a problem is reported (not on every good unmap).
      const addr = (): string => hex(ref.dmaAddress, 16);
      const problems: string[] = [];
      if (ref.size !== e.size) {
        problems.push(`device driver frees DMA memory with different size [device address=${addr()}] [map size=${e.size} bytes] [unmap size=${ref.size} bytes]`);
      }
      if (ref.type !== e.type) {
        problems.push(
          `device driver frees DMA memory with wrong function [device address=${addr()}] [size=${ref.size} bytes] [mapped as ${DMA_DEBUG_TYPE_NAMES[e.type]}] [unmapped as ${DMA_DEBUG_TYPE_NAMES[ref.type]}]`,
        );
      } else if (e.type === 'coherent' && ref.phys !== e.pfn * PAGE_SIZE + e.offset) {
        problems.push(
          `device driver frees DMA memory with different CPU address [device address=${addr()}] [size=${ref.size} bytes] [cpu alloc address=${hex(e.pfn * PAGE_SIZE + e.offset, 16)}] [cpu free address=${hex(ref.phys, 16)}]`,
        );
      }
      if (ref.sgCallEnts !== 0 && ref.type === 'sg' && ref.sgCallEnts !== e.sgCallEnts) {
        problems.push(`device driver frees DMA sg list with different entry count [map count=${e.sgCallEnts}] [unmap count=${ref.sgCallEnts}]`);
      }
      if (ref.direction !== e.direction) {
        problems.push(
          `device driver frees DMA memory with different direction [device address=${addr()}] [size=${ref.size} bytes] [mapped with ${DIR_NAMES[e.direction]}] [unmapped with ${DIR_NAMES[ref.direction]}]`,
        );
      }
      for (const p of problems) this.report(ref.dev, p);
      if (problems.length > 0) ok = false;
      matched.push(e);
    }
    if (!ok) return false;
    for (const e of matched) {
      if (e.type === 'single' && !e.mapErrChecked) {
        this.report(
          e.dev,
          `device driver failed to check map error[device address=${hex(e.dmaAddress, 16)}] [size=${e.size} bytes] [mapped as ${DMA_DEBUG_TYPE_NAMES[e.type]}]`,
        );
      }
      this.remove(e);
    }
    return true;
  }

  /**
   * The entry an unmap refers to, matched as the kernel does: same device and address; the
   * entry agreeing on size, type, direction and entry count wins; otherwise the only candidate,
   * if there is exactly one.
   */
  private find(ref: DmaDebugRef): DmaDebugEntry | undefined {
    const list = this.byDev.get(ref.dev)?.get(ref.dmaAddress);
    if (list === undefined) return undefined;
    let best: DmaDebugEntry | undefined;
    let bestLvl = -1;
    for (const e of list) {
      const lvl =
        (e.size === ref.size ? 1 : 0) + (e.type === ref.type ? 1 : 0) + (e.direction === ref.direction ? 1 : 0) + (e.sgCallEnts === ref.sgCallEnts ? 1 : 0);
      if (lvl === 4) return e;
      if (lvl > bestLvl) {
        bestLvl = lvl;
        best = e;
      }
    }
    return list.length === 1 ? best : undefined;
  }

  private remove(e: DmaDebugEntry): void {
    const m = this.byDev.get(e.dev);
    const list = m?.get(e.dmaAddress);
    if (m === undefined || list === undefined) return;
    list.splice(list.indexOf(e), 1);
    if (list.length === 0) m.delete(e.dmaAddress);
    if (m.size === 0) this.byDev.delete(e.dev);
    this.live--;
  }

  private report(dev: Device, msg: string): void {
    this.errors++;
    if (this.enabled) this.log.printk(KERN_WARNING, `DMA-API: ${devDriverString(dev) ?? ''} ${dev.name}: ${msg}`);
  }
}
