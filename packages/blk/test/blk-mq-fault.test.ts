/**
 * Fault site FAULT_BLK_MQ_GET_TAG: no request (tag) can be allocated, as when the queue is dying
 * or a REQ_NOWAIT allocation would block (blk_mq_get_new_requests / blk_mq_get_tag failing):
 * the bio ends BLK_STS_AGAIN with REQ_NOWAIT, else BLK_STS_IOERR, and nothing stays allocated.
 */
import { describe, expect, test } from 'vitest';
import type { RamBlockDevice } from '../src/index';
import { BLK_STS_AGAIN, BLK_STS_IOERR, BLK_STS_OK, createRamBlockDevice, FAULT_BLK_MQ_GET_TAG, REQ_NOWAIT, REQ_OP_READ, REQ_OP_WRITE, submitBio } from '../src/index';
import { dataBio, newKernel, ramPages } from './helpers';

function ramDev(k: ReturnType<typeof newKernel>): RamBlockDevice {
  const d = createRamBlockDevice(k, { name: 'nullb0', capacityBytes: 1 << 20, queueDepth: 8, nrHwQueues: 1 });
  if (typeof d === 'number') throw new Error(`createRamBlockDevice: ${d}`);
  return d;
}

describe('fault injection: blk-mq request (tag) allocation fails', () => {
  test('the nth bio ends BLK_STS_IOERR without reaching the driver; REQ_NOWAIT gets BLK_STS_AGAIN; no tag stays busy', () => {
    const k = newKernel();
    const dev = ramDev(k);
    const [p] = ramPages(k, 1);
    k.faults.inject(FAULT_BLK_MQ_GET_TAG, { nth: 2, times: 2 });
    const a = dataBio(dev.disk, REQ_OP_WRITE, 0, [{ page: p! }]);
    const b = dataBio(dev.disk, REQ_OP_WRITE, 8, [{ page: p! }]);
    const c = dataBio(dev.disk, REQ_OP_READ, 16, [{ page: p! }], REQ_NOWAIT);
    const d = dataBio(dev.disk, REQ_OP_READ, 24, [{ page: p! }]);
    for (const bio of [a, b, c, d]) submitBio(bio);
    k.clock.runUntilIdle();
    expect([a.status, b.status, c.status, d.status]).toEqual([BLK_STS_OK, BLK_STS_IOERR, BLK_STS_AGAIN, BLK_STS_OK]);
    expect(dev.stats.queueRqCalls).toBe(2);
    expect(k.faults.failures(FAULT_BLK_MQ_GET_TAG)).toBe(2);
    expect(k.faults.isArmed(FAULT_BLK_MQ_GET_TAG)).toBe(false);
    for (const t of dev.tagSet.tags) expect(t.busy).toBe(0);
  });
});
