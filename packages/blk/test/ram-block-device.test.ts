/**
 * The RAM-backed blk-mq device (null_blk memory-backed style): construction, the DMA data path
 * through kernel.memory (System RAM and P2P BAR MMIO), injected statuses, DMA mapping failures,
 * teardown, and a fixed-seed property test of data integrity through splits, merges, plugs, tag
 * exhaustion and P2P refusals.
 */
import type { Page } from '@p2pdma/kernel';
import { Errno, FAULT_DMA_MAP, KernelBug, PAGE_SIZE, pfnToPage } from '@p2pdma/kernel';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Bio, RamBlockDevice, RamBlockDeviceOptions } from '../src/index';
import {
  BLK_MQ_RESOURCE_DELAY_NS,
  BLK_STS_DEV_RESOURCE,
  BLK_STS_MEDIUM,
  BLK_STS_NOTSUPP,
  BLK_STS_OK,
  BlkPlug,
  blkFinishPlug,
  blkQueueFlagTest,
  blkQueuePciP2pdma,
  blkSetCurrentCpu,
  blkStartPlug,
  createRamBlockDevice,
  getCapacity,
  QUEUE_FLAG_DISCARD,
  QUEUE_FLAG_NONROT,
  REQ_OP_READ,
  REQ_OP_WRITE,
  reqFlags,
  submitBio,
} from '../src/index';
import { dataBio, makeP2pBar, newKernel, ramPages, readPage, sameBytes } from './helpers';

type K = ReturnType<typeof newKernel>;

function make(k: K, extra: Partial<RamBlockDeviceOptions> = {}): RamBlockDevice {
  const d = createRamBlockDevice(k, { name: 'nullb0', capacityBytes: 1 << 20, ...extra });
  if (typeof d === 'number') throw new Error(`createRamBlockDevice: ${d}`);
  return d;
}

describe('createRamBlockDevice', () => {
  test('builds a block-class device with direct DMA, a blk-mq queue and a disk', () => {
    const k = newKernel();
    const dev = make(k, { nrHwQueues: 2, queueDepth: 8, p2pdma: true });
    expect(dev.device.dmaOps).toBe('direct');
    expect(dev.device.className).toBe('block');
    expect(k.findDevice('nullb0')).toBe(dev.device);
    expect(dev.queue.nrHwQueues).toBe(2);
    expect(dev.tagSet.queueDepth).toBe(8);
    expect(getCapacity(dev.disk)).toBe(2048);
    expect(blkQueuePciP2pdma(dev.queue)).toBe(true);
    expect(blkQueueFlagTest(QUEUE_FLAG_NONROT, dev.queue)).toBe(true);
    expect(blkQueueFlagTest(QUEUE_FLAG_DISCARD, dev.queue)).toBe(true);
    expect(blkQueuePciP2pdma(make(k, { name: 'nullb1' }).queue)).toBe(false);
  });

  test('invalid options throw a RangeError naming the option; nothing is registered', () => {
    const k = newKernel();
    expect(() => createRamBlockDevice(k, { name: 'x', capacityBytes: 1000 })).toThrow(/capacityBytes 1000 must be a positive multiple of 512/);
    expect(() => createRamBlockDevice(k, { name: '', capacityBytes: 4096 })).toThrow(/name '' must be 1..31/);
    expect(() => createRamBlockDevice(k, { name: 'x', capacityBytes: 4096, queueDepth: 0 })).toThrow(/queueDepth 0/);
    expect(() => createRamBlockDevice(k, { name: 'x', capacityBytes: 4096, logicalBlockSize: 1024 * 3 })).toThrow(/logicalBlockSize 3072/);
    expect(() => createRamBlockDevice(k, { name: 'x', capacityBytes: 4096, completion: { delayNs: -1 } })).toThrow(/completion/);
    expect(k.devices()).toEqual([]);
  });

  test('a duplicate name is -EEXIST and leaves the first device untouched', () => {
    const k = newKernel();
    const first = make(k);
    expect(createRamBlockDevice(k, { name: 'nullb0', capacityBytes: 4096 })).toBe(-Errno.EEXIST);
    expect(k.devices()).toEqual([first.device]);
  });

  test('remove: refused while busy (nothing changes), then tears everything down', () => {
    const k = newKernel();
    const dev = make(k, { completion: { delayNs: 1000 } });
    const [p] = ramPages(k, 1);
    submitBio(dataBio(dev.disk, REQ_OP_READ, 0, [{ page: p! }]));
    expect(() => dev.remove()).toThrow(KernelBug);
    expect(k.findDevice('nullb0')).toBe(dev.device);
    k.clock.runUntilIdle();
    dev.remove();
    expect(k.findDevice('nullb0')).toBe(null);
    expect(dev.tagSet.queues.size).toBe(0);
    const late = dataBio(dev.disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(late);
    expect(late.status).not.toBe(BLK_STS_OK);
  });
});

describe('data path', () => {
  test('write from RAM pages, read back into other RAM pages: bytes and counters', () => {
    const k = newKernel();
    const dev = make(k);
    const src = ramPages(k, 3);
    const dst = ramPages(k, 3);
    const data = new Uint8Array(3 * PAGE_SIZE).map((_, i) => (i * 31 + 7) & 0xff);
    k.memory.cpuWrite(src[0]!.pfn * PAGE_SIZE, data);
    const w = dataBio(dev.disk, REQ_OP_WRITE, 41, src.map((page) => ({ page })));
    submitBio(w);
    const r = dataBio(dev.disk, REQ_OP_READ, 41, dst.map((page) => ({ page })));
    submitBio(r);
    expect([w.status, r.status]).toEqual([BLK_STS_OK, BLK_STS_OK]);
    expect(sameBytes(readPage(k, dst[0]!, 0, 3 * PAGE_SIZE), data)).toBe(true);
    expect(dev.stats).toMatchObject({ requests: 2, reads: 1, writes: 1, readBytes: 3 * PAGE_SIZE, writeBytes: 3 * PAGE_SIZE, errors: 0 });
    expect(dev.residentPages()).toBe(4); // 41 sectors in: the 12 KiB straddle 4 media pages
    expect(k.dmaDebug.liveCount()).toBe(0);
  });

  test('a P2P read lands in the BAR through its MMIO handler', () => {
    const k = newKernel();
    const dev = make(k, { p2pdma: true });
    const bar = makeP2pBar(k);
    dev.poke(0, new Uint8Array(PAGE_SIZE).fill(0x77));
    const r = dataBio(dev.disk, REQ_OP_READ, 0, [{ page: bar.page(3) }], reqFlags(k).REQ_PCI_P2PDMA);
    submitBio(r);
    expect(r.status).toBe(BLK_STS_OK);
    expect(bar.bytes.subarray(3 * PAGE_SIZE, 4 * PAGE_SIZE).every((b) => b === 0x77)).toBe(true);
    expect(dev.stats.p2pRequests).toBe(1);
  });

  test('injected statuses: busy answers are retried, device errors end the bio and move no data', () => {
    const k = newKernel();
    const dev = make(k);
    const [p] = ramPages(k, 1);
    k.memory.cpuWrite(p!.pfn * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(1));
    dev.injectStatus(BLK_STS_DEV_RESOURCE, 2);
    const w = dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: p! }]);
    submitBio(w);
    expect(w.ended).toBe(false);
    k.clock.runUntilIdle();
    expect(w.status).toBe(BLK_STS_OK);
    expect(dev.stats.queueRqCalls).toBe(3);
    expect(k.clock.now()).toBe(2 * BLK_MQ_RESOURCE_DELAY_NS);
    dev.injectStatus(BLK_STS_MEDIUM);
    const w2 = dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: p! }]);
    submitBio(w2);
    expect(w2.status).toBe(BLK_STS_MEDIUM);
    expect(dev.peek(8 * 512, PAGE_SIZE).every((b) => b === 0)).toBe(true);
    expect(dev.stats.errors).toBe(1);
    expect(dev.trace.at(-1)!.status).toBe(BLK_STS_MEDIUM);
    expect(() => dev.injectStatus(BLK_STS_OK, 0)).toThrow(RangeError);
  });

  test('a DMA mapping failure answers BLK_STS_RESOURCE and the request succeeds on the delayed rerun', () => {
    const k = newKernel();
    const dev = make(k);
    const [p] = ramPages(k, 1);
    k.faults.inject(FAULT_DMA_MAP);
    const r = dataBio(dev.disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(r);
    expect(r.ended).toBe(false);
    k.clock.runUntilIdle();
    expect(r.status).toBe(BLK_STS_OK);
    expect(dev.queue.stats.busy).toBe(1);
    expect(k.dmaDebug.liveCount()).toBe(0);
  });
});

describe('property: random writes then reads return exactly the bytes written (oracle)', () => {
  const CAP = 256 * 1024;
  const CAP_SECTORS = CAP / 512;
  const chunk = fc.record({ off: fc.integer({ min: 0, max: 7 }), len: fc.integer({ min: 1, max: 8 }) });
  const write = fc.record({
    sector: fc.integer({ min: 0, max: CAP_SECTORS - 1 }),
    chunks: fc.array(chunk, { minLength: 1, maxLength: 6 }),
    p2p: fc.boolean(),
    contiguous: fc.boolean(),
    cpu: fc.integer({ min: 0, max: 3 }),
    seed: fc.integer({ min: 0, max: 255 }),
    // Where it goes relative to the previous write of its batch: contiguous ones merge.
    place: fc.constantFrom('random', 'after', 'before'),
  });
  const batch = fc.record({ writes: fc.array(write, { minLength: 1, maxLength: 6 }), plug: fc.boolean() });
  const scenario = fc.record({
    batches: fc.array(batch, { minLength: 1, maxLength: 5 }),
    depth: fc.integer({ min: 1, max: 4 }),
    nrHwQueues: fc.integer({ min: 1, max: 2 }),
    maxHwSectors: fc.constantFrom(8, 16, 64, 255),
    maxSegments: fc.integer({ min: 1, max: 8 }),
    delayNs: fc.constantFrom(0, 500, 10_000),
    p2pQueue: fc.boolean(),
  });

  test('fast-check, seed 42, 200 runs', () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        const k = newKernel();
        const dev = make(k, {
          capacityBytes: CAP,
          queueDepth: sc.depth,
          nrHwQueues: sc.nrHwQueues,
          maxHwSectors: sc.maxHwSectors,
          maxSegments: sc.maxSegments,
          completion: sc.delayNs === 0 ? 'sync' : { delayNs: sc.delayNs },
          p2pdma: sc.p2pQueue,
        });
        const bar = makeP2pBar(k);
        const ramBase = k.memory.allocPages(256)! / PAGE_SIZE;
        const oracle = new Uint8Array(CAP);
        const p2pFlag = reqFlags(k).REQ_PCI_P2PDMA;
        for (const b of sc.batches) {
          let ramNext = 0;
          let barNext = 0;
          const taken: [number, number][] = [];
          const pending: { bio: Bio; sector: number; data: Uint8Array; p2p: boolean }[] = [];
          const plug = new BlkPlug(k);
          if (b.plug) blkStartPlug(plug);
          for (const w of b.writes) {
            const sizes = w.chunks.map((c) => ({ off: c.off, len: Math.min(c.len, 8 - c.off) }));
            const sectors = sizes.reduce((a, c) => a + c.len, 0);
            const prev = taken[taken.length - 1];
            const wanted = prev === undefined || w.place === 'random' ? w.sector : w.place === 'after' ? prev[1] : prev[0] - sectors;
            const sector = Math.max(0, Math.min(wanted, CAP_SECTORS - sectors));
            if (taken.some(([s, e]) => sector < e && s < sector + sectors)) continue; // no overlap in flight
            taken.push([sector, sector + sectors]);
            const data = new Uint8Array(sectors * 512).map((_, i) => (i * 7 + w.seed) & 0xff);
            const ranges: { page: Page; offset: number; len: number }[] = [];
            let pos = 0;
            for (const c of sizes) {
              const page = w.p2p ? bar.page(barNext) : pfnToPage(k, ramBase + ramNext)!;
              const bytes = data.subarray(pos, pos + c.len * 512);
              if (w.p2p) bar.bytes.set(bytes, barNext * PAGE_SIZE + c.off * 512);
              else k.memory.cpuWrite((ramBase + ramNext) * PAGE_SIZE + c.off * 512, bytes);
              ranges.push({ page, offset: c.off * 512, len: c.len * 512 });
              pos += c.len * 512;
              if (w.p2p) barNext += w.contiguous ? 1 : 2;
              else ramNext += w.contiguous ? 1 : 2;
            }
            blkSetCurrentCpu(k, w.cpu);
            const bio = dataBio(dev.disk, REQ_OP_WRITE, sector, ranges, w.p2p ? p2pFlag : 0);
            pending.push({ bio, sector, data, p2p: w.p2p });
            submitBio(bio);
          }
          if (b.plug) blkFinishPlug(plug);
          k.clock.runUntilIdle();
          for (const p of pending) {
            if (!p.bio.ended) return false;
            if (p.p2p && !sc.p2pQueue) {
              if (p.bio.status !== BLK_STS_NOTSUPP) return false;
              continue;
            }
            if (p.bio.status !== BLK_STS_OK) return false;
            oracle.set(p.data, p.sector * 512);
          }
        }
        // Read the whole device back through the block layer, 64 KiB per bio, into fresh RAM.
        const out = ramPages(k, CAP / PAGE_SIZE);
        const reads: Bio[] = [];
        for (let i = 0; i < CAP / PAGE_SIZE; i += 16) {
          const r = dataBio(dev.disk, REQ_OP_READ, i * 8, out.slice(i, i + 16).map((page) => ({ page })));
          reads.push(r);
          submitBio(r);
        }
        k.clock.runUntilIdle();
        if (!reads.every((r) => r.ended && r.status === BLK_STS_OK)) return false;
        const back = k.memory.cpuRead(out[0]!.pfn * PAGE_SIZE, CAP);
        if (typeof back === 'number') return false;
        return sameBytes(back, oracle) && sameBytes(dev.peek(0, CAP), oracle) && k.dmaDebug.liveCount() === 0;
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
