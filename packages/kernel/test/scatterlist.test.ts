import { describe, expect, it } from 'vitest';
import type { MmioHandler } from '../src/index';
import {
  DevPagemap,
  Device,
  deviceAdd,
  devmMemremapPages,
  FAULT_SG_ALLOC_TABLE,
  forEachSg,
  Kernel,
  KernelBug,
  KernelRng,
  MEMORY_DEVICE_PCI_P2PDMA,
  PAGE_OFFSET,
  PAGE_SIZE,
  physToPage,
  SG_DMA_BUS_ADDRESS,
  sgAllocTable,
  sgCopyFromBuffer,
  sgCopyToBuffer,
  sgDmaIsBusAddress,
  sgDmaMarkBusAddress,
  sgDmaUnmarkBusAddress,
  sgFreeTable,
  sgInitOne,
  sgNents,
  sgNext,
  sgPhys,
  sgSetPage,
  sgVirt,
} from '../src/index';

describe('scatterlists (lib/scatterlist.c)', () => {
  it('allocates chained tables; refuses empty ones and injected failures', () => {
    const k = new Kernel();
    const t = sgAllocTable(k, 3)!;
    expect(t.origNents).toBe(3);
    expect(sgNents(t.sgl)).toBe(3);
    expect(sgNext(sgNext(sgNext(t.sgl)!)!)).toBeNull();
    expect(sgAllocTable(k, 0)).toBeNull();
    k.faults.inject(FAULT_SG_ALLOC_TABLE);
    expect(sgAllocTable(k, 1)).toBeNull();
    const seen: number[] = [];
    forEachSg(t.sgl, 3, (_s, i) => seen.push(i));
    expect(seen).toEqual([0, 1, 2]);
    expect(() => forEachSg(t.sgl, 4, () => {})).toThrow('kernel BUG: for_each_sg: list ends after 3 of 4 entries');
  });

  it('sg_init_one / sg_set_page: page, offset, phys and virt', () => {
    const k = new Kernel();
    const phys = k.memory.allocPages(2)!;
    const sg = sgInitOne(k, PAGE_OFFSET + phys + 100, 5000);
    expect(sg.page).toBe(physToPage(k, phys));
    expect(sg.offset).toBe(100);
    expect(sg.length).toBe(5000);
    expect(sgPhys(sg)).toBe(phys + 100);
    expect(sgVirt(sg)).toBe(PAGE_OFFSET + phys + 100);
    expect(() => sgSetPage(sg, sg.page!, -1, 0)).toThrow(KernelBug);
    sgMarkRoundTrip(sg);
  });

  it('copies in and out across entries with typed-array copies, honouring skip', () => {
    const k = new Kernel();
    const t = sgAllocTable(k, 3)!;
    const lens = [100, PAGE_SIZE + 7, 300];
    let s: typeof t.sgl | null = t.sgl;
    for (const len of lens) {
      const phys = k.memory.allocPages(2)!;
      sgSetPage(s!, physToPage(k, phys)!, len, 50);
      s = s!.next;
    }
    const total = lens.reduce((a, b) => a + b, 0);
    const data = new KernelRng(7).fill(new Uint8Array(total + 10));
    expect(sgCopyFromBuffer(t.sgl, 3, data)).toBe(total);
    const back = new Uint8Array(total);
    expect(sgCopyToBuffer(t.sgl, 3, back)).toBe(total);
    expect(back).toEqual(data.subarray(0, total));
    const mid = new Uint8Array(200);
    expect(sgCopyToBuffer(t.sgl, 3, mid, 50)).toBe(200);
    expect(mid).toEqual(data.subarray(50, 250));
    expect(sgCopyToBuffer(t.sgl, 2, new Uint8Array(total))).toBe(100 + PAGE_SIZE + 7);
    sgFreeTable(t);
    expect(t.sgl.page).toBeNull();
  });

  it('reaches device memory through its MMIO handler, and stops at a fault', () => {
    const k = new Kernel();
    const dev = new Device(k, '0000:03:00.0');
    deviceAdd(dev);
    const bar = new Uint8Array(2 ** 21);
    const h: MmioHandler = { read: (o, out) => out.set(bar.subarray(o, o + out.length)), write: (o, d) => bar.set(d, o) };
    k.memory.registerMmio(0xe000_0000, 2 ** 21, h, 'BAR');
    devmMemremapPages(dev, new DevPagemap({ type: MEMORY_DEVICE_PCI_P2PDMA, range: { start: 0xe000_0000, end: 0xe01f_ffff } }));
    const sg = sgInitOne(k, PAGE_OFFSET + 0xe000_1000, 16);
    expect(sgCopyFromBuffer(sg, 1, new Uint8Array(16).fill(0xab))).toBe(16);
    expect(bar[0x1000]).toBe(0xab);
    expect(bar[0x1010]).toBe(0);
    // An entry running past the registered MMIO range faults: nothing is copied for it.
    const bad = sgInitOne(k, PAGE_OFFSET + 0xe01f_f000, 2 * PAGE_SIZE);
    expect(sgCopyFromBuffer(bad, 1, new Uint8Array(2 * PAGE_SIZE))).toBe(0);
    expect(k.log.lines().map((l) => l.text)).toEqual(['CPU write of unmapped physical range [mem 0xe01ff000-0xe0200fff]: -EFAULT']);
  });
});

function sgMarkRoundTrip(sg: ReturnType<typeof sgInitOne>): void {
  expect(sgDmaIsBusAddress(sg)).toBe(false);
  sgDmaMarkBusAddress(sg);
  expect(sg.dmaFlags & SG_DMA_BUS_ADDRESS).toBe(SG_DMA_BUS_ADDRESS);
  sgDmaUnmarkBusAddress(sg);
  expect(sgDmaIsBusAddress(sg)).toBe(false);
}
