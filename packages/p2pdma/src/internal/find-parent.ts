/**
 * The PCI device a device's DMA comes from: the device itself when it is a PCI function,
 * else its nearest PCI ancestor (a block device's or an RDMA device's controller).
 * @kernel drivers/pci/p2pdma.c find_parent_pci_dev
 */
import type { Device } from '@p2pdma/kernel';
import { PciDev } from '@p2pdma/pci-core';

/**
 * @param dev any device.
 * @returns the device or its nearest ancestor that is a PCI function, or `null`.
 * @kernel find_parent_pci_dev
 */
export function findParentPciDev(dev: Device): PciDev | null {
  for (let d: Device | null = dev; d !== null; d = d.parent) if (d instanceof PciDev) return d;
  return null;
}
