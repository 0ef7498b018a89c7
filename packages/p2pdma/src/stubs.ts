/**
 * What every entry point returns when `CONFIG_PCI_P2PDMA` is off: the `static inline` stubs of
 * `include/linux/pci-p2pdma.h`, per policy (the seed's header for `v2`, Linux 6.6's for
 * `upstream`). The functions check the config first and return these values; nothing else
 * happens (no log line, no state).
 *
 * Differences worth knowing: the seed's `pci_p2pdma_add_resource` stub returns 0 (a driver
 * believes its memory was registered), 6.6's returns -EOPNOTSUPP. 6.6 returns `NULL` from
 * `pci_p2pmem_alloc_sgl`; the model's int-style API reports it as -ENODEV, as the seed's stub
 * does.
 *
 * @kernel include/linux/pci-p2pdma.h (the `#else` branch of `#ifdef CONFIG_PCI_P2PDMA`)
 */
import type { KResult, P2pdmaPolicy } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';

/** The stub results of one header. */
export interface P2pdmaStubs {
  /** The header the values come from. */
  readonly header: string;
  /** `pci_p2pdma_add_resource`. */
  readonly addResource: KResult;
  /** `pci_p2pdma_add_client` (v2 only; 6.6 has no client lists). */
  readonly addClient: KResult;
  /** `pci_p2pmem_alloc_sgl`. */
  readonly allocSgl: KResult;
  /** `pci_p2pdma_map_sg` / `dma_map_sg` of P2P pages. */
  readonly mapSg: number;
  /** `pci_p2pdma_distance_many` (upstream only; the model answers -1 under v2 too). */
  readonly distance: number;
  /** `pci_p2pmem_virt_to_bus`. */
  readonly virtToBus: number;
  /** `pci_p2pdma_disable_acs` (v2 patch 04). */
  readonly disableAcs: 0;
}

/**
 * The stubs per policy. Functions returning `NULL`/`false` or nothing (`find`, `alloc`, `free`,
 * `publish`, `has_p2pmem`, `remove_client`, `client_list_free`, `free_sgl`, `unmap_sg`,
 * `is_pci_p2pdma_page`) are not listed: they return `null`/`false`/nothing in both.
 * @kernel include/linux/pci-p2pdma.h (seed patch 01-04; v6.6)
 */
export const P2PDMA_STUBS: Readonly<Record<P2pdmaPolicy, P2pdmaStubs>> = {
  v2: {
    header: 'seed v2 include/linux/pci-p2pdma.h',
    addResource: 0,
    addClient: 0,
    allocSgl: err('ENODEV'),
    mapSg: 0,
    distance: -1,
    virtToBus: 0,
    disableAcs: 0,
  },
  upstream: {
    header: 'Linux 6.6 include/linux/pci-p2pdma.h',
    addResource: err('EOPNOTSUPP'),
    addClient: 0,
    allocSgl: err('ENODEV'),
    mapSg: 0,
    distance: -1,
    virtToBus: 0,
    disableAcs: 0,
  },
};
