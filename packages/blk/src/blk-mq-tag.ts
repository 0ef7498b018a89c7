/**
 * Tags: the per-hardware-queue numbers a driver uses to name its in-flight requests (NVMe
 * command ids are tags). A tag set allocates one `BlkMqTags` per hardware queue index, shared
 * by every queue of the set (all namespaces of one controller), so `queueDepth` bounds the
 * requests in flight per hardware queue across those queues.
 *
 * When every tag is taken, dispatch stops and the hardware context waits here; a freed tag
 * wakes every waiter, which runs its hardware queue again. Nothing is lost while waiting.
 *
 * @kernel block/blk-mq-tag.c (blk_mq_get_tag, blk_mq_put_tag, blk_mq_tag_to_rq)
 */
import { KernelBug } from '@p2pdma/kernel';
import type { Request } from './request';

/** The tag space of one hardware queue index. @kernel struct blk_mq_tags */
export class BlkMqTags {
  /** Number of tags. @kernel nr_tags */
  readonly depth: number;
  /** Tag → the request holding it. @kernel blk_mq_tags.rqs */
  readonly rqs: (Request | null)[];
  private readonly free: number[];
  private readonly waiters = new Set<() => void>();
  /** Most tags ever in use at once (a model statistic). */
  maxBusy = 0;

  /** @param depth number of tags (positive integer). */
  constructor(depth: number) {
    if (!Number.isSafeInteger(depth) || depth < 1) throw new KernelBug(`blk_mq_init_tags: bad depth ${depth}`);
    this.depth = depth;
    this.rqs = new Array<Request | null>(depth).fill(null);
    this.free = [];
    for (let t = depth - 1; t >= 0; t--) this.free.push(t);
  }

  /** Tags in use. */
  get busy(): number {
    return this.depth - this.free.length;
  }

  /**
   * Takes a free tag for a request: 0, 1, 2, … from a fresh set, then the most recently freed.
   * @param rq the request that will hold it.
   * @returns the tag, or -1 when all are in use (the kernel's `BLK_MQ_TAG_FAIL` for a
   *   non-blocking allocation).
   */
  get(rq: Request): number {
    const tag = this.free.pop();
    if (tag === undefined) return -1;
    this.rqs[tag] = rq;
    if (this.busy > this.maxBusy) this.maxBusy = this.busy;
    return tag;
  }

  /**
   * Returns a tag and wakes the waiters.
   * @param tag a tag in use.
   * @param wake whether to wake waiters (false while the owner itself will retry).
   * @throws KernelBug for a tag not in use.
   */
  put(tag: number, wake = true): void {
    if (!Number.isInteger(tag) || tag < 0 || tag >= this.depth || this.rqs[tag] === null) {
      throw new KernelBug(`blk_mq_put_tag: tag ${tag} is not in use`);
    }
    this.rqs[tag] = null;
    this.free.push(tag);
    if (wake) this.wakeWaiters();
  }

  /** Registers a one-shot callback for the next freed tag. */
  addWaiter(fn: () => void): void {
    this.waiters.add(fn);
  }

  /** Runs and forgets every waiter. */
  wakeWaiters(): void {
    if (this.waiters.size === 0) return;
    const list = [...this.waiters];
    this.waiters.clear();
    for (const fn of list) fn();
  }
}

/**
 * The request holding a tag.
 * @param tags the tag space (`hctx.tags`).
 * @param tag the tag (a driver's command id).
 * @returns the request, or `null` when the tag is out of range or not in use.
 * @kernel blk_mq_tag_to_rq
 */
export function blkMqTagToRq(tags: BlkMqTags, tag: number): Request | null {
  return tags.rqs[tag] ?? null;
}
