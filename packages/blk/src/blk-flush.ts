/**
 * The flush machinery: how PREFLUSH and FUA requests reach a device with a volatile write
 * cache.
 *
 * A request with data and/or PREFLUSH/FUA gets a policy: `REQ_FSEQ_PREFLUSH` (PREFLUSH on a
 * write-back-cache queue), `REQ_FSEQ_DATA` (it has data), `REQ_FSEQ_POSTFLUSH` (FUA on a queue
 * that does not do FUA itself). The steps run in that order, each a request of its own (a
 * `REQ_OP_FLUSH` request for the flushes); PREFLUSH is removed from the data request, and FUA
 * too when the queue emulates it. The bios end once the last step is done, or at the first
 * failing step with its status. A request needing only its data step skips the sequence.
 * Requests in the machinery are never merged and never wait on a plug.
 *
 * Queues without a write cache never see these flags: the submission checks strip them.
 *
 * @kernel block/blk-flush.c (blk_flush_policy, blk_insert_flush, blk_flush_complete_seq)
 */
import type { BlkStatus } from './blk-status';
import { BLK_STS_OK } from './blk-status';
import {
  blkMqAllocRequest,
  blkMqEndRequest,
  blkMqEndRequestBios,
  blkMqFreeUnstartedRequest,
  blkMqRequestBypassInsert,
  blkMqRunHwQueue,
} from './blk-mq';
import { REQ_FAILFAST_MASK, REQ_FUA, REQ_OP_FLUSH, REQ_PREFLUSH, REQ_SYNC } from './blk-types';
import type { Request } from './request';
import { blkRqSectors, RQF_FLUSH_SEQ } from './request';
import { QUEUE_FLAG_FUA, QUEUE_FLAG_WC } from './request-queue';

/** Step: flush the cache before the data. @kernel REQ_FSEQ_PREFLUSH */
export const REQ_FSEQ_PREFLUSH = 1 << 0;
/** Step: the data. @kernel REQ_FSEQ_DATA */
export const REQ_FSEQ_DATA = 1 << 1;
/** Step: flush the cache after the data (emulated FUA). @kernel REQ_FSEQ_POSTFLUSH */
export const REQ_FSEQ_POSTFLUSH = 1 << 2;

/** The steps in execution order. */
const STEP_ORDER: readonly number[] = [REQ_FSEQ_PREFLUSH, REQ_FSEQ_DATA, REQ_FSEQ_POSTFLUSH];

/**
 * The steps a request needs.
 * @param queueFlags the queue's `QUEUE_FLAG_*` bits.
 * @param rq the request.
 * @returns an OR of `REQ_FSEQ_*`.
 * @kernel blk_flush_policy
 */
export function blkFlushPolicy(queueFlags: number, rq: Request): number {
  let policy = 0;
  if (blkRqSectors(rq) !== 0) policy |= REQ_FSEQ_DATA;
  if ((queueFlags & (1 << QUEUE_FLAG_WC)) !== 0) {
    if ((rq.cmdFlags & REQ_PREFLUSH) !== 0) policy |= REQ_FSEQ_PREFLUSH;
    if ((queueFlags & (1 << QUEUE_FLAG_FUA)) === 0 && (rq.cmdFlags & REQ_FUA) !== 0) policy |= REQ_FSEQ_POSTFLUSH;
  }
  return policy;
}

/** Runs the next step of a sequence, or finishes it. */
function advance(rq: Request, steps: number[], status: BlkStatus): void {
  const step = status === BLK_STS_OK ? steps.shift() : undefined;
  if (step === undefined) {
    blkMqFreeUnstartedRequest(rq);
    blkMqEndRequestBios(rq, status);
    return;
  }
  const next = (_r: Request, st: BlkStatus): void => advance(rq, steps, st);
  let issue: Request;
  if (step === REQ_FSEQ_DATA) {
    issue = rq;
  } else {
    issue = blkMqAllocRequest(rq.q, rq.mqHctx, REQ_OP_FLUSH | REQ_PREFLUSH | (rq.cmdFlags & REQ_FAILFAST_MASK), null);
    issue.rqFlags |= RQF_FLUSH_SEQ;
  }
  issue.endIo = next;
  blkMqRequestBypassInsert(issue, false);
  blkMqRunHwQueue(issue.mqHctx, false);
}

/**
 * Takes a request carrying PREFLUSH and/or FUA: ends it at once when nothing is needed, issues
 * it directly when only its data is, else runs the flush sequence.
 * @param rq a new request (not on any list).
 * @kernel blk_insert_flush
 */
export function blkInsertFlush(rq: Request): void {
  const q = rq.q;
  const policy = blkFlushPolicy(q.queueFlags, rq);
  rq.cmdFlags &= ~REQ_PREFLUSH;
  if ((q.queueFlags & (1 << QUEUE_FLAG_FUA)) === 0) rq.cmdFlags &= ~REQ_FUA;
  rq.cmdFlags |= REQ_SYNC;
  if (policy === 0) {
    blkMqEndRequest(rq, BLK_STS_OK);
    return;
  }
  if ((policy & (REQ_FSEQ_PREFLUSH | REQ_FSEQ_POSTFLUSH)) === 0) {
    blkMqRequestBypassInsert(rq, false);
    blkMqRunHwQueue(rq.mqHctx, false);
    return;
  }
  rq.rqFlags |= RQF_FLUSH_SEQ;
  advance(
    rq,
    STEP_ORDER.filter((s) => (policy & s) !== 0),
    BLK_STS_OK,
  );
}
