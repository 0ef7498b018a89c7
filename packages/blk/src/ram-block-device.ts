/**
 * A RAM-backed blk-mq block device in the spirit of null_blk with `memory_backed=1`: a device
 * whose media is a sparse in-memory store, reached through the real block layer path.
 *
 * Its `queueRq` does what a DMA-capable driver does: maps the request to a scatterlist
 * (`blkRqMapSg`), maps that for DMA (`dmaMapSg`, the device has `'direct'` DMA ops), moves the
 * bytes between its store and the DMA addresses through `kernel.memory` (System RAM directly,
 * anything else through the MMIO handlers, so pages of a PCI P2PDMA BAR work), unmaps, and
 * completes the request, synchronously or after a virtual-clock delay. `p2pdma: true` sets
 * `QUEUE_FLAG_PCI_P2PDMA` on its queue. It counts what it handled.
 *
 * @kernel drivers/block/null_blk.c (memory-backed mode), as a template for a blk-mq driver
 */
import type { Kernel, NegErrno, SgTable } from '@p2pdma/kernel';
import {
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  Device,
  deviceAdd,
  deviceDel,
  dmaMapSg,
  dmaUnmapSg,
  isErr,
  PAGE_SIZE,
  sgAllocTable,
  sgDmaAddress,
  sgDmaLen,
  sgFreeTable,
} from '@p2pdma/kernel';
import { SECTOR_SIZE } from './bio';
import { blkCleanupQueue } from './blk-core';
import { blkRqMapSg } from './blk-merge';
import type { BlkMqHwCtx, BlkMqQueueData } from './blk-mq';
import {
  BLK_MQ_F_SHOULD_MERGE,
  BlkMqTagSet,
  blkMqAllocTagSet,
  blkMqCompleteRequest,
  blkMqEndRequest,
  blkMqFreeTagSet,
  blkMqInitQueue,
  blkMqStartRequest,
} from './blk-mq';
import {
  blkQueueLogicalBlockSize,
  blkQueueMaxDiscardSectors,
  blkQueueMaxHwSectors,
  blkQueueMaxSegmentSize,
  blkQueueMaxSegments,
  blkQueueMaxWriteZeroesSectors,
  blkQueueVirtBoundary,
  blkQueueWriteCache,
  BLK_MAX_SECTORS_LIMIT,
} from './blk-settings';
import type { BlkStatus } from './blk-status';
import { BLK_STS_DEV_RESOURCE, BLK_STS_IOERR, BLK_STS_OK, BLK_STS_RESOURCE, isBlkStatus } from './blk-status';
import type { ReqOp } from './blk-types';
import { REQ_FUA, REQ_OP_DISCARD, REQ_OP_FLUSH, REQ_OP_NAMES, REQ_OP_READ, REQ_OP_WRITE, REQ_OP_WRITE_ZEROES } from './blk-types';
import { Disk, setCapacity } from './genhd';
import type { Request } from './request';
import { blkRqBytes, reqIsPciP2pdma, reqOp } from './request';
import type { RequestQueue } from './request-queue';
import { blkQueueFlagSet, QUEUE_FLAG_DISCARD, QUEUE_FLAG_NONROT, QUEUE_FLAG_PCI_P2PDMA } from './request-queue';

/** How the device completes requests. */
export type RamCompletion = 'sync' | { readonly delayNs: number };

/** Options of `createRamBlockDevice`. */
export interface RamBlockDeviceOptions {
  /** Device and disk name (`'nullb0'`): 1..31 characters. */
  name: string;
  /** Size in bytes: a positive multiple of the logical block size. */
  capacityBytes: number;
  /** Tags per hardware queue (default 64). */
  queueDepth?: number;
  /** Hardware queues (default 1). */
  nrHwQueues?: number;
  /** Accept requests to and from PCI P2P memory: sets `QUEUE_FLAG_PCI_P2PDMA` (default false). */
  p2pdma?: boolean;
  /** Logical block size (default 512). */
  logicalBlockSize?: number;
  /** `max_hw_sectors` (default: the block layer's 255). */
  maxHwSectors?: number;
  /** `max_segments` (default 128). */
  maxSegments?: number;
  /** `max_segment_size` in bytes (default 65536). */
  maxSegmentSize?: number;
  /** `virt_boundary_mask` (default 0: none). */
  virtBoundaryMask?: number;
  /** Volatile write cache (`QUEUE_FLAG_WC`, default false). */
  writeCache?: boolean;
  /** Native FUA (`QUEUE_FLAG_FUA`, default false). */
  fua?: boolean;
  /** DISCARD support (default true). */
  discard?: boolean;
  /** WRITE_ZEROES support (default true). */
  writeZeroes?: boolean;
  /** Merge bios into waiting requests (`BLK_MQ_F_SHOULD_MERGE`, default true). */
  shouldMerge?: boolean;
  /** `'sync'` (end inside `queueRq`, default) or `{ delayNs }` (a virtual-clock completion). */
  completion?: RamCompletion;
  /** Parent device (default none). */
  parent?: Device | null;
}

/** What the device handled. */
export interface RamBlockDeviceStats {
  /** `queueRq` calls, including injected busy answers. */
  queueRqCalls: number;
  /** Requests executed (started). */
  requests: number;
  /** READ requests. */
  reads: number;
  /** WRITE requests. */
  writes: number;
  /** FLUSH requests. */
  flushes: number;
  /** DISCARD requests. */
  discards: number;
  /** WRITE_ZEROES requests. */
  writeZeroes: number;
  /** Bytes read from the media. */
  readBytes: number;
  /** Bytes written to the media. */
  writeBytes: number;
  /** Requests carrying `REQ_PCI_P2PDMA`. */
  p2pRequests: number;
  /** Requests ended with an error status. */
  errors: number;
  /** Most requests in flight at once. */
  maxInFlight: number;
}

/** One executed request, as the device saw it. */
export interface RamRequestTrace {
  /** The request's model id. */
  readonly id: number;
  /** Operation name (`'REQ_OP_WRITE'`). */
  readonly op: string;
  /** First sector. */
  readonly sector: number;
  /** Bytes. */
  readonly bytes: number;
  /** Bios merged into it. */
  readonly nrBios: number;
  /** Scatterlist entries it mapped to. */
  readonly nrSegments: number;
  /** Driver tag. */
  readonly tag: number;
  /** Hardware queue. */
  readonly hwq: number;
  /** Carries `REQ_PCI_P2PDMA`. */
  readonly p2p: boolean;
  /** Carries `REQ_FUA`. */
  readonly fua: boolean;
  /** The status it ended with. */
  readonly status: BlkStatus;
}

/** How many executed requests `trace` keeps (oldest dropped first). */
export const RAM_TRACE_LIMIT = 4096;

/** A RAM-backed block device. Created by `createRamBlockDevice`. */
export class RamBlockDevice {
  /** The kernel. */
  readonly kernel: Kernel;
  /** The device (class `block`, `'direct'` DMA ops). */
  readonly device: Device;
  /** The tag set. */
  readonly tagSet: BlkMqTagSet;
  /** The request queue. */
  readonly queue: RequestQueue;
  /** The disk. */
  readonly disk: Disk;
  /** Size in bytes. */
  readonly capacityBytes: number;
  /** Counters. */
  readonly stats: RamBlockDeviceStats = {
    queueRqCalls: 0,
    requests: 0,
    reads: 0,
    writes: 0,
    flushes: 0,
    discards: 0,
    writeZeroes: 0,
    readBytes: 0,
    writeBytes: 0,
    p2pRequests: 0,
    errors: 0,
    maxInFlight: 0,
  };
  /** The last `RAM_TRACE_LIMIT` executed requests, oldest first. */
  readonly trace: RamRequestTrace[] = [];
  private readonly store = new Map<number, Uint8Array>();
  private readonly completion: RamCompletion;
  private inFlight = 0;
  private injected: { status: BlkStatus; remaining: number } | null = null;
  private removed = false;

  /** @internal built by `createRamBlockDevice`. */
  constructor(parts: {
    kernel: Kernel;
    device: Device;
    tagSet: BlkMqTagSet;
    queue: RequestQueue;
    disk: Disk;
    capacityBytes: number;
    completion: RamCompletion;
  }) {
    this.kernel = parts.kernel;
    this.device = parts.device;
    this.tagSet = parts.tagSet;
    this.queue = parts.queue;
    this.disk = parts.disk;
    this.capacityBytes = parts.capacityBytes;
    this.completion = parts.completion;
  }

  /**
   * Reads the media directly (no block layer, no counters): for tests and tools.
   * @param byteOffset first byte.
   * @param len bytes.
   * @returns a new array the caller owns.
   * @throws RangeError for a range outside the device.
   */
  peek(byteOffset: number, len: number): Uint8Array {
    this.checkRange('peek', byteOffset, len);
    const out = new Uint8Array(len);
    this.storeRead(byteOffset, out);
    return out;
  }

  /**
   * Writes the media directly (no block layer, no counters).
   * @param byteOffset first byte.
   * @param data the bytes (copied).
   * @throws RangeError for a range outside the device.
   */
  poke(byteOffset: number, data: Uint8Array): void {
    this.checkRange('poke', byteOffset, data.length);
    this.storeWrite(byteOffset, data);
  }

  /** Number of 4 KiB media pages holding bytes (never-written and discarded ranges hold none). */
  residentPages(): number {
    return this.store.size;
  }

  /**
   * Makes the next `times` calls of `queueRq` answer `status`: `BLK_STS_RESOURCE` and
   * `BLK_STS_DEV_RESOURCE` are returned without taking the request (blk-mq retries it); any
   * other status starts the request and ends it with that status, moving no data.
   * @param status the status.
   * @param times how many calls (positive integer, default 1).
   * @throws RangeError for a bad status or count.
   */
  injectStatus(status: BlkStatus, times = 1): void {
    if (!isBlkStatus(status)) throw new RangeError(`injectStatus: ${String(status)} is not a BlkStatus`);
    if (!Number.isSafeInteger(times) || times < 1) throw new RangeError(`injectStatus: times ${times} must be a positive integer`);
    this.injected = { status, remaining: times };
  }

  /**
   * Tears the device down: queue, tag set, device. The queue must be drained.
   * @throws KernelBug when requests are still queued or in flight; RangeError when removed twice.
   */
  remove(): void {
    if (this.removed) throw new RangeError(`${this.disk.diskName}: already removed`);
    blkCleanupQueue(this.queue);
    blkMqFreeTagSet(this.tagSet);
    deviceDel(this.device);
    this.removed = true;
  }

  /** @internal the device's `queueRq`. */
  queueRq(_hctx: BlkMqHwCtx, bd: BlkMqQueueData): BlkStatus {
    const rq = bd.rq;
    this.stats.queueRqCalls++;
    const inj = this.injected;
    if (inj !== null) {
      if (--inj.remaining === 0) this.injected = null;
      if (inj.status === BLK_STS_RESOURCE || inj.status === BLK_STS_DEV_RESOURCE) return inj.status;
      blkMqStartRequest(rq);
      this.started(rq, 0, inj.status);
      return BLK_STS_OK;
    }
    const op = reqOp(rq);
    let sgt: SgTable | null = null;
    let nents = 0;
    let count = 0;
    const dir = op === REQ_OP_WRITE ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
    if ((op === REQ_OP_READ || op === REQ_OP_WRITE) && rq.nrPhysSegments > 0) {
      sgt = sgAllocTable(this.kernel, rq.nrPhysSegments);
      if (sgt === null) return BLK_STS_RESOURCE;
      nents = blkRqMapSg(this.queue, rq, sgt.sgl);
      count = dmaMapSg(this.device, sgt.sgl, nents, dir);
      if (count === 0) {
        sgFreeTable(sgt);
        return BLK_STS_RESOURCE;
      }
    }
    blkMqStartRequest(rq);
    const status = this.execute(rq, op, sgt, count);
    if (sgt !== null) {
      dmaUnmapSg(this.device, sgt.sgl, nents, dir);
      sgFreeTable(sgt);
    }
    this.started(rq, nents, status);
    return BLK_STS_OK;
  }

  /** @internal the device's `complete`. */
  complete(rq: Request): void {
    this.inFlight--;
    blkMqEndRequest(rq, rq.result);
  }

  private started(rq: Request, nents: number, status: BlkStatus): void {
    const s = this.stats;
    s.requests++;
    if (status !== BLK_STS_OK) s.errors++;
    if (reqIsPciP2pdma(rq)) s.p2pRequests++;
    this.inFlight++;
    if (this.inFlight > s.maxInFlight) s.maxInFlight = this.inFlight;
    if (this.trace.length >= RAM_TRACE_LIMIT) this.trace.shift();
    this.trace.push({
      id: rq.id,
      op: REQ_OP_NAMES[reqOp(rq)],
      sector: rq.sector,
      bytes: blkRqBytes(rq),
      nrBios: rq.bios.length,
      nrSegments: nents,
      tag: rq.tag,
      hwq: rq.mqHctx.queueNum,
      p2p: reqIsPciP2pdma(rq),
      fua: (rq.cmdFlags & REQ_FUA) !== 0,
      status,
    });
    rq.result = status;
    if (this.completion === 'sync') {
      this.complete(rq);
    } else {
      this.kernel.clock.schedule(this.completion.delayNs, () => blkMqCompleteRequest(rq));
    }
  }

  private execute(rq: Request, op: ReqOp, sgt: SgTable | null, count: number): BlkStatus {
    const off = rq.sector * SECTOR_SIZE;
    const len = blkRqBytes(rq);
    if (off + len > this.capacityBytes) return BLK_STS_IOERR;
    const s = this.stats;
    switch (op) {
      case REQ_OP_FLUSH:
        s.flushes++;
        return BLK_STS_OK;
      case REQ_OP_DISCARD:
        s.discards++;
        this.storeZero(off, len);
        return BLK_STS_OK;
      case REQ_OP_WRITE_ZEROES:
        s.writeZeroes++;
        this.storeZero(off, len);
        return BLK_STS_OK;
      case REQ_OP_WRITE: {
        s.writes++;
        const buf = new Uint8Array(len);
        if (!this.dmaTransfer(sgt, count, buf, 'from-memory')) return BLK_STS_IOERR;
        this.storeWrite(off, buf);
        s.writeBytes += len;
        return BLK_STS_OK;
      }
      case REQ_OP_READ: {
        s.reads++;
        const buf = new Uint8Array(len);
        this.storeRead(off, buf);
        if (!this.dmaTransfer(sgt, count, buf, 'to-memory')) return BLK_STS_IOERR;
        s.readBytes += len;
        return BLK_STS_OK;
      }
    }
  }

  /** Moves `buf` to or from the mapped DMA segments; false when an access faults or sizes differ. */
  private dmaTransfer(sgt: SgTable | null, count: number, buf: Uint8Array, dir: 'from-memory' | 'to-memory'): boolean {
    const mem = this.kernel.memory;
    let pos = 0;
    let sg = sgt?.sgl ?? null;
    for (let i = 0; i < count && sg !== null; i++, sg = sg.next) {
      const len = sgDmaLen(sg);
      const phys = sgDmaAddress(sg) - this.device.dmaOffset;
      if (pos + len > buf.length) return false;
      const part = buf.subarray(pos, pos + len);
      if (mem.isRam(phys, len)) {
        if (dir === 'from-memory') mem.ramRead(phys, len, part);
        else mem.ramWrite(phys, part);
      } else if (dir === 'from-memory') {
        if (isErr(mem.cpuRead(phys, len, part))) return false;
      } else if (mem.cpuWrite(phys, part) !== 0) return false;
      pos += len;
    }
    return pos === buf.length;
  }

  private checkRange(fn: string, off: number, len: number): void {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > this.capacityBytes) {
      throw new RangeError(`${this.disk.diskName}.${fn}: range ${off}+${len} is outside the ${this.capacityBytes}-byte device`);
    }
  }

  private storeRead(off: number, out: Uint8Array): void {
    let pos = 0;
    while (pos < out.length) {
      const at = off + pos;
      const po = at % PAGE_SIZE;
      const chunk = Math.min(PAGE_SIZE - po, out.length - pos);
      const page = this.store.get((at - po) / PAGE_SIZE);
      if (page === undefined) out.fill(0, pos, pos + chunk);
      else out.set(page.subarray(po, po + chunk), pos);
      pos += chunk;
    }
  }

  private storeWrite(off: number, data: Uint8Array): void {
    let pos = 0;
    while (pos < data.length) {
      const at = off + pos;
      const po = at % PAGE_SIZE;
      const chunk = Math.min(PAGE_SIZE - po, data.length - pos);
      const idx = (at - po) / PAGE_SIZE;
      let page = this.store.get(idx);
      if (page === undefined) {
        page = new Uint8Array(PAGE_SIZE);
        this.store.set(idx, page);
      }
      page.set(data.subarray(pos, pos + chunk), po);
      pos += chunk;
    }
  }

  private storeZero(off: number, len: number): void {
    let pos = 0;
    while (pos < len) {
      const at = off + pos;
      const po = at % PAGE_SIZE;
      const chunk = Math.min(PAGE_SIZE - po, len - pos);
      const idx = (at - po) / PAGE_SIZE;
      if (chunk === PAGE_SIZE) this.store.delete(idx);
      else this.store.get(idx)?.fill(0, po, po + chunk);
      pos += chunk;
    }
  }
}

function checkInt(name: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined) return;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new RangeError(`createRamBlockDevice: ${name} ${v} must be an integer from ${min} to ${max}`);
  }
}

function isPow2(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/**
 * Creates a RAM-backed blk-mq block device: a `Device` (class `block`, `'direct'` DMA ops), a tag
 * set, a request queue with the requested limits and flags, and a disk of `capacityBytes`.
 * @param kernel the kernel.
 * @param opts name, size, queue depth and count, P2P support, limits, cache, completion mode.
 * @returns the device, or the kernel's errno when a step fails (`-EEXIST` for a device name in
 *   use, `-EINVAL` from the tag set); everything built before the failure is torn down again.
 * @throws RangeError for invalid options, naming the option and the rule.
 * @kernel null_blk's null_add_dev
 */
export function createRamBlockDevice(kernel: Kernel, opts: RamBlockDeviceOptions): RamBlockDevice | NegErrno {
  const lbs = opts.logicalBlockSize ?? 512;
  if (typeof opts.name !== 'string' || opts.name.length === 0 || opts.name.length > 31) {
    throw new RangeError(`createRamBlockDevice: name '${String(opts.name)}' must be 1..31 characters`);
  }
  if (!isPow2(lbs) || lbs < 512 || lbs > PAGE_SIZE) {
    throw new RangeError(`createRamBlockDevice: logicalBlockSize ${lbs} must be a power of two from 512 to ${PAGE_SIZE}`);
  }
  if (!Number.isSafeInteger(opts.capacityBytes) || opts.capacityBytes <= 0 || opts.capacityBytes % lbs !== 0) {
    throw new RangeError(`createRamBlockDevice: capacityBytes ${opts.capacityBytes} must be a positive multiple of ${lbs}`);
  }
  checkInt('queueDepth', opts.queueDepth, 1, Number.MAX_SAFE_INTEGER);
  checkInt('nrHwQueues', opts.nrHwQueues, 1, 1024);
  checkInt('maxHwSectors', opts.maxHwSectors, 1, BLK_MAX_SECTORS_LIMIT);
  checkInt('maxSegments', opts.maxSegments, 1, 0xffff);
  checkInt('maxSegmentSize', opts.maxSegmentSize, PAGE_SIZE, 0xffff_ffff);
  if (opts.virtBoundaryMask !== undefined && opts.virtBoundaryMask !== 0 && (!isPow2(opts.virtBoundaryMask + 1) || opts.virtBoundaryMask >= PAGE_SIZE)) {
    throw new RangeError(`createRamBlockDevice: virtBoundaryMask ${opts.virtBoundaryMask} must be 0 or 2^n - 1 below ${PAGE_SIZE}`);
  }
  const completion = opts.completion ?? 'sync';
  if (completion !== 'sync' && (typeof completion !== 'object' || !Number.isFinite(completion.delayNs) || completion.delayNs < 0)) {
    throw new RangeError(`createRamBlockDevice: completion must be 'sync' or { delayNs >= 0 }`);
  }

  const device = new Device(kernel, opts.name, { parent: opts.parent ?? null, className: 'block', dmaOps: 'direct' });
  const added = deviceAdd(device);
  if (added !== 0) return added;

  let dev: RamBlockDevice | null = null;
  const tagSet = new BlkMqTagSet(kernel, {
    ops: {
      queueRq: (hctx, bd) => dev!.queueRq(hctx, bd),
      complete: (rq) => dev!.complete(rq),
    },
    nrHwQueues: opts.nrHwQueues ?? 1,
    queueDepth: opts.queueDepth ?? 64,
    flags: opts.shouldMerge === false ? 0 : BLK_MQ_F_SHOULD_MERGE,
  });
  const r = blkMqAllocTagSet(tagSet);
  if (r !== 0) {
    deviceDel(device);
    return r;
  }
  const q = blkMqInitQueue(tagSet);
  if (isErr(q)) {
    blkMqFreeTagSet(tagSet);
    deviceDel(device);
    return q;
  }
  blkQueueFlagSet(QUEUE_FLAG_NONROT, q);
  if (opts.p2pdma === true) blkQueueFlagSet(QUEUE_FLAG_PCI_P2PDMA, q);
  blkQueueLogicalBlockSize(q, lbs);
  if (opts.maxHwSectors !== undefined) blkQueueMaxHwSectors(q, opts.maxHwSectors);
  if (opts.maxSegments !== undefined) blkQueueMaxSegments(q, opts.maxSegments);
  if (opts.maxSegmentSize !== undefined) blkQueueMaxSegmentSize(q, opts.maxSegmentSize);
  if (opts.virtBoundaryMask !== undefined) blkQueueVirtBoundary(q, opts.virtBoundaryMask);
  blkQueueWriteCache(q, opts.writeCache === true, opts.fua === true);
  const capSectors = opts.capacityBytes / SECTOR_SIZE;
  if (opts.discard !== false) {
    blkQueueFlagSet(QUEUE_FLAG_DISCARD, q);
    blkQueueMaxDiscardSectors(q, Math.min(capSectors, BLK_MAX_SECTORS_LIMIT));
  }
  if (opts.writeZeroes !== false) blkQueueMaxWriteZeroesSectors(q, Math.min(capSectors, BLK_MAX_SECTORS_LIMIT));
  const disk = new Disk(opts.name, q);
  setCapacity(disk, capSectors);
  dev = new RamBlockDevice({ kernel, device, tagSet, queue: q, disk, capacityBytes: opts.capacityBytes, completion });
  q.queuedata = dev;
  disk.privateData = dev;
  return dev;
}
