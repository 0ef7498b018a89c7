/**
 * Block device nodes: the `/dev/<disk>` paths a namespace's `device_path` names, and opening
 * one (`blkdev_get_by_path`). A driver (or a test) publishes a disk here once it exists; the
 * target opens it by path when a namespace is enabled.
 *
 * The kernel finds the node through the VFS (devtmpfs, `lookup_bdev`); the model keeps one
 * table per kernel instead, because the block layer package has no device-node tree. A path
 * that is not in the table is `-ENOENT`, as for a missing node.
 *
 * @kernel fs/block_dev.c (blkdev_get_by_path, lookup_bdev), include/linux/genhd.h (disk_to_dev)
 */
import type { Device, Kernel, KResult, NegErrno } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import type { Disk } from '@p2pdma/blk';
import { getCapacity, queueLogicalBlockSize, SECTOR_SIZE } from '@p2pdma/blk';

/**
 * An openable block device.
 * @kernel struct block_device
 */
export interface BlockDevice {
  /** The node path (`/dev/nvme0n1`). */
  readonly path: string;
  /** The disk (its queue carries the flags and limits). @kernel block_device.bd_disk */
  readonly disk: Disk;
  /**
   * The disk's `struct device` (the namespace's DMA client for P2PDMA: its parent chain leads to
   * the PCI function, if any). @kernel disk_to_dev(bd_disk)
   */
  readonly device: Device;
}

const tables = new WeakMap<Kernel, Map<string, BlockDevice>>();

function table(kernel: Kernel): Map<string, BlockDevice> {
  let t = tables.get(kernel);
  if (t === undefined) {
    t = new Map();
    tables.set(kernel, t);
  }
  return t;
}

/**
 * Publishes a disk's device node.
 * @param kernel the kernel.
 * @param disk the disk.
 * @param device the disk's device (`disk_to_dev`).
 * @param path the node path (default `/dev/<disk name>`).
 * @returns `0`, or `-EEXIST` when the path is taken (nothing changes).
 * @kernel device_add_disk (the devtmpfs node it creates)
 */
export function blkdevRegister(kernel: Kernel, disk: Disk, device: Device, path = `/dev/${disk.diskName}`): KResult {
  const t = table(kernel);
  if (t.has(path)) return err('EEXIST');
  t.set(path, { path, disk, device });
  return 0;
}

/**
 * Removes a device node (open users keep their `BlockDevice`).
 * @param kernel the kernel.
 * @param path the node path.
 * @returns `0`, or `-ENOENT` for an unknown path.
 * @kernel del_gendisk (the node it removes)
 */
export function blkdevUnregister(kernel: Kernel, path: string): KResult {
  return table(kernel).delete(path) ? 0 : err('ENOENT');
}

/**
 * Opens a block device by path.
 * @param kernel the kernel.
 * @param path the node path, exactly as published.
 * @returns the device, or `-ENOENT` when no node has that path.
 * @kernel blkdev_get_by_path
 */
export function blkdevGetByPath(kernel: Kernel, path: string): BlockDevice | NegErrno {
  return table(kernel).get(path) ?? err('ENOENT');
}

/**
 * The published nodes of a kernel, by path.
 * @param kernel the kernel.
 * @returns the devices in publication order (a fresh array).
 */
export function blkdevList(kernel: Kernel): BlockDevice[] {
  return [...table(kernel).values()];
}

/**
 * The size of a block device.
 * @param bdev the device.
 * @returns bytes.
 * @kernel i_size_read(bdev->bd_inode)
 */
export function bdevSizeBytes(bdev: BlockDevice): number {
  return getCapacity(bdev.disk) * SECTOR_SIZE;
}

/**
 * The logical block size of a block device.
 * @param bdev the device.
 * @returns bytes (512 .. 4096).
 * @kernel bdev_logical_block_size
 */
export function bdevLogicalBlockSize(bdev: BlockDevice): number {
  return queueLogicalBlockSize(bdev.disk.queue);
}
