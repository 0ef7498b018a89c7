/**
 * The write ledger: what every block of a namespace must read back as. An acknowledged write
 * (success status) makes its blocks known with its bytes; a failed or lost write makes them
 * unknown (the device may or may not have written them, as with a real failed command) and is
 * counted as failed, never silently dropped. A read that succeeds is compared with the known
 * blocks it covers; a difference is an acknowledged write lost.
 *
 * I/Os in flight at the same time use disjoint slots (`acquire`/`release`), so each block has one
 * writer at a time and the expected content is never ambiguous.
 *
 * @kernel — (test tooling: the end-to-end data check of a soak run)
 */
import { Buffer } from 'node:buffer';

/** Counters of a ledger. */
export interface IoCounts {
  /** Reads submitted. */
  reads: number;
  /** Writes submitted. */
  writes: number;
  /** Completed with success. */
  ok: number;
  /** Completed with an error status. */
  failed: number;
  /** Never completed: reported lost when the connection went away. */
  lost: number;
  /** Blocks compared against acknowledged data. */
  blocksVerified: number;
  /** Acknowledged blocks that read back different (must stay 0). */
  ackedBlocksLost: number;
}

/** One outcome, as the ledger takes it. */
export type IoOutcome = 'ok' | 'failed' | 'lost';

/**
 * A namespace's expected contents, in slots of whole blocks.
 */
export class WriteLedger {
  /** Counters. */
  readonly counts: IoCounts = { reads: 0, writes: 0, ok: 0, failed: 0, lost: 0, blocksVerified: 0, ackedBlocksLost: 0 };
  /** The first mismatches found (for reports). */
  readonly mismatches: string[] = [];
  private readonly shadow: Uint8Array;
  private readonly known: Uint8Array;
  private readonly busy = new Set<number>();

  /**
   * @param blocks blocks covered (from LBA 0).
   * @param lbaSize bytes per block.
   * @param slotBlocks blocks per slot (an I/O never crosses a slot).
   * @throws RangeError for sizes that are not positive integers, or blocks not a multiple of slotBlocks.
   */
  constructor(
    readonly blocks: number,
    readonly lbaSize: number,
    readonly slotBlocks: number,
  ) {
    for (const [n, v] of [['blocks', blocks], ['lbaSize', lbaSize], ['slotBlocks', slotBlocks]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`WriteLedger: ${n} ${v} must be a positive integer`);
    }
    if (blocks % slotBlocks !== 0) throw new RangeError(`WriteLedger: blocks ${blocks} is not a multiple of slotBlocks ${slotBlocks}`);
    this.shadow = new Uint8Array(blocks * lbaSize);
    this.known = new Uint8Array(blocks);
  }

  /** Number of slots. */
  get slots(): number {
    return this.blocks / this.slotBlocks;
  }

  /** @param slot a slot. @returns its first LBA. */
  slotLba(slot: number): number {
    return slot * this.slotBlocks;
  }

  /**
   * Takes a slot for one I/O.
   * @param slot the slot.
   * @returns whether it was free (and is now taken).
   */
  acquire(slot: number): boolean {
    return this.acquireRange(slot, 1);
  }

  /** @param slot a slot taken by `acquire`. */
  release(slot: number): void {
    this.releaseRange(slot, 1);
  }

  /**
   * Takes consecutive slots for one large I/O, all or none.
   * @param slot the first slot.
   * @param count slots.
   * @returns whether all were free (and are now taken).
   * @throws RangeError for a range outside the ledger.
   */
  acquireRange(slot: number, count: number): boolean {
    if (!Number.isSafeInteger(slot) || !Number.isSafeInteger(count) || slot < 0 || count < 1 || slot + count > this.slots) {
      throw new RangeError(`WriteLedger: slots ${slot}+${count} are outside 0..${this.slots - 1}`);
    }
    for (let s = slot; s < slot + count; s++) if (this.busy.has(s)) return false;
    for (let s = slot; s < slot + count; s++) this.busy.add(s);
    return true;
  }

  /** @param slot the first slot. @param count slots taken by `acquireRange`. */
  releaseRange(slot: number, count: number): void {
    for (let s = slot; s < slot + count; s++) this.busy.delete(s);
  }

  /** @returns slots with at least one acknowledged block. */
  knownSlots(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.slots; s++) if (this.known.subarray(s * this.slotBlocks, (s + 1) * this.slotBlocks).includes(1)) out.push(s);
    return out;
  }

  /**
   * Records a write's outcome.
   * @param lba first block.
   * @param data the bytes written (whole blocks).
   * @param outcome its outcome.
   */
  wrote(lba: number, data: Uint8Array, outcome: IoOutcome): void {
    const n = data.length / this.lbaSize;
    this.counts.writes++;
    this.count(outcome);
    if (outcome === 'ok') {
      this.shadow.set(data, lba * this.lbaSize);
      this.known.fill(1, lba, lba + n);
    } else this.known.fill(0, lba, lba + n);
  }

  /**
   * Records a read's outcome and checks its data against the acknowledged writes.
   * @param lba first block.
   * @param nlb blocks.
   * @param outcome its outcome.
   * @param data the data read (on success).
   * @param what a label for mismatch reports.
   * @returns blocks that differ from acknowledged data.
   */
  read(lba: number, nlb: number, outcome: IoOutcome, data: Uint8Array | null, what = 'read'): number {
    this.counts.reads++;
    this.count(outcome);
    if (outcome !== 'ok' || data === null) return 0;
    return this.verify(lba, nlb, data, what);
  }

  /**
   * Compares data read from `lba` with the acknowledged blocks it covers.
   * @param lba first block.
   * @param nlb blocks.
   * @param data the bytes read.
   * @param what a label for mismatch reports.
   * @returns blocks that differ.
   */
  verify(lba: number, nlb: number, data: Uint8Array, what = 'read'): number {
    let bad = 0;
    if (data.length < nlb * this.lbaSize) {
      this.mismatches.push(`${what}: LBA ${lba}+${nlb}: ${data.length} bytes returned`);
      return nlb;
    }
    const got = Buffer.from(data.buffer, data.byteOffset, nlb * this.lbaSize);
    const want = Buffer.from(this.shadow.buffer, this.shadow.byteOffset + lba * this.lbaSize, nlb * this.lbaSize);
    for (let b = 0; b < nlb; b++) {
      if (this.known[lba + b] !== 1) continue;
      this.counts.blocksVerified++;
      const o = b * this.lbaSize;
      if (got.compare(want, o, o + this.lbaSize, o, o + this.lbaSize) !== 0) {
        bad++;
        if (this.mismatches.length < 8) this.mismatches.push(`${what}: LBA ${lba + b} differs from its acknowledged write`);
      }
    }
    this.counts.ackedBlocksLost += bad;
    return bad;
  }

  private count(o: IoOutcome): void {
    if (o === 'ok') this.counts.ok++;
    else if (o === 'failed') this.counts.failed++;
    else this.counts.lost++;
  }
}

/**
 * Write data for a slot: every block starts with the write's sequence number and its LBA, and
 * the rest is one byte value, so a block written by another command or at another LBA differs.
 * @param seq the write's sequence number.
 * @param lba its first LBA.
 * @param nlb blocks.
 * @param lbaSize bytes per block.
 * @returns the bytes.
 */
export function patternFor(seq: number, lba: number, nlb: number, lbaSize: number): Uint8Array {
  const out = new Uint8Array(nlb * lbaSize);
  out.fill((seq * 31 + 7) & 0xff);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nlb; b++) {
    dv.setUint32(b * lbaSize, seq >>> 0, true);
    dv.setUint32(b * lbaSize + 4, (lba + b) >>> 0, true);
  }
  return out;
}
