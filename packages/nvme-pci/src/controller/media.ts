/**
 * A namespace's media: real bytes in sparse 4 KiB pages (never-written blocks read as zeros),
 * its LBA format, and counters. Rates are carried for the performance model; they never slow
 * the simulation down.
 *
 * @kernel (hardware) NVMe 1.3 section 6 (namespaces, logical blocks)
 */
import { SparsePages } from '../internal/sparse-pages';
import type { ResolvedNamespace } from './controller-config';

/** Media counters of one namespace. */
export interface NvmeMediaStats {
  /** Bytes read from the media. */
  readBytes: number;
  /** Bytes written to the media. */
  writeBytes: number;
}

/** One namespace's media. */
export class NvmeNamespaceMedia {
  /** Namespace ID. */
  readonly nsid: number;
  /** Logical block size in bytes. */
  readonly lbaSize: 512 | 4096;
  /** Capacity in logical blocks (NSZE; 0 for an unallocated namespace). */
  readonly blocks: number;
  /** Counters. */
  readonly stats: NvmeMediaStats = { readBytes: 0, writeBytes: 0 };
  private readonly store: SparsePages;

  /**
   * @param ns the namespace description.
   * @param readBytesPerSec media read rate (performance model only).
   * @param writeBytesPerSec media write rate (performance model only).
   */
  constructor(
    ns: ResolvedNamespace,
    readonly readBytesPerSec: number,
    readonly writeBytesPerSec: number,
  ) {
    this.nsid = ns.nsid;
    this.lbaSize = ns.lbaSize;
    this.blocks = ns.sizeBytes / ns.lbaSize;
    this.store = new SparsePages(ns.sizeBytes);
  }

  /** Capacity in bytes. */
  get sizeBytes(): number {
    return this.store.size;
  }

  /** log2 of the block size. */
  get lbaShift(): number {
    return this.lbaSize === 512 ? 9 : 12;
  }

  /** Media pages holding bytes. */
  get residentPages(): number {
    return this.store.residentPages;
  }

  /**
   * Whether a block range is inside the namespace.
   * @param slba first block.
   * @param nlb number of blocks (1-based).
   * @returns `true` when `slba + nlb <= blocks`.
   */
  inRange(slba: number, nlb: number): boolean {
    return Number.isSafeInteger(slba) && slba >= 0 && nlb >= 1 && slba + nlb <= this.blocks;
  }

  /**
   * Reads blocks into a buffer (counted).
   * @param slba first block (in range).
   * @param out destination, a whole number of blocks.
   */
  readBlocks(slba: number, out: Uint8Array): void {
    this.store.read(slba * this.lbaSize, out);
    this.stats.readBytes += out.length;
  }

  /**
   * Writes blocks (counted).
   * @param slba first block (in range).
   * @param data the bytes, a whole number of blocks.
   */
  writeBlocks(slba: number, data: Uint8Array): void {
    this.store.write(slba * this.lbaSize, data);
    this.stats.writeBytes += data.length;
  }

  /**
   * Reads bytes directly, for tests and tools (not counted).
   * @param offset byte offset.
   * @param len bytes.
   * @returns a new array.
   * @throws RangeError outside the namespace.
   */
  peek(offset: number, len: number): Uint8Array {
    if (!this.store.contains(offset, len)) throw new RangeError(`namespace ${this.nsid}: range ${offset}+${len} is outside its ${this.sizeBytes} bytes`);
    const out = new Uint8Array(len);
    this.store.read(offset, out);
    return out;
  }

  /**
   * Writes bytes directly, for tests and tools (not counted).
   * @param offset byte offset.
   * @param data the bytes.
   * @throws RangeError outside the namespace.
   */
  poke(offset: number, data: Uint8Array): void {
    if (!this.store.contains(offset, data.length)) throw new RangeError(`namespace ${this.nsid}: range ${offset}+${data.length} is outside its ${this.sizeBytes} bytes`);
    this.store.write(offset, data);
  }
}
