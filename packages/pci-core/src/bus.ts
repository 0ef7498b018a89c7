/**
 * PCI buses: a root bus below each host bridge and one secondary bus below each bridge.
 *
 * @kernel struct pci_bus (include/linux/pci.h)
 */
import { formatBus } from './bdf';
import type { PciHostBridge } from './host-bridge';
import type { PciDev } from './pci-dev';

/**
 * A PCI bus. Created by `enumerate`; read-only for everybody else.
 * @kernel struct pci_bus
 */
export class PciBus {
  /** Functions on the bus in devfn order (virtual functions included). @kernel pci_bus.devices */
  readonly devices: PciDev[] = [];
  /** Buses below bridges on this bus, in the bridges' devfn order. @kernel pci_bus.children */
  readonly children: PciBus[] = [];

  /**
   * @param hostBridge the host bridge the bus is below.
   * @param number the bus number. @kernel pci_bus.number
   * @param parent the parent bus, `null` for a root bus. @kernel pci_bus.parent
   * @param self the bridge providing the bus, `null` for a root bus. @kernel pci_bus.self
   * @param subordinate the highest bus number below this bus (the bus range's end).
   */
  constructor(
    readonly hostBridge: PciHostBridge,
    readonly number: number,
    readonly parent: PciBus | null,
    readonly self: PciDev | null,
    readonly subordinate: number,
  ) {}

  /** The PCI domain. */
  get domain(): number {
    return this.hostBridge.domain;
  }

  /** The primary bus number (the parent's number; a root bus's own). @kernel pci_bus.primary */
  get primary(): number {
    return this.parent === null ? this.number : this.parent.number;
  }

  /** The secondary bus number: the bus's own number. @kernel pci_bus.busn_res.start */
  get secondary(): number {
    return this.number;
  }

  /** The bus's name as the kernel prints it: `0000:03`. */
  get name(): string {
    return formatBus(this.domain, this.number);
  }
}

/**
 * Whether a bus is a root bus.
 * @param bus the bus.
 * @returns `true` when it has no parent bus.
 * @kernel pci_is_root_bus
 */
export function pciIsRootBus(bus: PciBus): boolean {
  return bus.parent === null;
}

/**
 * The PCI domain (segment) of a bus.
 * @param bus the bus.
 * @returns the domain number.
 * @kernel pci_domain_nr
 */
export function pciDomainNr(bus: PciBus): number {
  return bus.domain;
}
