/**
 * The DRAM split: a DMA to System RAM is data when it hits a live `dma_map_sg` mapping of the
 * initiator (the DMA-API debug registry, kernel/dma/debug.c), else command; the sum always equals
 * the fabric's DRAM counters (DESIGN section 4: reports come from the counters). Checked on the
 * NVMe driver's machine (seed-switch, bare) and on the NVMe-oF target's testbed (RNIC + drive).
 */
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, dmaMapSg, dmaUnmapSg, Kernel, physToVirt, sgInitOne } from '@p2pdma/kernel';
import { buildNvmetTestbed } from '@p2pdma/nvmet';
import { enumerate, getBuiltin, kernelOptionsForTopology } from '@p2pdma/pci-core';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DramSplitTap, dramSplitDiff, ZERO_DRAM_SPLIT } from '../src/dram-split';

/** The bare seed-switch machine (no drivers) and its P3700, 05:00.0. */
function machine() {
  const spec = getBuiltin('seed-switch')!;
  const k = new Kernel(kernelOptionsForTopology(spec));
  const sys = enumerate(k, spec);
  if ('error' in sys) throw new Error(sys.error.message);
  return { k, sys, drive: sys.findByBdf('0000:05:00.0')! };
}

/** The machine with its counters reset and a tap on its fabric. */
function tappedMachine() {
  const m = machine();
  m.sys.fabric.resetCounters();
  return { ...m, tap: new DramSplitTap(m.k, m.sys.fabric) };
}

/** The NVMe-oF target's testbed (RNIC + drive, buffers in System RAM). */
function testbed() {
  const t = buildNvmetTestbed({ placement: 'system', namespaceBytes: 2 ** 20 });
  if ('error' in t) throw new Error(t.error);
  return t;
}

/** The testbed with its counters reset and a tap on its fabric. */
function tappedTestbed() {
  const t = testbed();
  t.sys.fabric.resetCounters();
  return { t, fabric: t.sys.fabric, tap: new DramSplitTap(t.kernel, t.sys.fabric) };
}

describe('DramSplitTap', () => {
  test('nvme_map_data-style sg mapping: data inside a live mapping, command outside it or after the unmap; the sum is the counters', () => {
    const { k, sys, drive, tap } = tappedMachine();
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

  test('a DMA into no mapping (a stray RNIC write) is command; the sum is the counters', () => {
    const { t, fabric, tap } = tappedTestbed();
    const page = t.kernel.memory.allocPages(1)!;
    expect(fabric.dmaWrite(t.rnic, page, new Uint8Array(100))).toEqual({ status: 'ok' });
    expect(tap.split()).toEqual({ ...ZERO_DRAM_SPLIT, commandWrite: 100 });
    expect(tap.check(fabric.counters().dram)).toBeNull();
    tap.detach();
  });

  test('sg mappings of the initiator count; the same bytes mapped for another device do not; a straddling read splits', () => {
    const { t, fabric, tap } = tappedTestbed();
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
    expect(fabric.dmaRead(t.drive, addr + 4096 - 1000, new Uint8Array(4096))).toEqual({ status: 'ok' });
    expect(dramSplitDiff(tap.split(), mid)).toEqual({ dataRead: 1000, dataWrite: 0, commandRead: 3096, commandWrite: 0 });
    expect(tap.check(fabric.counters().dram)).toBeNull();
    dmaUnmapSg(t.drive, sg, 1, DMA_FROM_DEVICE);
    // Unmapped: the same transfer is no longer data.
    const before = tap.split();
    expect(fabric.dmaWrite(t.drive, addr, new Uint8Array(64))).toEqual({ status: 'ok' });
    expect(dramSplitDiff(tap.split(), before)).toEqual({ ...ZERO_DRAM_SPLIT, commandWrite: 64 });
    tap.detach();
  });

  test('two requests mapping the same page at once: the overlap counts once', () => {
    const { k, sys, drive, tap } = tappedMachine();
    const phys = k.memory.allocPages(1)!;
    const a = sgInitOne(k, physToVirt(phys), 4096);
    const b = sgInitOne(k, physToVirt(phys), 4096);
    expect(dmaMapSg(drive, a, 1, DMA_TO_DEVICE)).toBe(1);
    expect(dmaMapSg(drive, b, 1, DMA_TO_DEVICE)).toBe(1);
    expect(sys.fabric.dmaRead(drive, a.dmaAddress, new Uint8Array(4096))).toEqual({ status: 'ok' });
    expect(tap.split()).toEqual({ ...ZERO_DRAM_SPLIT, dataRead: 4096 });
    expect(tap.check(sys.fabric.counters().dram)).toBeNull();
    tap.detach();
  });

  test('property: any mix of reads and writes in and around a mapping, data + command = the fabric counters, results unchanged', () => {
    const { k, sys, drive } = machine();
    const phys = k.memory.allocPages(4)!;
    const sg = sgInitOne(k, physToVirt(phys + 4096), 8192);
    expect(dmaMapSg(drive, sg, 1, DMA_TO_DEVICE)).toBe(1);
    const base = sg.dmaAddress - 4096;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 12000 }), fc.integer({ min: 1, max: 4096 })), { maxLength: 12 }), (ops) => {
        sys.fabric.resetCounters();
        const plain = ops.map(([isRead, off, len]) => (isRead ? sys.fabric.dmaRead(drive, base + off, new Uint8Array(len)) : sys.fabric.dmaWrite(drive, base + off, new Uint8Array(len))));
        const plainDram = sys.fabric.counters().dram;
        sys.fabric.resetCounters();
        const tap = new DramSplitTap(k, sys.fabric);
        const tapped = ops.map(([isRead, off, len]) => (isRead ? sys.fabric.dmaRead(drive, base + off, new Uint8Array(len)) : sys.fabric.dmaWrite(drive, base + off, new Uint8Array(len))));
        tap.detach();
        expect(tapped).toEqual(plain);
        expect(sys.fabric.counters().dram).toEqual(plainDram);
        expect(tap.check(plainDram)).toBeNull();
        const s = tap.split();
        const inside = ops.filter(([r]) => r).reduce((n, [, off, len]) => n + Math.max(0, Math.min(off + len, 4096 + 8192) - Math.max(off, 4096)), 0);
        expect(s.dataRead).toBe(inside);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  test('check names a mismatch; detach stops the tap (idempotent); a second tap on one fabric is a model bug', () => {
    const { k, sys, drive } = machine();
    const tap = new DramSplitTap(k, sys.fabric);
    expect(() => new DramSplitTap(k, sys.fabric)).toThrow('kernel BUG: DramSplitTap: this fabric already has a tap');
    expect(tap.check({ read: 1, write: 2 })).toBe("DRAM split read 0 / write 0 differs from the fabric's counters read 1 / write 2");
    sys.fabric.dmaWrite(drive, 0x10000, new Uint8Array(512));
    expect(tap.split()).toEqual({ dataRead: 0, dataWrite: 0, commandRead: 0, commandWrite: 512 });
    tap.detach();
    tap.detach();
    sys.fabric.dmaWrite(drive, 0x10000, new Uint8Array(512));
    expect(tap.split()).toEqual({ dataRead: 0, dataWrite: 0, commandRead: 0, commandWrite: 512 });
    const again = new DramSplitTap(k, sys.fabric);
    sys.fabric.dmaWrite(drive, 0x10000, new Uint8Array(256));
    expect(again.split().commandWrite).toBe(256);
    again.detach();
  });
});
