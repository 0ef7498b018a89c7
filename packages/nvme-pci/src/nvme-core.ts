/**
 * The transport-independent NVMe host core: enabling and disabling the controller (CC/CSTS
 * handshake), Identify, the queue count, namespace scanning into block devices, building I/O
 * commands from requests, and ending requests (retry or map the status).
 *
 * The waits for CSTS (`nvme_wait_ready`) poll the register; the model's controller changes
 * state synchronously, so a state not reached at once is never reached and the wait gives up
 * at once with the kernel's message, without spending the CAP.TO timeout in virtual time.
 *
 * Patch 08 lives in `nvmeAllocNs`: a controller whose ops carry `NVME_F_PCI_P2PDMA` gets
 * `QUEUE_FLAG_PCI_P2PDMA` on every namespace queue (Linux 6.6: when `supportsPciP2pdma` says so).
 *
 * @kernel drivers/nvme/host/core.c (4.16 + seed patch 08; 6.6 where the policy says)
 */
import type { KResult, P2pdmaPolicy } from '@p2pdma/kernel';
import { err, KERN_WARNING, PAGE_SHIFT } from '@p2pdma/kernel';
import type { BlkStatus, Request, RequestQueue } from '@p2pdma/blk';
import {
  BLK_STS_IOERR,
  BLK_STS_OK,
  blkCleanupQueue,
  blkMqEndRequest,
  blkMqInitQueue,
  blkMqRequeueRequest,
  blkQueueFlagSet,
  blkQueueLogicalBlockSize,
  blkQueueMaxHwSectors,
  blkQueueMaxSegments,
  blkQueuePhysicalBlockSize,
  blkQueueVirtBoundary,
  blkQueueWriteCache,
  blkRqBytes,
  Disk,
  QUEUE_FLAG_NONROT,
  QUEUE_FLAG_PCI_P2PDMA,
  REQ_FAILFAST_MASK,
  REQ_FUA,
  REQ_OP_FLUSH,
  REQ_OP_READ,
  REQ_OP_WRITE,
  reqOp,
  setCapacity,
} from '@p2pdma/blk';
import type { NvmeCommand } from './nvme-command';
import {
  NVME_FEAT_NUM_QUEUES,
  NVME_ID_CNS_CTRL,
  NVME_ID_CNS_NS,
  NVME_ID_CNS_NS_ACTIVE_LIST,
  NVME_ID_CTRL,
  NVME_ID_NS,
  NVME_IDENTIFY_DATA_SIZE,
  NVME_RW_FUA,
  nvme_admin_identify,
  nvme_admin_set_features,
  nvme_cmd_flush,
  nvme_cmd_read,
  nvme_cmd_write,
  nvmeCommand,
} from './nvme-command';
import type { NvmeCtrl } from './nvme-ctrl';
import { NVME_F_PCI_P2PDMA } from './nvme-ctrl';
import { nvmeErrorStatus } from './nvme-error-status';
import { NvmeNs } from './nvme-ns';
import { NVME_QUIRK_DELAY_BEFORE_CHK_RDY, NVME_QUIRK_IDENTIFY_CNS } from './nvme-quirks';
import {
  NVME_CAP_MPSMIN,
  NVME_CC_AMS_RR,
  NVME_CC_CSS_NVM,
  NVME_CC_ENABLE,
  NVME_CC_IOCQES,
  NVME_CC_IOSQES,
  NVME_CC_MPS_SHIFT,
  NVME_CC_SHN_MASK,
  NVME_CC_SHN_NONE,
  NVME_CC_SHN_NORMAL,
  NVME_CSTS_RDY,
  NVME_CSTS_SHST_CMPLT,
  NVME_CSTS_SHST_MASK,
  NVME_REG_CAP,
  NVME_REG_CC,
  NVME_REG_CSTS,
  NVME_REG_VS,
  NVME_VS,
} from './nvme-regs';
import type { NvmeStatus } from './nvme-status';
import { NVME_SC_DNR, NVME_SC_SUCCESS } from './nvme-status';

/** How many times a failed command without DNR is retried. @kernel nvme_max_retries */
export const NVME_MAX_RETRIES = 5;
/** Admin queue depth. @kernel NVME_AQ_DEPTH */
export const NVME_AQ_DEPTH = 32;
/** Admin commands usable by the driver (one slot is kept for AEN). @kernel NVME_AQ_BLK_MQ_DEPTH */
export const NVME_AQ_BLK_MQ_DEPTH = NVME_AQ_DEPTH - 1;
/** The request was cancelled by the timeout handler. @kernel NVME_REQ_CANCELLED */
export const NVME_REQ_CANCELLED = 1 << 0;

/** The core's per-request state. @kernel struct nvme_request */
export interface NvmeRequest {
  /** The command built for the request. */
  cmd: NvmeCommand | null;
  /** Completion status. */
  status: NvmeStatus;
  /** Completion DW0. */
  result: number;
  /** Retries so far. */
  retries: number;
  /** `NVME_REQ_*` flags. */
  flags: number;
}

/** Where the two policies' cores differ. */
export interface NvmeCorePolicy {
  /**
   * Whether a namespace queue gets `QUEUE_FLAG_PCI_P2PDMA`.
   * @param ctrl the controller.
   * @returns the decision.
   */
  queueSupportsP2pdma(ctrl: NvmeCtrl): boolean;
}

/** The core's rules per policy. */
export const NVME_CORE_POLICY: Readonly<Record<P2pdmaPolicy, NvmeCorePolicy>> = {
  v2: { queueSupportsP2pdma: (ctrl) => (ctrl.ops.flags & NVME_F_PCI_P2PDMA) !== 0 },
  upstream: { queueSupportsP2pdma: (ctrl) => ctrl.ops.supportsPciP2pdma?.(ctrl) ?? false },
};

/**
 * Waits for CSTS.RDY to reach a state.
 * @param ctrl the controller.
 * @param _cap CAP (the kernel derives its timeout from CAP.TO; the model does not wait).
 * @param enabled the RDY state wanted.
 * @returns `0`; `-ENODEV` when CSTS reads all ones or the state is not reached (logged
 *   `Device not ready; aborting initialisation` / `... reset`).
 * @kernel nvme_wait_ready
 */
export function nvmeWaitReady(ctrl: NvmeCtrl, _cap: bigint, enabled: boolean): KResult {
  const csts = ctrl.ops.regRead32(ctrl, NVME_REG_CSTS);
  if (csts === 0xffff_ffff) return err('ENODEV');
  if (((csts & NVME_CSTS_RDY) !== 0) === enabled) return 0;
  ctrl.kernel.log.devErr(ctrl.device, `Device not ready; aborting ${enabled ? 'initialisation' : 'reset'}`);
  return err('ENODEV');
}

/**
 * Disables the controller (CC.EN = 0) and waits for CSTS.RDY to clear.
 * @param ctrl the controller.
 * @param cap CAP.
 * @returns `0` or `-ENODEV`.
 * @kernel nvme_disable_ctrl
 */
export function nvmeDisableCtrl(ctrl: NvmeCtrl, cap: bigint): KResult {
  ctrl.ctrlConfig &= ~NVME_CC_SHN_MASK;
  ctrl.ctrlConfig &= ~NVME_CC_ENABLE;
  const r = ctrl.ops.regWrite32(ctrl, NVME_REG_CC, ctrl.ctrlConfig);
  if (r !== 0) return r;
  if ((ctrl.quirks & NVME_QUIRK_DELAY_BEFORE_CHK_RDY) !== 0) ctrl.kernel.log.devDbg(ctrl.device, 'NVME_QUIRK_DELAY_BEFORE_CHK_RDY: waiting 2000 ms before checking ready (not spent in the model)');
  return nvmeWaitReady(ctrl, cap, false);
}

/**
 * Enables the controller with the host's page size (4.16: `PAGE_SHIFT`, refused when CAP.MPSMIN
 * is larger), round robin, 64/16-byte entries, and waits for CSTS.RDY.
 * @param ctrl the controller.
 * @param cap CAP.
 * @returns `0`; `-ENODEV` for a minimum page size above the host's (logged `Minimum device page
 *   size 8192 too large for host (4096)`) or a controller that does not become ready.
 * @kernel nvme_enable_ctrl
 */
export function nvmeEnableCtrl(ctrl: NvmeCtrl, cap: bigint): KResult {
  const devPageMin = NVME_CAP_MPSMIN(cap) + 12;
  const pageShift = PAGE_SHIFT;
  if (pageShift < devPageMin) {
    ctrl.kernel.log.devErr(ctrl.device, `Minimum device page size ${2 ** devPageMin} too large for host (${2 ** pageShift})`);
    return err('ENODEV');
  }
  ctrl.pageSize = 2 ** pageShift;
  ctrl.ctrlConfig = NVME_CC_CSS_NVM | ((pageShift - 12) << NVME_CC_MPS_SHIFT) | NVME_CC_AMS_RR | NVME_CC_SHN_NONE | NVME_CC_IOSQES | NVME_CC_IOCQES | NVME_CC_ENABLE;
  const r = ctrl.ops.regWrite32(ctrl, NVME_REG_CC, ctrl.ctrlConfig);
  if (r !== 0) return r;
  return nvmeWaitReady(ctrl, cap, true);
}

/**
 * Normal shutdown: CC.SHN = normal, then wait for CSTS.SHST = complete.
 * @param ctrl the controller.
 * @returns `0`, or `-ENODEV` (logged `Device shutdown incomplete; abort shutdown`).
 * @kernel nvme_shutdown_ctrl
 */
export function nvmeShutdownCtrl(ctrl: NvmeCtrl): KResult {
  ctrl.ctrlConfig = (ctrl.ctrlConfig & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL;
  const r = ctrl.ops.regWrite32(ctrl, NVME_REG_CC, ctrl.ctrlConfig);
  if (r !== 0) return r;
  const csts = ctrl.ops.regRead32(ctrl, NVME_REG_CSTS);
  if ((csts & NVME_CSTS_SHST_MASK) === NVME_CSTS_SHST_CMPLT) return 0;
  ctrl.kernel.log.devErr(ctrl.device, 'Device shutdown incomplete; abort shutdown');
  return err('ENODEV');
}

function identifyCmd(cns: number, nsid: number): NvmeCommand {
  const c = nvmeCommand(nvme_admin_identify);
  c.nsid = nsid;
  c.cdw10 = cns;
  return c;
}

function ascii(buf: Uint8Array, at: number, len: number): string {
  return String.fromCharCode(...buf.subarray(at, at + len)).trimEnd();
}

/**
 * Reads VS and CAP and identifies the controller: namespace count, MDTS (→ max_hw_sectors in
 * units of CAP.MPSMIN pages), ONCS, VWC, SGLs, the strings.
 * @param ctrl the controller.
 * @returns `0`, or `-EIO` when Identify fails (logged `Identify Controller failed (<status>)`).
 * @kernel nvme_init_identify
 */
export function nvmeInitIdentify(ctrl: NvmeCtrl): KResult {
  ctrl.vs = ctrl.ops.regRead32(ctrl, NVME_REG_VS);
  const cap = ctrl.ops.regRead64(ctrl, NVME_REG_CAP);
  const pageShift = NVME_CAP_MPSMIN(cap) + 12;
  const buf = new Uint8Array(NVME_IDENTIFY_DATA_SIZE);
  const r = ctrl.submitSync(identifyCmd(NVME_ID_CNS_CTRL, 0), { buf, toDevice: false });
  if (r.ret !== 0) {
    ctrl.kernel.log.devErr(ctrl.device, `Identify Controller failed (${r.ret})`);
    return err('EIO');
  }
  const v = new DataView(buf.buffer);
  ctrl.nn = v.getUint32(NVME_ID_CTRL.nn, true);
  ctrl.oncs = v.getUint16(NVME_ID_CTRL.oncs, true);
  ctrl.vwc = v.getUint8(NVME_ID_CTRL.vwc);
  ctrl.sgls = v.getUint32(NVME_ID_CTRL.sgls, true);
  ctrl.serial = ascii(buf, NVME_ID_CTRL.sn, 20);
  ctrl.model = ascii(buf, NVME_ID_CTRL.mn, 40);
  ctrl.firmware = ascii(buf, NVME_ID_CTRL.fr, 8);
  const mdts = v.getUint8(NVME_ID_CTRL.mdts);
  const maxHw = mdts !== 0 ? 2 ** (mdts + pageShift - 9) : 0xffff_ffff;
  ctrl.maxHwSectors = ctrl.maxHwSectors !== 0 ? Math.min(ctrl.maxHwSectors, maxHw) : maxHw;
  return 0;
}

/**
 * Asks for I/O queues (Set Features, Number of Queues) and takes what the controller grants.
 * @param ctrl the controller.
 * @param count the queues wanted.
 * @returns `ret` 0 with the count to use (0 when the controller answered with an error, logged
 *   `Could not set queue count (<status>)`), or a negated errno.
 * @kernel nvme_set_queue_count
 */
export function nvmeSetQueueCount(ctrl: NvmeCtrl, count: number): { ret: KResult; count: number } {
  const c = nvmeCommand(nvme_admin_set_features);
  c.cdw10 = NVME_FEAT_NUM_QUEUES;
  c.cdw11 = ((count - 1) | ((count - 1) << 16)) >>> 0;
  const r = ctrl.submitSync(c, null);
  if (r.ret < 0) return { ret: r.ret as KResult, count };
  if (r.ret > 0) {
    ctrl.kernel.log.devErr(ctrl.device, `Could not set queue count (${r.ret})`);
    return { ret: 0, count: 0 };
  }
  const granted = Math.min(r.result & 0xffff, r.result >>> 16) + 1;
  return { ret: 0, count: Math.min(count, granted) };
}

/**
 * Applies the controller's limits to a namespace queue: max_hw_sectors and the segments it
 * implies, the transport's segment limit, the PRP virtual boundary (page size - 1), the
 * volatile write cache (the stripe quirk's chunk sectors are not modelled).
 * @param ctrl the controller.
 * @param q the namespace queue.
 * @kernel nvme_set_queue_limits
 */
export function nvmeSetQueueLimits(ctrl: NvmeCtrl, q: RequestQueue): void {
  if (ctrl.maxHwSectors !== 0) {
    const maxSegments = Math.floor(ctrl.maxHwSectors / (ctrl.pageSize >> 9)) + 1;
    blkQueueMaxHwSectors(q, Math.min(ctrl.maxHwSectors, 0xffff_ffff));
    const segs = ctrl.maxSegments !== 0 ? Math.min(maxSegments, ctrl.maxSegments) : maxSegments;
    blkQueueMaxSegments(q, Math.min(segs, 0xffff));
  }
  blkQueueVirtBoundary(q, ctrl.pageSize - 1);
  blkQueueWriteCache(q, (ctrl.vwc & 1) !== 0, (ctrl.vwc & 1) !== 0);
}

/**
 * Creates a namespace's block device: a request queue on the controller's tag set (non-
 * rotational; `QUEUE_FLAG_PCI_P2PDMA` when the policy's rule says so), Identify Namespace for
 * the LBA format and capacity, the disk `nvme<instance>n<nsid>`. A namespace with NCAP 0 is
 * skipped without a message, as the kernel does.
 * @param ctrl a controller with a tag set.
 * @param nsid the namespace ID.
 * @returns the namespace, or `null` (identify failed, NCAP 0, or the queue could not be made).
 * @kernel nvme_alloc_ns (4.16 + seed patch 08)
 */
export function nvmeAllocNs(ctrl: NvmeCtrl, nsid: number): NvmeNs | null {
  const set = ctrl.tagset;
  if (set === null) return null;
  const buf = new Uint8Array(NVME_IDENTIFY_DATA_SIZE);
  const r = ctrl.submitSync(identifyCmd(NVME_ID_CNS_NS, nsid), { buf, toDevice: false });
  if (r.ret !== 0) return null;
  const v = new DataView(buf.buffer);
  const ncap = v.getBigUint64(NVME_ID_NS.ncap, true);
  if (ncap === 0n) return null;
  const q = blkMqInitQueue(set);
  if (typeof q === 'number') return null;
  blkQueueFlagSet(QUEUE_FLAG_NONROT, q);
  if (NVME_CORE_POLICY[ctrl.kernel.policy].queueSupportsP2pdma(ctrl)) blkQueueFlagSet(QUEUE_FLAG_PCI_P2PDMA, q);
  const flbas = v.getUint8(NVME_ID_NS.flbas) & 0xf;
  let lbaShift = (v.getUint32(NVME_ID_NS.lbaf + 4 * flbas, true) >>> 16) & 0xff;
  if (lbaShift === 0) lbaShift = 9;
  const nsze = Number(v.getBigUint64(NVME_ID_NS.nsze, true));
  blkQueueLogicalBlockSize(q, 2 ** lbaShift);
  blkQueuePhysicalBlockSize(q, 2 ** lbaShift);
  nvmeSetQueueLimits(ctrl, q);
  const disk = new Disk(`nvme${ctrl.instance}n${nsid}`, q);
  const capacity = nsze * 2 ** (lbaShift - 9);
  setCapacity(disk, capacity);
  const ns = new NvmeNs(ctrl, nsid, q, disk, lbaShift, capacity);
  q.queuedata = ns;
  disk.privateData = ns;
  ctrl.namespaces.push(ns);
  return ns;
}

/**
 * Finds and adds the namespaces: the active namespace list (NVMe >= 1.1 without the
 * IDENTIFY_CNS quirk), else every ID from 1 to NN.
 * @param ctrl a live controller with a tag set.
 * @kernel nvme_scan_work / nvme_scan_ns_list / nvme_scan_ns_sequential
 */
export function nvmeScanNamespaces(ctrl: NvmeCtrl): void {
  const ids: number[] = [];
  if (ctrl.vs >= NVME_VS(1, 1, 0) && (ctrl.quirks & NVME_QUIRK_IDENTIFY_CNS) === 0) {
    let prev = 0;
    for (;;) {
      const buf = new Uint8Array(NVME_IDENTIFY_DATA_SIZE);
      const r = ctrl.submitSync(identifyCmd(NVME_ID_CNS_NS_ACTIVE_LIST, prev), { buf, toDevice: false });
      if (r.ret !== 0) break;
      const v = new DataView(buf.buffer);
      let n = 0;
      for (; n < NVME_IDENTIFY_DATA_SIZE / 4; n++) {
        const id = v.getUint32(n * 4, true);
        if (id === 0) break;
        ids.push(id);
        prev = id;
      }
      if (n < NVME_IDENTIFY_DATA_SIZE / 4) break;
    }
  } else {
    for (let i = 1; i <= ctrl.nn; i++) ids.push(i);
  }
  for (const nsid of ids) nvmeAllocNs(ctrl, nsid);
}

/**
 * Removes every namespace's block device (the queues must be drained).
 * @param ctrl the controller.
 * @kernel nvme_remove_namespaces
 */
export function nvmeRemoveNamespaces(ctrl: NvmeCtrl): void {
  for (const ns of ctrl.namespaces.splice(0)) blkCleanupQueue(ns.queue);
}

/**
 * Builds the NVMe command for a request: Read/Write (SLBA from the sector, NLB from the size,
 * FUA), or Flush; the command ID is the request's tag.
 * @param ns the namespace.
 * @param rq the request.
 * @returns the command, or a block status for operations the model does not support.
 * @kernel nvme_setup_cmd / nvme_setup_rw / nvme_setup_flush
 */
export function nvmeSetupCmd(ns: NvmeNs, rq: Request): NvmeCommand | BlkStatus {
  const op = reqOp(rq);
  let c: NvmeCommand;
  if (op === REQ_OP_READ || op === REQ_OP_WRITE) {
    c = nvmeCommand(op === REQ_OP_WRITE ? nvme_cmd_write : nvme_cmd_read);
    const slba = Math.floor(rq.sector / 2 ** (ns.lbaShift - 9));
    c.cdw10 = slba % 2 ** 32;
    c.cdw11 = Math.floor(slba / 2 ** 32);
    const nlb = blkRqBytes(rq) / ns.lbaSize - 1;
    const control = (rq.cmdFlags & REQ_FUA) !== 0 ? NVME_RW_FUA : 0;
    c.cdw12 = ((nlb & 0xffff) | (control << 16)) >>> 0;
  } else if (op === REQ_OP_FLUSH) {
    c = nvmeCommand(nvme_cmd_flush);
  } else {
    ns.ctrl.kernel.log.printk(KERN_WARNING, `nvme: ${ns.disk.diskName}: unsupported operation ${op}`);
    return BLK_STS_IOERR;
  }
  c.nsid = ns.nsid;
  c.commandId = rq.tag;
  return c;
}

/**
 * Ends a request the controller completed: a failure without DNR (and without failfast) is
 * retried up to `NVME_MAX_RETRIES` times; otherwise the request ends with the policy's
 * `nvmeErrorStatus`.
 * @param rq the request (its `pdu` is the core's `NvmeRequest`).
 * @kernel nvme_complete_rq
 */
export function nvmeCompleteRq(rq: Request): void {
  const nreq = rq.pdu as NvmeRequest;
  if (nreq.status !== NVME_SC_SUCCESS && (nreq.flags & NVME_REQ_CANCELLED) === 0) {
    const retry = (rq.cmdFlags & REQ_FAILFAST_MASK) === 0 && (nreq.status & NVME_SC_DNR) === 0 && nreq.retries < NVME_MAX_RETRIES;
    if (retry) {
      nreq.retries++;
      blkMqRequeueRequest(rq, true);
      return;
    }
  }
  blkMqEndRequest(rq, nreq.status === NVME_SC_SUCCESS ? BLK_STS_OK : nvmeErrorStatus(nreq.status, rq.q.kernel.policy));
}
