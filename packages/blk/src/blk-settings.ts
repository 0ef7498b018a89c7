/**
 * Queue limits: how big a request may grow, how its memory may be laid out, the device's block
 * sizes, and whether it has a volatile write cache.
 *
 * Defaults and clamping follow 4.16's block/blk-settings.c, including its `KERN_INFO`
 * "set to minimum" lines when a driver asks for less than the block layer can work with.
 *
 * @kernel block/blk-settings.c, include/linux/blkdev.h (struct queue_limits)
 */
import type { KResult } from '@p2pdma/kernel';
import { err, KERN_INFO, KernelBug, PAGE_SIZE } from '@p2pdma/kernel';
import { SECTOR_SHIFT } from './bio';
import type { RequestQueue } from './request-queue';
import { blkQueueFlagClear, blkQueueFlagSet, QUEUE_FLAG_FUA, QUEUE_FLAG_WC } from './request-queue';

/** Default hardware limit on request size: 255 sectors. @kernel BLK_SAFE_MAX_SECTORS */
export const BLK_SAFE_MAX_SECTORS = 255;
/** Cap on the soft request size limit: 2560 sectors (1.25 MiB). @kernel BLK_DEF_MAX_SECTORS */
export const BLK_DEF_MAX_SECTORS = 2560;
/** Default segments per request. @kernel BLK_MAX_SEGMENTS */
export const BLK_MAX_SEGMENTS = 128;
/** Default longest segment: 64 KiB. @kernel BLK_MAX_SEGMENT_SIZE */
export const BLK_MAX_SEGMENT_SIZE = 65536;
/** Default segment boundary mask: segments do not cross 4 GiB. @kernel BLK_SEG_BOUNDARY_MASK */
export const BLK_SEG_BOUNDARY_MASK = 0xffff_ffff;
/** Largest value `maxSectors`/`maxHwSectors` can hold (`UINT_MAX >> 9`). */
export const BLK_MAX_SECTORS_LIMIT = 0xffff_ffff >>> SECTOR_SHIFT;

/**
 * A queue's limits. Read freely; change with the setters below.
 * @kernel struct queue_limits
 */
export interface QueueLimits {
  /** Hardware limit on request size in sectors. @kernel max_hw_sectors */
  maxHwSectors: number;
  /** Soft limit on request size in sectors (≤ `maxHwSectors`). @kernel max_sectors */
  maxSectors: number;
  /** Most physical segments per request. @kernel max_segments */
  maxSegments: number;
  /** Longest physical segment in bytes. @kernel max_segment_size */
  maxSegmentSize: number;
  /** A segment may not cross an address boundary of `mask + 1`. @kernel seg_boundary_mask */
  segBoundaryMask: number;
  /**
   * When non-zero, every segment but the first must start, and every one but the last must
   * end, on a `mask + 1` boundary (NVMe PRPs need this). @kernel virt_boundary_mask
   */
  virtBoundaryMask: number;
  /** Smallest addressable unit in bytes. @kernel logical_block_size */
  logicalBlockSize: number;
  /** Smallest unit the device writes atomically. @kernel physical_block_size */
  physicalBlockSize: number;
  /** Preferred minimum I/O size. @kernel io_min */
  ioMin: number;
  /** Largest DISCARD in sectors (0: not supported). @kernel max_discard_sectors */
  maxDiscardSectors: number;
  /** Largest WRITE_ZEROES in sectors (0: not supported). @kernel max_write_zeroes_sectors */
  maxWriteZeroesSectors: number;
}

/**
 * The default limits of a new queue.
 * @returns a fresh limits object.
 * @kernel blk_set_default_limits
 */
export function blkSetDefaultLimits(): QueueLimits {
  return {
    maxHwSectors: BLK_SAFE_MAX_SECTORS,
    maxSectors: BLK_SAFE_MAX_SECTORS,
    maxSegments: BLK_MAX_SEGMENTS,
    maxSegmentSize: BLK_MAX_SEGMENT_SIZE,
    segBoundaryMask: BLK_SEG_BOUNDARY_MASK,
    virtBoundaryMask: 0,
    logicalBlockSize: 512,
    physicalBlockSize: 512,
    ioMin: 512,
    maxDiscardSectors: 0,
    maxWriteZeroesSectors: 0,
  };
}

function checkCount(fn: string, what: string, n: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new KernelBug(`${fn}: bad ${what} ${n}`);
}

function isPow2(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/**
 * Sets the hardware request size limit; the soft limit becomes `min(n, BLK_DEF_MAX_SECTORS)`.
 * @param q the queue.
 * @param n sectors; raised to one page (with `blk_queue_max_hw_sectors: set to minimum 8`
 *   logged) when smaller.
 * @throws KernelBug for a negative, fractional or out-of-range value.
 * @kernel blk_queue_max_hw_sectors
 */
export function blkQueueMaxHwSectors(q: RequestQueue, n: number): void {
  checkCount('blk_queue_max_hw_sectors', 'sector count', n, BLK_MAX_SECTORS_LIMIT);
  let hw = n;
  const min = PAGE_SIZE >> SECTOR_SHIFT;
  if (hw < min) {
    hw = min;
    q.kernel.log.printk(KERN_INFO, `blk_queue_max_hw_sectors: set to minimum ${hw}`);
  }
  q.limits.maxHwSectors = hw;
  q.limits.maxSectors = Math.min(hw, BLK_DEF_MAX_SECTORS);
}

/**
 * Sets the segment count limit.
 * @param q the queue.
 * @param n segments; 0 becomes 1 (`blk_queue_max_segments: set to minimum 1` logged).
 * @throws KernelBug for a negative or fractional value, or more than 65535.
 * @kernel blk_queue_max_segments
 */
export function blkQueueMaxSegments(q: RequestQueue, n: number): void {
  checkCount('blk_queue_max_segments', 'segment count', n, 0xffff);
  let v = n;
  if (v === 0) {
    v = 1;
    q.kernel.log.printk(KERN_INFO, `blk_queue_max_segments: set to minimum ${v}`);
  }
  q.limits.maxSegments = v;
}

/**
 * Sets the longest segment.
 * @param q the queue.
 * @param bytes bytes; raised to `PAGE_SIZE` (`blk_queue_max_segment_size: set to minimum 4096`
 *   logged) when smaller.
 * @throws KernelBug for a negative, fractional or > 4 GiB value.
 * @kernel blk_queue_max_segment_size
 */
export function blkQueueMaxSegmentSize(q: RequestQueue, bytes: number): void {
  checkCount('blk_queue_max_segment_size', 'size', bytes, 0xffff_ffff);
  let v = bytes;
  if (v < PAGE_SIZE) {
    v = PAGE_SIZE;
    q.kernel.log.printk(KERN_INFO, `blk_queue_max_segment_size: set to minimum ${v}`);
  }
  q.limits.maxSegmentSize = v;
}

/**
 * Sets the segment boundary.
 * @param q the queue.
 * @param mask `2^n - 1`; raised to `PAGE_SIZE - 1` (`blk_queue_segment_boundary: set to
 *   minimum fff` logged) when smaller.
 * @throws KernelBug when `mask + 1` is not a power of two.
 * @kernel blk_queue_segment_boundary
 */
export function blkQueueSegmentBoundary(q: RequestQueue, mask: number): void {
  if (!isPow2(mask + 1)) throw new KernelBug(`blk_queue_segment_boundary: mask ${mask} is not 2^n - 1`);
  let v = mask;
  if (v < PAGE_SIZE - 1) {
    v = PAGE_SIZE - 1;
    q.kernel.log.printk(KERN_INFO, `blk_queue_segment_boundary: set to minimum ${v.toString(16)}`);
  }
  q.limits.segBoundaryMask = v;
}

/**
 * Sets the virtual boundary (0 disables it).
 * @param q the queue.
 * @param mask 0 or `2^n - 1` below `PAGE_SIZE`.
 * @throws KernelBug for any other value.
 * @kernel blk_queue_virt_boundary
 */
export function blkQueueVirtBoundary(q: RequestQueue, mask: number): void {
  if (mask !== 0 && (!isPow2(mask + 1) || mask >= PAGE_SIZE)) {
    throw new KernelBug(`blk_queue_virt_boundary: mask ${mask} is not 0 or 2^n - 1 below PAGE_SIZE`);
  }
  q.limits.virtBoundaryMask = mask;
}

/**
 * Sets the logical block size; the physical block size and `ioMin` are raised to it.
 * @param q the queue.
 * @param bytes a power of two from 512 to `PAGE_SIZE`.
 * @throws KernelBug for any other value.
 * @kernel blk_queue_logical_block_size
 */
export function blkQueueLogicalBlockSize(q: RequestQueue, bytes: number): void {
  if (!isPow2(bytes) || bytes < 512 || bytes > PAGE_SIZE) {
    throw new KernelBug(`blk_queue_logical_block_size: ${bytes} is not a power of two from 512 to ${PAGE_SIZE}`);
  }
  const l = q.limits;
  l.logicalBlockSize = bytes;
  if (l.physicalBlockSize < bytes) l.physicalBlockSize = bytes;
  if (l.ioMin < l.physicalBlockSize) l.ioMin = l.physicalBlockSize;
}

/**
 * Sets the physical block size (never below the logical one); `ioMin` is raised to it.
 * @param q the queue.
 * @param bytes a power of two ≥ 512.
 * @throws KernelBug for any other value.
 * @kernel blk_queue_physical_block_size
 */
export function blkQueuePhysicalBlockSize(q: RequestQueue, bytes: number): void {
  if (!isPow2(bytes) || bytes < 512) throw new KernelBug(`blk_queue_physical_block_size: ${bytes} is not a power of two >= 512`);
  const l = q.limits;
  l.physicalBlockSize = Math.max(bytes, l.logicalBlockSize);
  if (l.ioMin < l.physicalBlockSize) l.ioMin = l.physicalBlockSize;
}

/**
 * Sets the DISCARD size limit (0: DISCARD not supported by size).
 * @param q the queue.
 * @param sectors sectors.
 * @throws KernelBug for a bad value.
 * @kernel blk_queue_max_discard_sectors
 */
export function blkQueueMaxDiscardSectors(q: RequestQueue, sectors: number): void {
  checkCount('blk_queue_max_discard_sectors', 'sector count', sectors, BLK_MAX_SECTORS_LIMIT);
  q.limits.maxDiscardSectors = sectors;
}

/**
 * Sets the WRITE_ZEROES size limit (0: WRITE_ZEROES not supported).
 * @param q the queue.
 * @param sectors sectors.
 * @throws KernelBug for a bad value.
 * @kernel blk_queue_max_write_zeroes_sectors
 */
export function blkQueueMaxWriteZeroesSectors(q: RequestQueue, sectors: number): void {
  checkCount('blk_queue_max_write_zeroes_sectors', 'sector count', sectors, BLK_MAX_SECTORS_LIMIT);
  q.limits.maxWriteZeroesSectors = sectors;
}

/**
 * Declares the device's volatile write cache and native FUA support (`QUEUE_FLAG_WC`,
 * `QUEUE_FLAG_FUA`). Without a write cache, PREFLUSH and FUA are stripped at submission.
 * @param q the queue.
 * @param wc whether the device has a volatile write cache.
 * @param fua whether it honours FUA writes itself (else FUA is emulated with a post-flush).
 * @kernel blk_queue_write_cache
 */
export function blkQueueWriteCache(q: RequestQueue, wc: boolean, fua: boolean): void {
  if (wc) blkQueueFlagSet(QUEUE_FLAG_WC, q);
  else blkQueueFlagClear(QUEUE_FLAG_WC, q);
  if (fua) blkQueueFlagSet(QUEUE_FLAG_FUA, q);
  else blkQueueFlagClear(QUEUE_FLAG_FUA, q);
}

/**
 * Sets the request timeout.
 * @param q the queue.
 * @param ns nanoseconds (> 0).
 * @throws KernelBug for a non-positive or non-finite value.
 * @kernel blk_queue_rq_timeout
 */
export function blkQueueRqTimeout(q: RequestQueue, ns: number): void {
  if (!Number.isFinite(ns) || ns <= 0) throw new KernelBug(`blk_queue_rq_timeout: bad timeout ${ns}`);
  q.rqTimeoutNs = ns;
}

/**
 * The sysfs store of `queue/max_sectors_kb`: sets the soft request size limit.
 * @param q the queue.
 * @param kb kibibytes.
 * @returns `0`, or `-EINVAL` when `kb` exceeds `max_hw_sectors_kb` or is below one page.
 * @kernel queue_max_sectors_store
 */
export function queueMaxSectorsStore(q: RequestQueue, kb: number): KResult {
  const maxHwKb = q.limits.maxHwSectors >> 1;
  if (!Number.isSafeInteger(kb) || kb > maxHwKb || kb < PAGE_SIZE >> 10) return err('EINVAL');
  q.limits.maxSectors = kb << 1;
  return 0;
}

/**
 * The logical block size of a queue.
 * @param q a queue.
 * @returns its logical block size in bytes.
 * @kernel queue_logical_block_size
 */
export function queueLogicalBlockSize(q: RequestQueue): number {
  return q.limits.logicalBlockSize;
}
