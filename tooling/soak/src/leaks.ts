/**
 * Leak accounting for a testbed: what must come back after every controller is gone. One
 * function (`checkLeaks`) compares a testbed with the counts taken before its controllers
 * connected; new counters (tags, per-device accounting) are added here and every caller gets
 * them.
 *
 * Counted: System RAM pages (`freePageCount`), live DMA mappings (dma-debug), p2pmem available
 * in every published provider, blk-mq tags busy on every NVMe drive, RDMA queues of the
 * transport, controllers of every subsystem, allocated controller IDs, commands pending on the
 * host's queues, and the host's buffer memory; plus every counter of nvmet's own
 * `nvmetTestbedLeaks` (pages, mappings, p2pmem, a pending provider removal, tags, host memory,
 * queues, controllers against the testbed's pre-connect baseline).
 *
 * @kernel — (test tooling; the counts mirror /proc/meminfo, dma-debug, p2pmem/available)
 */
import { nvmeDevOf } from '@p2pdma/nvme-pci';
import type { NvmetTestbed, NvmfController } from '@p2pdma/nvmet';
import { nvmetTestbedLeaks } from '@p2pdma/nvmet';

/** Counts taken on a testbed with no controller connected. */
export interface LeakBaseline {
  /** Free System RAM pages. */
  readonly freePages: number;
  /** Live DMA mappings (all devices). */
  readonly dmaMappings: number;
  /** p2pmem `available` per provider BDF. */
  readonly p2pmemAvailable: ReadonlyMap<string, string>;
}

/** The providers of a testbed: every function with a `p2pmem/available` attribute. */
function p2pmemAvailable(bed: NvmetTestbed): Map<string, string> {
  const m = new Map<string, string>();
  for (const d of bed.sys.deviceList) {
    const v = bed.kernel.sysfs.read(`/sys/bus/pci/devices/${d.name}/p2pmem/available`);
    if (typeof v === 'string') m.set(d.name, v.trim());
  }
  return m;
}

/**
 * Takes the counts of a testbed before any controller connects.
 * @param bed a testbed built with `connect: false` (or with every controller gone).
 * @returns the baseline (owned by the caller).
 */
export function leakBaseline(bed: NvmetTestbed): LeakBaseline {
  return { freePages: bed.kernel.memory.freePageCount(), dmaMappings: bed.kernel.dmaDebug.liveCount(), p2pmemAvailable: p2pmemAvailable(bed) };
}

/**
 * Lists what a testbed still holds after teardown: call it once every controller has
 * disconnected and the clock has run the teardown work.
 * @param bed the testbed.
 * @param base its baseline.
 * @param ctrls every host controller used since the baseline (their queues and buffers are checked).
 * @returns one message per leak (empty: nothing leaked), e.g.
 *   `p2pmem 0000:06:00.0: available 268369920, expected 268435456`.
 */
export function checkLeaks(bed: NvmetTestbed, base: LeakBaseline, ctrls: readonly NvmfController[]): string[] {
  const out: string[] = [];
  const free = bed.kernel.memory.freePageCount();
  if (free !== base.freePages) out.push(`System RAM: ${base.freePages - free} page(s) not freed (free ${free}, expected ${base.freePages})`);
  const maps = bed.kernel.dmaDebug.liveCount();
  if (maps !== base.dmaMappings) out.push(`dma-debug: ${maps} live mapping(s), expected ${base.dmaMappings}`);
  const now = p2pmemAvailable(bed);
  for (const [bdf, want] of base.p2pmemAvailable) {
    const got = now.get(bdf);
    // A provider removed by a fault took its pool with it (a removal still waiting for its last
    // free is reported by nvmetTestbedLeaks as p2pRemovalPending).
    if (got !== undefined && got !== want) out.push(`p2pmem ${bdf}: available ${got}, expected ${want}`);
  }
  for (const d of bed.sys.deviceList) {
    const tags = nvmeDevOf(d)?.tagset?.tags ?? [];
    const busy = tags.reduce((n, t) => n + t.busy, 0);
    if (busy !== 0) out.push(`nvme ${d.name}: ${busy} blk-mq tag(s) still busy`);
  }
  if (bed.transport.queues.size !== 0) out.push(`nvmet-rdma: ${bed.transport.queues.size} queue(s) still allocated`);
  for (const [nqn, s] of bed.target.subsystems) if (s.ctrls.length !== 0) out.push(`subsystem ${nqn}: ${s.ctrls.length} controller(s) still allocated`);
  if (bed.target.cntlidIda.size !== 0) out.push(`nvmet: ${bed.target.cntlidIda.size} controller ID(s) still allocated`);
  let pending = 0;
  for (const c of ctrls) for (const q of [c.admin, ...c.ioQueues]) pending += q?.pending.size ?? 0;
  if (pending !== 0) out.push(`initiator: ${pending} command(s) still pending on host queues`);
  for (const [counter, n] of Object.entries(nvmetTestbedLeaks(bed))) if (n !== 0) out.push(`nvmetTestbedLeaks ${counter}: ${n}`);
  // Each initiator's buffer allocator is shared by its controllers: all of it must be free.
  const byInitiator = new Map<NvmfController['initiator'], NvmfController>();
  for (const c of ctrls) if (!byInitiator.has(c.initiator)) byInitiator.set(c.initiator, c);
  for (const [ini, c] of byInitiator) {
    const len = ini.host.memory.length;
    const a = c.memory.alloc(len);
    if (a === null) out.push(`initiator ${ini.host.name}: host buffer memory not fully freed (${len} bytes requested)`);
    else c.memory.release(a, len);
  }
  return out;
}
