import { IOMMU_READ, IOMMU_WRITE, IOVA_BASE, isErr } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { PCI_ACS_RR } from '../src/acs';
import { pciBusAddress, pciResourceStart } from '../src/bar';
import { bar, topology } from '../src/builder';
import { PCI_ACS_CTRL } from '../src/capability';
import type { FabricCounters } from '../src/fabric';
import { boot, bootSpec, pattern, readBar } from './helpers';

const MiB = 1 << 20;
const GiB = 2 ** 30;

/** Every link, root complex and DRAM counter that is not zero, for exact comparisons. */
function nonZero(c: FabricCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [n, l] of Object.entries(c.links)) {
    if (l.up) out[`link ${n} up`] = l.up;
    if (l.down) out[`link ${n} down`] = l.down;
  }
  for (const [n, r] of Object.entries(c.rootComplexes)) {
    for (const [k, v] of Object.entries(r)) if (v) out[`${n} ${k}`] = v;
  }
  if (c.dram.read) out['dram read'] = c.dram.read;
  if (c.dram.write) out['dram write'] = c.dram.write;
  for (const [n, d] of Object.entries(c.devices)) {
    for (const [k, v] of Object.entries(d)) if (v) out[`${n} ${k}`] = v;
  }
  return out;
}

// seed-switch: RP 00:03.0 -> USP 01:00.0 -> DSPs 02:08.0 (RNIC 03:00.0), 02:09.0 (NoLoad 04:00.0),
// 02:10.0 (P3700 05:00.0), 02:11.0 (p2pmem card 06:00.0, BAR 4 = 256 MiB).
describe('fabric: peer-to-peer under one switch (DESIGN section 4)', () => {
  it('a DMA between two endpoints under one switch stays in the switch: no upstream link, root complex or DRAM bytes', () => {
    const m = boot('seed-switch');
    const rnic = m.dev('0000:03:00.0');
    const card = m.dev('0000:06:00.0');
    const data = pattern(64 * 1024, 1);
    const at = pciBusAddress(card, 4) + 0x1000;
    expect(m.sys.fabric.dmaWrite(rnic, at, data)).toEqual({ status: 'ok' });
    expect(readBar(card, 4, 0x1000, data.length)).toEqual(data);
    expect(nonZero(m.sys.fabric.counters())).toEqual({
      'link 0000:03:00.0 up': 65536,
      'link 0000:06:00.0 down': 65536,
      '0000:06:00.0 barWrite': 65536,
    });
    const route = m.sys.fabric.describeRoute(rnic, at, 'write');
    expect(route.hops.map((h) => `${h.kind} ${h.name}${h.dir ? ` ${h.dir}` : ''}`)).toEqual([
      'device 0000:03:00.0',
      'link 0000:03:00.0 up',
      'bridge 0000:02:08.0',
      'bridge 0000:02:11.0',
      'link 0000:06:00.0 down',
      'bar 0000:06:00.0 BAR 4',
    ]);
  });

  it('with ACS Request Redirect on the ingress port (acs-redirect) the same DMA crosses the root complex and still lands (IOMMU off)', () => {
    const m = boot('acs-redirect');
    const rnic = m.dev('0000:03:00.0');
    const card = m.dev('0000:06:00.0');
    const data = pattern(8192, 2);
    const at = pciBusAddress(card, 4);
    expect(m.sys.fabric.dmaWrite(rnic, at, data)).toEqual({ status: 'ok' });
    expect(readBar(card, 4, 0, data.length)).toEqual(data);
    const c = m.sys.fabric.counters();
    expect(c.links['0000:01:00.0']).toEqual({ up: 8192, down: 8192 }); // the switch's upstream link, both ways
    expect(c.rootComplexes['pci0000:00']).toMatchObject({ in: 8192, out: 8192, peerForwarded: 8192 });
    expect(c.dram).toEqual({ read: 0, write: 0 });
    expect(m.sys.fabric.describeRoute(rnic, at, 'write').hops.map((h) => h.name)).toContain('pci0000:00');
  });

  it('setting RR in the ingress port ACS control at run time re-routes (the route cache is invalidated)', () => {
    const m = boot('seed-switch');
    const rnic = m.dev('0000:03:00.0');
    const card = m.dev('0000:06:00.0');
    const dsp = m.dev('0000:02:08.0');
    const at = pciBusAddress(card, 4);
    m.sys.fabric.dmaWrite(rnic, at, pattern(100, 3));
    expect(m.sys.fabric.counters().links['0000:01:00.0']).toEqual({ up: 0, down: 0 });
    dsp.config.write(dsp.acsCap + PCI_ACS_CTRL, 2, PCI_ACS_RR);
    m.sys.fabric.resetCounters();
    m.sys.fabric.dmaWrite(rnic, at, pattern(100, 3));
    expect(m.sys.fabric.counters().links['0000:01:00.0']).toEqual({ up: 100, down: 100 });
  });

  it('with the IOMMU on and no mapping the redirected DMA is an IOMMU fault and writes nothing', () => {
    const m = boot('acs-redirect', { iommu: true });
    const rnic = m.dev('0000:03:00.0');
    const card = m.dev('0000:06:00.0');
    const at = pciBusAddress(card, 4);
    const r = m.sys.fabric.dmaWrite(rnic, at, pattern(4096, 4));
    expect(r).toEqual({ status: 'iommu-fault', at: `iommu group ${rnic.iommuGroup!.id}` });
    expect(readBar(card, 4, 0, 4096)).toEqual(new Uint8Array(4096));
    const c = m.sys.fabric.counters();
    expect(c.devices['0000:06:00.0']).toBeUndefined();
    expect(c.dram.write).toBe(0);
    expect(m.sys.fabric.errors()).toMatchObject([{ status: 'iommu-fault', initiator: '0000:03:00.0', addr: at, len: 4096, dir: 'write' }]);
  });

  it('with the IOMMU on, an IOVA mapped to the peer BAR reaches it through the root complex; to RAM, DRAM', () => {
    const m = boot('acs-redirect', { iommu: true });
    const rnic = m.dev('0000:03:00.0');
    const card = m.dev('0000:06:00.0');
    const dom = rnic.iommuGroup!.domain;
    expect(dom.map(IOVA_BASE, pciResourceStart(card, 4), 2 * 4096, IOMMU_READ | IOMMU_WRITE)).toBe(0);
    const data = pattern(6000, 5);
    expect(m.sys.fabric.dmaWrite(rnic, IOVA_BASE + 100, data)).toEqual({ status: 'ok' });
    expect(readBar(card, 4, 100, 6000)).toEqual(data);
    const ram = m.kernel.memory.allocPages(1)!;
    expect(dom.map(IOVA_BASE + 0x10000, ram, 4096, IOMMU_READ)).toBe(0);
    m.kernel.memory.ramWrite(ram, data.subarray(0, 4096));
    const out = new Uint8Array(4096);
    expect(m.sys.fabric.dmaRead(rnic, IOVA_BASE + 0x10000, out)).toEqual({ status: 'ok' });
    expect(out).toEqual(data.subarray(0, 4096));
    // Read-only mapping: a write faults.
    expect(m.sys.fabric.dmaWrite(rnic, IOVA_BASE + 0x10000, out).status).toBe('iommu-fault');
    expect(m.sys.fabric.counters().dram).toEqual({ read: 4096, write: 0 });
  });

  it('a device writing its own BAR is served internally: no link bytes, the device internal counter', () => {
    const m = boot('seed-switch');
    const nvme = m.dev('0000:04:00.0');
    const data = pattern(12345, 6);
    expect(m.sys.fabric.dmaWrite(nvme, pciBusAddress(nvme, 2) + 7, data)).toEqual({ status: 'ok' });
    expect(readBar(nvme, 2, 7, data.length)).toEqual(data);
    expect(nonZero(m.sys.fabric.counters())).toEqual({ '0000:04:00.0 barWrite': 12345, '0000:04:00.0 internal': 12345 });
  });

  it('an address nothing decodes is an Unsupported Request and writes nothing (DRAM and every BAR unchanged)', () => {
    const m = boot('seed-switch');
    const rnic = m.dev('0000:03:00.0');
    const pages = m.kernel.memory.residentPages();
    // 0xf0000000: in the 2-4 GiB hole, outside the host bridge window [0x80000000-0xbfffffff].
    expect(m.sys.fabric.dmaWrite(rnic, 0xf000_0000, pattern(4096, 7))).toEqual({ status: 'ur', at: 'root complex pci0000:00' });
    // Inside the P3700 port's window but beyond its 16 KiB BAR: UR at that port.
    const gap = pciBusAddress(m.dev('0000:05:00.0'), 0) + 0x4000;
    expect(m.sys.fabric.dmaWrite(rnic, gap, pattern(64, 8))).toEqual({ status: 'ur', at: '0000:02:10.0' });
    const c = m.sys.fabric.counters();
    expect(c.dram).toEqual({ read: 0, write: 0 });
    for (const d of m.sys.devices()) expect(c.devices[d.name]?.barWrite ?? 0).toBe(0);
    for (const d of m.sys.devices()) {
      for (let b = 0; b < 6; b++) if (d.barBacking(b) !== null) expect(readBar(d, b, 0, 64)).toEqual(new Uint8Array(64));
    }
    expect(m.kernel.memory.residentPages()).toBe(pages);
    expect(m.sys.fabric.errors().map((e) => [e.status, e.at, e.reason])).toEqual([
      ['ur', 'root complex pci0000:00', 'bus address 0xf0000000 is in no window of pci0000:00, not System RAM, and in no other host bridge\'s window'],
      ['ur', '0000:02:10.0', `nothing on bus 0000:05 decodes 0x${gap.toString(16)}`],
    ]);
  });

  it('a transfer crossing the end of a BAR is split: the part inside lands, the rest is reported', () => {
    const m = boot('seed-switch');
    const rnic = m.dev('0000:03:00.0');
    const p3700 = m.dev('0000:05:00.0');
    const data = pattern(8192, 9);
    const r = m.sys.fabric.dmaWrite(rnic, pciBusAddress(p3700, 0) + 0x3000, data);
    expect(r).toEqual({ status: 'ur', at: '0000:02:10.0' });
    expect(readBar(p3700, 0, 0x3000, 0x1000)).toEqual(data.subarray(0, 0x1000));
    expect(m.sys.fabric.errors()[0]).toMatchObject({ len: 0x1000, addr: pciBusAddress(p3700, 0) + 0x4000 });
  });

  it('reads: completion data comes back along the reverse path (link directions flip)', () => {
    const m = boot('acs-redirect');
    const rnic = m.dev('0000:03:00.0');
    const card = m.dev('0000:06:00.0');
    const data = pattern(3000, 10);
    card.barBacking(4)!.write(0, data);
    const out = new Uint8Array(3000);
    expect(m.sys.fabric.dmaRead(rnic, pciBusAddress(card, 4), out)).toEqual({ status: 'ok' });
    expect(out).toEqual(data);
    expect(nonZero(m.sys.fabric.counters())).toEqual({
      'link 0000:03:00.0 down': 3000,
      'link 0000:01:00.0 up': 3000,
      'link 0000:01:00.0 down': 3000,
      'link 0000:06:00.0 up': 3000,
      'pci0000:00 in': 3000,
      'pci0000:00 out': 3000,
      'pci0000:00 peerForwarded': 3000,
      '0000:06:00.0 barRead': 3000,
    });
    m.sys.fabric.resetCounters();
    expect(nonZero(m.sys.fabric.counters())).toEqual({});
  });

  it('DMA to System RAM goes up every link to DRAM; a read comes back down', () => {
    const m = boot('seed-switch');
    const nvme = m.dev('0000:05:00.0');
    const ram = m.kernel.memory.allocPages(2)!;
    const data = pattern(8192, 11);
    expect(m.sys.fabric.dmaWrite(nvme, ram, data)).toEqual({ status: 'ok' });
    expect(m.kernel.memory.ramRead(ram, 8192)).toEqual(data);
    expect(nonZero(m.sys.fabric.counters())).toEqual({
      'link 0000:05:00.0 up': 8192,
      'link 0000:01:00.0 up': 8192,
      'pci0000:00 in': 8192,
      'dram write': 8192,
    });
  });
});

describe('fabric: host bridge bus offset (CPU address != bus address)', () => {
  const spec = topology('offset')
    .systemRam([{ base: 0, size: 2 * GiB }])
    .hostBridge({ memWindow: { cpuBase: 64 * GiB, size: GiB, busOffset: 64 * GiB - 2 * GiB } }, (hb) => {
      hb.rootPort('00:01.0', { acs: { cap: ['SV', 'RR', 'CR', 'UF'] } }, (rp) => rp.endpoint({ bars: [bar.mem64(0, MiB, true)] }));
      hb.rootPort('00:02.0', (rp) => rp.endpoint({ bars: [bar.mem64(0, MiB, true)] }));
    })
    .build();

  it('the BAR sits at CPU 64 GiB + x and bus 2 GiB + x; its bus address reaches it, its CPU address does not', () => {
    const m = bootSpec(spec);
    const a = m.dev('0000:01:00.0');
    const b = m.dev('0000:02:00.0');
    expect(pciResourceStart(b, 0) - pciBusAddress(b, 0)).toBe(62 * GiB);
    expect(pciBusAddress(b, 0)).toBeLessThan(4 * GiB);
    const data = pattern(512, 12);
    expect(m.sys.fabric.dmaWrite(a, pciResourceStart(b, 0), data)).toEqual({ status: 'ur', at: 'root complex pci0000:00' });
    expect(readBar(b, 0, 0, 512)).toEqual(new Uint8Array(512));
    expect(m.sys.fabric.dmaWrite(a, pciBusAddress(b, 0), data)).toEqual({ status: 'ok' });
    expect(readBar(b, 0, 0, 512)).toEqual(data);
    // The log prints the window with its bus range.
    expect(m.kernel.log.grep('root bus resource [mem').map((l) => l.text)).toEqual([
      'pci_bus 0000:00: root bus resource [mem 0x1000000000-0x103fffffff window] (bus address [0x80000000-0xbfffffff])',
    ]);
  });

  it('the CPU reaches a BAR at its CPU address through the host bridge window (MMIO), counted from the root complex down', () => {
    const m = bootSpec(spec);
    const b = m.dev('0000:02:00.0');
    const data = pattern(256, 13);
    expect(m.kernel.memory.cpuWrite(pciResourceStart(b, 0) + 16, data)).toBe(0);
    expect(readBar(b, 0, 16, 256)).toEqual(data);
    const back = m.kernel.memory.cpuRead(pciResourceStart(b, 0) + 16, 256);
    expect(isErr(back as number) ? null : back).toEqual(data);
    expect(nonZero(m.sys.fabric.counters())).toEqual({
      'link 0000:02:00.0 down': 256,
      'link 0000:02:00.0 up': 256,
      'pci0000:00 in': 256,
      'pci0000:00 out': 256,
      'pci0000:00 cpuMmioRead': 256,
      'pci0000:00 cpuMmioWrite': 256,
      '0000:02:00.0 barRead': 256,
      '0000:02:00.0 barWrite': 256,
    });
    // A CPU read of a window address nothing decodes returns all-ones and is recorded as UR.
    const hole = m.kernel.memory.cpuRead(64 * GiB + GiB - 4096, 4);
    expect(hole).toEqual(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    expect(m.sys.fabric.errors().at(-1)).toMatchObject({ status: 'ur', initiator: 'cpu', at: 'root complex pci0000:00' });
  });
});

describe('fabric: root complex peer forwarding and host bridges', () => {
  it('two root ports of one host bridge: peer-to-peer through the root complex, or dropped by a drop profile', () => {
    for (const peerForwarding of ['forward', 'drop'] as const) {
      const spec = topology('rp')
        .systemRam([{ base: 0, size: 2 * GiB }])
        .hostBridge({ memWindow: { cpuBase: 2 * GiB, size: GiB }, peerForwarding }, (hb) => {
          hb.rootPort((rp) => rp.endpoint({ bars: [bar.mem32(0, MiB)] }));
          hb.rootPort((rp) => rp.endpoint({ bars: [bar.mem32(0, MiB)] }));
        })
        .build();
      const m = bootSpec(spec);
      const a = m.dev('0000:01:00.0');
      const b = m.dev('0000:02:00.0');
      const r = m.sys.fabric.dmaWrite(a, pciBusAddress(b, 0), pattern(100, 14));
      if (peerForwarding === 'forward') {
        expect(r).toEqual({ status: 'ok' });
        expect(m.sys.fabric.counters().rootComplexes['pci0000:00']!.peerForwarded).toBe(100);
      } else {
        expect(r).toEqual({ status: 'dropped', at: 'root complex pci0000:00' });
        expect(readBar(b, 0, 0, 100)).toEqual(new Uint8Array(100));
      }
    }
  });

  it('across host bridges (dual-host-bridge): the bytes count on both root complexes', () => {
    const m = boot('dual-host-bridge');
    const rnic = m.dev('0000:01:00.0');
    const card = m.dev('0000:82:00.0');
    const data = pattern(1000, 15);
    expect(m.sys.fabric.dmaWrite(rnic, pciBusAddress(card, 4), data)).toEqual({ status: 'ok' });
    expect(readBar(card, 4, 0, 1000)).toEqual(data);
    const rc = m.sys.fabric.counters().rootComplexes;
    expect(rc['pci0000:00']).toMatchObject({ in: 1000, out: 0, peerForwarded: 1000 });
    expect(rc['pci0000:80']).toMatchObject({ in: 0, out: 1000, peerForwarded: 1000 });
  });

  it('a BAR whose backing a device model removed completes with Completer Abort', () => {
    const m = boot('seed-switch');
    const card = m.dev('0000:06:00.0');
    expect(card.setBarBacking(4, null)).toBe(0);
    expect(card.setBarBacking(3, null)).toBe(-22);
    expect(m.sys.fabric.dmaWrite(m.dev('0000:03:00.0'), pciBusAddress(card, 4), pattern(8, 16))).toEqual({ status: 'ca', at: '0000:06:00.0' });
  });
});

describe('fabric: links for the performance model', () => {
  it('lists each link with gen, width, MPS and raw capacity, named by the downstream device', () => {
    const m = boot('seed-switch');
    const links = m.sys.fabric.linkInfo();
    expect(links.map((l) => [l.name, l.upstream, l.gen, l.width, l.mps])).toEqual([
      ['0000:01:00.0', '0000:00:03.0', 3, 16, 256],
      ['0000:03:00.0', '0000:02:08.0', 3, 8, 256],
      ['0000:04:00.0', '0000:02:09.0', 3, 8, 256],
      ['0000:05:00.0', '0000:02:10.0', 3, 4, 256],
      ['0000:06:00.0', '0000:02:11.0', 3, 8, 256],
    ]);
    expect(links[3]!.capacityBytesPerSec! / 1e9).toBeCloseTo(3.938, 3);
    expect(m.sys.fabric.linkOf(m.dev('0000:02:08.0'))).toBeNull(); // inside the switch
  });
});

describe('fabric: root complex integrated endpoints', () => {
  it('an RCiEP writing its own BAR is served internally; another RCiEP goes through the root complex', () => {
    const spec = topology('rciep')
      .systemRam([{ base: 0, size: 2 * GiB }])
      .hostBridge({ memWindow: { cpuBase: 2 * GiB, size: GiB } }, (hb) => {
        hb.endpoint({ slot: 4, bars: [bar.mem64(0, MiB)] });
        hb.endpoint({ slot: 5, bars: [bar.mem64(0, MiB)] });
      })
      .build();
    const m = bootSpec(spec);
    const a = m.dev('0000:00:04.0');
    const b = m.dev('0000:00:05.0');
    expect(m.sys.fabric.dmaWrite(a, pciBusAddress(a, 0), pattern(64, 1))).toEqual({ status: 'ok' });
    expect(m.sys.fabric.dmaWrite(a, pciBusAddress(b, 0), pattern(32, 2))).toEqual({ status: 'ok' });
    expect(nonZero(m.sys.fabric.counters())).toEqual({
      '0000:00:04.0 barWrite': 64,
      '0000:00:04.0 internal': 64,
      '0000:00:05.0 barWrite': 32,
      'pci0000:00 in': 32,
      'pci0000:00 out': 32,
      'pci0000:00 peerForwarded': 32,
    });
  });
});
