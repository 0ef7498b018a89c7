import { Errno, KERN_DEBUG } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import {
  ACS_ENABLE_POLICY,
  acsBitNames,
  acsBitsFromNames,
  PCI_ACS_CR,
  PCI_ACS_DT,
  PCI_ACS_EC,
  PCI_ACS_RR,
  PCI_ACS_SV,
  PCI_ACS_TB,
  PCI_ACS_UF,
  pciAcsEnabled,
  pciAcsPathEnabled,
  pciDevSpecificAcsEnabled,
  pciStdEnableAcs,
  REQ_ACS_FLAGS,
} from '../src/acs';
import { pciBusAddress } from '../src/bar';
import { bar, topology } from '../src/builder';
import { PCI_ACS_CTRL } from '../src/capability';
import { computeIommuGroups } from '../src/iommu-group';
import { pciParams } from '../src/pci-params';
import { boot, bootSpec, pattern } from './helpers';

const ctrlOf = (m: ReturnType<typeof boot>, bdf: string): number => {
  const d = m.dev(bdf);
  return d.config.read(d.acsCap + PCI_ACS_CTRL, 2);
};
const DSPS = ['0000:02:08.0', '0000:02:09.0', '0000:02:10.0', '0000:02:11.0'];
const SV_RR_CR_UF = PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF;

describe('pci_enable_acs at enumeration (pci_std_enable_acs, by policy)', () => {
  it('IOMMU on, upstream (6.6): SV RR CR UF where the capability has them; TB only under pci=noats', () => {
    const m = boot('seed-switch', { iommu: true });
    for (const d of DSPS) expect(ctrlOf(m, d)).toBe(SV_RR_CR_UF);
    expect(ctrlOf(m, '0000:00:03.0')).toBe(SV_RR_CR_UF);
    const noats = boot('seed-switch', { iommu: true, cmdline: 'pci=noats' });
    for (const d of DSPS) expect(ctrlOf(noats, d)).toBe(SV_RR_CR_UF | PCI_ACS_TB);
  });

  it('IOMMU on, v2 (the 2018 kernel): never TB, even under pci=noats', () => {
    const m = boot('seed-switch', { iommu: true, policy: 'v2', cmdline: 'pci=noats' });
    for (const d of DSPS) expect(ctrlOf(m, d)).toBe(SV_RR_CR_UF);
    expect(ACS_ENABLE_POLICY.v2.translationBlocking).toBe(false);
  });

  it('IOMMU off: pci_acs_enable is false, control bits stay as firmware left them', () => {
    const m = boot('acs-redirect');
    for (const d of DSPS) expect(ctrlOf(m, d)).toBe(PCI_ACS_RR | PCI_ACS_CR);
    expect(ctrlOf(m, '0000:00:03.0')).toBe(0);
  });

  it('external-facing or untrusted functions get TB under upstream (6.6), not under v2', () => {
    const m = boot('seed-switch');
    const rp = m.dev('0000:00:03.0');
    rp.externalFacing = true;
    pciStdEnableAcs(rp, { params: pciParams(m.kernel), policy: 'upstream' });
    expect(ctrlOf(m, '0000:00:03.0')).toBe(SV_RR_CR_UF | PCI_ACS_TB);
    rp.config.write(rp.acsCap + PCI_ACS_CTRL, 2, 0);
    pciStdEnableAcs(rp, { params: pciParams(m.kernel), policy: 'v2' });
    expect(ctrlOf(m, '0000:00:03.0')).toBe(SV_RR_CR_UF);
  });
});

describe('pci=disable_acs_redir= (upstream policy only)', () => {
  it('clears RR CR EC on exactly the named functions and logs "disabled ACS redirect"', () => {
    const m = boot('acs-redirect', { cmdline: 'pci=disable_acs_redir=0000:02:08.0;0000:02:11.0' });
    expect(DSPS.map((d) => ctrlOf(m, d))).toEqual([0, PCI_ACS_RR | PCI_ACS_CR, PCI_ACS_RR | PCI_ACS_CR, 0]);
    expect(m.kernel.log.grep('ACS redirect').map((l) => l.text)).toEqual([
      'pci 0000:02:08.0: disabled ACS redirect',
      'pci 0000:02:11.0: disabled ACS redirect',
    ]);
    // The redirect is gone between those two ports: the DMA stays in the switch.
    const data = pattern(128, 1);
    const card = m.dev('0000:06:00.0');
    expect(m.sys.fabric.dmaWrite(m.dev('0000:03:00.0'), pciBusAddress(card, 4), data)).toEqual({ status: 'ok' });
    expect(m.sys.fabric.counters().rootComplexes['pci0000:00']!.in).toBe(0);
  });

  it('accepts bus paths and pci:vendor:device; warns for a named function without ACS', () => {
    // 0000:00:03.0/00.0/09.0: root port 00:03.0, then device 00.0 below it (the USP), then 09.0 below that.
    const path = boot('acs-redirect', { cmdline: 'pci=disable_acs_redir=0000:00:03.0/00.0/09.0' });
    expect(DSPS.map((d) => ctrlOf(path, d))).toEqual([PCI_ACS_RR | PCI_ACS_CR, 0, PCI_ACS_RR | PCI_ACS_CR, PCI_ACS_RR | PCI_ACS_CR]);
    const ids = boot('acs-redirect', { cmdline: 'pci=disable_acs_redir=pci:10b5:8747' });
    expect(DSPS.map((d) => ctrlOf(ids, d))).toEqual([0, 0, 0, 0]);
    expect(ids.kernel.log.grep('ACS redirect').map((l) => l.text)).toEqual([
      'pci 0000:01:00.0: cannot disable ACS redirect for this hardware as it does not have ACS capabilities',
      'pci 0000:02:08.0: disabled ACS redirect',
      'pci 0000:02:09.0: disabled ACS redirect',
      'pci 0000:02:10.0: disabled ACS redirect',
      'pci 0000:02:11.0: disabled ACS redirect',
    ]);
  });

  it('an unparsable list is reported once and changes nothing', () => {
    const m = boot('acs-redirect', { cmdline: 'pci=disable_acs_redir=garbage' });
    expect(m.kernel.log.grep('disable_acs_redir').map((l) => l.text)).toEqual(["PCI: Can't parse disable_acs_redir parameter: garbage"]);
    for (const d of DSPS) expect(ctrlOf(m, d)).toBe(PCI_ACS_RR | PCI_ACS_CR);
  });

  it('runs after the standard enable (IOMMU on) and is ignored under the v2 policy', () => {
    const on = boot('seed-switch', { iommu: true, cmdline: 'pci=disable_acs_redir=0000:02:08.0' });
    expect(ctrlOf(on, '0000:02:08.0')).toBe(PCI_ACS_SV | PCI_ACS_UF);
    expect(ctrlOf(on, '0000:02:09.0')).toBe(SV_RR_CR_UF);
    // Without RR/CR on 02:08.0, the RNIC is no longer isolated from its port: one group.
    expect(on.sys.iommuGroups().find((g) => g.devices.includes('0000:03:00.0'))!.devices).toEqual(['0000:02:08.0', '0000:03:00.0']);
    const v2 = boot('acs-redirect', { policy: 'v2', cmdline: 'pci=disable_acs_redir=0000:02:08.0' });
    expect(ctrlOf(v2, '0000:02:08.0')).toBe(PCI_ACS_RR | PCI_ACS_CR);
    expect(v2.kernel.log.grep('ACS redirect')).toEqual([]);
  });
});

describe('pci_acs_enabled / pci_acs_path_enabled', () => {
  it('decides by port type: ports by capability, single-function endpoints and upstream ports need none, conventional never', () => {
    const m = boot('seed-switch', { iommu: true });
    expect(pciAcsEnabled(m.dev('0000:02:08.0'), REQ_ACS_FLAGS)).toBe(true);
    expect(pciAcsEnabled(m.dev('0000:01:00.0'), REQ_ACS_FLAGS)).toBe(true); // USP, single function, no ACS capability
    expect(pciAcsEnabled(m.dev('0000:03:00.0'), REQ_ACS_FLAGS)).toBe(true); // endpoint, single function
    expect(pciAcsEnabled(m.dev('0000:00:00.0'), REQ_ACS_FLAGS)).toBe(false); // conventional PCI host bridge function
    // Flags the capability lacks count as hard-wired on, except Egress Control.
    const rp = m.dev('0000:00:03.0'); // cap SV TB RR CR UF
    expect(pciAcsEnabled(rp, REQ_ACS_FLAGS | PCI_ACS_DT)).toBe(true);
    expect(pciAcsEnabled(rp, REQ_ACS_FLAGS | PCI_ACS_EC)).toBe(false);
    expect(pciAcsEnabled(rp, REQ_ACS_FLAGS | PCI_ACS_TB)).toBe(false); // TB implemented but not enabled
    expect(pciAcsPathEnabled(m.dev('0000:06:00.0'), null, REQ_ACS_FLAGS)).toBe(true);
    const off = boot('seed-switch');
    expect(pciAcsEnabled(off.dev('0000:02:08.0'), REQ_ACS_FLAGS)).toBe(false);
    expect(pciAcsPathEnabled(off.dev('0000:06:00.0'), null, REQ_ACS_FLAGS)).toBe(false);
    // Up to the USP only: endpoint (ok), DSP 02:11.0 (not enabled): false; endpoint alone: true.
    expect(pciAcsPathEnabled(off.dev('0000:06:00.0'), off.dev('0000:06:00.0'), REQ_ACS_FLAGS)).toBe(true);
    expect(pciAcsPathEnabled(off.dev('0000:06:00.0'), off.dev('0000:01:00.0'), REQ_ACS_FLAGS)).toBe(false);
  });

  it('the device-specific table: I350 functions are isolated by quirk, Intel RCiEPs too, others are "not mine"', () => {
    const spec = topology('quirks')
      .systemRam([{ base: 0, size: 2 ** 31 }])
      .hostBridge({ memWindow: { cpuBase: 2 ** 31, size: 2 ** 30 } }, (hb) => {
        hb.endpoint({ slot: 4, fn: 0, vendor: 0x8086, device: 0x0e20, bars: [bar.mem64(0, 16384)] });
        hb.endpoint({ slot: 4, fn: 1, vendor: 0x8086, device: 0x0e21, bars: [bar.mem64(0, 16384)] });
        hb.rootPort('00:01.0', (rp) => {
          rp.endpoint({ vendor: 0x8086, device: 0x1521, fn: 0 });
          rp.endpoint({ vendor: 0x8086, device: 0x1521, fn: 1 });
        });
      })
      .build();
    const m = bootSpec(spec, { iommu: true });
    const i350 = m.dev('0000:01:00.0');
    expect(pciDevSpecificAcsEnabled(i350, REQ_ACS_FLAGS)).toBe(1);
    expect(pciDevSpecificAcsEnabled(i350, PCI_ACS_EC)).toBe(0);
    expect(pciDevSpecificAcsEnabled(m.dev('0000:00:01.0'), REQ_ACS_FLAGS)).toBe(-Errno.ENOTTY);
    // Intel RCiEPs (00:04.0/.1, multi-function, no ACS capability): isolated by pci_quirk_rciep_acs.
    expect(pciAcsEnabled(m.dev('0000:00:04.1'), REQ_ACS_FLAGS)).toBe(true);
    expect(computeIommuGroups(m.sys).find((g) => g.devices.includes('0000:00:04.0'))!.devices).toEqual(['0000:00:04.0']);
  });

  it('bit names round-trip in register order', () => {
    expect(acsBitNames(acsBitsFromNames(['UF', 'SV', 'RR']))).toEqual(['SV', 'RR', 'UF']);
    expect(acsBitsFromNames(['SV', 'TB', 'RR', 'CR', 'UF', 'EC', 'DT'])).toBe(0x7f);
  });

  it('writing ACS control bits the capability lacks has no effect (hard-wired zero)', () => {
    const m = boot('seed-switch');
    const rp = m.dev('0000:00:03.0');
    rp.config.write(rp.acsCap + PCI_ACS_CTRL, 2, 0x7f);
    expect(rp.config.read(rp.acsCap + PCI_ACS_CTRL, 2)).toBe(0x1f);
    expect(m.kernel.log.lines(KERN_DEBUG).filter((l) => l.text.includes('read-only'))).toEqual([]);
  });
});
