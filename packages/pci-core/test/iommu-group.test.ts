/**
 * IOMMU groups as Linux 6.6's pci_device_group forms them (drivers/iommu/iommu.c). Expected
 * groups are derived by hand, one comment per group. "ACS on" = IOMMU on, so pci_std_enable_acs
 * set SV RR CR UF on every root and downstream port; "ACS off" = the groups the kernel would form
 * with the control bits firmware left (all clear in the built-ins), from computeIommuGroups.
 */
import { describe, expect, it } from 'vitest';
import type { AcsEnableHook } from '../src/acs';
import { PCI_ACS_CR, PCI_ACS_RR, PCI_ACS_SV } from '../src/acs';
import { pciBusAddress } from '../src/bar';
import { bar, topology } from '../src/builder';
import { PCI_ACS_CTRL, PCI_EXT_CAP_ID_ACS, pciFindExtCapability } from '../src/capability';
import { computeIommuGroups, iommuGroupsReport } from '../src/iommu-group';
import { pciUpstreamBridge } from '../src/pci-dev';
import type { TopologySpec } from '../src/topology-spec';
import { TOPOLOGY_SCHEMA_V1 } from '../src/topology-spec';
import { boot, bootSpec, pattern } from './helpers';

function groupsOn(name: string): string[][] {
  return boot(name, { iommu: true }).sys.iommuGroups().map((g) => [...g.devices]);
}
function groupsOff(name: string): string[][] {
  const m = boot(name);
  expect(m.sys.iommuGroups()).toEqual([]); // IOMMU off: no device has a group
  for (const d of m.sys.devices()) expect(d.dmaOps).toBe('direct');
  return computeIommuGroups(m.sys).map((g) => [...g.devices]);
}
const each = (bdfs: string[]): string[][] => bdfs.map((b) => [b]);

describe('IOMMU groups of the built-ins, ACS on (IOMMU on: pci_std_enable_acs)', () => {
  it('seed-switch, acs-redirect, cascade: every function isolated, one group each', () => {
    // 00:00.0 host bridge function: conventional, single function, root bus: its own group.
    // 00:03.0 root port: on the root bus, nothing above: its own group.
    // 01:00.0 upstream port: the path above (RP 00:03.0) has SV RR CR UF: isolated.
    // 02:xx.0 downstream ports: path USP (single-function upstream ports need no ACS) + RP: isolated.
    // 03-06:00.0 endpoints: path DSP (ACS set) + USP + RP: isolated.
    const seed = ['0000:00:00.0', '0000:00:03.0', '0000:01:00.0', '0000:02:08.0', '0000:02:09.0', '0000:02:10.0', '0000:02:11.0'];
    const eps = ['0000:03:00.0', '0000:04:00.0', '0000:05:00.0', '0000:06:00.0'];
    expect(groupsOn('seed-switch')).toEqual(each([...seed, ...eps]));
    // acs-redirect: the same, its DSPs already had RR CR and get SV UF too.
    expect(groupsOn('acs-redirect')).toEqual(each([...seed, ...eps]));
    // cascade: two switch levels, all ports have ACS: every function isolated, in add order.
    expect(groupsOn('cascade')).toEqual(
      each([
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
      ]),
    );
  });

  it('root-ports and the dual host bridge machines: every function isolated', () => {
    // Root ports 00:03.0 and 00:03.2 are two functions of one slot, but each has ACS enabled, so
    // get_pci_function_alias_group does not join them.
    expect(groupsOn('root-ports')).toEqual(
      each(['0000:00:00.0', '0000:00:01.0', '0000:00:02.0', '0000:00:03.0', '0000:00:03.2', '0000:01:00.0', '0000:02:00.0', '0000:03:00.0', '0000:04:00.0']),
    );
    const dual = each(['0000:00:00.0', '0000:00:01.0', '0000:00:02.0', '0000:01:00.0', '0000:02:00.0', '0000:80:00.0', '0000:80:01.0', '0000:80:02.0', '0000:81:00.0', '0000:82:00.0']);
    expect(groupsOn('dual-host-bridge')).toEqual(dual);
    expect(groupsOn('dual-host-bridge-unlisted')).toEqual(dual);
  });

  it('logs "Adding to iommu group N" and switches DMA ops to iommu', () => {
    const m = boot('seed-switch', { iommu: true });
    expect(m.kernel.log.grep('Adding to iommu group').map((l) => l.text).slice(0, 3)).toEqual([
      'pci 0000:00:00.0: Adding to iommu group 0',
      'pci 0000:00:03.0: Adding to iommu group 1',
      'pci 0000:01:00.0: Adding to iommu group 2',
    ]);
    for (const d of m.sys.devices()) expect(d.dmaOps).toBe('iommu');
  });
});

describe('IOMMU groups of the built-ins, ACS off (control bits as firmware left them)', () => {
  it('switch machines: everything below the root port joins the root port group', () => {
    // 00:00.0: own group. 00:03.0 (RP, ACS not enabled): own group (nothing above it).
    // 01:00.0: bus 01's bridge, RP 00:03.0, is not ACS-enabled: the walk reaches the RP and takes its group.
    // DSPs: the path from USP fails at the RP: the walk moves to the USP and takes its group.
    // Endpoints: DSP not enabled: take the DSP's group. So everything below 00:03.0 is one group.
    const below = ['0000:00:03.0', '0000:01:00.0', '0000:02:08.0', '0000:02:09.0', '0000:02:10.0', '0000:02:11.0'];
    const eps = ['0000:03:00.0', '0000:04:00.0', '0000:05:00.0', '0000:06:00.0'];
    expect(groupsOff('seed-switch')).toEqual([['0000:00:00.0'], [...below, ...eps]]);
    // acs-redirect: DSPs have RR CR but not SV UF, and the RP has nothing: the same single group.
    expect(groupsOff('acs-redirect')).toEqual([['0000:00:00.0'], [...below, ...eps]]);
    expect(groupsOff('cascade')).toEqual([
      ['0000:00:00.0'],
      [
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
      ],
    ]);
  });

  it('root-ports: the multi-function root port 00:03.0/00:03.2 without ACS shares one group with both endpoints', () => {
    expect(groupsOff('root-ports')).toEqual([
      ['0000:00:00.0'], // host bridge function
      ['0000:00:01.0', '0000:01:00.0'], // RP 00:01.0 (single function) + its endpoint (RP not isolating)
      ['0000:00:02.0', '0000:02:00.0'], // same for 00:02.0
      // 00:03.0 is multi-function and not ACS-enabled: 00:03.2 finds it by get_pci_function_alias_group.
      ['0000:00:03.0', '0000:00:03.2', '0000:03:00.0', '0000:04:00.0'],
    ]);
  });

  it('dual host bridge: one group per root port and its endpoint, on each root bus', () => {
    const expected = [['0000:00:00.0'], ['0000:00:01.0', '0000:01:00.0'], ['0000:00:02.0', '0000:02:00.0'], ['0000:80:00.0'], ['0000:80:01.0', '0000:81:00.0'], ['0000:80:02.0', '0000:82:00.0']];
    expect(groupsOff('dual-host-bridge')).toEqual(expected);
    expect(groupsOff('dual-host-bridge-unlisted')).toEqual(expected);
  });

  it('the report says the IOMMU is off and shows the would-be groups', () => {
    const text = iommuGroupsReport(boot('seed-switch').sys);
    expect(text.split('\n').slice(0, 4)).toEqual([
      'IOMMU off: no IOMMU groups, DMA is direct. With the current ACS settings the kernel would form:',
      'IOMMU group 0:',
      '  0000:00:00.0 [8086:6f00] Intel Xeon E5 v4 (Broadwell-EP) DMI2',
      'IOMMU group 1:',
    ]);
  });
});

describe('IOMMU groups: multi-function devices, PCIe-to-PCI bridges, quirks', () => {
  const mfSpec = (vendor: number, device: number): TopologySpec =>
    topology('mf')
      .systemRam([{ base: 0, size: 2 ** 31 }])
      .hostBridge({ memWindow: { cpuBase: 2 ** 31, size: 2 ** 30 } }, (hb) => {
        hb.rootPort('00:01.0', { acs: { cap: ['SV', 'RR', 'CR', 'UF'] } }, (rp) => {
          rp.endpoint({ vendor, device, fn: 0, bars: [bar.mem32(0, 1 << 20)] });
          rp.endpoint({ vendor, device, fn: 1, bars: [bar.mem32(0, 1 << 20)] });
        });
      })
      .build();

  it('a multi-function endpoint without ACS: its functions share a group (get_pci_function_alias_group)', () => {
    const m = bootSpec(mfSpec(0x1234, 0x5678), { iommu: true });
    expect(m.dev('0000:01:00.0').multifunction).toBe(true);
    // 00:01.0 isolated (ACS enabled); 01:00.0 has no group yet -> new; 01:00.1 finds 01:00.0.
    expect(m.sys.iommuGroups().map((g) => g.devices)).toEqual([['0000:00:01.0'], ['0000:01:00.0', '0000:01:00.1']]);
  });

  it('the same device with Intel I350 IDs: the pci_quirk_mf_endpoint_acs entry isolates each function', () => {
    const m = bootSpec(mfSpec(0x8086, 0x1521), { iommu: true });
    expect(m.sys.iommuGroups().map((g) => g.devices)).toEqual([['0000:00:01.0'], ['0000:01:00.0'], ['0000:01:00.1']]);
  });

  it('functions behind a PCIe-to-PCI bridge alias to the bridge and join its group', () => {
    const spec: TopologySpec = {
      schema: TOPOLOGY_SCHEMA_V1,
      name: 'pcie-to-pci',
      systemRam: [{ base: 0, size: 2 ** 31 }],
      hostBridges: [{ domain: 0, bus: 0, memWindow: { cpuBase: 2 ** 31, size: 2 ** 30 } }],
      devices: [
        { bdf: '0000:00:01.0', headerType: 1, secondaryBus: 1, subordinateBus: 2, pcie: { portType: 'root-port' }, acs: { cap: ['SV', 'RR', 'CR', 'UF'], ctrl: [] } },
        { bdf: '0000:01:00.0', headerType: 1, secondaryBus: 2, subordinateBus: 2, pcie: { portType: 'pcie-pci-bridge' } },
        { bdf: '0000:02:00.0', vendor: 0x102b, device: 0x0534, bars: [{ index: 0, size: 1 << 20, kind: 'mem', prefetchable: true }] },
        { bdf: '0000:02:01.0', vendor: 0x1234, device: 0x0001, bars: [{ index: 0, size: 4096, kind: 'mem' }] },
      ],
    };
    const m = bootSpec(spec, { iommu: true });
    // 00:01.0: own group. 01:00.0 (the bridge): its path (RP) is isolated: new group.
    // 02:00.0 and 02:01.0: pci_for_each_dma_alias reaches the PCIe-to-PCI bridge, which has a group.
    expect(m.sys.iommuGroups().map((g) => g.devices)).toEqual([['0000:00:01.0'], ['0000:01:00.0', '0000:02:00.0', '0000:02:01.0']]);
    // And the fabric: a DMA from one conventional function to the other stays below the bridge.
    const a = m.dev('0000:02:01.0');
    const b = m.dev('0000:02:00.0');
    const dom = a.iommuGroup!.domain;
    expect(dom).toBe(b.iommuGroup!.domain);
    expect(m.sys.fabric.dmaWrite(a, pciBusAddress(b, 0), pattern(16, 1))).toEqual({ status: 'ok' });
    expect(m.sys.fabric.counters().rootComplexes['pci0000:00']!.in).toBe(0);
  });
});

describe('IOMMU groups under the v2 policy hook (seed patch 04, pci_p2pdma_disable_acs)', () => {
  /** The test's stand-in for patch 04 (the real hook lives in the p2pdma package). */
  const disableAcsBehindSwitch: AcsEnableHook = (dev) => {
    const up = pciUpstreamBridge(dev);
    if (up === null || pciUpstreamBridge(up) === null) return false;
    const pos = pciFindExtCapability(dev, PCI_EXT_CAP_ID_ACS);
    if (pos === 0) return false;
    dev.kernel.log.devInfo(dev, 'disabling ACS flags for peer-to-peer DMA');
    const ctrl = dev.config.read(pos + PCI_ACS_CTRL, 2) & ~(PCI_ACS_RR | PCI_ACS_CR);
    dev.config.write(pos + PCI_ACS_CTRL, 2, ctrl);
    return true;
  };

  it('clears RR/CR on the downstream ports, skips the standard enable there, and P2P stays in the switch', () => {
    const m = boot('acs-redirect', { iommu: true, policy: 'v2' }, { enableAcs: disableAcsBehindSwitch });
    expect(m.kernel.log.grep('disabling ACS flags').map((l) => l.text)).toEqual([
      'pci 0000:02:08.0: disabling ACS flags for peer-to-peer DMA',
      'pci 0000:02:09.0: disabling ACS flags for peer-to-peer DMA',
      'pci 0000:02:10.0: disabling ACS flags for peer-to-peer DMA',
      'pci 0000:02:11.0: disabling ACS flags for peer-to-peer DMA',
    ]);
    const dsp = m.dev('0000:02:08.0');
    expect(dsp.config.read(dsp.acsCap + PCI_ACS_CTRL, 2)).toBe(0); // RR CR cleared, SV/UF never set
    const rp = m.dev('0000:00:03.0');
    expect(rp.config.read(rp.acsCap + PCI_ACS_CTRL, 2) & PCI_ACS_SV).toBe(PCI_ACS_SV); // std enable ran on the RP
    const data = pattern(256, 2);
    const card = m.dev('0000:06:00.0');
    expect(m.sys.fabric.dmaWrite(m.dev('0000:03:00.0'), pciBusAddress(card, 4), data)).toEqual({ status: 'ok' });
    expect(m.sys.fabric.counters().rootComplexes['pci0000:00']!.in).toBe(0);
  });

  it('groups: each downstream port takes its endpoint; the ports themselves stay apart (kernel-exact)', () => {
    // The seed's Kconfig text says this "puts all devices behind any switch into the same IOMMU
    // group". Linux's pci_device_group does not do that: a DSP's own group is decided by the path
    // above the switch (USP: single function, needs no ACS; RP: enabled), so each DSP is isolated,
    // and each endpoint (its DSP not ACS-enabled) joins its DSP's group. Fixed upstream only in
    // 2025 ("iommu: Compute iommu_groups properly for PCIe switches").
    const m = boot('seed-switch', { iommu: true, policy: 'v2' }, { enableAcs: disableAcsBehindSwitch });
    expect(m.sys.iommuGroups().map((g) => g.devices)).toEqual([
      ['0000:00:00.0'],
      ['0000:00:03.0'],
      ['0000:01:00.0'],
      ['0000:02:08.0', '0000:03:00.0'],
      ['0000:02:09.0', '0000:04:00.0'],
      ['0000:02:10.0', '0000:05:00.0'],
      ['0000:02:11.0', '0000:06:00.0'],
    ]);
  });
});
