import {
  DMA_FROM_DEVICE,
  err,
  IOVA_BASE,
  KernelBug,
  physToVirt,
  Scatterlist,
  SgTable,
  sgCopyToBuffer,
  sgDmaIsBusAddress,
  sgPhys,
  sgSetBuf,
} from '@p2pdma/kernel';
import type { PciDev, TopologySpec } from '@p2pdma/pci-core';
import { bar, pciBusAddress, topology } from '@p2pdma/pci-core';
import { describe, expect, it } from 'vitest';
import type { P2pSgl } from '../src/alloc';
import { pciP2pmemAllocSgl } from '../src/alloc';
import { pciP2pdmaMapSg, pciP2pdmaMapSgtable, pciP2pdmaUnmapSg } from '../src/map-sg';
import { pciP2pdmaAddResource } from '../src/provider';
import type { Booted, BootOptions } from './helpers';
import { boot, bootSpec, pattern, readBar } from './helpers';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const LEN = 8192;

/** Registers BAR4 of `providerBdf` (whole), allocates an 8 KiB sgl and maps it for `clientBdf` to write into (DMA_FROM_DEVICE). */
function mapped(b: Booted, providerBdf: string, clientBdf: string) {
  const provider = b.dev(providerBdf);
  const client = b.dev(clientBdf);
  expect(pciP2pdmaAddResource(provider, 4, 0, 0)).toBe(0);
  const sg = pciP2pmemAllocSgl(provider, LEN) as P2pSgl;
  const n = pciP2pdmaMapSg(client, sg.sgl, 1, DMA_FROM_DEVICE);
  const offset = sgPhys(sg.sgl) - (provider.resource[4]!.start);
  return { provider, client, sg, n, offset, dma: sg.sgl.dmaAddress };
}

/** The client DMAs `LEN` pattern bytes to the mapped address; returns the fabric result and counters. */
function dmaWrite(b: Booted, client: PciDev, dma: number) {
  b.sys.fabric.resetCounters();
  const data = pattern(LEN, 7);
  const result = b.sys.fabric.dmaWrite(client, dma, data);
  return { data, result, counters: b.sys.fabric.counters() };
}

describe('6.6 mapping by map type, with the DMA routed by the fabric', () => {
  it('BUS_ADDR: the bus address, marked; the bytes land in the BAR and never cross the root complex', () => {
    const b = boot('seed-switch');
    const m = mapped(b, '0000:06:00.0', '0000:03:00.0');
    expect(m.n).toBe(1);
    expect(m.dma).toBe(pciBusAddress(m.provider, 4) + m.offset);
    expect(sgDmaIsBusAddress(m.sg.sgl)).toBe(true);
    expect(b.kernel.dmaDebug.liveCount()).toBe(0); // nothing for the DMA API to track
    const w = dmaWrite(b, m.client, m.dma);
    expect(w.result).toEqual({ status: 'ok' });
    expect(readBar(m.provider, 4, m.offset, LEN)).toEqual(w.data);
    expect(w.counters.rootComplexes['pci0000:00']).toMatchObject({ in: 0, out: 0, peerForwarded: 0 });
    expect(w.counters.links['0000:03:00.0']).toEqual({ up: LEN, down: 0 });
    expect(w.counters.links['0000:06:00.0']).toEqual({ up: 0, down: LEN });
    // The CPU sees the same bytes through the page (an MMIO read of the BAR).
    const cpu = new Uint8Array(LEN);
    expect(sgCopyToBuffer(m.sg.sgl, 1, cpu)).toBe(LEN);
    expect(cpu).toEqual(w.data);
    pciP2pdmaUnmapSg(m.client, m.sg.sgl, 1, DMA_FROM_DEVICE);
    expect(sgDmaIsBusAddress(m.sg.sgl)).toBe(false);
  });

  for (const iommu of [false, true]) {
    it(`THRU_HOST_BRIDGE (IOMMU ${iommu ? 'on: an IOVA' : 'off: the CPU address'}): the normal mapping; the bytes land and cross the root complex`, () => {
      const b = boot('dual-host-bridge', { iommu }); // 8086:2020 whitelisted across host bridges
      const m = mapped(b, '0000:82:00.0', '0000:01:00.0');
      expect(m.n).toBe(1);
      expect(sgDmaIsBusAddress(m.sg.sgl)).toBe(false);
      if (iommu) expect(m.dma).toBeGreaterThanOrEqual(IOVA_BASE);
      else expect(m.dma).toBe(sgPhys(m.sg.sgl));
      expect(b.kernel.dmaDebug.liveMappings(m.client)).toHaveLength(1);
      const w = dmaWrite(b, m.client, m.dma);
      expect(w.result).toEqual({ status: 'ok' });
      expect(readBar(m.provider, 4, m.offset, LEN)).toEqual(w.data);
      expect(w.counters.rootComplexes['pci0000:00']!.in).toBe(LEN);
      expect(w.counters.rootComplexes['pci0000:00']!.peerForwarded).toBe(LEN);
      expect(w.counters.rootComplexes['pci0000:80']!.out).toBe(LEN);
      pciP2pdmaUnmapSg(m.client, m.sg.sgl, 1, DMA_FROM_DEVICE);
      expect(b.kernel.dmaDebug.liveMappings(m.client)).toHaveLength(0); // only what it mapped is undone
    });
  }

  it('NOT_SUPPORTED: dma_map_sg fails with 0 (dma_map_sgtable: -EREMOTEIO), nothing mapped; the fix from the warning makes it BUS_ADDR', () => {
    // 6.6 with the IOMMU on enables ACS RR on the switch ports; the 8086:6f00 host bridge is not whitelisted.
    const b = boot('seed-switch', { iommu: true });
    const m = mapped(b, '0000:06:00.0', '0000:03:00.0');
    expect(m.n).toBe(0);
    const sgt = new SgTable(m.sg.sgl, 1);
    expect(pciP2pdmaMapSgtable(m.client, sgt, DMA_FROM_DEVICE)).toBe(err('EREMOTEIO'));
    expect(b.kernel.dmaDebug.liveCount()).toBe(0);
    const fix = b.kernel.log.grep('pci=disable_acs_redir=')[0]!.text.split('parameter: ')[1]!;
    expect(fix).toBe('pci=disable_acs_redir=0000:02:11.0;0000:02:08.0');
    const fixed = boot('seed-switch', { iommu: true, cmdline: fix });
    const f = mapped(fixed, '0000:06:00.0', '0000:03:00.0');
    expect(f.n).toBe(1);
    const w = dmaWrite(fixed, f.client, f.dma);
    expect(w.result).toEqual({ status: 'ok' });
    expect(readBar(f.provider, 4, f.offset, LEN)).toEqual(w.data);
    expect(w.counters.rootComplexes['pci0000:00']!.in).toBe(0);
  });

  it('a list without P2PDMA pages is mapped normally; mixing bus-address and host-mapped entries is not modelled', () => {
    const b = boot('seed-switch', { iommu: true, cmdline: 'pci=disable_acs_redir=0000:02:11.0;0000:02:08.0' });
    const rnic = b.dev('0000:03:00.0');
    const ram = new Scatterlist();
    sgSetBuf(b.kernel, ram, physToVirt(0x10_0000), 4096);
    expect(pciP2pdmaMapSg(rnic, ram, 1, DMA_FROM_DEVICE)).toBe(1);
    expect(ram.dmaAddress).toBeGreaterThanOrEqual(IOVA_BASE);
    pciP2pdmaUnmapSg(rnic, ram, 1, DMA_FROM_DEVICE);
    expect(b.kernel.dmaDebug.liveCount()).toBe(0);
    expect(pciP2pdmaAddResource(b.dev('0000:06:00.0'), 4, 0, 0)).toBe(0);
    const p2p = pciP2pmemAllocSgl(b.dev('0000:06:00.0'), 4096) as P2pSgl;
    p2p.sgl.next = ram;
    expect(() => pciP2pdmaMapSg(rnic, p2p.sgl, 2, DMA_FROM_DEVICE)).toThrow(/not modelled/);
  });
});

describe('seed v2 pci_p2pdma_map_sg (patch 03)', () => {
  it('with the patch 04 hook: the bus address; the bytes land inside the switch', () => {
    const b = boot('seed-switch', { policy: 'v2', iommu: true });
    const m = mapped(b, '0000:06:00.0', '0000:03:00.0');
    expect(m.n).toBe(1);
    expect(m.dma).toBe(0x8000_0000 + m.offset); // phys - 0
    const w = dmaWrite(b, m.client, m.dma);
    expect(w.result).toEqual({ status: 'ok' });
    expect(readBar(m.provider, 4, m.offset, LEN)).toEqual(w.data);
    expect(w.counters.rootComplexes['pci0000:00']!.in).toBe(0);
  });

  it('ACS left on (IOMMU on, enumeration without the hook): the switch redirects the bus address to the root complex, an IOMMU fault, no bytes written', () => {
    const b = boot('seed-switch', { policy: 'v2', iommu: true, hooks: false });
    const m = mapped(b, '0000:06:00.0', '0000:03:00.0');
    expect(m.n).toBe(1); // the seed maps bus addresses without looking at ACS
    const w = dmaWrite(b, m.client, m.dma);
    expect(w.result.status).toBe('iommu-fault');
    expect(readBar(m.provider, 4, m.offset, LEN)).toEqual(new Uint8Array(LEN));
    expect(w.counters.rootComplexes['pci0000:00']!.in).toBe(LEN); // it went up
    expect(w.counters.errors).toBe(1);
    expect(b.sys.fabric.errors()[0]).toMatchObject({ status: 'iommu-fault', initiator: '0000:03:00.0', addr: m.dma });
  });

  it('returns 0 for a device with dma_virt_ops; an entry that is not device memory dereferences NULL; unmap is a no-op', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    const m = mapped(b, '0000:06:00.0', '0000:03:00.0');
    m.client.dmaOps = 'virt';
    expect(pciP2pdmaMapSg(m.client, m.sg.sgl, 1, DMA_FROM_DEVICE)).toBe(0);
    m.client.dmaOps = 'direct';
    const ram = new Scatterlist();
    sgSetBuf(b.kernel, ram, physToVirt(0x10_0000), 4096);
    expect(() => pciP2pdmaMapSg(m.client, ram, 1, DMA_FROM_DEVICE)).toThrow(KernelBug);
    const before = m.sg.sgl.dmaAddress;
    pciP2pdmaUnmapSg(m.client, m.sg.sgl, 1, DMA_FROM_DEVICE);
    expect(m.sg.sgl.dmaAddress).toBe(before);
  });
});

/** seed-switch-like machine whose host bridge translates: bus = CPU + 1 GiB (offset CPU − bus = −1 GiB). */
function translating(): TopologySpec {
  return topology('translating')
    .systemRam([{ base: 0, size: 2 * GiB }])
    .hostBridge({ vendor: 0x8086, device: 0x6f00, memWindow: { cpuBase: 2 * GiB, size: GiB, busOffset: -GiB } }, (hb) => {
      hb.rootPort('00:03.0', { vendor: 0x8086, device: 0x6f08 }, (rp) =>
        rp.switch({ vendor: 0x10b5, device: 0x8747 }, (sw) => {
          sw.port({}, (p) => p.endpoint({ role: 'rnic', vendor: 0x15b3, device: 0x1017, bars: [bar.mem64(0, 32 * MiB, true)] }));
          sw.port({}, (p) => p.endpoint({ role: 'p2pmem', vendor: 0x1de5, device: 0x1000, bars: [bar.mem64(4, 256 * MiB, true)] }));
        }),
      );
    })
    .build();
}

describe('finding: the seed subtracts the bus offset (patch 03); 6.6 adds it', () => {
  const run = (opts: BootOptions) => {
    const b = bootSpec(translating(), opts);
    const m = mapped(b, '0000:04:00.0', '0000:03:00.0');
    return { b, m, w: dmaWrite(b, m.client, m.dma) };
  };

  it('6.6: dma = phys + (bus − CPU) = the bus address: the bytes land in the BAR', () => {
    const { m, w } = run({});
    const cpu = m.provider.resource[4]!.start;
    expect(pciBusAddress(m.provider, 4)).toBe(cpu + GiB);
    expect(m.dma).toBe(cpu + GiB + m.offset);
    expect(w.result).toEqual({ status: 'ok' });
    expect(readBar(m.provider, 4, m.offset, LEN)).toEqual(w.data);
    expect(w.counters.dram.write).toBe(0);
  });

  it('seed v2: dma = phys − (bus − CPU) = CPU − 1 GiB: the DMA misses the BAR and the fabric routes it into System RAM', () => {
    const { b, m, w } = run({ policy: 'v2' });
    const cpu = m.provider.resource[4]!.start;
    expect(m.dma).toBe(cpu - GiB + m.offset);
    expect(w.result).toEqual({ status: 'ok' }); // the hardware accepts it: silent corruption
    expect(readBar(m.provider, 4, m.offset, LEN)).toEqual(new Uint8Array(LEN));
    expect(w.counters.dram.write).toBe(LEN);
    expect(b.kernel.memory.ramRead(m.dma, LEN)).toEqual(w.data);
  });
});
