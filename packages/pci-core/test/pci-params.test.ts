import { Errno, Kernel } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { pciDevListMatch, pciDevStrMatch, pciParams } from '../src/pci-params';
import { boot } from './helpers';

describe('pci= options (pci_setup)', () => {
  it('reads noats and disable_acs_redir (a later value wins), and lists unknown options', () => {
    const k = new Kernel({ cmdline: 'pci=realloc,noats pci=disable_acs_redir=0000:00:01.0;pci:8086:1234 pci=disable_acs_redir=00:02.0,frobnicate,hpmemsize=1M' });
    expect(pciParams(k)).toEqual({ noats: true, disableAcsRedir: '00:02.0', unknown: ['frobnicate'] });
    expect(pciParams(new Kernel())).toEqual({ noats: false, disableAcsRedir: null, unknown: [] });
  });
});

describe('device strings (pci_dev_str_match)', () => {
  const m = boot('seed-switch');
  const dsp = m.dev('0000:02:09.0');
  const nvme = m.dev('0000:04:00.0');

  it('matches [domain:]bus:dev.fn with or without the domain, hex in any case', () => {
    expect(pciDevStrMatch(dsp, '0000:02:09.0')).toEqual({ ret: 1, rest: '' });
    expect(pciDevStrMatch(dsp, '02:09.0;rest')).toEqual({ ret: 1, rest: ';rest' });
    expect(pciDevStrMatch(dsp, '02:0A.0')).toEqual({ ret: 0, rest: '' });
    expect(pciDevStrMatch(dsp, '0001:02:09.0').ret).toBe(0);
    expect(pciDevStrMatch(dsp, '02:09').ret).toBe(-Errno.EINVAL);
  });

  it('matches paths from the top bridge down: every element must be the device and its upstream bridges', () => {
    expect(pciDevStrMatch(nvme, '0000:00:03.0/00.0/09.0/00.0').ret).toBe(1);
    expect(pciDevStrMatch(nvme, '0000:00:03.0/00.0/08.0/00.0').ret).toBe(0); // not below 02:08.0
    expect(pciDevStrMatch(nvme, '00:03.0/00.0/09.0/0x0.0').ret).toBe(1); // sscanf %x takes 0x
    expect(pciDevStrMatch(nvme, '00:00.0/03.0/00.0/09.0/00.0').ret).toBe(0); // the RP has no upstream bridge
    expect(pciDevStrMatch(nvme, '00:03.0/zz').ret).toBe(-Errno.EINVAL);
  });

  it('matches pci:vendor:device[:subvendor:subdevice], 0 being a wildcard', () => {
    const p3700 = m.dev('0000:05:00.0');
    expect(pciDevStrMatch(p3700, 'pci:8086:0953')).toEqual({ ret: 1, rest: '' });
    expect(pciDevStrMatch(p3700, 'pci:8086:0:8086:3703;x')).toEqual({ ret: 1, rest: ';x' });
    expect(pciDevStrMatch(p3700, 'pci:8086:0953:8086:1111').ret).toBe(0);
    expect(pciDevStrMatch(p3700, 'pci:0:0').ret).toBe(1);
    expect(pciDevStrMatch(p3700, 'pci:8086').ret).toBe(-Errno.EINVAL);
  });

  it('walks ;-separated lists, stopping at the first match or at an unparsable entry', () => {
    expect(pciDevListMatch(dsp, '0000:02:08.0;0000:02:09.0')).toBe(1);
    expect(pciDevListMatch(dsp, '0000:02:08.0;pci:1234:5678')).toBe(0);
    expect(pciDevListMatch(dsp, '0000:02:09.0;garbage')).toBe(1);
    expect(pciDevListMatch(dsp, 'garbage;0000:02:09.0')).toBe(-Errno.EINVAL);
  });
});
