/**
 * A generated machine of any size for the control-plane benchmarks: host bridges, root ports,
 * two levels of PCIe switches below each root port, and at each leaf port one device: a p2pmem
 * card (a multi-function device whose every function publishes 2 MiB of p2pmem) or an SR-IOV
 * NIC / NVMe drive whose virtual functions make up the requested function count.
 *
 * The shape (defaults: 4 host bridges in domains 0-3, 8 root ports each, a 4-port switch below
 * every root port and a 5-port switch below each of its ports) is built with pci-core's topology
 * builder, so the bus numbers are the firmware's and the spec passes `validateTopologySpec`.
 * Bus numbers are the limit: each domain has 256, each port's link takes one, so the function
 * count comes from multi-function cards and virtual functions, as on real dense machines.
 *
 * ACS: every root port and switch downstream port has the PLX/Intel capability (SV TB RR CR UF
 * [DT]); every `acsRedirectEvery`-th first-level downstream port has RR and CR set by firmware,
 * so some pairs go through the host bridge. The host bridges are Skylake-SP (`8086:2020`, in
 * Linux 6.6's whitelist, across host bridges), so crossing the root complex is allowed and prints
 * nothing.
 */
import type { AcsBitName, EndpointOptions, LinkBuilder, SwitchBuilder, TopologySpec } from '@p2pdma/pci-core';
import { bar, PCI_CLASS_HOST_BRIDGE, topology } from '@p2pdma/pci-core';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Functions a multi-function device may have (function numbers 0-7). */
export const FUNCTIONS_PER_CARD = 8;
/** Bytes of p2pmem each card function publishes: one 2 MiB BAR (6.6 memremap needs 2 MiB alignment). */
export const P2PMEM_BAR_BYTES = 2 * MiB;
/** Highest VF count one leaf device may have (VF routing IDs must stay on its bus: devfn ≤ 0xff). */
export const MAX_VFS_PER_DEVICE = 0xff - 1;
/** Bus numbers one PCI domain has. */
const BUSES_PER_DOMAIN = 256;

/** What to generate. */
export interface FabricShape {
  /** Total PCI functions wanted, host bridge functions and ports included (default 10,000). */
  readonly functions?: number;
  /** Endpoint functions wanted instead (providers included; ports and host bridge functions not). */
  readonly endpoints?: number;
  /** Host bridges, each in its own PCI domain (default 4). */
  readonly hostBridges?: number;
  /** Root ports per host bridge (default 8). */
  readonly rootPortsPerHostBridge?: number;
  /** Downstream ports of the switch below each root port (default 4). */
  readonly switchPorts?: number;
  /** Downstream ports of each second-level switch; each holds one leaf device (default 5). */
  readonly leafPorts?: number;
  /** p2pmem provider functions (default 1,000). */
  readonly providers?: number;
  /** Every n-th first-level downstream port has ACS RR|CR set (default 3; 0: none). */
  readonly acsRedirectEvery?: number;
}

/** Counts of what was generated (computed from the spec, not from the shape). */
export interface FabricCounts {
  /** PCI functions in the spec. */
  readonly functions: number;
  /** Host bridges. */
  readonly hostBridges: number;
  /** Root ports. */
  readonly rootPorts: number;
  /** Switch upstream ports (one per switch). */
  readonly switches: number;
  /** Bridges of any kind (root, upstream and downstream ports). */
  readonly bridges: number;
  /** Functions with a p2pmem region. */
  readonly providers: number;
  /** Virtual functions. */
  readonly virtualFunctions: number;
  /** Endpoint functions (not bridges, not host bridge functions). */
  readonly endpoints: number;
}

/** A generated machine. */
export interface GeneratedFabric {
  /** The validated topology. */
  readonly spec: TopologySpec;
  /** BDFs of the p2pmem providers, in BDF order. */
  readonly providers: readonly string[];
  /** Endpoint BDFs that are not providers (DMA clients: NIC/NVMe PFs, then VFs), in leaf order. */
  readonly clients: readonly string[];
  /** What the spec holds. */
  readonly counts: FabricCounts;
}

/** The parts the generator uses (IDs from the PCI ID database, as in pci-core's built-ins). */
export const GENERATED_PARTS = {
  /** Intel Xeon Scalable (Skylake-SP) DMI3 registers: in Linux 6.6's P2PDMA whitelist. */
  hostBridge: { vendor: 0x8086, device: 0x2020 },
  /** Intel Xeon Scalable PCI Express root port. */
  rootPort: { vendor: 0x8086, device: 0x2030 },
  /** Broadcom/PLX PEX 8747 (first-level switch). */
  switch1: { vendor: 0x10b5, device: 0x8747 },
  /** Broadcom/PLX PEX 8733 (second-level switch). */
  switch2: { vendor: 0x10b5, device: 0x8733 },
  /** Eideticom IO Memory Controller (p2pmem card). */
  p2pmemCard: { vendor: 0x1de5, device: 0x1000 },
  /** Mellanox ConnectX-5 and its VF. */
  rnic: { vendor: 0x15b3, device: 0x1017, vfDevice: 0x1018 },
  /** Samsung PM1733/PM1735 NVMe (SR-IOV capable). */
  nvme: { vendor: 0x144d, device: 0xa824, vfDevice: 0xa824 },
} as const;

const ROOT_PORT_ACS: AcsBitName[] = ['SV', 'TB', 'RR', 'CR', 'UF'];
const SWITCH_PORT_ACS: AcsBitName[] = ['SV', 'TB', 'RR', 'CR', 'UF', 'DT'];
const REDIRECT: AcsBitName[] = ['RR', 'CR'];

/** The generator's parameters with defaults applied. */
interface Plan {
  hostBridges: number;
  rootPorts: number;
  switchPorts: number;
  leafPorts: number;
  providers: number;
  acsRedirectEvery: number;
  leaves: number;
  cards: number;
  /** Function count of each non-card leaf, in leaf order. */
  leafFunctions: number[];
}

function positiveInt(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`generateFabric: ${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

/**
 * Works out the leaf devices for a shape, or says why it cannot be built.
 * @param shape the requested shape.
 * @returns the plan.
 * @throws RangeError naming the parameter that makes the shape impossible.
 */
function plan(shape: FabricShape): Plan {
  const hostBridges = positiveInt('hostBridges', shape.hostBridges ?? 4, 1);
  const rootPorts = positiveInt('rootPortsPerHostBridge', shape.rootPortsPerHostBridge ?? 8, 1);
  const switchPorts = positiveInt('switchPorts', shape.switchPorts ?? 4, 1);
  const leafPorts = positiveInt('leafPorts', shape.leafPorts ?? 5, 1);
  const providers = positiveInt('providers', shape.providers ?? 1000, 0);
  if (shape.functions !== undefined && shape.endpoints !== undefined) throw new RangeError('generateFabric: give functions or endpoints, not both');
  const acsRedirectEvery = positiveInt('acsRedirectEvery', shape.acsRedirectEvery ?? 3, 0);
  if (rootPorts > 31) throw new RangeError(`generateFabric: rootPortsPerHostBridge ${rootPorts} does not fit the 31 free device numbers of a root bus`);
  if (switchPorts > 32 || leafPorts > 32) throw new RangeError(`generateFabric: a switch has at most 32 downstream ports (switchPorts ${switchPorts}, leafPorts ${leafPorts})`);
  // Root bus, then per root port: its link, the switch's internal bus, and per first-level port
  // its link, the second-level switch's internal bus and one link per leaf port.
  const buses = 1 + rootPorts * (2 + switchPorts * (2 + leafPorts));
  if (buses > BUSES_PER_DOMAIN) {
    throw new RangeError(`generateFabric: ${rootPorts} root ports × ${switchPorts} × ${leafPorts} ports need ${buses} bus numbers; a domain has ${BUSES_PER_DOMAIN}`);
  }
  const perRootPort = 2 + switchPorts * (2 + leafPorts);
  const bridges = hostBridges * rootPorts * perRootPort;
  const functions =
    shape.endpoints !== undefined
      ? positiveInt('endpoints', shape.endpoints, 1) + hostBridges + bridges
      : positiveInt('functions', shape.functions ?? 10_000, 1);
  const leaves = hostBridges * rootPorts * switchPorts * leafPorts;
  const cards = Math.ceil(providers / FUNCTIONS_PER_CARD);
  const others = leaves - cards;
  if (others < 1) throw new RangeError(`generateFabric: ${providers} providers need ${cards} card slots, leaving no leaf for clients (${leaves} leaves)`);
  const rest = functions - hostBridges - bridges - providers;
  if (rest < others) {
    throw new RangeError(
      `generateFabric: ${functions} functions are too few for this shape: ${hostBridges + bridges} host bridge functions and ports, ${providers} providers and ${others} client devices`,
    );
  }
  const base = Math.floor(rest / others);
  const extra = rest % others;
  if (base + (extra > 0 ? 1 : 0) - 1 > MAX_VFS_PER_DEVICE) {
    throw new RangeError(`generateFabric: ${functions} functions would need more than ${MAX_VFS_PER_DEVICE} VFs per device; add ports or host bridges`);
  }
  const leafFunctions = Array.from({ length: others }, (_, i) => base + (i < extra ? 1 : 0));
  return { hostBridges, rootPorts, switchPorts, leafPorts, providers, acsRedirectEvery, leaves, cards, leafFunctions };
}

/** Whether leaf `i` of `leaves` holds a card when `cards` cards are spread evenly. */
function isCardLeaf(i: number, leaves: number, cards: number): boolean {
  return Math.floor(((i + 1) * cards) / leaves) > Math.floor((i * cards) / leaves);
}

/**
 * Generates a machine of the given shape.
 * @param shape sizes; every field has a default (10,000 functions, 4 × 8 root ports, 1,000 providers).
 * @returns the validated spec, its providers and clients, and counts taken from the spec.
 * @throws RangeError when the shape cannot be built (too few functions, too many buses or VFs),
 *   naming the parameter.
 */
export function generateFabric(shape: FabricShape = {}): GeneratedFabric {
  const p = plan(shape);
  let leaf = 0;
  let other = 0;
  let providersLeft = p.providers;
  let firstLevelPort = 0;
  const providerRefs: Array<{ readonly bdf: string }> = [];
  const pfRefs: Array<{ readonly bdf: string; readonly vfBdfs: readonly string[] }> = [];

  const addLeaf = (link: LinkBuilder): void => {
    const i = leaf++;
    if (isCardLeaf(i, p.leaves, p.cards)) {
      const fns = Math.min(FUNCTIONS_PER_CARD, providersLeft);
      providersLeft -= fns;
      for (let fn = 0; fn < fns; fn++) {
        const opts: EndpointOptions = {
          fn,
          ...GENERATED_PARTS.p2pmemCard,
          label: `p2pmem card ${i} fn ${fn}`,
          role: 'p2pmem',
          link: [3, 4],
          bars: [bar.mem64(0, 16 * KiB), bar.mem64(2, P2PMEM_BAR_BYTES, true)],
          p2pmem: { bar: 2 },
        };
        providerRefs.push(link.endpoint(opts));
      }
      return;
    }
    const n = p.leafFunctions[other]!;
    const kind = other % 2 === 0 ? 'rnic' : 'nvme';
    other++;
    const opts: EndpointOptions =
      kind === 'rnic'
        ? { vendor: GENERATED_PARTS.rnic.vendor, device: GENERATED_PARTS.rnic.device, label: `ConnectX-5 ${i}`, role: 'rnic', link: [3, 8], bars: [bar.mem64(0, 32 * MiB, true)] }
        : { vendor: GENERATED_PARTS.nvme.vendor, device: GENERATED_PARTS.nvme.device, label: `NVMe ${i}`, role: 'nvme', link: [4, 4], bars: [bar.mem64(0, 32 * KiB)] };
    if (n > 1) opts.sriov = { vfs: n - 1, vfDevice: GENERATED_PARTS[kind].vfDevice, vfBars: [bar.mem64(0, 16 * KiB, true)] };
    pfRefs.push(link.endpoint(opts));
  };

  const addSecondLevel = (sw: SwitchBuilder): void => {
    for (let k = 0; k < p.leafPorts; k++) sw.port({ acs: { cap: SWITCH_PORT_ACS } }, addLeaf);
  };

  let t = topology(`generated-${p.hostBridges}x${p.rootPorts}-${p.providers}p`)
    .description('Generated benchmark machine: switch trees below every root port, p2pmem cards and SR-IOV devices at the leaves.')
    .cpu({ vendor: 'intel', family: 6 });
  for (let h = 0; h < p.hostBridges; h++) {
    t = t.hostBridge({ domain: h, ...GENERATED_PARTS.hostBridge, label: `Skylake-SP host bridge ${h}` }, (hb) => {
      for (let r = 0; r < p.rootPorts; r++) {
        hb.rootPort({ ...GENERATED_PARTS.rootPort, link: [3, 16], acs: { cap: ROOT_PORT_ACS } }, (rp) => {
          rp.switch({ ...GENERATED_PARTS.switch1, link: [3, 16] }, (sw) => {
            for (let s = 0; s < p.switchPorts; s++) {
              const redirect = p.acsRedirectEvery > 0 && firstLevelPort++ % p.acsRedirectEvery === p.acsRedirectEvery - 1;
              sw.port({ acs: { cap: SWITCH_PORT_ACS, ctrl: redirect ? REDIRECT : [] } }, (link) => {
                link.switch({ ...GENERATED_PARTS.switch2, link: [3, 8] }, addSecondLevel);
              });
            }
          });
        });
      }
    });
  }
  const spec = t.build();
  const providers = providerRefs.map((r) => r.bdf).sort();
  const clients = [...pfRefs.map((r) => r.bdf), ...pfRefs.flatMap((r) => r.vfBdfs)];
  return { spec, providers, clients, counts: countSpec(spec) };
}

/**
 * Counts a spec's functions by kind.
 * @param spec a topology.
 * @returns the counts.
 */
export function countSpec(spec: TopologySpec): FabricCounts {
  let rootPorts = 0;
  let switches = 0;
  let bridges = 0;
  let providers = 0;
  let vfs = 0;
  let hostFns = 0;
  for (const d of spec.devices) {
    const type = d.pcie?.portType;
    if (type === 'root-port') rootPorts++;
    if (type === 'upstream-port') switches++;
    if (d.headerType === 1) bridges++;
    if (d.p2pmem !== undefined) providers++;
    if (d.physfn !== undefined) vfs++;
    if (d.classCode === PCI_CLASS_HOST_BRIDGE) hostFns++;
  }
  return {
    functions: spec.devices.length,
    hostBridges: spec.hostBridges.length,
    rootPorts,
    switches,
    bridges,
    providers,
    virtualFunctions: vfs,
    endpoints: spec.devices.length - bridges - hostFns,
  };
}
