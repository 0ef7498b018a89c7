/**
 * Every real lspci dump in the shared fixtures enumerates, and the tree and port types match what
 * each dump's .source.md says about the machine (spot checks per fixture).
 */
import { Kernel } from '@p2pdma/kernel';
import { lspciFixtureNames, readLspciFixture } from '@p2pdma/test-utils';
import { describe, expect, it } from 'vitest';
import {
  PCI_EXP_TYPE_DOWNSTREAM,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXP_TYPE_LEG_END,
  PCI_EXP_TYPE_PCI_BRIDGE,
  PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM,
} from '../src/capability';
import { enumerate, kernelOptionsForTopology } from '../src/enumerate';
import { importLspci } from '../src/lspci';
import { pciUpstreamBridge } from '../src/pci-dev';
import type { PciSubsystem } from '../src/pci-system';
import { IORESOURCE_MEM, IORESOURCE_UNSET } from '../src/resource';

function load(name: string): PciSubsystem {
  const imp = importLspci(readLspciFixture(name), name);
  if (!imp.ok) throw new Error(imp.error);
  const kernel = new Kernel(kernelOptionsForTopology(imp.spec));
  const sys = enumerate(kernel, imp.spec);
  if ('error' in sys) throw new Error(sys.error.message);
  return sys;
}

/** `child -> parent` chains: each function's upstream bridge, `hb` for a root bus function. */
function parents(sys: PciSubsystem, chain: string[]): string[] {
  return chain.map((bdf) => {
    const d = sys.findByBdf(bdf);
    if (d === null) return `${bdf}: missing`;
    const up = pciUpstreamBridge(d);
    return `${bdf} -> ${up === null ? `hb ${d.pciBus.hostBridge.name}` : up.name}`;
  });
}

function types(sys: PciSubsystem, bdfs: string[]): Array<number | null> {
  return bdfs.map((b) => sys.findByBdf(b)?.pcieType ?? null);
}

const RP = PCI_EXP_TYPE_ROOT_PORT;
const USP = PCI_EXP_TYPE_UPSTREAM;
const DSP = PCI_EXP_TYPE_DOWNSTREAM;
const EP = PCI_EXP_TYPE_ENDPOINT;

describe('lspci fixtures enumerate into the machines their sources describe', () => {
  it('every fixture enumerates without error, every function registered, every BAR assigned inside a window', () => {
    const names = lspciFixtureNames();
    expect(names.length).toBeGreaterThanOrEqual(7);
    for (const n of names) {
      const sys = load(n);
      expect(sys.devices().length, n).toBeGreaterThan(0);
      for (const d of sys.devices()) {
        expect(d.registered, `${n} ${d.name}`).toBe(true);
        for (let b = 0; b < 6; b++) {
          const r = d.resource[b]!;
          if (r.end === 0 || !(r.flags & IORESOURCE_MEM) || r.flags & IORESOURCE_UNSET) continue;
          expect(d.pciBus.hostBridge.windowAt(r.start), `${n} ${d.name} BAR ${b}`).not.toBeNull();
        }
      }
    }
  });

  it('asm1812-4x-rtl8125-excerpt: ASM1812 USP 03:00.0 (parent unknown) with six DSPs, four RTL8125 NICs', () => {
    const sys = load('asm1812-4x-rtl8125-excerpt');
    expect(parents(sys, ['0000:03:00.0', '0000:04:00.0', '0000:04:0b.0', '0000:07:00.0', '0000:08:00.0', '0000:09:00.0', '0000:0a:00.0'])).toEqual([
      '0000:03:00.0 -> hb pci0000:03',
      '0000:04:00.0 -> 0000:03:00.0',
      '0000:04:0b.0 -> 0000:03:00.0',
      '0000:07:00.0 -> 0000:04:03.0',
      '0000:08:00.0 -> 0000:04:08.0',
      '0000:09:00.0 -> 0000:04:0a.0',
      '0000:0a:00.0 -> 0000:04:0b.0',
    ]);
    expect(types(sys, ['0000:03:00.0', '0000:04:02.0', '0000:07:00.0'])).toEqual([USP, DSP, EP]);
    // ACSCtl SrcValid+ ReqRedir+ CmpltRedir+ UpstreamFwd+ on the downstream ports: the redirect is on.
    const dsp = sys.findByBdf('04:03.0')!;
    expect(dsp.config.read(dsp.acsCap + 6, 2) & 0x1d).toBe(0x1d);
  });

  it('dell-13g-2s-e5v4-p100: two sockets; P100s, NVMe, a Renesas switch feeding a PCIe-to-PCI bridge', () => {
    const sys = load('dell-13g-2s-e5v4-p100');
    expect(sys.hostBridges.map((h) => h.name)).toContain('pci0000:80');
    expect(
      parents(sys, ['0000:04:00.0', '0000:03:00.0', '0000:01:00.1', '0000:02:00.0', '0000:07:00.0', '0000:08:00.0', '0000:09:00.0', '0000:0a:00.0', '0000:81:00.0', '0000:84:00.0', '0000:82:00.0', '0000:83:00.1']),
    ).toEqual([
      '0000:04:00.0 -> 0000:00:02.0',
      '0000:03:00.0 -> 0000:00:01.0',
      '0000:01:00.1 -> 0000:00:03.1',
      '0000:02:00.0 -> 0000:00:03.0',
      '0000:07:00.0 -> 0000:00:1c.7',
      '0000:08:00.0 -> 0000:07:00.0',
      '0000:09:00.0 -> 0000:08:00.0',
      '0000:0a:00.0 -> 0000:09:00.0',
      '0000:81:00.0 -> 0000:80:01.0',
      '0000:84:00.0 -> 0000:80:03.2',
      '0000:82:00.0 -> 0000:80:02.0',
      '0000:83:00.1 -> 0000:80:03.0',
    ]);
    expect(sys.findByBdf('80:00.0')).toBeNull(); // bus 80 has no 00.0 function
    expect(types(sys, ['0000:00:02.0', '0000:07:00.0', '0000:08:00.0', '0000:09:00.0'])).toEqual([RP, USP, DSP, PCI_EXP_TYPE_PCI_BRIDGE]);
    expect(sys.findByBdf('01:00.0')!.multifunction).toBe(true);
  });

  it('dell-adl-tb4dock-vmd-nvme: a VMD domain 10000 and an NVMe behind two stacked switches', () => {
    const sys = load('dell-adl-tb4dock-vmd-nvme');
    expect(parents(sys, ['10000:e1:00.0', '0000:45:00.0', '0000:44:00.0', '0000:43:00.0', '0000:41:01.0', '0000:40:00.0'])).toEqual([
      '10000:e1:00.0 -> 10000:e0:06.0',
      '0000:45:00.0 -> 0000:44:00.0',
      '0000:44:00.0 -> 0000:43:00.0',
      '0000:43:00.0 -> 0000:41:01.0',
      '0000:41:01.0 -> 0000:40:00.0',
      '0000:40:00.0 -> 0000:00:07.2',
    ]);
    expect(sys.findByBdf('10000:e1:00.0')!.pciBus.hostBridge.name).toBe('pci10000:e0');
    expect(types(sys, ['0000:00:07.2', '0000:40:00.0', '0000:41:01.0', '0000:45:00.0'])).toEqual([RP, USP, DSP, EP]);
  });

  it('gpu4-plx8747-nvbugreport: two PEX 8747 switches under root ports 00:02.0 and 00:03.0', () => {
    const sys = load('gpu4-plx8747-nvbugreport');
    expect(parents(sys, ['0000:04:00.1', '0000:03:08.0', '0000:02:00.0', '0000:09:00.0', '0000:07:10.0', '0000:06:00.0', '0000:0c:00.0', '0000:0b:00.0'])).toEqual([
      '0000:04:00.1 -> 0000:03:08.0',
      '0000:03:08.0 -> 0000:02:00.0',
      '0000:02:00.0 -> 0000:00:02.0',
      '0000:09:00.0 -> 0000:07:10.0',
      '0000:07:10.0 -> 0000:06:00.0',
      '0000:06:00.0 -> 0000:00:03.0',
      '0000:0c:00.0 -> 0000:0b:00.0',
      '0000:0b:00.0 -> 0000:00:1c.7',
    ]);
    // The GTX 1080 Ti functions say 'Express Legacy Endpoint'.
    expect(types(sys, ['0000:02:00.0', '0000:03:10.0', '0000:05:00.0'])).toEqual([USP, DSP, PCI_EXP_TYPE_LEG_END]);
    const gpu = sys.findByBdf('04:00.0')!;
    expect([gpu.vendor, gpu.device, gpu.multifunction]).toEqual([0x10de, 0x1b06, true]);
  });

  it('ibm-x3650m4-2s-e5-nonroot: capabilities unreadable, tree from bus numbers alone', () => {
    const sys = load('ibm-x3650m4-2s-e5-nonroot');
    expect(parents(sys, ['0000:20:00.0', '0000:16:00.0', '0000:06:00.3', '0000:01:00.0', '0000:02:01.0', '0000:04:00.0', '0000:8b:00.0'])).toEqual([
      '0000:20:00.0 -> 0000:00:03.2',
      '0000:16:00.0 -> 0000:00:02.2',
      '0000:06:00.3 -> 0000:00:1c.0',
      '0000:01:00.0 -> 0000:00:1c.7',
      '0000:02:01.0 -> 0000:01:00.0',
      '0000:04:00.0 -> 0000:03:00.0',
      '0000:8b:00.0 -> 0000:80:03.0',
    ]);
    expect(sys.findByBdf('06:00.0')!.multifunction).toBe(true);
  });

  it('laptop-egpu-tb3-2x3090: two eGPUs behind up to three switch levels under root port 00:1c.0', () => {
    const sys = load('laptop-egpu-tb3-2x3090');
    expect(parents(sys, ['0000:09:00.0', '0000:08:01.0', '0000:07:00.0', '0000:05:01.0', '0000:04:00.0', '0000:2f:00.0', '0000:2e:01.0', '0000:2d:00.0', '0000:0c:00.0', '0000:0b:00.0', '0000:0a:00.0'])).toEqual([
      '0000:09:00.0 -> 0000:08:01.0',
      '0000:08:01.0 -> 0000:07:00.0',
      '0000:07:00.0 -> 0000:05:01.0',
      '0000:05:01.0 -> 0000:04:00.0',
      '0000:04:00.0 -> 0000:00:1c.0',
      '0000:2f:00.0 -> 0000:2e:01.0',
      '0000:2e:01.0 -> 0000:2d:00.0',
      '0000:2d:00.0 -> 0000:05:04.0',
      '0000:0c:00.0 -> 0000:0b:00.0',
      '0000:0b:00.0 -> 0000:0a:00.0',
      '0000:0a:00.0 -> 0000:08:04.0',
    ]);
    // The RTX 3090 says 'Express Legacy Endpoint'.
    expect(types(sys, ['0000:00:1c.0', '0000:04:00.0', '0000:05:04.0', '0000:09:00.0'])).toEqual([RP, USP, DSP, PCI_EXP_TYPE_LEG_END]);
  });

  it('power9-phb4-arc-b580: one host bridge per PHB domain; the Arc GPU behind its internal switch', () => {
    const sys = load('power9-phb4-arc-b580');
    expect(sys.hostBridges.map((h) => h.name)).toEqual([
      'pci0000:00',
      'pci0001:00',
      'pci0002:00',
      'pci0003:00',
      'pci0004:00',
      'pci0005:00',
      'pci0030:00',
      'pci0031:00',
      'pci0032:00',
    ]);
    expect(parents(sys, ['0001:01:00.0', '0030:03:00.0', '0030:02:01.0', '0030:01:00.0', '0030:04:00.0', '0005:02:00.0'])).toEqual([
      '0001:01:00.0 -> 0001:00:00.0',
      '0030:03:00.0 -> 0030:02:01.0',
      '0030:02:01.0 -> 0030:01:00.0',
      '0030:01:00.0 -> 0030:00:00.0',
      '0030:04:00.0 -> 0030:02:02.0',
      '0005:02:00.0 -> 0005:01:00.0',
    ]);
    expect(types(sys, ['0030:00:00.0', '0030:01:00.0', '0030:02:02.0'])).toEqual([RP, USP, DSP]);
  });
});
