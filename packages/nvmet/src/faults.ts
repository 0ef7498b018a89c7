/**
 * Fault injection on a whole NVMe-oF testbed: one call arms a fault of a chosen kind at a
 * random (seeded) place and moment, through the injector of the layer where the concept lives
 * (pci-core's fabric, nvme-pci's controller model, rdma-rw's QPs, the allocation sites of
 * `kernel.faults`, p2pdma's provider removal). For the soak run and the end-to-end tests.
 *
 * The kinds are data (`NVMET_TESTBED_FAULT_KINDS`): what each arms, the layer, and whether the
 * testbed keeps working afterwards (`recovers`): `true` when the stack recovers by itself (the
 * command is retried or falls back, the controller is reset); `'reconnect'` when the RDMA
 * connection is torn down and the initiator must connect again; `false` when the device is gone
 * (link down, provider unbound) and later I/O keeps failing or falls back for good.
 *
 * @kernel — (the model's fault orchestration; each injector documents its kernel behaviour)
 */
import type { Kernel } from '@p2pdma/kernel';
import { deviceDel } from '@p2pdma/kernel';
import { FAULT_BLK_MQ_GET_TAG } from '@p2pdma/blk';
import { nvmeControllerOf } from '@p2pdma/nvme-pci';
import type { FabricDmaErrorStatus } from '@p2pdma/pci-core';
import { FABRIC_FAULT_DMA_ERROR, FABRIC_FAULT_LINK_DOWN, FABRIC_FAULT_UR, pciBusAddress, pciResourceLen } from '@p2pdma/pci-core';
import { FAULT_P2PMEM_ALLOC } from '@p2pdma/p2pdma';
import type { IbCompletionErrorTarget, IbWcStatus } from '@p2pdma/rdma-rw';
import { IB_WC_LOC_PROT_ERR, IB_WC_REM_ACCESS_ERR, IB_WC_RETRY_EXC_ERR, IB_WR_RDMA_READ, IB_WR_RDMA_WRITE, IB_WR_SEND } from '@p2pdma/rdma-rw';
import { FAULT_NVMET_REQ_ALLOC_SGLS } from './req';
import type { NvmetTestbed } from './testbed';

/** A testbed fault kind. */
export type NvmetTestbedFaultKind =
  | 'rnic-dma-error'
  | 'drive-dma-error'
  | 'drive-link-down'
  | 'unsupported-request'
  | 'nvme-fatal'
  | 'rnic-completion-error'
  | 'p2pmem-alloc'
  | 'blk-mq-tag'
  | 'nvmet-sgl-alloc'
  | 'provider-unbind';

/** One row of `NVMET_TESTBED_FAULT_KINDS`. */
export interface NvmetTestbedFaultKindInfo {
  /** The kind. */
  readonly kind: NvmetTestbedFaultKind;
  /** The package whose injector arms it. */
  readonly layer: 'pci-core' | 'nvme-pci' | 'rdma-rw' | 'p2pdma' | 'blk' | 'nvmet';
  /** Whether the testbed keeps working afterwards (see the module comment). */
  readonly recovers: boolean | 'reconnect';
  /** What is armed and what the stack does. */
  readonly models: string;
}

/** Every testbed fault kind, in a fixed order. */
export const NVMET_TESTBED_FAULT_KINDS: readonly NvmetTestbedFaultKindInfo[] = [
  { kind: 'rnic-dma-error', layer: 'pci-core', recovers: 'reconnect', models: "one of the RNIC's DMA reads fails (poisoned/CA/UR): the WR completes IB_WC_LOC_PROT_ERR, nvmet-rdma fails the controller, the queues are torn down" },
  { kind: 'drive-dma-error', layer: 'pci-core', recovers: true, models: "one of the drive's DMAs fails: a data transfer completes NVME_SC_DATA_XFER_ERROR (retried by the host driver), an SQE fetch or CQE post sets CSTS.CFS (reset on timeout)" },
  { kind: 'drive-link-down', layer: 'pci-core', recovers: false, models: "the drive's link goes down: CSTS reads all-ones, the reset fails, the namespace's I/O ends BLK_STS_IOERR" },
  { kind: 'unsupported-request', layer: 'pci-core', recovers: true, models: "the drive's DMA to a 64 KiB window of the data buffers' region (the P2P provider's BAR, else System RAM) completes UR: the command fails while the window is armed" },
  { kind: 'nvme-fatal', layer: 'nvme-pci', recovers: true, models: 'the drive sets CSTS.CFS and stops: the I/O times out (30 s), the controller is reset, the I/O is requeued and completes' },
  { kind: 'rnic-completion-error', layer: 'rdma-rw', recovers: 'reconnect', models: 'a WR of a target I/O queue completes with an IB_WC_* error: nvmet-rdma fails the controller, the queues are torn down, the initiator sees its command lost' },
  { kind: 'p2pmem-alloc', layer: 'p2pdma', recovers: true, models: 'a p2pmem allocation fails: nvmet falls back to System RAM for that command' },
  { kind: 'blk-mq-tag', layer: 'blk', recovers: true, models: 'a blk-mq request allocation fails: BLK_STS_IOERR, the command completes NVME_SC_INTERNAL|DNR' },
  { kind: 'nvmet-sgl-alloc', layer: 'nvmet', recovers: true, models: "a command's data buffer cannot be allocated: the command completes NVME_SC_INTERNAL" },
  { kind: 'provider-unbind', layer: 'p2pdma', recovers: false, models: 'the p2pmem card is removed with buffers out: removal waits for the last free, later commands fall back to System RAM' },
];

/** A source of uniform floats in [0, 1) (`SeededRng`, `KernelRng`). */
export interface NvmetFaultRng {
  /** @returns the next float in [0, 1). */
  next(): number;
}

/** An armed testbed fault. */
export interface NvmetTestbedFault {
  /** The kind. */
  readonly kind: NvmetTestbedFaultKind;
  /** What was armed, for logs and soak summaries (`dma-error on 0000:03:00.0 reads, nth 3`). */
  readonly description: string;
  /** Disarms what is still pending (a link comes back up; a removed provider stays removed). */
  clear(): void;
}

/** Why a fault could not be armed on this testbed. */
export interface NvmetTestbedFaultError {
  /** The kind and the reason. */
  readonly error: string;
}

/** Size of the address window an `unsupported-request` fault covers. */
const UR_WINDOW = 64 * 1024;
const DMA_STATUSES: readonly FabricDmaErrorStatus[] = ['poisoned', 'ca', 'ur'];
const WC_STATUSES: readonly IbWcStatus[] = [IB_WC_LOC_PROT_ERR, IB_WC_REM_ACCESS_ERR, IB_WC_RETRY_EXC_ERR];
const WC_TARGETS: readonly IbCompletionErrorTarget[] = [IB_WR_RDMA_READ, IB_WR_RDMA_WRITE, IB_WR_SEND, 'recv'];
const WC_TARGET_NAMES: Readonly<Record<string, string>> = { [IB_WR_RDMA_READ]: 'RDMA READ', [IB_WR_RDMA_WRITE]: 'RDMA WRITE', [IB_WR_SEND]: 'SEND', recv: 'RECV' };

function pick<T>(rng: NvmetFaultRng, list: readonly T[]): T {
  return list[Math.floor(rng.next() * list.length)]!;
}

function between(rng: NvmetFaultRng, lo: number, hi: number): number {
  return lo + Math.floor(rng.next() * (hi - lo + 1));
}

function allocFault(kernel: Kernel, site: string, kind: NvmetTestbedFaultKind, rng: NvmetFaultRng): NvmetTestbedFault {
  const nth = between(rng, 1, 4);
  kernel.faults.inject(site, { nth });
  return { kind, description: `${site} fails its call ${nth} from now`, clear: () => kernel.faults.clear(site) };
}

/**
 * Arms a fault of a kind at a random place and moment of a testbed (deterministic for a given
 * RNG state). Nothing runs: the fault fires when the I/O the caller issues next reaches it.
 * @param tb the testbed.
 * @param kind the kind (`NVMET_TESTBED_FAULT_KINDS`).
 * @param rng the random source (the caller's, seeded).
 * @returns the armed fault (with `clear`), or `{ error }` for an unknown kind or one this
 *   testbed cannot take (no connected I/O queue, no p2pmem card for `provider-unbind`).
 */
export function injectTestbedFault(tb: NvmetTestbed, kind: NvmetTestbedFaultKind, rng: NvmetFaultRng): NvmetTestbedFault | NvmetTestbedFaultError {
  const fabric = tb.sys.fabric;
  const k = tb.kernel;
  switch (kind) {
    case 'rnic-dma-error': {
      const nth = between(rng, 1, 8);
      const status = pick(rng, DMA_STATUSES);
      const id = fabric.injectFault({ kind: FABRIC_FAULT_DMA_ERROR, device: tb.rnic, dir: 'read', status, nth, times: 1 });
      return { kind, description: `dma-error (${status}) on ${tb.rnic.name} reads, nth ${nth}`, clear: () => fabric.clearFault(id) };
    }
    case 'drive-dma-error': {
      const nth = between(rng, 1, 8);
      const status = pick(rng, DMA_STATUSES);
      const id = fabric.injectFault({ kind: FABRIC_FAULT_DMA_ERROR, device: tb.drive, status, nth, times: 1 });
      return { kind, description: `dma-error (${status}) on ${tb.drive.name}, nth ${nth}`, clear: () => fabric.clearFault(id) };
    }
    case 'drive-link-down': {
      const link = fabric.linkOf(tb.drive);
      if (link === null) return { error: `${kind}: ${tb.drive.name} sits on no link` };
      const id = fabric.injectFault({ kind: FABRIC_FAULT_LINK_DOWN, link });
      return { kind, description: `link ${link} down`, clear: () => fabric.clearFault(id) };
    }
    case 'unsupported-request': {
      const region = tb.provider ?? null;
      let addr: number;
      let len: number;
      if (region !== null) {
        const bar = region === tb.drive ? (nvmeControllerOf(region)?.cmb?.bar ?? 0) : (region.spec.p2pmem?.bar ?? 4);
        addr = pciBusAddress(region, bar);
        len = pciResourceLen(region, bar);
      } else {
        const ram = k.memory.ramRanges();
        const r = pick(rng, ram);
        addr = r.base;
        len = r.size;
      }
      // A random 64 KiB window of the region, so some I/O still gets through.
      const win = Math.min(len, UR_WINDOW);
      addr += Math.floor(rng.next() * Math.floor(len / win)) * win;
      len = win;
      const id = fabric.injectFault({ kind: FABRIC_FAULT_UR, addr, len, initiator: tb.drive });
      return {
        kind,
        description: `UR for ${tb.drive.name} DMA to 0x${addr.toString(16)}..0x${(addr + len - 1).toString(16)}`,
        clear: () => fabric.clearFault(id),
      };
    }
    case 'nvme-fatal': {
      const c = nvmeControllerOf(tb.drive);
      if (c === null) return { error: `${kind}: ${tb.drive.name} has no controller model` };
      c.injectFatal();
      return { kind, description: `CSTS.CFS on ${tb.drive.name}`, clear: () => {} };
    }
    case 'rnic-completion-error': {
      const queues = [...tb.transport.queues].filter((q) => q.hostQid > 0 && q.state === 'live');
      if (queues.length === 0) return { error: `${kind}: no live I/O queue on the target` };
      const q = pick(rng, queues);
      const status = pick(rng, WC_STATUSES);
      const opcode = pick(rng, WC_TARGETS);
      const nth = between(rng, 1, 4);
      q.qp.injectCompletionError({ status, opcode, nth });
      return {
        kind,
        description: `IB_WC status ${status} on the ${WC_TARGET_NAMES[String(opcode)]} ${nth} of queue ${q.idx} (host qid ${q.hostQid})`,
        clear: () => q.qp.clearCompletionErrors(),
      };
    }
    case 'p2pmem-alloc':
      return allocFault(k, FAULT_P2PMEM_ALLOC, kind, rng);
    case 'blk-mq-tag':
      return allocFault(k, FAULT_BLK_MQ_GET_TAG, kind, rng);
    case 'nvmet-sgl-alloc':
      return allocFault(k, FAULT_NVMET_REQ_ALLOC_SGLS, kind, rng);
    case 'provider-unbind': {
      const card = tb.provider;
      if (card === null || card === tb.drive) return { error: `${kind}: the testbed's placement has no p2pmem card to remove` };
      deviceDel(card);
      return { kind, description: `${card.name} removed`, clear: () => {} };
    }
    default:
      return { error: `fault kind '${String(kind)}': expected one of ${NVMET_TESTBED_FAULT_KINDS.map((x) => x.kind).join(', ')}` };
  }
}

/**
 * Tears a testbed's connection down the way `nvme disconnect` does and runs the clock until
 * nothing is pending (target queues released, timers done), so `nvmetTestbedLeaks` can be
 * checked.
 * @param tb the testbed.
 * @param maxEvents bound on clock events run (default 1,000,000), so a model bug cannot hang.
 * @returns `true` when the clock went idle within the bound.
 */
export function nvmetTestbedTeardown(tb: NvmetTestbed, maxEvents = 1_000_000): boolean {
  tb.ctrl?.disconnect();
  const clock = tb.kernel.clock;
  for (let i = 0; i < maxEvents; i++) if (!clock.runNext()) return true;
  return false;
}
