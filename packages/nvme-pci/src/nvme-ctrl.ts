/**
 * The transport-independent controller (`struct nvme_ctrl`) and the operations a transport
 * gives the core (`struct nvme_ctrl_ops`), with the ops flags: patch 08's `NVME_F_PCI_P2PDMA`
 * tells the core to mark every namespace queue `QUEUE_FLAG_PCI_P2PDMA`. Linux 6.6 asks a
 * callback instead (`supports_pci_p2pdma`); both are here and the kernel's policy picks.
 *
 * @kernel drivers/nvme/host/nvme.h (struct nvme_ctrl, struct nvme_ctrl_ops, NVME_F_*)
 */
import type { Device, Kernel, KResult } from '@p2pdma/kernel';
import type { BlkMqTagSet } from '@p2pdma/blk';
import type { NvmeCommand } from './nvme-command';
import type { NvmeNs } from './nvme-ns';

/** The transport is a fabrics one. @kernel NVME_F_FABRICS */
export const NVME_F_FABRICS = 1 << 0;
/** The transport carries metadata. @kernel NVME_F_METADATA_SUPPORTED */
export const NVME_F_METADATA_SUPPORTED = 1 << 1;
/** The transport can DMA to and from PCI P2P memory (seed patch 08). @kernel NVME_F_PCI_P2PDMA */
export const NVME_F_PCI_P2PDMA = 1 << 2;

/**
 * What a transport provides to the core.
 * @kernel struct nvme_ctrl_ops
 */
export interface NvmeCtrlOps {
  /** Transport name (`'pcie'`). */
  readonly name: string;
  /** `NVME_F_*` flags. */
  readonly flags: number;
  /**
   * Reads a 32-bit controller register.
   * @param ctrl the controller.
   * @param off register offset.
   * @returns the value (all ones when the device does not answer).
   */
  regRead32(ctrl: NvmeCtrl, off: number): number;
  /**
   * Writes a 32-bit controller register.
   * @param ctrl the controller.
   * @param off register offset.
   * @param val the value.
   * @returns `0` or a negated errno.
   */
  regWrite32(ctrl: NvmeCtrl, off: number, val: number): KResult;
  /**
   * Reads a 64-bit controller register.
   * @param ctrl the controller.
   * @param off register offset.
   * @returns the value.
   */
  regRead64(ctrl: NvmeCtrl, off: number): bigint;
  /**
   * Whether the transport can DMA to P2P memory (Linux 6.6; absent: no).
   * @param ctrl the controller.
   * @returns `true` when the core should set `QUEUE_FLAG_PCI_P2PDMA`.
   */
  supportsPciP2pdma?(ctrl: NvmeCtrl): boolean;
}

/** Controller states. @kernel enum nvme_ctrl_state */
export type NvmeCtrlState = 'new' | 'resetting' | 'live' | 'admin-only' | 'deleting' | 'dead';

/** A synchronous admin command's outcome: `ret` is 0, a negated errno, or an NVMe status (> 0). */
export interface NvmeSyncResult {
  /** 0 on success, a negated errno, or the NVMe status. */
  readonly ret: number;
  /** Completion DW0. */
  readonly result: number;
}

/** How the core submits an admin command through the transport and waits for it. */
export type NvmeSubmitSync = (cmd: NvmeCommand, data: { buf: Uint8Array; toDevice: boolean } | null) => NvmeSyncResult;

/**
 * A controller as the core sees it.
 * @kernel struct nvme_ctrl
 */
export class NvmeCtrl {
  /** The kernel. */
  readonly kernel: Kernel;
  /** The class device `nvme<instance>` (log prefix `nvme nvme0: `). @kernel ctrl->device */
  readonly device: Device;
  /** Instance number. @kernel ctrl->instance */
  readonly instance: number;
  /** The transport's operations. */
  readonly ops: NvmeCtrlOps;
  /** Quirks from the ID table. */
  readonly quirks: number;
  /** The transport's admin submission. */
  readonly submitSync: NvmeSubmitSync;
  /** State. */
  state: NvmeCtrlState = 'new';
  /** CAP as read. @kernel ctrl->cap */
  cap = 0n;
  /** VS as read. @kernel ctrl->vs */
  vs = 0;
  /** CC as programmed. @kernel ctrl->ctrl_config */
  ctrlConfig = 0;
  /** Memory page size programmed into CC.MPS. @kernel ctrl->page_size */
  pageSize = 0;
  /** Largest request in sectors (transport limit, then MDTS). @kernel ctrl->max_hw_sectors */
  maxHwSectors = 0;
  /** Most segments per request (transport limit). @kernel ctrl->max_segments */
  maxSegments = 0;
  /** Identify: number of namespaces. */
  nn = 0;
  /** Identify: optional NVM commands. */
  oncs = 0;
  /** Identify: volatile write cache. */
  vwc = 0;
  /** Identify: SGL support. */
  sgls = 0;
  /** Identify: serial number. */
  serial = '';
  /** Identify: model number. */
  model = '';
  /** Identify: firmware revision. */
  firmware = '';
  /** The I/O tag set, once created. @kernel ctrl->tagset */
  tagset: BlkMqTagSet | null = null;
  /** Namespaces, by ID order. @kernel ctrl->namespaces */
  readonly namespaces: NvmeNs[] = [];

  /**
   * @param kernel the kernel.
   * @param device the class device (added by the caller).
   * @param instance instance number.
   * @param ops the transport's operations.
   * @param quirks quirk flags.
   * @param submitSync the transport's admin submission.
   * @kernel nvme_init_ctrl
   */
  constructor(kernel: Kernel, device: Device, instance: number, ops: NvmeCtrlOps, quirks: number, submitSync: NvmeSubmitSync) {
    this.kernel = kernel;
    this.device = device;
    this.instance = instance;
    this.ops = ops;
    this.quirks = quirks;
    this.submitSync = submitSync;
  }

  /** The controller's name (`nvme0`). */
  get name(): string {
    return this.device.name;
  }
}
