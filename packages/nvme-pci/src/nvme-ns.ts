/**
 * A namespace as a block device: its request queue on the controller's tag set, its disk
 * `nvme<ctrl>n<nsid>`, and its LBA format.
 *
 * @kernel drivers/nvme/host/nvme.h (struct nvme_ns)
 */
import type { Disk, RequestQueue } from '@p2pdma/blk';
import type { NvmeCtrl } from './nvme-ctrl';

/**
 * One namespace block device.
 * @kernel struct nvme_ns
 */
export class NvmeNs {
  /**
   * @param ctrl the controller.
   * @param nsid namespace ID.
   * @param queue its request queue.
   * @param disk its disk.
   * @param lbaShift log2 of the logical block size.
   * @param capacitySectors size in 512-byte sectors.
   */
  constructor(
    readonly ctrl: NvmeCtrl,
    readonly nsid: number,
    readonly queue: RequestQueue,
    readonly disk: Disk,
    readonly lbaShift: number,
    readonly capacitySectors: number,
  ) {}

  /** Logical block size in bytes. */
  get lbaSize(): number {
    return 2 ** this.lbaShift;
  }

  /** Capacity in bytes. */
  get capacityBytes(): number {
    return this.capacitySectors * 512;
  }
}
