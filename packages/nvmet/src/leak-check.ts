/**
 * Leak accounting for the NVMe-oF testbed: every resource a command or a connection takes,
 * counted by name, so a test can assert that after a fault and the teardown everything came
 * back (all counts zero relative to the testbed's state before the initiator connected).
 *
 * Counted: page frames in use (the page allocator), live DMA mappings (the DMA-API debug
 * registry), p2pmem bytes allocated from the provider's pool (gen_pool size − available),
 * whether the provider's removal is still waiting for a free, busy blk-mq tags of the exported
 * drive, the initiator's host memory held by commands, nvmet-rdma queues and target controllers.
 *
 * @kernel — (the model's leak checks: kmemleak / DMA-API debug / gen_pool_avail in spirit)
 */
import type { Kernel } from '@p2pdma/kernel';
import { PAGE_SIZE } from '@p2pdma/kernel';
import { nvmeDevOf } from '@p2pdma/nvme-pci';
import { pciP2pdma, pciP2pdmaRemovalPending } from '@p2pdma/p2pdma';
import type { PciDev } from '@p2pdma/pci-core';
import type { NvmfInitiator } from './initiator';
import type { NvmetRdmaTransport } from './rdma';

/** Outstanding resources by name (see the module comment). */
export interface NvmetLeakCounts {
  /** Page frames in use. */
  readonly pages: number;
  /** Live DMA mappings (all devices). */
  readonly dmaMappings: number;
  /** p2pmem bytes allocated from the provider's pool. */
  readonly p2pmemBytes: number;
  /** 1 while the provider's removal waits for its last free, else 0. */
  readonly p2pRemovalPending: number;
  /** Busy blk-mq tags of the exported drive. */
  readonly blkTags: number;
  /** Initiator host memory held by commands (bytes). */
  readonly hostMemoryBytes: number;
  /** nvmet-rdma queues not yet released. */
  readonly nvmetQueues: number;
  /** Target controllers alive. */
  readonly nvmetCtrls: number;
}

/** The names of `NvmetLeakCounts`, in a fixed order. */
export const NVMET_LEAK_COUNTERS: readonly (keyof NvmetLeakCounts)[] = [
  'pages',
  'dmaMappings',
  'p2pmemBytes',
  'p2pRemovalPending',
  'blkTags',
  'hostMemoryBytes',
  'nvmetQueues',
  'nvmetCtrls',
];

/**
 * Counts the outstanding resources of a target machine (absolute values).
 * @param kernel the target's kernel.
 * @param transport its RDMA transport.
 * @param drive the exported drive.
 * @param provider the P2P provider (`null`: none).
 * @param initiator the initiator (`null`: not yet made; counts 0).
 * @returns the counts.
 */
export function nvmetLeakCountsRaw(kernel: Kernel, transport: NvmetRdmaTransport, drive: PciDev, provider: PciDev | null, initiator: NvmfInitiator | null): NvmetLeakCounts {
  const pool = provider === null ? null : (pciP2pdma(provider)?.pool ?? null);
  let tags = 0;
  for (const t of nvmeDevOf(drive)?.tagset?.tags ?? []) tags += t.busy;
  let ctrls = 0;
  for (const s of transport.target.subsystems.values()) ctrls += s.ctrls.length;
  return {
    pages: Math.floor(kernel.memory.totalRam() / PAGE_SIZE) - kernel.memory.freePageCount(),
    dmaMappings: kernel.dmaDebug.liveCount(),
    p2pmemBytes: pool === null ? 0 : pool.size() - pool.avail(),
    p2pRemovalPending: provider !== null && pciP2pdmaRemovalPending(provider) ? 1 : 0,
    blkTags: tags,
    hostMemoryBytes: initiator === null ? 0 : initiator.hostMemoryInUse(),
    nvmetQueues: transport.queues.size,
    nvmetCtrls: ctrls,
  };
}

/**
 * What a testbed holds now beyond what it held before the initiator connected.
 * @param tb the testbed (`buildNvmetTestbed`).
 * @returns each count minus the baseline: all zero when nothing leaked (after
 *   `nvmetTestbedTeardown`). p2pmem and the pages of a provider that was unbound count from zero.
 */
export function nvmetTestbedLeaks(tb: {
  readonly kernel: Kernel;
  readonly transport: NvmetRdmaTransport;
  readonly drive: PciDev;
  readonly provider: PciDev | null;
  readonly initiator: NvmfInitiator;
  readonly leakBaseline: NvmetLeakCounts;
}): NvmetLeakCounts {
  const now = nvmetLeakCountsRaw(tb.kernel, tb.transport, tb.drive, tb.provider, tb.initiator);
  const base = tb.leakBaseline;
  const gone = tb.provider !== null && pciP2pdma(tb.provider) === null;
  return {
    pages: now.pages - base.pages,
    dmaMappings: now.dmaMappings - base.dmaMappings,
    p2pmemBytes: gone ? 0 : now.p2pmemBytes - base.p2pmemBytes,
    p2pRemovalPending: now.p2pRemovalPending,
    blkTags: now.blkTags - base.blkTags,
    hostMemoryBytes: now.hostMemoryBytes - base.hostMemoryBytes,
    nvmetQueues: now.nvmetQueues - base.nvmetQueues,
    nvmetCtrls: now.nvmetCtrls - base.nvmetCtrls,
  };
}
