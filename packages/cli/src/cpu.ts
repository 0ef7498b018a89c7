/**
 * Which CPU the upstream AMD rule sees: the `--cpu` option, else what a built-in or topology JSON
 * states, else an inference from the host bridge's identifying function (its vendor and device
 * IDs, or its name when the dump has no -nn). The command always says which, and from what.
 *
 * @kernel cpu_supports_p2pdma (reads cpu_data(0)), pci_host_bridge_dev (the identifying function)
 */
import type { Kernel } from '@p2pdma/kernel';
import { cpuSpecSupportsP2pdma, pciHostBridgeDev } from '@p2pdma/p2pdma';
import type { PciDev, PciSubsystem, TopologySpec } from '@p2pdma/pci-core';
import type { LoadedTopology } from './input';
import { type CpuChoice, CPU_NAMES, CPU_SPECS, HOST_BRIDGE_VENDORS, PCI_VENDOR_ID_AMD, ZEN_ROOT_COMPLEXES } from './internal/host-bridge-cpus';

export type { CpuChoice } from './internal/host-bridge-cpus';

/** Where the CPU came from: `--cpu`, the topology's own `cpu`, or the host bridge. */
export type CpuSource = 'option' | 'topology' | 'inferred';

/** The `cpu` member of `topology`, `check`, `find` and `matrix --json`. */
export interface CpuJson {
  /** The CPU as `--cpu` names it. */
  value: CpuChoice;
  /** Where it came from. */
  source: CpuSource;
  /** From what, in words (`host bridge 0000:00:00.0 [1022:1480]`, `--cpu amd-zen`). */
  basis: string;
}

/** A resolved CPU: the JSON member and the topology to run the rules on. */
export interface ResolvedCpu {
  /** What the command reports. */
  json: CpuJson;
  /** The topology with `cpu` set to what {@link CpuJson.value} means (a new object; the input is not changed). */
  spec: TopologySpec;
}

/** A machine to look at: the kernel (for the CPU rule) and its PCI subsystem (for the host bridges). */
export interface CpuProbe {
  kernel: Kernel;
  pci: PciSubsystem;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** How a host bridge function is named in the basis: its IDs, or its lspci name when the input has none. */
function describeFunction(dev: PciDev): string {
  if (dev.vendor !== null && dev.device !== null) return `host bridge ${dev.name} [${hex4(dev.vendor)}:${hex4(dev.device)}]`;
  return `host bridge ${dev.name} (${dev.label ?? 'no name'}; no IDs in the input)`;
}

/** What one identifying function says about the CPU, or `null` when its vendor names none. */
function cpuOfFunction(dev: PciDev): { value: CpuChoice; detail: string } | null {
  const v = HOST_BRIDGE_VENDORS.find((e) => (dev.vendor !== null ? dev.vendor === e.vendor : dev.label !== null && e.name.test(dev.label)));
  if (v === undefined) return null;
  if (v.vendor === PCI_VENDOR_ID_AMD) {
    const zen = ZEN_ROOT_COMPLEXES.find((z) => (dev.device !== null ? dev.device === z.device : dev.label?.includes(z.name) === true));
    if (zen !== undefined) return { value: 'amd-zen', detail: zen.platform };
  }
  return { value: v.cpu, detail: v.description };
}

/** The basis when no host bridge names a CPU vendor. */
const NOTHING_INFERRED = 'no host bridge function in the input names a CPU vendor';

/**
 * Infer the CPU from the host bridges' identifying functions, in host bridge order; the first
 * whose vendor names a CPU decides.
 * @param m a machine booted on the topology (its `cpu` is not read)
 * @returns the inferred value and basis; `other` when no host bridge names a CPU vendor
 */
export function inferCpu(m: CpuProbe): CpuJson {
  for (const hb of m.pci.hostBridges) {
    const dev = pciHostBridgeDev(hb);
    if (dev === null) continue;
    const cpu = cpuOfFunction(dev);
    if (cpu === null) continue;
    return { value: cpu.value, source: 'inferred', basis: `${describeFunction(dev)}: ${cpu.detail}` };
  }
  return { value: 'other', source: 'inferred', basis: NOTHING_INFERRED };
}

/**
 * Resolve the CPU the AMD rule sees.
 * @param input the loaded topology (built-ins and topology JSON with a `cpu` keep theirs; lspci
 *   dumps, whose importer can tell at most the vendor, are always inferred)
 * @param option the `--cpu` value, if given
 * @param boot boots a machine on a topology (used only to infer: it finds the identifying
 *   functions); may throw the command's usage error
 * @returns the JSON member and the topology to run the rules on
 */
export function resolveCpu(input: LoadedTopology, option: CpuChoice | undefined, boot: (spec: TopologySpec) => CpuProbe): ResolvedCpu {
  if (option !== undefined) {
    return { json: { value: option, source: 'option', basis: `--cpu ${option}` }, spec: { ...input.spec, cpu: { ...CPU_SPECS[option] } } };
  }
  const stated = input.spec.cpu;
  if (input.format !== 'lspci' && stated !== undefined) {
    const zen = cpuSpecSupportsP2pdma(stated);
    const value: CpuChoice = zen ? 'amd-zen' : stated.vendor === 'intel' ? 'intel' : 'other';
    const family = stated.family !== undefined ? ` family 0x${stated.family.toString(16)}` : '';
    return { json: { value, source: 'topology', basis: `the topology's cpu: ${stated.vendor}${family}` }, spec: input.spec };
  }
  const { cpu: _unknown, ...withoutCpu } = input.spec;
  const json = inferCpu(boot(withoutCpu));
  return { json, spec: { ...withoutCpu, cpu: { ...CPU_SPECS[json.value] } } };
}

/**
 * The text line the commands print.
 * @param c the resolved CPU
 * @returns `CPU: AMD Zen (inferred from host bridge 0000:00:00.0 [1022:1480]: ...; override with --cpu)` and the like, no newline
 */
export function renderCpuLine(c: CpuJson): string {
  const name = CPU_NAMES[c.value];
  switch (c.source) {
    case 'option':
      return `CPU: ${name} (${c.basis})`;
    case 'topology':
      return `CPU: ${name} (from ${c.basis}; override with --cpu)`;
    case 'inferred':
      return c.basis === NOTHING_INFERRED ? `CPU: ${name} (unknown: ${c.basis}; override with --cpu)` : `CPU: ${name} (inferred from ${c.basis}; override with --cpu)`;
  }
}
