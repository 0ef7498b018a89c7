/**
 * Plugging: a submitting task collects its requests on a plug and hands them to the hardware
 * queues together when it unplugs, so consecutive bios merge before any is issued.
 *
 * The model runs one submitting task per kernel; its current plug is per kernel. Nested
 * `blkStartPlug` calls are ignored (the outermost plug collects everything), as in the kernel.
 *
 * @kernel block/blk-core.c (blk_start_plug, blk_finish_plug, blk_flush_plug_list),
 *   block/blk-mq.c (blk_mq_flush_plug_list)
 */
import type { Kernel } from '@p2pdma/kernel';
import { blkMqFlushPlugList } from './blk-mq';
import { blkContext } from './internal/context';
import type { Request } from './request';

/** A single-queue device flushes the plug once it holds this many of its requests. @kernel BLK_MAX_REQUEST_COUNT */
export const BLK_MAX_REQUEST_COUNT = 16;
/** ... or once the last plugged request reaches this size (128 KiB). @kernel BLK_PLUG_FLUSH_SIZE */
export const BLK_PLUG_FLUSH_SIZE = 128 * 1024;

/**
 * A plug. Create one per submission batch; the requests on it belong to the block layer.
 * @kernel struct blk_plug
 */
export class BlkPlug {
  /** The kernel whose submitting task uses it. */
  readonly kernel: Kernel;
  /** Plugged requests, in submission order. @kernel mq_list */
  readonly mqList: Request[] = [];

  /** @param kernel the kernel. */
  constructor(kernel: Kernel) {
    this.kernel = kernel;
  }
}

/**
 * Starts plugging: until `blkFinishPlug`, the task's requests wait on `plug`. Ignored when the
 * task already has a plug.
 * @param plug the plug.
 * @kernel blk_start_plug
 */
export function blkStartPlug(plug: BlkPlug): void {
  const ctx = blkContext(plug.kernel);
  if (ctx.plug !== null) return;
  ctx.plug = plug;
}

/**
 * Issues everything on a plug now (the plug stays current).
 * @param plug the plug.
 * @kernel blk_flush_plug_list
 */
export function blkFlushPlugList(plug: BlkPlug): void {
  while (plug.mqList.length > 0) blkMqFlushPlugList(plug.mqList.splice(0));
}

/**
 * Stops plugging and issues the plugged requests. The plug stops being current first, so I/O
 * submitted by completions that run during the flush is issued directly.
 * @param plug the plug passed to `blkStartPlug` (for an ignored nested plug this just flushes
 *   its, empty, list).
 * @kernel blk_finish_plug
 */
export function blkFinishPlug(plug: BlkPlug): void {
  const ctx = blkContext(plug.kernel);
  if (ctx.plug === plug) ctx.plug = null;
  blkFlushPlugList(plug);
}

/**
 * The submitting task's current plug.
 * @param kernel the kernel.
 * @returns its submitting task's current plug, or `null`.
 * @kernel current->plug
 */
export function blkCurrentPlug(kernel: Kernel): BlkPlug | null {
  return blkContext(kernel).plug;
}
