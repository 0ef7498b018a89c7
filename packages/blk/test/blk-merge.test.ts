/**
 * Merging, plugging, splitting and blk_rq_map_sg (block/blk-merge.c, block/blk-core.c plug
 * merging, 4.16 blk_mq_make_request) and patch 05/10's REQ_NOMERGE_FLAGS change: "requests with
 * P2P memory must not be merged".
 */
import type { Page } from '@p2pdma/kernel';
import { PAGE_SIZE, pfnToPage } from '@p2pdma/kernel';
import { describe, expect, test } from 'vitest';
import type { Bio, RamBlockDevice, RamBlockDeviceOptions } from '../src/index';
import {
  BLK_MAX_REQUEST_COUNT,
  BLK_STS_OK,
  BlkPlug,
  blkCurrentPlug,
  blkFinishPlug,
  blkQueueFlagSet,
  blkSetCurrentCpu,
  blkStartPlug,
  createRamBlockDevice,
  QUEUE_FLAG_NOMERGES,
  REQ_FUA,
  REQ_NOMERGE,
  REQ_OP_READ,
  REQ_OP_WRITE,
  REQ_PREFLUSH,
  reqFlags,
  submitBio,
} from '../src/index';
import { dataBio, makeP2pBar, newKernel, ramPages, recorder } from './helpers';

type K = ReturnType<typeof newKernel>;

function ramDev(k: K, extra: Partial<RamBlockDeviceOptions> = {}): RamBlockDevice {
  const d = createRamBlockDevice(k, { name: 'nullb0', capacityBytes: 4 << 20, queueDepth: 16, ...extra });
  if (typeof d === 'number') throw new Error(`createRamBlockDevice: ${d}`);
  return d;
}

/** Pages that are not physically contiguous with each other. */
function scattered(k: K, n: number): Page[] {
  return ramPages(k, 2 * n).filter((_, i) => i % 2 === 0);
}

function plugged(k: K, fn: () => void): void {
  const plug = new BlkPlug(k);
  blkStartPlug(plug);
  fn();
  blkFinishPlug(plug);
}

function summary(dev: RamBlockDevice): [string, number, number, number][] {
  return dev.trace.map((t) => [t.op.replace('REQ_OP_', ''), t.sector, t.bytes, t.nrBios]);
}

describe('plug merging (blk_attempt_plug_merge)', () => {
  test('two contiguous bios under a plug become one request (back merge)', () => {
    const k = newKernel();
    const dev = ramDev(k);
    const pages = ramPages(k, 2);
    const bios: Bio[] = [];
    plugged(k, () => {
      bios.push(dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: pages[0]! }]));
      bios.push(dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: pages[1]! }]));
      for (const b of bios) submitBio(b);
      expect(dev.stats.queueRqCalls).toBe(0);
    });
    expect(summary(dev)).toEqual([['WRITE', 0, 8192, 2]]);
    expect(dev.trace[0]!.nrSegments).toBe(1);
    expect(bios.map((b) => [b.ended, b.status])).toEqual([
      [true, BLK_STS_OK],
      [true, BLK_STS_OK],
    ]);
    expect(dev.queue.stats.backMerges).toBe(1);
  });

  test('front merge: the later bio goes in front when it ends where the request starts', () => {
    const k = newKernel();
    const dev = ramDev(k);
    const pages = ramPages(k, 2);
    plugged(k, () => {
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: pages[1]! }]));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: pages[0]! }]));
    });
    expect(summary(dev)).toEqual([['WRITE', 0, 8192, 2]]);
    expect(dev.queue.stats.frontMerges).toBe(1);
  });

  test('patch 05/10: the same two bios with REQ_PCI_P2PDMA stay two requests', () => {
    const k = newKernel();
    const dev = ramDev(k, { p2pdma: true });
    const bar = makeP2pBar(k);
    const p2p = reqFlags(k).REQ_PCI_P2PDMA;
    plugged(k, () => {
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: bar.page(0) }], p2p));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: bar.page(1) }], p2p));
    });
    expect(summary(dev)).toEqual([
      ['WRITE', 0, 4096, 1],
      ['WRITE', 8, 4096, 1],
    ]);
    expect(dev.trace.every((t) => t.p2p)).toBe(true);
    expect(dev.queue.stats.backMerges + dev.queue.stats.frontMerges).toBe(0);
  });

  test('a normal bio never merges into a P2P request either (REQ_NOMERGE_FLAGS on the request)', () => {
    const k = newKernel();
    const dev = ramDev(k, { p2pdma: true });
    const bar = makeP2pBar(k);
    const [p] = ramPages(k, 1);
    plugged(k, () => {
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: bar.page(0) }], reqFlags(k).REQ_PCI_P2PDMA));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: p! }]));
    });
    expect(summary(dev).map((s) => s[3])).toEqual([1, 1]);
    expect(dev.trace.map((t) => t.p2p)).toEqual([true, false]);
  });

  test('CONFIG_PCI_P2PDMA off: the flag is 0, so the same two bios merge', () => {
    const k = newKernel({ CONFIG_PCI_P2PDMA: false });
    const dev = ramDev(k);
    const bar = makeP2pBar(k);
    const p2p = reqFlags(k).REQ_PCI_P2PDMA;
    plugged(k, () => {
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: bar.page(0) }], p2p));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: bar.page(1) }], p2p));
    });
    expect(summary(dev)).toEqual([['WRITE', 0, 8192, 2]]);
    expect(dev.trace[0]!.nrSegments).toBe(1);
  });

  test('FUA bios on a write-back queue with native FUA stay two requests, FUA kept', () => {
    const k = newKernel();
    const dev = ramDev(k, { writeCache: true, fua: true });
    const pages = ramPages(k, 2);
    plugged(k, () => {
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: pages[0]! }], REQ_FUA));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: pages[1]! }], REQ_FUA));
    });
    expect(summary(dev)).toEqual([
      ['WRITE', 0, 4096, 1],
      ['WRITE', 8, 4096, 1],
    ]);
    expect(dev.trace.map((t) => t.fua)).toEqual([true, true]);
  });

  test('PREFLUSH bios on a write-back queue stay two requests, each after its own flush', () => {
    const k = newKernel();
    const dev = ramDev(k, { writeCache: true });
    const pages = ramPages(k, 2);
    plugged(k, () => {
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: pages[0]! }], REQ_PREFLUSH));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: pages[1]! }], REQ_PREFLUSH));
    });
    expect(summary(dev)).toEqual([
      ['FLUSH', 0, 0, 0],
      ['WRITE', 0, 4096, 1],
      ['FLUSH', 0, 0, 0],
      ['WRITE', 8, 4096, 1],
    ]);
  });

  test('without a write cache FUA is stripped at submission, so those bios merge', () => {
    const k = newKernel();
    const dev = ramDev(k, { writeCache: false });
    const pages = ramPages(k, 2);
    plugged(k, () => {
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: pages[0]! }], REQ_FUA));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: pages[1]! }], REQ_FUA));
    });
    expect(summary(dev)).toEqual([['WRITE', 0, 8192, 2]]);
  });

  test('REQ_NOMERGE bios, different operations and QUEUE_FLAG_NOMERGES all keep requests apart', () => {
    const k = newKernel();
    const dev = ramDev(k);
    const pages = ramPages(k, 6);
    plugged(k, () => {
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: pages[0]! }]));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: pages[1]! }], REQ_NOMERGE));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 100, [{ page: pages[2]! }]));
      submitBio(dataBio(dev.disk, REQ_OP_READ, 108, [{ page: pages[3]! }]));
    });
    expect(summary(dev).map((s) => s[3])).toEqual([1, 1, 1, 1]);
    const dev2 = createRamBlockDevice(k, { name: 'nullb1', capacityBytes: 1 << 20 }) as RamBlockDevice;
    blkQueueFlagSet(QUEUE_FLAG_NOMERGES, dev2.queue);
    plugged(k, () => {
      submitBio(dataBio(dev2.disk, REQ_OP_WRITE, 0, [{ page: pages[4]! }]));
      submitBio(dataBio(dev2.disk, REQ_OP_WRITE, 8, [{ page: pages[5]! }]));
    });
    expect(summary(dev2).map((s) => s[3])).toEqual([1, 1]);
  });
});

describe('queue limits stop merging (ll_back_merge_fn, req_set_nomerge)', () => {
  test('max_sectors: the full request is marked REQ_NOMERGE and the next bio starts a new one', () => {
    const k = newKernel();
    const dev = ramDev(k, { maxHwSectors: 16 });
    const pages = ramPages(k, 4);
    plugged(k, () => {
      for (let i = 0; i < 4; i++) submitBio(dataBio(dev.disk, REQ_OP_WRITE, 8 * i, [{ page: pages[i]! }]));
    });
    expect(summary(dev)).toEqual([
      ['WRITE', 0, 8192, 2],
      ['WRITE', 16, 8192, 2],
    ]);
  });

  test('max_segments: non-contiguous pages fill the segment budget', () => {
    const k = newKernel();
    const dev = ramDev(k, { maxSegments: 2 });
    const pages = scattered(k, 3);
    plugged(k, () => {
      for (let i = 0; i < 3; i++) submitBio(dataBio(dev.disk, REQ_OP_WRITE, 8 * i, [{ page: pages[i]! }]));
    });
    expect(summary(dev)).toEqual([
      ['WRITE', 0, 8192, 2],
      ['WRITE', 16, 4096, 1],
    ]);
    expect(dev.trace.map((t) => t.nrSegments)).toEqual([2, 1]);
  });

  test('virt boundary: a bio ending inside a page cannot be followed by another page', () => {
    const k = newKernel();
    const dev = ramDev(k, { virtBoundaryMask: PAGE_SIZE - 1 });
    const pages = scattered(k, 2);
    plugged(k, () => {
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: pages[0]!, len: 512 }]));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 1, [{ page: pages[1]!, len: 512 }]));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 16, [{ page: pages[0]! }]));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 24, [{ page: pages[1]! }]));
    });
    expect(summary(dev)).toEqual([
      ['WRITE', 0, 512, 1],
      ['WRITE', 1, 512, 1],
      ['WRITE', 16, 8192, 2],
    ]);
  });
});

describe('blk_rq_map_sg', () => {
  test('physically contiguous ranges fuse up to max_segment_size', () => {
    const k = newKernel();
    const dev = ramDev(k, { maxSegmentSize: 8192 });
    const pages = ramPages(k, 4);
    submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, pages.map((page) => ({ page }))));
    submitBio(dataBio(dev.disk, REQ_OP_WRITE, 64, scattered(k, 3).map((page) => ({ page }))));
    expect(dev.trace.map((t) => [t.bytes, t.nrSegments])).toEqual([
      [16384, 2],
      [12288, 3],
    ]);
  });

  test('P2P BAR pages fuse with each other, but not with a physically adjacent RAM page', () => {
    const k = newKernel();
    const dev = ramDev(k, { p2pdma: true });
    // System RAM ends at 0xc0000000; put the BAR right after it.
    const bar = makeP2pBar(k, 0xc000_0000);
    const lastRam = pfnToPage(k, 0xc000_0000 / PAGE_SIZE - 1)!;
    const p2p = reqFlags(k).REQ_PCI_P2PDMA;
    submitBio(dataBio(dev.disk, REQ_OP_WRITE, 0, [0, 1, 2].map((i) => ({ page: bar.page(i) })), p2p));
    submitBio(dataBio(dev.disk, REQ_OP_WRITE, 64, [{ page: lastRam }, { page: bar.page(0) }], p2p));
    expect(dev.trace.map((t) => t.nrSegments)).toEqual([1, 2]);
  });
});

describe('blk_queue_split', () => {
  test('a bio larger than max_sectors is split; the pieces are separate requests and the bio ends once', () => {
    const k = newKernel();
    const dev = ramDev(k, { maxHwSectors: 16 });
    const pages = ramPages(k, 8);
    const src = new Uint8Array(8 * PAGE_SIZE).map((_, i) => (i * 13) & 0xff);
    k.memory.cpuWrite(pages[0]!.pfn * PAGE_SIZE, src);
    let ends = 0;
    const bio = dataBio(dev.disk, REQ_OP_WRITE, 32, pages.map((page) => ({ page })), 0, () => ends++);
    submitBio(bio);
    expect(ends).toBe(1);
    expect(bio.status).toBe(BLK_STS_OK);
    expect(summary(dev)).toEqual([
      ['WRITE', 32, 8192, 1],
      ['WRITE', 48, 8192, 1],
      ['WRITE', 64, 8192, 1],
      ['WRITE', 80, 8192, 1],
    ]);
    expect(dev.queue.stats.splits).toBe(3);
    expect(Buffer.from(dev.peek(32 * 512, src.length)).equals(Buffer.from(src))).toBe(true);
  });

  test('a bio with more segments than max_segments is split at a segment boundary', () => {
    const k = newKernel();
    const dev = ramDev(k, { maxSegments: 2 });
    const pages = scattered(k, 5);
    submitBio(dataBio(dev.disk, REQ_OP_READ, 0, pages.map((page) => ({ page }))));
    expect(summary(dev).map((s) => [s[1], s[2]])).toEqual([
      [0, 8192],
      [16, 8192],
      [32, 4096],
    ]);
  });
});

describe('software-queue merging and plug policy (4.16 blk_mq_make_request)', () => {
  test('bios waiting for a tag merge into a queued request (BLK_MQ_F_SHOULD_MERGE)', () => {
    const k = newKernel();
    const rec = recorder(k, { depth: 1, completion: 'manual' });
    const pages = ramPages(k, 3);
    for (let i = 0; i < 3; i++) submitBio(dataBio(rec.disk, REQ_OP_WRITE, 8 * i, [{ page: pages[i]! }]));
    expect(rec.seen.map((s) => [s.sector, s.bytes])).toEqual([[0, 4096]]);
    expect(rec.q.hctxs[0]!.queued.toArray().map((r) => [r.sector, r.bios.length])).toEqual([[8, 2]]);
  });

  test('without BLK_MQ_F_SHOULD_MERGE they stay separate', () => {
    const k = newKernel();
    const rec = recorder(k, { depth: 1, completion: 'manual', flags: 0 });
    const pages = ramPages(k, 3);
    for (let i = 0; i < 3; i++) submitBio(dataBio(rec.disk, REQ_OP_WRITE, 8 * i, [{ page: pages[i]! }]));
    expect(rec.q.hctxs[0]!.queued.toArray().map((r) => r.bios.length)).toEqual([1, 1]);
  });

  test(`a single-queue device flushes the plug at BLK_MAX_REQUEST_COUNT (${BLK_MAX_REQUEST_COUNT}) requests`, () => {
    const k = newKernel();
    const rec = recorder(k);
    const [p] = ramPages(k, 1);
    const plug = new BlkPlug(k);
    blkStartPlug(plug);
    expect(blkCurrentPlug(k)).toBe(plug);
    for (let i = 0; i < 17; i++) submitBio(dataBio(rec.disk, REQ_OP_READ, 100 * i, [{ page: p! }]));
    expect(rec.seen).toHaveLength(16);
    expect(plug.mqList).toHaveLength(1);
    blkFinishPlug(plug);
    expect(blkCurrentPlug(k)).toBe(null);
    expect(rec.seen).toHaveLength(17);
    expect(rec.seen.at(-1)!.last).toBe(true);
  });

  test('a multi-queue device keeps one request per queue on the plug and issues the previous one', () => {
    const k = newKernel();
    const rec = recorder(k, { nrHwQueues: 2 });
    const [p] = ramPages(k, 1);
    blkSetCurrentCpu(k, 1);
    plugged(k, () => {
      submitBio(dataBio(rec.disk, REQ_OP_READ, 0, [{ page: p! }]));
      submitBio(dataBio(rec.disk, REQ_OP_READ, 100, [{ page: p! }]));
      expect(rec.seen.map((s) => s.sector)).toEqual([0]);
    });
    expect(rec.seen.map((s) => [s.sector, s.hwq])).toEqual([
      [0, 1],
      [100, 1],
    ]);
  });

  test('plugged requests are issued sorted by sector', () => {
    const k = newKernel();
    const rec = recorder(k);
    const [p] = ramPages(k, 1);
    plugged(k, () => {
      for (const s of [300, 100, 200]) submitBio(dataBio(rec.disk, REQ_OP_READ, s, [{ page: p! }]));
    });
    expect(rec.seen.map((s) => s.sector)).toEqual([100, 200, 300]);
  });
});
