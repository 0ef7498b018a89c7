/**
 * Seed patch 04: at enumeration, every function that is below a switch (it has a bridge two
 * levels up) and has an ACS capability gets P2P Request Redirect and Completion Redirect
 * cleared, and the standard ACS enable is skipped for it, so peer-to-peer requests between
 * downstream ports stay in the switch.
 *
 * The seed's Kconfig text says this puts "all devices behind any switch into the same IOMMU
 * group". With pci-core's 6.6-exact `pci_device_group` that is not what happens when the IOMMU
 * is on: the root port above the switch still gets ACS enabled and a single-function upstream
 * port counts as isolated, so each downstream port forms a group with the devices below it (the
 * behaviour the 2025 upstream patch "iommu: Compute iommu_groups properly for PCIe switches"
 * calls a bug). `pciSystem(kernel).iommuGroups()` shows the groups actually formed.
 *
 * @kernel drivers/pci/p2pdma.c (seed v2) pci_p2pdma_disable_acs, drivers/pci/pci.c pci_enable_acs
 */
import type { Kernel } from '@p2pdma/kernel';
import type { EnumerateHooks, PciDev } from '@p2pdma/pci-core';
import { PCI_ACS_CR, PCI_ACS_CTRL, PCI_ACS_RR, PCI_EXT_CAP_ID_ACS, pciFindExtCapability, pciReadConfigWord, pciWriteConfigWord } from '@p2pdma/pci-core';
import { requirePolicy } from './internal/policy';
import { getUpstreamBridgePort } from './internal/upstream-port';
import { P2PDMA_STUBS } from './stubs';

/**
 * Clears a function's ACS RR and CR when it is below a switch, logging
 * `disabling ACS flags for peer-to-peer DMA`.
 * @param pdev the function, during enumeration.
 * @returns `1` when the bits were cleared (the standard ACS enable is then skipped), `0` when the
 *   function is not below a switch or has no ACS capability (or `CONFIG_PCI_P2PDMA` is off).
 * @throws KernelBug under the `upstream` policy (6.6 has no such step).
 * @kernel pci_p2pdma_disable_acs (seed patch 04)
 */
export function pciP2pdmaDisableAcs(pdev: PciDev): 0 | 1 {
  const kernel = pdev.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return P2PDMA_STUBS[kernel.policy].disableAcs;
  requirePolicy(kernel, 'v2', 'pci_p2pdma_disable_acs');
  if (getUpstreamBridgePort(pdev) === null) return 0;
  const pos = pciFindExtCapability(pdev, PCI_EXT_CAP_ID_ACS);
  if (pos === 0) return 0;
  kernel.log.devInfo(pdev, 'disabling ACS flags for peer-to-peer DMA');
  const ctrl = pciReadConfigWord(pdev, pos + PCI_ACS_CTRL) & ~(PCI_ACS_RR | PCI_ACS_CR);
  pciWriteConfigWord(pdev, pos + PCI_ACS_CTRL, ctrl);
  return 1;
}

/**
 * The enumeration hooks the P2PDMA layer contributes to a kernel: patch 04's ACS step when the
 * policy is `v2` and `CONFIG_PCI_P2PDMA` is on, nothing otherwise. Pass the result to pci-core's
 * `enumerate(kernel, spec, hooks)`.
 * @param kernel the kernel about to be enumerated.
 * @returns the hooks.
 * @kernel pci_enable_acs (the seed's call to pci_p2pdma_disable_acs)
 */
export function p2pdmaEnumerationHooks(kernel: Kernel): EnumerateHooks {
  if (kernel.policy !== 'v2' || !kernel.config.CONFIG_PCI_P2PDMA) return {};
  return { enableAcs: (dev: PciDev) => pciP2pdmaDisableAcs(dev) === 1 };
}
