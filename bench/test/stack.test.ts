/**
 * The stack workload verifies what it wrote: a clean run reads every range back intact, and one
 * byte flipped in the drive's media between the writes and the read-back fails the run with the
 * LBA and offset. (Issue 8: "speed never comes from skipping the work".)
 */
import { describe, expect, it } from 'vitest';
import { runStack, StackVerifyError } from '../src/stack';

const SMALL = { warmupIos: 8, measureMs: 1, minIos: 48, maxIos: 48, windowBytes: 64 * 1024 } as const;

describe('stack workload (nvmet testbed: initiator → RNIC → p2pmem → bio → NVMe → media)', () => {
  it('a clean p2pmem run writes, reads back and verifies every range written', () => {
    const r = runStack({ ...SMALL, placement: 'p2pmem', ioBytes: 4096 });
    expect(r.ios).toBe(48);
    // 64 KiB window of 4 KiB ranges: 16 slots, all written (56 writes in total).
    expect(r.verify.ranges).toBe(16);
    expect(r.verify.bytes).toBe(16 * 4096);
    expect(r.iops).toBeGreaterThan(0);
    expect(Number.isFinite(r.iops)).toBe(true);
    expect(r.bytesPerSec).toBeCloseTo(r.iops * 4096, 3);
  });

  it('a clean system-memory run with 128 KiB I/Os verifies too', () => {
    const r = runStack({ ...SMALL, minIos: 4, maxIos: 4, windowBytes: 256 * 1024, placement: 'system', ioBytes: 128 * 1024 });
    expect(r.ios).toBe(4);
    expect(r.verify.ranges).toBe(2);
  });

  it('one corrupted media byte between write and verify fails the run with its LBA and offset', () => {
    // Slot 3 of 4 KiB ranges with 512-byte blocks starts at LBA 24.
    let caught: unknown = null;
    try {
      runStack({ ...SMALL, placement: 'p2pmem', ioBytes: 4096, corrupt: { slot: 3, offset: 1000 } });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(StackVerifyError);
    const err = caught as StackVerifyError;
    expect(err.lba).toBe(24);
    expect(err.offset).toBe(1000);
    expect(err.message).toMatch(/^stack verify \(p2pmem, 4096-byte I\/O\): LBA 24 offset 1000: wrote 0x[0-9a-f]{2}, read 0x[0-9a-f]{2} \(write \d+\)$/);
  });

  it('refuses a corruption target outside the written ranges and an I/O size that is not whole blocks', () => {
    expect(() => runStack({ ...SMALL, corrupt: { slot: 99, offset: 0 } })).toThrow(/corrupt: slot 99 offset 0 is not inside a written range/);
    expect(() => runStack({ ...SMALL, ioBytes: 1000 })).toThrow(/I\/O size 1000 is not a positive multiple of the 512-byte block/);
  });
});
