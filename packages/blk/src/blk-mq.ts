/**
 * blk-mq: tag sets, hardware queues, request allocation, dispatch to the driver's `queueRq`,
 * and completion.
 *
 * Flow for a bio on a blk-mq queue (`blkMqMakeRequest`, 4.16's `blk_mq_make_request`): split to
 * the limits; merge into a request on the submitter's plug or into one still waiting in the
 * hardware context's software queue; otherwise allocate a request. Flush/FUA requests go to the
 * flush machinery. With a plug, the request waits on the plug (a single-queue device keeps up
 * to `BLK_MAX_REQUEST_COUNT` there; a multi-queue device keeps one per queue and issues the
 * previous one); without, it is inserted and the hardware queue runs.
 *
 * Running a hardware queue takes each waiting request, gives it a driver tag and calls
 * `queueRq`. No free tag: dispatch stops and resumes when a tag is freed. `BLK_STS_RESOURCE`:
 * the request goes back to the head of the queue and the queue runs again after
 * `BLK_MQ_RESOURCE_DELAY_NS` of virtual time; `BLK_STS_DEV_RESOURCE`: it runs again when a
 * request of that hardware queue completes. Any other error ends the request with that status.
 * Nothing is lost on any of these paths.
 *
 * Completion: the driver calls `blkMqEndRequest(rq, status)` directly, or
 * `blkMqCompleteRequest(rq)` (which calls its `complete` operation), synchronously from
 * `queueRq` or later from a virtual-clock timer. Either way every bio of the request ends with
 * the status.
 *
 * @kernel block/blk-mq.c, block/blk-mq-sched.c, block/blk-timeout.c, include/linux/blk-mq.h
 */
import type { Kernel, KResult, NegErrno, TimerId } from '@p2pdma/kernel';
import { err, KERN_INFO, KERN_WARNING, KernelBug } from '@p2pdma/kernel';
import type { Bio } from './bio';
import { bioEndio } from './bio';
import { printReqError } from './blk-core';
import { blkInsertFlush } from './blk-flush';
import { attemptMergeInto, blkQueueSplit, blkRecountSegments, bioMergeable } from './blk-merge';
import { BlkMqTags } from './blk-mq-tag';
import { BLK_MAX_REQUEST_COUNT, BLK_PLUG_FLUSH_SIZE, blkFlushPlugList } from './blk-plug';
import type { BlkStatus } from './blk-status';
import { BLK_STS_AGAIN, BLK_STS_DEV_RESOURCE, BLK_STS_IOERR, BLK_STS_OK, BLK_STS_RESOURCE, blkStatusName, isBlkStatus } from './blk-status';
import { opIsFlush, REQ_FAILFAST_MASK, REQ_NOWAIT, REQ_RAHEAD } from './blk-types';
import { blkContext } from './internal/context';
import { Fifo } from './internal/fifo';
import { blkRqBytes, MQ_RQ_COMPLETE, MQ_RQ_IDLE, MQ_RQ_IN_FLIGHT, Request, RQF_FLUSH_SEQ, RQF_MQ_TIMEOUT_EXPIRED, RQF_QUIET } from './request';
import {
  BLK_DEFAULT_TIMEOUT_NS,
  blkQueueFlagClear,
  blkQueueFlagSet,
  blkQueueFlagTest,
  blkQueueNomerges,
  QUEUE_FLAG_MQ_DEFAULT,
  QUEUE_FLAG_QUIESCED,
  RequestQueue,
} from './request-queue';

/** Try to merge bios into requests waiting in the software queue. @kernel BLK_MQ_F_SHOULD_MERGE */
export const BLK_MQ_F_SHOULD_MERGE = 1 << 0;
/** Tags are shared by several queues (set by blk-mq; informational here). @kernel BLK_MQ_F_TAG_SHARED */
export const BLK_MQ_F_TAG_SHARED = 1 << 1;
/** Let the block layer merge scatter-gather segments (informational). @kernel BLK_MQ_F_SG_MERGE */
export const BLK_MQ_F_SG_MERGE = 1 << 2;
/** `queueRq` may sleep (informational: the model never sleeps). @kernel BLK_MQ_F_BLOCKING */
export const BLK_MQ_F_BLOCKING = 1 << 5;
/** Deepest tag space. @kernel BLK_MQ_MAX_DEPTH */
export const BLK_MQ_MAX_DEPTH = 10240;
/** Smallest tag space. @kernel BLK_MQ_TAG_MIN */
export const BLK_MQ_TAG_MIN = 1;
/** Delay before a queue answered with `BLK_STS_RESOURCE` runs again: 3 ms. @kernel BLK_MQ_RESOURCE_DELAY */
export const BLK_MQ_RESOURCE_DELAY_NS = 3_000_000;
/** Most software-queue requests a bio is tried against. @kernel blk_mq_attempt_merge (8 checks) */
export const BLK_MQ_MERGE_TRIES = 8;

/** The driver could not handle the timeout; it will complete the request later. @kernel BLK_EH_NOT_HANDLED */
export const BLK_EH_NOT_HANDLED = 0;
/** The driver handled the timeout: complete the request now. @kernel BLK_EH_HANDLED */
export const BLK_EH_HANDLED = 1;
/** Give the request another full timeout. @kernel BLK_EH_RESET_TIMER */
export const BLK_EH_RESET_TIMER = 2;
/** A timeout handler's answer. @kernel enum blk_eh_timer_return */
export type BlkEhTimerReturn = typeof BLK_EH_NOT_HANDLED | typeof BLK_EH_HANDLED | typeof BLK_EH_RESET_TIMER;

/** What `queueRq` gets. @kernel struct blk_mq_queue_data */
export interface BlkMqQueueData {
  /** The request, holding a driver tag (`rq.tag`). */
  readonly rq: Request;
  /** Whether it is the last request of this run (the driver may ring its doorbell). */
  readonly last: boolean;
}

/**
 * A driver's blk-mq operations.
 * @kernel struct blk_mq_ops
 */
export interface BlkMqOps {
  /**
   * Issues a request. The driver calls `blkMqStartRequest(rq)` once it takes it, and ends it
   * (now or later) with `blkMqEndRequest` or `blkMqCompleteRequest`.
   * @returns `BLK_STS_OK` when taken; `BLK_STS_RESOURCE`/`BLK_STS_DEV_RESOURCE` (without
   *   starting it) to be asked again later; any other status ends the request with it.
   * @kernel queue_rq
   */
  queueRq(hctx: BlkMqHwCtx, bd: BlkMqQueueData): BlkStatus;
  /**
   * Finishes a request after `blkMqCompleteRequest`; it must call `blkMqEndRequest`. Without
   * it, `blkMqCompleteRequest` ends the request with `rq.result`.
   * @kernel complete (softirq_done_fn)
   */
  complete?(rq: Request): void;
  /**
   * Called when a started request has not completed within the queue's timeout. Without it the
   * timer is reset.
   * @kernel timeout
   */
  timeout?(rq: Request, reserved: boolean): BlkEhTimerReturn;
  /**
   * Called for each hardware context of a new queue; a negated errno fails `blkMqInitQueue`.
   * @kernel init_hctx
   */
  initHctx?(hctx: BlkMqHwCtx, driverData: unknown, index: number): KResult;
  /** Called for each hardware context when the queue goes away. @kernel exit_hctx */
  exitHctx?(hctx: BlkMqHwCtx, index: number): void;
}

/** Options of a tag set. */
export interface BlkMqTagSetOptions {
  /** The driver's operations. */
  ops: BlkMqOps;
  /** Hardware queues (positive integer). */
  nrHwQueues: number;
  /** Tags per hardware queue (`BLK_MQ_TAG_MIN`..; clamped to `BLK_MQ_MAX_DEPTH`). */
  queueDepth: number;
  /** `BLK_MQ_F_*` flags (default `BLK_MQ_F_SHOULD_MERGE`). */
  flags?: number;
  /** Passed to `initHctx`. */
  driverData?: unknown;
  /** Request timeout of the set's queues in ns (default 30 s). */
  timeoutNs?: number;
}

/**
 * A tag set: the driver's hardware queue description, shared by all its queues.
 * @kernel struct blk_mq_tag_set
 */
export class BlkMqTagSet {
  /** The kernel. */
  readonly kernel: Kernel;
  /** The operations. @kernel ops */
  readonly ops: BlkMqOps;
  /** Hardware queues. @kernel nr_hw_queues */
  nrHwQueues: number;
  /** Tags per hardware queue. @kernel queue_depth */
  queueDepth: number;
  /** `BLK_MQ_F_*` flags. @kernel flags */
  readonly flags: number;
  /** Driver data for `initHctx`. @kernel driver_data */
  readonly driverData: unknown;
  /** Request timeout in ns. @kernel timeout */
  readonly timeoutNs: number;
  /** Tag spaces, one per hardware queue index (after `blkMqAllocTagSet`). @kernel tags */
  tags: BlkMqTags[] = [];
  /** Queues using the set. @kernel tag_list */
  readonly queues = new Set<RequestQueue>();

  /**
   * @param kernel the kernel.
   * @param opts operations, queue count and depth, flags, driver data, timeout.
   */
  constructor(kernel: Kernel, opts: BlkMqTagSetOptions) {
    this.kernel = kernel;
    this.ops = opts.ops;
    this.nrHwQueues = opts.nrHwQueues;
    this.queueDepth = opts.queueDepth;
    this.flags = opts.flags ?? BLK_MQ_F_SHOULD_MERGE;
    this.driverData = opts.driverData ?? null;
    this.timeoutNs = opts.timeoutNs ?? BLK_DEFAULT_TIMEOUT_NS;
  }
}

/**
 * A hardware context: one hardware queue of one request queue.
 * @kernel struct blk_mq_hw_ctx
 */
export class BlkMqHwCtx {
  /** The request queue. @kernel hctx->queue */
  readonly queue: RequestQueue;
  /** Index among the queue's hardware contexts. @kernel queue_num */
  readonly queueNum: number;
  /** The tag space (shared by the set's queues at this index). @kernel hctx->tags */
  readonly tags: BlkMqTags;
  /** `BLK_MQ_F_*` flags. @kernel hctx->flags */
  readonly flags: number;
  /** The driver's data (`initHctx` sets it). @kernel driver_data */
  driverData: unknown = null;
  /** Requests to issue first, not mergeable (requeued, busy, flush). @kernel hctx->dispatch */
  readonly dispatch = new Fifo<Request>();
  /** Requests waiting to be issued, mergeable (the software queue). @kernel ctx->rq_list */
  readonly queued = new Fifo<Request>();
  /** Requests holding a driver tag. @kernel nr_active */
  nrActive = 0;
  /** @internal a run is in progress. */
  running = false;
  /** @internal run again when the current run ends. */
  rerun = false;
  /** @internal run again when a request completes (SCHED_RESTART). */
  restart = false;
  /** @internal waiting for a free tag. */
  waitingTag = false;
  /** @internal pending delayed run. */
  delayedRun: TimerId | null = null;

  /**
   * @param queue the queue.
   * @param queueNum the index.
   * @param tags the tag space.
   * @param flags the set's flags.
   * @internal created by `blkMqInitQueue`.
   */
  constructor(queue: RequestQueue, queueNum: number, tags: BlkMqTags, flags: number) {
    this.queue = queue;
    this.queueNum = queueNum;
    this.tags = tags;
    this.flags = flags;
  }
}

/**
 * Validates a tag set and allocates its tag spaces.
 * @param set the set.
 * @returns `0`; `-EINVAL` when `nrHwQueues` or `queueDepth` is not a positive integer,
 *   `queueDepth` is below `BLK_MQ_TAG_MIN`, or `ops.queueRq` is missing. A depth above
 *   `BLK_MQ_MAX_DEPTH` is reduced to it with `blk-mq: reduced tag depth to 10240` logged.
 * @throws KernelBug when the set was already allocated.
 * @kernel blk_mq_alloc_tag_set
 */
export function blkMqAllocTagSet(set: BlkMqTagSet): KResult {
  if (set.tags.length !== 0) throw new KernelBug('blk_mq_alloc_tag_set: set already allocated');
  if (!Number.isSafeInteger(set.nrHwQueues) || set.nrHwQueues < 1) return err('EINVAL');
  if (!Number.isSafeInteger(set.queueDepth) || set.queueDepth < BLK_MQ_TAG_MIN) return err('EINVAL');
  if (typeof set.ops?.queueRq !== 'function') return err('EINVAL');
  if (set.queueDepth > BLK_MQ_MAX_DEPTH) {
    set.kernel.log.printk(KERN_INFO, `blk-mq: reduced tag depth to ${BLK_MQ_MAX_DEPTH}`);
    set.queueDepth = BLK_MQ_MAX_DEPTH;
  }
  set.tags = Array.from({ length: set.nrHwQueues }, () => new BlkMqTags(set.queueDepth));
  return 0;
}

/**
 * Frees a tag set's tag spaces.
 * @param set the set.
 * @throws KernelBug while queues still use it.
 * @kernel blk_mq_free_tag_set
 */
export function blkMqFreeTagSet(set: BlkMqTagSet): void {
  if (set.queues.size !== 0) throw new KernelBug(`blk_mq_free_tag_set: ${set.queues.size} queue(s) still use the set`);
  set.tags = [];
}

/**
 * Creates a request queue on a tag set, one hardware context per hardware queue.
 * @param set an allocated tag set.
 * @returns the queue (flags `QUEUE_FLAG_MQ_DEFAULT`, default limits, the set's timeout), or
 *   `-EINVAL` for a set that is not allocated, or the errno an `initHctx` returned (the
 *   contexts initialized so far get `exitHctx`; nothing stays attached).
 * @kernel blk_mq_init_queue
 */
export function blkMqInitQueue(set: BlkMqTagSet): RequestQueue | NegErrno {
  if (set.tags.length === 0) return err('EINVAL');
  const q = new RequestQueue(set.kernel, blkMqMakeRequest, QUEUE_FLAG_MQ_DEFAULT, set.timeoutNs);
  q.mqOps = set.ops;
  q.tagSet = set;
  for (let i = 0; i < set.nrHwQueues; i++) {
    const hctx = new BlkMqHwCtx(q, i, set.tags[i]!, set.flags);
    const r = set.ops.initHctx?.(hctx, set.driverData, i) ?? 0;
    if (r !== 0) {
      for (let j = q.hctxs.length - 1; j >= 0; j--) set.ops.exitHctx?.(q.hctxs[j]!, j);
      return r;
    }
    q.hctxs.push(hctx);
  }
  set.queues.add(q);
  return q;
}

/**
 * Detaches a drained blk-mq queue from its set (called by `blkCleanupQueue`).
 * @param q the queue.
 * @throws KernelBug when requests are still waiting or in flight.
 * @internal
 */
export function blkMqExitQueue(q: RequestQueue): void {
  for (const h of q.hctxs) {
    if (h.dispatch.length !== 0 || h.queued.length !== 0 || h.nrActive !== 0) {
      throw new KernelBug(`blk_cleanup_queue: queue ${q.id} hctx ${h.queueNum} still has requests`);
    }
  }
  if (q.inFlight.size !== 0) throw new KernelBug(`blk_cleanup_queue: queue ${q.id} has ${q.inFlight.size} request(s) in flight`);
  const clock = q.kernel.clock;
  for (const h of q.hctxs) {
    if (h.delayedRun !== null) clock.cancel(h.delayedRun);
    h.delayedRun = null;
  }
  if (q.timeoutTimer !== null) clock.cancel(q.timeoutTimer);
  q.timeoutTimer = null;
  for (let i = 0; i < q.hctxs.length; i++) q.mqOps?.exitHctx?.(q.hctxs[i]!, i);
  q.tagSet?.queues.delete(q);
}

/**
 * The hardware context a CPU's I/O goes to (CPUs spread round-robin over the queues).
 * @param q a blk-mq queue.
 * @param cpu a CPU number.
 * @returns the context.
 * @throws KernelBug for a bio-based queue.
 * @kernel blk_mq_map_queue
 */
export function blkMqMapQueue(q: RequestQueue, cpu: number): BlkMqHwCtx {
  const h = q.hctxs[cpu % q.hctxs.length];
  if (h === undefined) throw new KernelBug(`blk_mq_map_queue: queue ${q.id} has no hardware queues`);
  return h;
}

/**
 * Moves the submitting task to another CPU (model only: it selects the hardware queue of the
 * task's next requests).
 * @param kernel the kernel.
 * @param cpu a non-negative integer.
 * @throws KernelBug for anything else.
 */
export function blkSetCurrentCpu(kernel: Kernel, cpu: number): void {
  if (!Number.isSafeInteger(cpu) || cpu < 0) throw new KernelBug(`blkSetCurrentCpu: bad cpu ${cpu}`);
  blkContext(kernel).cpu = cpu;
}

/**
 * The CPU the submitting task runs on (model: set with `blkSetCurrentCpu`, default 0).
 * @param kernel the kernel.
 * @returns the CPU number.
 * @kernel raw_smp_processor_id
 */
export function blkCurrentCpu(kernel: Kernel): number {
  return blkContext(kernel).cpu;
}

/** Allocates a request (without a driver tag: that is taken at dispatch). */
export function blkMqAllocRequest(q: RequestQueue, hctx: BlkMqHwCtx, opf: number, bio: Bio | null): Request {
  const rq = new Request(q, hctx, blkContext(q.kernel).nextRequestId++, opf, bio?.disk ?? q.disk);
  q.stats.requests++;
  if (bio !== null) {
    if ((bio.opf & REQ_RAHEAD) !== 0) rq.cmdFlags |= REQ_FAILFAST_MASK;
    rq.sector = bio.iter.sector;
    rq.dataLen = bio.iter.size;
    rq.bios.push(bio);
    rq.nrPhysSegments = blkRecountSegments(q, bio);
  }
  return rq;
}

/**
 * Fault site asked once per request allocation (`kernel.faults.inject(FAULT_BLK_MQ_GET_TAG)`):
 * when it fires no request (tag) can be had, as when the queue is dying or a `REQ_NOWAIT`
 * allocation would block. The bio ends with `BLK_STS_AGAIN` when it carries `REQ_NOWAIT`, else
 * with `BLK_STS_IOERR`; nothing is allocated.
 * @kernel blk_mq_get_new_requests / __blk_mq_alloc_requests → blk_mq_get_tag failing
 */
export const FAULT_BLK_MQ_GET_TAG = 'blk_mq_get_tag';

/**
 * blk-mq's make-request function: split, merge, allocate, plug or issue.
 * @param q the queue.
 * @param bio a bio that passed the submission checks.
 * @kernel blk_mq_make_request
 */
export function blkMqMakeRequest(q: RequestQueue, bio: Bio): void {
  const b = blkQueueSplit(q, bio);
  if (b === null) return;
  const ctx = blkContext(q.kernel);
  const plug = ctx.plug;
  const flushFua = opIsFlush(b.opf);
  const nomerges = blkQueueNomerges(q);
  if (!flushFua && !nomerges && plug !== null && attemptMergeInto(q, plug.mqList, b)) return;
  const hctx = blkMqMapQueue(q, ctx.cpu);
  if (!flushFua && !nomerges && bioMergeable(b) && (hctx.flags & BLK_MQ_F_SHOULD_MERGE) !== 0) {
    if (attemptMergeInto(q, hctx.queued, b, BLK_MQ_MERGE_TRIES)) return;
  }
  if (q.kernel.faults.shouldFail(FAULT_BLK_MQ_GET_TAG) !== 0) {
    b.status = (b.opf & REQ_NOWAIT) !== 0 ? BLK_STS_AGAIN : BLK_STS_IOERR;
    bioEndio(b);
    return;
  }
  const rq = blkMqAllocRequest(q, hctx, b.opf, b);
  if (flushFua) {
    blkInsertFlush(rq);
    return;
  }
  if (plug !== null && q.nrHwQueues === 1) {
    let requestCount = 0;
    for (const r of plug.mqList) if (r.q === q) requestCount++;
    const last = plug.mqList[plug.mqList.length - 1];
    if (requestCount >= BLK_MAX_REQUEST_COUNT || (last !== undefined && blkRqBytes(last) >= BLK_PLUG_FLUSH_SIZE)) {
      blkFlushPlugList(plug);
    }
    plug.mqList.push(rq);
  } else if (plug !== null && !nomerges) {
    const i = plug.mqList.findIndex((r) => r.q === q);
    const same = i >= 0 ? plug.mqList.splice(i, 1)[0]! : null;
    plug.mqList.push(rq);
    if (same !== null) {
      same.mqHctx.queued.push(same);
      blkMqRunHwQueue(same.mqHctx, false);
    }
  } else {
    hctx.queued.push(rq);
    blkMqRunHwQueue(hctx, false);
  }
}

/**
 * Inserts plugged requests into their software queues (sorted by queue, hardware queue and
 * sector) and runs each hardware queue once.
 * @param list the requests taken off a plug.
 * @internal called by `blkFlushPlugList`.
 */
export function blkMqFlushPlugList(list: Request[]): void {
  const sorted = list
    .map((rq, i) => ({ rq, i }))
    .sort((a, b) => a.rq.q.id - b.rq.q.id || a.rq.mqHctx.queueNum - b.rq.mqHctx.queueNum || a.rq.sector - b.rq.sector || a.i - b.i);
  const toRun: BlkMqHwCtx[] = [];
  for (const { rq } of sorted) {
    rq.mqHctx.queued.push(rq);
    if (!toRun.includes(rq.mqHctx)) toRun.push(rq.mqHctx);
  }
  for (const h of toRun) blkMqRunHwQueue(h, false);
}

/**
 * Puts a request on a hardware context's dispatch list (not mergeable), at the head or tail.
 * @internal used by the flush machinery and requeueing.
 */
export function blkMqRequestBypassInsert(rq: Request, atHead: boolean): void {
  if (atHead) rq.mqHctx.dispatch.unshift(rq);
  else rq.mqHctx.dispatch.push(rq);
}

function scheduleDelayedRun(hctx: BlkMqHwCtx, delayNs: number): void {
  if (hctx.delayedRun !== null) return;
  hctx.delayedRun = hctx.queue.kernel.clock.schedule(delayNs, () => {
    hctx.delayedRun = null;
    blkMqRunHwQueue(hctx, false);
  });
}

/** Releases a dispatched request's driver tag. */
function putDriverTag(rq: Request, wake: boolean): void {
  if (rq.tag < 0) return;
  const h = rq.mqHctx;
  h.tags.put(rq.tag, wake);
  rq.tag = -1;
  h.nrActive--;
}

function dispatchLoop(hctx: BlkMqHwCtx): void {
  const q = hctx.queue;
  const ops = q.mqOps;
  if (ops === null) return;
  const log = q.kernel.log;
  for (;;) {
    if (blkQueueFlagTest(QUEUE_FLAG_QUIESCED, q)) return;
    const list = hctx.dispatch.length > 0 ? hctx.dispatch : hctx.queued;
    const rq = list.at(0);
    if (rq === undefined) return;
    if (rq.tag < 0) {
      const tag = hctx.tags.get(rq);
      if (tag < 0) {
        if (!hctx.waitingTag) {
          hctx.waitingTag = true;
          hctx.tags.addWaiter(() => {
            hctx.waitingTag = false;
            blkMqRunHwQueue(hctx, false);
          });
        }
        return;
      }
      rq.tag = tag;
      hctx.nrActive++;
    }
    list.shift();
    const last = hctx.dispatch.length === 0 && hctx.queued.length === 0;
    q.stats.dispatches++;
    let ret: BlkStatus = ops.queueRq(hctx, { rq, last });
    if (!isBlkStatus(ret)) {
      log.printk(KERN_WARNING, `blk-mq: queue_rq of queue ${q.id} returned ${String(ret)}, not a blk_status_t; treated as BLK_STS_IOERR`);
      ret = BLK_STS_IOERR;
    }
    if (ret === BLK_STS_OK) continue;
    if (ret === BLK_STS_RESOURCE || ret === BLK_STS_DEV_RESOURCE) {
      q.stats.busy++;
      if (rq.freed) {
        log.printk(KERN_WARNING, `blk-mq: request ${rq.id} was ended but queue_rq returned ${blkStatusName(ret)}; ignored`);
        continue;
      }
      if (rq.state !== MQ_RQ_IDLE) {
        log.printk(KERN_WARNING, `blk-mq: request ${rq.id} was started but queue_rq returned ${blkStatusName(ret)}; requeued`);
        rq.state = MQ_RQ_IDLE;
        q.inFlight.delete(rq);
      }
      putDriverTag(rq, false);
      hctx.dispatch.unshift(rq);
      hctx.restart = true;
      if (ret === BLK_STS_RESOURCE || hctx.nrActive === 0) scheduleDelayedRun(hctx, BLK_MQ_RESOURCE_DELAY_NS);
      hctx.tags.wakeWaiters();
      return;
    }
    if (!rq.freed) blkMqEndRequest(rq, ret);
  }
}

/**
 * Runs a hardware queue: dispatches waiting requests until none is left, tags run out, or the
 * driver answers busy. Re-entrant calls (from a completion inside `queueRq`) make the running
 * loop go round again instead of recursing.
 * @param hctx the hardware context.
 * @param async run from a zero-delay virtual-clock timer instead of now.
 * @kernel blk_mq_run_hw_queue
 */
export function blkMqRunHwQueue(hctx: BlkMqHwCtx, async: boolean): void {
  if (async) {
    hctx.queue.kernel.clock.schedule(0, () => blkMqRunHwQueue(hctx, false));
    return;
  }
  if (hctx.running) {
    hctx.rerun = true;
    return;
  }
  hctx.running = true;
  try {
    do {
      hctx.rerun = false;
      dispatchLoop(hctx);
    } while (hctx.rerun);
  } finally {
    hctx.running = false;
  }
}

/**
 * Runs every hardware queue of a queue.
 * @param q the queue.
 * @param async from zero-delay timers instead of now.
 * @kernel blk_mq_run_hw_queues
 */
export function blkMqRunHwQueues(q: RequestQueue, async: boolean): void {
  for (const h of q.hctxs) blkMqRunHwQueue(h, async);
}

/**
 * Stops dispatch on a queue (requests keep arriving and wait).
 * @param q the queue.
 * @kernel blk_mq_quiesce_queue
 */
export function blkMqQuiesceQueue(q: RequestQueue): void {
  blkQueueFlagSet(QUEUE_FLAG_QUIESCED, q);
}

/**
 * Resumes dispatch on a quiesced queue and runs its hardware queues.
 * @param q the queue.
 * @kernel blk_mq_unquiesce_queue
 */
export function blkMqUnquiesceQueue(q: RequestQueue): void {
  blkQueueFlagClear(QUEUE_FLAG_QUIESCED, q);
  blkMqRunHwQueues(q, false);
}

function armTimeout(q: RequestQueue, deadline: number): void {
  const clock = q.kernel.clock;
  if (q.timeoutTimer !== null) {
    if (q.timeoutAt <= deadline) return;
    clock.cancel(q.timeoutTimer);
  }
  q.timeoutAt = deadline;
  q.timeoutTimer = clock.schedule(Math.max(0, deadline - clock.now()), () => timeoutWork(q));
}

function timeoutWork(q: RequestQueue): void {
  q.timeoutTimer = null;
  const now = q.kernel.clock.now();
  for (const rq of [...q.inFlight]) {
    if (rq.state === MQ_RQ_IN_FLIGHT && !rq.freed && rq.deadlineNs <= now) rqTimedOut(rq);
  }
  let next = Number.POSITIVE_INFINITY;
  for (const rq of q.inFlight) if (rq.state === MQ_RQ_IN_FLIGHT) next = Math.min(next, rq.deadlineNs);
  if (next !== Number.POSITIVE_INFINITY) armTimeout(q, next);
}

function rqTimedOut(rq: Request): void {
  const q = rq.q;
  q.stats.timeouts++;
  rq.rqFlags |= RQF_MQ_TIMEOUT_EXPIRED;
  const ret = q.mqOps?.timeout?.(rq, false) ?? BLK_EH_RESET_TIMER;
  if (ret === BLK_EH_HANDLED) {
    if (!rq.freed && rq.state === MQ_RQ_IN_FLIGHT) completeInFlight(rq);
  } else if (ret === BLK_EH_RESET_TIMER) {
    rq.deadlineNs = q.kernel.clock.now() + q.rqTimeoutNs;
  }
}

/**
 * Marks a request as taken by the driver: in flight, with its timeout armed.
 * @param rq a dispatched request (state `MQ_RQ_IDLE`). Starting it twice, or after it ended,
 *   is logged and ignored.
 * @kernel blk_mq_start_request
 */
export function blkMqStartRequest(rq: Request): void {
  const q = rq.q;
  if (rq.freed || rq.state !== MQ_RQ_IDLE) {
    q.kernel.log.printk(KERN_WARNING, `blk_mq_start_request: request ${rq.id} is not idle; ignored`);
    return;
  }
  rq.state = MQ_RQ_IN_FLIGHT;
  rq.deadlineNs = q.kernel.clock.now() + q.rqTimeoutNs;
  q.inFlight.add(rq);
  armTimeout(q, rq.deadlineNs);
}

function completeInFlight(rq: Request): void {
  rq.state = MQ_RQ_COMPLETE;
  const complete = rq.q.mqOps?.complete;
  if (complete !== undefined) complete(rq);
  else blkMqEndRequest(rq, rq.result);
}

/**
 * Completes a started request: calls the driver's `complete` operation, which ends it (without
 * one, the request ends with `rq.result`).
 * @param rq a request in flight. Completing one that is not (never started, already completed
 *   or timed out and handled) is logged and ignored.
 * @kernel blk_mq_complete_request
 */
export function blkMqCompleteRequest(rq: Request): void {
  if (rq.freed || rq.state !== MQ_RQ_IN_FLIGHT) {
    rq.q.kernel.log.printk(KERN_WARNING, `blk_mq_complete_request: request ${rq.id} is not in flight; ignored`);
    return;
  }
  completeInFlight(rq);
}

/**
 * Ends the bios of a request with a status (bios already carrying an error keep it).
 * @internal used by blk-mq and the flush machinery.
 */
export function blkMqEndRequestBios(rq: Request, status: BlkStatus): void {
  for (const bio of rq.bios) {
    if (status !== BLK_STS_OK) bio.status = status;
    bioEndio(bio);
  }
}

/** Frees a request: returns its tag, restarts and wakes waiters. */
function freeRequest(rq: Request): void {
  const q = rq.q;
  const h = rq.mqHctx;
  rq.freed = true;
  q.inFlight.delete(rq);
  if (q.inFlight.size === 0 && q.timeoutTimer !== null) {
    q.kernel.clock.cancel(q.timeoutTimer);
    q.timeoutTimer = null;
  }
  putDriverTag(rq, false);
  if (h.restart) {
    h.restart = false;
    blkMqRunHwQueue(h, false);
  }
  h.tags.wakeWaiters();
}

/**
 * Frees a request that never reached the driver.
 * @internal used by the flush machinery.
 */
export function blkMqFreeUnstartedRequest(rq: Request): void {
  if (!rq.freed) freeRequest(rq);
}

/**
 * Ends a request: logs `print_req_error` for an error (unless `RQF_QUIET`), ends every bio with
 * the status, and frees the request (its tag goes back; waiting requests are dispatched).
 * @param rq the request; ending one twice is logged and ignored.
 * @param status the status; a value that is not a `BlkStatus` is logged and replaced by
 *   `BLK_STS_IOERR`.
 * @kernel blk_mq_end_request
 */
export function blkMqEndRequest(rq: Request, status: BlkStatus): void {
  const q = rq.q;
  if (rq.freed) {
    q.kernel.log.printk(KERN_WARNING, `blk_mq_end_request: request ${rq.id} already ended; ignored`);
    return;
  }
  let st = status;
  if (!isBlkStatus(st)) {
    q.kernel.log.printk(KERN_WARNING, `blk_mq_end_request: ${String(st)} is not a blk_status_t; treated as BLK_STS_IOERR`);
    st = BLK_STS_IOERR;
  }
  rq.state = MQ_RQ_COMPLETE;
  q.stats.completed++;
  if (st !== BLK_STS_OK && (rq.rqFlags & RQF_QUIET) === 0) printReqError(rq, st);
  const endIo = rq.endIo;
  if ((rq.rqFlags & RQF_FLUSH_SEQ) === 0) blkMqEndRequestBios(rq, st);
  freeRequest(rq);
  endIo?.(rq, st);
}

/**
 * Gives a request the driver took back to blk-mq, to be issued again.
 * @param rq a dispatched request (started or not); one already ended is logged and ignored.
 * @param kickRequeueList run the hardware queue (from a zero-delay timer) afterwards.
 * @kernel blk_mq_requeue_request
 */
export function blkMqRequeueRequest(rq: Request, kickRequeueList: boolean): void {
  const q = rq.q;
  if (rq.freed) {
    q.kernel.log.printk(KERN_WARNING, `blk_mq_requeue_request: request ${rq.id} already ended; ignored`);
    return;
  }
  rq.state = MQ_RQ_IDLE;
  q.inFlight.delete(rq);
  putDriverTag(rq, false);
  rq.mqHctx.dispatch.push(rq);
  if (kickRequeueList) blkMqRunHwQueue(rq.mqHctx, true);
}

/**
 * Number of requests of a queue that hold a driver tag or wait for one.
 * @param q a blk-mq queue.
 * @returns the count (0 when the queue is drained).
 */
export function blkMqPendingCount(q: RequestQueue): number {
  let n = 0;
  for (const h of q.hctxs) n += h.dispatch.length + h.queued.length + h.nrActive;
  return n;
}
