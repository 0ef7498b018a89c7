/**
 * Bio submission: `submitBio` → `generic_make_request` → the submission checks → the queue's
 * make-request function (blk-mq or a bio-based driver).
 *
 * The checks are 4.16's `generic_make_request_checks` with the seed's patch 05 check added right
 * after the `REQ_NOWAIT` one: a bio carrying `REQ_PCI_P2PDMA` to a queue without
 * `QUEUE_FLAG_PCI_P2PDMA` ends with `BLK_STS_NOTSUPP` and reaches no driver. A bio that fails a
 * check ends (its `endIo` runs) before `submitBio` returns and touches no device.
 *
 * As in the kernel, bios submitted while a submission is being processed (a split remainder, a
 * bio submitted from a completion callback that ran synchronously) are queued and processed in
 * order once the current one is handed off, so submission never recurses.
 *
 * @kernel block/blk-core.c (submit_bio, generic_make_request, generic_make_request_checks,
 *   bio_check_eod, handle_bad_sector, print_req_error, blk_cleanup_queue), patch 05/10
 */
import { KERN_ERR, KERN_INFO, KernelBug } from '@p2pdma/kernel';
import type { Bio } from './bio';
import { bioEndio, bioEndSector, bioIoError, bioOp, bioSectors, SECTOR_SIZE } from './bio';
import { blkMqExitQueue } from './blk-mq';
import type { BlkStatus } from './blk-status';
import { BLK_STATUS_TABLE, BLK_STS_IOERR, BLK_STS_NOTSUPP, BLK_STS_OK } from './blk-status';
import { opIsFlush, opIsWrite, REQ_FUA, REQ_NOWAIT, REQ_OP_DISCARD, REQ_OP_WRITE_ZEROES, REQ_PREFLUSH, reqFlags } from './blk-types';
import { getCapacity } from './genhd';
import { blkContext } from './internal/context';
import type { Request } from './request';
import type { RequestQueue } from './request-queue';
import {
  blkQueueDiscard,
  blkQueueDying,
  blkQueueFlagSet,
  blkQueueFlagTest,
  blkQueuePciP2pdma,
  QUEUE_FLAG_DEAD,
  QUEUE_FLAG_DYING,
  QUEUE_FLAG_WC,
  queueIsRqBased,
} from './request-queue';

/**
 * Fault site checked once per bio by the submission checks: when it fires, the bio ends with
 * `BLK_STS_IOERR` (the kernel's `fail_make_request` attribute).
 * @kernel should_fail_bio / fail_make_request
 */
export const FAULT_MAKE_REQUEST = 'fail_make_request';

function diskName(bio: Bio): string {
  return bio.disk?.diskName ?? '?';
}

/** Ends a bio that failed (or was satisfied by) a submission check. */
function endAtSubmit(q: RequestQueue, bio: Bio, status: BlkStatus): false {
  bio.status = status;
  q.stats.bioRejected++;
  bioEndio(bio);
  return false;
}

/**
 * The submission checks, in 4.16's order plus patch 05's. Returns `true` when the bio may go to
 * the queue; otherwise the bio has been ended.
 */
function genericMakeRequestChecks(bio: Bio): boolean {
  const disk = bio.disk;
  if (disk === null) throw new KernelBug('generic_make_request: bio has no disk (bio_set_dev was not called)');
  const q = disk.queue;
  const kernel = q.kernel;
  const nrSectors = bioSectors(bio);

  if ((bio.opf & REQ_NOWAIT) !== 0 && !queueIsRqBased(q)) return endAtSubmit(q, bio, BLK_STS_NOTSUPP);
  // Patch 05/10: P2P memory only to queues that declared support for it.
  if ((bio.opf & reqFlags(kernel).REQ_PCI_P2PDMA) !== 0 && !blkQueuePciP2pdma(q)) return endAtSubmit(q, bio, BLK_STS_NOTSUPP);
  if (kernel.faults.shouldFail(FAULT_MAKE_REQUEST) !== 0) return endAtSubmit(q, bio, BLK_STS_IOERR);

  if (disk.readOnly && opIsWrite(bioOp(bio))) {
    kernel.log.printk(KERN_ERR, `generic_make_request: Trying to write to read-only block-device ${disk.diskName} (partno 0)`);
    return endAtSubmit(q, bio, BLK_STS_IOERR);
  }

  const maxSector = getCapacity(disk);
  if (nrSectors !== 0 && maxSector !== 0 && (maxSector < nrSectors || maxSector - nrSectors < bio.iter.sector)) {
    kernel.log.printk(KERN_INFO, 'attempt to access beyond end of device');
    kernel.log.printk(KERN_INFO, `${diskName(bio)}: rw=${bio.opf}, want=${bioEndSector(bio)}, limit=${maxSector}`);
    return endAtSubmit(q, bio, BLK_STS_IOERR);
  }

  // Without a volatile write cache there is nothing to flush: strip PREFLUSH/FUA, and an empty
  // flush is already done.
  if (opIsFlush(bio.opf) && !blkQueueFlagTest(QUEUE_FLAG_WC, q)) {
    bio.opf &= ~(REQ_PREFLUSH | REQ_FUA);
    if (nrSectors === 0) return endAtSubmit(q, bio, BLK_STS_OK);
  }

  const op = bioOp(bio);
  if (op === REQ_OP_DISCARD && !blkQueueDiscard(q)) return endAtSubmit(q, bio, BLK_STS_NOTSUPP);
  if (op === REQ_OP_WRITE_ZEROES && q.limits.maxWriteZeroesSectors === 0) return endAtSubmit(q, bio, BLK_STS_NOTSUPP);

  // Model addition (upstream blk-mq's bio_unaligned, not in 4.16): I/O must be whole logical
  // blocks at a logical block boundary.
  const lbs = q.limits.logicalBlockSize;
  if (bio.iter.size !== 0 && (bio.iter.size % lbs !== 0 || (bio.iter.sector * SECTOR_SIZE) % lbs !== 0)) {
    return endAtSubmit(q, bio, BLK_STS_IOERR);
  }
  return true;
}

/**
 * Hands a bio to its disk's queue after the submission checks; bios submitted while one is
 * being handed off are queued and handled in order after it (`current->bio_list`).
 * @param bio a bio with `disk` set. Ownership passes to the block layer until `endIo` runs
 *   (possibly before this returns).
 * @throws KernelBug for a bio without a disk.
 * @kernel generic_make_request
 */
export function genericMakeRequest(bio: Bio): void {
  if (bio.disk === null) throw new KernelBug('generic_make_request: bio has no disk (bio_set_dev was not called)');
  const ctx = blkContext(bio.disk.queue.kernel);
  if (ctx.bioList !== null) {
    ctx.bioList.push(bio);
    return;
  }
  const list: Bio[] = [];
  ctx.bioList = list;
  try {
    let next: Bio | undefined = bio;
    for (let i = 0; next !== undefined; next = list[i++]) {
      if (!genericMakeRequestChecks(next)) continue;
      const q = next.disk!.queue;
      if (blkQueueDying(q)) {
        bioIoError(next);
        continue;
      }
      q.stats.bios++;
      q.makeRequestFn(q, next);
    }
  } finally {
    ctx.bioList = null;
  }
}

/**
 * Submits a bio for I/O. Every outcome reaches the bio's `endIo` exactly once, with
 * `bio.status`: `BLK_STS_OK`, a submission-check failure (`BLK_STS_NOTSUPP` for a P2P bio to a
 * queue without `QUEUE_FLAG_PCI_P2PDMA`, for DISCARD/WRITE_ZEROES the queue lacks, and for
 * `REQ_NOWAIT` on a bio-based queue; `BLK_STS_IOERR` beyond the end of the device, for a
 * misaligned bio, a write to a read-only disk, a dying queue or an injected
 * `FAULT_MAKE_REQUEST`), or the driver's status.
 * @param bio a bio with `disk` set.
 * @throws KernelBug for a bio without a disk.
 * @kernel submit_bio
 */
export function submitBio(bio: Bio): void {
  genericMakeRequest(bio);
}

/**
 * Logs the kernel's failed-request line, `print_req_error: <what> error, dev <disk>, sector <n>`
 * (`KERN_ERR`).
 * @param rq the request.
 * @param status its (non-OK) status.
 * @kernel print_req_error
 */
export function printReqError(rq: Request, status: BlkStatus): void {
  const what = BLK_STATUS_TABLE[status]?.description;
  if (what === undefined) return;
  rq.q.kernel.log.printk(KERN_ERR, `print_req_error: ${what} error, dev ${rq.rqDisk?.diskName ?? '?'}, sector ${rq.sector}`);
}

/**
 * Tears a queue down: marks it dying (new bios end with `BLK_STS_IOERR`), then dead, and
 * detaches a blk-mq queue from its tag set. The caller must have drained it: the model cannot
 * wait for in-flight I/O as the kernel does.
 * @param q the queue.
 * @throws KernelBug when requests are still queued or in flight, or when the queue is already
 *   dead.
 * @kernel blk_cleanup_queue
 */
export function blkCleanupQueue(q: RequestQueue): void {
  if (blkQueueFlagTest(QUEUE_FLAG_DEAD, q)) throw new KernelBug(`blk_cleanup_queue: queue ${q.id} is already dead`);
  if (q.mqOps !== null) blkMqExitQueue(q);
  blkQueueFlagSet(QUEUE_FLAG_DYING, q);
  blkQueueFlagSet(QUEUE_FLAG_DEAD, q);
}
