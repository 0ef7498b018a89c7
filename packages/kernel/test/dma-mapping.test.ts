import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BusType, DeviceDriver, DmaDirection, DmaOpsKind, Scatterlist } from '../src/index';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_NONE,
  DMA_TO_DEVICE,
  Device,
  deviceAdd,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapPage,
  dmaMappingError,
  dmaMapSg,
  dmaMapSgtable,
  dmaMapSingle,
  dmaUnmapPage,
  dmaUnmapSg,
  dmaUnmapSgtable,
  Errno,
  FAULT_DMA_MAP,
  IOMMU_CACHE,
  IOMMU_READ,
  IOMMU_WRITE,
  Kernel,
  KernelBug,
  PAGE_OFFSET,
  PAGE_SIZE,
  physToPage,
  sgAllocTable,
  sgPhys,
  sgSetPage,
  sgVirt,
  virtToPhys,
} from '../src/index';

const GiB = 2 ** 30;
const pciBus: BusType = { name: 'pci', match: () => true };
const nvme: DeviceDriver = { name: 'nvme', bus: pciBus, probe: () => 0 };

function setup(kind: DmaOpsKind, opts: ConstructorParameters<typeof Kernel>[0] = {}) {
  const k = new Kernel({ iommu: kind === 'iommu', ...opts });
  k.driverRegister(nvme);
  const dev = new Device(k, '0000:03:00.0', { bus: pciBus });
  deviceAdd(dev);
  if (kind === 'iommu') k.iommu.groupAddDevice(k.iommu.allocGroup(), dev);
  if (kind === 'virt') dev.dmaOps = 'virt';
  expect(dev.dmaOps).toBe(kind);
  k.log.clear();
  return { k, dev };
}

/** A table whose entries are [phys, offset, length] (phys page-aligned RAM). */
function table(k: Kernel, segs: readonly [number, number, number][]) {
  const t = sgAllocTable(k, segs.length)!;
  let s: Scatterlist | null = t.sgl;
  for (const [phys, off, len] of segs) {
    sgSetPage(s!, physToPage(k, phys)!, len, off);
    s = s!.next;
  }
  return t;
}

function texts(k: Kernel): string[] {
  return k.log.lines().map((l) => l.text);
}

describe('dma_map_sg per DMA ops kind', () => {
  it("'direct': DMA address = CPU physical address (+ dev.dmaOffset), one segment per entry", () => {
    const { k, dev } = setup('direct');
    const a = k.memory.allocPages(1)!;
    const b = k.memory.allocPages(1)!;
    const t = table(k, [
      [a, 0, PAGE_SIZE],
      [b, 16, 100],
    ]);
    expect(dmaMapSg(dev, t.sgl, 2, DMA_TO_DEVICE)).toBe(2);
    expect([t.sgl.dmaAddress, t.sgl.dmaLength, t.sgl.next!.dmaAddress, t.sgl.next!.dmaLength]).toEqual([a, PAGE_SIZE, b + 16, 100]);
    expect(k.dmaDebug.liveMappings(dev).map((e) => [e.type, e.dmaAddress, e.size])).toEqual([
      ['sg', a, PAGE_SIZE],
      ['sg', b + 16, 100],
    ]);
    dmaUnmapSg(dev, t.sgl, 2, DMA_TO_DEVICE);
    expect(k.dmaDebug.liveCount()).toBe(0);
    dev.dmaOffset = 0x8000_0000;
    expect(dmaMapSg(dev, t.sgl, 1, DMA_FROM_DEVICE)).toBe(1);
    expect(t.sgl.dmaAddress).toBe(a + 0x8000_0000);
    expect(texts(k)).toEqual([]);
  });

  it("'direct': fails beyond the DMA mask with the kernel's one-time overflow warning (no swiotlb)", () => {
    const { k, dev } = setup('direct');
    dev.dmaMask = 32;
    const high = 4 * GiB; // RAM above 4 GiB in the default map
    const t = table(k, [[high, 0, PAGE_SIZE]]);
    expect(dmaMapSg(dev, t.sgl, 1, DMA_TO_DEVICE)).toBe(0);
    expect(t.sgl.dmaAddress).toBe(DMA_MAPPING_ERROR);
    expect(dmaMapSgtable(dev, t, DMA_TO_DEVICE)).toBe(-Errno.EIO);
    const addr = dmaMapPage(dev, physToPage(k, high)!, 0, 8, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(true);
    expect(texts(k)).toEqual(['nvme 0000:03:00.0: DMA addr 0x0000000100000000+4096 overflow (mask ffffffff, bus limit 0).']);
    expect(k.dmaDebug.liveCount()).toBe(0);
    const low = k.memory.allocPages(1)!;
    expect(dmaMapSg(dev, table(k, [[low, 0, 64]]).sgl, 1, DMA_TO_DEVICE)).toBe(1);
  });

  it("'virt': DMA address = the kernel virtual address (page_address + offset), as rxe/siw", () => {
    const { k, dev } = setup('virt');
    const a = k.memory.allocPages(1)!;
    const t = table(k, [[a, 8, 32]]);
    expect(dmaMapSg(dev, t.sgl, 1, DMA_BIDIRECTIONAL)).toBe(1);
    expect(t.sgl.dmaAddress).toBe(PAGE_OFFSET + a + 8);
    expect(dmaMapSingle(dev, PAGE_OFFSET + a + 4, 4, DMA_TO_DEVICE)).toBe(PAGE_OFFSET + a + 4);
  });

  it("'iommu': one IOVA range; page-contiguous entries merge into one segment (__finalise_sg)", () => {
    const { k, dev } = setup('iommu');
    const d = dev.iommuGroup!.domain;
    const [x, y, z] = [k.memory.allocPages(1)!, k.memory.allocPages(2)! + PAGE_SIZE, k.memory.allocPages(1)!];
    const t = table(k, [
      [x, 0, PAGE_SIZE],
      [y, 0, PAGE_SIZE],
      [z, 100, 50],
    ]);
    expect(dmaMapSgtable(dev, t, DMA_TO_DEVICE)).toBe(0);
    expect(t.nents).toBe(2);
    const [s0, s1, s2] = t.entries();
    const iova = s0!.dmaAddress;
    expect([s0!.dmaLength, s1!.dmaAddress, s1!.dmaLength, s2!.dmaAddress, s2!.dmaLength]).toEqual([2 * PAGE_SIZE, iova + 2 * PAGE_SIZE + 100, 50, DMA_MAPPING_ERROR, 0]);
    expect(d.iovaToPhys(iova + 10)).toBe(x + 10);
    expect(d.iovaToPhys(iova + PAGE_SIZE + 10)).toBe(y + 10);
    expect(d.iovaToPhys(iova + 2 * PAGE_SIZE + 149)).toBe(z + 149);
    expect(d.lookup(iova)!.prot).toBe(IOMMU_CACHE | IOMMU_READ);
    expect(d.mappedBytes()).toBe(3 * PAGE_SIZE);
    dmaUnmapSgtable(dev, t, DMA_TO_DEVICE);
    expect(d.mappedBytes()).toBe(0);
    expect(d.iovaAllocatedBytes()).toBe(0);
    expect(k.dmaDebug.liveCount()).toBe(0);
  });

  it("'iommu': no merge past dmaMaxSegSize, or after an entry that does not end on a page boundary", () => {
    const { k, dev } = setup('iommu');
    const p = k.memory.allocPages(4)!;
    const full: [number, number, number][] = [
      [p, 0, PAGE_SIZE],
      [p + PAGE_SIZE, 0, PAGE_SIZE],
    ];
    dev.dmaMaxSegSize = PAGE_SIZE;
    expect(dmaMapSg(dev, table(k, full).sgl, 2, DMA_FROM_DEVICE)).toBe(2);
    dev.dmaMaxSegSize = 65536;
    const t = table(k, [
      [p + 2 * PAGE_SIZE, 0, 100],
      [p + 3 * PAGE_SIZE, 0, PAGE_SIZE],
    ]);
    expect(dmaMapSg(dev, t.sgl, 2, DMA_FROM_DEVICE)).toBe(2);
    expect(t.sgl.next!.dmaAddress).toBe(t.sgl.dmaAddress + PAGE_SIZE);
    expect(dev.iommuGroup!.domain.lookup(t.sgl.dmaAddress)!.prot).toBe(IOMMU_CACHE | IOMMU_WRITE);
  });

  it('property: round trips per ops kind (IOVA translates back to phys; direct = phys; virt = page_address)', () => {
    const seg = fc.record({ pages: fc.integer({ min: 1, max: 3 }), off: fc.oneof(fc.constant(0), fc.nat(PAGE_SIZE - 1)), trim: fc.nat(PAGE_SIZE - 1) });
    const kinds: DmaOpsKind[] = ['direct', 'iommu', 'virt'];
    for (const kind of kinds) {
      const { k, dev } = setup(kind);
      fc.assert(
        fc.property(fc.array(seg, { minLength: 1, maxLength: 6 }), fc.constantFrom<DmaDirection>(DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_BIDIRECTIONAL), (segs, dir) => {
          const allocs: [number, number][] = [];
          const specs = segs.map((s) => {
            const phys = k.memory.allocPages(s.pages + 1)!;
            allocs.push([phys, s.pages + 1]);
            return [phys, s.off, Math.max(1, s.pages * PAGE_SIZE - s.trim)] as [number, number, number];
          });
          const t = table(k, specs);
          const n = dmaMapSg(dev, t.sgl, specs.length, dir);
          expect(n).toBeGreaterThan(0);
          const entries = t.entries();
          const segsOut = entries.slice(0, n).map((e) => [e.dmaAddress, e.dmaLength] as const);
          expect(segsOut.reduce((a, [, l]) => a + l, 0)).toBe(specs.reduce((a, [, , l]) => a + l, 0));
          // Walk the CPU bytes in order against the DMA segments in order.
          let si = 0;
          let segPos = 0;
          for (const e of entries) {
            for (const off of [0, e.length >> 1, e.length - 1]) {
              let pos = segPos + off;
              let j = si;
              while (pos >= segsOut[j]![1]) pos -= segsOut[j++]![1];
              const dma = segsOut[j]![0] + pos;
              if (kind === 'iommu') expect(dev.iommuGroup!.domain.iovaToPhys(dma)).toBe(sgPhys(e) + off);
              else if (kind === 'direct') expect(dma).toBe(sgPhys(e) + off);
              else expect(dma).toBe(sgVirt(e) + off);
            }
            segPos += e.length;
            while (si < n && segPos >= segsOut[si]![1]) segPos -= segsOut[si++]![1];
          }
          dmaUnmapSg(dev, t.sgl, specs.length, dir);
          expect(k.dmaDebug.liveCount()).toBe(0);
          if (kind === 'iommu') expect(dev.iommuGroup!.domain.mappedBytes()).toBe(0);
          for (const [phys, count] of allocs) k.memory.freePages(phys, count);
        }),
        { seed: 42, numRuns: 100 },
      );
      expect(k.log.lines()).toEqual([]);
    }
  });

  it('maps and unmaps single pages; coherent buffers are zeroed RAM mapped per ops kind', () => {
    const { k, dev } = setup('iommu');
    const d = dev.iommuGroup!.domain;
    const phys = k.memory.allocPages(1)!;
    const addr = dmaMapPage(dev, physToPage(k, phys)!, 0x10, 0x20, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(false);
    expect(d.iovaToPhys(addr)).toBe(phys + 0x10);
    dmaUnmapPage(dev, addr, 0x20, DMA_FROM_DEVICE);
    expect(d.mappedBytes()).toBe(0);
    const free = k.memory.freePageCount();
    const c = dmaAllocCoherent(dev, 3 * PAGE_SIZE - 1)!;
    expect(k.memory.freePageCount()).toBe(free - 3);
    expect(d.iovaToPhys(c.dmaHandle + 5)).toBe(virtToPhys(c.virt) + 5);
    expect(k.memory.cpuRead(virtToPhys(c.virt), 3 * PAGE_SIZE)).toEqual(new Uint8Array(3 * PAGE_SIZE));
    dmaFreeCoherent(dev, 3 * PAGE_SIZE - 1, c.virt, c.dmaHandle);
    expect(k.memory.freePageCount()).toBe(free);
    expect(d.mappedBytes()).toBe(0);
    const direct = setup('direct');
    const cd = dmaAllocCoherent(direct.dev, 100)!;
    expect(cd.dmaHandle).toBe(virtToPhys(cd.virt));
    expect(texts(k)).toEqual([]);
  });

  it('fails every map on demand (FAULT_DMA_MAP), and BUGs on DMA_NONE or iommu ops without a group', () => {
    const { k, dev } = setup('iommu');
    const t = table(k, [[k.memory.allocPages(1)!, 0, 64]]);
    k.faults.inject(FAULT_DMA_MAP, { times: 3 });
    expect(dmaMapSg(dev, t.sgl, 1, DMA_TO_DEVICE)).toBe(0);
    expect(dmaMapSgtable(dev, t, DMA_TO_DEVICE)).toBe(-Errno.ENOMEM);
    expect(dmaAllocCoherent(dev, 64)).toBeNull();
    expect(k.dmaDebug.liveCount()).toBe(0);
    expect(() => dmaMapSg(dev, t.sgl, 1, DMA_NONE)).toThrow('kernel BUG: dma_map_sg: invalid DMA direction 3 (BUG_ON(!valid_dma_direction(dir)))');
    const empty = table(k, [[k.memory.allocPages(1)!, 16, 0]]);
    expect(() => dmaMapSg(dev, empty.sgl, 1, DMA_TO_DEVICE)).toThrow('kernel BUG: dma_map_sg: entry 0 has length 0');
    const lone = new Device(k, 'lone', { dmaOps: 'iommu' });
    expect(() => dmaMapSg(lone, t.sgl, 1, DMA_TO_DEVICE)).toThrow(KernelBug);
  });
});

describe('DMA-API debug (CONFIG_DMA_API_DEBUG, kernel/dma/debug.c check_unmap)', () => {
  it('warns about freeing what was never mapped, with the kernel text', () => {
    const { k, dev } = setup('direct');
    dmaUnmapPage(dev, 0x1000, 4096, DMA_TO_DEVICE);
    dmaUnmapPage(dev, DMA_MAPPING_ERROR, 4096, DMA_TO_DEVICE);
    expect(texts(k)).toEqual([
      'DMA-API: nvme 0000:03:00.0: device driver tries to free DMA memory it has not allocated [device address=0x0000000000001000] [size=4096 bytes]',
      'DMA-API: nvme 0000:03:00.0: device driver tries to free an invalid DMA memory address',
    ]);
    expect(k.log.lines().every((l) => l.level === 4)).toBe(true);
    expect(k.dmaDebug.errorCount).toBe(2);
  });

  it('catches an unmap with another direction and refuses it: the IOMMU mapping stays live', () => {
    const { k, dev } = setup('iommu');
    const d = dev.iommuGroup!.domain;
    const t = table(k, [[k.memory.allocPages(1)!, 0, PAGE_SIZE]]);
    expect(dmaMapSg(dev, t.sgl, 1, DMA_TO_DEVICE)).toBe(1);
    dmaUnmapSg(dev, t.sgl, 1, DMA_FROM_DEVICE);
    expect(texts(k)).toEqual([
      'DMA-API: nvme 0000:03:00.0: device driver frees DMA memory with different direction [device address=0x0000010000000000] [size=4096 bytes] [mapped with DMA_TO_DEVICE] [unmapped with DMA_FROM_DEVICE]',
    ]);
    expect(k.dmaDebug.liveMappings(dev)).toHaveLength(1);
    expect(d.mappedBytes()).toBe(PAGE_SIZE);
    dmaUnmapSg(dev, t.sgl, 1, DMA_TO_DEVICE);
    expect(d.mappedBytes()).toBe(0);
    expect(k.dmaDebug.liveMappings()).toEqual([]);
  });

  it('reports size and entry-count mismatches, and unchecked dma_mapping_error (which still unmaps)', () => {
    const { k, dev } = setup('direct');
    const p = k.memory.allocPages(2)!;
    const addr = dmaMapPage(dev, physToPage(k, p)!, 0, 4096, DMA_TO_DEVICE);
    dmaUnmapPage(dev, addr, 2048, DMA_TO_DEVICE);
    dmaUnmapPage(dev, addr, 4096, DMA_TO_DEVICE);
    const t = table(k, [
      [p, 0, 512],
      [p + PAGE_SIZE, 0, 512],
    ]);
    dmaMapSg(dev, t.sgl, 2, DMA_BIDIRECTIONAL);
    dmaUnmapSg(dev, t.sgl, 1, DMA_BIDIRECTIONAL);
    const a = `0x${p.toString(16).padStart(16, '0')}`;
    expect(texts(k)).toEqual([
      `DMA-API: nvme 0000:03:00.0: device driver frees DMA memory with different size [device address=${a}] [map size=4096 bytes] [unmap size=2048 bytes]`,
      `DMA-API: nvme 0000:03:00.0: device driver failed to check map error[device address=${a}] [size=4096 bytes] [mapped as single]`,
      'DMA-API: nvme 0000:03:00.0: device driver frees DMA sg list with different entry count [map count=2] [unmap count=1]',
    ]);
    expect(k.dmaDebug.liveMappings(dev).map((e) => e.type)).toEqual(['sg', 'sg']); // the page mapping went, the sg list stayed
    dmaUnmapSg(dev, t.sgl, 2, DMA_BIDIRECTIONAL);
    expect(k.dmaDebug.liveCount()).toBe(0);
  });

  it('checks coherent frees (size, CPU address) and refuses bad ones', () => {
    const { k, dev } = setup('direct');
    const free = k.memory.freePageCount();
    const c = dmaAllocCoherent(dev, PAGE_SIZE)!;
    dmaFreeCoherent(dev, PAGE_SIZE, c.virt + PAGE_SIZE, c.dmaHandle);
    const h = `0x${c.dmaHandle.toString(16).padStart(16, '0')}`;
    const cpu = (v: number) => `0x${virtToPhys(v).toString(16).padStart(16, '0')}`;
    expect(texts(k)).toEqual([
      `DMA-API: nvme 0000:03:00.0: device driver frees DMA memory with different CPU address [device address=${h}] [size=4096 bytes] [cpu alloc address=${cpu(c.virt)}] [cpu free address=${cpu(c.virt + PAGE_SIZE)}]`,
    ]);
    expect(k.memory.freePageCount()).toBe(free - 1);
    dmaFreeCoherent(dev, PAGE_SIZE, c.virt, c.dmaHandle);
    expect(k.memory.freePageCount()).toBe(free);
  });

  it('still refuses bad unmaps but prints nothing without CONFIG_DMA_API_DEBUG', () => {
    const { k, dev } = setup('direct', { config: { CONFIG_DMA_API_DEBUG: false } });
    const t = table(k, [[k.memory.allocPages(1)!, 0, 64]]);
    dmaMapSg(dev, t.sgl, 1, DMA_TO_DEVICE);
    dmaUnmapSg(dev, t.sgl, 1, DMA_FROM_DEVICE);
    expect(k.log.lines()).toEqual([]);
    expect(k.dmaDebug.errorCount).toBe(1);
    expect(k.dmaDebug.liveCount()).toBe(1);
  });

  it('keeps mappings per device, for leak checks', () => {
    const { k, dev } = setup('direct');
    const other = new Device(k, '0000:04:00.0');
    deviceAdd(other);
    const p = k.memory.allocPages(1)!;
    dmaMapSg(dev, table(k, [[p, 0, 64]]).sgl, 1, DMA_TO_DEVICE);
    dmaMapSg(other, table(k, [[p, 64, 64]]).sgl, 1, DMA_TO_DEVICE);
    expect(k.dmaDebug.liveMappings(dev).map((e) => e.dmaAddress)).toEqual([p]);
    expect(k.dmaDebug.liveMappings(other).map((e) => e.dmaAddress)).toEqual([p + 64]);
    expect(k.dmaDebug.liveMappings()).toHaveLength(2);
  });
});
