/**
 * Upstream chains, cached: a function followed by each `pci_upstream_bridge` above it, up to the
 * function on a root bus. The PCI tree is fixed once enumeration has returned (buses, their
 * bridges and a VF's physical function never change afterwards), so a chain is computed once
 * per function and shared by every later walk. ACS control bits are NOT part of the cache: they
 * are read from config space on every decision.
 *
 * @kernel drivers/pci/p2pdma.c (the pci_upstream_bridge loops of calc_map_type_and_dist)
 */
import type { PciDev } from '@p2pdma/pci-core';
import { pciUpstreamBridge } from '@p2pdma/pci-core';

const chains = new WeakMap<PciDev, readonly PciDev[]>();

/**
 * The function and its upstream bridges, nearest first.
 * @param dev a function of an enumerated PCI subsystem.
 * @returns the shared chain (never mutate it): `[dev, pci_upstream_bridge(dev), ...]`.
 */
export function upstreamChain(dev: PciDev): readonly PciDev[] {
  let c = chains.get(dev);
  if (c === undefined) {
    const out: PciDev[] = [];
    for (let d: PciDev | null = dev; d !== null; d = pciUpstreamBridge(d)) out.push(d);
    c = out;
    chains.set(dev, c);
  }
  return c;
}

/**
 * Where two chains meet: the index in each of the nearest device on both. Chains of one tree
 * share their top part, so the nearest common device is the lowest of their common suffix (the
 * kernel finds the same device by looking up each provider-side device on the client's chain).
 * @param up the provider's chain.
 * @param down the client's chain.
 * @returns the provider-side index (hops from the provider), or -1 when the chains share nothing;
 *   the client-side index is `down.length - up.length + i`.
 */
export function meetIndex(up: readonly PciDev[], down: readonly PciDev[]): number {
  let i = up.length - 1;
  let j = down.length - 1;
  if (up[i] !== down[j]) return -1;
  while (i > 0 && j > 0 && up[i - 1] === down[j - 1]) {
    i--;
    j--;
  }
  return i;
}
