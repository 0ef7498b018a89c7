/**
 * The seed's (v2) client lists and provider search: a driver collects the devices that will DMA
 * to p2pmem, `pciP2pmemFind` picks the first published provider every one of them can reach, and
 * the list is bound to it; later clients must reach the same provider.
 *
 * "Can reach" is the seed's switch rule: the provider and the client must have the same bridge
 * two levels up (`get_upstream_bridge_port`), i.e. sit below the same switch. A provider on a
 * root port has none and is rejected with `not behind a PCI bridge`; ACS is not looked at (patch
 * 04 clears it at boot instead).
 *
 * An empty list: the seed's `upstream_bridges_match_list` returns an uninitialized `bool` then;
 * the model treats it as a match, so `pciP2pmemFind` on an empty list returns the first published
 * provider that is behind a switch.
 *
 * @kernel drivers/pci/p2pdma.c (seed v2: pci_p2pdma_add_client, pci_p2pdma_remove_client,
 *   pci_p2pdma_client_list_free, pci_p2pmem_find, upstream_bridges_match)
 */
import type { Device, Kernel, KResult } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { PCI_ANY_ID, pciGetDevice } from '@p2pdma/pci-core';
import { findParentPciDev } from './internal/find-parent';
import { requirePolicy } from './internal/policy';
import { getUpstreamBridgePort } from './internal/upstream-port';
import { pciP2pdma } from './pci-p2pdma';
import { P2PDMA_STUBS } from './stubs';

/**
 * One list entry.
 * @kernel struct pci_p2pdma_client (seed)
 */
export interface P2pdmaClient {
  /** The client's PCI device (the device added, or its PCI ancestor). */
  readonly client: PciDev;
  /** The provider the list is bound to, or `null` before `pciP2pmemFind`. */
  p2pdma: PciDev | null;
}

/**
 * A client list (the caller's `struct list_head`, protected by the caller's lock).
 * @kernel LIST_HEAD of struct pci_p2pdma_client (seed)
 */
export class P2pdmaClientList {
  /** The entries in order. Owned by the list functions. */
  readonly items: P2pdmaClient[] = [];

  /** @param kernel the kernel whose devices `pciP2pmemFind` searches. */
  constructor(readonly kernel: Kernel) {}

  /** The provider the list is bound to (the first entry's), or `null`. */
  get provider(): PciDev | null {
    return this.items[0]?.p2pdma ?? null;
  }

  /** The clients' PCI devices in order (a copy). */
  clients(): PciDev[] {
    return this.items.map((i) => i.client);
  }
}

/** The seed's switch rule for a pair, with the reason when it fails. */
export type V2SwitchMatch = 'same-switch' | 'provider-not-behind-switch' | 'client-not-behind-switch' | 'different-switch';

/**
 * The seed's compatibility rule, without logging: both functions must have the same bridge two
 * levels up (the same switch upstream port).
 * @param provider the provider.
 * @param client the client's PCI device.
 * @returns `'same-switch'`, or why not.
 * @kernel upstream_bridges_match (seed; its decision only)
 */
export function v2SwitchMatch(provider: PciDev, client: PciDev): V2SwitchMatch {
  const upstream = getUpstreamBridgePort(provider);
  if (upstream === null) return 'provider-not-behind-switch';
  const dmaUp = getUpstreamBridgePort(client);
  if (dmaUp === null) return 'client-not-behind-switch';
  return upstream === dmaUp ? 'same-switch' : 'different-switch';
}

/** Prints the seed's lines for a failed match (nothing for a match). */
function logMismatch(provider: PciDev, client: PciDev, m: V2SwitchMatch): void {
  const log = provider.kernel.log;
  if (m === 'provider-not-behind-switch') log.devWarn(provider, 'not behind a PCI bridge');
  else if (m === 'client-not-behind-switch') log.devDbg(client, 'not a PCI device behind a bridge');
  else if (m === 'different-switch') log.devDbg(client, 'does not reside on the same upstream bridge');
}

/**
 * The seed's compatibility rule for a provider and a client: both below the same switch.
 * Logs as the seed does (`not behind a PCI bridge` warning on the provider, debug lines on the
 * client).
 * @param provider the provider.
 * @param client the client's PCI device.
 * @returns whether they are compatible.
 * @kernel upstream_bridges_match (seed)
 */
export function upstreamBridgesMatch(provider: PciDev, client: PciDev): boolean {
  const m = v2SwitchMatch(provider, client);
  logMismatch(provider, client, m);
  return m === 'same-switch';
}

function upstreamBridgesMatchList(provider: PciDev, list: P2pdmaClientList): boolean {
  if (getUpstreamBridgePort(provider) === null) {
    logMismatch(provider, provider, 'provider-not-behind-switch');
    return false;
  }
  for (const item of list.items) {
    const m = v2SwitchMatch(provider, item.client);
    logMismatch(provider, item.client, m);
    if (m !== 'same-switch') return false;
  }
  return true;
}

/**
 * Adds a device to a client list.
 * @param list the list.
 * @param dev the device that will DMA (a PCI function, or a device below one: a block device,
 *   an RDMA device).
 * @returns `0`; `-ENODEV` when the device uses virtual DMA ops (`cannot be used for peer-to-peer
 *   DMA because the driver makes use of dma_virt_ops`) or has no PCI device (`cannot be used
 *   for peer-to-peer DMA as it is not a PCI device`), both warned on `dev`; `-EXDEV` when the
 *   list is bound to a provider the client is not below the same switch as. The list is
 *   unchanged on failure. With `CONFIG_PCI_P2PDMA` off: `0` and nothing is added (the stub).
 * @throws KernelBug under the `upstream` policy (6.6 has no client lists).
 * @kernel pci_p2pdma_add_client (seed)
 */
export function pciP2pdmaAddClient(list: P2pdmaClientList, dev: Device): KResult {
  const kernel = dev.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return P2PDMA_STUBS[kernel.policy].addClient;
  requirePolicy(kernel, 'v2', 'pci_p2pdma_add_client');
  if (dev.dmaOps === 'virt') {
    kernel.log.devWarn(dev, 'cannot be used for peer-to-peer DMA because the driver makes use of dma_virt_ops');
    return err('ENODEV');
  }
  const client = findParentPciDev(dev);
  if (client === null) {
    kernel.log.devWarn(dev, 'cannot be used for peer-to-peer DMA as it is not a PCI device');
    return err('ENODEV');
  }
  const bound = list.provider;
  if (bound !== null && !upstreamBridgesMatch(bound, client)) return err('EXDEV');
  list.items.push({ client, p2pdma: bound });
  return 0;
}

/**
 * Removes every entry for a device's PCI device.
 * @param list the list.
 * @param dev the device given to `pciP2pdmaAddClient`.
 * @kernel pci_p2pdma_remove_client (seed)
 */
export function pciP2pdmaRemoveClient(list: P2pdmaClientList, dev: Device): void {
  if (!dev.kernel.config.CONFIG_PCI_P2PDMA) return;
  const pdev = findParentPciDev(dev);
  if (pdev === null) return;
  for (let i = list.items.length - 1; i >= 0; i--) if (list.items[i]!.client === pdev) list.items.splice(i, 1);
}

/**
 * Empties a list.
 * @param list the list.
 * @kernel pci_p2pdma_client_list_free (seed)
 */
export function pciP2pdmaClientListFree(list: P2pdmaClientList): void {
  if (!list.kernel.config.CONFIG_PCI_P2PDMA) return;
  list.items.length = 0;
}

/**
 * Finds the first published provider, in `pci_get_device` order, below the same switch as
 * every client, and binds the list to it.
 * @param list the clients.
 * @returns the provider, or `null` when none is compatible (or `CONFIG_PCI_P2PDMA` off).
 * @throws KernelBug under the `upstream` policy.
 * @kernel pci_p2pmem_find (seed)
 */
export function pciP2pmemFind(list: P2pdmaClientList): PciDev | null {
  const kernel = list.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return null;
  requirePolicy(kernel, 'v2', 'pci_p2pmem_find');
  for (let pdev = pciGetDevice(kernel, PCI_ANY_ID, PCI_ANY_ID, null); pdev !== null; pdev = pciGetDevice(kernel, PCI_ANY_ID, PCI_ANY_ID, pdev)) {
    if (pciP2pdma(pdev)?.published !== true) continue;
    if (!upstreamBridgesMatchList(pdev, list)) continue;
    for (const item of list.items) item.p2pdma = pdev;
    return pdev;
  }
  return null;
}
