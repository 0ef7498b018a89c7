/**
 * Requests: what a blk-mq driver receives. A request covers one contiguous sector range of one
 * operation and holds the bios merged into it, in sector order.
 *
 * Life cycle (4.16 `enum mq_rq_state`): allocated `MQ_RQ_IDLE` → the driver's
 * `blkMqStartRequest` makes it `MQ_RQ_IN_FLIGHT` → `blkMqCompleteRequest` marks it
 * `MQ_RQ_COMPLETE` → `blkMqEndRequest` ends its bios and frees it (`freed`). The block layer owns
 * the request; the driver may keep per-request data in `pdu` until it ends the request.
 *
 * @kernel include/linux/blkdev.h (struct request, RQF_*, blk_rq_pos/bytes/sectors,
 *   rq_mergeable), include/linux/blk-mq.h (enum mq_rq_state), patch 05/10 (REQ_IS_PCI_P2PDMA)
 */
import type { Page } from '@p2pdma/kernel';
import type { Bio } from './bio';
import { bioForEachSegment, SECTOR_SIZE } from './bio';
import type { BlkMqHwCtx } from './blk-mq';
import type { BlkStatus } from './blk-status';
import { BLK_STS_OK } from './blk-status';
import type { DataDir, ReqOp } from './blk-types';
import { opIsWrite, READ, REQ_OP_FLUSH, REQ_OP_MASK, REQ_OP_WRITE_ZEROES, reqFlags, WRITE } from './blk-types';
import type { Disk } from './genhd';
import type { RequestQueue } from './request-queue';

/** Allocated, not yet started by the driver. @kernel MQ_RQ_IDLE */
export const MQ_RQ_IDLE = 0;
/** Started by the driver. @kernel MQ_RQ_IN_FLIGHT */
export const MQ_RQ_IN_FLIGHT = 1;
/** Completed; about to be ended. @kernel MQ_RQ_COMPLETE */
export const MQ_RQ_COMPLETE = 2;
/** A request's state. @kernel enum mq_rq_state */
export type MqRqState = typeof MQ_RQ_IDLE | typeof MQ_RQ_IN_FLIGHT | typeof MQ_RQ_COMPLETE;

/** May not be passed by the I/O scheduler. @kernel RQF_SOFTBARRIER */
export const RQF_SOFTBARRIER = 1 << 3;
/** Part of a flush sequence. @kernel RQF_FLUSH_SEQ */
export const RQF_FLUSH_SEQ = 1 << 4;
/** Do not print errors for this request. @kernel RQF_QUIET */
export const RQF_QUIET = 1 << 11;
/** The payload is a special vector, not the bios. @kernel RQF_SPECIAL_PAYLOAD */
export const RQF_SPECIAL_PAYLOAD = 1 << 18;
/** The timeout fired. @kernel RQF_MQ_TIMEOUT_EXPIRED */
export const RQF_MQ_TIMEOUT_EXPIRED = 1 << 20;
/** Started by the driver (the legacy path's flag; blk-mq tracks `state`). @kernel RQF_STARTED */
export const RQF_STARTED = 1 << 1;
/** `rq_flags` that forbid merging. @kernel RQF_NOMERGE_FLAGS */
export const RQF_NOMERGE_FLAGS = RQF_STARTED | RQF_SOFTBARRIER | RQF_FLUSH_SEQ | RQF_SPECIAL_PAYLOAD;

/**
 * Called instead of ending the bios when a request ends, by whoever owns such a request (the
 * flush machinery).
 * @kernel rq_end_io_fn
 */
export type RqEndIo = (rq: Request, status: BlkStatus) => void;

/**
 * A request. Allocated by blk-mq only.
 * @kernel struct request
 */
export class Request {
  /** The queue. @kernel request.q */
  readonly q: RequestQueue;
  /** Model-only id, unique per kernel (for messages and tests). */
  readonly id: number;
  /** The hardware context it was mapped to. @kernel mq_hctx */
  readonly mqHctx: BlkMqHwCtx;
  /** Operation and `REQ_*` flags. @kernel cmd_flags */
  cmdFlags: number;
  /** `RQF_*` flags. @kernel rq_flags */
  rqFlags = 0;
  /** Driver tag while dispatched, else -1. @kernel request.tag */
  tag = -1;
  /** First sector. @kernel __sector */
  sector: number;
  /** Bytes. @kernel __data_len */
  dataLen: number;
  /** The bios, in sector order (`bio` … `biotail`). */
  readonly bios: Bio[];
  /** Physical segments (the block layer's upper bound for `blkRqMapSg`). @kernel nr_phys_segments */
  nrPhysSegments: number;
  /** The disk. @kernel rq_disk */
  readonly rqDisk: Disk | null;
  /** State. @kernel request.state */
  state: MqRqState = MQ_RQ_IDLE;
  /** Virtual time when the timeout fires (set when started). @kernel request.deadline */
  deadlineNs = 0;
  /**
   * The driver's result for `blkMqCompleteRequest` when the driver has no `complete` operation
   * (as null_blk keeps `cmd->error`).
   */
  result: BlkStatus = BLK_STS_OK;
  /** Set by the request's owner instead of ending its bios. @kernel end_io */
  endIo: RqEndIo | null = null;
  /** The driver's per-request data. @kernel blk_mq_rq_to_pdu */
  pdu: unknown = null;
  /** @internal freed: the request can no longer be used. */
  freed = false;

  /**
   * @param q the queue.
   * @param hctx the hardware context.
   * @param id the model id.
   * @param opf operation and flags.
   * @param disk the disk.
   * @internal allocated by blk-mq.
   */
  constructor(q: RequestQueue, hctx: BlkMqHwCtx, id: number, opf: number, disk: Disk | null) {
    this.q = q;
    this.mqHctx = hctx;
    this.id = id;
    this.cmdFlags = opf;
    this.sector = 0;
    this.dataLen = 0;
    this.bios = [];
    this.nrPhysSegments = 0;
    this.rqDisk = disk;
  }
}

/**
 * The operation of a request.
 * @param rq a request.
 * @returns its operation.
 * @kernel req_op
 */
export function reqOp(rq: Request): ReqOp {
  return (rq.cmdFlags & REQ_OP_MASK) as ReqOp;
}

/**
 * The data direction of a request.
 * @param rq a request.
 * @returns `WRITE` or `READ`.
 * @kernel rq_data_dir
 */
export function rqDataDir(rq: Request): DataDir {
  return opIsWrite(reqOp(rq)) ? WRITE : READ;
}

/**
 * The first sector of a request.
 * @param rq a request.
 * @returns the sector.
 * @kernel blk_rq_pos
 */
export function blkRqPos(rq: Request): number {
  return rq.sector;
}

/**
 * The size of a request in bytes.
 * @param rq a request.
 * @returns the bytes.
 * @kernel blk_rq_bytes
 */
export function blkRqBytes(rq: Request): number {
  return rq.dataLen;
}

/**
 * The size of a request in sectors.
 * @param rq a request.
 * @returns the sectors.
 * @kernel blk_rq_sectors
 */
export function blkRqSectors(rq: Request): number {
  return Math.floor(rq.dataLen / SECTOR_SIZE);
}

/**
 * Whether a request targets PCI P2P memory (patch 05/10). Always `false` in a kernel built
 * without `CONFIG_PCI_P2PDMA`, where the macro is `0`.
 * @param rq a request.
 * @returns whether `REQ_PCI_P2PDMA` is set.
 * @kernel REQ_IS_PCI_P2PDMA
 */
export function reqIsPciP2pdma(rq: Request): boolean {
  return (rq.cmdFlags & reqFlags(rq.q.kernel).REQ_PCI_P2PDMA) !== 0;
}

/**
 * Whether bios may still be merged into a request: not a FLUSH or WRITE_ZEROES, no
 * `REQ_NOMERGE_FLAGS` (NOMERGE, PREFLUSH, FUA, PCI_P2PDMA) and no `RQF_NOMERGE_FLAGS`.
 * @param rq a request.
 * @returns the answer.
 * @kernel rq_mergeable
 */
export function rqMergeable(rq: Request): boolean {
  const op = reqOp(rq);
  if (op === REQ_OP_FLUSH || op === REQ_OP_WRITE_ZEROES) return false;
  if ((rq.cmdFlags & reqFlags(rq.q.kernel).REQ_NOMERGE_FLAGS) !== 0) return false;
  return (rq.rqFlags & RQF_NOMERGE_FLAGS) === 0;
}

/**
 * Calls `fn` for every data segment of every bio of a request, in order.
 * @param rq the request.
 * @param fn called with page, offset and length.
 * @kernel rq_for_each_segment
 */
export function rqForEachSegment(rq: Request, fn: (page: Page, offset: number, len: number) => void): void {
  for (const bio of rq.bios) bioForEachSegment(bio, fn);
}
