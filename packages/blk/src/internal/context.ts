/**
 * Per-kernel block layer state that the kernel keeps in `current` (the submitting task) or in
 * globals: the task's plug, the bios queued while `generic_make_request` is active, the CPU
 * the task runs on, and the queue id allocator.
 *
 * The model runs one submitting task per kernel, so this state hangs off the `Kernel` object
 * (a `WeakMap` keyed by kernel: two kernels never share it, and it dies with its kernel).
 *
 * @kernel current->plug, current->bio_list, raw_smp_processor_id(), blk_queue_ida
 */
import type { Kernel } from '@p2pdma/kernel';
import type { Bio } from '../bio';
import type { BlkPlug } from '../blk-plug';

/** The block layer state of one kernel. */
export interface BlkContext {
  /** The task's plug, or `null` (`current->plug`). */
  plug: BlkPlug | null;
  /** Bios submitted while `generic_make_request` is running (`current->bio_list`), or `null`. */
  bioList: Bio[] | null;
  /** The CPU the submitting task runs on (picks the hardware queue). */
  cpu: number;
  /** Next request queue id. */
  nextQueueId: number;
  /** Next request id (the model's debugging handle). */
  nextRequestId: number;
}

const contexts = new WeakMap<Kernel, BlkContext>();

/**
 * @param kernel the kernel.
 * @returns its block layer state, created on first use.
 */
export function blkContext(kernel: Kernel): BlkContext {
  let c = contexts.get(kernel);
  if (c === undefined) {
    c = { plug: null, bioList: null, cpu: 0, nextQueueId: 0, nextRequestId: 1 };
    contexts.set(kernel, c);
  }
  return c;
}
