/**
 * Bios: the block layer's unit of I/O. A bio names a disk, an operation with flags (`opf`), a
 * start sector and a vector of (page, offset, length) segments; it ends once, with a status,
 * through its `endIo` callback.
 *
 * As in the kernel, the segment vector (`ioVec`, `bi_io_vec`) is never rewritten once the bio is
 * submitted: the block layer walks and splits it through an iterator (`iter`, `bi_iter`), and a
 * split-off piece shares its parent's vector with its own iterator.
 *
 * Ownership: the submitter owns the bio and its pages until `endIo` runs; the block layer only
 * reads the pages (it never frees them).
 *
 * @kernel include/linux/blk_types.h (struct bio, struct bio_vec, struct bvec_iter),
 *   include/linux/bio.h, block/bio.c
 */
import type { Page } from '@p2pdma/kernel';
import { KernelBug, PAGE_SIZE } from '@p2pdma/kernel';
import type { BlkStatus } from './blk-status';
import { BLK_STS_IOERR, BLK_STS_OK } from './blk-status';
import type { DataDir, ReqOp } from './blk-types';
import {
  isReqOp,
  opIsWrite,
  READ,
  REQ_OP_DISCARD,
  REQ_OP_FLUSH,
  REQ_OP_MASK,
  REQ_OP_NAMES,
  REQ_OP_WRITE_ZEROES,
  WRITE,
} from './blk-types';
import type { Disk } from './genhd';

/** log2 of the block layer's sector (512 bytes, whatever the device's block size). @kernel SECTOR_SHIFT */
export const SECTOR_SHIFT = 9;
/** Bytes per sector. @kernel SECTOR_SIZE */
export const SECTOR_SIZE = 512;
/** Most segments one bio can hold. @kernel BIO_MAX_PAGES */
export const BIO_MAX_PAGES = 256;

/**
 * One segment of a bio: `len` bytes at `offset` in `page`, inside that one page.
 * @kernel struct bio_vec
 */
export interface BioVec {
  /** The page. @kernel bv_page */
  readonly page: Page;
  /** Byte offset in the page. @kernel bv_offset */
  readonly offset: number;
  /** Length in bytes (grows when `bioAddPage` extends the last segment). @kernel bv_len */
  len: number;
}

/**
 * Where a bio's remaining I/O starts: sector, bytes left, and position in the vector.
 * @kernel struct bvec_iter
 */
export interface BvecIter {
  /** Device sector (512-byte units) of the first remaining byte. @kernel bi_sector */
  sector: number;
  /** Bytes left. @kernel bi_size */
  size: number;
  /** Index of the current vector entry. @kernel bi_idx */
  idx: number;
  /** Bytes of that entry already consumed. @kernel bi_bvec_done */
  bvecDone: number;
}

/** A bio completion callback. It runs exactly once per bio. @kernel bio_end_io_t */
export type BioEndIo = (bio: Bio) => void;

/** Options for `new Bio(...)`. */
export interface BioOptions {
  /** The disk to submit to (`bio_set_dev`); may be set later through `bio.disk`. */
  disk?: Disk | null;
  /** The operation. */
  op: ReqOp;
  /** `REQ_*` flags OR'ed into `opf` (default none). Must not touch the operation bits. */
  flags?: number;
  /** Start sector (default 0). */
  sector?: number;
  /** Vector capacity, 1..`BIO_MAX_PAGES` (default `BIO_MAX_PAGES`). */
  nrVecs?: number;
  /** Byte count of an operation without data (DISCARD, WRITE_ZEROES); READ/WRITE grow with `bioAddPage`. */
  size?: number;
  /** Completion callback. */
  endIo?: BioEndIo | null;
  /** Submitter's private data. */
  privateData?: unknown;
}

/**
 * A bio.
 * @kernel struct bio
 */
export class Bio {
  /** The target disk. @kernel bi_disk */
  disk: Disk | null;
  /** Operation (low 8 bits) and `REQ_*` flags. @kernel bi_opf */
  opf: number;
  /** The remaining I/O. @kernel bi_iter */
  readonly iter: BvecIter;
  /** The segment vector (shared with split-off pieces). @kernel bi_io_vec */
  readonly ioVec: BioVec[];
  /** Vector capacity. @kernel bi_max_vecs */
  readonly maxVecs: number;
  /** Completion status, set by whoever ends the bio. @kernel bi_status */
  status: BlkStatus = BLK_STS_OK;
  /** Completion callback. @kernel bi_end_io */
  endIo: BioEndIo | null;
  /** Submitter's private data. @kernel bi_private */
  privateData: unknown;
  /** Whether this bio is a piece split off another (shares `ioVec`; `bioAddPage` refuses it). @kernel BIO_CLONED */
  readonly cloned: boolean;
  /** @internal the bio this one completes into (`bio_chain`). */
  chainParent: Bio | null = null;
  /** @internal completions still expected before `endIo` runs (`__bi_remaining`). */
  remaining = 1;
  /** @internal whether the bio has ended. */
  ended = false;

  /**
   * @param opts disk, operation, flags, sector, vector capacity, size, callback.
   * @param shared internal (`bioSplit`): the parent's vector and the piece's iterator.
   * @throws KernelBug for an unknown operation, flags overlapping the operation bits, a
   *   negative or fractional sector, a capacity outside 1..`BIO_MAX_PAGES`, or a size given to
   *   an operation that carries data pages.
   */
  constructor(opts: BioOptions, shared?: { ioVec: BioVec[]; iter: BvecIter }) {
    const flags = opts.flags ?? 0;
    if (!isReqOp(opts.op)) throw new KernelBug(`bio: unknown operation ${opts.op}`);
    if (!Number.isInteger(flags) || flags < 0 || (flags & REQ_OP_MASK) !== 0) {
      throw new KernelBug(`bio: flags 0x${flags.toString(16)} must be REQ_* bits above the operation bits`);
    }
    const sector = opts.sector ?? 0;
    if (!Number.isSafeInteger(sector) || sector < 0) throw new KernelBug(`bio: bad sector ${sector}`);
    const nrVecs = opts.nrVecs ?? BIO_MAX_PAGES;
    if (!Number.isInteger(nrVecs) || nrVecs < 1 || nrVecs > BIO_MAX_PAGES) {
      throw new KernelBug(`bio: nrVecs ${nrVecs} must be 1..${BIO_MAX_PAGES}`);
    }
    const size = opts.size ?? 0;
    if (!Number.isSafeInteger(size) || size < 0) throw new KernelBug(`bio: bad size ${size}`);
    if (size !== 0 && shared === undefined && opHasData(opts.op)) {
      throw new KernelBug(`bio: ${REQ_OP_NAMES[opts.op]} gets its size from bioAddPage, not from options`);
    }
    this.disk = opts.disk ?? null;
    this.opf = opts.op | flags;
    this.maxVecs = nrVecs;
    this.endIo = opts.endIo ?? null;
    this.privateData = opts.privateData;
    this.cloned = shared !== undefined;
    this.ioVec = shared?.ioVec ?? [];
    this.iter = shared?.iter ?? { sector, size, idx: 0, bvecDone: 0 };
  }
}

function opHasData(op: ReqOp): boolean {
  return op !== REQ_OP_FLUSH && op !== REQ_OP_DISCARD && op !== REQ_OP_WRITE_ZEROES;
}

/**
 * The operation of a bio.
 * @param bio a bio.
 * @returns its operation.
 * @kernel bio_op
 */
export function bioOp(bio: Bio): ReqOp {
  return (bio.opf & REQ_OP_MASK) as ReqOp;
}

/**
 * The size of a bio in sectors.
 * @param bio a bio.
 * @returns its remaining size in sectors (bytes >> 9).
 * @kernel bio_sectors
 */
export function bioSectors(bio: Bio): number {
  return Math.floor(bio.iter.size / SECTOR_SIZE);
}

/**
 * The sector after a bio.
 * @param bio a bio.
 * @returns the first sector after it.
 * @kernel bio_end_sector
 */
export function bioEndSector(bio: Bio): number {
  return bio.iter.sector + bioSectors(bio);
}

/**
 * The data direction of a bio.
 * @param bio a bio.
 * @returns `WRITE` for operations that send data to the device, else `READ`.
 * @kernel bio_data_dir
 */
export function bioDataDir(bio: Bio): DataDir {
  return opIsWrite(bioOp(bio)) ? WRITE : READ;
}

/**
 * Whether a bio carries data pages.
 * @param bio a bio.
 * @returns whether it moves data through pages (READ/WRITE with a non-zero size).
 * @kernel bio_has_data
 */
export function bioHasData(bio: Bio): boolean {
  return bio.iter.size !== 0 && opHasData(bioOp(bio));
}

/**
 * Adds a page range to a bio not yet submitted. A range that continues the last segment in the
 * same page extends it; otherwise it takes a new vector entry.
 * @param bio the bio (READ or WRITE, not a split-off piece).
 * @param page the page.
 * @param len bytes (> 0).
 * @param offset offset in the page; `offset + len` must not exceed `PAGE_SIZE`.
 * @returns `len`, or `0` when the vector is full or the bio is a split-off piece (the kernel's
 *   "could not add": the caller submits and starts another bio).
 * @throws KernelBug for a length or offset outside the page, or a bio whose operation carries
 *   no data.
 * @kernel bio_add_page
 */
export function bioAddPage(bio: Bio, page: Page, len: number, offset: number): number {
  if (!Number.isSafeInteger(len) || len <= 0 || !Number.isSafeInteger(offset) || offset < 0 || offset + len > PAGE_SIZE) {
    throw new KernelBug(`bio_add_page: length ${len} at offset ${offset} does not fit in one page`);
  }
  const op = bioOp(bio);
  if (!opHasData(op)) throw new KernelBug(`bio_add_page: ${REQ_OP_NAMES[op]} bios carry no pages`);
  if (bio.cloned) return 0;
  const last = bio.ioVec[bio.ioVec.length - 1];
  if (last !== undefined && last.page === page && last.offset + last.len === offset) {
    last.len += len;
  } else {
    if (bio.ioVec.length >= bio.maxVecs) return 0;
    bio.ioVec.push({ page, offset, len });
  }
  bio.iter.size += len;
  return len;
}

/**
 * Calls `fn` for each remaining segment of a bio, as `bio_for_each_segment` does (the first may
 * start inside its vector entry; the last may end early).
 * @param bio the bio.
 * @param fn called with the page, offset and length of each segment.
 * @throws KernelBug when the iterator runs past the vector (a corrupted bio).
 * @kernel bio_for_each_segment
 */
export function bioForEachSegment(bio: Bio, fn: (page: Page, offset: number, len: number) => void): void {
  if (!opHasData(bioOp(bio))) return;
  let left = bio.iter.size;
  let idx = bio.iter.idx;
  let done = bio.iter.bvecDone;
  while (left > 0) {
    const bv = bio.ioVec[idx];
    if (bv === undefined) throw new KernelBug(`bio_for_each_segment: ${left} bytes left past the vector end`);
    const len = Math.min(bv.len - done, left);
    fn(bv.page, bv.offset + done, len);
    left -= len;
    idx++;
    done = 0;
  }
}

/**
 * Moves a bio's iterator forward.
 * @param bio the bio.
 * @param bytes bytes to skip (≤ `iter.size`).
 * @throws KernelBug when `bytes` exceeds what is left.
 * @kernel bio_advance
 */
export function bioAdvance(bio: Bio, bytes: number): void {
  const it = bio.iter;
  if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > it.size) {
    throw new KernelBug(`bio_advance: ${bytes} bytes but ${it.size} left`);
  }
  it.sector += Math.floor(bytes / SECTOR_SIZE);
  it.size -= bytes;
  if (!opHasData(bioOp(bio))) return;
  let left = bytes;
  while (left > 0) {
    const bv = bio.ioVec[it.idx];
    if (bv === undefined) throw new KernelBug('bio_advance: ran past the vector end');
    const step = Math.min(bv.len - it.bvecDone, left);
    left -= step;
    it.bvecDone += step;
    if (it.bvecDone === bv.len) {
      it.idx++;
      it.bvecDone = 0;
    }
  }
}

/**
 * Splits the first `sectors` off a bio: returns a new bio for them (sharing the vector) and
 * advances `bio` past them. The caller usually chains the piece to `bio` (`bioChain`).
 * @param bio the bio.
 * @param sectors sectors to split off, 0 < `sectors` < `bioSectors(bio)`.
 * @returns the new front piece (same disk, operation, flags and callback-less).
 * @throws KernelBug for a split point outside the bio.
 * @kernel bio_split
 */
export function bioSplit(bio: Bio, sectors: number): Bio {
  if (!Number.isInteger(sectors) || sectors <= 0 || sectors >= bioSectors(bio)) {
    throw new KernelBug(`bio_split: ${sectors} sectors of a ${bioSectors(bio)}-sector bio`);
  }
  const bytes = sectors * SECTOR_SIZE;
  const split = new Bio(
    { disk: bio.disk, op: bioOp(bio), flags: bio.opf & ~REQ_OP_MASK },
    { ioVec: bio.ioVec, iter: { ...bio.iter, size: bytes } },
  );
  bioAdvance(bio, bytes);
  return split;
}

/**
 * Makes `parent` complete only after `child` too has completed; a child error becomes the
 * parent's status unless the parent already has one.
 * @param child the piece (its `endIo` is replaced).
 * @param parent the bio that completes last.
 * @throws KernelBug when `child` already has a callback or a parent.
 * @kernel bio_chain
 */
export function bioChain(child: Bio, parent: Bio): void {
  if (child.endIo !== null || child.chainParent !== null) throw new KernelBug('bio_chain: the child already has a completion');
  child.chainParent = parent;
  parent.remaining++;
}

/**
 * Ends a bio: runs its callback (or, for a chained piece, counts it against its parent) once all
 * chained pieces have ended. The status must be set in `bio.status` first.
 * @param bio the bio.
 * @throws KernelBug when the bio already ended (a double completion).
 * @kernel bio_endio
 */
export function bioEndio(bio: Bio): void {
  let b: Bio | null = bio;
  while (b !== null) {
    if (b.ended) throw new KernelBug('bio_endio: bio ended twice');
    if (--b.remaining > 0) return;
    b.ended = true;
    const parent: Bio | null = b.chainParent;
    if (parent === null) {
      b.endIo?.(b);
      return;
    }
    if (parent.status === BLK_STS_OK) parent.status = b.status;
    b = parent;
  }
}

/**
 * Ends a bio with `BLK_STS_IOERR`.
 * @param bio the bio.
 * @kernel bio_io_error
 */
export function bioIoError(bio: Bio): void {
  bio.status = BLK_STS_IOERR;
  bioEndio(bio);
}
