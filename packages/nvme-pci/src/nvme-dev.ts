/**
 * The PCIe transport's per-device state (`struct nvme_dev`), its module parameters, and where
 * the 4.16 (+ seed) and 6.6 drivers differ, as a table.
 *
 * @kernel drivers/nvme/host/pci.c (struct nvme_dev, module parameters)
 */
import type { Kernel, P2pdmaPolicy, SysfsAttribute } from '@p2pdma/kernel';
import type { BlkMqTagSet } from '@p2pdma/blk';
import type { PciDev } from '@p2pdma/pci-core';
import type { NvmeCtrl, NvmeCtrlOps } from './nvme-ctrl';
import type { NvmeQueue } from './nvme-queue';

/** How the SQ tail doorbell is written after an SQE is copied (the patch 07 review). */
export type NvmeSqDoorbellOrdering = 'writel' | 'relaxed';

/** Module parameters of the nvme driver (one set per registered driver). */
export interface NvmePciParams {
  /** Use the controller memory buffer for I/O SQs (`use_cmb_sqes`, default true). */
  useCmbSqes?: boolean;
  /** I/O queue depth wanted (`io_queue_depth`, default 1024, at least 2). */
  ioQueueDepth?: number;
  /** CPUs present: the I/O queues asked for (`num_present_cpus()`, default 4). */
  nrCpus?: number;
  /** The controller operations (default `NVME_PCI_CTRL_OPS`; `NVME_PCI_CTRL_OPS_NO_P2PDMA` is 4.16 without patch 08). */
  ctrlOps?: NvmeCtrlOps;
  /**
   * `'writel'` (default): the doorbell write orders the SQE copy before it, as `writel` does.
   * `'relaxed'`: a barrier-free doorbell (`writel_relaxed`), the weakly ordered CPU the review
   * worried about: an SQE in the CMB may still be in the write buffer when the controller
   * fetches it.
   */
  sqDoorbell?: NvmeSqDoorbellOrdering;
}

/** Parameters with every default applied. */
export interface ResolvedNvmePciParams {
  readonly useCmbSqes: boolean;
  readonly ioQueueDepth: number;
  readonly nrCpus: number;
  readonly ctrlOps: NvmeCtrlOps;
  readonly sqDoorbell: NvmeSqDoorbellOrdering;
}

/** Where the 4.16 (+ seed) and 6.6 PCIe drivers differ. */
export interface NvmePciPolicy {
  /** `nvme_map_cmb` only for NVMe 1.2+ controllers (4.16's check in `nvme_pci_enable`). */
  readonly cmbNeedsVs12: boolean;
  /** `nvme_map_cmb` returns when the CMB is already mapped (6.6), instead of re-adding it. */
  readonly cmbMapOnce: boolean;
  /** Log `failed to register the CMB` when p2pdma refuses the resource (4.20+). */
  readonly logCmbRegisterFailure: boolean;
  /** `nvme_alloc_sq_cmds` also falls back when the bus address is 0 (6.6). */
  readonly sqCmbChecksBusAddr: boolean;
  /**
   * How data is mapped: `'req-flag'` (seed patch 08: `REQ_PCI_P2PDMA` picks
   * `pci_p2pdma_map_sg`, a failure is `BLK_STS_RESOURCE`), or `'sgtable'` (6.6:
   * `dma_map_sgtable` for everything, P2P pages detected per page, `-EREMOTEIO` →
   * `BLK_STS_TARGET`).
   */
  readonly mapData: 'req-flag' | 'sgtable';
}

/** The PCIe driver's rules per policy. */
export const NVME_PCI_POLICY: Readonly<Record<P2pdmaPolicy, NvmePciPolicy>> = {
  v2: { cmbNeedsVs12: true, cmbMapOnce: false, logCmbRegisterFailure: false, sqCmbChecksBusAddr: false, mapData: 'req-flag' },
  upstream: { cmbNeedsVs12: false, cmbMapOnce: true, logCmbRegisterFailure: true, sqCmbChecksBusAddr: true, mapData: 'sgtable' },
};

/** Driver counters of one device. */
export interface NvmeDevStats {
  /** Requests mapped with the P2P mapping. */
  p2pRequests: number;
  /** Requests mapped with the device's DMA mapping. */
  dmaRequests: number;
  /** PRP list pages allocated. */
  prpListPages: number;
  /** Requests whose mapping failed. */
  mapFailures: number;
  /** Completions with an id the driver did not expect. */
  invalidCompletions: number;
}

/**
 * One NVMe PCIe device as the driver sees it.
 * @kernel struct nvme_dev
 */
export class NvmeDev {
  /** The kernel. */
  readonly kernel: Kernel;
  /** The PCI function. */
  readonly pdev: PciDev;
  /** Module parameters. */
  readonly params: ResolvedNvmePciParams;
  /** CPU physical address of BAR 0 (the kernel's `ioremap`ped `dev->bar`). */
  readonly bar: number;
  /** The core's controller (set during probe). */
  ctrl!: NvmeCtrl;
  /** Queues by qid (0: admin). @kernel dev->queues */
  readonly queues: NvmeQueue[] = [];
  /** I/O queue depth. @kernel dev->q_depth */
  qDepth = 0;
  /** Doorbell stride in 32-bit words (`1 << CAP.DSTRD`). @kernel dev->db_stride */
  dbStride = 1;
  /** Queues created on the controller (admin included). @kernel dev->online_queues */
  onlineQueues = 0;
  /** Highest I/O queue id wanted. @kernel dev->max_qid */
  maxQid = 0;
  /** CMBSZ as read (or synthesised). @kernel dev->cmbsz */
  cmbsz = 0;
  /** CMBLOC as read (or synthesised). @kernel dev->cmbloc */
  cmbloc = 0;
  /** Bytes of CMB registered as p2pmem (0: none). @kernel dev->cmb_size */
  cmbSize = 0;
  /** I/O SQs may go in the CMB. @kernel dev->cmb_use_sqes */
  cmbUseSqes = false;
  /** The I/O tag set. @kernel dev->tagset */
  tagset: BlkMqTagSet | null = null;
  /** The `cmb` sysfs attribute while it exists. */
  cmbAttr: SysfsAttribute | null = null;
  /** Counters. */
  readonly stats: NvmeDevStats = { p2pRequests: 0, dmaRequests: 0, prpListPages: 0, mapFailures: 0, invalidCompletions: 0 };

  /**
   * @param pdev the function.
   * @param params resolved module parameters.
   * @param bar CPU physical address of BAR 0.
   */
  constructor(pdev: PciDev, params: ResolvedNvmePciParams, bar: number) {
    this.kernel = pdev.kernel;
    this.pdev = pdev;
    this.params = params;
    this.bar = bar;
  }

  /** The driver's rules for this kernel's policy. */
  get policy(): NvmePciPolicy {
    return NVME_PCI_POLICY[this.kernel.policy];
  }
}
