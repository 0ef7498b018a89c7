/**
 * DRAM bytes for data, told apart from DRAM bytes for commands, exactly.
 *
 * The fabric counts every DMA byte that reaches System RAM (`counters().dram`) but not what the
 * bytes were. The kernel knows: I/O data buffers are mapped with `dma_map_sg` (nvmet-rdma through
 * `rdma_rw_ctx_init`, the NVMe driver in `nvme_map_data`), while command and completion memory is
 * mapped another way (capsule and response buffers with `dma_map_single`, SQ/CQ rings and PRP
 * list pages with `dma_alloc_coherent`). The DMA-API debug registry (`kernel.dmaDebug`) holds
 * every live mapping with its type.
 *
 * So a {@link DramSplitTap} watches each DMA of one machine's fabric: it reads the fabric's DRAM
 * counters before and after the transfer (the bytes come from the counters, not from sizes) and
 * gives them to "data" when the transfer's DMA address range lies in a live scatter-gather
 * mapping of the initiating function, and to "command" otherwise. Data plus command is always the
 * fabric's DRAM total; {@link DramSplitTap.check} proves it.
 *
 * Limit: in-capsule write data (nvmet-rdma's inline data) arrives in the queue's receive pages,
 * which are `dma_map_single` mappings, so the RNIC's write of it counts as command bytes (the
 * drive's read of it, through the request's scatterlist, counts as data). Workloads that want a
 * clean split keep every write above the inline size.
 *
 * @kernel kernel/dma/debug.c (the mapping types it records); drivers/nvme/target/rdma.c,
 *   drivers/nvme/host/pci.c (who maps what how)
 */
import type { Kernel } from '@p2pdma/kernel';
import { KernelBug } from '@p2pdma/kernel';
import type { Fabric, PciDev } from '@p2pdma/pci-core';

/** DRAM bytes by purpose and direction (reads and writes are DMA reads/writes of System RAM). */
export interface DramSplit {
  /** Bytes read from I/O data buffers. */
  readonly dataRead: number;
  /** Bytes written into I/O data buffers. */
  readonly dataWrite: number;
  /** Bytes read from command memory (SQEs, PRP lists, responses, capsules). */
  readonly commandRead: number;
  /** Bytes written into command memory (capsules received, CQEs). */
  readonly commandWrite: number;
}

/** A split with every figure 0 (shared and frozen: never mutate it). */
export const ZERO_DRAM_SPLIT: DramSplit = Object.freeze({ dataRead: 0, dataWrite: 0, commandRead: 0, commandWrite: 0 });

/**
 * The difference of two splits taken from one tap (`later − earlier`).
 * @param later the later snapshot.
 * @param earlier the earlier one.
 * @returns a fresh split the caller owns.
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

/** Called after each DMA of a watched fabric, with the transfer and its DRAM bytes. */
type DmaObserver = (initiator: PciDev, addr: number, len: number, isRead: boolean, dramBytes: number) => void;

/** Fabrics being watched, so two watchers never double-count one fabric. */
const watched = new WeakSet<Fabric>();

/**
 * Watches a fabric's DMA through its observer hook (`Fabric.observe`) and reports each transfer
 * that moved DRAM bytes.
 * @param fabric the fabric to watch.
 * @param observer told about every transfer that moved DRAM bytes.
 * @returns the function that stops watching (idempotent).
 * @throws KernelBug when the fabric is already watched by a tap.
 */
function watchFabricDma(fabric: Fabric, observer: DmaObserver): () => void {
  if (watched.has(fabric)) throw new KernelBug('DramSplitTap: this fabric already has a tap');
  watched.add(fabric);
  const stop = fabric.observe((t) => {
    if (t.dramBytes !== 0) observer(t.initiator, t.dmaAddr, t.len, t.dir === 'read', t.dramBytes);
  });
  let attached = true;
  return () => {
    if (!attached) return;
    attached = false;
    stop();
    watched.delete(fabric);
  };
}

/**
 * Observes one fabric's DMA and splits its DRAM bytes into data and command bytes. It changes no
 * transfer: it listens through the fabric's observer hook (`Fabric.observe`). The tap owns nothing but its totals; the caller owns the tap and must
 * {@link DramSplitTap.detach} it to stop watching (the kernel and fabric stay the caller's).
 */
export class DramSplitTap {
  private dataRead = 0;
  private dataWrite = 0;
  private commandRead = 0;
  private commandWrite = 0;
  private readonly unwatch: () => void;

  /**
   * Starts watching.
   * @param kernel the machine's kernel (its `dmaDebug` registry classifies addresses).
   * @param fabric the machine's fabric (`sys.fabric`); observed until {@link detach}.
   * @throws KernelBug when the fabric is already tapped (a second tap would double-count).
   */
  constructor(
    private readonly kernel: Kernel,
    fabric: Fabric,
  ) {
    this.unwatch = watchFabricDma(fabric, (initiator, addr, len, isRead, moved) => this.account(initiator, addr, len, isRead, moved));
  }

  /**
   * The totals since the tap started.
   * @returns a fresh split the caller owns.
   */
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

  /** Stops watching the fabric. Idempotent. */
  detach(): void {
    this.unwatch();
  }

  /** Gives `moved` DRAM bytes of one transfer to data (inside an sg mapping) and command (the rest). */
  private account(initiator: PciDev, addr: number, len: number, isRead: boolean, moved: number): void {
    const data = Math.min(moved, this.sgCovered(initiator, addr, len));
    if (isRead) {
      this.dataRead += data;
      this.commandRead += moved - data;
    } else {
      this.dataWrite += data;
      this.commandWrite += moved - data;
    }
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
