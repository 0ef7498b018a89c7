/**
 * `struct pci_p2pdma`: a provider's peer-to-peer state, hung off its `pci_dev` (`pdev->p2pdma`)
 * by the first successful `pciP2pdmaAddResource` setup and dropped when the provider's devres
 * release finishes.
 *
 * It holds the pool p2pmem is allocated from (a gen_pool with page granularity whose "physical"
 * addresses are PCI bus addresses), the published flag, the 6.6 map-type cache (an xarray keyed
 * by the client's domain/bus/devfn), the pagemaps added, and, under the `v2` policy, the seed's
 * single `devmap_ref` shared by every pagemap with the completion its release waits for.
 *
 * The model adds what the kernel keeps implicit in a blocked thread: `lifecycle` (`removing`
 * while the release waits for outstanding allocations) and `released`, a completion that fires
 * once everything is gone.
 *
 * @kernel drivers/pci/p2pdma.c (struct pci_p2pdma, struct pci_p2pdma_pagemap)
 */
import type { DevPagemap, Kernel, P2pdmaPolicy } from '@p2pdma/kernel';
import { Completion, GenPool, PAGE_SHIFT, PercpuRef } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { pciSystem } from '@p2pdma/pci-core';
import type { P2pdmaKnownMapType } from './map-type';

/** Where a provider is in its life: live, waiting for its memory to come back, gone. */
export type P2pdmaLifecycle = 'live' | 'removing' | 'released';

/**
 * A provider's P2PDMA state. Created by `pciP2pdmaAddResource` only.
 * @kernel struct pci_p2pdma
 */
export class PciP2pdma {
  /** The p2pmem pool: page granularity; chunk "phys" addresses are bus addresses. @kernel pci_p2pdma.pool */
  readonly pool: GenPool;
  /** Whether `pci_p2pmem_find*` may hand the memory to other drivers. @kernel pci_p2pdma.p2pmem_published */
  published = false;
  /**
   * Cached mapping types by client index (`mapTypesIdx`). Entries are never invalidated, as in
   * 6.6. Unused under `v2`. @kernel pci_p2pdma.map_types
   */
  readonly mapTypes = new Map<number, P2pdmaKnownMapType>();
  /** The pagemaps added, in order. */
  readonly pagemaps: DevPagemap[] = [];
  /** `v2`: the one reference every pagemap shares (`null` under `upstream`). @kernel pci_p2pdma.devmap_ref (seed) */
  readonly devmapRef: PercpuRef | null;
  /** `v2`: completed by the ref's release; the devres release waits for it. @kernel pci_p2pdma.devmap_ref_done (seed) */
  readonly devmapRefDone: Completion | null;
  /** Live, removing (release waiting for outstanding allocations) or released. */
  lifecycle: P2pdmaLifecycle = 'live';
  /** Completed when the release has finished: pool destroyed, pages gone, `pdev->p2pdma` cleared. */
  readonly released = new Completion();
  /** Whether the `p2pmem/` sysfs group exists (the seed ignores a failure to create it). */
  sysfsGroupCreated = false;

  /**
   * @param pdev the provider.
   * @param policy the policy it was set up under.
   */
  constructor(
    readonly pdev: PciDev,
    readonly policy: P2pdmaPolicy,
  ) {
    this.pool = new GenPool(pdev.kernel, PAGE_SHIFT, -1);
    this.devmapRef = policy === 'v2' ? new PercpuRef(`${pdev.name} devmap_ref`, pdev.kernel.log) : null;
    this.devmapRefDone = policy === 'v2' ? new Completion() : null;
  }

  /** Bytes currently allocated from the pool. */
  get allocated(): number {
    return this.pool.size() - this.pool.avail();
  }
}

const p2pdmaOf = new WeakMap<PciDev, PciP2pdma>();
const providerOf = new WeakMap<DevPagemap, PciDev>();

/** Per kernel: the functions that have p2pdma state, and their states in `pci_get_device` order once asked. */
interface ProviderIndex {
  readonly set: Set<PciDev>;
  ordered: readonly PciP2pdma[] | null;
}
const providerIndex = new WeakMap<Kernel, ProviderIndex>();

/**
 * A function's P2PDMA state (`pdev->p2pdma`).
 * @param pdev the function.
 * @returns the state, or `null` when it provides no p2pmem (never set up, or released).
 * @kernel pci_dev.p2pdma
 */
export function pciP2pdma(pdev: PciDev): PciP2pdma | null {
  return p2pdmaOf.get(pdev) ?? null;
}

/** @internal sets or clears `pdev->p2pdma`. */
export function setPciP2pdma(pdev: PciDev, p2p: PciP2pdma | null): void {
  let index = providerIndex.get(pdev.kernel);
  if (index === undefined) {
    index = { set: new Set(), ordered: null };
    providerIndex.set(pdev.kernel, index);
  }
  index.ordered = null;
  if (p2p === null) {
    p2pdmaOf.delete(pdev);
    index.set.delete(pdev);
  } else {
    p2pdmaOf.set(pdev, p2p);
    index.set.add(pdev);
  }
}

/**
 * The p2pdma states of a kernel's functions (`pdev->p2pdma` set), in the functions'
 * `pci_get_device` order: what a walk over every PCI function filtering on `pdev->p2pdma` visits,
 * without the walk. Functions that are not in the kernel's PCI subsystem (never returned by
 * `pci_get_device`) are left out.
 * @param kernel the kernel.
 * @returns a shared array (do not mutate), rebuilt after any `setPciP2pdma`.
 * @internal used by `pciP2pmemFindMany`.
 */
export function pciP2pdmaStates(kernel: Kernel): readonly PciP2pdma[] {
  const index = providerIndex.get(kernel);
  if (index === undefined) return [];
  if (index.ordered === null) {
    const sys = pciSystem(kernel);
    index.ordered =
      sys === null
        ? []
        : [...index.set]
            .map((d) => ({ d, at: sys.deviceIndex(d) }))
            .filter((x) => x.at >= 0)
            .sort((a, b) => a.at - b.at)
            .map((x) => p2pdmaOf.get(x.d)!);
  }
  return index.ordered;
}

/**
 * Whether the provider's removal has started and is waiting for allocations to be freed (the
 * kernel's unbind thread blocked in `wait_for_completion` / `memunmap_pages`).
 * @param pdev the provider.
 * @returns `true` while removing; `false` when live or without p2pdma.
 */
export function pciP2pdmaRemovalPending(pdev: PciDev): boolean {
  return pciP2pdma(pdev)?.lifecycle === 'removing';
}

/**
 * The provider a P2PDMA pagemap belongs to.
 * @param pgmap a pagemap added by `pciP2pdmaAddResource`.
 * @returns the provider, or `null` for any other pagemap.
 * @kernel to_p2p_pgmap(pgmap)->provider
 */
export function pciP2pdmaPagemapProvider(pgmap: DevPagemap): PciDev | null {
  return providerOf.get(pgmap) ?? null;
}

/** @internal records a pagemap's provider. */
export function setPagemapProvider(pgmap: DevPagemap, pdev: PciDev): void {
  providerOf.set(pgmap, pdev);
}

/**
 * The map-type cache index of a client: domain, bus number and devfn.
 * @param client the client function.
 * @returns `domain << 16 | bus << 8 | devfn`.
 * @kernel map_types_idx
 */
export function mapTypesIdx(client: PciDev): number {
  // Multiplications, not shifts: PCI domains may exceed 0x7fff (VMD uses 0x10000 and up).
  return client.pciBus.domain * 2 ** 16 + client.pciBus.number * 2 ** 8 + client.devfn;
}
