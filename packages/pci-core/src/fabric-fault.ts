/**
 * Fault injection on the PCIe fabric, per device and per link: what a test arms to see how the
 * stack above reacts to hardware failing underneath it.
 *
 * Kinds (`FABRIC_FAULT_KINDS`, one row each):
 * - `dma-error`: a chosen device's DMA requests fail (`poisoned` by default: the request or its
 *   completion carries a poisoned TLP and the data is discarded; or `ca`/`ur`). Nothing moves.
 * - `link-down`: a link's traffic is dropped. Every transfer routed over it fails `dropped` at
 *   the link, devices below it are unreachable: their own DMA is dropped, CPU MMIO reads of BARs
 *   below return all-ones (~0) and writes are lost, and `pci_read_config_*` returns all-ones
 *   (`pci_write_config_*` returns `PCIBIOS_DEVICE_NOT_FOUND`), as for a disconnected device.
 * - `unsupported-request`: DMA touching a chosen bus-address range (optionally only from one
 *   initiator) completes with Unsupported Request at its target.
 *
 * Faults are armed with `fabric.injectFault(spec)` (an id comes back), disarmed with
 * `fabric.clearFault(id)` / `fabric.clearFaults()`, and counted per kind
 * (`fabric.faultCounts()`), like `kernel.faults`. Everything is deterministic: a `dma-error`
 * fires on the `nth` matching transfer after arming and for `times` transfers.
 *
 * @kernel (hardware) PCIe poisoned TLPs, Unsupported Request / Completer Abort completions, link
 *   down (Data Link Layer Link Active cleared); drivers/pci/pci.h pci_dev_is_disconnected,
 *   include/linux/pci.h PCI_ERROR_RESPONSE
 */
import type { PciDev } from './pci-dev';

/** A device's DMA fails. @kernel (hardware) poisoned TLP / UR / CA completion for a device's requests */
export const FABRIC_FAULT_DMA_ERROR = 'dma-error';
/** A link goes down: traffic over it is dropped, devices below are unreachable. @kernel (hardware) link down; pci_dev_is_disconnected */
export const FABRIC_FAULT_LINK_DOWN = 'link-down';
/** DMA to a bus-address range completes with Unsupported Request. @kernel (hardware) PCI_STATUS_REC_MASTER_ABORT on UR */
export const FABRIC_FAULT_UR = 'unsupported-request';

/** A fabric fault kind. */
export type FabricFaultKind = typeof FABRIC_FAULT_DMA_ERROR | typeof FABRIC_FAULT_LINK_DOWN | typeof FABRIC_FAULT_UR;

/** One row of `FABRIC_FAULT_KINDS`. */
export interface FabricFaultKindInfo {
  /** The kind. */
  readonly kind: FabricFaultKind;
  /** What it is armed on. */
  readonly on: 'device' | 'link' | 'address';
  /** The transaction status a failed DMA reports by default. */
  readonly status: 'poisoned' | 'dropped' | 'ur';
  /** The hardware behaviour it models. */
  readonly models: string;
}

/** Every fabric fault kind, as data. */
export const FABRIC_FAULT_KINDS: readonly FabricFaultKindInfo[] = [
  { kind: FABRIC_FAULT_DMA_ERROR, on: 'device', status: 'poisoned', models: "the device's DMA requests fail (poisoned TLP, or a UR/CA completion); no data moves" },
  { kind: FABRIC_FAULT_LINK_DOWN, on: 'link', status: 'dropped', models: 'the link is down: traffic over it is dropped, config and MMIO reads below it return all-ones' },
  { kind: FABRIC_FAULT_UR, on: 'address', status: 'ur', models: 'DMA to the address range completes with Unsupported Request' },
];

/** Statuses a `dma-error` fault can report. */
export type FabricDmaErrorStatus = 'poisoned' | 'ca' | 'ur';

/** What `fabric.injectFault` arms. */
export type FabricFaultSpec =
  | {
      readonly kind: typeof FABRIC_FAULT_DMA_ERROR;
      /** The device whose DMA fails. */
      readonly device: PciDev;
      /** Status reported (default `poisoned`). */
      readonly status?: FabricDmaErrorStatus;
      /** Only reads or only writes (default both). */
      readonly dir?: 'read' | 'write';
      /** Which matching transfer after arming fails first (default 1: the next). */
      readonly nth?: number;
      /** How many consecutive matching transfers fail (default `Infinity`). */
      readonly times?: number;
    }
  | {
      readonly kind: typeof FABRIC_FAULT_LINK_DOWN;
      /** The link's name (`fabric.linkOf(dev)` / `fabric.linkInfo()`). */
      readonly link: string;
    }
  | {
      readonly kind: typeof FABRIC_FAULT_UR;
      /** First DMA (bus or IOVA) address of the range. */
      readonly addr: number;
      /** Length of the range in bytes. */
      readonly len: number;
      /** Only DMA from this initiator (default any). */
      readonly initiator?: PciDev;
    };

/** A fault that fired on one transfer. */
export interface FabricFaultHit {
  /** The kind. */
  readonly kind: FabricFaultKind;
  /** The status to report. */
  readonly status: 'poisoned' | 'ca' | 'ur' | 'dropped';
  /** Where it happened (device or link name). */
  readonly at: string;
  /** Why (recorded in `fabric.errors()`). */
  readonly reason: string;
}

interface DmaErrorArm {
  readonly id: number;
  readonly kind: typeof FABRIC_FAULT_DMA_ERROR;
  readonly device: PciDev;
  readonly status: FabricDmaErrorStatus;
  readonly dir: 'read' | 'write' | null;
  countdown: number;
  remaining: number;
}
interface LinkDownArm {
  readonly id: number;
  readonly kind: typeof FABRIC_FAULT_LINK_DOWN;
  readonly link: string;
}
interface UrArm {
  readonly id: number;
  readonly kind: typeof FABRIC_FAULT_UR;
  readonly lo: number;
  readonly hi: number;
  readonly initiator: PciDev | null;
}
type Arm = DmaErrorArm | LinkDownArm | UrArm;

/** A route step as the fabric keeps it (only links matter here). */
interface StepLike {
  readonly kind: string;
  readonly link?: { readonly name: string };
}

const DMA_ERROR_REASON: Readonly<Record<FabricDmaErrorStatus, string>> = {
  poisoned: 'poisoned TLP',
  ca: 'Completer Abort',
  ur: 'Unsupported Request',
};

/**
 * The armed faults of one fabric (`fabric.faults`, created by the first `injectFault`).
 * @kernel — (the hardware below the kernel)
 */
export class FabricFaults {
  private readonly arms = new Map<number, Arm>();
  private readonly down = new Set<string>();
  private readonly fired = new Map<FabricFaultKind, number>();
  private nextId = 1;

  /**
   * @param linkOf the fabric's `linkOf` (a function's link name, or `null`).
   * @param linkNames every link name of the fabric.
   * @internal made by `Fabric.injectFault`.
   */
  constructor(
    private readonly linkOf: (dev: PciDev) => string | null,
    private readonly linkNames: ReadonlySet<string>,
  ) {}

  /**
   * Arms a fault.
   * @param spec the fault.
   * @returns its id (for `clear`).
   * @throws RangeError naming the field for an unknown kind or link, `nth`/`times` not positive
   *   integers (`times` may be `Infinity`), a bad status, or an address range that is not one.
   */
  arm(spec: FabricFaultSpec): number {
    const id = this.nextId;
    const kind = (spec as { kind: unknown }).kind;
    if (spec.kind === FABRIC_FAULT_DMA_ERROR) {
      const nth = spec.nth ?? 1;
      const times = spec.times ?? Number.POSITIVE_INFINITY;
      const status = spec.status ?? 'poisoned';
      if (!Number.isSafeInteger(nth) || nth < 1) throw new RangeError(`fabric.injectFault(dma-error): nth ${nth} must be a positive integer`);
      if (times !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(times) || times < 1)) {
        throw new RangeError(`fabric.injectFault(dma-error): times ${times} must be a positive integer or Infinity`);
      }
      if (!(status in DMA_ERROR_REASON)) throw new RangeError(`fabric.injectFault(dma-error): status '${String(status)}' must be poisoned, ca or ur`);
      if (spec.dir !== undefined && spec.dir !== 'read' && spec.dir !== 'write') throw new RangeError(`fabric.injectFault(dma-error): dir '${String(spec.dir)}' must be read or write`);
      this.arms.set(id, { id, kind: spec.kind, device: spec.device, status, dir: spec.dir ?? null, countdown: nth, remaining: times });
    } else if (spec.kind === FABRIC_FAULT_LINK_DOWN) {
      if (!this.linkNames.has(spec.link)) throw new RangeError(`fabric.injectFault(link-down): no link '${spec.link}' (links: ${[...this.linkNames].join(', ') || 'none'})`);
      this.arms.set(id, { id, kind: spec.kind, link: spec.link });
      this.down.add(spec.link);
    } else if (spec.kind === FABRIC_FAULT_UR) {
      const { addr, len } = spec;
      if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(len) || len < 1 || !Number.isSafeInteger(addr + len)) {
        throw new RangeError(`fabric.injectFault(unsupported-request): range ${addr} +${len} is not an address range`);
      }
      this.arms.set(id, { id, kind: spec.kind, lo: addr, hi: addr + len, initiator: spec.initiator ?? null });
    } else {
      throw new RangeError(`fabric.injectFault: kind '${String(kind)}' is not one of ${FABRIC_FAULT_KINDS.map((k) => k.kind).join(', ')}`);
    }
    this.nextId++;
    return id;
  }

  /**
   * Disarms one fault, or all.
   * @param id the id `arm` returned; omitted: all.
   * @returns whether something was disarmed.
   */
  clear(id?: number): boolean {
    const victims = id === undefined ? [...this.arms.keys()] : this.arms.has(id) ? [id] : [];
    for (const v of victims) this.arms.delete(v);
    this.down.clear();
    for (const a of this.arms.values()) if (a.kind === FABRIC_FAULT_LINK_DOWN) this.down.add(a.link);
    return victims.length > 0;
  }

  /** Armed faults (a count). */
  get armed(): number {
    return this.arms.size;
  }

  /** How many transactions each kind failed since the fabric was made (a fresh object). */
  counts(): Record<FabricFaultKind, number> {
    return {
      [FABRIC_FAULT_DMA_ERROR]: this.fired.get(FABRIC_FAULT_DMA_ERROR) ?? 0,
      [FABRIC_FAULT_LINK_DOWN]: this.fired.get(FABRIC_FAULT_LINK_DOWN) ?? 0,
      [FABRIC_FAULT_UR]: this.fired.get(FABRIC_FAULT_UR) ?? 0,
    };
  }

  /**
   * The down link a function sits below (its own link or one further up), if any.
   * @param dev the function.
   * @returns the link's name, or `null` when it is reachable.
   * @kernel pci_dev_is_disconnected
   */
  unreachable(dev: PciDev): string | null {
    if (this.down.size === 0) return null;
    for (let d: PciDev | null = dev; d !== null; d = d.pciBus.self) {
      const l = this.linkOf(d);
      if (l !== null && this.down.has(l)) return l;
    }
    return null;
  }

  /**
   * Asked once per DMA transfer before it is routed: device faults and unreachable initiators.
   * @param initiator the function.
   * @param dir read or write.
   * @returns the fault that fails the whole transfer, or `null`.
   * @internal called by the fabric.
   */
  beforeDma(initiator: PciDev, dir: 'read' | 'write'): FabricFaultHit | null {
    const link = this.unreachable(initiator);
    if (link !== null) return this.hit(FABRIC_FAULT_LINK_DOWN, 'dropped', `link ${link}`, `link ${link} is down: ${initiator.name} is unreachable`);
    for (const a of this.arms.values()) {
      if (a.kind !== FABRIC_FAULT_DMA_ERROR || a.device !== initiator || (a.dir !== null && a.dir !== dir)) continue;
      if (a.countdown > 1) {
        a.countdown--;
        continue;
      }
      if (--a.remaining <= 0) this.arms.delete(a.id);
      return this.hit(FABRIC_FAULT_DMA_ERROR, a.status, initiator.name, `injected DMA error on ${initiator.name} (${DMA_ERROR_REASON[a.status]})`);
    }
    return null;
  }

  /**
   * Asked for each routed part of a transfer (and each CPU MMIO part): a down link on the route,
   * or an Unsupported Request range.
   * @param initiator the function, or `null` for the CPU.
   * @param addr the part's first address.
   * @param len its length.
   * @param steps its route's steps.
   * @param target the name of the target (for `at`).
   * @returns the fault, or `null`.
   * @internal called by the fabric.
   */
  onRoute(initiator: PciDev | null, addr: number, len: number, steps: readonly StepLike[], target: string): FabricFaultHit | null {
    if (this.down.size > 0) {
      for (const s of steps) {
        const name = s.link?.name;
        if (s.kind === 'link' && name !== undefined && this.down.has(name)) return this.hit(FABRIC_FAULT_LINK_DOWN, 'dropped', `link ${name}`, `link ${name} is down`);
      }
    }
    if (initiator === null) return null;
    for (const a of this.arms.values()) {
      if (a.kind !== FABRIC_FAULT_UR || (a.initiator !== null && a.initiator !== initiator)) continue;
      if (addr < a.hi && addr + len > a.lo) return this.hit(FABRIC_FAULT_UR, 'ur', target, `injected Unsupported Request for ${hex(a.lo)}..${hex(a.hi - 1)}`);
    }
    return null;
  }

  private hit(kind: FabricFaultKind, status: FabricFaultHit['status'], at: string, reason: string): FabricFaultHit {
    this.fired.set(kind, (this.fired.get(kind) ?? 0) + 1);
    return { kind, status, at, reason };
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
