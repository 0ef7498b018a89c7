/**
 * Submission: 4.16 generic_make_request_checks with patch 05/10's check ("a request with this
 * flag is not accepted unless the corresponding queues have the QUEUE_FLAG_PCI_P2P flag set"),
 * end-of-device, read-only disks, flush stripping, unsupported operations, alignment, dying
 * queues, fault injection, and generic_make_request's bio list.
 */
import { Errno, KERN_ERR, KERN_INFO, KernelBug, PAGE_SIZE } from '@p2pdma/kernel';
import { describe, expect, test } from 'vitest';
import type { Bio, RamBlockDevice } from '../src/index';
import {
  Bio as BioClass,
  BLK_STS_IOERR,
  BLK_STS_NOTSUPP,
  BLK_STS_OK,
  blkAllocQueue,
  blkCleanupQueue,
  blkStatusToErrno,
  bioEndio,
  createRamBlockDevice,
  Disk,
  FAULT_MAKE_REQUEST,
  REQ_FUA,
  REQ_NOWAIT,
  REQ_OP_DISCARD,
  REQ_OP_READ,
  REQ_OP_WRITE,
  REQ_OP_WRITE_ZEROES,
  REQ_PCI_P2PDMA_IF_CONFIGURED,
  REQ_PREFLUSH,
  reqFlags,
  setCapacity,
  setDiskRo,
  submitBio,
} from '../src/index';
import { dataBio, fillPage, makeP2pBar, newKernel, ramPages, sameBytes } from './helpers';

function ramDev(k: ReturnType<typeof newKernel>, extra: Partial<Parameters<typeof createRamBlockDevice>[1]> = {}): RamBlockDevice {
  const d = createRamBlockDevice(k, { name: 'nullb0', capacityBytes: 1 << 20, queueDepth: 8, nrHwQueues: 1, ...extra });
  if (typeof d === 'number') throw new Error(`createRamBlockDevice: ${d}`);
  return d;
}

function collect(): { ended: Bio[]; cb: (b: Bio) => void } {
  const ended: Bio[] = [];
  return { ended, cb: (b) => ended.push(b) };
}

describe('patch 05/10: REQ_PCI_P2PDMA bios need QUEUE_FLAG_PCI_P2PDMA', () => {
  test('a P2P bio to a queue without the flag ends BLK_STS_NOTSUPP (-EOPNOTSUPP), reaches no queueRq, changes no byte', () => {
    const k = newKernel();
    const bar = makeP2pBar(k);
    bar.bytes.fill(0xab, 0, 2 * PAGE_SIZE);
    const dev = ramDev(k, { p2pdma: false });
    const seed = new Uint8Array(dev.capacityBytes).map((_, i) => i * 7);
    dev.poke(0, seed);
    const before = dev.peek(0, dev.capacityBytes);
    const { ended, cb } = collect();
    const bio = dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: bar.page(0) }, { page: bar.page(1) }], reqFlags(k).REQ_PCI_P2PDMA, cb);
    submitBio(bio);
    expect(ended).toEqual([bio]);
    expect(bio.status).toBe(BLK_STS_NOTSUPP);
    expect(blkStatusToErrno(bio.status)).toBe(-Errno.EOPNOTSUPP);
    expect(dev.stats.queueRqCalls).toBe(0);
    expect(dev.queue.stats.requests).toBe(0);
    expect(sameBytes(dev.peek(0, dev.capacityBytes), before)).toBe(true);
    expect(k.log.lines(KERN_ERR)).toEqual([]);
  });

  test('the same bio to a P2P-capable queue is written from the BAR', () => {
    const k = newKernel();
    const bar = makeP2pBar(k);
    bar.bytes.fill(0xab, 0, PAGE_SIZE);
    bar.bytes.fill(0xcd, PAGE_SIZE, 2 * PAGE_SIZE);
    const dev = ramDev(k, { p2pdma: true });
    const { ended, cb } = collect();
    const bio = dataBio(dev.disk, REQ_OP_WRITE, 16, [{ page: bar.page(0) }, { page: bar.page(1) }], reqFlags(k).REQ_PCI_P2PDMA, cb);
    submitBio(bio);
    expect(ended).toEqual([bio]);
    expect(bio.status).toBe(BLK_STS_OK);
    expect(dev.stats.p2pRequests).toBe(1);
    expect(sameBytes(dev.peek(16 * 512, 2 * PAGE_SIZE), bar.bytes.subarray(0, 2 * PAGE_SIZE))).toBe(true);
  });

  test('CONFIG_PCI_P2PDMA off: REQ_PCI_P2PDMA is 0, so a "P2P" bio is an ordinary one and is accepted', () => {
    const k = newKernel({ CONFIG_PCI_P2PDMA: false });
    expect(reqFlags(k).REQ_PCI_P2PDMA).toBe(0);
    const bar = makeP2pBar(k);
    bar.bytes.fill(0x5a, 0, PAGE_SIZE);
    const dev = ramDev(k, { p2pdma: false });
    const { ended, cb } = collect();
    const bio = dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: bar.page(0) }], reqFlags(k).REQ_PCI_P2PDMA, cb);
    expect(bio.opf).toBe(REQ_OP_WRITE);
    submitBio(bio);
    expect(bio.status).toBe(BLK_STS_OK);
    expect(ended).toHaveLength(1);
    expect(dev.peek(0, PAGE_SIZE).every((b) => b === 0x5a)).toBe(true);
    expect(dev.stats.p2pRequests).toBe(0);
    // Bit 22 is REQ_NOUNMAP in this build, not a P2P marker: the check does not fire on it.
    const raw = dataBio(dev.disk, REQ_OP_WRITE, 64, [{ page: bar.page(0) }], REQ_PCI_P2PDMA_IF_CONFIGURED);
    submitBio(raw);
    expect(raw.status).toBe(BLK_STS_OK);
  });
});

describe('generic_make_request_checks (4.16)', () => {
  test('beyond the end of the device: the two KERN_INFO lines and BLK_STS_IOERR', () => {
    const k = newKernel();
    const dev = ramDev(k);
    const pages = ramPages(k, 2);
    const bio = dataBio(dev.disk, REQ_OP_WRITE, 2040, [{ page: pages[0]! }, { page: pages[1]! }]);
    submitBio(bio);
    expect(bio.status).toBe(BLK_STS_IOERR);
    expect(dev.stats.queueRqCalls).toBe(0);
    expect(k.log.lines().map((l) => [l.level, l.text])).toEqual([
      [KERN_INFO, 'attempt to access beyond end of device'],
      [KERN_INFO, 'nullb0: rw=1, want=2056, limit=2048'],
    ]);
    const last = dataBio(dev.disk, REQ_OP_WRITE, 2040, [{ page: pages[0]! }]);
    submitBio(last);
    expect(last.status).toBe(BLK_STS_OK);
  });

  test('REQ_NOWAIT on a bio-based queue is not supported; a blk-mq queue takes it', () => {
    const k = newKernel();
    let made = 0;
    const q = blkAllocQueue(k, (_q, b) => {
      made++;
      bioEndio(b);
    });
    const disk = new Disk('brd0', q);
    setCapacity(disk, 1024);
    const [p] = ramPages(k, 1);
    const nowait = dataBio(disk, REQ_OP_READ, 0, [{ page: p! }], REQ_NOWAIT);
    submitBio(nowait);
    expect(nowait.status).toBe(BLK_STS_NOTSUPP);
    expect(made).toBe(0);
    const plain = dataBio(disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(plain);
    expect(plain.status).toBe(BLK_STS_OK);
    expect(made).toBe(1);
    const dev = ramDev(k);
    const mq = dataBio(dev.disk, REQ_OP_READ, 0, [{ page: p! }], REQ_NOWAIT);
    submitBio(mq);
    expect(mq.status).toBe(BLK_STS_OK);
  });

  test('no write cache: PREFLUSH/FUA are stripped, and an empty flush ends OK without reaching the driver', () => {
    const k = newKernel();
    const dev = ramDev(k, { writeCache: false });
    const empty = new BioClass({ disk: dev.disk, op: REQ_OP_WRITE, flags: REQ_PREFLUSH });
    submitBio(empty);
    expect(empty.ended).toBe(true);
    expect(empty.status).toBe(BLK_STS_OK);
    expect(dev.stats.queueRqCalls).toBe(0);
    const [p] = ramPages(k, 1);
    const fua = dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: p! }], REQ_FUA | REQ_PREFLUSH);
    submitBio(fua);
    expect(fua.status).toBe(BLK_STS_OK);
    expect(fua.opf & (REQ_FUA | REQ_PREFLUSH)).toBe(0);
    expect(dev.trace.map((t) => [t.op, t.fua])).toEqual([['REQ_OP_WRITE', false]]);
    expect(dev.stats.flushes).toBe(0);
  });

  test('DISCARD and WRITE_ZEROES the queue does not support end BLK_STS_NOTSUPP', () => {
    const k = newKernel();
    const dev = ramDev(k, { discard: false, writeZeroes: false });
    const d = new BioClass({ disk: dev.disk, op: REQ_OP_DISCARD, sector: 0, size: 4096 });
    const z = new BioClass({ disk: dev.disk, op: REQ_OP_WRITE_ZEROES, sector: 0, size: 4096 });
    submitBio(d);
    submitBio(z);
    expect([d.status, z.status]).toEqual([BLK_STS_NOTSUPP, BLK_STS_NOTSUPP]);
    expect(dev.stats.queueRqCalls).toBe(0);
  });

  test('DISCARD and WRITE_ZEROES a queue supports zero the range', () => {
    const k = newKernel();
    const dev = ramDev(k);
    dev.poke(0, new Uint8Array(3 * PAGE_SIZE).fill(9));
    const d = new BioClass({ disk: dev.disk, op: REQ_OP_DISCARD, sector: 0, size: PAGE_SIZE });
    const z = new BioClass({ disk: dev.disk, op: REQ_OP_WRITE_ZEROES, sector: 9, size: 1024 });
    submitBio(d);
    submitBio(z);
    expect([d.status, z.status]).toEqual([BLK_STS_OK, BLK_STS_OK]);
    expect(dev.peek(0, PAGE_SIZE).every((b) => b === 0)).toBe(true);
    expect(dev.peek(PAGE_SIZE, 512).every((b) => b === 9)).toBe(true);
    expect(dev.peek(9 * 512, 1024).every((b) => b === 0)).toBe(true);
    expect(dev.peek(11 * 512, 512).every((b) => b === 9)).toBe(true);
    expect([dev.stats.discards, dev.stats.writeZeroes]).toEqual([1, 1]);
  });

  test('I/O that is not whole logical blocks at a block boundary ends BLK_STS_IOERR (model: upstream bio_unaligned)', () => {
    const k = newKernel();
    const dev = ramDev(k, { logicalBlockSize: 4096 });
    const [p] = ramPages(k, 1);
    const short = dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: p!, len: 512 }]);
    const offset = dataBio(dev.disk, REQ_OP_WRITE, 1, [{ page: p! }]);
    const good = dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: p! }]);
    for (const b of [short, offset, good]) submitBio(b);
    expect([short.status, offset.status, good.status]).toEqual([BLK_STS_IOERR, BLK_STS_IOERR, BLK_STS_OK]);
    expect(dev.stats.writes).toBe(1);
  });

  test('a write to a read-only disk is refused with the kernel line; reads pass', () => {
    const k = newKernel();
    const dev = ramDev(k);
    setDiskRo(dev.disk, true);
    const [p] = ramPages(k, 1);
    const w = dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: p! }]);
    const r = dataBio(dev.disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(w);
    submitBio(r);
    expect([w.status, r.status]).toEqual([BLK_STS_IOERR, BLK_STS_OK]);
    expect(k.log.grep('read-only').map((l) => [l.level, l.text])).toEqual([
      [KERN_ERR, 'generic_make_request: Trying to write to read-only block-device nullb0 (partno 0)'],
    ]);
  });

  test('fail_make_request fault injection ends the chosen bio BLK_STS_IOERR', () => {
    const k = newKernel();
    const dev = ramDev(k);
    const [p] = ramPages(k, 1);
    k.faults.inject(FAULT_MAKE_REQUEST, { nth: 2 });
    const bios = [0, 8, 16].map((s) => dataBio(dev.disk, REQ_OP_READ, s, [{ page: p! }]));
    for (const b of bios) submitBio(b);
    expect(bios.map((b) => b.status)).toEqual([BLK_STS_OK, BLK_STS_IOERR, BLK_STS_OK]);
    expect(dev.stats.reads).toBe(2);
  });

  test('a dying queue fails new bios with BLK_STS_IOERR; a bio without a disk is a bug', () => {
    const k = newKernel();
    let made = 0;
    const q = blkAllocQueue(k, (_q, b) => {
      made++;
      bioEndio(b);
    });
    const disk = new Disk('brd1', q);
    blkCleanupQueue(q);
    const [p] = ramPages(k, 1);
    const b = dataBio(disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(b);
    expect(b.status).toBe(BLK_STS_IOERR);
    expect(made).toBe(0);
    expect(() => blkCleanupQueue(q)).toThrow(KernelBug);
    expect(() => submitBio(new BioClass({ op: REQ_OP_READ }))).toThrow(/no disk/);
  });
});

describe('generic_make_request: bios submitted during submission wait their turn', () => {
  test('a bio submitted from a completion that runs inside make_request is handled after it returns', () => {
    const k = newKernel();
    const order: string[] = [];
    const q = blkAllocQueue(k, (_q, b) => {
      order.push(`enter ${b.iter.sector}`);
      bioEndio(b);
      order.push(`leave ${b.iter.sector}`);
    });
    const disk = new Disk('brd2', q);
    const [p] = ramPages(k, 1);
    fillPage(k, p!, 0, new Uint8Array(PAGE_SIZE));
    const second = dataBio(disk, REQ_OP_READ, 8, [{ page: p! }]);
    const first = dataBio(disk, REQ_OP_READ, 0, [{ page: p! }], 0, () => submitBio(second));
    submitBio(first);
    expect(order).toEqual(['enter 0', 'leave 0', 'enter 8', 'leave 8']);
    expect(second.status).toBe(BLK_STS_OK);
  });
});
