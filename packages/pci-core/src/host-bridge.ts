/**
 * PCI host bridges: the root complex side of one PCI domain's root bus. A host bridge owns the
 * memory windows that map CPU physical addresses to PCI bus addresses (`offset` = CPU address −
 * bus address, non-zero on some non-x86 hosts) and a peer-forwarding profile saying whether its
 * root complex forwards peer-to-peer requests between root ports.
 *
 * @kernel struct pci_host_bridge (drivers/pci/probe.c, include/linux/pci.h)
 */
import type { Device, Kernel } from '@p2pdma/kernel';
import type { PciBus } from './bus';
import type { PciResource } from './resource';
import type { PeerForwarding } from './topology-spec';

/**
 * One host bridge memory window.
 * @kernel struct resource_entry (bridge->windows)
 */
export interface HostBridgeWindow {
  /** The CPU address range, flags `IORESOURCE_MEM | IORESOURCE_WINDOW` (+ `MEM_64|PREFETCH` above 4 GiB). */
  readonly res: PciResource;
  /** CPU address − bus address. */
  readonly offset: number;
  /**
   * `true` when the topology gave no window and enumeration chose this one (a 32-bit window in
   * the hole below 4 GiB, or a 64-bit window above RAM).
   */
  readonly synthesized: boolean;
}

/**
 * A PCI host bridge. Created by `enumerate`; read-only for everybody else.
 * @kernel struct pci_host_bridge
 */
export class PciHostBridge {
  /** The root bus; set by enumeration right after construction. */
  rootBus!: PciBus;

  /**
   * @param kernel the kernel.
   * @param index position in the topology's host bridge list (registration order).
   * @param domain PCI domain (segment).
   * @param busStart root bus number.
   * @param busEnd highest bus number below this host bridge.
   * @param windows memory windows, in address order.
   * @param peerForwarding how the root complex treats peer-to-peer requests.
   * @param label human label, or `null`.
   * @param device the host bridge's kernel device (`pci0000:00`), parent of the root bus functions.
   */
  constructor(
    readonly kernel: Kernel,
    readonly index: number,
    readonly domain: number,
    readonly busStart: number,
    readonly busEnd: number,
    readonly windows: readonly HostBridgeWindow[],
    readonly peerForwarding: PeerForwarding,
    readonly label: string | null,
    readonly device: Device,
  ) {}

  /** The kernel's name for the host bridge device: `pci0000:00`. */
  get name(): string {
    return this.device.name;
  }

  /**
   * The window holding a CPU address.
   * @param cpu a CPU physical address.
   * @returns the window, or `null`.
   */
  windowAt(cpu: number): HostBridgeWindow | null {
    for (const w of this.windows) if (cpu >= w.res.start && cpu <= w.res.end) return w;
    return null;
  }

  /**
   * The window whose bus-address range holds a bus address.
   * @param busAddr a PCI bus address on this host bridge's hierarchy.
   * @returns the window, or `null`.
   */
  windowAtBus(busAddr: number): HostBridgeWindow | null {
    for (const w of this.windows) if (busAddr >= w.res.start - w.offset && busAddr <= w.res.end - w.offset) return w;
    return null;
  }

  /**
   * CPU → bus address.
   * @param cpu a CPU address inside one of the windows.
   * @returns the bus address, or `null` outside every window.
   * @kernel pcibios_resource_to_bus
   */
  cpuToBus(cpu: number): number | null {
    const w = this.windowAt(cpu);
    return w === null ? null : cpu - w.offset;
  }

  /**
   * Bus → CPU address.
   * @param busAddr a bus address inside one of the windows' bus ranges.
   * @returns the CPU address, or `null`.
   * @kernel pcibios_bus_to_resource
   */
  busToCpu(busAddr: number): number | null {
    const w = this.windowAtBus(busAddr);
    return w === null ? null : busAddr + w.offset;
  }
}
