/**
 * Request queues: the per-disk object that receives bios, with its flags and limits.
 *
 * A queue is either request based (blk-mq: `blkMqInitQueue`, its bios become requests handed to
 * a driver's `queueRq`) or bio based (`blkAllocQueue` with a make-request function that takes
 * bios directly, as stacking and RAM drivers do). Queue flags are the 4.16 `QUEUE_FLAG_*` bit
 * numbers plus patch 05's `QUEUE_FLAG_PCI_P2PDMA` (30): "device supports pci p2p requests".
 *
 * @kernel include/linux/blkdev.h (struct request_queue, QUEUE_FLAG_*, blk_queue_*),
 *   block/blk-core.c (blk_alloc_queue, blk_cleanup_queue)
 */
import type { Kernel, TimerId } from '@p2pdma/kernel';
import { KernelBug } from '@p2pdma/kernel';
import type { Bio } from './bio';
import type { BlkMqHwCtx, BlkMqOps, BlkMqTagSet } from './blk-mq';
import type { QueueLimits } from './blk-settings';
import { blkSetDefaultLimits } from './blk-settings';
import type { Disk } from './genhd';
import { blkContext } from './internal/context';
import type { Request } from './request';

/** Uses generic tag queueing. @kernel QUEUE_FLAG_QUEUED */
export const QUEUE_FLAG_QUEUED = 0;
/** Queue is stopped. @kernel QUEUE_FLAG_STOPPED */
export const QUEUE_FLAG_STOPPED = 1;
/** Queue is being torn down: new bios fail. @kernel QUEUE_FLAG_DYING */
export const QUEUE_FLAG_DYING = 2;
/** Act as a dumb FIFO queue. @kernel QUEUE_FLAG_BYPASS */
export const QUEUE_FLAG_BYPASS = 3;
/** Supports bidirectional requests. @kernel QUEUE_FLAG_BIDI */
export const QUEUE_FLAG_BIDI = 4;
/** Disable merge attempts. @kernel QUEUE_FLAG_NOMERGES */
export const QUEUE_FLAG_NOMERGES = 5;
/** Complete on the submitting CPU group. @kernel QUEUE_FLAG_SAME_COMP */
export const QUEUE_FLAG_SAME_COMP = 6;
/** Fake timeouts (fault injection). @kernel QUEUE_FLAG_FAIL_IO */
export const QUEUE_FLAG_FAIL_IO = 7;
/** Non-rotational device (SSD). @kernel QUEUE_FLAG_NONROT */
export const QUEUE_FLAG_NONROT = 9;
/** Paravirtual device: the same bit as `QUEUE_FLAG_NONROT`. @kernel QUEUE_FLAG_VIRT */
export const QUEUE_FLAG_VIRT = QUEUE_FLAG_NONROT;
/** Do I/O statistics. @kernel QUEUE_FLAG_IO_STAT */
export const QUEUE_FLAG_IO_STAT = 10;
/** Supports DISCARD. @kernel QUEUE_FLAG_DISCARD */
export const QUEUE_FLAG_DISCARD = 11;
/** No extended merges (only one-hit merges). @kernel QUEUE_FLAG_NOXMERGES */
export const QUEUE_FLAG_NOXMERGES = 12;
/** Contributes to the random pool. @kernel QUEUE_FLAG_ADD_RANDOM */
export const QUEUE_FLAG_ADD_RANDOM = 13;
/** Supports secure erase. @kernel QUEUE_FLAG_SECERASE */
export const QUEUE_FLAG_SECERASE = 14;
/** Force completion on the submitting CPU. @kernel QUEUE_FLAG_SAME_FORCE */
export const QUEUE_FLAG_SAME_FORCE = 15;
/** Tear-down finished. @kernel QUEUE_FLAG_DEAD */
export const QUEUE_FLAG_DEAD = 16;
/** Queue is initialized. @kernel QUEUE_FLAG_INIT_DONE */
export const QUEUE_FLAG_INIT_DONE = 17;
/** Do not merge scatter-gather segments. @kernel QUEUE_FLAG_NO_SG_MERGE */
export const QUEUE_FLAG_NO_SG_MERGE = 18;
/** I/O polling enabled. @kernel QUEUE_FLAG_POLL */
export const QUEUE_FLAG_POLL = 19;
/** Volatile write-back cache: PREFLUSH/FUA are meaningful. @kernel QUEUE_FLAG_WC */
export const QUEUE_FLAG_WC = 20;
/** Device supports FUA writes natively. @kernel QUEUE_FLAG_FUA */
export const QUEUE_FLAG_FUA = 21;
/** Flush is not queueable. @kernel QUEUE_FLAG_FLUSH_NQ */
export const QUEUE_FLAG_FLUSH_NQ = 22;
/** Device supports DAX. @kernel QUEUE_FLAG_DAX */
export const QUEUE_FLAG_DAX = 23;
/** Track request completion times. @kernel QUEUE_FLAG_STATS */
export const QUEUE_FLAG_STATS = 24;
/** Collecting statistics for hybrid polling. @kernel QUEUE_FLAG_POLL_STATS */
export const QUEUE_FLAG_POLL_STATS = 25;
/** Registered to a disk. @kernel QUEUE_FLAG_REGISTERED */
export const QUEUE_FLAG_REGISTERED = 26;
/** Supports SCSI passthrough commands. @kernel QUEUE_FLAG_SCSI_PASSTHROUGH */
export const QUEUE_FLAG_SCSI_PASSTHROUGH = 27;
/** Queue has been quiesced. @kernel QUEUE_FLAG_QUIESCED */
export const QUEUE_FLAG_QUIESCED = 28;
/** Only process REQ_PREEMPT requests. @kernel QUEUE_FLAG_PREEMPT_ONLY */
export const QUEUE_FLAG_PREEMPT_ONLY = 29;
/**
 * The device supports requests to and from PCI P2P memory (patch 05/10). Without it, a bio
 * carrying `REQ_PCI_P2PDMA` ends with `BLK_STS_NOTSUPP` at submission.
 * @kernel QUEUE_FLAG_PCI_P2PDMA
 */
export const QUEUE_FLAG_PCI_P2PDMA = 30;

/** A queue flag bit number. @kernel QUEUE_FLAG_* */
export type QueueFlag =
  | typeof QUEUE_FLAG_QUEUED
  | typeof QUEUE_FLAG_STOPPED
  | typeof QUEUE_FLAG_DYING
  | typeof QUEUE_FLAG_BYPASS
  | typeof QUEUE_FLAG_BIDI
  | typeof QUEUE_FLAG_NOMERGES
  | typeof QUEUE_FLAG_SAME_COMP
  | typeof QUEUE_FLAG_FAIL_IO
  | typeof QUEUE_FLAG_NONROT
  | typeof QUEUE_FLAG_IO_STAT
  | typeof QUEUE_FLAG_DISCARD
  | typeof QUEUE_FLAG_NOXMERGES
  | typeof QUEUE_FLAG_ADD_RANDOM
  | typeof QUEUE_FLAG_SECERASE
  | typeof QUEUE_FLAG_SAME_FORCE
  | typeof QUEUE_FLAG_DEAD
  | typeof QUEUE_FLAG_INIT_DONE
  | typeof QUEUE_FLAG_NO_SG_MERGE
  | typeof QUEUE_FLAG_POLL
  | typeof QUEUE_FLAG_WC
  | typeof QUEUE_FLAG_FUA
  | typeof QUEUE_FLAG_FLUSH_NQ
  | typeof QUEUE_FLAG_DAX
  | typeof QUEUE_FLAG_STATS
  | typeof QUEUE_FLAG_POLL_STATS
  | typeof QUEUE_FLAG_REGISTERED
  | typeof QUEUE_FLAG_SCSI_PASSTHROUGH
  | typeof QUEUE_FLAG_QUIESCED
  | typeof QUEUE_FLAG_PREEMPT_ONLY
  | typeof QUEUE_FLAG_PCI_P2PDMA;

/** Flag bit → kernel name (bit 8 is unused in 4.16). */
export const QUEUE_FLAG_NAMES: Readonly<Record<QueueFlag, string>> = Object.freeze({
  [QUEUE_FLAG_QUEUED]: 'QUEUE_FLAG_QUEUED',
  [QUEUE_FLAG_STOPPED]: 'QUEUE_FLAG_STOPPED',
  [QUEUE_FLAG_DYING]: 'QUEUE_FLAG_DYING',
  [QUEUE_FLAG_BYPASS]: 'QUEUE_FLAG_BYPASS',
  [QUEUE_FLAG_BIDI]: 'QUEUE_FLAG_BIDI',
  [QUEUE_FLAG_NOMERGES]: 'QUEUE_FLAG_NOMERGES',
  [QUEUE_FLAG_SAME_COMP]: 'QUEUE_FLAG_SAME_COMP',
  [QUEUE_FLAG_FAIL_IO]: 'QUEUE_FLAG_FAIL_IO',
  [QUEUE_FLAG_NONROT]: 'QUEUE_FLAG_NONROT',
  [QUEUE_FLAG_IO_STAT]: 'QUEUE_FLAG_IO_STAT',
  [QUEUE_FLAG_DISCARD]: 'QUEUE_FLAG_DISCARD',
  [QUEUE_FLAG_NOXMERGES]: 'QUEUE_FLAG_NOXMERGES',
  [QUEUE_FLAG_ADD_RANDOM]: 'QUEUE_FLAG_ADD_RANDOM',
  [QUEUE_FLAG_SECERASE]: 'QUEUE_FLAG_SECERASE',
  [QUEUE_FLAG_SAME_FORCE]: 'QUEUE_FLAG_SAME_FORCE',
  [QUEUE_FLAG_DEAD]: 'QUEUE_FLAG_DEAD',
  [QUEUE_FLAG_INIT_DONE]: 'QUEUE_FLAG_INIT_DONE',
  [QUEUE_FLAG_NO_SG_MERGE]: 'QUEUE_FLAG_NO_SG_MERGE',
  [QUEUE_FLAG_POLL]: 'QUEUE_FLAG_POLL',
  [QUEUE_FLAG_WC]: 'QUEUE_FLAG_WC',
  [QUEUE_FLAG_FUA]: 'QUEUE_FLAG_FUA',
  [QUEUE_FLAG_FLUSH_NQ]: 'QUEUE_FLAG_FLUSH_NQ',
  [QUEUE_FLAG_DAX]: 'QUEUE_FLAG_DAX',
  [QUEUE_FLAG_STATS]: 'QUEUE_FLAG_STATS',
  [QUEUE_FLAG_POLL_STATS]: 'QUEUE_FLAG_POLL_STATS',
  [QUEUE_FLAG_REGISTERED]: 'QUEUE_FLAG_REGISTERED',
  [QUEUE_FLAG_SCSI_PASSTHROUGH]: 'QUEUE_FLAG_SCSI_PASSTHROUGH',
  [QUEUE_FLAG_QUIESCED]: 'QUEUE_FLAG_QUIESCED',
  [QUEUE_FLAG_PREEMPT_ONLY]: 'QUEUE_FLAG_PREEMPT_ONLY',
  [QUEUE_FLAG_PCI_P2PDMA]: 'QUEUE_FLAG_PCI_P2PDMA',
});

/** Flags of a new bio-based queue: IO_STAT, SAME_COMP, ADD_RANDOM. @kernel QUEUE_FLAG_DEFAULT */
export const QUEUE_FLAG_DEFAULT = (1 << QUEUE_FLAG_IO_STAT) | (1 << QUEUE_FLAG_SAME_COMP) | (1 << QUEUE_FLAG_ADD_RANDOM);
/** Flags of a new blk-mq queue: IO_STAT, SAME_COMP, POLL. @kernel QUEUE_FLAG_MQ_DEFAULT */
export const QUEUE_FLAG_MQ_DEFAULT = (1 << QUEUE_FLAG_IO_STAT) | (1 << QUEUE_FLAG_SAME_COMP) | (1 << QUEUE_FLAG_POLL);

/**
 * A bio-based driver's entry point: takes ownership of the bio and ends it (`bioEndio`), now or
 * later.
 * @kernel make_request_fn
 */
export type MakeRequestFn = (q: RequestQueue, bio: Bio) => void;

/** Counters a queue keeps (the model's view of /sys/block/<disk>/stat and debugfs). */
export interface QueueStats {
  /** Bios that passed the submission checks and reached the queue. */
  bios: number;
  /** Bios ended by the submission checks (never reached the queue). */
  bioRejected: number;
  /** Bios split to fit the limits. */
  splits: number;
  /** Requests allocated. */
  requests: number;
  /** Bios merged onto the back of a request. */
  backMerges: number;
  /** Bios merged onto the front of a request. */
  frontMerges: number;
  /** `queueRq` calls (including ones answered with a busy status). */
  dispatches: number;
  /** Dispatches answered with `BLK_STS_RESOURCE` or `BLK_STS_DEV_RESOURCE`. */
  busy: number;
  /** Requests ended (any status). */
  completed: number;
  /** Requests that timed out. */
  timeouts: number;
}

/**
 * A request queue. Create it with `blkMqInitQueue` (request based) or `blkAllocQueue` (bio
 * based), never directly.
 * @kernel struct request_queue
 */
export class RequestQueue {
  /** The kernel. */
  readonly kernel: Kernel;
  /** Queue id, unique per kernel. @kernel request_queue.id */
  readonly id: number;
  /** `QUEUE_FLAG_*` bits; use `blkQueueFlagSet/Clear/Test`. @kernel queue_flags */
  queueFlags: number;
  /** The limits; change them with the `blkQueue*` setters. @kernel request_queue.limits */
  readonly limits: QueueLimits;
  /** The driver's blk-mq operations, `null` for a bio-based queue. @kernel mq_ops */
  mqOps: BlkMqOps | null = null;
  /** The tag set, `null` for a bio-based queue. @kernel tag_set */
  tagSet: BlkMqTagSet | null = null;
  /** Hardware contexts, one per hardware queue (empty for bio-based). @kernel queue_hw_ctx */
  readonly hctxs: BlkMqHwCtx[] = [];
  /** Where bios go after the submission checks. @kernel make_request_fn */
  makeRequestFn: MakeRequestFn;
  /** The disk, set by `new Disk(name, q)`. @kernel request_queue's gendisk */
  disk: Disk | null = null;
  /** The driver's private data. @kernel queuedata */
  queuedata: unknown = null;
  /** Request timeout in ns (`blkQueueRqTimeout`). @kernel rq_timeout */
  rqTimeoutNs: number;
  /** Counters. */
  readonly stats: QueueStats = {
    bios: 0,
    bioRejected: 0,
    splits: 0,
    requests: 0,
    backMerges: 0,
    frontMerges: 0,
    dispatches: 0,
    busy: 0,
    completed: 0,
    timeouts: 0,
  };
  /** @internal started requests, for the timeout scan. */
  readonly inFlight = new Set<Request>();
  /** @internal the queue's timeout timer (`q->timeout`). */
  timeoutTimer: TimerId | null = null;
  /** @internal when `timeoutTimer` fires. */
  timeoutAt = 0;

  /**
   * @param kernel the kernel.
   * @param makeRequestFn where checked bios go.
   * @param flags initial `QUEUE_FLAG_*` bits.
   * @param rqTimeoutNs request timeout.
   * @internal use `blkAllocQueue` or `blkMqInitQueue`.
   */
  constructor(kernel: Kernel, makeRequestFn: MakeRequestFn, flags: number, rqTimeoutNs: number) {
    this.kernel = kernel;
    this.id = blkContext(kernel).nextQueueId++;
    this.queueFlags = flags;
    this.limits = blkSetDefaultLimits();
    this.makeRequestFn = makeRequestFn;
    this.rqTimeoutNs = rqTimeoutNs;
  }

  /** Number of hardware queues (0 for a bio-based queue). @kernel nr_hw_queues */
  get nrHwQueues(): number {
    return this.hctxs.length;
  }
}

/** Default request timeout: 30 s. @kernel 30 * HZ (blk_mq_init_allocated_queue) */
export const BLK_DEFAULT_TIMEOUT_NS = 30_000_000_000;

/**
 * Allocates a bio-based queue: bios that pass the submission checks go straight to `fn`.
 * @param kernel the kernel.
 * @param fn the driver's make-request function.
 * @returns the queue (flags `QUEUE_FLAG_DEFAULT`, default limits). The caller owns it and
 *   tears it down with `blkCleanupQueue`.
 * @kernel blk_alloc_queue + blk_queue_make_request
 */
export function blkAllocQueue(kernel: Kernel, fn: MakeRequestFn): RequestQueue {
  return new RequestQueue(kernel, fn, QUEUE_FLAG_DEFAULT, BLK_DEFAULT_TIMEOUT_NS);
}

function checkFlag(flag: number, fn: string): asserts flag is QueueFlag {
  if (!Object.hasOwn(QUEUE_FLAG_NAMES, flag)) throw new KernelBug(`${fn}: ${flag} is not a QUEUE_FLAG_* bit`);
}

/**
 * Sets a queue flag.
 * @param flag the flag.
 * @param q the queue.
 * @throws KernelBug for a number that is not a `QUEUE_FLAG_*` bit.
 * @kernel blk_queue_flag_set / queue_flag_set_unlocked
 */
export function blkQueueFlagSet(flag: QueueFlag, q: RequestQueue): void {
  checkFlag(flag, 'blk_queue_flag_set');
  q.queueFlags = (q.queueFlags | (1 << flag)) >>> 0;
}

/**
 * Clears a queue flag.
 * @param flag the flag.
 * @param q the queue.
 * @throws KernelBug for a number that is not a `QUEUE_FLAG_*` bit.
 * @kernel blk_queue_flag_clear / queue_flag_clear_unlocked
 */
export function blkQueueFlagClear(flag: QueueFlag, q: RequestQueue): void {
  checkFlag(flag, 'blk_queue_flag_clear');
  q.queueFlags = (q.queueFlags & ~(1 << flag)) >>> 0;
}

/**
 * Tests a queue flag.
 * @param flag the flag.
 * @param q the queue.
 * @returns whether it is set.
 * @throws KernelBug for a number that is not a `QUEUE_FLAG_*` bit.
 * @kernel test_bit(flag, &q->queue_flags)
 */
export function blkQueueFlagTest(flag: QueueFlag, q: RequestQueue): boolean {
  checkFlag(flag, 'blk_queue_flag_test');
  return (q.queueFlags & (1 << flag)) !== 0;
}

/**
 * Whether a queue accepts PCI P2P memory (patch 05/10).
 * @param q a queue.
 * @returns whether `QUEUE_FLAG_PCI_P2PDMA` is set.
 * @kernel blk_queue_pci_p2pdma
 */
export function blkQueuePciP2pdma(q: RequestQueue): boolean {
  return blkQueueFlagTest(QUEUE_FLAG_PCI_P2PDMA, q);
}

/**
 * Whether merging is disabled on a queue.
 * @param q a queue.
 * @returns whether `QUEUE_FLAG_NOMERGES` is set.
 * @kernel blk_queue_nomerges
 */
export function blkQueueNomerges(q: RequestQueue): boolean {
  return blkQueueFlagTest(QUEUE_FLAG_NOMERGES, q);
}

/**
 * Whether a queue's device is non-rotational.
 * @param q a queue.
 * @returns whether `QUEUE_FLAG_NONROT` is set.
 * @kernel blk_queue_nonrot
 */
export function blkQueueNonrot(q: RequestQueue): boolean {
  return blkQueueFlagTest(QUEUE_FLAG_NONROT, q);
}

/**
 * Whether a queue supports DISCARD.
 * @param q a queue.
 * @returns whether `QUEUE_FLAG_DISCARD` is set.
 * @kernel blk_queue_discard
 */
export function blkQueueDiscard(q: RequestQueue): boolean {
  return blkQueueFlagTest(QUEUE_FLAG_DISCARD, q);
}

/**
 * Whether a queue is being torn down.
 * @param q a queue.
 * @returns whether `QUEUE_FLAG_DYING` is set.
 * @kernel blk_queue_dying
 */
export function blkQueueDying(q: RequestQueue): boolean {
  return blkQueueFlagTest(QUEUE_FLAG_DYING, q);
}

/**
 * Whether a queue is request based.
 * @param q a queue.
 * @returns whether it turns bios into requests (blk-mq).
 * @kernel queue_is_rq_based
 */
export function queueIsRqBased(q: RequestQueue): boolean {
  return q.mqOps !== null;
}
