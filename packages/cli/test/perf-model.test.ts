/**
 * The performance model (DESIGN section 5): link figures, TLP efficiency, the bottleneck rule and
 * resources derived from real fabric counters of the seed series' machines.
 */
import { Kernel } from '@p2pdma/kernel';
import { enumerate, type FabricCounters, getBuiltin, kernelOptionsForTopology, linkCapacityBytesPerSec, type PciDev, type PciSubsystem, pciBusAddress } from '@p2pdma/pci-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bottleneck,
  DEFAULT_MPS,
  DEVICE_RATES,
  defaultFabricRates,
  deviceResource,
  effectiveLinkBytesPerSec,
  type PerfResource,
  ROOT_COMPLEX_FORWARDING_RATES,
  resourcesFromCounters,
  rootComplexRates,
  TLP_OVERHEAD_BYTES,
  tlpEfficiency,
} from '../src/index';

const GB = 1e9;

/** Boot a built-in machine the way the seed series' target boots (IOMMU off) and enumerate it. */
function boot(name: string): { sys: PciSubsystem; dev(bdf: string): PciDev } {
  const spec = getBuiltin(name);
  if (spec === null) throw new Error(`no builtin ${name}`);
  const kernel = new Kernel({ ...kernelOptionsForTopology(spec), iommu: false, seed: 1 });
  const sys = enumerate(kernel, spec);
  if ('error' in sys) throw new Error(sys.error.message);
  return {
    sys,
    dev(bdf: string): PciDev {
      const d = sys.findByBdf(bdf);
      if (d === null) throw new Error(`no ${bdf}`);
      return d;
    },
  };
}

/** `n` writes of `ioBytes` each from the RNIC (03:00.0) into the p2pmem card's BAR 4 (06:00.0). */
function rnicToP2pmem(name: string, n: number, ioBytes: number): { counters: FabricCounters; m: ReturnType<typeof boot> } {
  const m = boot(name);
  const rnic = m.dev('0000:03:00.0');
  const card = m.dev('0000:06:00.0');
  const data = new Uint8Array(ioBytes).fill(0x5a);
  m.sys.fabric.resetCounters();
  for (let i = 0; i < n; i++) expect(m.sys.fabric.dmaWrite(rnic, pciBusAddress(card, 4) + i * ioBytes, data)).toEqual({ status: 'ok' });
  return { counters: m.sys.fabric.counters(), m };
}

describe('link figures (PCIe Base Spec: GT/s × lanes × encoding / 8, then MPS / (MPS + TLP overhead))', () => {
  it('raw per-direction capacity matches the published figures', () => {
    // Gen3 x4: 8e9 × 4 × 128/130 / 8 = 3.938e9 B/s
    expect(linkCapacityBytesPerSec(3, 4)! / GB).toBeCloseTo(3.94, 2);
    // Gen4 x16: 16e9 × 16 × 128/130 / 8 = 31.51e9 B/s
    expect(linkCapacityBytesPerSec(4, 16)! / GB).toBeCloseTo(31.5, 1);
    // Gen1 x1: 2.5e9 × 8/10 / 8 = 0.25e9 B/s exactly
    expect(linkCapacityBytesPerSec(1, 1)).toBe(0.25e9);
    // Gen5 x16: 32e9 × 16 × 128/130 / 8 = 63.02e9 B/s
    expect(linkCapacityBytesPerSec(5, 16)! / GB).toBeCloseTo(63.0, 1);
  });

  it('TLP efficiency with the 24-byte overhead (16 B header + 2 B sequence + 4 B LCRC + framing) at MPS 128/256/512', () => {
    expect(TLP_OVERHEAD_BYTES).toBe(24);
    expect(tlpEfficiency(128)).toBeCloseTo(128 / 152, 12); // 0.8421
    expect(tlpEfficiency(256)).toBeCloseTo(256 / 280, 12); // 0.9143
    expect(tlpEfficiency(512)).toBeCloseTo(512 / 536, 12); // 0.9552
    expect(tlpEfficiency(128)).toBeCloseTo(0.8421, 4);
    expect(tlpEfficiency(256)).toBeCloseTo(0.9143, 4);
    expect(tlpEfficiency(512)).toBeCloseTo(0.9552, 4);
    // a 3-DW header (12 B) instead of 4-DW: 20 B overhead
    expect(tlpEfficiency(256, 20)).toBeCloseTo(256 / 276, 12);
    expect(() => tlpEfficiency(0)).toThrow(/mps 0 must be a positive/);
    expect(() => tlpEfficiency(256, -1)).toThrow(/overheadBytes -1 must be >= 0/);
  });

  it('effective link capacity = raw × efficiency; unknown generation or width gives null', () => {
    // Gen3 x8 at MPS 256: 7.8769e9 × 256/280 = 7.2018e9 B/s
    expect(effectiveLinkBytesPerSec(3, 8, 256)! / GB).toBeCloseTo(7.2018, 4);
    expect(effectiveLinkBytesPerSec(3, 4, 128)).toBeCloseTo(linkCapacityBytesPerSec(3, 4)! * (128 / 152), 0);
    expect(effectiveLinkBytesPerSec(7, 4, 256)).toBeNull();
    expect(effectiveLinkBytesPerSec(3, 0, 256)).toBeNull();
  });
});

describe('default rates table: every figure has a source', () => {
  it('device rates carry the datasheet/spec figures, assumptions are labelled', () => {
    expect(DEVICE_RATES['connectx5-100g-port'].bytesPerSec).toBe(12.5e9);
    expect(DEVICE_RATES['ddr4-2400-channel'].bytesPerSec).toBe(19.2e9);
    expect(DEVICE_RATES['xeon-e5-v4-dram'].bytesPerSec).toBeCloseTo(76.8e9, 0);
    expect(DEVICE_RATES['p3700-read'].bytesPerSec).toBe(2.8e9);
    expect(DEVICE_RATES['p3700-write'].bytesPerSec).toBe(1.9e9);
    expect(DEVICE_RATES['p3700-read'].source).toMatch(/^datasheet: /);
    expect(DEVICE_RATES['p2pmem-bar'].source).toMatch(/^assumption: /);
    for (const [name, r] of Object.entries(DEVICE_RATES)) {
      expect(r.source.length, name).toBeGreaterThan(20);
      expect(r.bytesPerSec, name).toBeGreaterThan(0);
    }
    expect(ROOT_COMPLEX_FORWARDING_RATES.forward.source).toMatch(/^assumption: conservative/);
    expect(ROOT_COMPLEX_FORWARDING_RATES.drop.bytesPerSec).toBe(0);
    expect(rootComplexRates([{ name: 'pci0000:00', peerForwarding: 'forward' }, { name: 'pci0000:80', peerForwarding: 'drop' }])).toEqual({
      'pci0000:00': 6e9,
      'pci0000:80': 0,
    });
  });
});

describe('bottleneck: the resource allowing the fewest I/Os per second wins', () => {
  it('a 4 KiB NVMe read through a NIC: the P3700 media limits', () => {
    const r: PerfResource[] = [
      // 12.5e9 / 4096 = 3.0518e6 I/O/s
      { name: 'nic', kind: 'nic-port', capacityBytesPerSec: 12.5e9, bytesPerIo: 4096 },
      // 7.2e9 / 4096 = 1.7578e6 I/O/s
      { name: 'link A up', kind: 'link', capacityBytesPerSec: 7.2e9, bytesPerIo: 4096 },
      // 76.8e9 / 8192 = 9.375e6 I/O/s (written then read: twice)
      { name: 'dram', kind: 'dram', capacityBytesPerSec: 76.8e9, bytesPerIo: 8192 },
      // 2.8e9 / 4096 = 683,593.75 I/O/s  <- smallest
      { name: 'nvme', kind: 'nvme-media', capacityBytesPerSec: 2.8e9, bytesPerIo: 4096 },
    ];
    const b = bottleneck(r, 4096);
    expect(b.bottleneck).toBe('nvme');
    expect(b.ioPerSec).toBeCloseTo(683_593.75, 6);
    // 683,593.75 × 4096 = 2.8e9 B/s
    expect(b.throughputBytesPerSec).toBeCloseTo(2.8e9, 0);
    expect(b.throughputGBps).toBeCloseTo(2.8, 12);
    expect(b.perResource.map((p) => p.name)).toEqual(['nic', 'link A up', 'dram', 'nvme']);
    // NIC: 2.8e9 / 12.5e9 = 0.224; link: 2.8e9 / 7.2e9 = 0.3889; DRAM: 5.6e9 / 76.8e9 = 0.0729
    expect(b.perResource.map((p) => Number(p.utilization.toFixed(4)))).toEqual([0.224, 0.3889, 0.0729, 1]);
    expect(b.perResource[0]!.maxIoPerSec).toBeCloseTo(12.5e9 / 4096, 6);
  });

  it('bytes crossing a resource twice per I/O halve its share: an 8 GB/s link carrying 2 × 4 KiB gives 4 GB/s', () => {
    const b = bottleneck(
      [
        // 6e9 / 4096 = 1.4648e6 I/O/s
        { name: 'rc pci0000:00', kind: 'root-complex', capacityBytesPerSec: 6e9, bytesPerIo: 4096 },
        // 8e9 / 8192 = 976,562.5 I/O/s  <- smallest; × 4096 = 4e9 B/s
        { name: 'link L', kind: 'link', capacityBytesPerSec: 8e9, bytesPerIo: 8192 },
      ],
      4096,
    );
    expect(b.bottleneck).toBe('link L');
    expect(b.ioPerSec).toBe(976_562.5);
    expect(b.throughputBytesPerSec).toBe(4e9);
  });

  it('zero-byte resources are ignored, even with zero capacity; a zero-capacity resource carrying bytes gives 0 throughput', () => {
    const idle = { name: 'idle', kind: 'link', capacityBytesPerSec: 0, bytesPerIo: 0 } as const;
    const b = bottleneck([idle, { name: 'nic', kind: 'nic-port', capacityBytesPerSec: 12.5e9, bytesPerIo: 1000 }], 1000);
    expect(b.bottleneck).toBe('nic');
    expect(b.throughputBytesPerSec).toBe(12.5e9);
    expect(b.perResource[0]).toMatchObject({ name: 'idle', maxIoPerSec: null, utilization: 0 });
    // a 'drop' root complex carrying peer bytes: nothing gets through
    const d = bottleneck([{ name: 'rc', kind: 'root-complex', capacityBytesPerSec: 0, bytesPerIo: 1 }, ...b.perResource], 1000);
    expect(d.bottleneck).toBe('rc');
    expect(d.throughputBytesPerSec).toBe(0);
  });

  it('bad input gets a clear error naming the input', () => {
    expect(() => bottleneck([], 4096)).toThrow('bottleneck: no resources given; the workload must use at least one resource');
    expect(() => bottleneck([{ name: 'a', kind: 'dram', capacityBytesPerSec: 1, bytesPerIo: 0 }], 4096)).toThrow(
      'bottleneck: none of the 1 resources carries bytes (every bytesPerIo is 0)',
    );
    const a = { name: 'a', kind: 'dram', capacityBytesPerSec: 1, bytesPerIo: 1 } as const;
    expect(() => bottleneck([a, a], 4096)).toThrow("bottleneck: resource name 'a' is given twice");
    expect(() => bottleneck([{ ...a, capacityBytesPerSec: -1 }], 4096)).toThrow("resource 'a' capacity -1 must be a finite number >= 0");
    expect(() => bottleneck([{ ...a, bytesPerIo: Number.NaN }], 4096)).toThrow("resource 'a' bytesPerIo NaN must be a finite number >= 0");
    expect(() => bottleneck([a], 0)).toThrow('bottleneck: ioBytes 0 must be a positive number of bytes');
  });

  it('property: throughput never exceeds any resource capacity ÷ its bytes-per-I/O share, and equals the bottleneck one', () => {
    const resource = fc.record({
      capacity: fc.double({ min: 1e3, max: 1e11, noNaN: true }),
      bytes: fc.oneof(fc.constant(0), fc.double({ min: 1, max: 1e7, noNaN: true })),
    });
    fc.assert(
      fc.property(fc.array(resource, { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 1 << 20 }), (rs, ioBytes) => {
        const input: PerfResource[] = rs.map((r, i) => ({ name: `r${i}`, kind: 'link', capacityBytesPerSec: r.capacity, bytesPerIo: r.bytes }));
        if (input.every((r) => r.bytesPerIo === 0)) {
          expect(() => bottleneck(input, ioBytes)).toThrow(/carries bytes/);
          return;
        }
        const b = bottleneck(input, ioBytes);
        for (const r of input) {
          if (r.bytesPerIo === 0) continue;
          // I/O rate × bytes per I/O on this resource ≤ its capacity
          expect(b.ioPerSec * r.bytesPerIo).toBeLessThanOrEqual(r.capacityBytesPerSec * (1 + 1e-12));
          expect(b.throughputBytesPerSec).toBeLessThanOrEqual(((r.capacityBytesPerSec / r.bytesPerIo) * ioBytes) * (1 + 1e-12));
        }
        const named = input.find((r) => r.name === b.bottleneck)!;
        expect(b.throughputBytesPerSec).toBeCloseTo((named.capacityBytesPerSec / named.bytesPerIo) * ioBytes, 0);
        for (const p of b.perResource) expect(p.utilization).toBeLessThanOrEqual(1 + 1e-12);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe('resourcesFromCounters: measured fabric counters of a real run (seed series, seed-switch)', () => {
  it('RNIC -> p2pmem BAR 4 under the PEX 8747: the two Gen3 x8 links are the resources, the link limits, untouched links are left out', () => {
    const ios = 8;
    const ioBytes = 4096;
    const { counters, m } = rnicToP2pmem('seed-switch', ios, ioBytes);
    const links = m.sys.fabric.linkInfo();
    const rates = defaultFabricRates(m.sys.hostBridges, { '0000:06:00.0': DEVICE_RATES['p2pmem-bar'].bytesPerSec });
    const res = resourcesFromCounters(counters, links, ios, rates);
    // the write stays in the switch: RNIC link upstream, card link downstream, the card's BAR memory
    expect(res.map((r) => `${r.name} ${r.bytesPerIo}`)).toEqual(['link 0000:03:00.0 up 4096', 'link 0000:06:00.0 down 4096', 'bar 0000:06:00.0 4096']);
    const gen3x8 = effectiveLinkBytesPerSec(3, 8, 256)!;
    expect(res[0]!.capacityBytesPerSec).toBe(gen3x8);
    // untouched links (switch upstream 01:00.0, both NVMe SSDs) are absent
    for (const idle of ['0000:01:00.0', '0000:04:00.0', '0000:05:00.0']) expect(res.some((r) => r.name.includes(idle))).toBe(false);
    const nic = deviceResource('nic 0000:03:00.0', DEVICE_RATES['connectx5-100g-port'], ioBytes);
    const b = bottleneck([...res, nic], ioBytes);
    // 7.2018e9 / 4096 (link) < 8e9 / 4096 (BAR) < 12.5e9 / 4096 (NIC): the first link on a tie
    expect(b.bottleneck).toBe('link 0000:03:00.0 up');
    expect(b.throughputBytesPerSec).toBeCloseTo(gen3x8, 0);
    expect(b.throughputGBps).toBeCloseTo(7.2018, 4);
  });

  it('with ACS redirect (acs-redirect) the same writes cross the root complex: its 6 GB/s forwarding rate limits', () => {
    const ios = 4;
    const { counters, m } = rnicToP2pmem('acs-redirect', ios, 4096);
    const res = resourcesFromCounters(counters, m.sys.fabric.linkInfo(), ios, defaultFabricRates(m.sys.hostBridges));
    expect(res.map((r) => r.name)).toEqual([
      'link 0000:01:00.0 up',
      'link 0000:01:00.0 down',
      'link 0000:03:00.0 up',
      'link 0000:06:00.0 down',
      'rc pci0000:00',
    ]);
    expect(res.find((r) => r.name === 'rc pci0000:00')).toEqual({ name: 'rc pci0000:00', kind: 'root-complex', capacityBytesPerSec: 6e9, bytesPerIo: 4096 });
    const b = bottleneck(res, 4096);
    expect(b.bottleneck).toBe('rc pci0000:00');
    expect(b.throughputBytesPerSec).toBeCloseTo(6e9, 0);
  });

  it('DRAM reads and writes share one bandwidth figure; unknown MPS falls back to 128', () => {
    const counters: FabricCounters = {
      links: { L: { up: 3000, down: 1000 } },
      rootComplexes: { 'pci0000:00': { in: 3000, out: 1000, peerForwarded: 0, cpuMmioRead: 0, cpuMmioWrite: 0 } },
      dram: { read: 1000, write: 3000 },
      devices: {},
      errors: 0,
    };
    const links = [{ name: 'L', downstream: 'L', upstream: 'P', gen: 3, width: 4, mps: null, capacityBytesPerSec: linkCapacityBytesPerSec(3, 4) }];
    const res = resourcesFromCounters(counters, links, 2, { dramBytesPerSec: 19.2e9, rootComplexBytesPerSec: {} });
    expect(res).toEqual([
      { name: 'link L up', kind: 'link', capacityBytesPerSec: effectiveLinkBytesPerSec(3, 4, DEFAULT_MPS), bytesPerIo: 1500 },
      { name: 'link L down', kind: 'link', capacityBytesPerSec: effectiveLinkBytesPerSec(3, 4, DEFAULT_MPS), bytesPerIo: 500 },
      // (1000 read + 3000 write) / 2 I/Os
      { name: 'dram', kind: 'dram', capacityBytesPerSec: 19.2e9, bytesPerIo: 2000 },
    ]);
  });

  it('bad input gets a clear error', () => {
    const counters: FabricCounters = {
      links: { X: { up: 1, down: 0 } },
      rootComplexes: { 'pci0000:00': { in: 0, out: 0, peerForwarded: 5, cpuMmioRead: 0, cpuMmioWrite: 0 } },
      dram: { read: 0, write: 0 },
      devices: {},
      errors: 0,
    };
    const rates = { dramBytesPerSec: 1, rootComplexBytesPerSec: {} };
    expect(() => resourcesFromCounters(counters, [], 0, rates)).toThrow('resourcesFromCounters: ios 0 must be a positive number of I/Os');
    expect(() => resourcesFromCounters(counters, [], 1, rates)).toThrow('resourcesFromCounters: counters name link X, which the link list does not hold');
    const unknown = [{ name: 'X', downstream: 'X', upstream: 'P', gen: null, width: 4, mps: 256, capacityBytesPerSec: null }];
    expect(() => resourcesFromCounters(counters, unknown, 1, rates)).toThrow('link X carried bytes but its capacity is unknown (gen null, width 4)');
    const known = [{ ...unknown[0]!, gen: 3 }];
    expect(() => resourcesFromCounters(counters, known, 1, rates)).toThrow(
      'root complex pci0000:00 forwarded 5 bytes but rates.rootComplexBytesPerSec has no entry for it',
    );
  });
});
