/**
 * The fabric router: every device DMA and every CPU access to a BAR is a memory transaction
 * routed hop by hop through the modelled PCIe hierarchy by its address, moving real bytes and
 * counting them on each link, root complex, DRAM and device.
 *
 * Routing (DESIGN section 4):
 * - A request leaves its initiator up its link. On each bus it reaches, a peer that decodes the
 *   address (a BAR, or a bridge window leading down to one) takes it across the switch, unless
 *   the ingress downstream port has ACS P2P Request Redirect set, which sends it to the
 *   switch's upstream port regardless of the address. An address inside the bridge's own
 *   windows that nothing below claims is an Unsupported Request there (a port never sends a
 *   request back out of its ingress link); anything else goes up. Root ports pass everything to
 *   the root complex.
 * - At the root complex, with the IOMMU on, the address is an IOVA translated by the
 *   initiator's IOMMU group domain (no mapping, or no permission for the access: an IOMMU fault
 *   and nothing moves). Without it, the address is a bus address of the initiator's host bridge:
 *   inside that host bridge's bus window it is a BAR there (bus → CPU by the window's offset);
 *   else System RAM; else a CPU address of another host bridge's window; else UR. The resulting
 *   CPU address goes to DRAM, or down to a BAR (peer-to-peer through the root complex, subject
 *   to the host bridges' peer-forwarding profiles: `drop` → `dropped`), or is an Unsupported
 *   Request.
 * - A device addressing its own BAR (or another function of the same device) is served
 *   internally: no link bytes, counted in the device's internal counter.
 * - Transfers crossing a decode boundary are split and each part routed on its own, as TLPs
 *   are. Reads: the request goes to the target and the completion data comes back along the
 *   reverse path; only data bytes are counted (headers and TLP splitting by MPS belong to the
 *   performance model). A failed write still counts the bytes it carried up to the failure point;
 *   a failed read moves no data and leaves the destination untouched.
 *
 * Routes are cached per initiator (and per host bridge below the root complex) over the whole
 * address region in which every decode decision is the same; the caches are dropped when an ACS
 * control register is written or `invalidateRoutes()` is called. IOMMU translation is not cached
 * (it is a binary search per transfer), so mapping changes need no invalidation.
 *
 * Not modelled: ACS Egress Control vectors, Completion Redirect separately from the reverse
 * path, PCI_COMMAND memory/bus-master gating, I/O space routing.
 *
 * @kernel (hardware) PCIe Base Spec routing rules; drivers/pci/p2pdma.c's view of them
 */
import type { Kernel, MmioHandler, PhysRange } from '@p2pdma/kernel';
import { IOMMU_READ, IOMMU_WRITE, KernelBug } from '@p2pdma/kernel';
import { PCI_ACS_RR } from './acs';
import type { PciBus } from './bus';
import { PCI_ACS_CTRL, PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_PCI_BRIDGE, PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM } from './capability';
import type { FabricFaultHit, FabricFaultKind, FabricFaultSpec } from './fabric-fault';
import { FabricFaults } from './fabric-fault';
import type { PciHostBridge } from './host-bridge';
import type { Interval } from './internal/intervals';
import { ExtentCache, IntervalMap } from './internal/intervals';
import { linkCapacityBytesPerSec } from './link';
import type { PciDev } from './pci-dev';
import { pciPhysfn } from './pci-dev';
import { IORESOURCE_MEM, IORESOURCE_UNSET, PCI_BRIDGE_MEM_WINDOW, PCI_BRIDGE_PREF_MEM_WINDOW, PCI_STD_NUM_BARS } from './resource';

/** Hardware completion statuses (not errnos). */
export type TransactionStatus = 'ok' | 'ur' | 'ca' | 'iommu-fault' | 'dropped' | 'poisoned';

/**
 * The outcome of a transaction: `ok`, or the first failure and where it happened: `ur`
 * (Unsupported Request: nothing decodes the address), `ca` (Completer Abort: the target BAR has
 * no backing), `iommu-fault` (no IOMMU mapping or permission), `dropped` (a root complex that
 * does not forward peer-to-peer, or a link that is down), `poisoned` (an injected poisoned TLP).
 */
export type TransactionResult = { status: 'ok' } | { status: Exclude<TransactionStatus, 'ok'>; at: string };

/** Direction of a data transfer, from the initiator's point of view. */
export type DmaDirection = 'read' | 'write';

/** One device DMA as an observer sees it, after it ran. */
export interface FabricTransfer {
  /** The function that issued it. */
  readonly initiator: PciDev;
  /** The address it put on the wire. */
  readonly dmaAddr: number;
  /** Its length in bytes. */
  readonly len: number;
  /** Read or write, from the initiator's point of view. */
  readonly dir: DmaDirection;
  /** What `dmaRead` / `dmaWrite` returned. */
  readonly result: TransactionResult;
  /** System RAM bytes it moved (what it added to `counters().dram` in its direction). */
  readonly dramBytes: number;
}

/**
 * Told about every device DMA after it ran (measurement only: it must not start transfers).
 * @param t the transfer; the object is the observer's to keep.
 */
export type FabricTransferObserver = (t: FabricTransfer) => void;

/** One recorded failure. */
export interface FabricError {
  /** The failure. */
  readonly status: Exclude<TransactionStatus, 'ok'>;
  /** Initiator BDF, or `'cpu'` for CPU MMIO accesses. */
  readonly initiator: string;
  /** The address of the failed part, as issued (DMA/bus address or IOVA; CPU address for the CPU). */
  readonly addr: number;
  /** Bytes in the failed part. */
  readonly len: number;
  /** Read or write. */
  readonly dir: DmaDirection;
  /** Where it failed: a bridge BDF, `root complex pci0000:00`, `iommu group 3`. */
  readonly at: string;
  /** Why, in words. */
  readonly reason: string;
  /** Virtual time (ns). */
  readonly time: number;
}

/** Bytes on a link per direction (`up` = towards the root complex). */
export interface LinkCounters {
  up: number;
  down: number;
}

/** Bytes through one host bridge's root complex. */
export interface RootComplexCounters {
  /** Bytes entering from below (device writes, read completions from targets below). */
  in: number;
  /** Bytes leaving downwards (completions to initiators, writes to BARs, CPU MMIO writes). */
  out: number;
  /** Bytes forwarded peer-to-peer (root port to root port, or across host bridges: counted on both). */
  peerForwarded: number;
  /** CPU MMIO bytes read from BARs below. */
  cpuMmioRead: number;
  /** CPU MMIO bytes written to BARs below. */
  cpuMmioWrite: number;
}

/** Bytes a device served or moved. */
export interface DeviceCounters {
  /** Bytes read from its BARs (by DMA or CPU). */
  barRead: number;
  /** Bytes written to its BARs. */
  barWrite: number;
  /** Bytes it moved to or from its own BARs (or another function of the same device) internally. */
  internal: number;
}

/** A snapshot of every counter. */
export interface FabricCounters {
  /** By link name (the downstream device's function-0 BDF). */
  readonly links: Record<string, LinkCounters>;
  /** By host bridge name (`pci0000:00`). */
  readonly rootComplexes: Record<string, RootComplexCounters>;
  /** DRAM bytes read and written by DMA. */
  readonly dram: { read: number; write: number };
  /** By function BDF (only functions with non-zero counters). */
  readonly devices: Record<string, DeviceCounters>;
  /** Failures recorded so far. */
  readonly errors: number;
}

/** A link and its properties, for the performance model. */
export interface LinkInfo {
  /** Name: the downstream device's function-0 BDF. */
  readonly name: string;
  /** Downstream end (function 0 of the device). */
  readonly downstream: string;
  /** Upstream end (the root port, downstream port or bridge). */
  readonly upstream: string;
  /** Current generation (the lower of both ends when both are known). */
  readonly gen: number | null;
  /** Negotiated width. */
  readonly width: number | null;
  /** Max payload size (the smaller of both ends). */
  readonly mps: number | null;
  /** Raw capacity per direction in bytes/s (`linkCapacityBytesPerSec`), `null` when unknown. */
  readonly capacityBytesPerSec: number | null;
}

/** One hop of a described route. */
export interface RouteHop {
  /** What the hop is. */
  readonly kind: 'device' | 'link' | 'bridge' | 'root-complex' | 'iommu' | 'dram' | 'bar' | 'internal';
  /** Its name (BDF, link name, host bridge, `System RAM`). */
  readonly name: string;
  /** For links: direction of the request. */
  readonly dir?: 'up' | 'down';
  /** Extra detail (translated address, redirect reason). */
  readonly detail?: string;
}

/** The route a transaction would take (no data moves, nothing is counted). */
export interface RouteDescription {
  /** The outcome. */
  readonly status: TransactionStatus;
  /** Where it failed, `null` when ok. */
  readonly at: string | null;
  /** Why it failed, `null` when ok. */
  readonly reason: string | null;
  /** The request's path, initiator first. */
  readonly hops: readonly RouteHop[];
  /** Bytes from the address on that follow the same route. */
  readonly extent: number;
}

class LinkState {
  up = 0;
  down = 0;
  constructor(
    readonly name: string,
    readonly downstream: PciDev,
    readonly upstream: PciDev,
  ) {}
}

class RcState {
  in = 0;
  out = 0;
  peer = 0;
  cpuRead = 0;
  cpuWrite = 0;
  constructor(readonly hb: PciHostBridge) {}
}

class DevState {
  barRead = 0;
  barWrite = 0;
  internal = 0;
}

type Step = { kind: 'link'; link: LinkState; dir: 'up' | 'down' } | { kind: 'rc'; rc: RcState; dir: 'in' | 'out'; peer: boolean };

interface Decode {
  readonly dev: PciDev;
  readonly kind: 'bar' | 'window';
  readonly index: number;
}

interface BarEnd {
  readonly kind: 'bar';
  readonly dev: PciDev;
  readonly bar: number;
  /** Address of the BAR's first byte in the route's address space. */
  readonly base: number;
}
interface FailEnd {
  readonly kind: 'error';
  readonly status: 'ur';
  readonly at: string;
  readonly reason: string;
}

interface UpRoute {
  readonly lo: number;
  readonly hi: number;
  readonly steps: readonly Step[];
  readonly hops: readonly RouteHop[];
  readonly end: BarEnd | (Omit<BarEnd, 'kind'> & { kind: 'internal' }) | { kind: 'rc'; hb: PciHostBridge } | FailEnd;
  /** For an `rc` end: `steps` plus the (non-peer) root complex entry, built on first use. */
  rcSteps?: readonly Step[];
}

interface DownRoute {
  readonly lo: number;
  readonly hi: number;
  readonly steps: readonly Step[];
  readonly hops: readonly RouteHop[];
  readonly end: BarEnd | FailEnd;
}

interface Acc {
  lo: number;
  hi: number;
  steps: Step[];
  hops: RouteHop[];
}

function narrow(acc: Acc, lo: number, hi: number): void {
  if (lo > acc.lo) acc.lo = lo;
  if (hi < acc.hi) acc.hi = hi;
}

function hexAddr(n: number): string {
  return `0x${n.toString(16)}`;
}

/** The result of every successful transaction (shared, never mutated). */
const TRANSACTION_OK: TransactionResult = Object.freeze({ status: 'ok' });

/** The hops of a resolved data transfer (only describeRoute builds them). */
const NO_HOPS: readonly RouteHop[] = Object.freeze([]);

/** Cap on recorded failures (older ones are dropped first; `counters().errors` keeps the total). */
export const FABRIC_ERROR_LOG_CAPACITY = 10_000;

const PORT_NAMES: ReadonlyMap<number, string> = new Map([
  [PCI_EXP_TYPE_ROOT_PORT, 'root port'],
  [PCI_EXP_TYPE_UPSTREAM, 'switch upstream port'],
  [PCI_EXP_TYPE_DOWNSTREAM, 'switch downstream port'],
  [PCI_EXP_TYPE_PCI_BRIDGE, 'PCIe-to-PCI bridge'],
]);

/**
 * One machine's PCIe fabric. Created by enumeration (`sys.fabric`).
 * @kernel — (the hardware below the kernel)
 */
export class Fabric {
  private readonly links = new Map<PciDev, LinkState>();
  private readonly linkByName = new Map<string, LinkState>();
  private readonly rcs = new Map<PciHostBridge, RcState>();
  private readonly devState = new Map<PciDev, DevState>();
  private readonly busDecode = new Map<PciBus, IntervalMap<Decode>>();
  private readonly bridgeWindows = new Map<PciDev, IntervalMap<true>>();
  private readonly ram: IntervalMap<true>;
  private readonly cpuWindows: IntervalMap<{ hb: PciHostBridge; offset: number }>;
  private readonly busWindows = new Map<PciHostBridge, IntervalMap<number>>();
  private readonly upCache = new Map<PciDev, ExtentCache<UpRoute>>();
  private readonly downCache = new Map<PciHostBridge, ExtentCache<DownRoute>>();
  private readonly errs: FabricError[] = [];
  private errorCount = 0;
  private dramRead = 0;
  private dramWrite = 0;
  private observers: FabricTransferObserver[] | null = null;
  private readonly members: ReadonlySet<PciDev>;
  /** Armed fault injection (`null` until the first `injectFault`; see fabric-fault.ts). */
  faults: FabricFaults | null = null;

  /**
   * @param kernel the kernel (memory, IOMMU, clock).
   * @param hostBridges every host bridge with its hierarchy fully assigned.
   * @param devices every function.
   */
  constructor(
    readonly kernel: Kernel,
    readonly hostBridges: readonly PciHostBridge[],
    devices: readonly PciDev[],
  ) {
    this.members = new Set(devices);
    for (const hb of hostBridges) {
      this.rcs.set(hb, new RcState(hb));
      this.downCache.set(hb, new ExtentCache());
      this.busWindows.set(
        hb,
        new IntervalMap(
          hb.windows.map((w) => ({ start: w.res.start - w.offset, end: w.res.end - w.offset + 1, value: w.offset })),
          `host bridge ${hb.name} bus windows`,
        ),
      );
    }
    const ram: PhysRange[] = kernel.memory.ramRanges();
    this.ram = new IntervalMap(
      ram.map((r) => ({ start: r.base, end: r.base + r.size, value: true as const })),
      'System RAM',
    );
    this.cpuWindows = new IntervalMap(
      hostBridges.flatMap((hb) => hb.windows.map((w) => ({ start: w.res.start, end: w.res.end + 1, value: { hb, offset: w.offset } }))),
      'host bridge windows',
    );
    const byBus = new Map<PciBus, PciDev[]>();
    for (const d of devices) {
      const list = byBus.get(d.pciBus);
      if (list) list.push(d);
      else byBus.set(d.pciBus, [d]);
    }
    for (const [bus, devs] of byBus) {
      const hb = bus.hostBridge;
      const items: Interval<Decode>[] = [];
      for (const d of devs) {
        for (let i = 0; i < PCI_STD_NUM_BARS; i++) {
          const r = d.resource[i];
          if (r === undefined || (r.flags & IORESOURCE_MEM) === 0 || r.flags & IORESOURCE_UNSET || r.end === 0) continue;
          const b = hb.cpuToBus(r.start);
          if (b !== null) items.push({ start: b, end: b + (r.end - r.start + 1), value: { dev: d, kind: 'bar', index: i } });
        }
        if (d.subordinate === null) continue;
        const wins: Interval<true>[] = [];
        for (const idx of [PCI_BRIDGE_MEM_WINDOW, PCI_BRIDGE_PREF_MEM_WINDOW]) {
          const r = d.resource[idx]!;
          if (r.flags === 0) continue;
          const b = hb.cpuToBus(r.start);
          if (b === null) continue;
          items.push({ start: b, end: b + (r.end - r.start + 1), value: { dev: d, kind: 'window', index: idx } });
          wins.push({ start: b, end: b + (r.end - r.start + 1), value: true });
        }
        this.bridgeWindows.set(d, new IntervalMap(wins, `windows of ${d.name}`));
      }
      this.busDecode.set(bus, new IntervalMap(items, `bus ${bus.name}`));
    }
    // Links: one per device (slot) on a bus whose upstream bridge is not a switch upstream port.
    for (const d of devices) {
      const bus = d.pciBus;
      const self = bus.self;
      if (bus.parent === null || self === null || self.pcieType === PCI_EXP_TYPE_UPSTREAM) continue;
      const head = linkHead(pciPhysfn(d));
      let link = this.linkByName.get(head.name);
      if (link === undefined) {
        link = new LinkState(head.name, head, self);
        this.linkByName.set(head.name, link);
      }
      this.links.set(d, link);
    }
    for (const d of devices) {
      d.config.onWrite((off, width) => {
        if (d.acsCap !== 0 && off < d.acsCap + PCI_ACS_CTRL + 2 && off + width > d.acsCap + PCI_ACS_CTRL) this.invalidateRoutes();
      });
    }
  }

  /**
   * Arms a fault on a device, a link or an address range (fabric-fault.ts describes the kinds).
   * @param spec the fault.
   * @returns its id for `clearFault`.
   * @throws RangeError naming the field for a bad spec (nothing is armed).
   */
  injectFault(spec: FabricFaultSpec): number {
    this.faults ??= new FabricFaults((d) => this.linkOf(d), new Set(this.linkByName.keys()));
    return this.faults.arm(spec);
  }

  /**
   * Disarms one injected fault, or all of them (a down link comes back up).
   * @param id the id `injectFault` returned; omitted: all.
   * @returns whether something was disarmed.
   */
  clearFault(id?: number): boolean {
    return this.faults?.clear(id) ?? false;
  }

  /** How many transactions each injected fault kind failed (all zero before any was armed). */
  faultCounts(): Record<FabricFaultKind, number> {
    return this.faults?.counts() ?? { 'dma-error': 0, 'link-down': 0, 'unsupported-request': 0 };
  }

  /** Drops every cached route (called on ACS control writes; call it after changing windows). */
  invalidateRoutes(): void {
    for (const c of this.upCache.values()) c.clear();
    for (const c of this.downCache.values()) c.clear();
  }

  /**
   * A device writes `data` at a DMA address.
   * @param initiator the function issuing the DMA.
   * @param dmaAddr the address it puts on the wire (a bus address, or an IOVA with the IOMMU on).
   * @param data the bytes (copied; the caller keeps ownership).
   * @returns `{ status: 'ok' }` or the first failure; failures are recorded in `errors()`.
   * @throws KernelBug for a function of another fabric or an impossible address.
   */
  dmaWrite(initiator: PciDev, dmaAddr: number, data: Uint8Array): TransactionResult {
    if (this.observers === null) return this.transfer(initiator, dmaAddr, data, 'write');
    const before = this.dramWrite;
    const result = this.transfer(initiator, dmaAddr, data, 'write');
    this.notify({ initiator, dmaAddr, len: data.length, dir: 'write', result, dramBytes: this.dramWrite - before });
    return result;
  }

  /**
   * A device reads `out.length` bytes from a DMA address into `out`.
   * @param initiator the function issuing the DMA.
   * @param dmaAddr the address.
   * @param out filled with the data; parts that fail are left untouched.
   * @returns `{ status: 'ok' }` or the first failure.
   * @throws KernelBug for a function of another fabric or an impossible address.
   */
  dmaRead(initiator: PciDev, dmaAddr: number, out: Uint8Array): TransactionResult {
    if (this.observers === null) return this.transfer(initiator, dmaAddr, out, 'read');
    const before = this.dramRead;
    const result = this.transfer(initiator, dmaAddr, out, 'read');
    this.notify({ initiator, dmaAddr, len: out.length, dir: 'read', result, dramBytes: this.dramRead - before });
    return result;
  }

  /**
   * Watches every device DMA (`dmaRead` / `dmaWrite`): each observer is called after the
   * transfer with what it moved. Nothing about the transfer changes; with no observer the data
   * path pays one null check.
   * @param observer the callback (the caller owns it).
   * @returns the function that stops it (idempotent).
   */
  observe(observer: FabricTransferObserver): () => void {
    this.observers = [...(this.observers ?? []), observer];
    let on = true;
    return () => {
      if (!on) return;
      on = false;
      const list = this.observers?.filter((o) => o !== observer) ?? [];
      this.observers = list.length > 0 ? list : null;
    };
  }

  private notify(t: FabricTransfer): void {
    for (const o of this.observers ?? []) o(t);
  }

  /**
   * The route a DMA would take from its first byte (nothing moves, nothing is counted).
   * @param initiator the function.
   * @param dmaAddr the address.
   * @param dir read or write (IOMMU permissions differ; the path is the request's).
   * @returns status, hops, and how many bytes from `dmaAddr` share the route.
   */
  describeRoute(initiator: PciDev, dmaAddr: number, dir: DmaDirection): RouteDescription {
    this.check(initiator, dmaAddr, 1);
    const r = this.resolve(initiator, dmaAddr, Number.MAX_SAFE_INTEGER - dmaAddr, dir);
    const fail = r.fail;
    return {
      status: fail === null ? 'ok' : fail.status,
      at: fail === null ? null : fail.at,
      reason: fail === null ? null : fail.reason,
      hops: r.hops,
      extent: r.len,
    };
  }

  /** Every link with its properties, in device order. */
  linkInfo(): LinkInfo[] {
    return [...this.linkByName.values()].map((l) => {
      const a = l.downstream.link;
      const b = l.upstream.link;
      const min = (x: number | null, y: number | null): number | null => (x === null ? y : y === null ? x : Math.min(x, y));
      const gen = min(a.gen, b.gen);
      const width = min(a.width, b.width);
      return {
        name: l.name,
        downstream: l.downstream.name,
        upstream: l.upstream.name,
        gen,
        width,
        mps: min(a.mps, b.mps),
        capacityBytesPerSec: gen === null || width === null ? null : linkCapacityBytesPerSec(gen, width),
      };
    });
  }

  /**
   * The link a function sits on.
   * @param dev the function.
   * @returns the link's name, or `null` for functions on a root bus or a switch's internal bus.
   */
  linkOf(dev: PciDev): string | null {
    return this.links.get(dev)?.name ?? null;
  }

  /** A snapshot of every counter (a fresh object the caller owns). */
  counters(): FabricCounters {
    const links: Record<string, LinkCounters> = {};
    for (const l of this.linkByName.values()) links[l.name] = { up: l.up, down: l.down };
    const rootComplexes: Record<string, RootComplexCounters> = {};
    for (const rc of this.rcs.values()) {
      rootComplexes[rc.hb.name] = { in: rc.in, out: rc.out, peerForwarded: rc.peer, cpuMmioRead: rc.cpuRead, cpuMmioWrite: rc.cpuWrite };
    }
    const devices: Record<string, DeviceCounters> = {};
    for (const [d, s] of this.devState) devices[d.name] = { barRead: s.barRead, barWrite: s.barWrite, internal: s.internal };
    return { links, rootComplexes, dram: { read: this.dramRead, write: this.dramWrite }, devices, errors: this.errorCount };
  }

  /** Zeroes every counter and forgets recorded failures. */
  resetCounters(): void {
    for (const l of this.linkByName.values()) {
      l.up = 0;
      l.down = 0;
    }
    for (const rc of this.rcs.values()) {
      rc.in = 0;
      rc.out = 0;
      rc.peer = 0;
      rc.cpuRead = 0;
      rc.cpuWrite = 0;
    }
    this.devState.clear();
    this.dramRead = 0;
    this.dramWrite = 0;
    this.errs.length = 0;
    this.errorCount = 0;
  }

  /** Recorded failures, oldest first (a copy). */
  errors(): FabricError[] {
    return this.errs.slice();
  }

  /**
   * The MMIO handler a host bridge window is registered with: CPU loads and stores to BAR CPU
   * addresses travel from the root complex down to the BAR (an address nothing decodes is
   * recorded as UR; reads of it return all-ones, writes are dropped).
   * @param hb the host bridge.
   * @param base the window's CPU base address.
   * @returns the handler (offsets from `base`).
   */
  cpuMmioHandler(hb: PciHostBridge, base: number): MmioHandler {
    return {
      read: (offset, out) => this.cpuAccess(hb, base + offset, out, 'read'),
      write: (offset, data) => this.cpuAccess(hb, base + offset, data, 'write'),
    };
  }

  private check(initiator: PciDev, addr: number, len: number): void {
    if (!this.members.has(initiator)) throw new KernelBug(`fabric: ${initiator.name} is not a function of this fabric`);
    if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(addr + len)) {
      throw new KernelBug(`fabric: DMA address ${addr} (+${len}) from ${initiator.name} is not an address`);
    }
  }

  private state(dev: PciDev): DevState {
    let s = this.devState.get(dev);
    if (s === undefined) {
      s = new DevState();
      this.devState.set(dev, s);
    }
    return s;
  }

  private record(e: Omit<FabricError, 'time'>): void {
    this.errorCount++;
    if (this.errs.length >= FABRIC_ERROR_LOG_CAPACITY) this.errs.shift();
    this.errs.push({ ...e, time: this.kernel.clock.now() });
  }

  private transfer(initiator: PciDev, addr: number, buf: Uint8Array, dir: DmaDirection): TransactionResult {
    this.check(initiator, addr, buf.length);
    if (this.faults !== null) {
      const f = this.faults.beforeDma(initiator, dir);
      if (f !== null) return this.injected(initiator, addr, buf.length, dir, f);
    }
    let first: TransactionResult | null = null;
    let pos = 0;
    while (pos < buf.length) {
      const a = addr + pos;
      // Hops (and their names) are built only when a fault injector may need the target's name.
      const r = this.resolve(initiator, a, buf.length - pos, dir, this.faults !== null);
      const part = r.len === buf.length ? buf : buf.subarray(pos, pos + r.len);
      const f = this.faults === null ? null : this.faults.onRoute(initiator, a, r.len, r.steps, r.hops[r.hops.length - 1]?.name ?? initiator.name);
      const res = f === null ? this.apply(initiator, r, part, dir) : { status: f.status, at: f.at };
      if (res.status !== 'ok') {
        const at = (res as { at: string }).at;
        const reason = f?.reason ?? r.fail?.reason ?? 'the target BAR has no backing (Completer Abort)';
        this.record({ status: res.status, initiator: initiator.name, addr: a, len: r.len, dir, at, reason });
        first ??= res;
      }
      pos += r.len;
    }
    return first ?? TRANSACTION_OK;
  }

  /** Records a transfer failed whole by an injected fault (nothing moves). */
  private injected(initiator: PciDev, addr: number, len: number, dir: DmaDirection, f: FabricFaultHit): TransactionResult {
    this.record({ status: f.status, initiator: initiator.name, addr, len, dir, at: f.at, reason: f.reason });
    return { status: f.status, at: f.at };
  }

  /**
   * Where one part of a transfer goes: steps to count, the target, or the failure. The hops
   * (and their address strings) are built only when `withHops` is set (describeRoute); data
   * transfers get an empty list.
   */
  private resolve(initiator: PciDev, addr: number, maxLen: number, dir: DmaDirection, withHops = true): Resolved {
    const up = this.upRoute(initiator, addr);
    let len = Math.min(maxLen, up.hi - addr);
    const end = up.end;
    if (end.kind === 'internal' || end.kind === 'bar') {
      const target = { dev: end.dev, bar: end.bar, offset: addr - end.base };
      return { len, steps: up.steps, hops: up.hops, target, internal: end.kind === 'internal', dram: null, fail: null };
    }
    if (end.kind === 'error') return { len, steps: up.steps, hops: up.hops, target: null, internal: false, dram: null, fail: end };
    // At the root complex of the initiator's host bridge.
    const hbIn = end.hb;
    const hops: RouteHop[] | null = withHops ? [...up.hops, { kind: 'root-complex', name: hbIn.name }] : null;
    // The steps up to and into the root complex are the same on every call: built once per route.
    let upSteps = up.rcSteps;
    if (upSteps === undefined) {
      upSteps = [...up.steps, { kind: 'rc', rc: this.rcs.get(hbIn)!, dir: 'in', peer: false }];
      up.rcSteps = upSteps;
    }
    let phys: number;
    const group = initiator.iommuGroup;
    if (this.kernel.iommu.enabled && group !== null) {
      const t = group.domain.lookup(addr);
      const at = `iommu group ${group.id}`;
      if (t === null || (t.prot & (dir === 'write' ? IOMMU_WRITE : IOMMU_READ)) === 0) {
        hops?.push({ kind: 'iommu', name: at, detail: 'fault' });
        const reason = t === null ? `no IOMMU mapping for IOVA ${hexAddr(addr)} in domain ${group.domain.id}` : `IOVA ${hexAddr(addr)} is not mapped for ${dir}`;
        return rcFail(len, upSteps, hops, 'iommu-fault', at, reason);
      }
      phys = t.phys;
      len = Math.min(len, t.len);
      hops?.push({ kind: 'iommu', name: at, detail: `${hexAddr(addr)} -> ${hexAddr(phys)}` });
    } else {
      // No translation: a bus address of this host bridge, else RAM, else another host bridge's window.
      const own = this.busWindows.get(hbIn)!.locateShared(addr);
      len = Math.min(len, own.hi - addr);
      if (own.hit !== null) phys = addr + own.hit.value;
      else {
        const inRam = this.ram.locateShared(addr);
        len = Math.min(len, inRam.hi - addr);
        if (inRam.hit !== null) phys = addr;
        else {
          const other = this.cpuWindows.locateShared(addr);
          len = Math.min(len, other.hi - addr);
          if (other.hit === null || other.hit.value.hb === hbIn) {
            return rcFail(len, upSteps, hops, 'ur', `root complex ${hbIn.name}`, `bus address ${hexAddr(addr)} is in no window of ${hbIn.name}, not System RAM, and in no other host bridge's window`);
          }
          phys = addr;
        }
      }
    }
    const ram = this.ram.locateShared(phys);
    len = Math.min(len, ram.hi - phys);
    if (ram.hit !== null) {
      hops?.push({ kind: 'dram', name: 'System RAM', detail: hexAddr(phys) });
      return { len, steps: upSteps, hops: hops ?? NO_HOPS, target: null, internal: false, dram: phys, fail: null };
    }
    const win = this.cpuWindows.locateShared(phys);
    len = Math.min(len, win.hi - phys);
    if (win.hit === null) return rcFail(len, upSteps, hops, 'ur', `root complex ${hbIn.name}`, `CPU address ${hexAddr(phys)} is neither System RAM nor in a host bridge window`);
    const hbT = win.hit.value.hb;
    const dropper = hbIn.peerForwarding === 'drop' ? hbIn : hbT.peerForwarding === 'drop' ? hbT : null;
    if (dropper !== null) return rcFail(len, upSteps, hops, 'dropped', `root complex ${dropper.name}`, `root complex ${dropper.name} does not forward peer-to-peer requests`);
    const down = this.downRoute(hbT, phys);
    len = Math.min(len, down.hi - phys);
    // Peer-to-peer through the root complex: the root complex step counts as forwarded.
    const steps: Step[] = [...up.steps, { kind: 'rc', rc: this.rcs.get(hbIn)!, dir: 'in', peer: true }, { kind: 'rc', rc: this.rcs.get(hbT)!, dir: 'out', peer: hbT !== hbIn }, ...down.steps];
    if (hbT !== hbIn) hops?.push({ kind: 'root-complex', name: hbT.name, detail: 'peer host bridge' });
    hops?.push(...down.hops);
    if (down.end.kind === 'error') return { len, steps, hops: hops ?? NO_HOPS, target: null, internal: false, dram: null, fail: down.end };
    return { len, steps, hops: hops ?? NO_HOPS, target: { dev: down.end.dev, bar: down.end.bar, offset: phys - down.end.base }, internal: false, dram: null, fail: null };
  }

  private apply(initiator: PciDev, r: Resolved, part: Uint8Array, dir: DmaDirection): TransactionResult {
    const n = part.length;
    if (r.fail !== null) {
      // A failed write carried its bytes up to the failure point; a failed read moved no data.
      if (dir === 'write') this.count(r.steps, n, false);
      return { status: r.fail.status, at: r.fail.at };
    }
    if (r.dram !== null) {
      if (dir === 'write') {
        this.kernel.memory.ramWrite(r.dram, part);
        this.dramWrite += n;
      } else {
        this.kernel.memory.ramRead(r.dram, n, part);
        this.dramRead += n;
      }
      this.count(r.steps, n, dir === 'read');
      return { status: 'ok' };
    }
    const t = r.target!;
    const backing = t.dev.barBacking(t.bar);
    if (backing === null) {
      if (dir === 'write') this.count(r.steps, n, false);
      return { status: 'ca', at: t.dev.name };
    }
    if (dir === 'write') backing.write(t.offset, part);
    else backing.read(t.offset, part);
    const s = this.state(t.dev);
    if (dir === 'write') s.barWrite += n;
    else s.barRead += n;
    if (r.internal) this.state(initiator).internal += n;
    else this.count(r.steps, n, dir === 'read');
    return { status: 'ok' };
  }

  private count(steps: readonly Step[], n: number, reverse: boolean): void {
    for (const s of steps) {
      if (s.kind === 'link') {
        if ((s.dir === 'up') !== reverse) s.link.up += n;
        else s.link.down += n;
      } else {
        if ((s.dir === 'in') !== reverse) s.rc.in += n;
        else s.rc.out += n;
        if (s.peer) s.rc.peer += n;
      }
    }
  }

  private upRoute(initiator: PciDev, addr: number): UpRoute {
    let cache = this.upCache.get(initiator);
    if (cache === undefined) {
      cache = new ExtentCache();
      this.upCache.set(initiator, cache);
    }
    const hit = cache.get(addr);
    if (hit !== null) return hit;
    const r = this.computeUp(initiator, addr);
    cache.put(r);
    return r;
  }

  private downRoute(hb: PciHostBridge, phys: number): DownRoute {
    const cache = this.downCache.get(hb)!;
    const hit = cache.get(phys);
    if (hit !== null) return hit;
    const r = this.computeDown(hb, phys);
    cache.put(r);
    return r;
  }

  private sameDevice(a: PciDev, b: PciDev): boolean {
    if (a === b) return true;
    const la = this.links.get(a);
    if (la !== undefined) return la === this.links.get(b);
    const pa = pciPhysfn(a);
    const pb = pciPhysfn(b);
    return pa.pciBus === pb.pciBus && pa.slot === pb.slot;
  }

  private acsRedirects(port: PciDev): boolean {
    return port.acsCap !== 0 && (port.config.read(port.acsCap + PCI_ACS_CTRL, 2) & PCI_ACS_RR) !== 0;
  }

  private computeUp(initiator: PciDev, addr: number): UpRoute {
    const acc: Acc = { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY, steps: [], hops: [{ kind: 'device', name: initiator.name }] };
    // The initiator's own BARs (and those of other functions of the same device) never leave it.
    const own = this.busDecode.get(initiator.pciBus)?.locate(addr);
    if (own !== undefined) {
      narrow(acc, own.lo, own.hi);
      const hit = own.hit?.value;
      if (hit !== undefined && hit.kind === 'bar' && this.sameDevice(initiator, hit.dev)) {
        acc.hops.push({ kind: 'internal', name: `${hit.dev.name} BAR ${hit.index}` });
        return { lo: acc.lo, hi: acc.hi, steps: [], hops: acc.hops, end: { kind: 'internal', dev: hit.dev, bar: hit.index, base: own.lo } };
      }
    }
    let d = initiator;
    for (;;) {
      const bus = d.pciBus;
      if (bus.parent === null || bus.self === null) return { lo: acc.lo, hi: acc.hi, steps: acc.steps, hops: acc.hops, end: { kind: 'rc', hb: bus.hostBridge } };
      const bridge = bus.self;
      const redirect = bridge.pcieType === PCI_EXP_TYPE_UPSTREAM && this.acsRedirects(d);
      if (!redirect) {
        const loc = this.busDecode.get(bus)?.locate(addr);
        if (loc !== undefined) {
          narrow(acc, loc.lo, loc.hi);
          const hit = loc.hit?.value;
          if (hit !== undefined && !(hit.kind === 'window' && hit.dev === d)) {
            this.crossUp(d, acc);
            const end = this.enter(hit, loc.lo, addr, acc);
            return { lo: acc.lo, hi: acc.hi, steps: acc.steps, hops: acc.hops, end };
          }
        }
      }
      this.crossUp(d, acc);
      acc.hops.push({ kind: 'bridge', name: bridge.name, detail: redirect ? `ACS Request Redirect on ${d.name}: sent upstream` : this.portName(bridge) });
      if (!redirect && bridge.pcieType !== PCI_EXP_TYPE_ROOT_PORT) {
        const w = this.bridgeWindows.get(bridge)?.locate(addr);
        if (w !== undefined) {
          narrow(acc, w.lo, w.hi);
          if (w.hit !== null) {
            const end: FailEnd = {
              kind: 'error',
              status: 'ur',
              at: bridge.name,
              reason: `${hexAddr(addr)} is inside the windows of ${bridge.name} but nothing below it decodes it`,
            };
            return { lo: acc.lo, hi: acc.hi, steps: acc.steps, hops: acc.hops, end };
          }
        }
      }
      d = bridge;
    }
  }

  private portName(dev: PciDev): string {
    return (dev.pcieType === null ? null : PORT_NAMES.get(dev.pcieType)) ?? 'bridge';
  }

  private crossUp(d: PciDev, acc: Acc): void {
    const link = this.links.get(d);
    if (link !== undefined) {
      acc.steps.push({ kind: 'link', link, dir: 'up' });
      acc.hops.push({ kind: 'link', name: link.name, dir: 'up' });
    }
  }

  /** Goes from a bus into the device that decoded the address: a BAR, or down through a bridge. */
  private enter(hit: Decode, base: number, addr: number, acc: Acc): BarEnd | FailEnd {
    const link = this.links.get(hit.dev);
    if (link !== undefined) {
      acc.steps.push({ kind: 'link', link, dir: 'down' });
      acc.hops.push({ kind: 'link', name: link.name, dir: 'down' });
    }
    if (hit.kind === 'bar') {
      acc.hops.push({ kind: 'bar', name: `${hit.dev.name} BAR ${hit.index}` });
      return { kind: 'bar', dev: hit.dev, bar: hit.index, base };
    }
    acc.hops.push({ kind: 'bridge', name: hit.dev.name, detail: this.portName(hit.dev) });
    return this.descend(hit.dev.subordinate!, hit.dev.name, addr, acc);
  }

  private descend(bus: PciBus, at: string, addr: number, acc: Acc): BarEnd | FailEnd {
    const loc = this.busDecode.get(bus)?.locate(addr);
    if (loc !== undefined) narrow(acc, loc.lo, loc.hi);
    const hit = loc?.hit?.value;
    if (hit === undefined) return { kind: 'error', status: 'ur', at, reason: `nothing on bus ${bus.name} decodes ${hexAddr(addr)}` };
    return this.enter(hit, loc!.lo, addr, acc);
  }

  private computeDown(hb: PciHostBridge, phys: number): DownRoute {
    const win = this.cpuWindows.locate(phys).hit!;
    const offset = win.value.offset;
    const busAddr = phys - offset;
    const acc: Acc = { lo: win.start - offset, hi: win.end - offset, steps: [], hops: [] };
    const end = this.descend(hb.rootBus, `root complex ${hb.name}`, busAddr, acc);
    const shifted = end.kind === 'bar' ? { ...end, base: end.base + offset } : end;
    return { lo: acc.lo + offset, hi: acc.hi + offset, steps: acc.steps, hops: acc.hops, end: shifted };
  }

  /** Records a failed CPU access part; a failed read returns all-ones. */
  private cpuFail(status: 'ur' | 'ca' | 'dropped', at: string, reason: string, addr: number, part: Uint8Array, dir: DmaDirection): void {
    this.record({ status, initiator: 'cpu', addr, len: part.length, dir, at, reason });
    if (dir === 'read') part.fill(0xff);
  }

  private cpuAccess(hb: PciHostBridge, cpu: number, buf: Uint8Array, dir: DmaDirection): void {
    const rc = this.rcs.get(hb)!;
    let pos = 0;
    while (pos < buf.length) {
      const a = cpu + pos;
      const down = this.downRoute(hb, a);
      const n = Math.min(buf.length - pos, down.hi - a);
      const part = n === buf.length ? buf : buf.subarray(pos, pos + n);
      pos += n;
      if (down.end.kind === 'error') {
        this.cpuFail('ur', down.end.at, down.end.reason, a, part, dir);
        continue;
      }
      const f = this.faults === null ? null : this.faults.onRoute(null, a, n, down.steps, down.end.dev.name);
      if (f !== null) {
        this.cpuFail('dropped', f.at, f.reason, a, part, dir);
        continue;
      }
      const backing = down.end.dev.barBacking(down.end.bar);
      if (backing === null) {
        this.cpuFail('ca', down.end.dev.name, 'the target BAR has no backing (Completer Abort)', a, part, dir);
        continue;
      }
      const offset = a - down.end.base;
      const s = this.state(down.end.dev);
      if (dir === 'write') {
        backing.write(offset, part);
        s.barWrite += n;
        rc.cpuWrite += n;
        rc.out += n;
      } else {
        backing.read(offset, part);
        s.barRead += n;
        rc.cpuRead += n;
        rc.in += n;
      }
      for (const st of down.steps) {
        if (st.kind !== 'link') continue;
        if ((st.dir === 'down') === (dir === 'write')) st.link.down += n;
        else st.link.up += n;
      }
    }
  }
}

interface Resolved {
  readonly len: number;
  /** Steps to count (for a failure: those traversed up to it). */
  readonly steps: readonly Step[];
  readonly hops: readonly RouteHop[];
  readonly target: { dev: PciDev; bar: number; offset: number } | null;
  readonly internal: boolean;
  readonly dram: number | null;
  readonly fail: { status: Exclude<TransactionStatus, 'ok'>; at: string; reason: string } | null;
}

/** A transfer part that fails at or after the root complex (the steps into it are counted). */
function rcFail(len: number, steps: readonly Step[], hops: RouteHop[] | null, status: Exclude<TransactionStatus, 'ok'>, at: string, reason: string): Resolved {
  return { len, steps, hops: hops ?? NO_HOPS, target: null, internal: false, dram: null, fail: { status, at, reason } };
}

/** The function that names a device's link: function 0 of the slot, else its lowest function. */
function linkHead(dev: PciDev): PciDev {
  let best = dev;
  for (const d of dev.pciBus.devices) {
    if (d.isVirtfn || d.slot !== dev.slot) continue;
    if (d.fn < best.fn) best = d;
  }
  return best;
}
