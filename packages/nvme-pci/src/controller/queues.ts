/**
 * Submission and completion queues as the controller tracks them: base DMA address, size,
 * head and tail, the completion queue's phase tag and interrupt vector.
 *
 * @kernel (hardware) NVMe 1.3 section 4.1 (submission and completion queues)
 */
import type { TimerId } from '@p2pdma/kernel';

/** A submission queue. */
export class NvmeSubmissionQueue {
  /** Consumer index: the next entry the controller fetches. */
  head = 0;
  /** Producer index, from the tail doorbell. */
  tail = 0;
  /** Waiting for room in its completion queue. */
  blocked = false;
  /** Pending delayed processing. */
  timer: TimerId | null = null;

  /**
   * @param qid queue id (0: admin).
   * @param base DMA address of entry 0.
   * @param size entries.
   * @param cqid the completion queue it posts to.
   * @param prio arbitration priority (QPRIO).
   */
  constructor(
    readonly qid: number,
    readonly base: number,
    readonly size: number,
    readonly cqid: number,
    readonly prio: number,
  ) {}

  /** Entries submitted and not yet fetched. */
  get pending(): number {
    return (this.tail - this.head + this.size) % this.size;
  }
}

/** A completion queue. */
export class NvmeCompletionQueue {
  /** Consumer index, from the head doorbell. */
  head = 0;
  /** Producer index: where the next entry goes. */
  tail = 0;
  /** Phase tag of entries being posted (starts at 1, flips on each wrap). */
  phase = 1;
  /** Submission queues posting here. */
  readonly sqs = new Set<number>();

  /**
   * @param qid queue id.
   * @param base DMA address of entry 0.
   * @param size entries.
   * @param iv MSI-X vector.
   * @param ien interrupts enabled.
   */
  constructor(
    readonly qid: number,
    readonly base: number,
    readonly size: number,
    readonly iv: number,
    readonly ien: boolean,
  ) {}

  /** Whether posting one more entry would overrun the host's head. */
  get full(): boolean {
    return (this.tail + 1) % this.size === this.head;
  }

  /** Entries posted and not yet consumed by the host. */
  get outstanding(): number {
    return (this.tail - this.head + this.size) % this.size;
  }
}
