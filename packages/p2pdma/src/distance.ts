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
 * Speed (the benchmark's `find_many_us`): upstream chains are cached per function (the tree is
 * fixed after enumeration), pairs are decided on them without building the walk unless ACS
 * redirect is on the path (then `p2pDecide` supplies the culprit list and the warnings), and
 * `pciP2pmemFindMany` visits the functions with p2pdma state in `pci_get_device` order instead
 * of every function. ACS control bits are read from config space on every decision.
 *
 * @kernel drivers/pci/p2pdma.c (calc_map_type_and_dist, pci_p2pdma_distance_many,
 *   pci_p2pdma_distance, pci_p2pmem_find_many, pci_p2pdma_map_type)
 */
import type { DevPagemap, Device, KernelRng } from '@p2pdma/kernel';
import { KernelBug, PAGE_SIZE } from '@p2pdma/kernel';
import { PciDev } from '@p2pdma/pci-core';
import { findParentPciDev } from './internal/find-parent';
import type { P2pWalk } from './upstream-walk';
import { acsRedirList, p2pWalk } from './upstream-walk';
import { decideQuick, NEEDS_FULL_DECISION, quickDistance, quickMapType } from './internal/quick-decision';
import { upstreamChain } from './internal/upstream-chain';
import { requirePolicy } from './internal/policy';
import type { P2pdmaKnownMapType } from './map-type';
import { PCI_P2PDMA_MAP_BUS_ADDR, PCI_P2PDMA_MAP_NOT_SUPPORTED, PCI_P2PDMA_MAP_THRU_HOST_BRIDGE } from './map-type';
import type { PciP2pdma } from './pci-p2pdma';
import { mapTypesIdx, pciP2pdma, pciP2pdmaPagemapProvider, pciP2pdmaStates } from './pci-p2pdma';
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
 * `calc_map_type_and_dist` with the kernel-wide facts already looked up (policy checked, CPU rule,
 * the provider's p2pdma state), so that `pciP2pmemFindMany` pays for them once per call.
 * @returns `distance * 4 + mapType` (no object per pair).
 */
function calcMapType(
  provider: PciDev,
  up: readonly PciDev[],
  client: PciDev,
  down: readonly PciDev[],
  verbose: boolean,
  cpuSupports: boolean,
  p2p: PciP2pdma | null,
  clientIdx: number,
): number {
  const quick = decideQuick(provider, up, client, down, cpuSupports, true);
  let mapType: P2pdmaKnownMapType;
  let distance: number;
  if (quick !== NEEDS_FULL_DECISION) {
    mapType = quickMapType(quick);
    distance = quickDistance(quick);
    if (verbose && mapType === PCI_P2PDMA_MAP_NOT_SUPPORTED) {
      provider.kernel.log.devWarn(
        client,
        `cannot be used for peer-to-peer DMA as the client and provider (${provider.name}) do not share an upstream bridge or whitelisted host bridge`,
      );
    }
  } else {
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
    mapType = d.mapType;
    distance = d.distance;
  }
  // Stored as xa_store does; an entry already holding this type is left as it is (same state).
  if (p2p !== null && p2p.mapTypes.get(clientIdx) !== mapType) p2p.mapTypes.set(clientIdx, mapType);
  return distance * 4 + mapType;
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
  const r = calcMapType(provider, upstreamChain(provider), client, upstreamChain(client), verbose, cpuSupportsP2pdma(provider.kernel), pciP2pdma(provider), mapTypesIdx(client));
  return { mapType: quickMapType(r), distance: quickDistance(r) };
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
  return distanceMany(provider, pciP2pdma(provider), upstreamChain(provider), clients, resolveClients(clients), verbose, cpuSupportsP2pdma(kernel));
}

/** Clients resolved to their PCI functions (`null` for none) with their upstream chains and `map_types` index. */
interface ResolvedClient {
  readonly pci: PciDev | null;
  readonly chain: readonly PciDev[];
  readonly idx: number;
}

function resolveClients(clients: readonly Device[]): ResolvedClient[] {
  return clients.map((c) => {
    const pci = findParentPciDev(c);
    return pci === null ? { pci, chain: [], idx: -1 } : { pci, chain: upstreamChain(pci), idx: mapTypesIdx(pci) };
  });
}

/**
 * `pci_p2pdma_distance_many` once the kernel-wide checks are done and the clients resolved to
 * their PCI functions (`findParentPciDev`, `null` for none), in order.
 */
function distanceMany(
  provider: PciDev,
  p2p: PciP2pdma | null,
  up: readonly PciDev[],
  clients: readonly Device[],
  resolved: readonly ResolvedClient[],
  verbose: boolean,
  cpuSupports: boolean,
): number {
  let notSupported = false;
  let total = 0;
  for (let k = 0; k < resolved.length; k++) {
    const { pci: client, chain, idx } = resolved[k]!;
    if (client === null) {
      if (verbose) provider.kernel.log.devWarn(clients[k]!, 'cannot be used for peer-to-peer DMA as it is not a PCI device');
      return -1;
    }
    const r = calcMapType(provider, up, client, chain, verbose, cpuSupports, p2p, idx);
    if (quickMapType(r) === PCI_P2PDMA_MAP_NOT_SUPPORTED) notSupported = true;
    if (notSupported && !verbose) break;
    total += quickDistance(r);
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
  // Looked up once per call rather than once per provider (pci_p2pdma_distance_many's own
  // checks: CONFIG_PCI_P2PDMA and the policy are already known to hold here).
  const resolved = resolveClients(clients);
  const cpuSupports = cpuSupportsP2pdma(kernel);
  // pci_get_device order over every function, keeping those with published p2pmem
  // (pci_has_p2pmem; CONFIG_PCI_P2PDMA is checked above): the index of functions with p2pdma
  // state visits the same ones in the same order without walking the rest.
  for (const p2p of pciP2pdmaStates(kernel)) {
    const pdev = p2p.pdev;
    if (!pdev.registered || !p2p.published) continue;
    const distance = distanceMany(pdev, p2p, upstreamChain(pdev), clients, resolved, false, cpuSupports);
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
