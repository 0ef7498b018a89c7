/**
 * BAR accessors: a BAR's CPU resource and its PCI bus address (CPU address minus the host bridge
 * window's offset). The memory behind a BAR is `PciDev.barBacking` / `setBarBacking`.
 *
 * @kernel include/linux/pci.h (pci_resource_start/len/flags), drivers/pci/host-bridge.c
 *   (pcibios_resource_to_bus), pci_bus_address
 */
import type { PciDev } from './pci-dev';
import { resourceSize } from './resource';

/**
 * First CPU address of a resource.
 * @param dev the function.
 * @param bar resource index (0-5 BARs, 13-15 bridge windows).
 * @returns the start (0 for an unused resource).
 * @kernel pci_resource_start
 */
export function pciResourceStart(dev: PciDev, bar: number): number {
  return dev.resource[bar]?.start ?? 0;
}

/**
 * Last CPU address of a resource (inclusive).
 * @param dev the function.
 * @param bar resource index.
 * @returns the end (0 for an unused resource).
 * @kernel pci_resource_end
 */
export function pciResourceEnd(dev: PciDev, bar: number): number {
  return dev.resource[bar]?.end ?? 0;
}

/**
 * Length of a resource.
 * @param dev the function.
 * @param bar resource index.
 * @returns bytes, 0 for an unused resource.
 * @kernel pci_resource_len
 */
export function pciResourceLen(dev: PciDev, bar: number): number {
  const r = dev.resource[bar];
  return r === undefined ? 0 : resourceSize(r);
}

/**
 * Flags of a resource.
 * @param dev the function.
 * @param bar resource index.
 * @returns the `IORESOURCE_*` flags, 0 for an unused resource.
 * @kernel pci_resource_flags
 */
export function pciResourceFlags(dev: PciDev, bar: number): number {
  return dev.resource[bar]?.flags ?? 0;
}

/**
 * The PCI bus address of a BAR: what a peer must put on the wire to reach it.
 * @param dev the function.
 * @param bar resource index.
 * @returns CPU start − the host bridge window offset (the CPU start itself when the resource is
 *   in no window, e.g. unused).
 * @kernel pci_bus_address
 */
export function pciBusAddress(dev: PciDev, bar: number): number {
  const start = pciResourceStart(dev, bar);
  return dev.pciBus.hostBridge.cpuToBus(start) ?? start;
}
