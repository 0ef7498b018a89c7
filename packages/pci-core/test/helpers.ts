/** Shared helpers for this package's tests: boot a kernel on a topology. */
import type { KernelOptions } from '@p2pdma/kernel';
import { Kernel } from '@p2pdma/kernel';
import { getBuiltin } from '../src/builtins';
import type { EnumerateHooks } from '../src/enumerate';
import { enumerate, kernelOptionsForTopology } from '../src/enumerate';
import type { PciDev } from '../src/pci-dev';
import type { PciSubsystem } from '../src/pci-system';
import type { TopologySpec } from '../src/topology-spec';

export interface Booted {
  kernel: Kernel;
  sys: PciSubsystem;
  dev(bdf: string): PciDev;
}

/** Boots a kernel with the topology's RAM and enumerates it; throws on enumeration errors. */
export function bootSpec(spec: TopologySpec, opts: Omit<KernelOptions, 'systemRam'> = {}, hooks: EnumerateHooks = {}): Booted {
  const kernel = new Kernel({ ...kernelOptionsForTopology(spec), iommu: false, ...opts });
  const sys = enumerate(kernel, spec, hooks);
  if ('error' in sys) throw new Error(sys.error.message);
  return {
    kernel,
    sys,
    dev(bdf: string): PciDev {
      const d = sys.findByBdf(bdf);
      if (d === null) throw new Error(`no ${bdf}`);
      return d;
    },
  };
}

/** Boots a built-in machine. */
export function boot(name: string, opts: Omit<KernelOptions, 'systemRam'> = {}, hooks: EnumerateHooks = {}): Booted {
  const spec = getBuiltin(name);
  if (spec === null) throw new Error(`no builtin ${name}`);
  return bootSpec(spec, opts, hooks);
}

/** Deterministic bytes. */
export function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Reads `len` bytes of a BAR through its backing. */
export function readBar(dev: PciDev, bar: number, offset: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  dev.barBacking(bar)!.read(offset, out);
  return out;
}
