/** Shared helpers for the p2pdma tests: boot a kernel on a topology, bind a stub driver. */
import type { KernelOptions, Kconfig } from '@p2pdma/kernel';
import { Kernel } from '@p2pdma/kernel';
import type { PciDev, PciDriver, PciSubsystem, TopologySpec } from '@p2pdma/pci-core';
import { enumerate, getBuiltin, kernelOptionsForTopology, pciBusType, pciRegisterDriver } from '@p2pdma/pci-core';
import { p2pdmaEnumerationHooks } from '../src/acs';

export interface Booted {
  kernel: Kernel;
  sys: PciSubsystem;
  dev(bdf: string): PciDev;
}

export interface BootOptions extends Omit<KernelOptions, 'systemRam' | 'config'> {
  config?: Partial<Kconfig>;
  /** Pass the P2PDMA enumeration hooks (default true). */
  hooks?: boolean;
}

/** Boots a kernel with the topology's RAM and enumerates it (with the P2PDMA hooks); throws on errors. */
export function bootSpec(spec: TopologySpec, opts: BootOptions = {}): Booted {
  const { hooks = true, ...kopts } = opts;
  const kernel = new Kernel({ ...kernelOptionsForTopology(spec), ...kopts });
  const sys = enumerate(kernel, spec, hooks ? p2pdmaEnumerationHooks(kernel) : {});
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
export function boot(name: string, opts: BootOptions = {}): Booted {
  const spec = getBuiltin(name);
  if (spec === null) throw new Error(`no builtin ${name}`);
  return bootSpec(spec, opts);
}

/** Registers a do-nothing PCI driver bound to exactly these functions (devres then runs on unbind). */
export function bindStub(kernel: Kernel, devs: readonly PciDev[], name = 'p2ptest'): PciDriver {
  const drv: PciDriver = {
    name,
    bus: pciBusType,
    idTable: devs.map((d) => ({ vendor: d.vendor ?? 0, device: d.device ?? 0 })),
    probe: (dev) => (devs.includes(dev as PciDev) ? 0 : -19),
  };
  if (pciRegisterDriver(kernel, drv) !== 0) throw new Error('driver registration failed');
  return drv;
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

/** Log lines (text) matching a substring. */
export function lines(kernel: Kernel, needle: string): string[] {
  return kernel.log.grep(needle).map((l) => l.text);
}
