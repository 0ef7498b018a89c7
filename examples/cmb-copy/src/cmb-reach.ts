/**
 * Whether the drives of a copy may DMA to a CMB, by the kernel's P2PDMA policy: what an
 * orchestrator (like nvmet's patch 10) asks before handing p2pmem to a device.
 *
 * @kernel pci_p2pdma_add_client / pci_p2pmem_find (v2, seed patch 01); pci_p2pdma_distance_many
 *   (Linux 6.6)
 */
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import { errnoName } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { P2pdmaClientList, pciP2pdmaAddClient, pciP2pdmaClientListFree, pciP2pdmaDistanceMany, pciP2pmemFind } from '@p2pdma/p2pdma';

/**
 * Per policy: `null` when every client can use the provider's p2pmem, else why not (in the
 * kernel's terms). The v2 check builds a client list and asks `pci_p2pmem_find` (the seed's only
 * way to choose a provider: the first published one below the same switch), so it also fails
 * when that search would pick another provider. The upstream check is the summed distance.
 */
export const CMB_REACH: Readonly<Record<P2pdmaPolicy, (provider: PciDev, clients: readonly PciDev[]) => string | null>> = {
  v2: (provider, clients) => {
    const list = new P2pdmaClientList(provider.kernel);
    try {
      for (const c of clients) {
        const rc = pciP2pdmaAddClient(list, c);
        if (rc !== 0) return `pci_p2pdma_add_client(${c.name}) failed: -${errnoName(rc) ?? -rc}`;
      }
      const found = pciP2pmemFind(list);
      return found === provider ? null : `pci_p2pmem_find picked ${found === null ? 'no provider' : found.name}, not ${provider.name}`;
    } finally {
      pciP2pdmaClientListFree(list);
    }
  },
  upstream: (provider, clients) =>
    pciP2pdmaDistanceMany(provider, clients, true) < 0 ? `pci_p2pdma_distance_many(${provider.name}, ${clients.map((c) => c.name).join(' ')}) is -1 (not supported)` : null,
};
