/**
 * Mapping p2pmem scatterlists for a DMA device.
 *
 * `v2` (seed patch 03), reproduced as written: 0 for devices with virtual DMA ops; otherwise every
 * entry's DMA address is `sg_phys − pgmap->pci_p2pdma_bus_offset`, where the offset is
 * bus address − CPU address of the BAR. Subtracting it is wrong whenever a host bridge
 * translates (offset ≠ 0): the address put on the wire is CPU + (CPU − bus) instead of the bus
 * address, and the DMA misses the BAR (6.6 adds the offset). Nothing is recorded, and unmapping
 * is a no-op.
 *
 * `upstream` (Linux 6.6, where `dma_map_sg` handles P2PDMA pages itself): by the pair's mapping
 * type (`pciP2pdmaMapType`, cached per provider): `BUS_ADDR` → bus address = phys + bus offset,
 * the entry marked `SG_DMA_BUS_ADDRESS`; `THRU_HOST_BRIDGE` → the normal DMA mapping (an IOVA when
 * the IOMMU is on); `NOT_SUPPORTED` → the mapping fails (`dma_map_sg` returns 0,
 * `dma_map_sgtable` -EREMOTEIO). Lists without P2PDMA pages are mapped normally. Unmapping undoes
 * only what was mapped: marked entries are unmarked, anything else goes to `dma_unmap_sg`.
 *
 * Not modelled: one list mixing bus-address entries with entries that need the normal mapping
 * (6.6 maps those around the bus-address ones); the model throws `KernelBug` for it.
 *
 * @kernel drivers/pci/p2pdma.c (seed pci_p2pdma_map_sg/unmap_sg; 6.6 pci_p2pdma_map_segment),
 *   kernel/dma/direct.c dma_direct_map_sg, drivers/iommu/dma-iommu.c iommu_dma_map_sg
 */
import type { Device, DmaDirection, KResult, P2pdmaPolicy, Scatterlist, SgTable } from '@p2pdma/kernel';
import { dmaMapSg, dmaUnmapSg, err, forEachSg, KernelBug, sgDmaIsBusAddress, sgDmaMarkBusAddress, sgDmaUnmarkBusAddress, sgPhys } from '@p2pdma/kernel';
import { pciP2pdmaMapType } from './distance';
import type { P2pdmaKnownMapType } from './map-type';
import { PCI_P2PDMA_MAP_BUS_ADDR, PCI_P2PDMA_MAP_NOT_SUPPORTED } from './map-type';
import { isPciP2pdmaPage } from './page';
import { P2PDMA_STUBS } from './stubs';

/** How an upstream mapping attempt ended. */
type MapOutcome = { kind: 'mapped'; count: number } | { kind: 'not-supported' } | { kind: 'failed' };

function collect(sgl: Scatterlist, nents: number): Scatterlist[] {
  const out: Scatterlist[] = [];
  forEachSg(sgl, nents, (s) => {
    out.push(s);
  });
  return out;
}

function mapSeed(dev: Device, sgl: Scatterlist, nents: number): number {
  if (dev.dmaOps === 'virt') return 0;
  forEachSg(sgl, nents, (s, i) => {
    const pgmap = s.page?.pgmap ?? null;
    if (pgmap === null) throw new KernelBug(`kernel NULL pointer dereference in pci_p2pdma_map_sg(${dev.name}): entry ${i} is not device memory (sg_page(s)->pgmap is NULL)`);
    s.dmaAddress = sgPhys(s) - pgmap.pciP2pdmaBusOffset;
    s.dmaLength = s.length;
  });
  return nents;
}

function mapUpstream(dev: Device, sgl: Scatterlist, nents: number, dir: DmaDirection): MapOutcome {
  const sgs = collect(sgl, nents);
  const types: Array<P2pdmaKnownMapType | 'ram'> = [];
  for (const s of sgs) {
    if (s.page === null) throw new KernelBug(`pci_p2pdma_map_sg(${dev.name}): an entry has no page`);
    types.push(isPciP2pdmaPage(s.page) ? pciP2pdmaMapType(s.page.pgmap!, dev) : 'ram');
  }
  if (types.includes(PCI_P2PDMA_MAP_NOT_SUPPORTED)) return { kind: 'not-supported' };
  const bus = types.filter((t) => t === PCI_P2PDMA_MAP_BUS_ADDR).length;
  if (bus === sgs.length) {
    for (const s of sgs) {
      s.dmaAddress = sgPhys(s) + s.page!.pgmap!.pciP2pdmaBusOffset;
      s.dmaLength = s.length;
      sgDmaMarkBusAddress(s);
    }
    return { kind: 'mapped', count: sgs.length };
  }
  if (bus > 0) throw new KernelBug(`pci_p2pdma_map_sg(${dev.name}): a list mixing bus-address and host-mapped entries is not modelled`);
  const count = dmaMapSg(dev, sgl, nents, dir);
  return count === 0 ? { kind: 'failed' } : { kind: 'mapped', count };
}

/** What one policy's map and unmap do. */
interface MapSgRules {
  /** Maps; returns the segment count, a not-supported verdict, or a failure. */
  map(dev: Device, sgl: Scatterlist, nents: number, dir: DmaDirection): MapOutcome;
  /** Undoes `map`. */
  unmap(dev: Device, sgl: Scatterlist, nents: number, dir: DmaDirection): void;
}

/**
 * The mapping per policy.
 * @kernel pci_p2pdma_map_sg/unmap_sg (seed patch 03) / dma_map_sg, dma_unmap_sg of P2PDMA pages (6.6)
 */
const MAP_SG_RULES: Readonly<Record<P2pdmaPolicy, MapSgRules>> = {
  v2: {
    map(dev, sgl, nents) {
      const count = mapSeed(dev, sgl, nents);
      return count === 0 ? { kind: 'failed' } : { kind: 'mapped', count };
    },
    unmap() {},
  },
  upstream: {
    map: mapUpstream,
    unmap(dev, sgl, nents, dir) {
      const sgs = collect(sgl, nents);
      if (sgs.every((s) => sgDmaIsBusAddress(s))) {
        for (const s of sgs) sgDmaUnmarkBusAddress(s);
        return;
      }
      dmaUnmapSg(dev, sgl, nents, dir);
    },
  },
};

/**
 * Maps a scatterlist of p2pmem (or, under `upstream`, any memory) for DMA by `dev`.
 * @param dev the device that will DMA.
 * @param sgl the first entry.
 * @param nents entries to map.
 * @param dir the direction.
 * @returns the number of DMA segments, or `0`: `v2` for virtual DMA ops; `upstream` for a
 *   `NOT_SUPPORTED` pair or a failed normal mapping; always with `CONFIG_PCI_P2PDMA` off.
 * @throws KernelBug under `v2` for an entry that is not device memory (the seed dereferences its
 *   NULL pgmap), and under `upstream` for a list mixing bus-address and host-mapped entries.
 * @kernel pci_p2pdma_map_sg (seed) / dma_map_sg of P2PDMA pages (6.6)
 */
export function pciP2pdmaMapSg(dev: Device, sgl: Scatterlist, nents: number, dir: DmaDirection): number {
  const kernel = dev.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return P2PDMA_STUBS[kernel.policy].mapSg;
  const r = MAP_SG_RULES[kernel.policy].map(dev, sgl, nents, dir);
  return r.kind === 'mapped' ? r.count : 0;
}

/**
 * `pciP2pdmaMapSg` for a table, with 6.6's `dma_map_sgtable` errors.
 * @param dev the device.
 * @param sgt the table (`sgt.nents` is set on success).
 * @param dir the direction.
 * @returns `0`; `-EREMOTEIO` for a `NOT_SUPPORTED` pair (`upstream`); `-EINVAL` when nothing was
 *   mapped otherwise (virtual DMA ops under `v2`, a failed normal mapping, `CONFIG_PCI_P2PDMA`
 *   off).
 * @kernel dma_map_sgtable (6.6)
 */
export function pciP2pdmaMapSgtable(dev: Device, sgt: SgTable, dir: DmaDirection): KResult {
  const kernel = dev.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return err('EINVAL');
  const r = MAP_SG_RULES[kernel.policy].map(dev, sgt.sgl, sgt.origNents, dir);
  if (r.kind === 'not-supported') return err('EREMOTEIO');
  if (r.kind === 'failed') return err('EINVAL');
  sgt.nents = r.count;
  return 0;
}

/**
 * Undoes `pciP2pdmaMapSg`.
 * @param dev the device passed to the map call.
 * @param sgl the same list.
 * @param nents the `nents` passed to the map call.
 * @param dir the same direction.
 * @kernel pci_p2pdma_unmap_sg (seed: a no-op) / dma_unmap_sg of P2PDMA pages (6.6)
 */
export function pciP2pdmaUnmapSg(dev: Device, sgl: Scatterlist, nents: number, dir: DmaDirection): void {
  const kernel = dev.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return;
  MAP_SG_RULES[kernel.policy].unmap(dev, sgl, nents, dir);
}
