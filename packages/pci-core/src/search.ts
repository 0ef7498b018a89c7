/**
 * Finding functions: iteration in `pci_get_device` order (the order devices were added: for
 * each host bridge in registration order, every function of a bus in devfn order, then each
 * bridge's secondary bus in turn, virtual functions last) and lookups by slot.
 *
 * The kernel's versions take and drop references; the model has no reference counts.
 *
 * @kernel drivers/pci/search.c
 */
import type { Kernel } from '@p2pdma/kernel';
import type { PciBus } from './bus';
import type { PciDev } from './pci-dev';
import { PCI_ANY_ID } from './pci-driver';
import { pciSystem } from './pci-system';

function idOk(want: number, have: number | null): boolean {
  return want === PCI_ANY_ID || (have !== null && want === have);
}

function next(kernel: Kernel, from: PciDev | null, pred: (d: PciDev) => boolean): PciDev | null {
  const sys = pciSystem(kernel);
  if (sys === null) return null;
  const list = sys.deviceList;
  let i = from === null ? 0 : sys.deviceIndex(from) + 1;
  if (from !== null && i === 0) return null;
  for (; i < list.length; i++) {
    const d = list[i]!;
    if (d.registered && pred(d)) return d;
  }
  return null;
}

/**
 * The next registered function matching vendor, device and subsystem IDs.
 * @param kernel the kernel.
 * @param vendor vendor ID or `PCI_ANY_ID`.
 * @param device device ID or `PCI_ANY_ID`.
 * @param ssVendor subsystem vendor or `PCI_ANY_ID`.
 * @param ssDevice subsystem device or `PCI_ANY_ID`.
 * @param from the previous match, or `null` to start.
 * @returns the next match, or `null` (unknown IDs match only `PCI_ANY_ID`).
 * @kernel pci_get_subsys
 */
export function pciGetSubsys(kernel: Kernel, vendor: number, device: number, ssVendor: number, ssDevice: number, from: PciDev | null): PciDev | null {
  return next(
    kernel,
    from,
    (d) => idOk(vendor, d.vendor) && idOk(device, d.device) && idOk(ssVendor, d.subsystemVendor) && idOk(ssDevice, d.subsystemDevice),
  );
}

/**
 * The next registered function matching vendor and device.
 * @param kernel the kernel.
 * @param vendor vendor ID or `PCI_ANY_ID`.
 * @param device device ID or `PCI_ANY_ID`.
 * @param from the previous match, or `null` to start.
 * @returns the next match in device_add order, or `null`.
 * @kernel pci_get_device
 */
export function pciGetDevice(kernel: Kernel, vendor: number, device: number, from: PciDev | null): PciDev | null {
  return pciGetSubsys(kernel, vendor, device, PCI_ANY_ID, PCI_ANY_ID, from);
}

/**
 * The next registered function of a class.
 * @param kernel the kernel.
 * @param classCode 24-bit class code (exact match).
 * @param from the previous match, or `null`.
 * @returns the next match, or `null`.
 * @kernel pci_get_class
 */
export function pciGetClass(kernel: Kernel, classCode: number, from: PciDev | null): PciDev | null {
  return next(kernel, from, (d) => d.classCode === classCode);
}

/**
 * The function at a devfn on a bus.
 * @param bus the bus.
 * @param devfn device/function number.
 * @returns the function, or `null`.
 * @kernel pci_get_slot
 */
export function pciGetSlot(bus: PciBus, devfn: number): PciDev | null {
  return bus.devices.find((d) => d.devfn === devfn) ?? null;
}

/**
 * The function at a domain, bus number and devfn.
 * @param kernel the kernel.
 * @param domain PCI domain.
 * @param bus bus number.
 * @param devfn device/function number.
 * @returns the function, or `null`.
 * @kernel pci_get_domain_bus_and_slot
 */
export function pciGetDomainBusAndSlot(kernel: Kernel, domain: number, bus: number, devfn: number): PciDev | null {
  const b = pciSystem(kernel)?.findBus(domain, bus) ?? null;
  return b === null ? null : pciGetSlot(b, devfn);
}
