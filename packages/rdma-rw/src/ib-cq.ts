/**
 * Completion queues with the kernel's CQ API: the poll context decides who runs the completion
 * entries' `done` callbacks.
 *
 * - `IB_POLL_DIRECT`: completions wait in the queue until the owner polls (`ibPollCq` hands
 *   back raw completions; `ibProcessCqDirect` runs their callbacks). A queue holding `cqe`
 *   completions overruns: the next completion is dropped and logged (the kernel raises
 *   `IB_EVENT_CQ_ERR`).
 * - `IB_POLL_SOFTIRQ`, `IB_POLL_WORKQUEUE`: the CQ runs each completion's callback when the
 *   hardware produces it (on the kernel's virtual clock, at the completion's time).
 *
 * Callbacks follow `__ib_process_cq`: a completion without a completion entry (the unsignaled
 * work requests of an rw context) is dropped, with a one-time warning if it was a success.
 *
 * @kernel drivers/infiniband/core/cq.c (ib_alloc_cq, ib_free_cq, __ib_process_cq,
 *   ib_process_cq_direct), ib_poll_cq
 */
import type { NegErrno } from '@p2pdma/kernel';
import { err, WARN_ON } from '@p2pdma/kernel';
import type { IbDevice } from './ib-device';
import type { IbWc } from './ib-wc';
import { IB_WC_SUCCESS } from './ib-wc';

/** Completions are processed in softirq context as they arrive. @kernel IB_POLL_SOFTIRQ */
export const IB_POLL_SOFTIRQ = 0;
/** Completions are processed from a workqueue as they arrive. @kernel IB_POLL_WORKQUEUE */
export const IB_POLL_WORKQUEUE = 1;
/** Completions are processed only when the owner polls. @kernel IB_POLL_DIRECT */
export const IB_POLL_DIRECT = 3;

/** How a CQ's completions are processed. @kernel enum ib_poll_context */
export type IbPollContext = typeof IB_POLL_SOFTIRQ | typeof IB_POLL_WORKQUEUE | typeof IB_POLL_DIRECT;

/**
 * A completion queue.
 * @kernel struct ib_cq
 */
export class IbCq {
  /** QPs attached to it. @kernel ib_cq.usecnt */
  usecnt = 0;
  /** Completions dropped because a direct-polled queue was full. */
  overruns = 0;
  private readonly queue: IbWc[] = [];
  private dead = false;
  private warnedNoCqe = false;

  /**
   * @param device the device.
   * @param cqe capacity.
   * @param pollCtx the poll context.
   * @internal use `ibAllocCq`.
   */
  constructor(
    readonly device: IbDevice,
    readonly cqe: number,
    readonly pollCtx: IbPollContext,
  ) {}

  /** Whether `ibFreeCq` released it. */
  get freed(): boolean {
    return this.dead;
  }

  /** Completions waiting to be polled (direct CQs only). */
  get pending(): number {
    return this.queue.length;
  }

  /** @internal used by `ibFreeCq`. */
  markFreed(): void {
    this.dead = true;
  }

  /**
   * @internal Called by the transport when the hardware writes a completion.
   * @param wc the completion.
   */
  deliver(wc: IbWc): void {
    if (this.dead) return;
    if (this.pollCtx !== IB_POLL_DIRECT) {
      this.run(wc);
      return;
    }
    if (this.queue.length >= this.cqe) {
      this.overruns++;
      this.device.kernel.log.devErr(this.device.dev, `CQ overrun: completion dropped (cqe ${this.cqe})`);
      return;
    }
    this.queue.push(wc);
  }

  /** @internal takes up to `n` queued completions. */
  take(n: number): IbWc[] {
    return this.queue.splice(0, n);
  }

  /** @internal runs one completion's callback as `__ib_process_cq` does. */
  run(wc: IbWc): void {
    if (wc.wrCqe !== null) {
      wc.wrCqe.done(this, wc);
      return;
    }
    if (wc.status === IB_WC_SUCCESS && !this.warnedNoCqe) {
      this.warnedNoCqe = true;
      WARN_ON(this.device.kernel.log, true, `__ib_process_cq: ${this.device.name}: successful completion without a completion entry`);
    }
  }
}

/**
 * Allocates a completion queue.
 * @param device the RDMA device.
 * @param nrCqe capacity (1 … `attrs.maxCqe`).
 * @param pollCtx who processes completions.
 * @returns the CQ (the caller owns it until `ibFreeCq`), `-EINVAL` for a capacity out of
 *   range, `-ENODEV` for an unregistered device.
 * @kernel ib_alloc_cq
 */
export function ibAllocCq(device: IbDevice, nrCqe: number, pollCtx: IbPollContext): IbCq | NegErrno {
  if (!device.registered) return err('ENODEV');
  if (!Number.isSafeInteger(nrCqe) || nrCqe < 1 || nrCqe > device.attrs.maxCqe) return err('EINVAL');
  return new IbCq(device, nrCqe, pollCtx);
}

/**
 * Frees a completion queue. A CQ still attached to QPs is warned about and kept
 * (`WARN_ON_ONCE(atomic_read(&cq->usecnt))`).
 * @param cq the CQ.
 * @kernel ib_free_cq
 */
export function ibFreeCq(cq: IbCq): void {
  if (WARN_ON(cq.device.kernel.log, cq.usecnt !== 0, `ib_free_cq: ${cq.device.name} CQ still used by ${cq.usecnt} QP(s)`)) return;
  cq.markFreed();
}

/**
 * Takes up to `n` completions from a direct-polled CQ without running their callbacks.
 * @param cq the CQ.
 * @param n the most completions to return (≥ 0).
 * @returns the completions, oldest first (empty when none is ready; always empty for CQs whose
 *   completions are processed as they arrive).
 * @kernel ib_poll_cq
 */
export function ibPollCq(cq: IbCq, n: number): IbWc[] {
  return cq.take(Math.max(0, Math.floor(n)));
}

/**
 * Processes up to `budget` completions of a direct-polled CQ, running their callbacks.
 * @param cq the CQ (`IB_POLL_DIRECT`).
 * @param budget the most completions to process.
 * @returns the number processed.
 * @kernel ib_process_cq_direct
 */
export function ibProcessCqDirect(cq: IbCq, budget: number): number {
  const wcs = cq.take(Math.max(0, Math.floor(budget)));
  for (const wc of wcs) cq.run(wc);
  return wcs.length;
}
