/**
 * blk-mq (4.16 block/blk-mq.c): tag sets, driver tags and their exhaustion, dispatch results
 * (BLK_STS_RESOURCE / BLK_STS_DEV_RESOURCE / errors), completion, timeouts, requeueing,
 * quiescing, shared tags and hardware queue mapping.
 */
import { Errno, err, KERN_ERR, KERN_INFO, KERN_WARNING, KernelBug, PAGE_SIZE } from '@p2pdma/kernel';
import { describe, expect, test } from 'vitest';
import type { Bio, BlkEhTimerReturn, BlkStatus, RamBlockDevice, Request } from '../src/index';
import {
  BLK_EH_HANDLED,
  BLK_EH_RESET_TIMER,
  BLK_MQ_MAX_DEPTH,
  BLK_MQ_RESOURCE_DELAY_NS,
  BLK_STS_DEV_RESOURCE,
  BLK_STS_IOERR,
  BLK_STS_MEDIUM,
  BLK_STS_OK,
  BLK_STS_RESOURCE,
  BLK_STS_TIMEOUT,
  BlkMqTagSet,
  BlkPlug,
  blkCurrentCpu,
  blkFinishPlug,
  blkStartPlug,
  blkMqAllocTagSet,
  blkMqCompleteRequest,
  blkMqEndRequest,
  blkMqFreeTagSet,
  blkMqInitQueue,
  blkMqMapQueue,
  blkMqPendingCount,
  blkMqQuiesceQueue,
  blkMqRequeueRequest,
  blkMqStartRequest,
  blkMqTagToRq,
  blkMqUnquiesceQueue,
  blkSetCurrentCpu,
  createRamBlockDevice,
  Disk,
  MQ_RQ_COMPLETE,
  MQ_RQ_IN_FLIGHT,
  REQ_OP_READ,
  REQ_OP_WRITE,
  setCapacity,
  submitBio,
} from '../src/index';
import { dataBio, newKernel, ramPages, recorder } from './helpers';

const ok = BLK_STS_OK;

describe('blk_mq_alloc_tag_set / blk_mq_init_queue', () => {
  const queueRq = (): BlkStatus => ok;

  test('bad sets are -EINVAL; an oversized depth is reduced with the kernel line', () => {
    const k = newKernel();
    expect(blkMqAllocTagSet(new BlkMqTagSet(k, { ops: { queueRq }, nrHwQueues: 0, queueDepth: 4 }))).toBe(-Errno.EINVAL);
    expect(blkMqAllocTagSet(new BlkMqTagSet(k, { ops: { queueRq }, nrHwQueues: 1, queueDepth: 0 }))).toBe(-Errno.EINVAL);
    expect(blkMqAllocTagSet(new BlkMqTagSet(k, { ops: {} as never, nrHwQueues: 1, queueDepth: 4 }))).toBe(-Errno.EINVAL);
    const big = new BlkMqTagSet(k, { ops: { queueRq }, nrHwQueues: 2, queueDepth: 20000 });
    expect(blkMqAllocTagSet(big)).toBe(0);
    expect(big.queueDepth).toBe(BLK_MQ_MAX_DEPTH);
    expect(big.tags.map((t) => t.depth)).toEqual([BLK_MQ_MAX_DEPTH, BLK_MQ_MAX_DEPTH]);
    expect(k.log.lines().map((l) => [l.level, l.text])).toEqual([[KERN_INFO, 'blk-mq: reduced tag depth to 10240']]);
    expect(() => blkMqAllocTagSet(big)).toThrow(KernelBug);
    expect(blkMqInitQueue(new BlkMqTagSet(k, { ops: { queueRq }, nrHwQueues: 1, queueDepth: 1 }))).toBe(-Errno.EINVAL);
  });

  test('an init_hctx failure fails the queue and undoes the contexts already set up', () => {
    const k = newKernel();
    const exited: number[] = [];
    const set = new BlkMqTagSet(k, {
      ops: { queueRq, initHctx: (_h, _d, i) => (i === 2 ? err('ENOMEM') : 0), exitHctx: (_h, i) => exited.push(i) },
      nrHwQueues: 3,
      queueDepth: 4,
    });
    expect(blkMqAllocTagSet(set)).toBe(0);
    expect(blkMqInitQueue(set)).toBe(-Errno.ENOMEM);
    expect(exited).toEqual([1, 0]);
    expect(set.queues.size).toBe(0);
    blkMqFreeTagSet(set);
    expect(set.tags).toEqual([]);
  });

  test('hardware queue mapping spreads CPUs over the queues', () => {
    const k = newKernel();
    const rec = recorder(k, { nrHwQueues: 2 });
    expect(blkMqMapQueue(rec.q, 0).queueNum).toBe(0);
    expect(blkMqMapQueue(rec.q, 3).queueNum).toBe(1);
    const [p] = ramPages(k, 1);
    blkSetCurrentCpu(k, 3);
    expect(blkCurrentCpu(k)).toBe(3);
    submitBio(dataBio(rec.disk, REQ_OP_READ, 0, [{ page: p! }]));
    expect(rec.seen.map((s) => s.hwq)).toEqual([1]);
    expect(() => blkSetCurrentCpu(k, -1)).toThrow(KernelBug);
    expect(() => blkMqFreeTagSet(rec.set)).toThrow(/still use the set/);
  });
});

describe('tags: exhaustion waits, nothing is lost (blk_mq_get_driver_tag)', () => {
  test('more bios than the queue depth: the rest wait and are dispatched as tags free', () => {
    const k = newKernel();
    const rec = recorder(k, { depth: 4, completion: 'manual', flags: 0 });
    const [p] = ramPages(k, 1);
    const bios: Bio[] = [];
    for (let i = 0; i < 20; i++) {
      const b = dataBio(rec.disk, REQ_OP_READ, 16 * i, [{ page: p! }]);
      bios.push(b);
      submitBio(b);
    }
    expect(rec.seen).toHaveLength(4);
    expect(rec.seen.map((s) => s.tag)).toEqual([0, 1, 2, 3]);
    expect(blkMqPendingCount(rec.q)).toBe(20);
    const rq = rec.held[0]!;
    expect(blkMqTagToRq(rec.q.hctxs[0]!.tags, rq.tag)).toBe(rq);
    while (rec.held.length > 0) blkMqEndRequest(rec.held.shift()!, ok);
    expect(rec.seen).toHaveLength(20);
    expect(bios.every((b) => b.ended && b.status === ok)).toBe(true);
    expect(rec.q.hctxs[0]!.tags.maxBusy).toBe(4);
    expect(blkMqPendingCount(rec.q)).toBe(0);
    expect(blkMqTagToRq(rec.q.hctxs[0]!.tags, 0)).toBe(null);
    expect(rec.seen.map((s) => s.sector)).toEqual(bios.map((b) => b.iter.sector));
  });

  test('a RAM device with timer completions and depth 4 completes 64 writes, at most 4 in flight, data intact', () => {
    const k = newKernel();
    const d = createRamBlockDevice(k, { name: 'nullb0', capacityBytes: 1 << 20, queueDepth: 4, completion: { delayNs: 10_000 } });
    const dev = d as RamBlockDevice;
    const pages = ramPages(k, 64);
    const ended: Bio[] = [];
    for (let i = 0; i < 64; i++) {
      k.memory.cpuWrite(pages[i]!.pfn * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(i + 1));
      submitBio(dataBio(dev.disk, REQ_OP_WRITE, 16 * i, [{ page: pages[i]! }], 0, (b) => ended.push(b)));
    }
    expect(ended).toHaveLength(0);
    k.clock.runUntilIdle();
    expect(ended).toHaveLength(64);
    expect(ended.every((b) => b.status === ok)).toBe(true);
    expect(dev.stats.maxInFlight).toBe(4);
    expect(dev.stats.writes).toBe(64);
    for (let i = 0; i < 64; i++) expect(dev.peek(16 * i * 512, PAGE_SIZE).every((x) => x === i + 1)).toBe(true);
    expect(k.clock.now()).toBe(16 * 10_000);
    dev.remove();
  });

  test('5000 bios through 2 tags: the wait list drains in order, nothing lost', () => {
    const k = newKernel();
    const dev = createRamBlockDevice(k, { name: 'nullb0', capacityBytes: 32 << 20, queueDepth: 2, completion: { delayNs: 100 }, shouldMerge: false }) as RamBlockDevice;
    const [p] = ramPages(k, 1);
    let ended = 0;
    for (let i = 0; i < 5000; i++) submitBio(dataBio(dev.disk, REQ_OP_READ, 8 * i, [{ page: p! }], 0, (b) => (ended += b.status === ok ? 1 : 0)));
    expect(blkMqPendingCount(dev.queue)).toBe(5000);
    k.clock.runUntilIdle();
    expect(ended).toBe(5000);
    expect(dev.stats.maxInFlight).toBe(2);
    expect(dev.trace.slice(-3).map((t) => t.sector)).toEqual([8 * 4997, 8 * 4998, 8 * 4999]);
  });

  test('tags are shared by the queues of one set: a second queue waits for the first', () => {
    const k = newKernel();
    const held: Request[] = [];
    const set = new BlkMqTagSet(k, {
      ops: {
        queueRq: (_h, bd) => {
          blkMqStartRequest(bd.rq);
          held.push(bd.rq);
          return ok;
        },
      },
      nrHwQueues: 1,
      queueDepth: 2,
    });
    blkMqAllocTagSet(set);
    const disks = [0, 1].map((i) => {
      const q = blkMqInitQueue(set);
      if (typeof q === 'number') throw new Error('init');
      const d = new Disk(`ns${i}`, q);
      setCapacity(d, 1 << 16);
      return d;
    });
    const [p] = ramPages(k, 1);
    submitBio(dataBio(disks[0]!, REQ_OP_READ, 0, [{ page: p! }]));
    submitBio(dataBio(disks[0]!, REQ_OP_READ, 100, [{ page: p! }]));
    const waiting = dataBio(disks[1]!, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(waiting);
    expect(held.map((r) => r.q)).toEqual([disks[0]!.queue, disks[0]!.queue]);
    blkMqEndRequest(held.shift()!, ok);
    expect(held.map((r) => r.q.disk?.diskName)).toEqual(['ns0', 'ns1']);
    while (held.length > 0) blkMqEndRequest(held.shift()!, ok);
    expect(waiting.status).toBe(ok);
  });
});

describe('dispatch results', () => {
  test(`BLK_STS_RESOURCE: the request goes back and the queue runs again after ${BLK_MQ_RESOURCE_DELAY_NS} ns`, () => {
    const k = newKernel();
    const rec = recorder(k);
    let busy = 1;
    const times: number[] = [];
    rec.respond = () => {
      times.push(k.clock.now());
      return busy-- > 0 ? BLK_STS_RESOURCE : 'take';
    };
    const [p] = ramPages(k, 1);
    const bio = dataBio(rec.disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(bio);
    expect(bio.ended).toBe(false);
    expect(rec.q.hctxs[0]!.dispatch).toHaveLength(1);
    expect(rec.q.hctxs[0]!.tags.busy).toBe(0);
    k.clock.runUntilIdle();
    expect(times).toEqual([0, BLK_MQ_RESOURCE_DELAY_NS]);
    expect(bio.status).toBe(ok);
    expect(rec.q.stats.busy).toBe(1);
  });

  test('BLK_STS_DEV_RESOURCE: retried when a request of the hardware queue completes, not by time', () => {
    const k = newKernel();
    const rec = recorder(k, { completion: 'manual' });
    const [p] = ramPages(k, 1);
    submitBio(dataBio(rec.disk, REQ_OP_READ, 0, [{ page: p! }]));
    rec.respond = () => BLK_STS_DEV_RESOURCE;
    const second = dataBio(rec.disk, REQ_OP_READ, 100, [{ page: p! }]);
    submitBio(second);
    expect(rec.seen.map((s) => s.sector)).toEqual([0, 100]);
    expect(k.clock.pending()).toBe(1); // only the request timeout timer
    rec.respond = () => 'take';
    blkMqEndRequest(rec.held.shift()!, ok);
    expect(rec.seen.map((s) => s.sector)).toEqual([0, 100, 100]);
    blkMqEndRequest(rec.held.shift()!, ok);
    expect(second.status).toBe(ok);
  });

  test('an error status from queue_rq ends the request: bios get it, print_req_error is logged', () => {
    const k = newKernel();
    const rec = recorder(k);
    rec.respond = () => BLK_STS_MEDIUM;
    const [p] = ramPages(k, 1);
    const bio = dataBio(rec.disk, REQ_OP_READ, 8, [{ page: p! }]);
    submitBio(bio);
    expect(bio.status).toBe(BLK_STS_MEDIUM);
    expect(k.log.lines().map((l) => [l.level, l.text])).toEqual([[KERN_ERR, 'print_req_error: critical medium error, dev rec0, sector 8']]);
  });

  test('a driver that ends a merged request with an error: every bio of it gets the status', () => {
    const k = newKernel();
    const rec = recorder(k, { completion: 'manual' });
    const pages = ramPages(k, 2);
    const bios = [0, 8].map((s, i) => dataBio(rec.disk, REQ_OP_WRITE, s, [{ page: pages[i]! }]));
    const plug = new BlkPlug(k);
    blkStartPlug(plug);
    for (const b of bios) submitBio(b);
    blkFinishPlug(plug);
    expect(rec.held).toHaveLength(1);
    expect(rec.held[0]!.bios).toEqual(bios);
    blkMqEndRequest(rec.held.shift()!, BLK_STS_IOERR);
    expect(k.log.grep('print_req_error').map((l) => l.text)).toEqual(['print_req_error: I/O error, dev rec0, sector 0']);
    expect(bios.map((b) => b.status)).toEqual([BLK_STS_IOERR, BLK_STS_IOERR]);
  });

  test('a request waiting on the dispatch list after a busy answer is not a merge target', () => {
    const k = newKernel();
    const rec = recorder(k);
    const pages = ramPages(k, 2);
    rec.respond = () => BLK_STS_DEV_RESOURCE;
    submitBio(dataBio(rec.disk, REQ_OP_WRITE, 0, [{ page: pages[0]! }]));
    rec.respond = () => 'take';
    submitBio(dataBio(rec.disk, REQ_OP_WRITE, 8, [{ page: pages[1]! }]));
    k.clock.advance(BLK_MQ_RESOURCE_DELAY_NS);
    expect(rec.seen.map((s) => [s.sector, s.nrBios])).toEqual([
      [0, 1],
      [0, 1],
      [8, 1],
    ]);
  });

  test('a queue_rq answer that is not a blk_status_t is logged and treated as BLK_STS_IOERR', () => {
    const k = newKernel();
    const rec = recorder(k);
    rec.respond = () => 42 as BlkStatus;
    const [p] = ramPages(k, 1);
    const bio = dataBio(rec.disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(bio);
    expect(bio.status).toBe(BLK_STS_IOERR);
    expect(k.log.grep('blk-mq:').map((l) => [l.level, l.text])).toEqual([
      [KERN_WARNING, 'blk-mq: queue_rq of queue 0 returned 42, not a blk_status_t; treated as BLK_STS_IOERR'],
    ]);
  });
});

describe('completion', () => {
  test('blk_mq_complete_request from a virtual-clock timer calls the driver complete op', () => {
    const k = newKernel();
    const completed: number[] = [];
    const rec = recorder(k, {
      completion: 'manual',
      ops: {
        complete: (rq) => {
          completed.push(rq.id);
          blkMqEndRequest(rq, rq.result);
        },
      },
    });
    rec.respond = (rq) => {
      k.clock.schedule(5000, () => blkMqCompleteRequest(rq));
      return 'take';
    };
    const [p] = ramPages(k, 1);
    const bio = dataBio(rec.disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(bio);
    expect(rec.held[0]!.state).toBe(MQ_RQ_IN_FLIGHT);
    k.clock.advance(4999);
    expect(bio.ended).toBe(false);
    k.clock.advance(1);
    expect(bio.status).toBe(ok);
    expect(completed).toEqual([rec.held[0]!.id]);
    expect(rec.held[0]!.state).toBe(MQ_RQ_COMPLETE);
  });

  test('double completion and double end are logged and ignored', () => {
    const k = newKernel();
    const rec = recorder(k, { completion: 'manual' });
    const [p] = ramPages(k, 1);
    let ends = 0;
    submitBio(dataBio(rec.disk, REQ_OP_READ, 0, [{ page: p! }], 0, () => ends++));
    const rq = rec.held[0]!;
    blkMqEndRequest(rq, ok);
    blkMqEndRequest(rq, ok);
    blkMqCompleteRequest(rq);
    blkMqStartRequest(rq);
    expect(ends).toBe(1);
    expect(k.log.lines(KERN_WARNING).map((l) => l.text)).toEqual([
      `blk_mq_end_request: request ${rq.id} already ended; ignored`,
      `blk_mq_complete_request: request ${rq.id} is not in flight; ignored`,
      `blk_mq_start_request: request ${rq.id} is not idle; ignored`,
    ]);
  });

  test('timeouts: RESET_TIMER gives another period, HANDLED completes with the driver result', () => {
    const k = newKernel();
    const answers: BlkEhTimerReturn[] = [BLK_EH_RESET_TIMER, BLK_EH_HANDLED];
    const calls: number[] = [];
    const rec = recorder(k, {
      completion: 'manual',
      ops: {
        timeout: (rq) => {
          calls.push(k.clock.now());
          rq.result = BLK_STS_TIMEOUT;
          return answers.shift()!;
        },
      },
    });
    const [p] = ramPages(k, 1);
    const bio = dataBio(rec.disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(bio);
    k.clock.runUntilIdle();
    expect(calls).toEqual([30e9, 60e9]);
    expect(bio.status).toBe(BLK_STS_TIMEOUT);
    expect(rec.q.stats.timeouts).toBe(2);
    expect(k.log.grep('print_req_error').map((l) => l.text)).toEqual(['print_req_error: timeout error, dev rec0, sector 0']);
    expect(k.clock.pending()).toBe(0);
  });

  test('blk_mq_requeue_request: the driver gives a started request back and it is issued again', () => {
    const k = newKernel();
    const rec = recorder(k, { completion: 'manual' });
    const [p] = ramPages(k, 1);
    const bio = dataBio(rec.disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(bio);
    blkMqRequeueRequest(rec.held.shift()!, true);
    expect(rec.q.hctxs[0]!.tags.busy).toBe(0);
    expect(rec.seen).toHaveLength(1);
    k.clock.advance(0);
    expect(rec.seen).toHaveLength(2);
    blkMqEndRequest(rec.held.shift()!, ok);
    expect(bio.status).toBe(ok);
  });

  test('a quiesced queue holds requests until it is unquiesced', () => {
    const k = newKernel();
    const rec = recorder(k);
    const [p] = ramPages(k, 1);
    blkMqQuiesceQueue(rec.q);
    const bio = dataBio(rec.disk, REQ_OP_READ, 0, [{ page: p! }]);
    submitBio(bio);
    expect(rec.seen).toHaveLength(0);
    blkMqUnquiesceQueue(rec.q);
    expect(bio.status).toBe(ok);
  });
});
