import { KernelBug } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { acsBitNames, computeIommuGroups, PCI_ACS_CTRL, pciReadConfigWord } from '@p2pdma/pci-core';
import { describe, expect, it } from 'vitest';
import { p2pdmaEnumerationHooks, pciP2pdmaDisableAcs } from '../src/acs';
import { boot, lines } from './helpers';

const ctrl = (d: PciDev) => acsBitNames(pciReadConfigWord(d, d.acsCap + PCI_ACS_CTRL));
const DSPS = ['0000:02:08.0', '0000:02:09.0', '0000:02:10.0', '0000:02:11.0'];

describe('seed patch 04: pci_p2pdma_disable_acs at enumeration', () => {
  it('clears RR and CR on every function below a switch with ACS (the downstream ports) and skips the standard enable', () => {
    const b = boot('acs-redirect', { policy: 'v2', iommu: true }); // firmware left RR CR set
    expect(lines(b.kernel, 'disabling ACS flags')).toEqual(DSPS.map((d) => `pci ${d}: disabling ACS flags for peer-to-peer DMA`));
    for (const d of DSPS) expect(ctrl(b.dev(d))).toEqual([]);
    // The root port has no bridge two levels up: the IOMMU's standard enable runs there.
    expect(ctrl(b.dev('0000:00:03.0'))).toEqual(['SV', 'RR', 'CR', 'UF']);
  });

  it('the hook is registered only for v2 with CONFIG_PCI_P2PDMA on; 6.6 has no such step', () => {
    expect(boot('seed-switch').kernel.policy).toBe('upstream');
    expect(p2pdmaEnumerationHooks(boot('seed-switch').kernel)).toEqual({});
    expect(p2pdmaEnumerationHooks(boot('seed-switch', { policy: 'v2', config: { CONFIG_PCI_P2PDMA: false } }).kernel)).toEqual({});
    const off = boot('acs-redirect', { policy: 'v2', iommu: true, config: { CONFIG_PCI_P2PDMA: false } });
    expect(lines(off.kernel, 'disabling ACS')).toEqual([]);
    for (const d of DSPS) expect(ctrl(off.dev(d))).toEqual(['SV', 'RR', 'CR', 'UF']);
    expect(pciP2pdmaDisableAcs(off.dev(DSPS[0]!))).toBe(0); // the header stub
    const up = boot('seed-switch');
    expect(() => pciP2pdmaDisableAcs(up.dev(DSPS[0]!))).toThrow(KernelBug);
  });

  it('IOMMU groups: the seed claims "all devices behind any switch into the same IOMMU group"; 6.6 pci_device_group forms one group per downstream port', () => {
    // Seed Kconfig/commit: "This effectively means that if CONFIG_PCI_P2PDMA is selected then all
    // devices behind any switch will be in the same IOMMU group." What pci-core's 6.6-exact
    // pci_device_group computes instead: the root port above the switch keeps ACS (the IOMMU
    // enables it) and the single-function upstream port counts as isolated, so the path above each
    // downstream port is "ACS enabled" and each downstream port forms a group with the device
    // below it. (Upstream calls this a bug in 2025: "iommu: Compute iommu_groups properly for PCIe
    // switches".)
    const b = boot('seed-switch', { policy: 'v2', iommu: true });
    const groups = b.sys.iommuGroups().map((g) => g.devices);
    expect(groups).toEqual([
      ['0000:00:00.0'],
      ['0000:00:03.0'],
      ['0000:01:00.0'],
      ['0000:02:08.0', '0000:03:00.0'],
      ['0000:02:09.0', '0000:04:00.0'],
      ['0000:02:10.0', '0000:05:00.0'],
      ['0000:02:11.0', '0000:06:00.0'],
    ]);
    expect(groups.find((g) => g.includes('0000:03:00.0'))).not.toContain('0000:06:00.0'); // not one switch-wide group
    expect(computeIommuGroups(b.sys).map((g) => g.devices)).toEqual(groups);
    // Without the hook (6.6, IOMMU on) every downstream port isolates: each endpoint is alone.
    const up = boot('seed-switch', { iommu: true });
    expect(up.sys.iommuGroups().map((g) => g.devices)).toContainEqual(['0000:03:00.0']);
    expect(up.sys.iommuGroups()).toHaveLength(11);
  });
});
