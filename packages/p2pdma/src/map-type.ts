/**
 * P2PDMA mapping types: how a client must address a provider's memory.
 *
 * Linux 6.6 computes one per (provider, client) pair and caches it in the provider's
 * `map_types` xarray: `BUS_ADDR` (the devices share an upstream bridge with no ACS redirect on
 * the path: use the PCI bus address, traffic stays below that bridge), `THRU_HOST_BRIDGE` (the
 * traffic goes up through the root complex: use the normal DMA mapping, an IOVA under an IOMMU),
 * `NOT_SUPPORTED` (the root complex is not known to forward peer-to-peer). `UNKNOWN` marks a pair
 * not computed yet and is never returned by the public functions.
 *
 * @kernel include/linux/pci-p2pdma.h (enum pci_p2pdma_map_type)
 */

/** Not computed yet (an empty `map_types` slot). @kernel PCI_P2PDMA_MAP_UNKNOWN */
export const PCI_P2PDMA_MAP_UNKNOWN = 0;
/** The pair cannot do peer-to-peer DMA. @kernel PCI_P2PDMA_MAP_NOT_SUPPORTED */
export const PCI_P2PDMA_MAP_NOT_SUPPORTED = 1;
/** Use the PCI bus address; traffic stays below the common upstream bridge. @kernel PCI_P2PDMA_MAP_BUS_ADDR */
export const PCI_P2PDMA_MAP_BUS_ADDR = 2;
/** Use the normal DMA mapping; traffic crosses the host bridge. @kernel PCI_P2PDMA_MAP_THRU_HOST_BRIDGE */
export const PCI_P2PDMA_MAP_THRU_HOST_BRIDGE = 3;

/** A mapping type. @kernel enum pci_p2pdma_map_type */
export type P2pdmaMapType =
  | typeof PCI_P2PDMA_MAP_UNKNOWN
  | typeof PCI_P2PDMA_MAP_NOT_SUPPORTED
  | typeof PCI_P2PDMA_MAP_BUS_ADDR
  | typeof PCI_P2PDMA_MAP_THRU_HOST_BRIDGE;

/** A computed mapping type (never `UNKNOWN`). */
export type P2pdmaKnownMapType = Exclude<P2pdmaMapType, typeof PCI_P2PDMA_MAP_UNKNOWN>;

/** Mapping type → the kernel's enumerator name. */
export const P2PDMA_MAP_TYPE_NAMES: Readonly<Record<P2pdmaMapType, string>> = {
  [PCI_P2PDMA_MAP_UNKNOWN]: 'PCI_P2PDMA_MAP_UNKNOWN',
  [PCI_P2PDMA_MAP_NOT_SUPPORTED]: 'PCI_P2PDMA_MAP_NOT_SUPPORTED',
  [PCI_P2PDMA_MAP_BUS_ADDR]: 'PCI_P2PDMA_MAP_BUS_ADDR',
  [PCI_P2PDMA_MAP_THRU_HOST_BRIDGE]: 'PCI_P2PDMA_MAP_THRU_HOST_BRIDGE',
};

/** The mapping type as the CLI and JSON reports spell it. */
export type P2pMapKind = 'bus-addr' | 'thru-host-bridge' | 'not-supported';

/** Computed mapping type → its report spelling. */
export const P2PDMA_MAP_KIND: Readonly<Record<P2pdmaKnownMapType, P2pMapKind>> = {
  [PCI_P2PDMA_MAP_NOT_SUPPORTED]: 'not-supported',
  [PCI_P2PDMA_MAP_BUS_ADDR]: 'bus-addr',
  [PCI_P2PDMA_MAP_THRU_HOST_BRIDGE]: 'thru-host-bridge',
};
