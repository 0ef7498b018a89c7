/**
 * Disks: the named, sized block device a bio targets (`bio.disk`), bound to one request queue.
 *
 * @kernel include/linux/genhd.h (struct gendisk, set_capacity, get_capacity, set_disk_ro)
 */
import { KernelBug } from '@p2pdma/kernel';
import type { RequestQueue } from './request-queue';

/** Longest disk name. @kernel DISK_NAME_LEN */
export const DISK_NAME_LEN = 32;

/**
 * A disk. Created by a driver for its queue; the queue points back at it (`q.disk`).
 * @kernel struct gendisk
 */
export class Disk {
  /** The name (`'nullb0'`, `'nvme0n1'`), used in kernel messages. @kernel disk_name */
  readonly diskName: string;
  /** The queue bios to this disk go to. @kernel gendisk.queue */
  readonly queue: RequestQueue;
  /** The driver's private data. @kernel gendisk.private_data */
  privateData: unknown = null;
  /** @internal capacity in sectors; see `setCapacity`. */
  capacitySectors = 0;
  /** @internal read-only policy; see `setDiskRo`. */
  readOnly = false;

  /**
   * @param name the disk name: 1..`DISK_NAME_LEN - 1` characters.
   * @param queue the disk's queue; it must not have a disk yet.
   * @throws KernelBug for a bad name or a queue that already has a disk.
   */
  constructor(name: string, queue: RequestQueue) {
    if (name.length === 0 || name.length >= DISK_NAME_LEN) throw new KernelBug(`gendisk: name '${name}' must be 1..${DISK_NAME_LEN - 1} characters`);
    if (queue.disk !== null) throw new KernelBug(`gendisk ${name}: queue ${queue.id} already belongs to ${queue.disk.diskName}`);
    this.diskName = name;
    this.queue = queue;
    queue.disk = this;
  }
}

/**
 * Sets a disk's size.
 * @param disk the disk.
 * @param sectors size in 512-byte sectors (a non-negative integer; 0 means unknown: no end-of-
 *   device check).
 * @throws KernelBug for a negative or fractional size.
 * @kernel set_capacity
 */
export function setCapacity(disk: Disk, sectors: number): void {
  if (!Number.isSafeInteger(sectors) || sectors < 0) throw new KernelBug(`set_capacity(${disk.diskName}): bad size ${sectors}`);
  disk.capacitySectors = sectors;
}

/**
 * The size of a disk.
 * @param disk the disk.
 * @returns its size in 512-byte sectors.
 * @kernel get_capacity
 */
export function getCapacity(disk: Disk): number {
  return disk.capacitySectors;
}

/**
 * Marks a disk read-only or writable. Writes to a read-only disk end with `BLK_STS_IOERR`.
 * @param disk the disk.
 * @param readOnly the new policy.
 * @kernel set_disk_ro
 */
export function setDiskRo(disk: Disk, readOnly: boolean): void {
  disk.readOnly = readOnly;
}
