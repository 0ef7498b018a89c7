import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Device,
  deviceAdd,
  deviceDel,
  Errno,
  IOMMU_MMIO,
  IOMMU_READ,
  IOMMU_WRITE,
  IOVA_BASE,
  IommuDomain,
  Kernel,
  KernelBug,
  KernelLog,
  PAGE_SIZE,
} from '../src/index';

const RW = IOMMU_READ | IOMMU_WRITE;

describe('IommuDomain: IOVA allocation and page tables (iova.c, iommu_map/unmap/iova_to_phys)', () => {
  it('allocates page-rounded IOVAs from 2^40 upwards, never colliding with RAM addresses', () => {
    const d = new IommuDomain(0, 'dma', new KernelLog());
    const a = d.iovaAlloc(100);
    const b = d.iovaAlloc(PAGE_SIZE + 1);
    expect(a).toBe(IOVA_BASE);
    expect(b).toBe(IOVA_BASE + PAGE_SIZE);
    expect(d.iovaAllocatedBytes()).toBe(3 * PAGE_SIZE);
    d.iovaFree(a, 100);
    expect(d.iovaAlloc(PAGE_SIZE)).toBe(IOVA_BASE);
    expect(() => d.iovaFree(b, PAGE_SIZE)).toThrow(KernelBug); // size mismatch: 2 pages were allocated
    expect(() => d.iovaAlloc(0)).toThrow(KernelBug);
  });

  it('maps, translates with offset and extent, and reports unmapped IOVAs as null', () => {
    const d = new IommuDomain(0, 'dma', new KernelLog());
    const iova = d.iovaAlloc(4 * PAGE_SIZE);
    expect(d.map(iova, 0x20_0000, 4 * PAGE_SIZE, RW)).toBe(0);
    expect(d.iovaToPhys(iova + 5)).toBe(0x20_0005);
    expect(d.lookup(iova + PAGE_SIZE + 1)).toEqual({ phys: 0x20_0000 + PAGE_SIZE + 1, prot: RW, len: 3 * PAGE_SIZE - 1 });
    expect(d.iovaToPhys(iova + 4 * PAGE_SIZE)).toBeNull();
    expect(d.iovaToPhys(iova - 1)).toBeNull();
    expect(d.mappedBytes()).toBe(4 * PAGE_SIZE);
  });

  it('rejects overlapping maps with -EEXIST and unaligned ones with -EINVAL and the kernel message', () => {
    const log = new KernelLog();
    const d = new IommuDomain(0, 'dma', log);
    expect(d.map(IOVA_BASE, 0x1000, 2 * PAGE_SIZE, RW)).toBe(0);
    expect(d.map(IOVA_BASE + PAGE_SIZE, 0x9000, PAGE_SIZE, RW)).toBe(-Errno.EEXIST);
    expect(d.map(IOVA_BASE + 0x800, 0x5000, PAGE_SIZE, RW)).toBe(-Errno.EINVAL);
    expect(log.lines().map((l) => l.text)).toEqual([
      'unaligned: iova 0x10000000800 pa 0x0000000000005000 size 0x1000 min_pagesz 0x1000',
    ]);
    expect(d.mappedBytes()).toBe(2 * PAGE_SIZE); // nothing half-mapped
  });

  it('unmap splits mappings straddling the range and returns the bytes unmapped', () => {
    const d = new IommuDomain(0, 'dma', new KernelLog());
    d.map(IOVA_BASE, 0x10_0000, 4 * PAGE_SIZE, IOMMU_READ);
    d.map(IOVA_BASE + 6 * PAGE_SIZE, 0xf000_0000, 2 * PAGE_SIZE, RW | IOMMU_MMIO);
    expect(d.unmap(IOVA_BASE + PAGE_SIZE, 6 * PAGE_SIZE)).toBe(4 * PAGE_SIZE);
    expect(d.iovaToPhys(IOVA_BASE)).toBe(0x10_0000);
    expect(d.iovaToPhys(IOVA_BASE + PAGE_SIZE)).toBeNull();
    expect(d.iovaToPhys(IOVA_BASE + 6 * PAGE_SIZE)).toBeNull();
    expect(d.lookup(IOVA_BASE + 7 * PAGE_SIZE)).toEqual({ phys: 0xf000_1000, prot: RW | IOMMU_MMIO, len: PAGE_SIZE });
    expect(d.mappedBytes()).toBe(2 * PAGE_SIZE);
    expect(d.unmap(IOVA_BASE + 0x10, PAGE_SIZE)).toBe(0); // unaligned
  });

  it('identity (passthrough) domains translate every address to itself and refuse map', () => {
    const d = new IommuDomain(1, 'identity', new KernelLog());
    expect(d.iovaToPhys(0x1234_5678)).toBe(0x1234_5678);
    expect(d.map(IOVA_BASE, 0, PAGE_SIZE, RW)).toBe(-Errno.EINVAL);
  });

  it('property: alloc/map/translate/unmap round-trips, and unmapped IOVAs translate to null', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ pages: fc.integer({ min: 1, max: 8 }), physPfn: fc.nat(1 << 20), probe: fc.nat(), unmap: fc.boolean() }), {
          minLength: 1,
          maxLength: 40,
        }),
        (specs) => {
          const d = new IommuDomain(0, 'dma', new KernelLog());
          const live: Array<{ iova: number; phys: number; size: number }> = [];
          for (const s of specs) {
            const size = s.pages * PAGE_SIZE;
            const iova = d.iovaAlloc(size);
            expect(iova).toBeGreaterThanOrEqual(IOVA_BASE);
            const phys = s.physPfn * PAGE_SIZE;
            expect(d.map(iova, phys, size, RW)).toBe(0);
            const off = s.probe % size;
            expect(d.iovaToPhys(iova + off)).toBe(phys + off);
            live.push({ iova, phys, size });
          }
          let total = live.reduce((n, m) => n + m.size, 0);
          expect(d.mappedBytes()).toBe(total);
          specs.forEach((s, i) => {
            if (!s.unmap) return;
            const m = live[i]!;
            expect(d.unmap(m.iova, m.size)).toBe(m.size);
            d.iovaFree(m.iova, m.size);
            total -= m.size;
            expect(d.iovaToPhys(m.iova)).toBeNull();
            expect(d.iovaToPhys(m.iova + m.size - 1)).toBeNull();
          });
          expect(d.mappedBytes()).toBe(total);
          specs.forEach((s, i) => {
            if (s.unmap) return;
            const m = live[i]!;
            expect(d.iovaToPhys(m.iova + m.size - 1)).toBe(m.phys + m.size - 1);
          });
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe('IOMMU groups (drivers/iommu/iommu.c)', () => {
  it('with the IOMMU on, adding a device switches it to iommu DMA ops and logs "Adding to iommu group N"', () => {
    const k = new Kernel({ iommu: true });
    const bus = { name: 'pci', match: () => false };
    const a = new Device(k, '0000:03:00.0', { bus });
    const b = new Device(k, '0000:03:00.1', { bus });
    deviceAdd(a);
    deviceAdd(b);
    const g0 = k.iommu.allocGroup();
    const g1 = k.iommu.allocGroup();
    expect([g0.id, g1.id]).toEqual([0, 1]);
    expect(k.iommu.groupAddDevice(g0, a)).toBe(0);
    expect(k.iommu.groupAddDevice(g0, b)).toBe(0);
    expect(k.iommu.groupAddDevice(g1, b)).toBe(-Errno.EEXIST);
    expect(a.iommuGroup).toBe(g0);
    expect(a.dmaOps).toBe('iommu');
    expect(g0.devices).toEqual([a, b]);
    expect(g0.domain.type).toBe('dma');
    expect(k.log.lines().map((l) => l.text)).toEqual([
      'pci 0000:03:00.0: Adding to iommu group 0',
      'pci 0000:03:00.1: Adding to iommu group 0',
    ]);
    expect(k.iommu.groups()).toEqual([g0, g1]);
    expect(k.iommu.findGroup(1)).toBe(g1);
  });

  it('device removal leaves the group; an emptied group is freed and its id reused (ida)', () => {
    const k = new Kernel({ iommu: true });
    const a = new Device(k, 'a');
    deviceAdd(a);
    const g0 = k.iommu.allocGroup();
    const g1 = k.iommu.allocGroup();
    k.iommu.groupAddDevice(g0, a);
    deviceDel(a);
    expect(a.iommuGroup).toBeNull();
    expect(a.dmaOps).toBe('direct');
    expect(k.iommu.groups()).toEqual([g1]);
    expect(k.log.lines().map((l) => l.text)).toContain('a: Removing from iommu group 0');
    expect(k.iommu.allocGroup().id).toBe(0);
    expect(() => k.iommu.groupAddDevice(g0, new Device(k, 'b'))).toThrow('iommu group 0 is not live');
  });

  it('with the IOMMU off, groups record membership but DMA stays direct and nothing is logged', () => {
    const k = new Kernel();
    const d = new Device(k, 'd');
    deviceAdd(d);
    k.iommu.groupAddDevice(k.iommu.allocGroup(), d);
    expect(d.dmaOps).toBe('direct');
    expect(k.log.lines()).toEqual([]);
  });

  it('passthrough (iommu=pt) gives identity default domains and keeps DMA direct; virt devices are left alone', () => {
    const k = new Kernel({ cmdline: 'intel_iommu=on iommu=pt' });
    const d = new Device(k, 'd');
    const v = new Device(k, 'rxe0', { dmaOps: 'virt' });
    deviceAdd(d);
    deviceAdd(v);
    const g = k.iommu.allocGroup();
    k.iommu.groupAddDevice(g, d);
    k.iommu.groupAddDevice(k.iommu.allocGroup(), v);
    expect(g.defaultDomain.type).toBe('identity');
    expect(d.dmaOps).toBe('direct');
    expect(v.dmaOps).toBe('virt');
  });
});
