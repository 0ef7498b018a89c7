/**
 * The DRAM split on the NVMe driver's own mappings: a DMA into a live `dma_map_sg` mapping of the
 * initiator is data, anything else command (kernel/dma/debug.c records the types); the sum always
 * equals the fabric's DRAM counters.
 */
import { DMA_TO_DEVICE, dmaMapSg, dmaUnmapSg, Kernel, physToVirt, sgInitOne } from '@p2pdma/kernel';
import { enumerate, getBuiltin, kernelOptionsForTopology } from '@p2pdma/pci-core';
import { describe, expect, test } from 'vitest';
import { DramSplitTap, dramSplitDiff, ZERO_DRAM_SPLIT } from '../src/dram-split';

function machine() {
  const spec = getBuiltin('seed-switch')!;
  const k = new Kernel(kernelOptionsForTopology(spec));
  const sys = enumerate(k, spec);
  if ('error' in sys) throw new Error(sys.error.message);
  return { k, sys, drive: sys.findByBdf('0000:05:00.0')! };
}

describe('DramSplitTap', () => {
  test('data inside a live sg mapping, command outside it or after the unmap; the sum is the counters', () => {
    const { k, sys, drive } = machine();
    sys.fabric.resetCounters();
    const tap = new DramSplitTap(k, sys.fabric);
    const phys = k.memory.allocPages(2)!;
    const sg = sgInitOne(k, physToVirt(phys), 4096);
    expect(dmaMapSg(drive, sg, 1, DMA_TO_DEVICE)).toBe(1);
    const out = new Uint8Array(6000);
    expect(sys.fabric.dmaRead(drive, sg.dmaAddress, out)).toEqual({ status: 'ok' });
    expect(tap.split()).toEqual({ ...ZERO_DRAM_SPLIT, dataRead: 4096, commandRead: 1904 });
    dmaUnmapSg(drive, sg, 1, DMA_TO_DEVICE);
    const mid = tap.split();
    expect(sys.fabric.dmaRead(drive, sg.dmaAddress, new Uint8Array(64))).toEqual({ status: 'ok' });
    expect(dramSplitDiff(tap.split(), mid)).toEqual({ ...ZERO_DRAM_SPLIT, commandRead: 64 });
    expect(tap.check(sys.fabric.counters().dram)).toBeNull();
    tap.detach();
    expect(() => new DramSplitTap(k, sys.fabric).detach()).not.toThrow();
  });
});
