/**
 * Physical segment rules shared by segment counting, bio splitting and request mapping: which
 * consecutive page ranges fuse into one DMA segment, and where the virtual boundary forbids a
 * gap.
 *
 * @kernel block/blk-merge.c (__blk_segment_map_sg, blk_bio_segment_split,
 *   __blk_recalc_rq_segments), include/linux/blkdev.h (bvec_gap_to_prev, BIOVEC_PHYS_MERGEABLE)
 */
import type { Page } from '@p2pdma/kernel';
import { pageToPhys } from '@p2pdma/kernel';
import type { QueueLimits } from '../blk-settings';

/** Whether `[start, end)` stays inside one `mask + 1` aligned window. */
function withinBoundary(start: number, end: number, mask: number): boolean {
  const win = mask + 1;
  return Math.floor(start / win) === Math.floor((end - 1) / win);
}

/**
 * Whether `next` starts right where `prev` ends in physical memory and both are the same kind
 * of memory (same device pagemap, or both System RAM).
 */
export function physContiguous(prevPage: Page, prevEnd: number, nextPage: Page, nextPhys: number): boolean {
  return prevEnd === nextPhys && prevPage.pgmap === nextPage.pgmap;
}

/**
 * Whether the virtual boundary forbids putting `next` after `prev` in one request: either side
 * of the junction is not on a `virtBoundaryMask + 1` boundary (and the two are not physically
 * contiguous, in which case they fuse).
 */
export function virtGap(limits: QueueLimits, prevPage: Page, prevEnd: number, nextPage: Page, nextPhys: number): boolean {
  const vb = limits.virtBoundaryMask;
  if (vb === 0) return false;
  if (physContiguous(prevPage, prevEnd, nextPage, nextPhys)) return false;
  const win = vb + 1;
  return nextPhys % win !== 0 || prevEnd % win !== 0;
}

/**
 * Walks page ranges in order and groups them into physical segments under a queue's limits.
 */
export class SegmentWalker {
  /** Segments so far. */
  count = 0;
  /** Physical address of the current segment's first byte. */
  segStart = 0;
  /** Length of the current segment. */
  segLen = 0;
  /** Last range's page and end address (for contiguity and gap checks). */
  lastPage: Page | null = null;
  lastEnd = 0;

  constructor(private readonly limits: QueueLimits) {}

  /** Whether a range would start a new segment. */
  startsNew(page: Page, offset: number, len: number): boolean {
    if (this.lastPage === null) return true;
    const phys = pageToPhys(page) + offset;
    if (!physContiguous(this.lastPage, this.lastEnd, page, phys)) return true;
    if (this.segLen + len > this.limits.maxSegmentSize) return true;
    return !withinBoundary(this.segStart, phys + len, this.limits.segBoundaryMask);
  }

  /** Whether a range after the last one would leave a virtual-boundary gap. */
  gapBefore(page: Page, offset: number): boolean {
    return this.lastPage !== null && virtGap(this.limits, this.lastPage, this.lastEnd, page, pageToPhys(page) + offset);
  }

  /**
   * Adds a range.
   * @returns whether it started a new segment.
   */
  add(page: Page, offset: number, len: number): boolean {
    const fresh = this.startsNew(page, offset, len);
    const phys = pageToPhys(page) + offset;
    if (fresh) {
      this.count++;
      this.segStart = phys;
      this.segLen = len;
    } else {
      this.segLen += len;
    }
    this.lastPage = page;
    this.lastEnd = phys + len;
    return fresh;
  }
}
