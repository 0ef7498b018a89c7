/**
 * Queue flags (4.16 include/linux/blkdev.h plus patch 05's QUEUE_FLAG_PCI_P2PDMA = 30) and the
 * limits setters of block/blk-settings.c with their "set to minimum" lines.
 */
import { Errno, KernelBug } from '@p2pdma/kernel';
import { describe, expect, test } from 'vitest';
import {
  BLK_DEF_MAX_SECTORS,
  BLK_MAX_SEGMENT_SIZE,
  BLK_MAX_SEGMENTS,
  BLK_SAFE_MAX_SECTORS,
  blkAllocQueue,
  blkQueueFlagClear,
  blkQueueFlagSet,
  blkQueueFlagTest,
  blkQueueLogicalBlockSize,
  blkQueueMaxHwSectors,
  blkQueueMaxSegmentSize,
  blkQueueMaxSegments,
  blkQueueNomerges,
  blkQueueNonrot,
  blkQueuePciP2pdma,
  blkQueuePhysicalBlockSize,
  blkQueueSegmentBoundary,
  blkQueueVirtBoundary,
  blkQueueWriteCache,
  bioIoError,
  QUEUE_FLAG_DEFAULT,
  QUEUE_FLAG_DISCARD,
  QUEUE_FLAG_FUA,
  QUEUE_FLAG_IO_STAT,
  QUEUE_FLAG_MQ_DEFAULT,
  QUEUE_FLAG_NAMES,
  QUEUE_FLAG_NOMERGES,
  QUEUE_FLAG_NONROT,
  QUEUE_FLAG_PCI_P2PDMA,
  QUEUE_FLAG_POLL,
  QUEUE_FLAG_PREEMPT_ONLY,
  QUEUE_FLAG_QUIESCED,
  QUEUE_FLAG_SAME_COMP,
  QUEUE_FLAG_SCSI_PASSTHROUGH,
  QUEUE_FLAG_VIRT,
  QUEUE_FLAG_WC,
  queueIsRqBased,
  queueMaxSectorsStore,
} from '../src/index';
import type { QueueFlag } from '../src/index';
import { newKernel, recorder } from './helpers';

describe('queue flags (4.16 blkdev.h + patch 05/10)', () => {
  test('bit numbers; QUEUE_FLAG_PCI_P2PDMA is 30 after PREEMPT_ONLY (29); 8 is unused', () => {
    expect(QUEUE_FLAG_NOMERGES).toBe(5);
    expect(QUEUE_FLAG_NONROT).toBe(9);
    expect(QUEUE_FLAG_VIRT).toBe(QUEUE_FLAG_NONROT);
    expect(QUEUE_FLAG_DISCARD).toBe(11);
    expect(QUEUE_FLAG_WC).toBe(20);
    expect(QUEUE_FLAG_FUA).toBe(21);
    expect(QUEUE_FLAG_SCSI_PASSTHROUGH).toBe(27);
    expect(QUEUE_FLAG_QUIESCED).toBe(28);
    expect(QUEUE_FLAG_PREEMPT_ONLY).toBe(29);
    expect(QUEUE_FLAG_PCI_P2PDMA).toBe(30);
    const bits = Object.keys(QUEUE_FLAG_NAMES).map(Number);
    expect(bits).toHaveLength(30);
    expect(bits).not.toContain(8);
    expect(QUEUE_FLAG_NAMES[QUEUE_FLAG_PCI_P2PDMA]).toBe('QUEUE_FLAG_PCI_P2PDMA');
  });

  test('set, test and clear; blk_queue_pci_p2pdma reads the patch 05 flag', () => {
    const k = newKernel();
    const q = blkAllocQueue(k, (_q, bio) => bioIoError(bio));
    expect(q.queueFlags).toBe(QUEUE_FLAG_DEFAULT);
    expect(blkQueuePciP2pdma(q)).toBe(false);
    blkQueueFlagSet(QUEUE_FLAG_PCI_P2PDMA, q);
    expect(blkQueuePciP2pdma(q)).toBe(true);
    expect(blkQueueFlagTest(QUEUE_FLAG_PCI_P2PDMA, q)).toBe(true);
    expect(q.queueFlags).toBe((QUEUE_FLAG_DEFAULT | (1 << 30)) >>> 0);
    blkQueueFlagSet(QUEUE_FLAG_NONROT, q);
    blkQueueFlagSet(QUEUE_FLAG_NOMERGES, q);
    expect(blkQueueNonrot(q)).toBe(true);
    expect(blkQueueNomerges(q)).toBe(true);
    blkQueueFlagClear(QUEUE_FLAG_PCI_P2PDMA, q);
    expect(blkQueuePciP2pdma(q)).toBe(false);
    expect(blkQueueNonrot(q)).toBe(true);
    expect(() => blkQueueFlagSet(8 as QueueFlag, q)).toThrow(KernelBug);
    expect(() => blkQueueFlagTest(31 as QueueFlag, q)).toThrow(/not a QUEUE_FLAG_\* bit/);
  });

  test('a blk-mq queue starts with QUEUE_FLAG_MQ_DEFAULT and is request based', () => {
    const k = newKernel();
    const { q } = recorder(k);
    expect(q.queueFlags).toBe(QUEUE_FLAG_MQ_DEFAULT);
    expect(QUEUE_FLAG_MQ_DEFAULT).toBe((1 << QUEUE_FLAG_IO_STAT) | (1 << QUEUE_FLAG_SAME_COMP) | (1 << QUEUE_FLAG_POLL));
    expect(queueIsRqBased(q)).toBe(true);
    expect(queueIsRqBased(blkAllocQueue(k, (_q, b) => bioIoError(b)))).toBe(false);
    blkQueueWriteCache(q, true, false);
    expect(blkQueueFlagTest(QUEUE_FLAG_WC, q)).toBe(true);
    expect(blkQueueFlagTest(QUEUE_FLAG_FUA, q)).toBe(false);
    blkQueueWriteCache(q, false, true);
    expect(blkQueueFlagTest(QUEUE_FLAG_WC, q)).toBe(false);
    expect(blkQueueFlagTest(QUEUE_FLAG_FUA, q)).toBe(true);
  });
});

describe('queue limits (block/blk-settings.c)', () => {
  test('blk_set_default_limits', () => {
    const q = blkAllocQueue(newKernel(), (_q, b) => bioIoError(b));
    expect(q.limits).toEqual({
      maxHwSectors: BLK_SAFE_MAX_SECTORS,
      maxSectors: BLK_SAFE_MAX_SECTORS,
      maxSegments: BLK_MAX_SEGMENTS,
      maxSegmentSize: BLK_MAX_SEGMENT_SIZE,
      segBoundaryMask: 0xffff_ffff,
      virtBoundaryMask: 0,
      logicalBlockSize: 512,
      physicalBlockSize: 512,
      ioMin: 512,
      maxDiscardSectors: 0,
      maxWriteZeroesSectors: 0,
    });
  });

  test('max_hw_sectors caps max_sectors at BLK_DEF_MAX_SECTORS; too small is raised with the kernel line', () => {
    const k = newKernel();
    const q = blkAllocQueue(k, (_q, b) => bioIoError(b));
    blkQueueMaxHwSectors(q, 65535);
    expect(q.limits.maxHwSectors).toBe(65535);
    expect(q.limits.maxSectors).toBe(BLK_DEF_MAX_SECTORS);
    blkQueueMaxHwSectors(q, 4);
    expect(q.limits.maxHwSectors).toBe(8);
    blkQueueMaxSegments(q, 0);
    expect(q.limits.maxSegments).toBe(1);
    blkQueueMaxSegmentSize(q, 512);
    expect(q.limits.maxSegmentSize).toBe(4096);
    blkQueueSegmentBoundary(q, 0xff);
    expect(q.limits.segBoundaryMask).toBe(0xfff);
    expect(k.log.lines().map((l) => l.text)).toEqual([
      'blk_queue_max_hw_sectors: set to minimum 8',
      'blk_queue_max_segments: set to minimum 1',
      'blk_queue_max_segment_size: set to minimum 4096',
      'blk_queue_segment_boundary: set to minimum fff',
    ]);
  });

  test('logical and physical block sizes pull each other and io_min up', () => {
    const q = blkAllocQueue(newKernel(), (_q, b) => bioIoError(b));
    blkQueueLogicalBlockSize(q, 4096);
    expect([q.limits.logicalBlockSize, q.limits.physicalBlockSize, q.limits.ioMin]).toEqual([4096, 4096, 4096]);
    blkQueuePhysicalBlockSize(q, 512);
    expect(q.limits.physicalBlockSize).toBe(4096);
    expect(() => blkQueueLogicalBlockSize(q, 1000)).toThrow(KernelBug);
    expect(() => blkQueueVirtBoundary(q, 4096)).toThrow(KernelBug);
    blkQueueVirtBoundary(q, 4095);
    expect(q.limits.virtBoundaryMask).toBe(4095);
  });

  test('queue/max_sectors_kb store: -EINVAL above max_hw_sectors_kb or below a page', () => {
    const q = blkAllocQueue(newKernel(), (_q, b) => bioIoError(b));
    blkQueueMaxHwSectors(q, 2048);
    expect(queueMaxSectorsStore(q, 1024)).toBe(0);
    expect(q.limits.maxSectors).toBe(2048);
    expect(queueMaxSectorsStore(q, 1025)).toBe(-Errno.EINVAL);
    expect(queueMaxSectorsStore(q, 2)).toBe(-Errno.EINVAL);
    expect(q.limits.maxSectors).toBe(2048);
  });
});
