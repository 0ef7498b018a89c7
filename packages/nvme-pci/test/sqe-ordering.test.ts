/**
 * The patch 07 review (Oliver, Keith, Jason, Sagi): an SQE copied into a CMB SQ with a plain
 * memcpy sits in the CPU's write-combining buffer; it must reach the controller before the
 * doorbell does. `writel` orders it (its implied barrier drains the buffer); a barrier-free
 * doorbell on a weakly ordered CPU lets the controller fetch a stale entry.
 */
import { BLK_STS_IOERR, BLK_STS_OK, blkSetCurrentCpu } from '@p2pdma/blk';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { wcPending } from '../src/internal/io-accessors';
import { NVME_SC_DNR, NVME_SC_INVALID_NS, nvme_cmd_flush, nvme_cmd_read, nvme_cmd_write, nvmeDecodeCommand } from '../src/index';
import { bio, diffBytes, machine, NVME_CMB_BDF, pattern, ramBuffer } from './helpers';

test('writel orders the CMB SQE copy before the doorbell: the controller never fetches a stale entry (property, seed 42)', () => {
  const m = machine({ policy: 'v2', overrides: { [NVME_CMB_BDF]: { namespaces: [{ sizeBytes: 1 << 20 }] } } });
  const dev = m.dev(NVME_CMB_BDF);
  expect(dev.queues.slice(1).every((q) => q.sqCmdsIsIo)).toBe(true);
  const ctrl = m.ctrl(NVME_CMB_BDF);
  const ns = dev.ctrl.namespaces[0]!;
  const buf = ramBuffer(m.k, 65536);
  const ref = new Uint8Array(1 << 20);
  let expected = 0;
  fc.assert(
    fc.property(fc.boolean(), fc.integer({ min: 0, max: 2047 - 128 }), fc.integer({ min: 1, max: 128 }), fc.integer({ min: 0, max: 3 }), (write, lba, nlb, cpu) => {
      m.k.log.clear();
      const before = ctrl.trace.length;
      // Spread submissions over the four CMB SQs.
      blkSetCurrentCpu(m.k, cpu);
      const len = nlb * 512;
      if (write) buf.fill(pattern(len, lba));
      const st = bio(m.k, ns, write, lba * 512, buf, len)();
      if (write) ref.set(pattern(len, lba), lba * 512);
      expected++;
      const t = ctrl.trace.slice(before);
      return (
        st === BLK_STS_OK &&
        t.length === 1 &&
        t[0]!.opcode === (write ? nvme_cmd_write : nvme_cmd_read) &&
        t[0]!.nsid === 1 &&
        wcPending(m.k) === 0 &&
        m.k.log.grep('invalid id').length === 0 &&
        (write || diffBytes(buf.read().subarray(0, len), ref.subarray(lba * 512, lba * 512 + len)) === 'equal')
      );
    }),
    { seed: 42, numRuns: 200 },
  );
  expect(ctrl.stats.ioCommands).toBe(expected);
  expect(ctrl.stats.errors).toBe(0);
  // Every I/O queue was used.
  expect(new Set(ctrl.trace.map((t) => t.qid))).toEqual(new Set([0, 1, 2, 3, 4]));
});

test('a barrier-free doorbell (writel_relaxed) lets the controller execute a stale CMB SQ entry: the write is lost', () => {
  const m = machine({ policy: 'v2', params: { sqDoorbell: 'relaxed' } });
  const ctrl = m.ctrl(NVME_CMB_BDF);
  const ns = m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!;
  const buf = ramBuffer(m.k, 4096);
  buf.fill(pattern(4096, 1));
  const st = bio(m.k, ns, true, 0, buf, 4096, { run: false });
  // The doorbell reached the controller while the 64-byte SQE was still in the write buffer:
  // it fetched the slot's old contents (zeros: a Flush of namespace 0) instead of the Write.
  const t = ctrl.trace[ctrl.trace.length - 1]!;
  expect([t.qid, t.opcode, t.nsid, t.commandId]).toEqual([1, nvme_cmd_flush, 0, 0]);
  expect(t.status).toBe(NVME_SC_INVALID_NS | NVME_SC_DNR);
  // The real SQE drained into the CMB at the next barrier (the CQ head doorbell's writel): too late.
  const q = m.dev(NVME_CMB_BDF).queues[1]!;
  const cmb = ctrl.cmb!;
  const slot = new Uint8Array(64);
  cmb.store.read(q.sqDmaAddr - cmb.busAddress, slot);
  expect(nvmeDecodeCommand(slot)).toMatchObject({ opcode: nvme_cmd_write, nsid: 1, commandId: 0 });
  m.k.clock.runUntilIdle();
  // The stale entry's completion (command id 0 = the request's tag) ended the request with an
  // error; the real SQE was never executed.
  expect(st()).toBe(BLK_STS_IOERR);
  expect(wcPending(m.k)).toBe(0);
  expect(ctrl.stats.ioCommands).toBe(1);
  expect(diffBytes(ctrl.media(1)!.peek(0, 4096), new Uint8Array(4096))).toBe('equal');
});

test('the same barrier-free doorbell is harmless with SQs in coherent host memory', () => {
  const m = machine({ policy: 'v2', params: { sqDoorbell: 'relaxed', useCmbSqes: false } });
  const ctrl = m.ctrl(NVME_CMB_BDF);
  const ns = m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!;
  const buf = ramBuffer(m.k, 4096);
  const data = pattern(4096, 2);
  buf.fill(data);
  expect(bio(m.k, ns, true, 0, buf, 4096)()).toBe(BLK_STS_OK);
  expect(diffBytes(ctrl.media(1)!.peek(0, 4096), data)).toBe('equal');
});
