/**
 * The `pci` bus type and PCI drivers: drivers list the IDs they handle; the bus matches them
 * against functions as the kernel's `pci_match_id` does.
 *
 * @kernel drivers/pci/pci-driver.c (pci_bus_type, pci_match_id, pci_register_driver)
 */
import type { BusType, Device, DeviceDriver, Kernel, KResult } from '@p2pdma/kernel';
import { driverRegister, err } from '@p2pdma/kernel';
import type { PciDev } from './pci-dev';

/** Matches any vendor, device, subvendor or subdevice. @kernel PCI_ANY_ID */
export const PCI_ANY_ID = 0xffff_ffff;

/**
 * One entry of a driver's ID table.
 * @kernel struct pci_device_id
 */
export interface PciDeviceId {
  /** Vendor ID or `PCI_ANY_ID`. */
  readonly vendor: number;
  /** Device ID or `PCI_ANY_ID`. */
  readonly device: number;
  /** Subsystem vendor (default `PCI_ANY_ID`). */
  readonly subvendor?: number;
  /** Subsystem device (default `PCI_ANY_ID`). */
  readonly subdevice?: number;
  /** Class code to match under `classMask` (default: class not checked). */
  readonly classCode?: number;
  /** Bits of the class code compared (default 0: any class). */
  readonly classMask?: number;
  /** Driver-private data (quirk flags), handed back by `pciMatchId`. */
  readonly driverData?: unknown;
}

/**
 * A PCI driver: a kernel driver on `pciBusType` with an ID table.
 * @kernel struct pci_driver
 */
export interface PciDriver extends DeviceDriver {
  /** The IDs the driver binds to, in priority order. */
  readonly idTable: readonly PciDeviceId[];
}

function idMatches(want: number | undefined, have: number | null): boolean {
  return want === undefined || want === PCI_ANY_ID || (have !== null && want === have);
}

/**
 * Finds the first ID-table entry matching a function. Unknown IDs (`null`) match only
 * `PCI_ANY_ID`; an unknown class matches only a zero class mask.
 * @param ids the table.
 * @param dev the function.
 * @returns the entry, or `null`.
 * @kernel pci_match_id
 */
export function pciMatchId(ids: readonly PciDeviceId[], dev: PciDev): PciDeviceId | null {
  for (const id of ids) {
    if (!idMatches(id.vendor, dev.vendor) || !idMatches(id.device, dev.device)) continue;
    if (!idMatches(id.subvendor, dev.subsystemVendor) || !idMatches(id.subdevice, dev.subsystemDevice)) continue;
    const mask = id.classMask ?? 0;
    if (mask !== 0 && (dev.classCode === null || ((dev.classCode ^ (id.classCode ?? 0)) & mask) !== 0)) continue;
    return id;
  }
  return null;
}

function isPciDev(dev: Device): dev is PciDev {
  return typeof (dev as Partial<PciDev>).devfn === 'number' && (dev as Partial<PciDev>).config !== undefined;
}

/**
 * The `pci` bus type every `PciDev` is on: a driver matches when it is a `PciDriver` whose ID
 * table matches the function.
 * @kernel pci_bus_type
 */
export const pciBusType: BusType = {
  name: 'pci',
  match(dev: Device, drv: DeviceDriver): boolean {
    const table = (drv as Partial<PciDriver>).idTable;
    return table !== undefined && isPciDev(dev) && pciMatchId(table, dev) !== null;
  },
};

/**
 * Registers a PCI driver and binds it to matching functions already present.
 * @param kernel the kernel.
 * @param drv the driver; its `bus` must be `pciBusType`.
 * @returns `0`, `-EBUSY` for a duplicate name (see `driverRegister`), `-EINVAL` when the driver
 *   is not on `pciBusType`.
 * @kernel pci_register_driver
 */
export function pciRegisterDriver(kernel: Kernel, drv: PciDriver): KResult {
  if (drv.bus !== pciBusType) {
    kernel.log.prErr(`pci: driver ${drv.name} is not on the pci bus type`);
    return err('EINVAL');
  }
  return driverRegister(kernel, drv);
}
