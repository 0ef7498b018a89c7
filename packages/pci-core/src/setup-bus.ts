/**
 * Resource assignment: host bridge windows, BAR addresses and bridge windows.
 *
 * Three address classes, as bridges decode them: I/O, non-prefetchable memory (`mem`: every
 * non-prefetchable BAR and 32-bit prefetchable BARs; a bridge's non-prefetchable window is
 * 32-bit), and 64-bit prefetchable memory (`pref`). Firmware-fixed BARs (`address` in the
 * topology) stay where they are and are reserved; every other BAR is placed at a naturally
 * aligned address. Each bridge's subtree is laid out contiguously, children sorted by alignment
 * (largest first, as `pdev_sort_resources` does), and its windows are the 1 MiB (I/O: 4 KiB)
 * granular hull of what lies below it, so sibling windows never overlap.
 *
 * Host bridge windows: a topology's `memWindow` is used as given (prefetchable BARs are placed
 * from its base, then the rest). A host bridge without one gets windows chosen here: a 32-bit
 * window in the hole below 4 GiB (free of System RAM and other windows, below the x86 APIC/BIOS
 * area at 0xfec00000) for the `mem` class, and a 64-bit window above RAM for the `pref` class,
 * each sized to what the hierarchy needs. I/O space is one 64 KiB port space shared by all host
 * bridges (as on x86), from 0x1000; running out of it is not fatal (the kernel logs
 * `no space for` / `failed to assign` and leaves the BAR unassigned). Memory that does not fit
 * is an error naming the function, the BAR and the window.
 *
 * This is the model's allocator: addresses are valid and kernel-shaped but not the exact ones
 * Linux would pick.
 *
 * @kernel drivers/pci/setup-bus.c (pci_assign_unassigned_root_bus_resources, pbus_size_mem,
 *   __pci_bus_assign_resources, pci_setup_bridge), drivers/pci/setup-res.c (pci_assign_resource)
 */
import type { PhysRange } from '@p2pdma/kernel';
import type { PciBus } from './bus';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_IO_FLAG_BITS,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_IO_BASE,
  PCI_IO_BASE_UPPER16,
  PCI_IO_LIMIT,
  PCI_IO_LIMIT_UPPER16,
  PCI_IO_RANGE_TYPE_32,
  PCI_MEMORY_BASE,
  PCI_MEMORY_LIMIT,
  PCI_PREF_BASE_UPPER32,
  PCI_PREF_LIMIT_UPPER32,
  PCI_PREF_MEMORY_BASE,
  PCI_PREF_MEMORY_LIMIT,
  PCI_PREF_RANGE_TYPE_64,
} from './config-space';
import type { HostBridgeWindow, PciHostBridge } from './host-bridge';
import { alignDown, alignUp } from './internal/align';
import type { PciDev } from './pci-dev';
import type { PciResource } from './resource';
import {
  formatResource,
  IORESOURCE_BUS,
  IORESOURCE_IO,
  IORESOURCE_MEM,
  IORESOURCE_MEM_64,
  IORESOURCE_PREFETCH,
  IORESOURCE_UNSET,
  IORESOURCE_WINDOW,
  PCI_BRIDGE_IO_WINDOW,
  PCI_BRIDGE_MEM_WINDOW,
  PCI_BRIDGE_PREF_MEM_WINDOW,
} from './resource';
import type { HostBridgeSpec } from './topology-spec';

/** Bridge memory window granularity (1 MiB). */
export const PCI_BRIDGE_MEM_GRAN = 1 << 20;
/** Bridge I/O window granularity (4 KiB). */
export const PCI_BRIDGE_IO_GRAN = 1 << 12;
/** First I/O port handed out (the legacy ISA range below is left alone). */
export const PCI_IO_SPACE_START = 0x1000;
/** End (exclusive) of the I/O port space. */
export const PCI_IO_SPACE_END = 0x10000;
/** Lowest address a synthesized 32-bit host bridge window may use. */
export const AUTO_WINDOW32_LOW = 0x8000_0000;
/** End (exclusive) of the synthesized 32-bit window area (x86 IOAPIC/LAPIC/BIOS above). */
export const AUTO_WINDOW32_HIGH = 0xfec0_0000;
/** Granularity and minimum alignment of a synthesized 64-bit host bridge window. */
export const AUTO_WINDOW64_GRAN = 2 ** 30;
const FOUR_GIB = 2 ** 32;

/** One BAR to place. */
export interface BarRequest {
  /** The function. */
  readonly dev: PciDev;
  /** BAR index. */
  readonly bar: number;
  /** Size in bytes (a power of two). */
  readonly size: number;
  /** `IORESOURCE_MEM`/`IORESOURCE_IO` plus `PREFETCH` and `MEM_64`. */
  readonly flags: number;
  /** Firmware-fixed CPU address, or `null`. */
  readonly fixed: number | null;
  /** JSON path of the BAR in the topology, for errors. */
  readonly path: string;
}

/** A host bridge with its topology description. */
export interface HostBridgeAssign {
  /** The host bridge; its `windows` array is filled here. */
  readonly hb: PciHostBridge;
  /** Its description. */
  readonly spec: HostBridgeSpec;
  /** JSON path, for errors. */
  readonly path: string;
}

/** An assignment failure: where (JSON path) and why. */
export interface AssignError {
  readonly path: string;
  readonly message: string;
}

/** A log line the assignment produces, printed later by enumeration in kernel order. */
export interface AssignLogLine {
  /** The function it is about. */
  readonly dev: PciDev;
  /** The message after the device prefix. */
  readonly text: string;
}

/** What resource assignment needs. */
export interface AssignInput {
  readonly hostBridges: readonly HostBridgeAssign[];
  /** BARs by function. */
  readonly bars: ReadonlyMap<PciDev, readonly BarRequest[]>;
  /** JSON path of each function, for errors about bridges. */
  readonly pathOf: (dev: PciDev) => string;
  /** System RAM (windows may not overlap it). */
  readonly ram: readonly PhysRange[];
}

/** Result: errors (nothing usable then) or the assignment log. */
export type AssignResult = { ok: true; log: AssignLogLine[] } | { ok: false; errors: AssignError[] };

type Cls = 'io' | 'mem' | 'pref';

function classOf(flags: number): Cls {
  if (flags & IORESOURCE_IO) return 'io';
  if (flags & IORESOURCE_PREFETCH && flags & IORESOURCE_MEM_64) return 'pref';
  return 'mem';
}

const WINDOW_INDEX: Readonly<Record<Cls, number>> = {
  io: PCI_BRIDGE_IO_WINDOW,
  mem: PCI_BRIDGE_MEM_WINDOW,
  pref: PCI_BRIDGE_PREF_MEM_WINDOW,
};

const WINDOW_FLAGS: Readonly<Record<Cls, number>> = {
  io: IORESOURCE_IO,
  mem: IORESOURCE_MEM,
  pref: IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_MEM_64,
};

function hexAddr(n: number): string {
  return `0x${n.toString(16)}`;
}

function rangeText(start: number, end: number): string {
  return `[${hexAddr(start)}-${hexAddr(end)}]`;
}

interface Cursor {
  cursor: number;
  /** Last usable address (inclusive). */
  end: number;
  /** Sorted reserved ranges (inclusive ends). */
  readonly reserved: ReadonlyArray<{ start: number; end: number }>;
}

class Assigner {
  readonly placed = new Map<BarRequest, number>();
  readonly failedIo: BarRequest[] = [];
  readonly errors: AssignError[] = [];
  private readonly maxAlign = new Map<string, number>();
  private readonly hasContent = new Map<string, boolean>();

  constructor(private readonly input: AssignInput) {}

  barsOf(dev: PciDev): readonly BarRequest[] {
    return this.input.bars.get(dev) ?? [];
  }

  /** Largest alignment of movable BARs of a class below a bus (0: none). */
  subtreeAlign(bus: PciBus, cls: Cls): number {
    const key = `${bus.domain}:${bus.number}:${cls}`;
    const hit = this.maxAlign.get(key);
    if (hit !== undefined) return hit;
    let m = 0;
    for (const dev of bus.devices) {
      for (const b of this.barsOf(dev)) if (b.fixed === null && classOf(b.flags) === cls) m = Math.max(m, b.size);
      if (dev.subordinate !== null) m = Math.max(m, this.subtreeAlign(dev.subordinate, cls));
    }
    this.maxAlign.set(key, m);
    return m;
  }

  /** Whether any BAR (fixed or not) of a class lies below a bus. */
  subtreeHas(bus: PciBus, cls: Cls): boolean {
    const key = `${bus.domain}:${bus.number}:${cls}`;
    const hit = this.hasContent.get(key);
    if (hit !== undefined) return hit;
    let has = false;
    for (const dev of bus.devices) {
      if (this.barsOf(dev).some((b) => classOf(b.flags) === cls)) has = true;
      if (dev.subordinate !== null && this.subtreeHas(dev.subordinate, cls)) has = true;
    }
    this.hasContent.set(key, has);
    return has;
  }

  private fit(c: Cursor, size: number, align: number): number {
    let a = alignUp(c.cursor, align);
    for (const r of c.reserved) {
      if (r.end < a) continue;
      if (a + size - 1 < r.start) break;
      a = alignUp(r.end + 1, align);
    }
    return a;
  }

  /**
   * Lays out the movable BARs of one class below a bus.
   * @returns false when a memory BAR did not fit (error recorded).
   */
  visit(bus: PciBus, cls: Cls, c: Cursor, sink: Map<BarRequest, number>, where: string): boolean {
    const gran = cls === 'io' ? PCI_BRIDGE_IO_GRAN : PCI_BRIDGE_MEM_GRAN;
    type Item = { align: number; bar?: BarRequest; bridge?: PciDev };
    const items: Item[] = [];
    for (const dev of bus.devices) {
      for (const b of this.barsOf(dev)) if (b.fixed === null && classOf(b.flags) === cls) items.push({ align: b.size, bar: b });
    }
    for (const dev of bus.devices) {
      if (dev.subordinate === null) continue;
      const a = this.subtreeAlign(dev.subordinate, cls);
      if (a > 0) items.push({ align: Math.max(a, gran), bridge: dev });
    }
    items.sort((x, y) => y.align - x.align);
    for (const it of items) {
      if (it.bar !== undefined) {
        const b = it.bar;
        const at = this.fit(c, b.size, b.size);
        if (at + b.size - 1 > c.end) {
          if (cls === 'io') {
            this.failedIo.push(b);
            continue;
          }
          this.errors.push({
            path: b.path,
            message: `BAR ${b.bar} of ${b.dev.name} (${hexAddr(b.size)} bytes${b.flags & IORESOURCE_PREFETCH ? ', prefetchable' : ''}) does not fit ${where}`,
          });
          return false;
        }
        sink.set(b, at);
        c.cursor = at + b.size;
      } else if (it.bridge !== undefined) {
        c.cursor = alignUp(c.cursor, gran);
        if (!this.visit(it.bridge.subordinate!, cls, c, sink, where)) return false;
        c.cursor = alignUp(c.cursor, gran);
      }
    }
    return true;
  }

  /** The window hull of a class below a bridge, from placed and fixed BARs. */
  hull(bus: PciBus, cls: Cls): { start: number; end: number } | null {
    const gran = cls === 'io' ? PCI_BRIDGE_IO_GRAN : PCI_BRIDGE_MEM_GRAN;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const dev of bus.devices) {
      for (const b of this.barsOf(dev)) {
        if (classOf(b.flags) !== cls) continue;
        const at = b.fixed ?? this.placed.get(b);
        if (at === undefined) continue;
        lo = Math.min(lo, at);
        hi = Math.max(hi, at + b.size - 1);
      }
      if (dev.subordinate !== null) {
        const w = dev.resource[WINDOW_INDEX[cls]]!;
        if (w.flags !== 0) {
          lo = Math.min(lo, w.start);
          hi = Math.max(hi, w.end);
        }
      }
    }
    if (lo > hi) return null;
    return { start: alignDown(lo, gran), end: alignUp(hi + 1, gran) - 1 };
  }

  /** Post-order: set every bridge's windows below a bus. */
  setWindows(bus: PciBus): void {
    for (const dev of bus.devices) {
      if (dev.subordinate === null) continue;
      this.setWindows(dev.subordinate);
      for (const cls of ['io', 'mem', 'pref'] as const) {
        const h = this.hull(dev.subordinate, cls);
        const r = dev.resource[WINDOW_INDEX[cls]]!;
        if (h === null) {
          r.start = 0;
          r.end = 0;
          r.flags = 0;
        } else {
          r.start = h.start;
          r.end = h.end;
          r.flags = WINDOW_FLAGS[cls];
        }
      }
    }
  }
}

function reservedRanges(a: Assigner, bus: PciBus, out: Array<{ start: number; end: number }>): void {
  for (const dev of bus.devices) {
    for (const b of a.barsOf(dev)) if (b.fixed !== null && classOf(b.flags) !== 'io') out.push({ start: b.fixed, end: b.fixed + b.size - 1 });
    if (dev.subordinate !== null) reservedRanges(a, dev.subordinate, out);
  }
}

function fixedBar(a: Assigner, bus: PciBus): BarRequest | null {
  for (const dev of bus.devices) {
    const f = a.barsOf(dev).find((b) => b.fixed !== null && classOf(b.flags) !== 'io');
    if (f !== undefined) return f;
    if (dev.subordinate !== null) {
      const g = fixedBar(a, dev.subordinate);
      if (g !== null) return g;
    }
  }
  return null;
}

function overlaps(x: { start: number; end: number }, y: { start: number; end: number }): boolean {
  return x.start <= y.end && y.start <= x.end;
}

/** Dry-run layout: size and alignment a class needs below a host bridge. */
function need(a: Assigner, root: PciBus, cls: Cls): { size: number; align: number } {
  const align = Math.max(a.subtreeAlign(root, cls), PCI_BRIDGE_MEM_GRAN);
  if (a.subtreeAlign(root, cls) === 0) return { size: 0, align };
  const c: Cursor = { cursor: 0, end: Number.POSITIVE_INFINITY, reserved: [] };
  a.visit(root, cls, c, new Map(), 'the host bridge');
  return { size: alignUp(c.cursor, PCI_BRIDGE_MEM_GRAN), align };
}

function window(start: number, size: number, offset: number, synthesized: boolean): HostBridgeWindow {
  return { res: { start, end: start + size - 1, flags: IORESOURCE_MEM | IORESOURCE_WINDOW }, offset, synthesized };
}

/**
 * Assigns host bridge windows, BARs and bridge windows, writes them to the functions' config
 * space (bus addresses), and returns the kernel's assignment log lines.
 * @param input host bridges, BAR requests, RAM.
 * @returns the log, or every error found (the caller then discards the half-built model).
 * @kernel pci_assign_unassigned_root_bus_resources
 */
export function pciAssignResources(input: AssignInput): AssignResult {
  const a = new Assigner(input);
  const windowsTaken: Array<{ start: number; end: number }> = [];
  for (const h of input.hostBridges) {
    const w = h.spec.memWindow;
    if (w !== undefined) windowsTaken.push({ start: w.cpuBase, end: w.cpuBase + w.size - 1 });
  }
  for (const r of input.ram) windowsTaken.push({ start: r.base, end: r.base + r.size - 1 });
  let next64 = Math.max(FOUR_GIB, ...windowsTaken.map((r) => r.end + 1));

  // 1. Host bridge windows and regions per class.
  const regions = new Map<PciHostBridge, { mem: Cursor | null; pref: Cursor | null; shared: boolean; label: string }>();
  for (const h of input.hostBridges) {
    const hb = h.hb;
    const windows = hb.windows as HostBridgeWindow[];
    const mw = h.spec.memWindow;
    if (mw !== undefined) {
      for (const r of input.ram) {
        if (overlaps({ start: mw.cpuBase, end: mw.cpuBase + mw.size - 1 }, { start: r.base, end: r.base + r.size - 1 })) {
          a.errors.push({
            path: `${h.path}.memWindow`,
            message: `memory window ${rangeText(mw.cpuBase, mw.cpuBase + mw.size - 1)} of host bridge ${hb.name} overlaps the kernel's System RAM ${rangeText(r.base, r.base + r.size - 1)} (build the kernel with kernelOptionsForTopology(spec))`,
          });
        }
      }
      windows.push(window(mw.cpuBase, mw.size, mw.busOffset ?? 0, false));
      const reserved: Array<{ start: number; end: number }> = [];
      reservedRanges(a, hb.rootBus, reserved);
      reserved.sort((x, y) => x.start - y.start);
      const end = mw.cpuBase + mw.size - 1;
      const label = `the memory window ${rangeText(mw.cpuBase, end)} of host bridge ${hb.name}`;
      regions.set(hb, { mem: { cursor: mw.cpuBase, end, reserved }, pref: { cursor: mw.cpuBase, end, reserved }, shared: true, label });
      continue;
    }
    const fixed = fixedBar(a, hb.rootBus);
    if (fixed !== null) {
      a.errors.push({
        path: `${fixed.path}.address`,
        message: `BAR ${fixed.bar} of ${fixed.dev.name} has a fixed address, but its host bridge ${hb.name} has no memWindow to check it against (give ${h.path} a memWindow)`,
      });
      continue;
    }
    const n32 = need(a, hb.rootBus, 'mem');
    const n64 = need(a, hb.rootBus, 'pref');
    let mem: Cursor | null = null;
    let pref: Cursor | null = null;
    if (n32.size > 0) {
      const at = findFree32(windowsTaken, n32.size, n32.align);
      if (at === null) {
        a.errors.push({
          path: h.path,
          message: `no room below 4 GiB for the ${n32.size / PCI_BRIDGE_MEM_GRAN} MiB 32-bit memory window host bridge ${hb.name} needs (System RAM and other windows fill [${hexAddr(AUTO_WINDOW32_LOW)}-${hexAddr(AUTO_WINDOW32_HIGH - 1)}]); give it a memWindow`,
        });
        continue;
      }
      windowsTaken.push({ start: at, end: at + n32.size - 1 });
      windows.push(window(at, n32.size, 0, true));
      mem = { cursor: at, end: at + n32.size - 1, reserved: [] };
    }
    if (n64.size > 0) {
      const align = Math.max(n64.align, AUTO_WINDOW64_GRAN);
      const size = alignUp(n64.size, AUTO_WINDOW64_GRAN);
      const at = alignUp(next64, align);
      next64 = at + size;
      windows.push(window(at, size, 0, true));
      pref = { cursor: at, end: at + size - 1, reserved: [] };
    }
    windows.sort((x, y) => x.res.start - y.res.start);
    regions.set(hb, { mem, pref, shared: false, label: `the memory window of host bridge ${hb.name}` });
  }
  if (a.errors.length > 0) return { ok: false, errors: a.errors };

  // 2. Memory BARs: prefetchable first (large aligned BARs at the window base), then the rest.
  for (const h of input.hostBridges) {
    const reg = regions.get(h.hb)!;
    if (reg.pref !== null && !a.visit(h.hb.rootBus, 'pref', reg.pref, a.placed, reg.label)) continue;
    if (reg.mem !== null) {
      if (reg.shared && reg.pref !== null) reg.mem.cursor = alignUp(reg.pref.cursor, PCI_BRIDGE_MEM_GRAN);
      a.visit(h.hb.rootBus, 'mem', reg.mem, a.placed, reg.label);
    }
  }
  if (a.errors.length > 0) return { ok: false, errors: a.errors };

  // 3. I/O space, shared by every host bridge.
  const io: Cursor = { cursor: PCI_IO_SPACE_START, end: PCI_IO_SPACE_END - 1, reserved: [] };
  for (const h of input.hostBridges) a.visit(h.hb.rootBus, 'io', io, a.placed, 'the I/O port space');

  // 4. Resources and bridge windows.
  for (const [dev, bars] of input.bars) {
    for (const b of bars) {
      const r = dev.resource[b.bar]!;
      const at = b.fixed ?? a.placed.get(b);
      if (at === undefined) {
        r.start = 0;
        r.end = b.size - 1;
        r.flags = b.flags | IORESOURCE_UNSET;
      } else {
        r.start = at;
        r.end = at + b.size - 1;
        r.flags = b.flags;
      }
    }
  }
  for (const h of input.hostBridges) a.setWindows(h.hb.rootBus);

  // 5. Checks: windows inside the host bridge, siblings disjoint, 32-bit limits.
  for (const h of input.hostBridges) checkBus(a, input, h.hb.rootBus, h.hb);
  if (a.errors.length > 0) return { ok: false, errors: a.errors };

  // 6. Program config space, then the log in kernel order.
  for (const h of input.hostBridges) programBus(a, h.hb.rootBus, h.hb);
  const log: AssignLogLine[] = [];
  for (const h of input.hostBridges) logBus(a, h.hb.rootBus, log);
  return { ok: true, log };
}

function findFree32(taken: ReadonlyArray<{ start: number; end: number }>, size: number, align: number): number | null {
  const sorted = [...taken].sort((x, y) => x.start - y.start);
  let at = alignUp(AUTO_WINDOW32_LOW, align);
  for (const r of sorted) {
    if (r.end < at) continue;
    if (at + size - 1 < r.start) break;
    at = alignUp(r.end + 1, align);
  }
  return at + size <= AUTO_WINDOW32_HIGH ? at : null;
}

interface Span {
  start: number;
  end: number;
  what: string;
  path: string;
}

function checkBus(a: Assigner, input: AssignInput, bus: PciBus, hb: PciHostBridge): void {
  const spans: Span[] = [];
  for (const dev of bus.devices) {
    for (const b of a.barsOf(dev)) {
      const r = dev.resource[b.bar]!;
      if (classOf(b.flags) === 'io' || r.flags & IORESOURCE_UNSET) continue;
      spans.push({ start: r.start, end: r.end, what: `BAR ${b.bar} of ${dev.name} ${rangeText(r.start, r.end)}`, path: b.path });
      if (!(b.flags & IORESOURCE_MEM_64) && r.end >= FOUR_GIB) {
        a.errors.push({ path: b.path, message: `32-bit BAR ${b.bar} of ${dev.name} cannot be placed at ${rangeText(r.start, r.end)}, above 4 GiB` });
      }
    }
    if (dev.subordinate === null) continue;
    for (const cls of ['mem', 'pref'] as const) {
      const w = dev.resource[WINDOW_INDEX[cls]]!;
      if (w.flags === 0) continue;
      const what = `the ${cls === 'pref' ? 'prefetchable ' : ''}memory window ${rangeText(w.start, w.end)} of bridge ${dev.name}`;
      spans.push({ start: w.start, end: w.end, what, path: input.pathOf(dev) });
      if (cls === 'mem' && w.end >= FOUR_GIB) {
        a.errors.push({ path: input.pathOf(dev), message: `${what} must lie below 4 GiB (a bridge's non-prefetchable window is 32-bit)` });
      }
      if (bus.parent === null && !hb.windows.some((hw) => w.start >= hw.res.start && w.end <= hw.res.end)) {
        a.errors.push({ path: input.pathOf(dev), message: `${what} does not fit the memory windows of host bridge ${hb.name}` });
      }
    }
    checkBus(a, input, dev.subordinate, hb);
  }
  spans.sort((x, y) => x.start - y.start);
  for (let i = 1; i < spans.length; i++) {
    const p = spans[i - 1]!;
    const s = spans[i]!;
    if (s.start <= p.end) a.errors.push({ path: s.path, message: `${s.what} overlaps ${p.what} on bus ${bus.name}` });
  }
}

function programBus(a: Assigner, bus: PciBus, hb: PciHostBridge): void {
  const toBus = (cpu: number): number => hb.cpuToBus(cpu) ?? cpu;
  for (const dev of bus.devices) {
    const cfg = dev.config;
    for (const b of a.barsOf(dev)) {
      const r = dev.resource[b.bar]!;
      const reg = PCI_BASE_ADDRESS_0 + 4 * b.bar;
      const assigned = !(r.flags & IORESOURCE_UNSET);
      if (b.flags & IORESOURCE_IO) {
        cfg.init32(reg, ((assigned ? r.start : 0) & ~PCI_BASE_ADDRESS_IO_FLAG_BITS) | PCI_BASE_ADDRESS_SPACE_IO);
        continue;
      }
      const addr = assigned ? toBus(r.start) : 0;
      let low = addr % FOUR_GIB;
      if (b.flags & IORESOURCE_MEM_64) low |= PCI_BASE_ADDRESS_MEM_TYPE_64;
      if (b.flags & IORESOURCE_PREFETCH) low |= PCI_BASE_ADDRESS_MEM_PREFETCH;
      cfg.init32(reg, low);
      if (b.flags & IORESOURCE_MEM_64) cfg.init32(reg + 4, Math.floor(addr / FOUR_GIB));
    }
    if (dev.subordinate === null) continue;
    const io = dev.resource[PCI_BRIDGE_IO_WINDOW]!;
    if (io.flags !== 0) {
      cfg.init8(PCI_IO_BASE, ((io.start >> 8) & 0xf0) | PCI_IO_RANGE_TYPE_32);
      cfg.init8(PCI_IO_LIMIT, ((io.end >> 8) & 0xf0) | PCI_IO_RANGE_TYPE_32);
      cfg.init16(PCI_IO_BASE_UPPER16, io.start >>> 16);
      cfg.init16(PCI_IO_LIMIT_UPPER16, io.end >>> 16);
    } else {
      cfg.init8(PCI_IO_BASE, 0xf0 | PCI_IO_RANGE_TYPE_32);
      cfg.init8(PCI_IO_LIMIT, PCI_IO_RANGE_TYPE_32);
    }
    const mem = dev.resource[PCI_BRIDGE_MEM_WINDOW]!;
    if (mem.flags !== 0) {
      cfg.init16(PCI_MEMORY_BASE, (toBus(mem.start) >>> 16) & 0xfff0);
      cfg.init16(PCI_MEMORY_LIMIT, (toBus(mem.end) >>> 16) & 0xfff0);
    } else {
      cfg.init16(PCI_MEMORY_BASE, 0xfff0);
      cfg.init16(PCI_MEMORY_LIMIT, 0);
    }
    const pref = dev.resource[PCI_BRIDGE_PREF_MEM_WINDOW]!;
    if (pref.flags !== 0) {
      const s = toBus(pref.start);
      const e = toBus(pref.end);
      cfg.init16(PCI_PREF_MEMORY_BASE, (Math.floor(s / 0x10000) & 0xfff0) | PCI_PREF_RANGE_TYPE_64);
      cfg.init16(PCI_PREF_MEMORY_LIMIT, (Math.floor(e / 0x10000) & 0xfff0) | PCI_PREF_RANGE_TYPE_64);
      cfg.init32(PCI_PREF_BASE_UPPER32, Math.floor(s / FOUR_GIB));
      cfg.init32(PCI_PREF_LIMIT_UPPER32, Math.floor(e / FOUR_GIB));
    } else {
      cfg.init16(PCI_PREF_MEMORY_BASE, 0xfff0 | PCI_PREF_RANGE_TYPE_64);
      cfg.init16(PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_TYPE_64);
    }
    programBus(a, dev.subordinate, hb);
  }
}

function logBus(a: Assigner, bus: PciBus, log: AssignLogLine[]): void {
  type Entry = { dev: PciDev; index: number; res: PciResource; failed: boolean; order: number };
  const entries: Entry[] = [];
  let order = 0;
  for (const dev of bus.devices) {
    for (const b of a.barsOf(dev)) {
      if (b.fixed !== null) continue;
      const r = dev.resource[b.bar]!;
      entries.push({ dev, index: b.bar, res: r, failed: (r.flags & IORESOURCE_UNSET) !== 0, order: order++ });
    }
    if (dev.subordinate === null) continue;
    for (const idx of [PCI_BRIDGE_MEM_WINDOW, PCI_BRIDGE_PREF_MEM_WINDOW, PCI_BRIDGE_IO_WINDOW]) {
      const r = dev.resource[idx]!;
      if (r.flags !== 0) entries.push({ dev, index: idx, res: r, failed: false, order: order++ });
    }
  }
  const size = (e: Entry): number => e.res.end - e.res.start + 1;
  entries.sort((x, y) => size(y) - size(x) || x.order - y.order);
  for (const e of entries) {
    if (e.failed) {
      log.push({ dev: e.dev, text: `BAR ${e.index}: no space for ${formatResource(e.res)}` });
      log.push({ dev: e.dev, text: `BAR ${e.index}: failed to assign ${formatResource(e.res)}` });
    } else {
      log.push({ dev: e.dev, text: `BAR ${e.index}: assigned ${formatResource(e.res)}` });
    }
  }
  for (const dev of bus.devices) {
    if (dev.subordinate === null) continue;
    logBus(a, dev.subordinate, log);
    const sub = dev.subordinate;
    log.push({ dev, text: `PCI bridge to ${formatResource({ start: sub.number, end: sub.subordinate, flags: IORESOURCE_BUS })}` });
    for (const idx of [PCI_BRIDGE_IO_WINDOW, PCI_BRIDGE_MEM_WINDOW, PCI_BRIDGE_PREF_MEM_WINDOW]) {
      const r = dev.resource[idx]!;
      if (r.flags !== 0) log.push({ dev, text: `  bridge window ${formatResource(r)}` });
    }
  }
}
