/**
 * DRAM bytes for data, told apart from DRAM bytes for commands, exactly. (The same module as
 * examples/nvmf-p2p-offload/src/dram-split.ts: examples cannot depend on each other, and the
 * fabric has no per-address counters of its own.)
 *
 * The fabric counts every DMA byte that reaches System RAM (`counters().dram`) but not what the
 * bytes were. The kernel knows: the NVMe driver maps a request's data pages with `dma_map_sg` in
 * `nvme_map_data`, while its SQ/CQ rings and PRP list pages come from `dma_alloc_coherent`. The
 * DMA-API debug registry (`kernel.dmaDebug`) holds every live mapping with its type.
 *
 * So a {@link DramSplitTap} watches each DMA of the machine's fabric: it reads the fabric's DRAM
 * counters before and after the transfer (the bytes come from the counters, not from sizes) and
 * gives them to "data" when the transfer's DMA address range lies in a live scatter-gather
 * mapping of the initiating function, and to "command" otherwise. Data plus command is always the
 * fabric's DRAM total; {@link DramSplitTap.check} proves it.
 *
 * @kernel kernel/dma/debug.c (the mapping types it records); drivers/nvme/host/pci.c (who maps
 *   what how)
 */
import type { Kernel } from '@p2pdma/kernel';
import type { Fabric, PciDev, TransactionResult } from '@p2pdma/pci-core';

/** DRAM bytes by purpose and direction (reads and writes are DMA reads/writes of System RAM). */
export interface DramSplit {
  /** Bytes read from I/O data buffers. */
  readonly dataRead: number;
  /** Bytes written into I/O data buffers. */
  readonly dataWrite: number;
  /** Bytes read from command memory (SQEs, PRP lists). */
  readonly commandRead: number;
  /** Bytes written into command memory (CQEs). */
  readonly commandWrite: number;
}

/** A split with every figure 0. */
export const ZERO_DRAM_SPLIT: DramSplit = { dataRead: 0, dataWrite: 0, commandRead: 0, commandWrite: 0 };

/**
 * The difference of two splits taken from one tap (`later − earlier`).
 * @param later the later snapshot.
 * @param earlier the earlier one.
 * @returns a fresh split.
 */
export function dramSplitDiff(later: DramSplit, earlier: DramSplit): DramSplit {
  return {
    dataRead: later.dataRead - earlier.dataRead,
    dataWrite: later.dataWrite - earlier.dataWrite,
    commandRead: later.commandRead - earlier.commandRead,
    commandWrite: later.commandWrite - earlier.commandWrite,
  };
}

/** DMA-API debug type of the mappings that hold I/O data. */
const DATA_MAPPING_TYPE = 'sg';

/**
 * Observes one fabric's DMA and splits its DRAM bytes into data and command bytes. It changes no
 * transfer: each DMA goes to the fabric's own method with the same arguments and its result is
 * returned unchanged. The tap owns nothing but its totals; `detach` restores the fabric.
 */
export class DramSplitTap {
  private dataRead = 0;
  private dataWrite = 0;
  private commandRead = 0;
  private commandWrite = 0;
  private readonly origRead: Fabric['dmaRead'];
  private readonly origWrite: Fabric['dmaWrite'];
  private attached = true;

  /**
   * Starts watching.
   * @param kernel the machine's kernel (its `dmaDebug` registry classifies addresses).
   * @param fabric the machine's fabric (`sys.fabric`); its `dmaRead`/`dmaWrite` are wrapped until
   *   {@link detach}.
   * @throws Error when the fabric is already tapped (a second tap would double-count).
   */
  constructor(
    private readonly kernel: Kernel,
    private readonly fabric: Fabric,
  ) {
    if (tapped.has(fabric)) throw new Error('DramSplitTap: this fabric already has a tap');
    tapped.add(fabric);
    this.origRead = fabric.dmaRead;
    this.origWrite = fabric.dmaWrite;
    fabric.dmaRead = (initiator, addr, out) => this.observe(initiator, addr, out, true);
    fabric.dmaWrite = (initiator, addr, data) => this.observe(initiator, addr, data, false);
  }

  /** The totals since the tap started. */
  split(): DramSplit {
    return { dataRead: this.dataRead, dataWrite: this.dataWrite, commandRead: this.commandRead, commandWrite: this.commandWrite };
  }

  /**
   * Whether the split accounts for the fabric's DRAM counters exactly.
   * @param dram `fabric.counters().dram`, with the counters reset when the tap started.
   * @returns `null` when data + command equals the counters in both directions, else a sentence
   *   naming the mismatch.
   */
  check(dram: { readonly read: number; readonly write: number }): string | null {
    const r = this.dataRead + this.commandRead;
    const w = this.dataWrite + this.commandWrite;
    return r === dram.read && w === dram.write ? null : `DRAM split read ${r} / write ${w} differs from the fabric's counters read ${dram.read} / write ${dram.write}`;
  }

  /** Stops watching: the fabric's own methods are put back. Idempotent. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.fabric.dmaRead = this.origRead;
    this.fabric.dmaWrite = this.origWrite;
    tapped.delete(this.fabric);
  }

  private observe(initiator: PciDev, addr: number, buf: Uint8Array, isRead: boolean): TransactionResult {
    const before = this.fabric.counters().dram;
    const r = isRead ? this.origRead.call(this.fabric, initiator, addr, buf) : this.origWrite.call(this.fabric, initiator, addr, buf);
    const after = this.fabric.counters().dram;
    const moved = isRead ? after.read - before.read : after.write - before.write;
    if (moved === 0) return r;
    const data = Math.min(moved, this.sgCovered(initiator, addr, buf.length));
    if (isRead) {
      this.dataRead += data;
      this.commandRead += moved - data;
    } else {
      this.dataWrite += data;
      this.commandWrite += moved - data;
    }
    return r;
  }

  /** Bytes of `[addr, addr + len)` inside the initiator's live scatter-gather mappings. */
  private sgCovered(dev: PciDev, addr: number, len: number): number {
    const segs = this.kernel.dmaDebug
      .liveMappings(dev)
      .filter((e) => e.type === DATA_MAPPING_TYPE && e.dmaAddress < addr + len && e.dmaAddress + e.size > addr)
      .map((e) => [Math.max(e.dmaAddress, addr), Math.min(e.dmaAddress + e.size, addr + len)] as const)
      .sort((a, b) => a[0] - b[0]);
    // Union of the clipped segments (the same buffer may be mapped by two requests at once).
    let covered = 0;
    let end = addr;
    for (const [s, e] of segs) {
      const from = Math.max(s, end);
      if (e > from) {
        covered += e - from;
        end = e;
      }
    }
    return covered;
  }
}

/** Fabrics with a tap, so two taps never double-count one fabric. */
const tapped = new WeakSet<Fabric>();
