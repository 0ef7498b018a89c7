import { Device, deviceAdd, Kernel, KERN_ERR } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { pciBusAddress, pciResourceEnd, pciResourceFlags, pciResourceLen, pciResourceStart } from '../src/bar';
import { pciDomainNr, pciIsRootBus } from '../src/bus';
import { bar, topology } from '../src/builder';
import { getBuiltin } from '../src/builtins';
import { PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM } from '../src/capability';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_1,
  PCI_HEADER_TYPE,
  PCI_MEMORY_BASE,
  PCI_MEMORY_LIMIT,
  PCI_PREF_BASE_UPPER32,
  PCI_PREF_MEMORY_BASE,
  PCI_PREF_MEMORY_LIMIT,
  PCI_PRIMARY_BUS,
  PCI_SECONDARY_BUS,
  PCI_SUBORDINATE_BUS,
} from '../src/config-space';
import { enumerate, kernelOptionsForTopology } from '../src/enumerate';
import { pciIsBridge, pciIsPcie, pciName, pciPcieType, pciUpstreamBridge } from '../src/pci-dev';
import { PCI_ANY_ID } from '../src/pci-driver';
import { pciSystem } from '../src/pci-system';
import { IORESOURCE_MEM, IORESOURCE_MEM_64, IORESOURCE_PREFETCH, PCI_BRIDGE_MEM_WINDOW, PCI_BRIDGE_PREF_MEM_WINDOW } from '../src/resource';
import { pciGetClass, pciGetDevice, pciGetDomainBusAndSlot, pciGetSlot } from '../src/search';
import type { TopologySpec } from '../src/topology-spec';
import { TOPOLOGY_SCHEMA_V1 } from '../src/topology-spec';
import { boot, bootSpec } from './helpers';

const MiB = 1 << 20;
const GiB = 2 ** 30;

const small = (): TopologySpec =>
  topology('small')
    .systemRam([{ base: 0, size: 2 * GiB }])
    .hostBridge({ vendor: 0x8086, device: 0x6f00, memWindow: { cpuBase: 2 * GiB, size: GiB } }, (hb) => {
      hb.rootPort('00:01.0', { vendor: 0x8086, device: 0x6f02, acs: { cap: ['SV', 'RR', 'CR', 'UF'] } }, (rp) =>
        rp.endpoint({ vendor: 0x15b3, device: 0x1017, role: 'rnic', bars: [bar.mem64(0, 32 * MiB, true), bar.io(2, 256)] }),
      );
    })
    .build();

describe('enumerate: the kernel log of a boot (probe.c, setup-bus.c, pci_enable_acs)', () => {
  it('prints host bridge, scan, ACS, assignment, bridge and IOMMU lines in kernel order', () => {
    const m = bootSpec(small(), { iommu: true, cmdline: 'pci=noats,disable_acs_redir=0000:00:01.0,bogus' });
    expect(m.kernel.log.lines().map((l) => l.text)).toEqual([
      "PCI: Unknown option `bogus'",
      'PCIe: ATS is disabled',
      'PCI host bridge to bus 0000:00',
      'pci_bus 0000:00: root bus resource [mem 0x80000000-0xbfffffff window]',
      'pci_bus 0000:00: root bus resource [bus 00-ff]',
      'pci 0000:00:00.0: [8086:6f00] type 00 class 0x060000',
      'pci 0000:00:01.0: [8086:6f02] type 01 class 0x060400',
      'pci 0000:00:01.0: disabled ACS redirect',
      'pci 0000:01:00.0: [15b3:1017] type 00 class 0x020000',
      'pci 0000:01:00.0: reg 0x10: [mem 0x00000000-0x01ffffff 64bit pref]',
      'pci 0000:01:00.0: reg 0x18: [io  0x0000-0x00ff]',
      'pci 0000:00:01.0: BAR 15: assigned [mem 0x80000000-0x81ffffff 64bit pref]',
      'pci 0000:00:01.0: BAR 13: assigned [io  0x1000-0x1fff]',
      'pci 0000:01:00.0: BAR 0: assigned [mem 0x80000000-0x81ffffff 64bit pref]',
      'pci 0000:01:00.0: BAR 2: assigned [io  0x1000-0x10ff]',
      'pci 0000:00:01.0: PCI bridge to [bus 01]',
      'pci 0000:00:01.0:   bridge window [io  0x1000-0x1fff]',
      'pci 0000:00:01.0:   bridge window [mem 0x80000000-0x81ffffff 64bit pref]',
      'pci 0000:00:00.0: Adding to iommu group 0',
      'pci 0000:00:01.0: Adding to iommu group 1',
      // disable_acs_redir left the root port without RR/CR: the endpoint is not isolated from it.
      'pci 0000:01:00.0: Adding to iommu group 1',
    ]);
    expect(m.kernel.log.lines(KERN_ERR).map((l) => l.text)).toEqual(["PCI: Unknown option `bogus'"]);
  });

  it('unknown ACS bits in the input: a warning line, SV TB RR CR UF DT assumed, control 0', () => {
    const spec: TopologySpec = {
      schema: TOPOLOGY_SCHEMA_V1,
      hostBridges: [{ domain: 0, bus: 0, memWindow: { cpuBase: 0x1_0000_0000_0, size: GiB } }],
      systemRam: [{ base: 0, size: GiB }],
      devices: [{ bdf: '00:01.0', headerType: 1, secondaryBus: 1, subordinateBus: 1, pcie: { portType: 'root-port' }, acs: { cap: 'unknown', ctrl: 'unknown' } }],
    };
    const m = bootSpec(spec);
    expect(m.kernel.log.grep('ACS').map((l) => l.text)).toEqual([
      'pci 0000:00:01.0: ACS capability bits unknown, assuming SV TB RR CR UF DT; control unknown, assuming 0 (topology input)',
    ]);
    const rp = m.dev('0000:00:01.0');
    expect(rp.config.read(rp.acsCap + 4, 2)).toBe(0x5f); // SV TB RR CR UF DT
    expect(rp.config.read(rp.acsCap + 6, 2)).toBe(0);
  });
});

describe('enumerate: the hierarchy (buses, functions, pci_get_device order)', () => {
  it('builds buses with the spec bus numbers, functions in devfn order, and kernel devices on the pci bus', () => {
    const m = boot('cascade');
    const hb = m.sys.hostBridges[0]!;
    expect(hb.name).toBe('pci0000:00');
    expect(pciIsRootBus(hb.rootBus)).toBe(true);
    expect(pciDomainNr(hb.rootBus)).toBe(0);
    expect(m.sys.buses.map((b) => `${b.name} ${b.primary}-${b.subordinate}`)).toEqual([
      '0000:00 0-255',
      '0000:01 0-8',
      '0000:02 1-8',
      '0000:03 2-3',
      '0000:04 2-4',
      '0000:05 2-8',
      '0000:06 5-8',
      '0000:07 6-7',
      '0000:08 6-8',
    ]);
    const usp = m.dev('0000:05:00.0');
    expect(usp.config.read(PCI_PRIMARY_BUS, 1)).toBe(5);
    expect(usp.config.read(PCI_SECONDARY_BUS, 1)).toBe(6);
    expect(usp.config.read(PCI_SUBORDINATE_BUS, 1)).toBe(8);
    expect(m.sys.devices().map(pciName)).toEqual([
      '0000:00:00.0',
      '0000:00:03.0',
      '0000:01:00.0',
      '0000:02:08.0',
      '0000:02:09.0',
      '0000:02:10.0',
      '0000:03:00.0',
      '0000:04:00.0',
      '0000:05:00.0',
      '0000:06:08.0',
      '0000:06:09.0',
      '0000:07:00.0',
      '0000:08:00.0',
    ]);
    // Registered with the kernel in that order, after the host bridge device, on the pci bus.
    expect(m.kernel.devices().map((d) => d.name)).toEqual(['pci0000:00', ...m.sys.devices().map(pciName)]);
    const nvme = m.dev('0000:07:00.0');
    expect(nvme.bus?.name).toBe('pci');
    expect(nvme.registered).toBe(true);
    expect(nvme.parent).toBe(m.dev('0000:06:08.0'));
    expect(m.dev('0000:00:03.0').parent).toBe(hb.device);
    expect(pciUpstreamBridge(nvme)).toBe(m.dev('0000:06:08.0'));
    expect(pciUpstreamBridge(m.dev('0000:00:03.0'))).toBeNull();
    expect([pciPcieType(m.dev('0000:00:03.0')), pciPcieType(usp), pciPcieType(m.dev('0000:06:08.0')), pciPcieType(nvme)]).toEqual([
      PCI_EXP_TYPE_ROOT_PORT,
      PCI_EXP_TYPE_UPSTREAM,
      PCI_EXP_TYPE_DOWNSTREAM,
      PCI_EXP_TYPE_ENDPOINT,
    ]);
    expect(pciIsPcie(m.dev('0000:00:00.0'))).toBe(false);
    expect(pciPcieType(m.dev('0000:00:00.0'))).toBeNull();
    expect(pciIsBridge(usp)).toBe(true);
    expect(usp.subordinate?.number).toBe(6);
    expect(nvme.link).toEqual({ gen: 3, width: 8, maxGen: 3, maxWidth: 8, mps: 256 });
    expect(m.sys.findByBdf('07:00.0')).toBe(nvme);
    expect(m.sys.findByBdf('0000:07:00.1')).toBeNull();
    expect(m.sys.findByBdf('nonsense')).toBeNull();
    expect(pciSystem(m.kernel)).toBe(m.sys);
  });

  it('pci_get_device iterates in device_add order; PCI_ANY_ID matches all; slots and domains look up', () => {
    const m = boot('cascade');
    const found: string[] = [];
    for (let d = pciGetDevice(m.kernel, 0x1de5, PCI_ANY_ID, null); d !== null; d = pciGetDevice(m.kernel, 0x1de5, PCI_ANY_ID, d)) found.push(d.name);
    expect(found).toEqual(['0000:07:00.0', '0000:08:00.0']);
    let n = 0;
    for (let d = pciGetDevice(m.kernel, PCI_ANY_ID, PCI_ANY_ID, null); d !== null; d = pciGetDevice(m.kernel, PCI_ANY_ID, PCI_ANY_ID, d)) n++;
    expect(n).toBe(13);
    expect(pciGetClass(m.kernel, 0x010802, null)?.name).toBe('0000:04:00.0');
    expect(pciGetSlot(m.sys.findBus(0, 2)!, (0x10 << 3) | 0)?.name).toBe('0000:02:10.0');
    expect(pciGetDomainBusAndSlot(m.kernel, 0, 6, 0x09 << 3)?.name).toBe('0000:06:09.0');
    expect(pciGetDomainBusAndSlot(m.kernel, 1, 6, 0x09 << 3)).toBeNull();
    expect(pciGetDevice(new Kernel(), PCI_ANY_ID, PCI_ANY_ID, null)).toBeNull();
  });

  it('SR-IOV: virtual functions come last in device order, know their PF, and share its upstream bridge', () => {
    const spec = topology('sriov')
      .systemRam([{ base: 0, size: 2 * GiB }])
      .hostBridge({ memWindow: { cpuBase: 2 * GiB, size: GiB } }, (hb) => {
        hb.rootPort('00:01.0', (rp) =>
          rp.endpoint({ vendor: 0x15b3, device: 0x1017, bars: [bar.mem64(0, MiB, true)], sriov: { vfs: 2, vfDevice: 0x1018, vfBars: [bar.mem64(0, 64 * 1024, true)] } }),
        );
        hb.rootPort('00:02.0', (rp) => rp.endpoint({ bars: [bar.mem32(0, 4096)] }));
      })
      .build();
    const m = bootSpec(spec);
    expect(m.sys.devices().map(pciName).slice(-2)).toEqual(['0000:01:00.1', '0000:01:00.2']);
    const pf = m.dev('0000:01:00.0');
    const vf = m.dev('0000:01:00.1');
    expect(vf.isVirtfn).toBe(true);
    expect(vf.physfn).toBe(pf);
    expect(pf.virtfns.map(pciName)).toEqual(['0000:01:00.1', '0000:01:00.2']);
    expect(pciUpstreamBridge(vf)).toBe(m.dev('0000:00:01.0'));
    expect(vf.device).toBe(0x1018);
    expect(vf.config.read(0, 2)).toBe(0xffff); // a VF's Vendor ID register reads all-ones (SR-IOV spec)
    expect(pf.multifunction).toBe(false);
    expect(pciResourceLen(vf, 0)).toBe(65536);
    expect(m.sys.fabric.linkOf(vf)).toBe('0000:01:00.0'); // VFs share the PF's link
  });

  it('functions whose IDs the input did not know have null IDs, never 0xffff', () => {
    const spec: TopologySpec = {
      schema: TOPOLOGY_SCHEMA_V1,
      hostBridges: [{ domain: 0, bus: 0 }],
      devices: [{ bdf: '0000:00:02.0' }],
    };
    const m = bootSpec(spec);
    const d = m.dev('0000:00:02.0');
    expect([d.vendor, d.device, d.classCode, d.revision, d.subsystemVendor]).toEqual([null, null, null, null, null]);
    expect(m.kernel.log.grep('00:02.0').map((l) => l.text)).toEqual(['pci 0000:00:02.0: [0000:0000] type 00 class 0x000000']);
    expect(pciGetDevice(m.kernel, 0, 0, null)).toBeNull();
  });
});

describe('enumerate: BARs and windows (setup-bus.c)', () => {
  it('assigns naturally aligned BARs inside the host bridge window, bridge windows cover their BARs, config holds bus addresses', () => {
    const m = boot('seed-switch');
    const window = m.sys.hostBridges[0]!.windows[0]!.res;
    for (const d of m.sys.devices()) {
      for (let b = 0; b < 6; b++) {
        const len = pciResourceLen(d, b);
        if (len === 0) continue;
        const s = pciResourceStart(d, b);
        expect(s % len, `${d.name} BAR ${b}`).toBe(0);
        expect(s >= window.start && pciResourceEnd(d, b) <= window.end).toBe(true);
        for (let up = pciUpstreamBridge(d); up !== null; up = pciUpstreamBridge(up)) {
          const w = pciResourceFlags(d, b) & IORESOURCE_PREFETCH ? PCI_BRIDGE_PREF_MEM_WINDOW : PCI_BRIDGE_MEM_WINDOW;
          expect(s >= pciResourceStart(up, w) && pciResourceEnd(d, b) <= pciResourceEnd(up, w), `${up.name} covers ${d.name}`).toBe(true);
          expect(pciResourceStart(up, w) % MiB).toBe(0);
        }
      }
    }
    const card = m.dev('0000:06:00.0');
    expect(pciResourceFlags(card, 4)).toBe(IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_MEM_64);
    expect(pciResourceLen(card, 4)).toBe(256 * MiB);
    const busAddr = pciBusAddress(card, 4);
    expect(card.config.read(PCI_BASE_ADDRESS_0 + 16, 4)).toBe(((busAddr % 2 ** 32) | 0xc) >>> 0);
    expect(card.config.read(PCI_BASE_ADDRESS_0 + 20, 4)).toBe(Math.floor(busAddr / 2 ** 32));
    const dsp = m.dev('0000:02:11.0');
    expect(dsp.config.read(PCI_PREF_MEMORY_BASE, 2)).toBe(((pciResourceStart(dsp, 15) / 0x10000) & 0xfff0) | 1);
    expect(dsp.config.read(PCI_PREF_MEMORY_LIMIT, 2)).toBe(((pciResourceEnd(dsp, 15) / 0x10000) & 0xfff0) | 1);
    expect(dsp.config.read(PCI_PREF_BASE_UPPER32, 4)).toBe(0);
    expect(dsp.config.read(PCI_MEMORY_BASE, 2)).toBe((pciResourceStart(dsp, 14) >>> 16) & 0xfff0);
    expect(dsp.config.read(PCI_MEMORY_LIMIT, 2)).toBe((pciResourceEnd(dsp, 14) >>> 16) & 0xfff0);
    // The P3700's port has no prefetchable BAR below it: its prefetchable window is disabled (base > limit).
    const p = m.dev('0000:02:10.0');
    expect(pciResourceFlags(p, PCI_BRIDGE_PREF_MEM_WINDOW)).toBe(0);
    expect(p.config.read(PCI_PREF_MEMORY_BASE, 2)).toBe(0xfff1);
    expect(p.config.read(PCI_PREF_MEMORY_LIMIT, 2)).toBe(0x0001);
  });

  it('honours fixed BAR addresses and places the rest around them', () => {
    const spec = topology('fixed')
      .systemRam([{ base: 0, size: 2 * GiB }])
      .hostBridge({ memWindow: { cpuBase: 2 * GiB, size: GiB } }, (hb) => {
        hb.rootPort((rp) => rp.endpoint({ bars: [{ ...bar.mem64(0, 16 * MiB, true), address: 2 * GiB }] }));
        hb.rootPort((rp) => rp.endpoint({ bars: [bar.mem64(0, 16 * MiB, true)] }));
      })
      .build();
    const m = bootSpec(spec);
    expect(pciResourceStart(m.dev('0000:01:00.0'), 0)).toBe(2 * GiB);
    expect(pciResourceStart(m.dev('0000:02:00.0'), 0)).toBe(2 * GiB + 16 * MiB);
    expect(m.kernel.log.grep('reg 0x10').map((l) => l.text)[0]).toBe('pci 0000:01:00.0: reg 0x10: [mem 0x80000000-0x80ffffff 64bit pref]');
    expect(m.kernel.log.grep('0000:01:00.0: BAR 0: assigned')).toEqual([]); // firmware's, not assigned
  });

  it('a host bridge without a window gets one below 4 GiB (non-prefetchable) and one above RAM (64-bit prefetchable)', () => {
    const spec: TopologySpec = {
      schema: TOPOLOGY_SCHEMA_V1,
      hostBridges: [{ domain: 0, bus: 0 }],
      devices: [
        { bdf: '00:01.0', headerType: 1, secondaryBus: 1, subordinateBus: 1, pcie: { portType: 'root-port' } },
        {
          bdf: '01:00.0',
          pcie: { portType: 'endpoint' },
          bars: [
            { index: 0, size: 16 * MiB, kind: 'mem' },
            { index: 1, size: 16 * GiB, kind: 'mem', prefetchable: true, is64: true },
          ],
        },
      ],
    };
    const m = bootSpec(spec); // default kernel RAM: 3 GiB at 0 + 1 GiB at 4 GiB
    const gpu = m.dev('0000:01:00.0');
    expect(pciResourceStart(gpu, 0)).toBe(0xc000_0000);
    expect(pciResourceStart(gpu, 1)).toBe(16 * GiB);
    expect(m.sys.hostBridges[0]!.windows.map((w) => [w.res.start, w.res.end, w.synthesized])).toEqual([
      [0xc000_0000, 0xc0ff_ffff, true],
      [16 * GiB, 32 * GiB - 1, true],
    ]);
    expect(m.kernel.memory.mmioRegions().map((r) => r.owner)).toEqual(['pci0000:00 window', 'pci0000:00 window']);
    // BAR sizing through config space: write all-ones, read back the size mask.
    gpu.config.write(PCI_BASE_ADDRESS_0, 4, 0xffff_ffff);
    expect(gpu.config.read(PCI_BASE_ADDRESS_0, 4)).toBe(0xff00_0000);
    gpu.config.write(PCI_BASE_ADDRESS_1 + 4, 4, 0xffff_ffff);
    expect(gpu.config.read(PCI_BASE_ADDRESS_1 + 4, 4)).toBe(0xffff_fffc); // 16 GiB: upper dword bits 33:0 are size
  });

  it('runs out of I/O space gracefully: the kernel lines, the BAR left unassigned', () => {
    const spec = topology('io')
      .systemRam([{ base: 0, size: 2 * GiB }])
      .hostBridge({ memWindow: { cpuBase: 2 * GiB, size: GiB } }, (hb) => {
        for (let i = 1; i <= 16; i++) hb.rootPort((rp) => rp.endpoint({ bars: [bar.io(0, 256)] }));
      })
      .build();
    const m = bootSpec(spec);
    expect(m.kernel.log.grep('no space').map((l) => l.text)).toEqual(['pci 0000:10:00.0: BAR 0: no space for [io  size 0x0100]']);
    expect(m.kernel.log.grep('failed to assign').map((l) => l.text)).toEqual(['pci 0000:10:00.0: BAR 0: failed to assign [io  size 0x0100]']);
    expect(pciResourceStart(m.dev('0000:0f:00.0'), 0)).toBe(0xf000);
  });

  it('the header type register carries the multi-function bit on every function of a multi-function slot', () => {
    const m = boot('root-ports');
    expect(m.dev('0000:00:03.0').config.read(PCI_HEADER_TYPE, 1)).toBe(0x81);
    expect(m.dev('0000:00:03.2').multifunction).toBe(true);
    expect(m.dev('0000:00:01.0').config.read(PCI_HEADER_TYPE, 1)).toBe(0x01);
  });
});

describe('enumerate: bad input gives an error naming the device and reason, and leaves the kernel untouched', () => {
  function refuse(spec: unknown, kernel = new Kernel({ systemRam: [{ base: 0, size: 2 * GiB }] })) {
    const r = enumerate(kernel, spec);
    if (!('error' in r)) throw new Error('expected an error');
    expect(kernel.devices()).toEqual([]);
    expect(kernel.memory.mmioRegions()).toEqual([]);
    expect(kernel.log.lines()).toEqual([]);
    expect(pciSystem(kernel)).toBeNull();
    return r.error;
  }
  const base = (devices: TopologySpec['devices']): TopologySpec => ({
    schema: TOPOLOGY_SCHEMA_V1,
    name: 'bad',
    systemRam: [{ base: 0, size: 2 * GiB }],
    hostBridges: [{ domain: 0, bus: 0, memWindow: { cpuBase: 2 * GiB, size: 64 * MiB } }],
    devices,
  });

  it('overlapping fixed BARs', () => {
    const e = refuse(
      base([
        { bdf: '00:01.0', bars: [{ index: 0, size: MiB, kind: 'mem', address: 2 * GiB }] },
        { bdf: '00:02.0', bars: [{ index: 0, size: MiB, kind: 'mem', address: 2 * GiB }] },
      ]),
    );
    expect(e.errors).toEqual([
      { path: '$.devices[1].bars[0].address', message: 'BAR 0 of 0000:00:01.0 [0x80000000-0x800fffff] overlaps BAR 0 of 0000:00:02.0 [0x80000000-0x800fffff]' },
    ]);
    expect(e.message).toMatch(/^topology 'bad' cannot be enumerated: \$\.devices\[1\]\.bars\[0\]\.address: BAR 0 of 0000:00:01.0/);
  });

  it('a bus-number cycle', () => {
    const e = refuse(
      base([
        { bdf: '00:01.0', headerType: 1, secondaryBus: 1, subordinateBus: 3 },
        { bdf: '02:00.0', headerType: 1, secondaryBus: 3, subordinateBus: 3 },
        { bdf: '03:00.0', headerType: 1, secondaryBus: 2, subordinateBus: 2 },
      ]),
    );
    expect(e.errors.map((x) => x.message).join('\n')).toMatch(/bus-number cycle: 0000:02:00.0 → 0000:03:00.0 → 0000:02:00.0/);
  });

  it('a BAR that does not fit the host bridge window', () => {
    const e = refuse(
      base([
        { bdf: '00:01.0', headerType: 1, secondaryBus: 1, subordinateBus: 1, pcie: { portType: 'root-port' } },
        { bdf: '01:00.0', pcie: { portType: 'endpoint' }, bars: [{ index: 0, size: 128 * MiB, kind: 'mem', is64: true, prefetchable: true }] },
      ]),
    );
    expect(e.errors).toEqual([
      {
        path: '$.devices[1].bars[0]',
        message: 'BAR 0 of 0000:01:00.0 (0x8000000 bytes, prefetchable) does not fit the memory window [0x80000000-0x83ffffff] of host bridge pci0000:00',
      },
    ]);
  });

  it('a window overlapping the kernel\'s System RAM, and a fixed BAR without a window to check it against', () => {
    const ramKernel = new Kernel(); // 3 GiB at 0: the 2 GiB window overlaps it
    const e = refuse(base([{ bdf: '00:01.0', bars: [{ index: 0, size: MiB, kind: 'mem' }] }]), ramKernel);
    expect(e.errors[0]!.path).toBe('$.hostBridges[0].memWindow');
    expect(e.errors[0]!.message).toMatch(/overlaps the kernel's System RAM \[0x0-0xbfffffff\]/);
    const noWindow: TopologySpec = { schema: TOPOLOGY_SCHEMA_V1, hostBridges: [{ domain: 0, bus: 0 }], devices: [{ bdf: '00:01.0', bars: [{ index: 0, size: MiB, kind: 'mem', address: 0xd000_0000 }] }] };
    const e2 = refuse(noWindow, new Kernel());
    expect(e2.errors).toEqual([
      {
        path: '$.devices[0].bars[0].address',
        message: 'BAR 0 of 0000:00:01.0 has a fixed address, but its host bridge pci0000:00 has no memWindow to check it against (give $.hostBridges[0] a memWindow)',
      },
    ]);
  });

  it('a device name already registered: everything added is rolled back', () => {
    const spec = getBuiltin('seed-switch')!;
    const kernel = new Kernel(kernelOptionsForTopology(spec));
    const squatter = new Device(kernel, '0000:04:00.0');
    expect(deviceAdd(squatter)).toBe(0);
    const r = enumerate(kernel, spec);
    expect('error' in r && r.error.errors).toEqual([{ path: '$.devices[8]', message: 'device name 0000:04:00.0 is already registered with the kernel' }]);
    expect(kernel.devices()).toEqual([squatter]);
    expect(kernel.memory.mmioRegions()).toEqual([]);
    expect(pciSystem(kernel)).toBeNull();
  });

  it('a kernel enumerates once', () => {
    const m = boot('seed-switch');
    const r = enumerate(m.kernel, getBuiltin('seed-switch')!);
    expect('error' in r && r.error.errors).toEqual([{ path: '$', message: 'this kernel already has an enumerated PCI subsystem' }]);
  });
});

describe('enumerate: error text stays on one line (hostile-input regression)', () => {
  it('a topology name with control characters is escaped in the error message', () => {
    const spec = { ...getBuiltin('seed-switch')!, name: 'evil\nname\t' };
    spec.devices = [...spec.devices, { ...spec.devices[0]! }]; // a duplicate BDF makes it invalid
    const k = new Kernel({ ...kernelOptionsForTopology(spec) });
    const r = enumerate(k, spec);
    if (!('error' in r)) throw new Error('expected an error');
    expect(r.error.message.split('\n')).toHaveLength(1);
    expect(r.error.message.startsWith("topology 'evil\\nname\\t' cannot be enumerated: ")).toBe(true);
    expect(k.devices()).toHaveLength(0);
  });
});
