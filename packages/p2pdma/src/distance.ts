/**
 * Linux 6.6's peer-to-peer rules: the mapping type and distance of a provider/client pair, the
 * summed distance over several clients, and the choice of the closest published provider.
 *
 * A pair's nearest common upstream device decides. Same function: distance 0; two functions of
 * one device: 2; two devices below one switch: 4 (one more hop per switch level). No ACS
 * redirect (RR, CR or EC) on any device passed, the common one included: `BUS_ADDR`. ACS
 * redirect, or no common device at all (distance = both chains' lengths): the traffic crosses
 * the host bridge, `THRU_HOST_BRIDGE` when the CPU is AMD Zen or newer or the host bridge(s) are
 * whitelisted, `NOT_SUPPORTED` otherwise. Each result is cached in the provider's `map_types`
 * (never invalidated, as in 6.6), which the DMA mapping consults.
 *
 * Verbose calls print the kernel's warnings on the client: the ACS redirect pair of lines with
 * the exact `pci=disable_acs_redir=` list, and the "do not share an upstream bridge or
 * whitelisted host bridge" line. The whitelist's own `Host bridge not in P2PDMA whitelist` line
 * is printed (on the host bridge device) whenever ACS redirect was found, verbose or not, as 6.6
 * does.
 *
 * @kernel drivers/pci/p2pdma.c (calc_map_type_and_dist, pci_p2pdma_distance_many,
 *   pci_p2pdma_distance, pci_p2pmem_find_many, pci_p2pdma_map_type)
 */
import type { DevPagemap, Device, KernelRng } from '@p2pdma/kernel';
import { KernelBug, PAGE_SIZE } from '@p2pdma/kernel';
import { PCI_ANY_ID, PciDev, pciGetDevice } from '@p2pdma/pci-core';
import { findParentPciDev } from './internal/find-parent';
import type { P2pWalk } from './upstream-walk';
import { acsRedirList, p2pWalk } from './upstream-walk';
import { requirePolicy } from './internal/policy';
import type { P2pdmaKnownMapType } from './map-type';
import { PCI_P2PDMA_MAP_BUS_ADDR, PCI_P2PDMA_MAP_NOT_SUPPORTED, PCI_P2PDMA_MAP_THRU_HOST_BRIDGE } from './map-type';
import { mapTypesIdx, pciP2pdma, pciP2pdmaPagemapProvider } from './pci-p2pdma';
import { pciHasP2pmem } from './provider';
import { P2PDMA_STUBS } from './stubs';
import type { HostBridgeWhitelistResult } from './whitelist';
import { cpuSupportsP2pdma, hostBridgeWhitelist, hostBridgeWhitelistWarning } from './whitelist';

/**
 * Most equally close providers `pciP2pmemFindMany` keeps to choose from: one page of pointers
 * (4096 / 8), as 6.6 sizes its array.
 * @kernel pci_p2pmem_find_many (max_devs = PAGE_SIZE / sizeof(*closest_pdevs))
 */
export const P2PMEM_FIND_MANY_MAX_CANDIDATES = PAGE_SIZE / 8;

/** Everything the 6.6 rules decide for a pair, and why. */
export interface P2pDecision {
  /** The mapping type. */
  readonly mapType: P2pdmaKnownMapType;
  /** The distance (hops), also for `NOT_SUPPORTED` pairs. */
  readonly distance: number;
  /** The walk: common device, chains, ACS redirect culprits. */
  readonly walk: P2pWalk;
  /** The `pci=disable_acs_redir=` list, or `null` without culprits. */
  readonly acsRedirList: string | null;
  /** Whether the CPU rule allows host-bridge traffic. */
  readonly cpuSupports: boolean;
  /** The whitelist verdict, when it was consulted (traffic through the host bridge, CPU rule not met). */
  readonly whitelist: HostBridgeWhitelistResult | null;
}

/**
 * Decides a pair by the 6.6 rules, without printing or caching (the pure core shared by
 * `pciP2pdmaCalcMapType` and `checkP2p`).
 * @param provider the provider function.
 * @param client the client function.
 * @returns the decision.
 * @kernel calc_map_type_and_dist (decision only)
 */
export function p2pDecide(provider: PciDev, client: PciDev): P2pDecision {
  const walk = p2pWalk(provider, client);
  const distance = walk.distProvider + walk.distClient;
  const list = walk.common !== null && walk.acsRedirect.length > 0 ? acsRedirList(walk.acsRedirect) : null;
  if (walk.common !== null && list === null) {
    return { mapType: PCI_P2PDMA_MAP_BUS_ADDR, distance, walk, acsRedirList: null, cpuSupports: false, whitelist: null };
  }
  const cpuSupports = cpuSupportsP2pdma(provider.kernel);
  const whitelist = cpuSupports ? null : hostBridgeWhitelist(provider, client);
  const mapType = cpuSupports || whitelist?.ok === true ? PCI_P2PDMA_MAP_THRU_HOST_BRIDGE : PCI_P2PDMA_MAP_NOT_SUPPORTED;
  return { mapType, distance, walk, acsRedirList: list, cpuSupports, whitelist };
}

/**
 * Computes a pair's mapping type and distance, prints the warnings, and caches the type in the
 * provider's `map_types` (when the provider has p2pdma).
 * @param provider the provider.
 * @param client the client function.
 * @param verbose print the ACS and "cannot be used" warnings on the client.
 * @returns the type and distance.
 * @throws KernelBug under the `v2` policy.
 * @kernel calc_map_type_and_dist
 */
export function pciP2pdmaCalcMapType(provider: PciDev, client: PciDev, verbose: boolean): { mapType: P2pdmaKnownMapType; distance: number } {
  requirePolicy(provider.kernel, 'upstream', 'calc_map_type_and_dist');
  const d = p2pDecide(provider, client);
  const log = provider.kernel.log;
  if (verbose && d.acsRedirList !== null) {
    log.devWarn(client, `ACS redirect is set between the client and provider (${provider.name})`);
    log.devWarn(client, `to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=${d.acsRedirList}`);
  }
  if (d.whitelist !== null && d.acsRedirList !== null) {
    for (const c of d.whitelist.checks) {
      const w = hostBridgeWhitelistWarning(c);
      if (w !== null && c.root !== null) log.devWarn(c.root, w);
    }
  }
  if (verbose && d.mapType === PCI_P2PDMA_MAP_NOT_SUPPORTED) {
    log.devWarn(
      client,
      `cannot be used for peer-to-peer DMA as the client and provider (${provider.name}) do not share an upstream bridge or whitelisted host bridge`,
    );
  }
  pciP2pdma(provider)?.mapTypes.set(mapTypesIdx(client), d.mapType);
  return { mapType: d.mapType, distance: d.distance };
}

/**
 * The summed distance from a provider to several clients.
 * @param provider the provider.
 * @param clients the devices that will DMA (each resolved to its PCI device or PCI ancestor).
 * @param verbose print warnings for incompatible clients (and keep checking the others).
 * @returns the sum (0 when the only client is the provider itself), or -1 when there are no
 *   clients, a client has no PCI device (warned when verbose) or any pair is `NOT_SUPPORTED`;
 *   -1 with `CONFIG_PCI_P2PDMA` off.
 * @throws KernelBug under the `v2` policy.
 * @kernel pci_p2pdma_distance_many
 */
export function pciP2pdmaDistanceMany(provider: PciDev, clients: readonly Device[], verbose: boolean): number {
  const kernel = provider.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return P2PDMA_STUBS[kernel.policy].distance;
  requirePolicy(kernel, 'upstream', 'pci_p2pdma_distance_many');
  if (clients.length === 0) return -1;
  let notSupported = false;
  let total = 0;
  for (const c of clients) {
    const client = findParentPciDev(c);
    if (client === null) {
      if (verbose) kernel.log.devWarn(c, 'cannot be used for peer-to-peer DMA as it is not a PCI device');
      return -1;
    }
    const r = pciP2pdmaCalcMapType(provider, client, verbose);
    if (r.mapType === PCI_P2PDMA_MAP_NOT_SUPPORTED) notSupported = true;
    if (notSupported && !verbose) break;
    total += r.distance;
  }
  return notSupported ? -1 : total;
}

/**
 * The distance from a provider to one client.
 * @param provider the provider.
 * @param client the device that will DMA.
 * @param verbose print warnings.
 * @returns as `pciP2pdmaDistanceMany` with one client.
 * @kernel pci_p2pdma_distance
 */
export function pciP2pdmaDistance(provider: PciDev, client: Device, verbose: boolean): number {
  return pciP2pdmaDistanceMany(provider, [client], verbose);
}

/**
 * Finds the published provider closest to all clients. Ties are broken at random with the
 * kernel's seeded RNG among at most `P2PMEM_FIND_MANY_MAX_CANDIDATES` candidates (later equal
 * ones are ignored), in `pci_get_device` order.
 * @param clients the devices that will DMA (at least one, all of one kernel).
 * @returns the provider, or `null` when none is compatible (or no clients, or
 *   `CONFIG_PCI_P2PDMA` off).
 * @throws KernelBug under the `v2` policy.
 * @kernel pci_p2pmem_find_many
 */
export function pciP2pmemFindMany(clients: readonly Device[]): PciDev | null {
  const first = clients[0];
  if (first === undefined) return null;
  const kernel = first.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return null;
  requirePolicy(kernel, 'upstream', 'pci_p2pmem_find_many');
  let closest = Number.POSITIVE_INFINITY;
  let candidates: PciDev[] = [];
  for (let pdev = pciGetDevice(kernel, PCI_ANY_ID, PCI_ANY_ID, null); pdev !== null; pdev = pciGetDevice(kernel, PCI_ANY_ID, PCI_ANY_ID, pdev)) {
    if (!pciHasP2pmem(pdev)) continue;
    const distance = pciP2pdmaDistanceMany(pdev, clients, false);
    if (distance < 0 || distance > closest) continue;
    if (distance === closest && candidates.length >= P2PMEM_FIND_MANY_MAX_CANDIDATES) continue;
    if (distance < closest) {
      candidates = [];
      closest = distance;
    }
    candidates.push(pdev);
  }
  return chooseAtRandom(candidates, kernel.rng);
}

/**
 * The tie-break of `pciP2pmemFindMany`: one of the equally close candidates, drawn from the
 * kernel's RNG (no draw for a single candidate).
 * @param candidates the closest providers, in `pci_get_device` order (at most
 *   `P2PMEM_FIND_MANY_MAX_CANDIDATES`).
 * @param rng the kernel's RNG.
 * @returns the choice, or `null` for an empty list.
 * @kernel pci_p2pmem_find_many (get_random_u32_below(dev_cnt))
 */
export function chooseAtRandom<T>(candidates: readonly T[], rng: KernelRng): T | null {
  if (candidates.length === 0) return null;
  return candidates[candidates.length === 1 ? 0 : rng.int(0, candidates.length - 1)]!;
}

/**
 * The mapping type for DMA by `dev` to a P2PDMA pagemap's memory: the cached value, computed
 * (verbosely) on first use.
 * @param pgmap a pagemap from `pciP2pdmaAddResource`.
 * @param dev the DMA device.
 * @returns `NOT_SUPPORTED` when the provider has no p2pdma any more or `dev` is not a PCI
 *   function; otherwise the pair's type.
 * @throws KernelBug under the `v2` policy or for a pagemap that is not a P2PDMA one.
 * @kernel pci_p2pdma_map_type
 */
export function pciP2pdmaMapType(pgmap: DevPagemap, dev: Device): P2pdmaKnownMapType {
  const provider = pciP2pdmaPagemapProvider(pgmap);
  if (provider === null) throw new KernelBug(`pci_p2pdma_map_type: pagemap ${pgmap.describe()} is not a P2PDMA pagemap`);
  requirePolicy(provider.kernel, 'upstream', 'pci_p2pdma_map_type');
  const p2p = pciP2pdma(provider);
  if (p2p === null) return PCI_P2PDMA_MAP_NOT_SUPPORTED;
  if (!(dev instanceof PciDev)) return PCI_P2PDMA_MAP_NOT_SUPPORTED;
  const cached = p2p.mapTypes.get(mapTypesIdx(dev));
  if (cached !== undefined) return cached;
  return pciP2pdmaCalcMapType(provider, dev, true).mapType;
}
