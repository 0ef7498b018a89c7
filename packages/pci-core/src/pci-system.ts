/**
 * The PCI subsystem of one kernel: its host bridges, buses and functions in `pci_get_device`
 * order, and its fabric. Created by `enumerate`; found again with `pciSystem(kernel)`.
 *
 * @kernel drivers/pci (pci_root_buses, the pci bus type's device list)
 */
import type { Kernel } from '@p2pdma/kernel';
import { normalizeBdf } from './bdf';
import type { PciBus } from './bus';
import { Fabric } from './fabric';
import type { PciHostBridge } from './host-bridge';
import type { PciDev } from './pci-dev';
import type { PciParams } from './pci-params';
import type { TopologySpec } from './topology-spec';

/** One IOMMU group: its number and member BDFs in device order. */
export interface IommuGroupInfo {
  /** The group number (`/sys/kernel/iommu_groups/<id>`). */
  readonly id: number;
  /** Member BDFs in `pci_get_device` order. */
  readonly devices: readonly string[];
}

/**
 * A kernel's PCI subsystem.
 * @kernel the pci bus type and its root buses
 */
export class PciSubsystem {
  /** The fabric router of this machine. */
  readonly fabric: Fabric;
  private readonly byName = new Map<string, PciDev>();
  private readonly indexOf = new Map<PciDev, number>();
  private readonly busByKey = new Map<string, PciBus>();

  /**
   * Built by `enumerate`.
   * @param kernel the kernel.
   * @param spec the validated topology it was built from.
   * @param hostBridges host bridges in registration order.
   * @param devs functions in device_add (`pci_get_device`) order.
   * @param buses every bus, root buses first per host bridge, then depth first.
   * @param warnings the input's warnings plus enumeration notes.
   * @param params the `pci=` options in force.
   */
  constructor(
    readonly kernel: Kernel,
    readonly spec: Readonly<TopologySpec>,
    readonly hostBridges: readonly PciHostBridge[],
    private readonly devs: readonly PciDev[],
    readonly buses: readonly PciBus[],
    readonly warnings: readonly string[],
    readonly params: PciParams,
  ) {
    devs.forEach((d, i) => {
      this.byName.set(d.name, d);
      this.indexOf.set(d, i);
    });
    for (const b of buses) this.busByKey.set(`${b.domain}:${b.number}`, b);
    this.fabric = new Fabric(kernel, hostBridges, devs);
  }

  /** Every function in `pci_get_device` order (a copy). */
  devices(): PciDev[] {
    return this.devs.slice();
  }

  /** Every function in `pci_get_device` order (the subsystem's own read-only array). */
  get deviceList(): readonly PciDev[] {
    return this.devs;
  }

  /**
   * Position of a function in `pci_get_device` order.
   * @param dev the function.
   * @returns its index, or -1 when it is not in this subsystem.
   */
  deviceIndex(dev: PciDev): number {
    return this.indexOf.get(dev) ?? -1;
  }

  /**
   * Finds a function by address.
   * @param bdf `0000:03:00.0` or `03:00.0` (domain 0), any case.
   * @returns the function, or `null`.
   */
  findByBdf(bdf: string): PciDev | null {
    const n = normalizeBdf(bdf);
    return n === null ? null : (this.byName.get(n) ?? null);
  }

  /**
   * Finds a bus.
   * @param domain PCI domain.
   * @param bus bus number.
   * @returns the bus, or `null`.
   * @kernel pci_find_bus
   */
  findBus(domain: number, bus: number): PciBus | null {
    return this.busByKey.get(`${domain}:${bus}`) ?? null;
  }

  /**
   * The IOMMU groups of the functions, in creation order (the order their first member was
   * added), members in device order. Empty when the IOMMU is off.
   * @returns the groups.
   */
  iommuGroups(): IommuGroupInfo[] {
    const order: number[] = [];
    const members = new Map<number, string[]>();
    for (const d of this.devs) {
      const g = d.iommuGroup;
      if (g === null) continue;
      let list = members.get(g.id);
      if (list === undefined) {
        list = [];
        members.set(g.id, list);
        order.push(g.id);
      }
      list.push(d.name);
    }
    return order.map((id) => ({ id, devices: members.get(id)! }));
  }
}

const systems = new WeakMap<Kernel, PciSubsystem>();

/**
 * The PCI subsystem enumerated on a kernel.
 * @param kernel the kernel.
 * @returns its subsystem, or `null` before (or without) a successful `enumerate`.
 */
export function pciSystem(kernel: Kernel): PciSubsystem | null {
  return systems.get(kernel) ?? null;
}

/**
 * @internal records (or, with `null`, forgets) a kernel's subsystem; used by `enumerate` only.
 * @param kernel the kernel.
 * @param sys the subsystem.
 */
export function setPciSystem(kernel: Kernel, sys: PciSubsystem | null): void {
  if (sys === null) systems.delete(kernel);
  else systems.set(kernel, sys);
}
