/**
 * Merging, splitting and scatterlist mapping: how bios become requests that fit a queue's
 * limits.
 *
 * - A bio merges onto the back or front of a pending request when both are mergeable (no
 *   `REQ_NOMERGE_FLAGS` on either: NOMERGE, PREFLUSH, FUA and, with patch 05, PCI_P2PDMA;
 *   not FLUSH or WRITE_ZEROES), have the same operation and disk, are sector-contiguous, and
 *   the result stays within `max_sectors` and `max_segments` without a virtual-boundary gap. A
 *   merge refused for size marks the request `REQ_NOMERGE` (`req_set_nomerge`), as 4.16 does.
 * - A bio larger than the limits is split at submission; the front piece is chained to the
 *   rest and marked `REQ_NOMERGE`, the rest is resubmitted.
 * - `blkRqMapSg` turns a request into scatterlist entries, fusing physically contiguous ranges
 *   up to `max_segment_size` without crossing the segment boundary.
 *
 * @kernel block/blk-merge.c, block/blk-core.c (bio_attempt_back_merge, bio_attempt_front_merge),
 *   include/linux/blkdev.h (blk_rq_get_max_sectors), include/linux/elevator.h (enum elv_merge)
 */
import type { Page, Scatterlist } from '@p2pdma/kernel';
import { KERN_ERR, KernelBug, pageToPhys, sgSetPage } from '@p2pdma/kernel';
import type { Bio } from './bio';
import { bioChain, bioForEachSegment, bioHasData, bioIoError, bioOp, bioSectors, bioSplit, SECTOR_SIZE } from './bio';
import { genericMakeRequest } from './blk-core';
import { BLK_MAX_SECTORS_LIMIT } from './blk-settings';
import { REQ_NOMERGE, REQ_OP_DISCARD, REQ_OP_WRITE_ZEROES, reqFlags } from './blk-types';
import { SegmentWalker, virtGap } from './internal/segments';
import type { Request } from './request';
import { blkRqSectors, reqOp, rqForEachSegment, rqMergeable } from './request';
import type { RequestQueue } from './request-queue';

/** No merge possible. @kernel ELEVATOR_NO_MERGE */
export const ELEVATOR_NO_MERGE = 0;
/** The bio goes in front of the request. @kernel ELEVATOR_FRONT_MERGE */
export const ELEVATOR_FRONT_MERGE = 1;
/** The bio goes after the request. @kernel ELEVATOR_BACK_MERGE */
export const ELEVATOR_BACK_MERGE = 2;
/** A multi-range discard merge (not produced by the model: `max_discard_segments` is 1). @kernel ELEVATOR_DISCARD_MERGE */
export const ELEVATOR_DISCARD_MERGE = 3;
/** Where a bio would merge. @kernel enum elv_merge */
export type ElvMerge = typeof ELEVATOR_NO_MERGE | typeof ELEVATOR_FRONT_MERGE | typeof ELEVATOR_BACK_MERGE | typeof ELEVATOR_DISCARD_MERGE;

/**
 * Counts a bio's physical segments under its queue's limits.
 * @param q the queue.
 * @param bio the bio.
 * @returns the number of segments (0 for a bio without data pages).
 * @kernel blk_recount_segments / bio_phys_segments
 */
export function blkRecountSegments(q: RequestQueue, bio: Bio): number {
  const w = new SegmentWalker(q.limits);
  bioForEachSegment(bio, (page, offset, len) => {
    w.add(page, offset, len);
  });
  return w.count;
}

/**
 * The request size limit for an operation.
 * @param q the queue.
 * @param op the operation.
 * @returns sectors: `max_discard_sectors` for DISCARD, `max_write_zeroes_sectors` for
 *   WRITE_ZEROES, else `max_sectors`.
 * @kernel blk_queue_get_max_sectors
 */
export function blkQueueGetMaxSectors(q: RequestQueue, op: number): number {
  if (op === REQ_OP_DISCARD) return Math.min(q.limits.maxDiscardSectors, BLK_MAX_SECTORS_LIMIT);
  if (op === REQ_OP_WRITE_ZEROES) return q.limits.maxWriteZeroesSectors;
  return q.limits.maxSectors;
}

/**
 * Whether a bio may be merged at all.
 * @param bio a bio.
 * @returns whether it may be merged (no `REQ_NOMERGE_FLAGS` flag).
 * @kernel bio_mergeable
 */
export function bioMergeable(bio: Bio): boolean {
  const q = bio.disk?.queue;
  if (q === undefined) return false;
  return (bio.opf & reqFlags(q.kernel).REQ_NOMERGE_FLAGS) === 0;
}

/**
 * Whether a bio and a request are compatible for merging (not yet whether they are adjacent).
 * @param rq the request.
 * @param bio the bio.
 * @returns `true` when both are mergeable, with the same operation and disk.
 * @kernel blk_rq_merge_ok
 */
export function blkRqMergeOk(rq: Request, bio: Bio): boolean {
  if (!rqMergeable(rq) || !bioMergeable(bio)) return false;
  if (reqOp(rq) !== bioOp(bio)) return false;
  return rq.rqDisk === bio.disk;
}

/**
 * Where a bio would go relative to a request.
 * @param rq the request.
 * @param bio the bio.
 * @returns `ELEVATOR_BACK_MERGE` when the bio starts where the request ends,
 *   `ELEVATOR_FRONT_MERGE` when it ends where the request starts, else `ELEVATOR_NO_MERGE`.
 * @kernel blk_try_merge
 */
export function blkTryMerge(rq: Request, bio: Bio): ElvMerge {
  if (rq.sector + blkRqSectors(rq) === bio.iter.sector) return ELEVATOR_BACK_MERGE;
  if (rq.sector - bioSectors(bio) === bio.iter.sector) return ELEVATOR_FRONT_MERGE;
  return ELEVATOR_NO_MERGE;
}

function reqSetNomerge(rq: Request): void {
  rq.cmdFlags |= REQ_NOMERGE;
}

/** Last data range of a bio, or null. */
function lastRange(bio: Bio): { page: Page; end: number } | null {
  let out: { page: Page; end: number } | null = null;
  bioForEachSegment(bio, (page, offset, len) => {
    out = { page, end: pageToPhys(page) + offset + len };
  });
  return out;
}

/** First data range of a bio, or null. */
function firstRange(bio: Bio): { page: Page; phys: number } | null {
  let out: { page: Page; phys: number } | null = null;
  bioForEachSegment(bio, (page, offset) => {
    out ??= { page, phys: pageToPhys(page) + offset };
  });
  return out;
}

/** Whether putting `next` right after `prev` leaves a virtual-boundary gap. */
function bioWillGap(q: RequestQueue, prev: Bio, next: Bio): boolean {
  if (q.limits.virtBoundaryMask === 0 || !bioHasData(prev) || !bioHasData(next)) return false;
  const a = lastRange(prev);
  const b = firstRange(next);
  return a !== null && b !== null && virtGap(q.limits, a.page, a.end, b.page, b.phys);
}

/** Size and segment checks for growing `rq` by `bio`; on success the segments are accounted. */
function llMergeFits(q: RequestQueue, rq: Request, bio: Bio): boolean {
  if (blkRqSectors(rq) + bioSectors(bio) > blkQueueGetMaxSectors(q, reqOp(rq))) {
    reqSetNomerge(rq);
    return false;
  }
  const segs = blkRecountSegments(q, bio);
  if (rq.nrPhysSegments + segs > q.limits.maxSegments) {
    reqSetNomerge(rq);
    return false;
  }
  rq.nrPhysSegments += segs;
  return true;
}

/**
 * Appends a bio to a request if the limits allow.
 * @param q the queue.
 * @param rq a pending request ending where the bio starts.
 * @param bio the bio.
 * @returns whether it merged. A refusal for size or segments marks the request `REQ_NOMERGE`.
 * @kernel bio_attempt_back_merge (+ ll_back_merge_fn)
 */
export function bioAttemptBackMerge(q: RequestQueue, rq: Request, bio: Bio): boolean {
  const tail = rq.bios[rq.bios.length - 1];
  if (tail !== undefined && bioWillGap(q, tail, bio)) return false;
  if (!llMergeFits(q, rq, bio)) return false;
  rq.bios.push(bio);
  rq.dataLen += bio.iter.size;
  q.stats.backMerges++;
  return true;
}

/**
 * Prepends a bio to a request if the limits allow.
 * @param q the queue.
 * @param rq a pending request starting where the bio ends.
 * @param bio the bio.
 * @returns whether it merged. A refusal for size or segments marks the request `REQ_NOMERGE`.
 * @kernel bio_attempt_front_merge (+ ll_front_merge_fn)
 */
export function bioAttemptFrontMerge(q: RequestQueue, rq: Request, bio: Bio): boolean {
  const head = rq.bios[0];
  if (head !== undefined && bioWillGap(q, bio, head)) return false;
  if (!llMergeFits(q, rq, bio)) return false;
  rq.bios.unshift(bio);
  rq.sector = bio.iter.sector;
  rq.dataLen += bio.iter.size;
  q.stats.frontMerges++;
  return true;
}

/**
 * Tries to merge a bio into one of `candidates` (newest first, at most `maxTries`).
 * @returns whether it merged.
 * @internal shared by plug merging and software-queue merging.
 */
export function attemptMergeInto(
  q: RequestQueue,
  candidates: { readonly length: number; at(i: number): Request | undefined },
  bio: Bio,
  maxTries = Number.POSITIVE_INFINITY,
): boolean {
  let tries = 0;
  for (let i = candidates.length - 1; i >= 0 && tries < maxTries; i--) {
    const rq = candidates.at(i)!;
    if (rq.q !== q) continue;
    tries++;
    if (!blkRqMergeOk(rq, bio)) continue;
    const where = blkTryMerge(rq, bio);
    if (where === ELEVATOR_BACK_MERGE && bioAttemptBackMerge(q, rq, bio)) return true;
    if (where === ELEVATOR_FRONT_MERGE && bioAttemptFrontMerge(q, rq, bio)) return true;
  }
  return false;
}

/** Bytes of the largest front piece of a data bio that fits the limits (not yet block aligned). */
function segmentSplitBytes(q: RequestQueue, bio: Bio): number {
  const lim = q.limits;
  const maxBytes = lim.maxSectors * SECTOR_SIZE;
  const w = new SegmentWalker(lim);
  let bytes = 0;
  let split = -1;
  bioForEachSegment(bio, (page, offset, len) => {
    if (split >= 0) return;
    if (w.gapBefore(page, offset)) {
      split = bytes;
      return;
    }
    if (w.startsNew(page, offset, len) && w.count >= lim.maxSegments) {
      split = bytes;
      return;
    }
    if (bytes + len > maxBytes) {
      split = maxBytes;
      return;
    }
    w.add(page, offset, len);
    bytes += len;
  });
  return split;
}

/**
 * Splits a bio that exceeds its queue's limits: the front piece that fits is returned (chained
 * to the original and marked `REQ_NOMERGE`), the rest is resubmitted with
 * `genericMakeRequest` (it is handled after the current bio). Split points are whole logical
 * blocks.
 * @param q the queue.
 * @param bio the bio (already through the submission checks).
 * @returns the bio to handle now (the original when it fits), or `null` when it cannot be cut
 *   to fit (its first logical block alone breaks the segment limits): it has then been ended
 *   with `BLK_STS_IOERR` and a `KERN_ERR` line naming the disk and sector.
 * @kernel blk_queue_split
 */
export function blkQueueSplit(q: RequestQueue, bio: Bio): Bio | null {
  const op = bioOp(bio);
  const lbsSectors = q.limits.logicalBlockSize / SECTOR_SIZE;
  let splitSectors: number;
  if (op === REQ_OP_DISCARD || op === REQ_OP_WRITE_ZEROES) {
    const max = blkQueueGetMaxSectors(q, op);
    const aligned = max - (max % lbsSectors);
    if (aligned === 0 || bioSectors(bio) <= aligned) return bio;
    splitSectors = aligned;
  } else {
    if (!bioHasData(bio)) return bio;
    const bytes = segmentSplitBytes(q, bio);
    if (bytes < 0) return bio;
    splitSectors = Math.floor(bytes / q.limits.logicalBlockSize) * lbsSectors;
    if (splitSectors === 0) {
      q.kernel.log.printk(
        KERN_ERR,
        `blk_queue_split: ${bio.disk?.diskName ?? '?'}: bio at sector ${bio.iter.sector} cannot be split within the queue limits`,
      );
      bioIoError(bio);
      return null;
    }
    if (splitSectors >= bioSectors(bio)) return bio;
  }
  const split = bioSplit(bio, splitSectors);
  split.opf |= REQ_NOMERGE;
  bioChain(split, bio);
  q.stats.splits++;
  genericMakeRequest(bio);
  return split;
}

/**
 * Fills scatterlist entries for a request's data, fusing physically contiguous ranges (same
 * kind of memory) up to `max_segment_size` and within the segment boundary.
 * @param q the queue.
 * @param rq the request.
 * @param sgl the first entry of a chain with at least `rq.nrPhysSegments` entries (the driver's
 *   table, sized by `max_segments`). Entries are overwritten (page, offset, length).
 * @returns the number of entries used (0 for a request without data).
 * @throws KernelBug when the chain is too short.
 * @kernel blk_rq_map_sg
 */
export function blkRqMapSg(q: RequestQueue, rq: Request, sgl: Scatterlist): number {
  const w = new SegmentWalker(q.limits);
  let sg: Scatterlist | null = null;
  let n = 0;
  rqForEachSegment(rq, (page, offset, len) => {
    if (w.add(page, offset, len)) {
      sg = sg === null ? sgl : sg.next;
      if (sg === null) throw new KernelBug(`blk_rq_map_sg: request ${rq.id} needs more than ${n} scatterlist entries`);
      sgSetPage(sg, page, len, offset);
      n++;
    } else {
      sg!.length += len;
    }
  });
  return n;
}
