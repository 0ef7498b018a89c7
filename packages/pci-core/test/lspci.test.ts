// The lspci importer on real dumps (shared fixtures, facts from each .source.md) and on bad input.
// What it reads mirrors what the kernel reports through lspci: the Express capability's port
// type, LnkCap/LnkSta, DevCtl MaxPayload, the ACS extended capability (ACSCap/ACSCtl), BARs,
// bridge bus numbers, and SR-IOV VF offset/stride (pci_iov_virtfn_bus/devfn).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lspciFixtureNames, readLspciFixture, sharedFixturesDir } from '@p2pdma/test-utils';
import { describe, expect, it } from 'vitest';
import { builtinNames, getBuiltin } from '../src/builtins';
import { WARN_ACCESS_DENIED, WARN_NO_NUMERIC_IDS, importLspci, isLspciText } from '../src/lspci';
import type { DeviceSpec, TopologySpec } from '../src/topology-spec';
import { deriveTree, validateTopologySpec } from '../src/topology-validate';

function load(name: string): { spec: TopologySpec; warnings: string[] } {
  const r = importLspci(readLspciFixture(name), name);
  if (!r.ok) throw new Error(r.error);
  return r;
}

function dev(spec: TopologySpec, bdf: string): DeviceSpec {
  const d = spec.devices.find((x) => x.bdf === bdf);
  if (!d) throw new Error(`${bdf} not in the spec`);
  return d;
}

/** Ancestors of a function, nearest first. */
function chain(spec: TopologySpec, bdf: string): string[] {
  const tree = deriveTree(spec);
  const out: string[] = [];
  for (let p = tree.parentOf.get(bdf); p?.kind === 'bridge'; p = tree.parentOf.get(p.bdf)) out.push(p.bdf);
  return out;
}

const roots = (spec: TopologySpec): Array<[number, number]> => spec.hostBridges.map((h) => [h.domain, h.bus]);
const portType = (spec: TopologySpec, bdf: string) => dev(spec, bdf).pcie?.portType;

describe('every shared lspci fixture imports into a valid topology', () => {
  it('finds the fixtures', () => {
    expect(lspciFixtureNames()).toHaveLength(7);
  });

  it.each(lspciFixtureNames())('%s', (name) => {
    const r = importLspci(readLspciFixture(name), name);
    if (!r.ok) throw new Error(r.error);
    expect(validateTopologySpec(r.spec).ok).toBe(true);
    expect(r.spec.warnings).toEqual(r.warnings);
    expect(r.spec.name).toBe(name);
    // Nothing the dump cannot know: enumeration assigns addresses.
    for (const d of r.spec.devices) for (const b of d.bars ?? []) expect(b.address).toBeUndefined();
    expect(deriveTree(r.spec).orphans).toEqual([]);
  });
});

describe('gpu4-plx8747-nvbugreport (nvidia-bug-report: -v -xxx, -t and -nn sections joined by BDF)', () => {
  const { spec, warnings } = load('gpu4-plx8747-nvbugreport');

  it('has every function of the -nn section and root buses 00 and ff', () => {
    expect(spec.devices).toHaveLength(102);
    expect(roots(spec)).toEqual([
      [0, 0x00],
      [0, 0xff],
    ]);
  });

  it('reads the PLX port types and places the GPUs below them', () => {
    expect(portType(spec, '0000:02:00.0')).toBe('upstream-port');
    expect(portType(spec, '0000:03:08.0')).toBe('downstream-port');
    expect(portType(spec, '0000:03:10.0')).toBe('downstream-port');
    expect(chain(spec, '0000:04:00.0')).toEqual(['0000:03:08.0', '0000:02:00.0', '0000:00:02.0']);
    expect(chain(spec, '0000:04:00.1')).toEqual(['0000:03:08.0', '0000:02:00.0', '0000:00:02.0']);
    expect(chain(spec, '0000:05:00.0')).toEqual(['0000:03:10.0', '0000:02:00.0', '0000:00:02.0']);
    expect(chain(spec, '0000:08:00.0')).toEqual(['0000:07:08.0', '0000:06:00.0', '0000:00:03.0']);
  });

  it('takes root-port bus ranges from the -t tree and IDs from -nn', () => {
    expect(dev(spec, '0000:00:02.0')).toMatchObject({ vendor: 0x8086, device: 0x6f04, headerType: 1, secondaryBus: 2, subordinateBus: 5 });
    expect(portType(spec, '0000:00:02.0')).toBe('root-port');
    expect(dev(spec, '0000:04:00.0')).toMatchObject({ vendor: 0x10de, device: 0x1b06, classCode: 0x030000, role: 'gpu', driver: 'nvidia' });
    expect(dev(spec, '0000:04:00.0').pcie).toEqual({ portType: 'legacy-endpoint' });
    expect(dev(spec, '0000:00:00.0')).toMatchObject({ vendor: 0x8086, device: 0x6f00, classCode: 0x060000 });
    // The AST1150 bridge has no detail: inferred from its child, an endpoint.
    expect(portType(spec, '0000:0b:00.0')).toBe('pcie-pci-bridge');
  });

  it('infers BAR indexes from -v order (64-bit BARs take two)', () => {
    expect(dev(spec, '0000:04:00.0').bars).toEqual([
      { index: 0, size: 16 << 20, kind: 'mem', is64: false, prefetchable: false },
      { index: 1, size: 256 << 20, kind: 'mem', is64: true, prefetchable: true },
      { index: 3, size: 32 << 20, kind: 'mem', is64: true, prefetchable: true },
      { index: 5, size: 128, kind: 'io' },
    ]);
    expect(warnings).toContain('BAR indexes inferred from the order of the Memory/I/O lines (lspci -v prints no region numbers)');
  });

  it('marks ACS unknown where lspci -v lists the capability without bits', () => {
    expect(dev(spec, '0000:03:08.0').acs).toEqual({ cap: 'unknown', ctrl: 'unknown' });
    expect(dev(spec, '0000:02:00.0').acs).toBeUndefined();
    expect(warnings.some((w) => w.startsWith('ACS capability listed without its bits (lspci -v, not -vvv) on 0000:03:08.0'))).toBe(true);
  });

  it('infers the CPU vendor from the host bridge and says so', () => {
    expect(spec.cpu).toEqual({ vendor: 'intel' });
    expect(warnings).toContain(
      "CPU vendor 'intel' inferred from host bridge function 0000:00:00.0 (Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D DMI2); CPU family unknown",
    );
    expect(spec.iommu).toBe(false);
  });
});

describe('dell-13g-2s-e5v4-p100 (-vvv as root, no -nn, two sockets)', () => {
  const { spec, warnings } = load('dell-13g-2s-e5v4-p100');

  it('has 201 functions; I/O root buses 00 and 80 plus the uncore buses 7f and ff', () => {
    expect(spec.devices).toHaveLength(201);
    expect(roots(spec)).toEqual([
      [0, 0x00],
      [0, 0x7f],
      [0, 0x80],
      [0, 0xff],
    ]);
    const tree = deriveTree(spec);
    // Only the two sockets' I/O root buses hold bridges; 7f/ff are uncore-only.
    const withPorts = tree.rootDevices.map((list) => list.some((b) => portType(spec, b) === 'root-port'));
    expect(withPorts).toEqual([true, false, true, false]);
  });

  it('bus 80 has no 80:00.0 function (so its host bridge has no label)', () => {
    expect(spec.devices.some((d) => d.bdf === '0000:80:00.0')).toBe(false);
    expect(spec.hostBridges[2]!.label).toBeUndefined();
    expect(spec.hostBridges[0]!.label).toBe('Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D DMI2');
  });

  it('places the GPUs, NVMe SSDs and the legacy VGA', () => {
    expect(chain(spec, '0000:04:00.0')).toEqual(['0000:00:02.0']);
    expect(chain(spec, '0000:82:00.0')).toEqual(['0000:80:02.0']);
    expect(chain(spec, '0000:81:00.0')).toEqual(['0000:80:01.0']);
    expect(chain(spec, '0000:84:00.0')).toEqual(['0000:80:03.2']);
    expect(dev(spec, '0000:81:00.0')).toMatchObject({ classCode: 0x010802, role: 'nvme', pcie: { portType: 'endpoint', linkGen: 3, linkWidth: 4 } });
    expect(chain(spec, '0000:0a:00.0')).toEqual(['0000:09:00.0', '0000:08:00.0', '0000:07:00.0', '0000:00:1c.7']);
    expect(portType(spec, '0000:09:00.0')).toBe('pcie-pci-bridge');
    expect(dev(spec, '0000:0a:00.0').pcie).toBeUndefined();
  });

  it('reads ACSCap/ACSCtl, link, MaxPayload of a CPU root port', () => {
    expect(dev(spec, '0000:00:01.0')).toMatchObject({
      acs: { cap: ['SV', 'TB', 'RR', 'CR', 'UF'], ctrl: [] },
      pcie: { portType: 'root-port', linkGen: 3, linkWidth: 8, maxLinkGen: 3, maxLinkWidth: 8, mps: 256 },
      secondaryBus: 3,
      subordinateBus: 3,
      driver: 'pcieport',
    });
    // The DMI2 host bridge function carries a Root Port capability but no bridge header.
    expect(dev(spec, '0000:00:00.0')).toMatchObject({ headerType: 0, classCode: 0x060000, pcie: { portType: 'root-port' } });
  });

  it('reads Region numbers and sizes, skipping BARs without a size', () => {
    expect(dev(spec, '0000:04:00.0').bars).toEqual([
      { index: 0, size: 16 << 20, kind: 'mem', is64: false, prefetchable: false },
      { index: 1, size: 16 * 2 ** 30, kind: 'mem', is64: true, prefetchable: true },
      { index: 3, size: 32 << 20, kind: 'mem', is64: true, prefetchable: true },
    ]);
    expect(dev(spec, '0000:03:00.0').bars).toEqual([
      { index: 0, size: 256, kind: 'io' },
      { index: 1, size: 64 << 10, kind: 'mem', is64: true, prefetchable: false },
      { index: 3, size: 1 << 20, kind: 'mem', is64: true, prefetchable: false },
    ]);
  });

  it('warns once about missing numeric IDs and leaves them unset', () => {
    expect(warnings.filter((w) => w === WARN_NO_NUMERIC_IDS)).toHaveLength(1);
    expect(dev(spec, '0000:00:00.0').vendor).toBeUndefined();
    expect(spec.iommu).toBe(false);
    expect(warnings).toContain('IOMMU assumed off: no ACSCtl SrcValid+ seen');
  });
});

describe('dell-adl-tb4dock-vmd-nvme (-vnn, 5-digit VMD domain)', () => {
  const { spec, warnings } = load('dell-adl-tb4dock-vmd-nvme');

  it('parses domain 10000 as its own host bridge', () => {
    expect(spec.devices).toHaveLength(36);
    expect(roots(spec)).toEqual([
      [0, 0x00],
      [0x10000, 0xe0],
    ]);
    expect(portType(spec, '10000:e0:06.0')).toBe('root-port');
    expect(chain(spec, '10000:e1:00.0')).toEqual(['10000:e0:06.0']);
    expect(dev(spec, '10000:e1:00.0')).toMatchObject({ vendor: 0x1c5c, device: 0x1959, role: 'nvme', classCode: 0x010802 });
  });

  it('places the external NVMe behind two stacked switches under one root port', () => {
    expect(chain(spec, '0000:45:00.0')).toEqual(['0000:44:00.0', '0000:43:00.0', '0000:41:01.0', '0000:40:00.0', '0000:00:07.2']);
    expect(dev(spec, '0000:40:00.0')).toMatchObject({ vendor: 0x8086, device: 0x0b26, pcie: { portType: 'upstream-port' } });
    expect(dev(spec, '0000:00:07.2').acs).toEqual({ cap: 'unknown', ctrl: 'unknown' });
    expect(dev(spec, '0000:43:00.0').acs).toBeUndefined();
    expect(dev(spec, '0000:00:00.0')).toMatchObject({ vendor: 0x8086, device: 0x4641, subsystemVendor: 0x1028, subsystemDevice: 0x0af3 });
    expect(warnings).not.toContain(WARN_NO_NUMERIC_IDS);
  });
});

describe('power9-phb4-arc-b580 (-v, one PHB per domain)', () => {
  const { spec } = load('power9-phb4-arc-b580');

  it('has nine domains, each its own host bridge', () => {
    expect(spec.devices).toHaveLength(20);
    expect(roots(spec)).toEqual([0, 1, 2, 3, 4, 5, 0x30, 0x31, 0x32].map((d) => [d, 0]));
    expect(spec.cpu).toEqual({ vendor: 'other' });
  });

  it('places the Arc GPU and its audio behind the GPU-internal switch', () => {
    expect(chain(spec, '0030:03:00.0')).toEqual(['0030:02:01.0', '0030:01:00.0', '0030:00:00.0']);
    expect(chain(spec, '0030:04:00.0')).toEqual(['0030:02:02.0', '0030:01:00.0', '0030:00:00.0']);
    expect(dev(spec, '0030:02:01.0').acs).toEqual({ cap: 'unknown', ctrl: 'unknown' });
    expect(dev(spec, '0000:00:00.0')).toMatchObject({ secondaryBus: 1, subordinateBus: 0xff, pcie: { portType: 'root-port' } });
  });
});

describe('ibm-x3650m4-2s-e5-nonroot (-vv without root: capabilities unreadable)', () => {
  const { spec, warnings } = load('ibm-x3650m4-2s-e5-nonroot');

  it('warns that capabilities were unreadable', () => {
    expect(spec.devices).toHaveLength(137);
    expect(warnings).toContain(WARN_ACCESS_DENIED);
  });

  it('infers port types from the bus structure', () => {
    expect(portType(spec, '0000:00:1c.7')).toBe('root-port');
    expect(portType(spec, '0000:01:00.0')).toBe('upstream-port');
    expect(portType(spec, '0000:02:00.0')).toBe('downstream-port');
    expect(portType(spec, '0000:02:01.0')).toBe('downstream-port');
    expect(portType(spec, '0000:03:00.0')).toBe('pcie-pci-bridge');
    expect(portType(spec, '0000:04:00.0')).toBeUndefined();
    expect(portType(spec, '0000:06:00.3')).toBe('endpoint');
    expect(portType(spec, '0000:80:00.0')).toBe('root-port');
    expect(portType(spec, '0000:8b:00.0')).toBe('pcie-pci-bridge');
    expect(chain(spec, '0000:20:00.0')).toEqual(['0000:00:03.2']);
    expect(chain(spec, '0000:16:00.0')).toEqual(['0000:00:02.2']);
  });

  it('marks ACS unknown and keeps the header data', () => {
    expect(dev(spec, '0000:00:1c.7').acs).toEqual({ cap: 'unknown', ctrl: 'unknown' });
    expect(dev(spec, '0000:00:1c.7')).toMatchObject({ secondaryBus: 1, subordinateBus: 5 });
    expect(roots(spec)).toEqual([
      [0, 0x00],
      [0, 0x7f],
      [0, 0x80],
      [0, 0xff],
    ]);
  });
});

describe('asm1812-4x-rtl8125-excerpt (-vvv excerpt whose root port is missing)', () => {
  const { spec, warnings } = load('asm1812-4x-rtl8125-excerpt');

  it('creates a host bridge for the orphaned bus and says the path above is unknown', () => {
    expect(spec.devices).toHaveLength(11);
    expect(roots(spec)).toEqual([[0, 3]]);
    expect(spec.hostBridges[0]!.label).toBe('unknown (the dump lacks the path above bus 0000:03)');
    expect(warnings).toContain(
      'bus 0000:03 has no parent bridge in the dump (0000:03:00.0 is an upstream port): a host bridge was created for it; the path above 0000:03:00.0 is unknown',
    );
    expect(spec.cpu).toBeUndefined();
  });

  it('reads ACS redirect (RR CR) on all six downstream ports', () => {
    const ports = ['04:00.0', '04:02.0', '04:03.0', '04:08.0', '04:0a.0', '04:0b.0'].map((b) => dev(spec, `0000:${b}`));
    for (const p of ports) {
      expect(p.pcie!.portType).toBe('downstream-port');
      expect(p.acs).toEqual({ cap: ['SV', 'TB', 'RR', 'CR', 'UF', 'DT'], ctrl: ['SV', 'RR', 'CR', 'UF'] });
    }
    expect(chain(spec, '0000:07:00.0')).toEqual(['0000:04:03.0', '0000:03:00.0']);
    expect(dev(spec, '0000:07:00.0')).toMatchObject({ role: 'nic', classCode: 0x020000, pcie: { portType: 'endpoint', linkGen: 2, linkWidth: 1 } });
  });

  it('assumes the IOMMU on because ACSCtl shows SrcValid+', () => {
    expect(spec.iommu).toBe(true);
    expect(warnings).toContain('IOMMU assumed on: ACSCtl shows SrcValid+ on 0000:04:00.0 (the kernel enables ACS only for an IOMMU)');
  });
});

describe('laptop-egpu-tb3-2x3090 (-v, three switch levels)', () => {
  const { spec } = load('laptop-egpu-tb3-2x3090');

  it('places both RTX 3090s below the Titan Ridge switch', () => {
    expect(spec.devices).toHaveLength(47);
    expect(chain(spec, '0000:09:00.0')).toEqual(['0000:08:01.0', '0000:07:00.0', '0000:05:01.0', '0000:04:00.0', '0000:00:1c.0']);
    expect(chain(spec, '0000:2f:00.0')).toEqual(['0000:2e:01.0', '0000:2d:00.0', '0000:05:04.0', '0000:04:00.0', '0000:00:1c.0']);
    expect(chain(spec, '0000:0c:00.0')).toEqual(['0000:0b:00.0', '0000:0a:00.0', '0000:08:04.0', '0000:07:00.0', '0000:05:01.0', '0000:04:00.0', '0000:00:1c.0']);
  });
});

describe('the -t tree parser', () => {
  it('imports the lspci -tv tree of the laptop (names cut, bus ranges kept)', () => {
    const text = readFileSync(join(sharedFixturesDir, 'lspci', 'laptop-egpu-tb3-2x3090.tree'), 'latin1');
    expect(isLspciText(text)).toBe(true);
    const r = importLspci(text, 'laptop.tree');
    if (!r.ok) throw new Error(r.error);
    expect(r.spec.devices).toHaveLength(47);
    expect(dev(r.spec, '0000:00:1c.0')).toMatchObject({ secondaryBus: 4, subordinateBus: 0x51 });
    expect(dev(r.spec, '0000:05:04.0')).toMatchObject({ secondaryBus: 0x2d, subordinateBus: 0x51 });
    expect(chain(r.spec, '0000:2f:00.0')).toEqual(['0000:2e:01.0', '0000:2d:00.0', '0000:05:04.0', '0000:04:00.0', '0000:00:1c.0']);
    expect(portType(r.spec, '0000:04:00.0')).toBe('upstream-port');
    expect(portType(r.spec, '0000:05:01.0')).toBe('downstream-port');
    expect(r.warnings).toContain('no detailed records (plain lspci listing): port types inferred from the bus structure, ACS unknown');
  });
});

describe('a -vvv -nn dump with SR-IOV (synthetic, in lspci 3.x format)', () => {
  const text = [
    '0000:3a:00.0 PCI bridge [0604]: Intel Corporation Sky Lake-E PCI Express Root Port A [8086:2030] (rev 04) (prog-if 00 [Normal decode])',
    '\tBus: primary=3a, secondary=3b, subordinate=3b, sec-latency=0',
    '\tCapabilities: [90] Express (v2) Root Port (Slot+), MSI 00',
    '\t\tDevCtl:\tCorrErr- NonFatalErr- FatalErr- UnsupReq-',
    '\t\t\tRlxdOrd- ExtTag+ PhantFunc- AuxPwr- NoSnoop-',
    '\t\t\tMaxPayload 256 bytes, MaxReadReq 128 bytes',
    '\t\tLnkCap:\tPort #5, Speed 8GT/s, Width x16, ASPM L1, Exit Latency L1 <16us',
    '\t\tLnkSta:\tSpeed 8GT/s (ok), Width x8 (downgraded)',
    '\tCapabilities: [110 v1] Access Control Services',
    '\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-',
    '\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-',
    '\tKernel driver in use: pcieport',
    '',
    '0000:3b:00.0 Ethernet controller [0200]: Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]',
    '\tSubsystem: Mellanox Technologies Device [15b3:0007]',
    '\tRegion 0: Memory at 38bffe000000 (64-bit, prefetchable) [size=32M]',
    '\tExpansion ROM at aae00000 [disabled] [size=1M]',
    '\tCapabilities: [60] Express (v2) Endpoint, MSI 00',
    '\t\tDevCtl:\tCorrErr- NonFatalErr+ FatalErr+ UnsupReq+',
    '\t\t\tMaxPayload 256 bytes, MaxReadReq 512 bytes',
    '\t\tLnkSta:\tSpeed 8GT/s (ok), Width x8 (downgraded)',
    '\tCapabilities: [180 v1] Single Root I/O Virtualization (SR-IOV)',
    '\t\tIOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy+',
    '\t\tInitial VFs: 8, Total VFs: 8, Number of VFs: 2, Function Dependency Link: 00',
    '\t\tVF offset: 2, stride: 1, Device ID: 1018',
    '\t\tRegion 0: Memory at 000038bffd800000 (64-bit, prefetchable)',
    '\tKernel driver in use: mlx5_core',
    '',
    '0000:3b:00.1 Ethernet controller [0200]: Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]',
    '\tRegion 0: Memory at 38bffc000000 (64-bit, prefetchable) [size=32M]',
    '\tRegion 2: I/O ports at <ignored> [disabled]',
    '\tCapabilities: [60] Express (v2) Endpoint, MSI 00',
    '',
    '0000:3b:00.2 Ethernet controller [0200]: Mellanox Technologies MT27800 Family [ConnectX-5 Virtual Function] [15b3:1018]',
    '\tRegion 0: [virtual] Memory at 38bffd800000 (64-bit, prefetchable) [size=1M]',
    '\tCapabilities: [60] Express (v2) Endpoint, MSI 00',
    '',
    '0000:3b:00.3 Ethernet controller [0200]: Mellanox Technologies MT27800 Family [ConnectX-5 Virtual Function] [15b3:1018]',
    '\tRegion 0: [virtual] Memory at 38bffd900000 (64-bit, prefetchable) [size=1M]',
    '\tCapabilities: [60] Express (v2) Endpoint, MSI 00',
    '',
    '0000:3c:00.0 Non-Volatile memory controller [0108]: Intel Corporation PCIe Data Center SSD [8086:0953] (rev 01) (prog-if 02 [NVM Express])',
    '\tRegion 0: Memory at 0 (64-bit, non-prefetchable) [size=16K]',
    '\tCapabilities: [60] Express (v2) Endpoint, MSI 00',
    '',
    '',
  ].join('\n');

  const r = importLspci(text, 'sriov.txt');
  if (!r.ok) throw new Error(r.error);
  const { spec, warnings } = r;

  it('reads link, MaxPayload, ACS and the IOMMU hint from a root port', () => {
    expect(dev(spec, '0000:3a:00.0')).toMatchObject({
      vendor: 0x8086,
      device: 0x2030,
      revision: 4,
      classCode: 0x060400,
      pcie: { portType: 'root-port', linkGen: 3, linkWidth: 8, maxLinkGen: 3, maxLinkWidth: 16, mps: 256 },
      acs: { cap: ['SV', 'TB', 'RR', 'CR', 'UF'], ctrl: ['SV', 'RR', 'CR', 'UF'] },
    });
    expect(spec.iommu).toBe(true);
  });

  it('finds the VFs from the PF SR-IOV offset/stride and sets physfn', () => {
    expect(dev(spec, '0000:3b:00.2').physfn).toBe('0000:3b:00.0');
    expect(dev(spec, '0000:3b:00.3').physfn).toBe('0000:3b:00.0');
    expect(dev(spec, '0000:3b:00.1').physfn).toBeUndefined();
    expect(dev(spec, '0000:3b:00.2')).toMatchObject({ device: 0x1018, role: 'rnic', bars: [{ index: 0, size: 1 << 20, is64: true, prefetchable: true }] });
  });

  it('reads IDs, subsystem, BARs (skipping <ignored>), driver and role', () => {
    expect(dev(spec, '0000:3b:00.0')).toMatchObject({
      vendor: 0x15b3,
      device: 0x1017,
      subsystemVendor: 0x15b3,
      subsystemDevice: 0x0007,
      label: 'Mellanox Technologies MT27800 Family [ConnectX-5]',
      role: 'rnic',
      driver: 'mlx5_core',
      bars: [{ index: 0, size: 32 << 20, kind: 'mem', is64: true, prefetchable: true }],
      pcie: { portType: 'endpoint', linkGen: 3, linkWidth: 8, mps: 256 },
    });
    expect(dev(spec, '0000:3b:00.1').bars).toHaveLength(1);
    expect(warnings).toContain('BARs listed without a size are left out (0000:3b:00.1)');
    expect(dev(spec, '0000:3c:00.0')).toMatchObject({ classCode: 0x010802, revision: 1, role: 'nvme' });
    // The 00.0 function of the first root bus (here a Skylake root port) stands for the host bridge.
    expect(spec.cpu).toEqual({ vendor: 'intel' });
    expect(warnings.some((w) => w.startsWith("CPU vendor 'intel' inferred from host bridge function 0000:3a:00.0"))).toBe(true);
  });

  it('makes the uncovered buses root buses (3a holds the root port, 3c is an orphaned endpoint)', () => {
    expect(roots(spec)).toEqual([
      [0, 0x3a],
      [0, 0x3c],
    ]);
    expect(warnings.some((w) => w.startsWith('bus 0000:3c has no parent bridge in the dump (0000:3c:00.0 is an endpoint)'))).toBe(true);
  });
});

describe('bad lspci input gives an error naming the input and the line', () => {
  const dell = readLspciFixture('dell-13g-2s-e5v4-p100');
  const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

  it('text with no device record', () => {
    expect(importLspci('', 'empty.txt')).toEqual({
      ok: false,
      error: "empty.txt: lines 1-1: no PCI device record found (expected lspci output such as 'lspci -vvv -nn')",
    });
    const r = importLspci('hello\nworld\n', 'prose.txt');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^prose\.txt: lines 1-3: no PCI device record/);
  });

  it('a real dump cut in the middle of a Bus: line', () => {
    const at = dell.indexOf('\tBus: primary=00, secondary=03') + '\tBus: primary=00, sec'.length;
    const r = importLspci(dell.slice(0, at), 'dell-cut.txt');
    expect(r).toEqual({ ok: false, error: `dell-cut.txt: line ${lineOf(dell, at)}: Bus: line of 0000:00:01.0 is cut off` });
  });

  it('a real dump cut between two lines of a record', () => {
    const at = dell.indexOf('\t\tRootCap: CRSVisible+');
    const r = importLspci(dell.slice(0, at), 'dell-cut2.txt');
    expect(r).toEqual({
      ok: false,
      error: `dell-cut2.txt: line ${lineOf(dell, at) - 1}: the input ends inside the record of 0000:00:01.0 (started at line 46): it is cut off (lspci ends every verbose record with an empty line)`,
    });
  });

  it('a real dump cut to its first 3 lines', () => {
    const first3 = dell.split('\n').slice(0, 3).join('\n');
    expect(importLspci(first3, 'dell-3.txt')).toEqual({
      ok: false,
      error: 'dell-3.txt: line 3: the input ends inside the record of 0000:00:00.0 (started at line 1): it is cut off (lspci ends every verbose record with an empty line)',
    });
    // The nvidia-bug-report excerpt: command line, blank, first header of an `lspci -v` section.
    const gpu3 = readLspciFixture('gpu4-plx8747-nvbugreport').split('\n').slice(0, 3).join('\n');
    const r = importLspci(gpu3, 'gpu-3.txt');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^gpu-3\.txt: line 3: the input ends inside the record of 0000:04:00\.0/);
  });

  it('a device header line without class text', () => {
    const at = dell.indexOf('00:01.0 PCI bridge') + '00:01.0 PCI bri'.length;
    expect(importLspci(dell.slice(0, at), 'hdr.txt')).toEqual({
      ok: false,
      error: `hdr.txt: line ${lineOf(dell, at)}: device header of 0000:00:01.0 has no class text (cut off?)`,
    });
    expect(importLspci('00:01.0\n', 'bare.txt')).toEqual({ ok: false, error: "bare.txt: line 1: device header '00:01.0' has no class text (cut off?)" });
  });

  it('bridges that cannot be connected', () => {
    const text = [
      '00:01.0 PCI bridge [0604]: Intel Corporation Device [8086:6f02]',
      '\tBus: primary=00, secondary=05, subordinate=05, sec-latency=0',
      '\tCapabilities: [90] Express (v2) Root Port (Slot-), MSI 00',
      '',
      '00:02.0 PCI bridge [0604]: Intel Corporation Device [8086:6f04]',
      '\tBus: primary=00, secondary=05, subordinate=05, sec-latency=0',
      '\tCapabilities: [90] Express (v2) Root Port (Slot-), MSI 00',
      '',
      '',
    ].join('\n');
    expect(importLspci(text, 'claims.txt')).toEqual({
      ok: false,
      error: 'claims.txt: line 6: cannot connect the bridges: bus 0x05 is claimed by bridges 0000:00:01.0 and 0000:00:02.0',
    });
    const nnOnly = '00:00.0 Host bridge [0600]: Intel Corporation Device [8086:6f00] (rev 01)\n00:01.0 PCI bridge [0604]: Intel Corporation Device [8086:6f02] (rev 01)\n';
    expect(importLspci(nnOnly, 'nn.txt')).toEqual({
      ok: false,
      error: 'nn.txt: line 2: cannot connect the bridges: 0000:00:01.0 is a PCI bridge but the input gives no bus numbers for it (it needs lspci -v detail or an lspci -t tree)',
    });
  });

  it('a cut ACS line', () => {
    const asm = readLspciFixture('asm1812-4x-rtl8125-excerpt');
    const at = asm.indexOf('\t\tACSCtl:') + '\t\tACSCtl:\tSrcValid+ TransBlk-'.length;
    const r = importLspci(asm.slice(0, at), 'asm.txt');
    expect(r).toEqual({ ok: false, error: `asm.txt: line ${lineOf(asm, at)}: ACSCtl line is cut off (lspci prints all seven ACS bits)` });
  });
});

describe('line endings', () => {
  it('reads a dump saved with CRLF line endings the same way', () => {
    const text = readLspciFixture('asm1812-4x-rtl8125-excerpt');
    const lf = importLspci(text, 'x');
    const crlf = importLspci(text.replace(/\n/g, '\r\n'), 'x');
    expect(crlf).toEqual(lf);
  });
});

describe('isLspciText', () => {
  it('recognizes every lspci fixture and rejects topology JSON', () => {
    for (const name of lspciFixtureNames()) expect(isLspciText(readLspciFixture(name))).toBe(true);
    for (const name of builtinNames()) {
      expect(isLspciText(JSON.stringify(getBuiltin(name), null, 2))).toBe(false);
      expect(isLspciText(JSON.stringify(getBuiltin(name)))).toBe(false);
    }
    expect(isLspciText('')).toBe(false);
    expect(isLspciText('just some text\n')).toBe(false);
  });
});

describe('importer throughput', () => {
  it('imports a large -vvv dump in one pass (rate logged; floor guards against quadratic work)', () => {
    // Eight copies of the 201-function Dell dump in separate domains: ~1.6 MB, 1608 functions.
    const base = readLspciFixture('dell-13g-2s-e5v4-p100').split('\n');
    const copies: string[] = [];
    for (let d = 1; d <= 40; d++) {
      const dom = d.toString(16).padStart(4, '0');
      copies.push(base.map((l) => (/^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] /.test(l) ? `${dom}:${l}` : l)).join('\n'));
    }
    const text = copies.join('\n');
    importLspci(text, 'warm-up');
    const t0 = performance.now();
    const r = importLspci(text, 'big.txt');
    const seconds = (performance.now() - t0) / 1000;
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.spec.devices).toHaveLength(201 * 40);
    const mbps = text.length / 1e6 / seconds;
    console.info(`lspci import: ${(text.length / 1e6).toFixed(1)} MB in ${(seconds * 1000).toFixed(0)} ms = ${mbps.toFixed(0)} MB/s`);
    expect(mbps).toBeGreaterThan(10);
  });
});
