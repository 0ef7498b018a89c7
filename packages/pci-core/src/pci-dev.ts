/**
 * PCI functions: `PciDev` is a kernel `Device` on the `pci` bus (log prefix
 * `pci 0000:03:00.0: `) with its configuration space, resources, Express port type, link, SR-IOV
 * relations and the memory that backs its BARs.
 *
 * Identity fields an input could not know (an `lspci` dump without `-nn`) are `null`, never a
 * made-up value such as 0xffff: `vendor`, `device`, `subsystemVendor`, `subsystemDevice`,
 * `classCode`, `revision`. Their config-space registers then read 0, and `pciGetDevice` with a
 * specific ID never matches them (only `PCI_ANY_ID` does).
 *
 * @kernel struct pci_dev (include/linux/pci.h)
 */
import { Device, err, type Kernel, type KResult, type MmioHandler, SparseBytes } from '@p2pdma/kernel';
import type { PciBus } from './bus';
import type { ConfigSpace } from './config-space';
import { pciBusType } from './pci-driver';
import type { PciResource } from './resource';
import { IORESOURCE_MEM, PCI_STD_NUM_BARS, resourceSize } from './resource';
import type { DeviceRole, DeviceSpec } from './topology-spec';

/**
 * Device number of a devfn. @kernel PCI_SLOT
 * @param devfn 8-bit device/function number.
 * @returns bits 7:3.
 */
export function PCI_SLOT(devfn: number): number {
  return (devfn >> 3) & 0x1f;
}
/**
 * Function number of a devfn. @kernel PCI_FUNC
 * @param devfn 8-bit device/function number.
 * @returns bits 2:0.
 */
export function PCI_FUNC(devfn: number): number {
  return devfn & 0x07;
}
/**
 * Builds a devfn. @kernel PCI_DEVFN
 * @param slot device number 0-31.
 * @param fn function number 0-7.
 * @returns `slot << 3 | fn`.
 */
export function PCI_DEVFN(slot: number, fn: number): number {
  return ((slot & 0x1f) << 3) | (fn & 0x07);
}

/** The link as the function's Express capability reports it (`null` fields: unknown). */
export interface PciLinkState {
  /** Current speed generation (LnkSta CLS), 1-6. */
  readonly gen: number | null;
  /** Negotiated width in lanes (LnkSta NLW). */
  readonly width: number | null;
  /** Maximum generation (LnkCap SLS). */
  readonly maxGen: number | null;
  /** Maximum width (LnkCap MLW). */
  readonly maxWidth: number | null;
  /** Max payload size in bytes (DevCtl). */
  readonly mps: number | null;
}

/** Construction fields of a `PciDev` (enumeration fills them in). */
export interface PciDevInit {
  /** The bus the function is on. */
  pciBus: PciBus;
  /** Device/function number. */
  devfn: number;
  /** Parent kernel device: the upstream bridge, or the host bridge device on a root bus. */
  parent: Device;
  /** Configuration space (already filled). */
  config: ConfigSpace;
  /** The topology description of the function. */
  spec: Readonly<DeviceSpec>;
  /** Header type 0 or 1. */
  hdrType: 0 | 1;
  /** Offset of the Express capability, 0 when the function is conventional PCI. */
  pcieCap: number;
  /** Express device/port type (`PCI_EXP_TYPE_*`), `null` when conventional. */
  pcieType: number | null;
  /** Link state. */
  link: PciLinkState;
  /** Offset of the ACS capability, 0 when absent. */
  acsCap: number;
  /** Whether this is an SR-IOV virtual function. */
  isVirtfn: boolean;
}

/**
 * A PCI function.
 * @kernel struct pci_dev
 */
export class PciDev extends Device {
  /** The bus the function is on (the kernel's `dev->bus`; `Device.bus` is the bus type `pci`). */
  readonly pciBus: PciBus;
  /** Device/function number. @kernel pci_dev.devfn */
  readonly devfn: number;
  /** Vendor ID, `null` when the input did not say. @kernel pci_dev.vendor */
  readonly vendor: number | null;
  /** Device ID, `null` when unknown. @kernel pci_dev.device */
  readonly device: number | null;
  /** Subsystem vendor ID, `null` when unknown. @kernel pci_dev.subsystem_vendor */
  readonly subsystemVendor: number | null;
  /** Subsystem device ID, `null` when unknown. @kernel pci_dev.subsystem_device */
  readonly subsystemDevice: number | null;
  /** 24-bit class code (base << 16 | sub << 8 | prog-if), `null` when unknown. @kernel pci_dev.class */
  readonly classCode: number | null;
  /** Revision ID, `null` when unknown. @kernel pci_dev.revision */
  readonly revision: number | null;
  /** Header type layout (0 endpoint, 1 bridge). @kernel pci_dev.hdr_type */
  readonly hdrType: 0 | 1;
  /** Whether the slot holds more than one (non-virtual) function. @kernel pci_dev.multifunction */
  multifunction = false;
  /** Whether this is an SR-IOV virtual function. @kernel pci_dev.is_virtfn */
  readonly isVirtfn: boolean;
  /** The physical function of a VF, `null` otherwise. @kernel pci_dev.physfn */
  physfn: PciDev | null = null;
  /** Virtual functions of a PF in VF order (empty otherwise). */
  readonly virtfns: PciDev[] = [];
  /** Offset of the Express capability (0: conventional PCI). @kernel pci_dev.pcie_cap */
  readonly pcieCap: number;
  /** Express device/port type, `null` for conventional PCI. */
  readonly pcieType: number | null;
  /** Link state from the Express capability. */
  readonly link: PciLinkState;
  /** Offset of the ACS capability (0: none). @kernel pci_dev.acs_cap */
  readonly acsCap: number;
  /**
   * Resources: BARs 0-5, ROM (6), SR-IOV BARs (7-12, unused), bridge windows (13 I/O, 14 memory,
   * 15 prefetchable). @kernel pci_dev.resource
   */
  readonly resource: PciResource[];
  /** The bus behind a bridge, `null` otherwise. @kernel pci_dev.subordinate */
  subordinate: PciBus | null = null;
  /** The configuration space. */
  readonly config: ConfigSpace;
  /** The topology description the function was built from (role, p2pmem and NVMe hints). */
  readonly spec: Readonly<DeviceSpec>;
  /** What the function is, for the layers that attach device models. */
  readonly role: DeviceRole | null;
  /** Human label from the input. */
  readonly label: string | null;
  /** External-facing port (Thunderbolt): 6.6 then sets ACS Translation Blocking. @kernel pci_dev.external_facing */
  externalFacing = false;
  /** Untrusted device: 6.6 then sets ACS Translation Blocking. @kernel pci_dev.untrusted */
  untrusted = false;
  /** Extra requester IDs (devfns on the same bus) the function uses, from DMA alias quirks. @kernel pci_dev.dma_alias_mask */
  readonly dmaAliasDevfns = new Set<number>();
  private readonly backings: Array<MmioHandler | null | undefined> = [];

  /**
   * @param kernel the kernel.
   * @param name the BDF, `0000:03:00.0`.
   * @param init the function's fields.
   */
  constructor(kernel: Kernel, name: string, init: PciDevInit) {
    super(kernel, name, { parent: init.parent, bus: pciBusType });
    this.pciBus = init.pciBus;
    this.devfn = init.devfn;
    const s = init.spec;
    this.vendor = s.vendor ?? null;
    this.device = s.device ?? null;
    this.subsystemVendor = s.subsystemVendor ?? null;
    this.subsystemDevice = s.subsystemDevice ?? null;
    this.classCode = s.classCode ?? null;
    this.revision = s.revision ?? null;
    this.role = s.role ?? null;
    this.label = s.label ?? null;
    this.hdrType = init.hdrType;
    this.isVirtfn = init.isVirtfn;
    this.pcieCap = init.pcieCap;
    this.pcieType = init.pcieType;
    this.link = init.link;
    this.acsCap = init.acsCap;
    this.config = init.config;
    this.spec = s;
    this.resource = [];
  }

  /** Device (slot) number. */
  get slot(): number {
    return PCI_SLOT(this.devfn);
  }

  /** Function number. */
  get fn(): number {
    return PCI_FUNC(this.devfn);
  }

  /**
   * What a memory BAR's bytes are: the device model's handler, or by default sparse RAM-like
   * storage (4 KiB pages allocated on first write), created on first use.
   * @param bar BAR index 0-5.
   * @returns the handler (offsets from the BAR start), or `null` for an I/O BAR, an unused BAR, or
   *   a BAR whose backing was removed with `setBarBacking(bar, null)`.
   */
  barBacking(bar: number): MmioHandler | null {
    const cur = this.backings[bar];
    if (cur !== undefined) return cur;
    const r = this.resource[bar];
    if (bar < 0 || bar >= PCI_STD_NUM_BARS || r === undefined || (r.flags & IORESOURCE_MEM) === 0 || resourceSize(r) === 0) return null;
    const mem = new SparseBytes();
    const handler: MmioHandler = { read: (off, out) => mem.read(off, out), write: (off, data) => mem.write(off, data) };
    this.backings[bar] = handler;
    return handler;
  }

  /**
   * Replaces what backs a memory BAR (a device model's registers, a CMB). Accesses to a BAR
   * whose backing is `null` complete with Completer Abort.
   * @param bar BAR index 0-5 of an assigned memory BAR.
   * @param handler the handler (offsets from the BAR start; the caller owns it), or `null`.
   * @returns `0`, or `-EINVAL` for an index that is not an assigned memory BAR (logged).
   */
  setBarBacking(bar: number, handler: MmioHandler | null): KResult {
    const r = this.resource[bar];
    if (bar < 0 || bar >= PCI_STD_NUM_BARS || r === undefined || (r.flags & IORESOURCE_MEM) === 0 || resourceSize(r) === 0) {
      this.kernel.log.devWarn(this, `setBarBacking: BAR ${bar} is not an assigned memory BAR`);
      return err('EINVAL');
    }
    this.backings[bar] = handler;
    return 0;
  }
}

/**
 * The function's name, `dddd:bb:dd.f`.
 * @param dev the function.
 * @returns the BDF.
 * @kernel pci_name
 */
export function pciName(dev: PciDev): string {
  return dev.name;
}

/**
 * The physical function of a VF, or the function itself.
 * @param dev the function.
 * @returns its PF for a VF, else `dev`.
 * @kernel pci_physfn
 */
export function pciPhysfn(dev: PciDev): PciDev {
  return dev.isVirtfn && dev.physfn !== null ? dev.physfn : dev;
}

/**
 * The bridge directly above a function (a VF's is its PF's).
 * @param dev the function.
 * @returns the bridge providing its bus, or `null` for a function on a root bus.
 * @kernel pci_upstream_bridge
 */
export function pciUpstreamBridge(dev: PciDev): PciDev | null {
  const pf = pciPhysfn(dev);
  return pf.pciBus.parent === null ? null : pf.pciBus.self;
}

/**
 * Whether the function has a PCI Express capability.
 * @param dev the function.
 * @returns `true` for PCIe functions.
 * @kernel pci_is_pcie
 */
export function pciIsPcie(dev: PciDev): boolean {
  return dev.pcieCap !== 0;
}

/**
 * The Express device/port type.
 * @param dev a PCIe function.
 * @returns a `PCI_EXP_TYPE_*` value, or `null` for a conventional PCI function (the kernel reads
 *   garbage there; the model says so).
 * @kernel pci_pcie_type
 */
export function pciPcieType(dev: PciDev): number | null {
  return dev.pcieType;
}

/**
 * Whether the function is a PCI-to-PCI bridge (header type 1).
 * @param dev the function.
 * @returns `true` for bridges and ports.
 * @kernel pci_is_bridge
 */
export function pciIsBridge(dev: PciDev): boolean {
  return dev.hdrType === 1;
}
