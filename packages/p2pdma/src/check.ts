/**
 * Answers about a topology without building a kernel by hand: can these devices do P2P DMA,
 * which provider would be chosen, and the pairwise matrix. The CLI's `check`, `find` and
 * `matrix` commands are thin shells over `checkP2p`, `findP2p` and `p2pMatrix`.
 *
 * Each call boots a fresh `Kernel` for the topology (its RAM, the IOMMU setting, the command
 * line, the policy), enumerates it with the P2PDMA enumeration hooks (so `v2` clears ACS as patch
 * 04 does and the IOMMU enables ACS where the kernel would), and applies the package's own rule
 * code to the functions: `p2pDecide` (6.6) or `v2SwitchMatch` (seed). The kernel's warnings are
 * reported as it would print them (a verbose `calc_map_type_and_dist`, or the seed's match).
 *
 * Results are data: `{ ok: true, ... }`, or `{ ok: false, error }` naming the bad input (an
 * unknown or malformed BDF, a topology enumeration refuses, a bad command line).
 *
 * @kernel drivers/pci/p2pdma.c (as used by `p2pdma check/find/matrix`)
 */
import type { LogLine, P2pdmaPolicy } from '@p2pdma/kernel';
import { Kernel } from '@p2pdma/kernel';
import type { PciDev, PciSubsystem, TopologySpec } from '@p2pdma/pci-core';
import { enumerate, kernelOptionsForTopology, normalizeBdf, PCI_CLASS_HOST_BRIDGE } from '@p2pdma/pci-core';
import { p2pdmaEnumerationHooks } from './acs';
import type { V2SwitchMatch } from './client-list';
import { upstreamBridgesMatch, v2SwitchMatch } from './client-list';
import type { P2pDecision } from './distance';
import { chooseAtRandom, P2PMEM_FIND_MANY_MAX_CANDIDATES, p2pDecide, pciP2pdmaCalcMapType } from './distance';
import type { P2pWalk } from './upstream-walk';
import { p2pWalk } from './upstream-walk';
import { decideQuick, quickDistance, quickMapType } from './internal/quick-decision';
import { upstreamChain } from './internal/upstream-chain';
import { getUpstreamBridgePort } from './internal/upstream-port';
import type { P2pdmaKnownMapType, P2pMapKind } from './map-type';
import { P2PDMA_MAP_KIND, PCI_P2PDMA_MAP_BUS_ADDR, PCI_P2PDMA_MAP_NOT_SUPPORTED } from './map-type';
import { cpuSupportsP2pdma, hexId } from './whitelist';

/** The fix for a pair that needs a common switch. */
export const FIX_NEEDS_SWITCH = 'needs a PCIe switch above both devices';

/** Options every query takes. */
export interface P2pQueryOptions {
  /** The rules: `'v2'` (the seed) or `'upstream'` (Linux 6.6, the default). */
  readonly policy?: P2pdmaPolicy;
  /** IOMMU on or off (default: the topology's `iommu`). With it on, ACS is enabled at boot. */
  readonly iommu?: boolean;
  /** Kernel command line, e.g. `pci=disable_acs_redir=0000:02:08.0`. */
  readonly cmdline?: string;
  /** Seed of the kernel's RNG (the tie-break among equally close providers). */
  readonly seed?: number;
}

/** What `checkP2p` checks. */
export interface CheckP2pOptions extends P2pQueryOptions {
  /** The provider's BDF (`0000:06:00.0` or `06:00.0`). */
  readonly provider: string;
  /** The clients' BDFs. */
  readonly clients: readonly string[];
}

/** The verdict for one client. */
export interface CheckP2pClient {
  /** The client's BDF. */
  readonly client: string;
  /** How the client would address the provider's memory. */
  readonly mapType: P2pMapKind;
  /** Hops (6.6 rules; also for `not-supported`), or `null` under `v2`. */
  readonly distance: number | null;
  /**
   * The devices from the client up to the common upstream device and down to the provider; with
   * none, up to the top, the host bridge(s) (`pci0000:00`), then down to the provider.
   */
  readonly path: readonly string[];
  /** Devices on the path with ACS redirect (RR, CR or EC) set, in the kernel's order. */
  readonly acsRedirect: readonly string[];
  /**
   * What would make the pair work or work better: `pci=disable_acs_redir=<list>`,
   * `needs a PCIe switch above both devices`, `host bridge <bdf> [vvvv:dddd] is not whitelisted
   * for peer-to-peer`; `null` when nothing is needed.
   */
  readonly fix: string | null;
  /** One sentence: why this verdict. */
  readonly reason: string;
}

/** `checkP2p`'s answer. */
export interface CheckP2pReport {
  /** The query succeeded. */
  readonly ok: true;
  /** The rules applied. */
  readonly policy: P2pdmaPolicy;
  /** The provider's BDF. */
  readonly provider: string;
  /** Whether every client can use the provider. */
  readonly supported: boolean;
  /** 6.6: the summed distance, -1 when any client is not supported; `null` under `v2`. */
  readonly totalDistance: number | null;
  /** Per client, in the order given. */
  readonly clients: readonly CheckP2pClient[];
  /** The kernel's lines for these checks (warnings, and the seed's debug lines), plus model notes. */
  readonly warnings: readonly string[];
}

/** A refused query. */
export interface P2pQueryError {
  /** The query was refused. */
  readonly ok: false;
  /** What is wrong, naming the input. */
  readonly error: string;
}

/** `checkP2p`'s result. */
export type CheckP2pResult = CheckP2pReport | P2pQueryError;

interface Session {
  readonly kernel: Kernel;
  readonly sys: PciSubsystem;
  readonly policy: P2pdmaPolicy;
  readonly name: string;
}

function boot(spec: TopologySpec, opts: P2pQueryOptions): Session | P2pQueryError {
  const policy = opts.policy ?? 'upstream';
  const name = spec.name ?? 'topology';
  let kernel: Kernel;
  try {
    kernel = new Kernel({
      ...kernelOptionsForTopology(spec),
      policy,
      ...(opts.iommu !== undefined ? { iommu: opts.iommu } : {}),
      ...(opts.cmdline !== undefined ? { cmdline: opts.cmdline } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    });
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  const sys = enumerate(kernel, spec, p2pdmaEnumerationHooks(kernel));
  if ('error' in sys) return { ok: false, error: sys.error.message };
  return { kernel, sys, policy, name };
}

function resolve(s: Session, bdf: string, role: string): PciDev | P2pQueryError {
  if (normalizeBdf(bdf) === null) return { ok: false, error: `${role} '${bdf}' is not a PCI address (expected [dddd:]bb:dd.f)` };
  const d = s.sys.findByBdf(bdf);
  if (d === null) return { ok: false, error: `${role} '${bdf}' is not a function of topology '${s.name}'` };
  return d;
}

function isError(x: unknown): x is P2pQueryError {
  return typeof x === 'object' && x !== null && (x as { ok?: unknown }).ok === false;
}

/** Client up to the common device, then down to the provider (or through the host bridges). */
function pathOf(walk: P2pWalk): string[] {
  const up = walk.clientChain.map((d) => d.name);
  const down = walk.providerChain.map((d) => d.name).reverse();
  if (walk.common !== null) return [...up, ...down.slice(1)];
  const hbClient = walk.clientChain[0]!.pciBus.hostBridge;
  const hbProvider = walk.providerChain[0]!.pciBus.hostBridge;
  const hbs = hbClient === hbProvider ? [hbClient.name] : [hbClient.name, hbProvider.name];
  return [...up, ...hbs, ...down];
}

function idOf(d: PciDev): string {
  return `[${hexId(d.vendor)}:${hexId(d.device)}]`;
}

/** Fix and reason for a 6.6 decision. */
function explainUpstream(provider: PciDev, client: PciDev, d: P2pDecision): { fix: string | null; reason: string } {
  const w = d.walk;
  const viaCpu = 'the CPU (AMD family 0x17 or newer) forwards peer-to-peer through its root complex';
  if (d.mapType === PCI_P2PDMA_MAP_BUS_ADDR) {
    if (provider === client) return { fix: null, reason: 'the provider and the client are the same function: bus address, distance 0' };
    return {
      fix: null,
      reason: `the devices meet at ${w.common!.name} with no ACS redirect on the path: bus addresses, the traffic stays below it (distance ${d.distance})`,
    };
  }
  if (d.acsRedirList !== null) {
    const culprits = w.acsRedirect.map((x) => x.name).join(', ');
    const fix = `pci=disable_acs_redir=${d.acsRedirList}`;
    if (d.mapType === PCI_P2PDMA_MAP_NOT_SUPPORTED) {
      return { fix, reason: `ACS redirect on ${culprits} sends the traffic up to the host bridge, which is not known to forward peer-to-peer` };
    }
    const how = d.cpuSupports ? viaCpu : 'the host bridge is whitelisted';
    return { fix, reason: `ACS redirect on ${culprits} sends the traffic through the host bridge (${how}); clearing it keeps the traffic below ${w.common!.name}` };
  }
  if (d.mapType !== PCI_P2PDMA_MAP_NOT_SUPPORTED) {
    const how = d.cpuSupports ? viaCpu : 'the host bridge is whitelisted for peer-to-peer';
    return { fix: null, reason: `no common upstream bridge: the traffic crosses the root complex, and ${how}` };
  }
  const failed = d.whitelist?.checks.find((c) => !c.ok);
  if (failed === undefined || failed.root === null) {
    const hb = failed?.hostBridge.name ?? client.pciBus.hostBridge.name;
    return { fix: FIX_NEEDS_SWITCH, reason: `no common upstream bridge, and host bridge ${hb} has no device (00.0 or a first root port) to look up in the whitelist` };
  }
  if (failed.entry === null && (failed.root.vendor === null || failed.root.device === null)) {
    // An lspci dump taken without -nn: the model cannot look the bridge up, the kernel could.
    return {
      fix: `host bridge ${failed.root.name} has no vendor/device IDs in the input (capture lspci with -nn) so the whitelist cannot be checked`,
      reason: `no common upstream bridge, and host bridge ${failed.root.name}'s IDs are unknown: the model treats it as not whitelisted, the kernel would look up its real IDs`,
    };
  }
  if (failed.entry === null) {
    return {
      fix: `host bridge ${failed.root.name} ${idOf(failed.root)} is not whitelisted for peer-to-peer`,
      reason: `no common upstream bridge, and host bridge ${failed.root.name} ${idOf(failed.root)} is not known to forward peer-to-peer`,
    };
  }
  return {
    fix: FIX_NEEDS_SWITCH,
    reason: `host bridge ${failed.root.name} ${idOf(failed.root)} (${failed.entry.platform}) is whitelisted only within one host bridge; the devices are below different host bridges`,
  };
}

const V2_REASONS: Readonly<Record<V2SwitchMatch, (p: PciDev, c: PciDev) => string>> = {
  'same-switch': (p) => `both devices are below the switch whose upstream port is ${getUpstreamBridgePort(p)!.name} (seed rule)`,
  'provider-not-behind-switch': (p) => `the provider ${p.name} is not behind a switch (seed rule: both devices below one PCIe switch)`,
  'client-not-behind-switch': (_p, c) => `the client ${c.name} is not behind a switch (seed rule: both devices below one PCIe switch)`,
  'different-switch': (p, c) =>
    `the provider is below the switch of ${getUpstreamBridgePort(p)!.name}, the client below ${getUpstreamBridgePort(c)!.name} (seed rule: the same switch)`,
};

interface PairVerdict {
  readonly entry: CheckP2pClient;
  readonly supported: boolean;
  readonly notes: string[];
}

/** The verdict for one pair under the session's policy (no kernel lines). */
function verdict(s: Session, provider: PciDev, client: PciDev): PairVerdict {
  if (s.policy === 'v2') {
    const m = v2SwitchMatch(provider, client);
    const walk = p2pWalk(provider, client);
    const ok = m === 'same-switch';
    const notes =
      ok && walk.acsRedirect.length > 0
        ? [
            `${client.name}: ACS redirect is set on ${walk.acsRedirect.map((d) => d.name).join(', ')}; the seed maps bus addresses regardless, so this traffic is redirected to the root complex`,
          ]
        : [];
    return {
      supported: ok,
      notes,
      entry: {
        client: client.name,
        mapType: ok ? 'bus-addr' : 'not-supported',
        distance: null,
        path: pathOf(walk),
        acsRedirect: walk.acsRedirect.map((d) => d.name),
        fix: ok ? null : FIX_NEEDS_SWITCH,
        reason: V2_REASONS[m](provider, client),
      },
    };
  }
  const d = p2pDecide(provider, client);
  const { fix, reason } = explainUpstream(provider, client, d);
  return {
    supported: d.mapType !== PCI_P2PDMA_MAP_NOT_SUPPORTED,
    notes: [],
    entry: {
      client: client.name,
      mapType: P2PDMA_MAP_KIND[d.mapType],
      distance: d.distance,
      path: pathOf(d.walk),
      acsRedirect: d.walk.acsRedirect.map((x) => x.name),
      fix,
      reason,
    },
  };
}

/** The kernel's own lines for a pair: a verbose 6.6 calculation, or the seed's match. */
function kernelLines(s: Session, provider: PciDev, client: PciDev): string[] {
  const lines: LogLine[] = [];
  const stop = s.kernel.log.subscribe((l) => lines.push(l));
  try {
    if (s.policy === 'v2') upstreamBridgesMatch(provider, client);
    else pciP2pdmaCalcMapType(provider, client, true);
  } finally {
    stop();
  }
  return lines.map((l) => l.text);
}

/**
 * Checks whether clients can use a provider's memory, and why.
 * @param spec the topology.
 * @param opts the provider, the clients, and the policy / IOMMU / command line.
 * @returns the report, or an error naming an unknown or malformed BDF, an empty client list, a
 *   topology that cannot be enumerated or a bad command line.
 * @kernel calc_map_type_and_dist + pci_p2pdma_distance_many (6.6) / upstream_bridges_match (seed)
 */
export function checkP2p(spec: TopologySpec, opts: CheckP2pOptions): CheckP2pResult {
  if (opts.clients.length === 0) return { ok: false, error: 'no clients given: name at least one client BDF' };
  const s = boot(spec, opts);
  if (isError(s)) return s;
  const provider = resolve(s, opts.provider, 'provider');
  if (isError(provider)) return provider;
  const clients: PciDev[] = [];
  for (const c of opts.clients) {
    const d = resolve(s, c, 'client');
    if (isError(d)) return d;
    clients.push(d);
  }
  const results: CheckP2pClient[] = [];
  const warnings: string[] = [];
  let supported = true;
  let total = 0;
  for (const client of clients) {
    const v = verdict(s, provider, client);
    results.push(v.entry);
    warnings.push(...kernelLines(s, provider, client), ...v.notes);
    supported &&= v.supported;
    total += v.entry.distance ?? 0;
  }
  return {
    ok: true,
    policy: s.policy,
    provider: provider.name,
    supported,
    totalDistance: s.policy === 'v2' ? null : supported ? total : -1,
    clients: results,
    warnings,
  };
}

/** One provider considered by `findP2p`. */
export interface FindP2pCandidate {
  /** The provider's BDF. */
  readonly provider: string;
  /** Whether every client can use it. */
  readonly supported: boolean;
  /** 6.6: summed distance (-1 when not supported); `null` under `v2`. */
  readonly totalDistance: number | null;
}

/** `findP2p`'s answer. */
export interface FindP2pReport {
  /** The query succeeded. */
  readonly ok: true;
  /** The rules applied. */
  readonly policy: P2pdmaPolicy;
  /** The clients' BDFs. */
  readonly clients: readonly string[];
  /** Every provider considered, in `pci_get_device` order. */
  readonly candidates: readonly FindP2pCandidate[];
  /** 6.6: the equally closest supported providers (at most 512); `v2`: the first compatible one. */
  readonly closest: readonly string[];
  /** The provider the kernel would pick (6.6: at random among `closest`, from the seeded RNG). */
  readonly chosen: string | null;
}

/** `findP2p`'s result. */
export type FindP2pResult = FindP2pReport | P2pQueryError;

/** Functions that would publish p2pmem: a `p2pmem` hint or an NVMe CMB in the topology. */
function defaultProviders(sys: PciSubsystem): PciDev[] {
  return sys.deviceList.filter((d) => d.spec.p2pmem !== undefined || d.spec.nvme?.cmb !== undefined);
}

/**
 * Picks the provider for a set of clients as the kernel would (`pci_p2pmem_find_many` under
 * 6.6, `pci_p2pmem_find` under the seed), among providers that would publish memory.
 * @param spec the topology.
 * @param clients the clients' BDFs (at least one).
 * @param providers the candidate providers' BDFs (default: every function with a `p2pmem` hint
 *   or an NVMe CMB in the topology).
 * @param opts policy, IOMMU, command line, RNG seed.
 * @returns the report, or an error naming a bad BDF or topology.
 * @kernel pci_p2pmem_find_many (6.6) / pci_p2pmem_find (seed)
 */
export function findP2p(spec: TopologySpec, clients: readonly string[], providers?: readonly string[], opts: P2pQueryOptions = {}): FindP2pResult {
  if (clients.length === 0) return { ok: false, error: 'no clients given: name at least one client BDF' };
  const s = boot(spec, opts);
  if (isError(s)) return s;
  const cs: PciDev[] = [];
  for (const c of clients) {
    const d = resolve(s, c, 'client');
    if (isError(d)) return d;
    cs.push(d);
  }
  let ps: PciDev[];
  if (providers === undefined) ps = defaultProviders(s.sys);
  else {
    ps = [];
    for (const p of providers) {
      const d = resolve(s, p, 'provider');
      if (isError(d)) return d;
      ps.push(d);
    }
    ps.sort((a, b) => s.sys.deviceIndex(a) - s.sys.deviceIndex(b));
  }
  const candidates: FindP2pCandidate[] = [];
  if (s.policy === 'v2') {
    let chosen: PciDev | null = null;
    for (const p of ps) {
      const ok = cs.every((c) => v2SwitchMatch(p, c) === 'same-switch');
      candidates.push({ provider: p.name, supported: ok, totalDistance: null });
      if (ok && chosen === null) chosen = p;
    }
    return { ok: true, policy: s.policy, clients: cs.map((c) => c.name), candidates, closest: chosen === null ? [] : [chosen.name], chosen: chosen?.name ?? null };
  }
  let closestDistance = Number.POSITIVE_INFINITY;
  let closest: PciDev[] = [];
  for (const p of ps) {
    let total = 0;
    let ok = true;
    for (const c of cs) {
      const d = p2pDecide(p, c);
      if (d.mapType === PCI_P2PDMA_MAP_NOT_SUPPORTED) ok = false;
      total += d.distance;
    }
    const distance = ok ? total : -1;
    candidates.push({ provider: p.name, supported: ok, totalDistance: distance });
    if (!ok || distance > closestDistance) continue;
    if (distance === closestDistance && closest.length >= P2PMEM_FIND_MANY_MAX_CANDIDATES) continue;
    if (distance < closestDistance) {
      closest = [];
      closestDistance = distance;
    }
    closest.push(p);
  }
  const chosen = chooseAtRandom(closest, s.kernel.rng);
  return { ok: true, policy: s.policy, clients: cs.map((c) => c.name), candidates, closest: closest.map((p) => p.name), chosen: chosen?.name ?? null };
}

/** One cell of the matrix. */
export interface P2pMatrixCell {
  /** How the column's client would address the row's provider. */
  readonly mapType: P2pMapKind;
  /** 6.6 distance (also for `not-supported`); `null` under `v2`. */
  readonly distance: number | null;
}

/** `p2pMatrix`'s answer. */
export interface P2pMatrixReport {
  /** The query succeeded. */
  readonly ok: true;
  /** The rules applied. */
  readonly policy: P2pdmaPolicy;
  /** The functions, in `pci_get_device` order (rows and columns). */
  readonly endpoints: readonly string[];
  /** `cells[i][j]`: provider `endpoints[i]`, client `endpoints[j]`. */
  readonly cells: readonly (readonly P2pMatrixCell[])[];
}

/** `p2pMatrix`'s result. */
export type P2pMatrixResult = P2pMatrixReport | P2pQueryError;

/** Endpoint-like functions: not bridges, not the host bridge's own function (class 06 00). */
function defaultEndpoints(sys: PciSubsystem): PciDev[] {
  return sys.deviceList.filter((d) => d.hdrType === 0 && (d.classCode === null || d.classCode >> 8 !== PCI_CLASS_HOST_BRIDGE >> 8));
}

/**
 * The pairwise P2P matrix of a topology's endpoints (like `nvidia-smi topo -m`).
 * @param spec the topology.
 * @param endpoints the BDFs to include (default: every non-bridge function except host bridge
 *   functions), reported in `pci_get_device` order.
 * @param opts policy, IOMMU, command line.
 * @returns the matrix, or an error naming a bad BDF or topology.
 * @kernel calc_map_type_and_dist (6.6) / upstream_bridges_match (seed), for every pair
 */
export function p2pMatrix(spec: TopologySpec, endpoints?: readonly string[], opts: P2pQueryOptions = {}): P2pMatrixResult {
  const s = boot(spec, opts);
  if (isError(s)) return s;
  let eps: PciDev[];
  if (endpoints === undefined) eps = defaultEndpoints(s.sys);
  else {
    const set = new Set<PciDev>();
    for (const e of endpoints) {
      const d = resolve(s, e, 'endpoint');
      if (isError(d)) return d;
      set.add(d);
    }
    eps = [...set].sort((a, b) => s.sys.deviceIndex(a) - s.sys.deviceIndex(b));
  }
  return { ok: true, policy: s.policy, endpoints: eps.map((d) => d.name), cells: matrixCells(s, eps) };
}

/**
 * The matrix cells: for each pair only what a cell holds, mapping type and distance, by the same
 * rules as `verdict` (6.6: `decideQuick` on the cached upstream chains; seed: the same
 * `get_upstream_bridge_port` comparison as `v2SwitchMatch`), without the path and reason texts a
 * cell does not carry. Equal cells are one shared frozen object.
 */
function matrixCells(s: Session, eps: readonly PciDev[]): P2pMatrixCell[][] {
  const interned = new Map<number, P2pMatrixCell>();
  const cell = (mapType: P2pdmaKnownMapType, distance: number | null): P2pMatrixCell => {
    const key = distance === null ? -mapType : distance * 4 + mapType;
    let c = interned.get(key);
    if (c === undefined) {
      c = Object.freeze({ mapType: P2PDMA_MAP_KIND[mapType], distance });
      interned.set(key, c);
    }
    return c;
  };
  if (s.policy === 'v2') {
    const ports = eps.map(getUpstreamBridgePort);
    return ports.map((pp) => ports.map((cp) => cell(pp !== null && cp !== null && pp === cp ? PCI_P2PDMA_MAP_BUS_ADDR : PCI_P2PDMA_MAP_NOT_SUPPORTED, null)));
  }
  const cpuSupports = cpuSupportsP2pdma(s.kernel);
  const chains = eps.map(upstreamChain);
  return eps.map((p, pi) => {
    const up = chains[pi]!;
    return eps.map((c, ci) => {
      const q = decideQuick(p, up, c, chains[ci]!, cpuSupports, false);
      return cell(quickMapType(q), quickDistance(q));
    });
  });
}

