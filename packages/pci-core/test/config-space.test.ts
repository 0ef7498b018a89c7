import { Errno, KERN_DEBUG } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import {
  PCIBIOS_BAD_REGISTER_NUMBER,
  PCIBIOS_SUCCESSFUL,
  pcibiosErrToErrno,
  pciReadConfigByte,
  pciReadConfigDword,
  pciReadConfigWord,
  pciWriteConfigByte,
  pciWriteConfigDword,
  pciWriteConfigWord,
} from '../src/access';
import { bar, topology } from '../src/builder';
import {
  PCI_ACS_CAP,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_PAYLOAD,
  PCI_EXP_FLAGS,
  PCI_EXP_FLAGS_TYPE,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKSTA,
  PCI_EXP_LNKSTA_CLS,
  PCI_EXP_LNKSTA_NLW,
  PCI_EXP_REGISTERS,
  PCI_EXP_TYPE_DOWNSTREAM,
  PCI_EXT_CAP_ID_ACS,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_ID_SRIOV,
  PCI_SRIOV_NUM_VF,
  PCI_SRIOV_VF_DID,
  PCI_SRIOV_VF_OFFSET,
  PCI_SRIOV_VF_STRIDE,
  pciFindCapability,
  pciFindExtCapability,
} from '../src/capability';
import {
  ConfigSpace,
  PCI_BASE_ADDRESS_0,
  PCI_CLASS_REVISION,
  PCI_COMMAND,
  PCI_HEADER_TYPE,
  PCI_SECONDARY_BUS,
  PCI_STATUS,
  PCI_TYPE0_REGISTERS,
  PCI_TYPE1_REGISTERS,
  PCI_VENDOR_ID,
} from '../src/config-space';
import { boot, bootSpec } from './helpers';

describe('config space: register semantics (pci_regs.h, access.c)', () => {
  it('reads the IDs, class and header type as the kernel does', () => {
    const m = boot('seed-switch');
    const rnic = m.dev('0000:03:00.0');
    expect(pciReadConfigWord(rnic, PCI_VENDOR_ID)).toBe(0x15b3);
    expect(pciReadConfigDword(rnic, PCI_VENDOR_ID)).toBe(0x101715b3);
    expect(pciReadConfigDword(rnic, PCI_CLASS_REVISION) >>> 8).toBe(0x020000);
    expect(pciReadConfigByte(rnic, PCI_HEADER_TYPE)).toBe(0);
    expect(pciReadConfigByte(m.dev('0000:02:08.0'), PCI_HEADER_TYPE)).toBe(1);
  });

  it('a write to a read-only register is ignored and logged at debug level, never a crash', () => {
    const m = boot('seed-switch');
    const rnic = m.dev('0000:03:00.0');
    expect(pciWriteConfigWord(rnic, PCI_VENDOR_ID, 0x1234)).toBe(PCIBIOS_SUCCESSFUL);
    expect(pciReadConfigWord(rnic, PCI_VENDOR_ID)).toBe(0x15b3);
    pciWriteConfigWord(rnic, PCI_VENDOR_ID, 0x15b3); // same value: nothing to report
    expect(m.kernel.log.lines(KERN_DEBUG).filter((l) => l.level === KERN_DEBUG).map((l) => l.text)).toEqual([
      'pci 0000:03:00.0: config write of 0x1234 to read-only PCI_VENDOR_ID (offset 0x0) ignored',
    ]);
  });

  it('read-write registers keep only their writable bits; status error bits are write-1-to-clear', () => {
    const m = boot('seed-switch');
    const d = m.dev('0000:05:00.0');
    pciWriteConfigWord(d, PCI_COMMAND, 0xffff);
    expect(pciReadConfigWord(d, PCI_COMMAND)).toBe(0x0547);
    d.config.init16(PCI_STATUS, 0x2010); // received master abort + capability list
    pciWriteConfigWord(d, PCI_STATUS, 0x0010); // writing 1 to a read-only bit, 0 to the error bit
    expect(pciReadConfigWord(d, PCI_STATUS)).toBe(0x2010);
    pciWriteConfigWord(d, PCI_STATUS, 0x2000);
    expect(pciReadConfigWord(d, PCI_STATUS)).toBe(0x0010);
    const dsp = m.dev('0000:02:08.0');
    pciWriteConfigByte(dsp, PCI_SECONDARY_BUS, 0x42);
    expect(pciReadConfigByte(dsp, PCI_SECONDARY_BUS)).toBe(0x42);
    expect(dsp.config.registerAt(PCI_SECONDARY_BUS)?.reg.effect).toMatch(/keeps the bus topology/);
  });

  it('BAR sizing: writing all-ones reads back the size mask and type bits; restoring puts the address back', () => {
    const m = boot('seed-switch');
    const p = m.dev('0000:05:00.0'); // BAR 0: 16 KiB, 64-bit, non-prefetchable
    const lo = pciReadConfigDword(p, PCI_BASE_ADDRESS_0);
    const hi = pciReadConfigDword(p, PCI_BASE_ADDRESS_0 + 4);
    pciWriteConfigDword(p, PCI_BASE_ADDRESS_0, 0xffffffff);
    expect(pciReadConfigDword(p, PCI_BASE_ADDRESS_0)).toBe(0xffffc004);
    pciWriteConfigDword(p, PCI_BASE_ADDRESS_0, lo);
    expect(pciReadConfigDword(p, PCI_BASE_ADDRESS_0)).toBe(lo);
    expect(hi).toBe(0);
    // An unimplemented BAR reads zero even after all-ones.
    pciWriteConfigDword(p, PCI_BASE_ADDRESS_0 + 8, 0xffffffff);
    expect(pciReadConfigDword(p, PCI_BASE_ADDRESS_0 + 8)).toBe(0);
  });

  it('misaligned or out-of-range offsets: PCIBIOS_BAD_REGISTER_NUMBER, reads all-ones', () => {
    const m = boot('seed-switch');
    const d = m.dev('0000:03:00.0');
    expect(pciReadConfigWord(d, 1)).toBe(0xffff);
    expect(pciReadConfigDword(d, 4094)).toBe(0xffffffff);
    expect(pciWriteConfigDword(d, 2, 0)).toBe(PCIBIOS_BAD_REGISTER_NUMBER);
    expect(pcibiosErrToErrno(PCIBIOS_BAD_REGISTER_NUMBER)).toBe(-Errno.EFAULT);
    expect(pcibiosErrToErrno(PCIBIOS_SUCCESSFUL)).toBe(0);
    // A conventional function has 256 bytes of config space.
    const host = m.dev('0000:00:00.0');
    expect(host.config.size).toBe(256);
    expect(pciReadConfigDword(host, 0x100)).toBe(0xffffffff);
  });

  it('every register table entry is naturally aligned and named', () => {
    for (const t of [PCI_TYPE0_REGISTERS, PCI_TYPE1_REGISTERS, PCI_EXP_REGISTERS]) {
      for (const r of t) {
        expect(r.offset % r.width, r.name).toBe(0);
        expect(r.name).toMatch(/^PCI_/);
      }
    }
    const cs = new ConfigSpace();
    cs.defineRegisters(0, PCI_TYPE0_REGISTERS);
    expect(cs.registerAt(PCI_COMMAND + 1)?.reg.name).toBe('PCI_COMMAND');
    expect(cs.registerAt(0x80)).toBeNull();
  });
});

describe('config space: capabilities (pci_find_capability, pci_find_ext_capability)', () => {
  it('finds the Express capability at 0x40 with the port type, link and payload fields', () => {
    const m = boot('seed-switch');
    const dsp = m.dev('0000:02:10.0');
    expect(pciFindCapability(dsp, PCI_CAP_ID_EXP)).toBe(0x40);
    expect(pciFindCapability(dsp, PCI_CAP_ID_MSI)).toBe(0);
    expect(pciFindCapability(m.dev('0000:00:00.0'), PCI_CAP_ID_EXP)).toBe(0);
    const pos = dsp.pcieCap;
    expect((pciReadConfigWord(dsp, pos + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4).toBe(PCI_EXP_TYPE_DOWNSTREAM);
    const nvme = m.dev('0000:05:00.0');
    const sta = pciReadConfigWord(nvme, nvme.pcieCap + PCI_EXP_LNKSTA);
    expect([sta & PCI_EXP_LNKSTA_CLS, (sta & PCI_EXP_LNKSTA_NLW) >> 4]).toEqual([3, 4]); // Gen3 x4
    expect(pciReadConfigDword(nvme, nvme.pcieCap + PCI_EXP_LNKCAP) & 0x3ff).toBe(3 | (4 << 4));
    expect((pciReadConfigWord(nvme, nvme.pcieCap + PCI_EXP_DEVCTL) & PCI_EXP_DEVCTL_PAYLOAD) >> 5).toBe(1); // 256 bytes
    expect(pciReadConfigDword(nvme, nvme.pcieCap + PCI_EXP_DEVCAP) & 7).toBe(1);
  });

  it('finds ACS at 0x100 with the capability bits, and SR-IOV after it with offset, stride and VF device', () => {
    const m = boot('seed-switch');
    const dsp = m.dev('0000:02:10.0');
    expect(pciFindExtCapability(dsp, PCI_EXT_CAP_ID_ACS)).toBe(0x100);
    expect(pciReadConfigWord(dsp, 0x100 + PCI_ACS_CAP)).toBe(0x5f); // SV TB RR CR UF DT
    expect(pciFindExtCapability(dsp, PCI_EXT_CAP_ID_ERR)).toBe(0);
    expect(pciFindExtCapability(m.dev('0000:03:00.0'), PCI_EXT_CAP_ID_ACS)).toBe(0);

    const spec = topology('sriov')
      .systemRam([{ base: 0, size: 2 ** 31 }])
      .hostBridge({ memWindow: { cpuBase: 2 ** 31, size: 2 ** 30 } }, (hb) => {
        hb.rootPort((rp) =>
          rp.endpoint({ device: 0x1017, acs: { cap: ['RR', 'CR'] }, bars: [bar.mem64(0, 1 << 20, true)], sriov: { vfs: 3, offset: 2, stride: 2, vfDevice: 0x1018 } }),
        );
      })
      .build();
    const s = bootSpec(spec);
    const pf = s.dev('0000:01:00.0');
    expect(pciFindExtCapability(pf, PCI_EXT_CAP_ID_ACS)).toBe(0x100);
    const iov = pciFindExtCapability(pf, PCI_EXT_CAP_ID_SRIOV);
    expect(iov).toBe(0x140);
    expect([PCI_SRIOV_NUM_VF, PCI_SRIOV_VF_OFFSET, PCI_SRIOV_VF_STRIDE, PCI_SRIOV_VF_DID].map((r) => pciReadConfigWord(pf, iov + r))).toEqual([3, 2, 2, 0x1018]);
    expect(pf.virtfns.map((v) => v.name)).toEqual(['0000:01:00.2', '0000:01:00.4', '0000:01:00.6']);
  });
});
