import { describe, expect, it } from 'vitest';
import { CmdlineError, Kernel, KernelCmdline } from '../src/index';

describe('KernelCmdline.parse (lib/cmdline.c next_arg, kernel/params.c)', () => {
  it('splits on whitespace, keeps order, distinguishes bare flags from empty values', () => {
    const c = KernelCmdline.parse('  BOOT_IMAGE=/vmlinuz-6.6 ro quiet\tconsole=ttyS0,115200 empty=  ');
    expect(c.params()).toEqual([
      { name: 'BOOT_IMAGE', value: '/vmlinuz-6.6' },
      { name: 'ro', value: null },
      { name: 'quiet', value: null },
      { name: 'console', value: 'ttyS0,115200' },
      { name: 'empty', value: '' },
    ]);
    expect(c.get('quiet')).toBe('');
    expect(c.get('empty')).toBe('');
    expect(c.get('console')).toBe('ttyS0,115200');
    expect(c.get('missing')).toBeNull();
    expect(c.has('ro')).toBe(true);
  });

  it('removes opening/closing quotes the way next_arg does (inner quotes kept), so quoted values keep spaces', () => {
    const c = KernelCmdline.parse('dyndbg="file p2pdma.c +p" "foo=bar baz" x=a"b c"d');
    expect(c.params()).toEqual([
      { name: 'dyndbg', value: 'file p2pdma.c +p' },
      { name: 'foo', value: 'bar baz' },
      { name: 'x', value: 'a"b c"d' },
    ]);
    expect(KernelCmdline.parse('"quiet" e=""').params()).toEqual([
      { name: 'quiet', value: null },
      { name: 'e', value: '' },
    ]);
  });

  it('treats - and _ in names alike (parameq) and returns the last occurrence', () => {
    const c = KernelCmdline.parse('intel-iommu=off intel_iommu=on');
    expect(c.get('intel_iommu')).toBe('on');
    expect(c.getAll('intel-iommu')).toEqual(['off', 'on']);
  });

  it('hands everything after -- to init', () => {
    const c = KernelCmdline.parse('ro -- single pci=noacs');
    expect(c.params()).toEqual([{ name: 'ro', value: null }]);
    expect(c.initArgs).toEqual(['single', 'pci=noacs']);
    expect(c.has('pci')).toBe(false);
  });

  it('reports an unterminated quote as a CmdlineError naming the parameter', () => {
    expect(() => KernelCmdline.parse('ro pci="noacs quiet')).toThrow(CmdlineError);
    const r = KernelCmdline.tryParse('ro pci="noacs quiet');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.param).toBe('pci');
      expect(r.error.message).toBe('kernel command line: parameter "pci": unterminated quote in "pci=\\"noacs quiet"');
    }
  });

  it('reports an empty parameter name', () => {
    const r = KernelCmdline.tryParse('=5');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.reason).toBe('empty parameter name');
  });

  it('a Kernel refuses a malformed command line before building anything', () => {
    expect(() => new Kernel({ cmdline: 'iommu="on' })).toThrow('parameter "iommu": unterminated quote');
  });
});

describe('pci= options (drivers/pci/pci.c pci_setup)', () => {
  it('splits pci= on commas and keeps the disable_acs_redir device list (";" separated) intact', () => {
    const c = KernelCmdline.parse('pci=noats,disable_acs_redir=0000:00:01.0;pci:8086:1234,realloc');
    expect(c.pciOptions()).toEqual(['noats', 'disable_acs_redir=0000:00:01.0;pci:8086:1234', 'realloc']);
    expect(c.pciOption('disable_acs_redir')).toBe('0000:00:01.0;pci:8086:1234');
    expect(c.pciOption('noats')).toBe('');
    expect(c.pciOption('nommconf')).toBeNull();
  });

  it('keeps the resource_alignment "@" alignment syntax intact and merges several pci= occurrences', () => {
    const c = KernelCmdline.parse('pci=resource_alignment=20@0000:03:00.0;12@pci:8086:0953 pci=,noacs,,');
    expect(c.pciOptions()).toEqual(['resource_alignment=20@0000:03:00.0;12@pci:8086:0953', 'noacs']);
    expect(c.pciOption('resource_alignment')).toBe('20@0000:03:00.0;12@pci:8086:0953');
  });

  it('is empty without pci=', () => {
    expect(KernelCmdline.parse('quiet').pciOptions()).toEqual([]);
  });
});

describe('IOMMU parameters (iommu=, intel_iommu=, amd_iommu=, iommu.passthrough=)', () => {
  it('says nothing when no parameter decides', () => {
    const c = KernelCmdline.parse('quiet intel_iommu=sm_on');
    expect(c.iommuOverride()).toBeNull();
    expect(c.iommuPassthrough()).toBe(false);
  });

  it('the last deciding parameter wins; comma lists are scanned', () => {
    expect(KernelCmdline.parse('intel_iommu=on').iommuOverride()).toBe(true);
    expect(KernelCmdline.parse('intel_iommu=on iommu=off').iommuOverride()).toBe(false);
    expect(KernelCmdline.parse('amd_iommu=off').iommuOverride()).toBe(false);
    expect(KernelCmdline.parse('intel_iommu=sm_on,on').iommuOverride()).toBe(true);
    expect(KernelCmdline.parse('iommu=pt').iommuPassthrough()).toBe(true);
    expect(KernelCmdline.parse('iommu.passthrough=1 iommu.passthrough=0').iommuPassthrough()).toBe(false);
  });

  it('a Kernel turns its IOMMU on from the command line; the iommu option overrides', () => {
    expect(new Kernel().iommu.enabled).toBe(false);
    expect(new Kernel({ cmdline: 'intel_iommu=on' }).iommu.enabled).toBe(true);
    expect(new Kernel({ cmdline: 'intel_iommu=on', iommu: false }).iommu.enabled).toBe(false);
    const pt = new Kernel({ cmdline: 'intel_iommu=on iommu=pt' });
    expect(pt.iommu.passthrough).toBe(true);
    expect(new Kernel({ cmdline: 'intel_iommu=on', config: { CONFIG_IOMMU_SUPPORT: false } }).iommu.enabled).toBe(false);
  });
});
