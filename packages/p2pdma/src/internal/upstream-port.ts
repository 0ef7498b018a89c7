/**
 * The seed's switch test: the bridge two levels above a function. For a device below a switch
 * downstream port that is the switch's upstream port; for a device on a root port (or on a root
 * bus) there is none, which is how the v2 policy rejects peers that are not behind a switch.
 * @kernel drivers/pci/p2pdma.c (seed v2) get_upstream_bridge_port
 */
import type { PciDev } from '@p2pdma/pci-core';
import { pciUpstreamBridge } from '@p2pdma/pci-core';

/**
 * @param pdev a function.
 * @returns `pci_upstream_bridge(pci_upstream_bridge(pdev))`, or `null`.
 * @kernel get_upstream_bridge_port (seed v2)
 */
export function getUpstreamBridgePort(pdev: PciDev): PciDev | null {
  const up1 = pciUpstreamBridge(pdev);
  return up1 === null ? null : pciUpstreamBridge(up1);
}
