/**
 * Booting a modelled machine from a topology: a fresh kernel with the topology's memory and IOMMU
 * setting and the chosen policy, enumerated by pci-core. The command only composes the packages.
 */
import { Kernel, type P2pdmaPolicy } from '@p2pdma/kernel';
import { enumerate, kernelOptionsForTopology, type PciSubsystem, type TopologySpec } from '@p2pdma/pci-core';
import { UsageError } from './args';

/** A booted machine. */
export interface Machine {
  kernel: Kernel;
  pci: PciSubsystem;
}

/**
 * Boot a kernel on a topology and enumerate its PCI hierarchy.
 * @param spec the validated topology
 * @param opts the P2PDMA policy, and an IOMMU override (`undefined`: as the topology says)
 * @returns the kernel and its PCI subsystem
 * @throws UsageError when enumeration refuses the topology (the message names it and the reason)
 */
export function bootMachine(spec: TopologySpec, opts: { policy: P2pdmaPolicy; iommu?: boolean; seed?: number }): Machine {
  const kernel = new Kernel({
    ...kernelOptionsForTopology(spec),
    ...(opts.iommu !== undefined ? { iommu: opts.iommu } : {}),
    policy: opts.policy,
    seed: opts.seed ?? 1,
  });
  const r = enumerate(kernel, spec);
  if ('error' in r) throw new UsageError(r.error.message);
  return { kernel, pci: r };
}
