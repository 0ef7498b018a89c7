/**
 * The 6.6 pair decision reduced to what most callers need, mapping type and distance, computed
 * on the cached upstream chains without building the walk (no arrays, no strings, no objects).
 * The full decision (`p2pDecide`) stays the reference: the same chains, the same meeting point,
 * the same ACS test on the same devices, the same CPU rule and whitelist verdict.
 *
 * @kernel drivers/pci/p2pdma.c (calc_map_type_and_dist)
 */
import type { PciDev } from '@p2pdma/pci-core';
import type { P2pdmaKnownMapType } from '../map-type';
import { PCI_P2PDMA_MAP_BUS_ADDR, PCI_P2PDMA_MAP_NOT_SUPPORTED, PCI_P2PDMA_MAP_THRU_HOST_BRIDGE } from '../map-type';
import { pciBridgeHasAcsRedir } from '../upstream-walk';
import { hostBridgesWhitelisted } from '../whitelist';
import { meetIndex } from './upstream-chain';

/** `decideQuick`'s answer for a pair with ACS redirect on its path when the caller asked for it. */
export const NEEDS_FULL_DECISION = -1;

/**
 * Whether a device on the path has ACS redirect: from the provider up to the common device
 * included, then from the client up to just below it (the devices `p2pWalk` tests).
 * @param up the provider's chain.
 * @param down the client's chain.
 * @param i the provider-side meeting index (not -1).
 * @returns `true` when one has RR, CR or EC set (read from config space now).
 */
export function pathHasAcsRedir(up: readonly PciDev[], down: readonly PciDev[], i: number): boolean {
  for (let k = 0; k <= i; k++) if (pciBridgeHasAcsRedir(up[k]!)) return true;
  const j = i + down.length - up.length;
  for (let k = 0; k < j; k++) if (pciBridgeHasAcsRedir(down[k]!)) return true;
  return false;
}

/**
 * A pair's mapping type and distance.
 * @param provider the provider.
 * @param up its upstream chain (`upstreamChain`).
 * @param client the client.
 * @param down its upstream chain.
 * @param cpuSupports `cpuSupportsP2pdma` of their kernel.
 * @param fullOnAcs return `NEEDS_FULL_DECISION` for a pair with ACS redirect on its path (the
 *   caller needs the culprit list and the whitelist's warnings).
 * @returns `distance * 4 + mapType` (decode with `quickMapType` / `quickDistance`), or
 *   `NEEDS_FULL_DECISION`.
 */
export function decideQuick(provider: PciDev, up: readonly PciDev[], client: PciDev, down: readonly PciDev[], cpuSupports: boolean, fullOnAcs: boolean): number {
  const i = meetIndex(up, down);
  let distance: number;
  if (i >= 0) {
    distance = 2 * i + down.length - up.length;
    if (!pathHasAcsRedir(up, down, i)) return distance * 4 + PCI_P2PDMA_MAP_BUS_ADDR;
    if (fullOnAcs) return NEEDS_FULL_DECISION;
  } else distance = up.length + down.length;
  const ok = cpuSupports || hostBridgesWhitelisted(provider.pciBus.hostBridge, client.pciBus.hostBridge);
  return distance * 4 + (ok ? PCI_P2PDMA_MAP_THRU_HOST_BRIDGE : PCI_P2PDMA_MAP_NOT_SUPPORTED);
}

/**
 * @param quick a `decideQuick` answer (not `NEEDS_FULL_DECISION`).
 * @returns its mapping type.
 */
export function quickMapType(quick: number): P2pdmaKnownMapType {
  return (quick & 3) as P2pdmaKnownMapType;
}

/**
 * @param quick a `decideQuick` answer (not `NEEDS_FULL_DECISION`).
 * @returns its distance.
 */
export function quickDistance(quick: number): number {
  return quick >> 2;
}
