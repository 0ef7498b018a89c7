/**
 * Booting a modelled machine from a topology: a fresh kernel with the topology's memory and IOMMU
 * setting and the chosen policy, enumerated by pci-core with the P2PDMA layer's enumeration hooks
 * (patch 04's ACS clearing under `v2`). The command only composes the packages.
 */
import { Kernel, type P2pdmaPolicy } from '@p2pdma/kernel';
import { p2pdmaEnumerationHooks } from '@p2pdma/p2pdma';
import { enumerate, kernelOptionsForTopology, type PciSubsystem, type TopologySpec } from '@p2pdma/pci-core';
import { UsageError } from './args';

/** A booted machine. */
export interface Machine {
  kernel: Kernel;
  pci: PciSubsystem;
}

/** How to boot: the policy, an IOMMU override, a kernel command line, the RNG seed. */
export interface BootOptions {
  policy: P2pdmaPolicy;
  /** `undefined`: as the topology says. */
  iommu?: boolean;
  cmdline?: string;
  seed?: number;
}

/**
 * Boot a kernel on a topology and enumerate its PCI hierarchy.
 * @param spec the validated topology
 * @param opts policy, IOMMU override, command line, seed
 * @returns the kernel and its PCI subsystem
 * @throws UsageError when enumeration refuses the topology (the message names it and the reason)
 */
export function bootMachine(spec: TopologySpec, opts: BootOptions): Machine {
  const kernel = new Kernel({
    ...kernelOptionsForTopology(spec),
    ...(opts.iommu !== undefined ? { iommu: opts.iommu } : {}),
    ...(opts.cmdline !== undefined ? { cmdline: opts.cmdline } : {}),
    policy: opts.policy,
    seed: opts.seed ?? 1,
  });
  const r = enumerate(kernel, spec, p2pdmaEnumerationHooks(kernel));
  if ('error' in r) throw new UsageError(r.error.message);
  return { kernel, pci: r };
}
