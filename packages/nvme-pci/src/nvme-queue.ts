/**
 * The driver's queue pairs: allocation (the completion queue in coherent host memory, the
 * submission queue in the CMB's p2pmem when allowed, else host memory), submission (copy the
 * entry, ring the tail doorbell), completion processing (phase tags, request completion, head
 * doorbell) and the interrupt handler.
 *
 * Patch 07 moved I/O SQs into p2pmem: `nvmeAllocSqCmds` takes them from the CMB pool for
 * `qid != 0` when `cmb_use_sqes` and CMBSZ.SQS allow, and falls back to host memory when the
 * pool cannot give the queue. An SQE copy into the CMB is a CPU store to write-combining
 * device memory; the doorbell `writel` orders it first (see `internal/io-accessors`).
 *
 * @kernel drivers/nvme/host/pci.c (struct nvme_queue, nvme_alloc_queue, nvme_alloc_sq_cmds,
 *   nvme_free_queue, __nvme_submit_cmd, nvme_process_cq, nvme_handle_cqe, nvme_irq)
 */
import type { DmaCoherent, KResult } from '@p2pdma/kernel';
import { dmaAllocCoherent, dmaFreeCoherent, err, virtToPhys } from '@p2pdma/kernel';
import { blkMqCompleteRequest, blkMqTagToRq } from '@p2pdma/blk';
import { pciAllocP2pmem, pciFreeP2pmem, pciP2pmemVirtToBus } from '@p2pdma/p2pdma';
import { memcpyToWc, writel, writelRelaxed } from './internal/io-accessors';
import type { NvmeCommand } from './nvme-command';
import { NVME_CQE_SIZE, NVME_SQE_SIZE, nvmeDecodeCompletion, nvmeEncodeCommand } from './nvme-command';
import type { NvmeRequest } from './nvme-core';
import type { NvmeDev } from './nvme-dev';
import { NVME_CMBSZ_SQS, NVME_REG_DBS } from './nvme-regs';
import type { NvmeStatus } from './nvme-status';

/** Bytes of a submission queue of `depth` entries. @kernel SQ_SIZE */
export function SQ_SIZE(depth: number): number {
  return depth * NVME_SQE_SIZE;
}
/** Bytes of a completion queue of `depth` entries. @kernel CQ_SIZE */
export function CQ_SIZE(depth: number): number {
  return depth * NVME_CQE_SIZE;
}

/** An admin command waiting for its completion. */
export interface AdminWaiter {
  /** The completion arrived. */
  done: boolean;
  /** Its status. */
  status: NvmeStatus;
  /** Its DW0. */
  result: number;
}

/**
 * One queue pair.
 * @kernel struct nvme_queue
 */
export class NvmeQueue {
  /** Submission queue CPU address (linear map or p2pmem). @kernel sq_cmds */
  sqCmds = 0;
  /** Submission queue DMA address given to the controller. @kernel sq_dma_addr */
  sqDmaAddr = 0;
  /** The SQ lives in the CMB (p2pmem). @kernel sq_cmds_is_io */
  sqCmdsIsIo = false;
  /** @kernel sq_tail */
  sqTail = 0;
  /** @kernel cq_head */
  cqHead = 0;
  /** @kernel cq_phase */
  cqPhase = 1;
  /** MSI-X vector, -1 while not set up. @kernel cq_vector */
  cqVector = -1;
  /** Admin commands waiting, by command id. */
  readonly adminWaiters = new Map<number, AdminWaiter>();

  /**
   * @param dev the device.
   * @param qid queue id.
   * @param qDepth entries.
   * @param cq the completion queue's coherent memory.
   */
  constructor(
    readonly dev: NvmeDev,
    readonly qid: number,
    readonly qDepth: number,
    readonly cq: DmaCoherent,
  ) {}

  /** The interrupt action name (`nvme0q1`). */
  get irqName(): string {
    return `nvme${this.dev.ctrl.instance}q${this.qid}`;
  }

  /** CPU physical address of the SQ tail doorbell. @kernel q_db */
  get sqDoorbell(): number {
    return this.dev.bar + NVME_REG_DBS + this.qid * 2 * this.dev.dbStride * 4;
  }

  /** CPU physical address of the CQ head doorbell. @kernel q_db + db_stride */
  get cqDoorbell(): number {
    return this.sqDoorbell + this.dev.dbStride * 4;
  }
}

/**
 * Allocates a submission queue: from the CMB's p2pmem for an I/O queue when `cmb_use_sqes`
 * and CMBSZ.SQS allow and the pool has room (6.6 also requires a non-zero bus address), else
 * coherent host memory.
 * @param dev the device.
 * @param q the queue (its `sqCmds`, `sqDmaAddr`, `sqCmdsIsIo` are set).
 * @param qid queue id.
 * @param depth entries.
 * @returns `0`, or `-ENOMEM` when host memory runs out too.
 * @kernel nvme_alloc_sq_cmds (seed patch 07; 6.6)
 */
export function nvmeAllocSqCmds(dev: NvmeDev, q: NvmeQueue, qid: number, depth: number): KResult {
  const pdev = dev.pdev;
  if (qid !== 0 && dev.cmbUseSqes && (dev.cmbsz & NVME_CMBSZ_SQS) !== 0) {
    const virt = pciAllocP2pmem(pdev, SQ_SIZE(depth));
    if (virt !== null) {
      const bus = pciP2pmemVirtToBus(pdev, virt);
      if (bus > 0 || !dev.policy.sqCmbChecksBusAddr) {
        q.sqCmds = virt;
        q.sqDmaAddr = bus;
        q.sqCmdsIsIo = true;
        return 0;
      }
      pciFreeP2pmem(pdev, virt, SQ_SIZE(depth));
    }
  }
  const mem = dmaAllocCoherent(pdev, SQ_SIZE(depth));
  if (mem === null) return err('ENOMEM');
  q.sqCmds = mem.virt;
  q.sqDmaAddr = mem.dmaHandle;
  q.sqCmdsIsIo = false;
  return 0;
}

/**
 * Allocates a queue pair (the CQ zeroed, the SQ per `nvmeAllocSqCmds`) and records it.
 * @param dev the device.
 * @param qid queue id (the next one).
 * @param depth entries.
 * @returns the queue, or `null` when memory runs out (nothing is kept).
 * @kernel nvme_alloc_queue
 */
export function nvmeAllocQueue(dev: NvmeDev, qid: number, depth: number): NvmeQueue | null {
  const cq = dmaAllocCoherent(dev.pdev, CQ_SIZE(depth));
  if (cq === null) return null;
  const q = new NvmeQueue(dev, qid, depth, cq);
  if (nvmeAllocSqCmds(dev, q, qid, depth) !== 0) {
    dmaFreeCoherent(dev.pdev, CQ_SIZE(depth), cq.virt, cq.dmaHandle);
    return null;
  }
  dev.queues[qid] = q;
  return q;
}

/**
 * Frees a queue pair's memory: the SQ back to p2pmem or coherent memory, as allocated.
 * @param q the queue.
 * @kernel nvme_free_queue (seed patch 07)
 */
export function nvmeFreeQueue(q: NvmeQueue): void {
  const pdev = q.dev.pdev;
  dmaFreeCoherent(pdev, CQ_SIZE(q.qDepth), q.cq.virt, q.cq.dmaHandle);
  if (q.sqCmds !== 0) {
    if (q.sqCmdsIsIo) pciFreeP2pmem(pdev, q.sqCmds, SQ_SIZE(q.qDepth));
    else dmaFreeCoherent(pdev, SQ_SIZE(q.qDepth), q.sqCmds, q.sqDmaAddr);
    q.sqCmds = 0;
  }
}

/**
 * Resets a queue's indices and clears its completion entries before the controller uses it.
 * @param q the queue.
 * @kernel nvme_init_queue
 */
export function nvmeInitQueue(q: NvmeQueue): void {
  q.sqTail = 0;
  q.cqHead = 0;
  q.cqPhase = 1;
  q.dev.kernel.memory.ramZero(virtToPhys(q.cq.virt), CQ_SIZE(q.qDepth));
}

/**
 * Copies a command into the next SQ slot and rings the tail doorbell. Host-memory SQs take a
 * plain (coherent) copy; a CMB SQ takes write-combining stores that the doorbell's `writel`
 * orders first (or, with `sqDoorbell: 'relaxed'`, may not).
 * @param q the queue.
 * @param cmd the command.
 * @kernel __nvme_submit_cmd (seed patch 07)
 */
export function nvmeSubmitCmd(q: NvmeQueue, cmd: NvmeCommand): void {
  const kernel = q.dev.kernel;
  const bytes = nvmeEncodeCommand(cmd);
  const slot = virtToPhys(q.sqCmds) + q.sqTail * NVME_SQE_SIZE;
  if (q.sqCmdsIsIo) memcpyToWc(kernel, slot, bytes);
  else kernel.memory.ramWrite(slot, bytes);
  q.sqTail = q.sqTail + 1 === q.qDepth ? 0 : q.sqTail + 1;
  if (q.dev.params.sqDoorbell === 'writel') writel(kernel, q.sqDoorbell, q.sqTail);
  else writelRelaxed(kernel, q.sqDoorbell, q.sqTail);
}

function handleCqe(q: NvmeQueue, cqeBytes: Uint8Array): void {
  const c = nvmeDecodeCompletion(cqeBytes);
  const dev = q.dev;
  if (q.qid === 0) {
    const w = q.adminWaiters.get(c.commandId);
    if (w === undefined) {
      dev.stats.invalidCompletions++;
      dev.kernel.log.devWarn(dev.ctrl.device, `invalid id ${c.commandId} completed on queue ${c.sqId}`);
      return;
    }
    q.adminWaiters.delete(c.commandId);
    w.done = true;
    w.status = c.status;
    w.result = c.result;
    return;
  }
  const tags = dev.tagset?.tags[q.qid - 1];
  const rq = c.commandId < q.qDepth && tags !== undefined ? blkMqTagToRq(tags, c.commandId) : null;
  if (rq === null) {
    dev.stats.invalidCompletions++;
    dev.kernel.log.devWarn(dev.ctrl.device, `invalid id ${c.commandId} completed on queue ${c.sqId}`);
    return;
  }
  const nreq = rq.pdu as NvmeRequest;
  nreq.status = c.status;
  nreq.result = c.result;
  blkMqCompleteRequest(rq);
}

/**
 * Consumes every new completion entry (matching phase), completes its request or admin
 * command, then writes the CQ head doorbell.
 * @param q the queue.
 * @returns the number of entries consumed.
 * @kernel nvme_process_cq / nvme_handle_cqe (4.16)
 */
export function nvmeProcessCq(q: NvmeQueue): number {
  const kernel = q.dev.kernel;
  const base = virtToPhys(q.cq.virt);
  const entry = new Uint8Array(NVME_CQE_SIZE);
  let n = 0;
  for (;;) {
    kernel.memory.ramRead(base + q.cqHead * NVME_CQE_SIZE, NVME_CQE_SIZE, entry);
    const phase = entry[14]! & 1;
    if (phase !== q.cqPhase) break;
    if (++q.cqHead === q.qDepth) {
      q.cqHead = 0;
      q.cqPhase ^= 1;
    }
    n++;
    // handleCqe decodes the entry before anything else runs, so the buffer is reused as is.
    handleCqe(q, entry);
  }
  if (n > 0) writel(kernel, q.cqDoorbell, q.cqHead);
  return n;
}

/**
 * The queue's interrupt handler.
 * @param q the queue.
 * @kernel nvme_irq
 */
export function nvmeIrq(q: NvmeQueue): void {
  if (q.cqVector < 0) return;
  nvmeProcessCq(q);
}
