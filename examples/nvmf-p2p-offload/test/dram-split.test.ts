/**
 * The DRAM split: DMA to System RAM given to "data" when it hits a live scatter-gather mapping
 * of the initiator (the DMA-API debug registry, kernel/dma/debug.c), else to "command"; the sum
 * always equals the fabric's DRAM counters (DESIGN section 4: reports come from the counters).
 */
import { DMA_FROM_DEVICE, dmaMapSg, dmaUnmapSg, physToVirt, sgInitOne } from '@p2pdma/kernel';
import { buildNvmetTestbed } from '@p2pdma/nvmet';
import { describe, expect, test } from 'vitest';
import { DramSplitTap, dramSplitDiff, ZERO_DRAM_SPLIT } from '../src/dram-split';

function testbed() {
  const t = buildNvmetTestbed({ placement: 'system', namespaceBytes: 2 ** 20 });
  if ('error' in t) throw new Error(t.error);
  return t;
}

describe('DramSplitTap', () => {
  test('a DMA into a scatter-gather mapping is data, one into no mapping is command; the sum is the counters', () => {
    const t = testbed();
    const fabric = t.sys.fabric;
    fabric.resetCounters();
    const tap = new DramSplitTap(t.kernel, fabric);
    const page = t.kernel.memory.allocPages(1)!;
    // No mapping: a stray write (not data by the DMA API's records).
    expect(fabric.dmaWrite(t.rnic, page, new Uint8Array(100))).toEqual({ status: 'ok' });
    expect(tap.split()).toEqual({ ...ZERO_DRAM_SPLIT, commandWrite: 100 });
    expect(tap.check(fabric.counters().dram)).toBeNull();
    tap.detach();
  });

  test('sg mappings of the initiator count; the same bytes mapped for another device do not', () => {
    const t = testbed();
    const fabric = t.sys.fabric;
    fabric.resetCounters();
    const tap = new DramSplitTap(t.kernel, fabric);
    const phys = t.kernel.memory.allocPages(2)!;
    const sg = sgInitOne(t.kernel, physToVirt(phys), 4096);
    expect(dmaMapSg(t.drive, sg, 1, DMA_FROM_DEVICE)).toBe(1);
    const addr = sg.dmaAddress;
    // The drive writes its whole mapped page: data.
    expect(fabric.dmaWrite(t.drive, addr, new Uint8Array(4096))).toEqual({ status: 'ok' });
    // The RNIC writes the same address: not its mapping, so command bytes.
    expect(fabric.dmaWrite(t.rnic, addr, new Uint8Array(512))).toEqual({ status: 'ok' });
    expect(tap.split()).toEqual({ dataRead: 0, dataWrite: 4096, commandRead: 0, commandWrite: 512 });
    const mid = tap.split();
    // A read straddling the mapping's end: the part inside is data, the rest command.
    const out = new Uint8Array(4096);
    expect(fabric.dmaRead(t.drive, addr + 4096 - 1000, out)).toEqual({ status: 'ok' });
    expect(dramSplitDiff(tap.split(), mid)).toEqual({ dataRead: 1000, dataWrite: 0, commandRead: 3096, commandWrite: 0 });
    expect(tap.check(fabric.counters().dram)).toBeNull();
    dmaUnmapSg(t.drive, sg, 1, DMA_FROM_DEVICE);
    // Unmapped: the same transfer is no longer data.
    const before = tap.split();
    expect(fabric.dmaWrite(t.drive, addr, new Uint8Array(64))).toEqual({ status: 'ok' });
    expect(dramSplitDiff(tap.split(), before)).toEqual({ ...ZERO_DRAM_SPLIT, commandWrite: 64 });
    tap.detach();
  });

  test('check names a mismatch; detach restores the fabric; a second tap on one fabric is refused', () => {
    const t = testbed();
    const fabric = t.sys.fabric;
    const own = fabric.dmaWrite;
    const tap = new DramSplitTap(t.kernel, fabric);
    expect(fabric.dmaWrite).not.toBe(own);
    expect(() => new DramSplitTap(t.kernel, fabric)).toThrow('DramSplitTap: this fabric already has a tap');
    expect(tap.check({ read: 1, write: 2 })).toBe("DRAM split read 0 / write 0 differs from the fabric's counters read 1 / write 2");
    tap.detach();
    tap.detach();
    expect(fabric.dmaWrite).toBe(own);
    const again = new DramSplitTap(t.kernel, fabric);
    again.detach();
  });
});

