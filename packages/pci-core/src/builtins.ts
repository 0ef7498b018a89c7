/**
 * Built-in machines, selectable as `builtin:<name>`. Each is written with the
 * {@link topology} builder, so its bus numbers come out as firmware would assign them.
 *
 * The devices are real parts (IDs from the PCI ID database):
 * - host bridges: Intel Xeon E5 v4 (Broadwell-EP) DMI2 `8086:6f00` (not in the upstream P2PDMA
 *   host-bridge whitelist) with its root ports `8086:6f02/6f04/6f08/6f0a`; Intel Xeon Scalable
 *   (Skylake-SP) DMI3 registers `8086:2020` (whitelisted, across host bridges) with root ports
 *   `8086:2030/2031`;
 * - switches: Broadcom/PLX PEX 8747 `10b5:8747` (48 lanes, x16 upstream, four x8 downstream
 *   ports at device numbers 08, 09, 10, 11 as PLX numbers them) and PEX 8733 `10b5:8733`; their
 *   downstream ports have the ACS capability SV TB RR CR UF DT;
 * - RNIC: Mellanox ConnectX-5 `15b3:1017` (BAR0 32 MiB, 64-bit prefetchable);
 * - NVMe with a CMB: Eideticom NoLoad `1de5:2000` (BAR0 16 KiB registers, CMB of 64 MiB in BAR2
 *   with SQS CQS RDS WDS);
 * - NVMe without a CMB: Intel SSD DC P3700 `8086:0953` (BAR0 16 KiB);
 * - p2pmem-only card: Eideticom IO Memory Controller `1de5:1000` (BAR0 16 KiB registers,
 *   BAR4 256 MiB of p2pmem).
 *
 * Memory map (all built-ins): System RAM at 0-2 GiB and 4-18 GiB; the host bridge windows sit in
 * the hole below 4 GiB, so 32-bit non-prefetchable bridge windows can be placed too.
 */
import { bar, type EndpointOptions, type FunctionOptions, type SwitchBuilder, topology } from './builder';
import type { AcsBitName, TopologySpec } from './topology-spec';

/** One built-in machine. */
export interface BuiltinTopology {
  /** One sentence: what the machine is and which P2P case it exercises. */
  description: string;
  /** Build a fresh copy of the topology (the caller owns it). */
  build(): TopologySpec;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const SYSTEM_RAM = [
  { base: 0, size: 2 * GiB },
  { base: 4 * GiB, size: 14 * GiB },
];
/** The single host bridge window of one-host-bridge machines: 1 GiB at 2 GiB. */
const WINDOW = { cpuBase: 2 * GiB, size: 1 * GiB };
/** The two windows of the two-host-bridge machines: 512 MiB each, at 2 GiB and 3 GiB. */
const WINDOW_HB0 = { cpuBase: 2 * GiB, size: 512 * MiB };
const WINDOW_HB1 = { cpuBase: 3 * GiB, size: 512 * MiB };

/** ACS capability of a PLX downstream port and of a Broadwell-EP root port. */
const SWITCH_ACS_CAP: AcsBitName[] = ['SV', 'TB', 'RR', 'CR', 'UF', 'DT'];
const ROOT_PORT_ACS_CAP: AcsBitName[] = ['SV', 'TB', 'RR', 'CR', 'UF'];

const BROADWELL_HOST = { vendor: 0x8086, device: 0x6f00, revision: 0x01, label: 'Intel Xeon E5 v4 (Broadwell-EP) DMI2' };
const SKYLAKE_HOST = { vendor: 0x8086, device: 0x2020, revision: 0x04, label: 'Intel Xeon Scalable (Skylake-SP) DMI3 Registers' };

/** A root port of one of the built-in CPU platforms (Broadwell-EP or Skylake-SP). */
function cpuRootPort(platform: { revision: number; portLabel: string }, device: number, link: [number, number]): FunctionOptions {
  return {
    vendor: 0x8086,
    device,
    revision: platform.revision,
    label: platform.portLabel,
    link,
    maxLink: [3, link[1]],
    mps: 256,
    acs: { cap: ROOT_PORT_ACS_CAP, ctrl: [] },
    driver: 'pcieport',
  };
}

const BROADWELL_PORTS = { revision: 0x01, portLabel: 'Intel Xeon E5 v4 PCI Express Root Port' };
const SKYLAKE_PORTS = { revision: 0x04, portLabel: 'Intel Xeon Scalable PCI Express Root Port' };

function broadwellRootPort(device: number, link: [number, number]): FunctionOptions {
  return cpuRootPort(BROADWELL_PORTS, device, link);
}

function skylakeRootPort(device: number, link: [number, number]): FunctionOptions {
  return cpuRootPort(SKYLAKE_PORTS, device, link);
}

function rnic(): EndpointOptions {
  return {
    role: 'rnic',
    vendor: 0x15b3,
    device: 0x1017,
    subsystemVendor: 0x15b3,
    subsystemDevice: 0x0007,
    label: 'Mellanox ConnectX-5 (MT27800)',
    link: [3, 8],
    maxLink: [3, 16],
    mps: 256,
    bars: [bar.mem64(0, 32 * MiB, true)],
    driver: 'mlx5_core',
  };
}

function nvmeWithCmb(): EndpointOptions {
  return {
    role: 'nvme',
    vendor: 0x1de5,
    device: 0x2000,
    label: 'Eideticom NoLoad (NVMe, with CMB)',
    link: [3, 8],
    maxLink: [3, 8],
    mps: 256,
    bars: [bar.mem64(0, 16 * KiB), bar.mem64(2, 64 * MiB, true)],
    nvme: { cmb: { bar: 2, size: 64 * MiB, offset: 0, flags: ['SQS', 'CQS', 'RDS', 'WDS'] } },
    driver: 'nvme',
  };
}

function nvmeNoCmb(): EndpointOptions {
  return {
    role: 'nvme',
    vendor: 0x8086,
    device: 0x0953,
    subsystemVendor: 0x8086,
    subsystemDevice: 0x3703,
    revision: 0x01,
    label: 'Intel SSD DC P3700 (NVMe, no CMB)',
    link: [3, 4],
    maxLink: [3, 4],
    mps: 256,
    bars: [bar.mem64(0, 16 * KiB)],
    nvme: {},
    driver: 'nvme',
  };
}

function p2pmemCard(): EndpointOptions {
  return {
    role: 'p2pmem',
    vendor: 0x1de5,
    device: 0x1000,
    label: 'Eideticom IO Memory Controller (p2pmem)',
    link: [3, 8],
    maxLink: [3, 8],
    mps: 256,
    bars: [bar.mem64(0, 16 * KiB), bar.mem64(4, 256 * MiB, true)],
    p2pmem: { bar: 4 },
  };
}

const PEX8747 = { vendor: 0x10b5, device: 0x8747, revision: 0xca, label: 'Broadcom/PLX PEX 8747', mps: 256, driver: 'pcieport' };
const PEX8733 = { vendor: 0x10b5, device: 0x8733, revision: 0xca, label: 'Broadcom/PLX PEX 8733', mps: 256, driver: 'pcieport' };

/** PLX device numbers of a PEX 8747's four downstream ports. */
const PLX_PORT_SLOTS = [0x08, 0x09, 0x10, 0x11];

/** Add the four downstream ports of a switch, each with one of `devices` (or empty). */
function plxPorts(sw: SwitchBuilder, ctrl: AcsBitName[], devices: Array<EndpointOptions | undefined>): void {
  devices.forEach((dev, i) => {
    sw.port({ slot: PLX_PORT_SLOTS[i]!, link: [3, 8], maxLink: [3, 8], acs: { cap: SWITCH_ACS_CAP, ctrl } }, (p) => {
      if (dev) p.endpoint(dev);
    });
  });
}

/** The seed series' machine, with the downstream ports' ACS control as given. */
function switchMachine(name: string, description: string, ctrl: AcsBitName[]): TopologySpec {
  return topology(name)
    .description(description)
    .cpu({ vendor: 'intel', family: 6 })
    .iommu(false)
    .systemRam(SYSTEM_RAM)
    .hostBridge({ ...BROADWELL_HOST, memWindow: WINDOW }, (hb) => {
      hb.rootPort('00:03.0', broadwellRootPort(0x6f08, [3, 16]), (rp) => {
        rp.switch({ ...PEX8747, link: [3, 16], maxLink: [3, 16] }, (sw) => {
          plxPorts(sw, ctrl, [rnic(), nvmeWithCmb(), nvmeNoCmb(), p2pmemCard()]);
        });
      });
    })
    .build();
}

function dualHostBridge(name: string, description: string, whitelisted: boolean): TopologySpec {
  const host = whitelisted ? SKYLAKE_HOST : BROADWELL_HOST;
  const rootPort = (i: number, link: [number, number]): FunctionOptions =>
    whitelisted ? skylakeRootPort(0x2030 + i, link) : broadwellRootPort([0x6f02, 0x6f04][i]!, link);
  return topology(name)
    .description(description)
    .cpu({ vendor: 'intel', family: 6 })
    .iommu(false)
    .systemRam(SYSTEM_RAM)
    .hostBridge({ ...host, domain: 0, bus: 0x00, memWindow: WINDOW_HB0 }, (hb) => {
      hb.rootPort('00:01.0', rootPort(0, [3, 8]), (rp) => rp.endpoint(rnic()));
      hb.rootPort('00:02.0', rootPort(1, [3, 4]), (rp) => rp.endpoint(nvmeNoCmb()));
    })
    .hostBridge({ ...host, domain: 0, bus: 0x80, memWindow: WINDOW_HB1 }, (hb) => {
      hb.rootPort('80:01.0', rootPort(0, [3, 8]), (rp) => rp.endpoint(nvmeWithCmb()));
      hb.rootPort('80:02.0', rootPort(1, [3, 8]), (rp) => rp.endpoint(p2pmemCard()));
    })
    .build();
}

/**
 * The built-in machines by name. Descriptions say what each exercises; no answers are
 * precomputed here: the P2PDMA layer computes them.
 */
export const builtinTopologies: Readonly<Record<string, BuiltinTopology>> = {
  'seed-switch': {
    description:
      "The seed series' target machine: an Intel Xeon E5 v4 host (host bridge 8086:6f00, not whitelisted) whose root port 00:03.0 feeds a PLX PEX 8747 switch with a ConnectX-5 RNIC, an NVMe SSD with a CMB, an NVMe SSD without one and a p2pmem card on its four downstream ports (ACS present, control bits clear), so every pair shares the switch.",
    build: () =>
      switchMachine(
        'seed-switch',
        'Intel Xeon E5 v4 host; root port 00:03.0 -> PLX PEX 8747 switch -> ConnectX-5 RNIC, Eideticom NoLoad NVMe with CMB, Intel P3700 NVMe, Eideticom p2pmem card; ACS control clear.',
        [],
      ),
  },
  'root-ports': {
    description:
      'The same four devices (RNIC, NVMe with CMB, NVMe without CMB, p2pmem card), each on its own root port of one Intel Xeon E5 v4 host bridge (8086:6f00, not whitelisted), so every peer path crosses the root complex.',
    build: () =>
      topology('root-ports')
        .description('Intel Xeon E5 v4 host; RNIC, NVMe with CMB, NVMe, p2pmem card on root ports 00:01.0, 00:02.0, 00:03.0, 00:03.2.')
        .cpu({ vendor: 'intel', family: 6 })
        .iommu(false)
        .systemRam(SYSTEM_RAM)
        .hostBridge({ ...BROADWELL_HOST, memWindow: WINDOW }, (hb) => {
          hb.rootPort('00:01.0', broadwellRootPort(0x6f02, [3, 8]), (rp) => rp.endpoint(rnic()));
          hb.rootPort('00:02.0', broadwellRootPort(0x6f04, [3, 8]), (rp) => rp.endpoint(nvmeWithCmb()));
          hb.rootPort('00:03.0', broadwellRootPort(0x6f08, [3, 4]), (rp) => rp.endpoint(nvmeNoCmb()));
          hb.rootPort('00:03.2', broadwellRootPort(0x6f0a, [3, 8]), (rp) => rp.endpoint(p2pmemCard()));
        })
        .build(),
  },
  cascade: {
    description:
      'Two levels of switches under one root port: a PEX 8747 holds the RNIC and the CMB-less NVMe SSD and, on a third downstream port, a PEX 8733 holding the NVMe SSD with a CMB and the p2pmem card, so peers meet either in the lower switch or only in the upper one.',
    build: () =>
      topology('cascade')
        .description('Intel Xeon E5 v4 host; 00:03.0 -> PEX 8747 -> {RNIC, P3700 NVMe, PEX 8733 -> {NoLoad NVMe with CMB, p2pmem card}}; ACS control clear.')
        .cpu({ vendor: 'intel', family: 6 })
        .iommu(false)
        .systemRam(SYSTEM_RAM)
        .hostBridge({ ...BROADWELL_HOST, memWindow: WINDOW }, (hb) => {
          hb.rootPort('00:03.0', broadwellRootPort(0x6f08, [3, 16]), (rp) => {
            rp.switch({ ...PEX8747, link: [3, 16], maxLink: [3, 16] }, (upper) => {
              const acs = { cap: SWITCH_ACS_CAP, ctrl: [] as AcsBitName[] };
              upper.port({ slot: 0x08, link: [3, 8], acs }, (p) => p.endpoint(rnic()));
              upper.port({ slot: 0x09, link: [3, 4], acs }, (p) => p.endpoint(nvmeNoCmb()));
              upper.port({ slot: 0x10, link: [3, 8], acs }, (p) => {
                p.switch({ ...PEX8733, link: [3, 8], maxLink: [3, 8] }, (lower) => {
                  lower.port({ slot: 0x08, link: [3, 8], acs }, (q) => q.endpoint(nvmeWithCmb()));
                  lower.port({ slot: 0x09, link: [3, 8], acs }, (q) => q.endpoint(p2pmemCard()));
                });
              });
            });
          });
        })
        .build(),
  },
  'dual-host-bridge': {
    description:
      'Two root buses (domain 0, buses 00 and 80, one per socket) whose 00.0 functions are Intel Skylake-SP 8086:2020, which the upstream whitelist accepts across host bridges: the RNIC and the CMB-less NVMe SSD on bus 00, the NVMe SSD with a CMB and the p2pmem card on bus 80.',
    build: () =>
      dualHostBridge(
        'dual-host-bridge',
        'Two Intel Xeon Scalable host bridges (00 and 80, 8086:2020, whitelisted); RNIC and P3700 on bus 00, NoLoad NVMe with CMB and p2pmem card on bus 80.',
        true,
      ),
  },
  'dual-host-bridge-unlisted': {
    description:
      'The dual-host-bridge machine with Intel Xeon E5 v4 8086:6f00 host bridge functions, which the upstream whitelist does not list: the same devices, but peer traffic between the root buses is not known to work.',
    build: () =>
      dualHostBridge(
        'dual-host-bridge-unlisted',
        'Two Intel Xeon E5 v4 host bridges (00 and 80, 8086:6f00, not whitelisted); RNIC and P3700 on bus 00, NoLoad NVMe with CMB and p2pmem card on bus 80.',
        false,
      ),
  },
  'acs-redirect': {
    description:
      'The seed-switch machine with ACS Request Redirect and Completion Redirect set in the control register of every switch downstream port, so peer requests are redirected up to the root complex unless the redirect bits are cleared.',
    build: () =>
      switchMachine(
        'acs-redirect',
        'Intel Xeon E5 v4 host; root port 00:03.0 -> PLX PEX 8747 switch (downstream ports ACS ctrl RR CR) -> ConnectX-5 RNIC, NoLoad NVMe with CMB, P3700 NVMe, p2pmem card.',
        ['RR', 'CR'],
      ),
  },
};

/**
 * Build a built-in topology by name.
 * @param name a key of {@link builtinTopologies} (without the `builtin:` prefix).
 * @returns a fresh topology the caller owns, or `null` for an unknown name.
 */
export function getBuiltin(name: string): TopologySpec | null {
  const b = Object.hasOwn(builtinTopologies, name) ? builtinTopologies[name] : undefined;
  return b ? b.build() : null;
}

/**
 * Names of the built-in topologies.
 * @returns the names, sorted.
 */
export function builtinNames(): string[] {
  return Object.keys(builtinTopologies).sort();
}
