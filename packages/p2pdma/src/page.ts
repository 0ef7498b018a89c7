/**
 * Recognising peer-to-peer pages: ZONE_DEVICE pages whose pagemap is of type
 * `MEMORY_DEVICE_PCI_P2PDMA`. The block layer, RDMA and NVMe use it to pick the P2P paths.
 * @kernel include/linux/memremap.h is_pci_p2pdma_page
 */
import type { Page } from '@p2pdma/kernel';
import { MEMORY_DEVICE_PCI_P2PDMA } from '@p2pdma/kernel';

/**
 * Whether a page is PCI peer-to-peer memory (a ZONE_DEVICE page of a `MEMORY_DEVICE_PCI_P2PDMA`
 * pagemap).
 * @param page a page.
 * @returns whether it is P2PDMA memory; always `false` with `CONFIG_PCI_P2PDMA` off (the
 *   header stub).
 * @kernel is_pci_p2pdma_page
 */
export function isPciP2pdmaPage(page: Page): boolean {
  if (!page.kernel.config.CONFIG_PCI_P2PDMA) return false;
  return page.pgmap !== null && page.pgmap.type === MEMORY_DEVICE_PCI_P2PDMA;
}
