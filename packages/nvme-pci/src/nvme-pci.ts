/**
 * The NVMe PCIe host driver: the `nvme` PCI driver with its ID table, probe (controller
 * instance, then the reset work that brings the controller up: enable, admin queue, Identify,
 * CMB, queue count, I/O queues, tag set, namespaces), the blk-mq operations (`queue_rq`,
 * `complete`, `timeout`), admin command submission, and removal.
 *
 * The reset work runs synchronously inside probe (4.16 queues it on a workqueue); a failure is
 * logged `Removing after probe failure status: <err>` and the driver unbinds itself from a
 * zero-delay timer, as the kernel's remove work does later.
 *
 * `NVME_PCI_CTRL_OPS` carries `NVME_F_PCI_P2PDMA` (seed patch 08) and 6.6's
 * `supportsPciP2pdma`; `NVME_PCI_CTRL_OPS_NO_P2PDMA` is the same transport without either.
 *
 * @kernel drivers/nvme/host/pci.c (nvme_probe, nvme_reset_work, nvme_pci_enable,
 *   nvme_pci_configure_admin_queue, nvme_setup_io_queues, nvme_create_io_queues,
 *   nvme_create_queue, nvme_dev_add, nvme_queue_rq, nvme_pci_complete_rq, nvme_timeout,
 *   nvme_dev_disable, nvme_remove, nvme_pci_ctrl_ops, nvme_driver)
 */
import type { Device, Kernel, KResult } from '@p2pdma/kernel';
import { Device as KDevice, deviceAdd, deviceDel, deviceReleaseDriver, dmaAllocCoherent, dmaFreeCoherent, driverUnregister, err, PAGE_SIZE, virtToPhys } from '@p2pdma/kernel';
import type { BlkMqHwCtx, BlkMqQueueData, BlkStatus, Request } from '@p2pdma/blk';
import {
  BLK_EH_HANDLED,
  BLK_MQ_F_SHOULD_MERGE,
  BLK_MQ_MAX_DEPTH,
  BLK_STS_IOERR,
  BLK_STS_OK,
  BlkMqTagSet,
  blkMqAllocTagSet,
  blkMqFreeTagSet,
  blkMqStartRequest,
} from '@p2pdma/blk';
import type { PciDev, PciDriver } from '@p2pdma/pci-core';
import { IORESOURCE_MEM, pciBusType, pciMatchId, pciRegisterDriver, pciResourceFlags, pciResourceLen, pciResourceStart } from '@p2pdma/pci-core';
import { loHiReadq, loHiWriteq, readl, writel } from './internal/io-accessors';
import { pciFreeIrq, pciRequestIrq } from './internal/msix';
import { nvmeCmbQdepth, nvmeMapCmb, nvmeReleaseCmb, nvmeShouldMapCmb } from './nvme-cmb';
import type { NvmeCommand } from './nvme-command';
import { NVME_CQ_IRQ_ENABLED, NVME_QUEUE_PHYS_CONTIG, NVME_SQ_PRIO_MEDIUM, NVME_SQE_SIZE, nvme_admin_create_cq, nvme_admin_create_sq, nvme_admin_delete_cq, nvme_admin_delete_sq, nvmeCommand } from './nvme-command';
import {
  NVME_AQ_BLK_MQ_DEPTH,
  NVME_AQ_DEPTH,
  NVME_REQ_CANCELLED,
  nvmeCompleteRq,
  nvmeDisableCtrl,
  nvmeEnableCtrl,
  nvmeInitIdentify,
  nvmeRemoveNamespaces,
  nvmeScanNamespaces,
  nvmeSetQueueCount,
  nvmeSetupCmd,
  nvmeShutdownCtrl,
} from './nvme-core';
import type { NvmeCtrlOps, NvmeSyncResult } from './nvme-ctrl';
import { NVME_F_METADATA_SUPPORTED, NVME_F_PCI_P2PDMA, NvmeCtrl } from './nvme-ctrl';
import type { NvmePciParams, ResolvedNvmePciParams } from './nvme-dev';
import { NvmeDev } from './nvme-dev';
import { NVME_ID_TABLE, type NvmeIdEntry, PCI_VENDOR_ID_APPLE } from './nvme-id-table';
import { nvmeIod, nvmeMapData, nvmeUnmapData, type NvmeIod } from './nvme-map-data';
import type { NvmeNs } from './nvme-ns';
import type { NvmeQueue } from './nvme-queue';
import { nvmeAllocQueue, nvmeFreeQueue, nvmeInitQueue, nvmeIrq, nvmeProcessCq, nvmeSubmitCmd } from './nvme-queue';
import { nvmePciCtrlIsDead, nvmeReadCsts, nvmeShouldReset, nvmeTimeoutReset } from './nvme-reset';
import { NVME_CAP_MQES, NVME_CAP_STRIDE, NVME_REG_ACQ, NVME_REG_AQA, NVME_REG_ASQ, NVME_REG_CAP, NVME_REG_CSTS, NVME_REG_DBS } from './nvme-regs';
import type { NvmeStatus } from './nvme-status';
import { NVME_SC_ABORT_REQ, NVME_SC_DNR } from './nvme-status';

/** Default `io_queue_depth`. */
export const NVME_DEFAULT_IO_QUEUE_DEPTH = 1024;
/** Largest transfer the PCIe transport sets up (KiB). @kernel NVME_MAX_KB_SZ */
export const NVME_MAX_KB_SZ = 4096;
/** Most segments per request. @kernel NVME_MAX_SEGS */
export const NVME_MAX_SEGS = 127;
/** I/O timeout (ns). @kernel NVME_IO_TIMEOUT (nvme_io_timeout * HZ) */
export const NVME_IO_TIMEOUT_NS = 30e9;

function barOps(name: string, flags: number, p2p: boolean): NvmeCtrlOps {
  const dev = (ctrl: NvmeCtrl): NvmeDev => ctrl.device.driverData as NvmeDev;
  return {
    name,
    flags,
    regRead32: (ctrl, off) => readl(ctrl.kernel, dev(ctrl).bar + off),
    regWrite32: (ctrl, off, val) => writel(ctrl.kernel, dev(ctrl).bar + off, val),
    regRead64: (ctrl, off) => loHiReadq(ctrl.kernel, dev(ctrl).bar + off),
    ...(p2p ? { supportsPciP2pdma: (ctrl: NvmeCtrl) => dev(ctrl).pdev.dmaOps !== 'virt' } : {}),
  };
}

/** The PCIe transport's operations with P2PDMA support (seed patch 08). @kernel nvme_pci_ctrl_ops */
export const NVME_PCI_CTRL_OPS: NvmeCtrlOps = barOps('pcie', NVME_F_METADATA_SUPPORTED | NVME_F_PCI_P2PDMA, true);
/** The same transport without `NVME_F_PCI_P2PDMA` (4.16 before patch 08), for comparisons. */
export const NVME_PCI_CTRL_OPS_NO_P2PDMA: NvmeCtrlOps = barOps('pcie', NVME_F_METADATA_SUPPORTED, false);

const instances = new WeakMap<Kernel, Set<number>>();

/** The lowest free controller instance number of a kernel (the kernel's `nvme_instance_ida`). */
function allocInstance(kernel: Kernel): number {
  let used = instances.get(kernel);
  if (used === undefined) {
    used = new Set();
    instances.set(kernel, used);
  }
  let n = 0;
  while (used.has(n)) n++;
  used.add(n);
  return n;
}
const devices = new WeakMap<PciDev, NvmeDev>();

/**
 * The driver state of a bound function.
 * @param pdev the function.
 * @returns its `NvmeDev`, or `null` when the nvme driver is not bound to it.
 */
export function nvmeDevOf(pdev: PciDev): NvmeDev | null {
  return devices.get(pdev) ?? null;
}

function resolveParams(p: NvmePciParams): ResolvedNvmePciParams {
  const depth = p.ioQueueDepth ?? NVME_DEFAULT_IO_QUEUE_DEPTH;
  if (!Number.isSafeInteger(depth) || depth < 2) throw new RangeError(`nvme: io_queue_depth ${depth} must be an integer >= 2`);
  const cpus = p.nrCpus ?? 4;
  if (!Number.isSafeInteger(cpus) || cpus < 1 || cpus > 65535) throw new RangeError(`nvme: nrCpus ${cpus} must be an integer from 1 to 65535`);
  const db = p.sqDoorbell ?? 'writel';
  if (db !== 'writel' && db !== 'relaxed') throw new RangeError(`nvme: sqDoorbell '${String(db)}' must be 'writel' or 'relaxed'`);
  return { useCmbSqes: p.useCmbSqes ?? true, ioQueueDepth: depth, nrCpus: cpus, ctrlOps: p.ctrlOps ?? NVME_PCI_CTRL_OPS, sqDoorbell: db };
}

/**
 * Submits an admin command and waits for it (the model polls the admin completion queue; the
 * controller processes admin commands during the doorbell write). Data up to a page goes
 * through a coherent bounce buffer.
 * @param dev the device.
 * @param cmd the command (its id and PRPs are filled in here).
 * @param data the buffer to send or fill, or `null`.
 * @returns `ret` 0, the NVMe status, `-ENODEV` without an admin queue, `-ENOMEM`, `-EBUSY`
 *   when every admin id is in use, or `-EINTR` when no completion came (logged
 *   `I/O <id> QID 0 timeout, disable controller`).
 * @kernel nvme_submit_sync_cmd (over the admin queue)
 */
export function nvmeSubmitSyncCmd(dev: NvmeDev, cmd: NvmeCommand, data: { buf: Uint8Array; toDevice: boolean } | null): NvmeSyncResult {
  const q = dev.queues[0];
  if (q === undefined || q.cqVector < 0) return { ret: err('ENODEV'), result: 0 };
  let cid = 0;
  while (cid < NVME_AQ_BLK_MQ_DEPTH && q.adminWaiters.has(cid)) cid++;
  if (cid === NVME_AQ_BLK_MQ_DEPTH) return { ret: err('EBUSY'), result: 0 };
  let bounce: { virt: number; dmaHandle: number } | null = null;
  const len = data === null ? 0 : Math.ceil(data.buf.length / PAGE_SIZE) * PAGE_SIZE;
  if (data !== null) {
    bounce = dmaAllocCoherent(dev.pdev, len);
    if (bounce === null) return { ret: err('ENOMEM'), result: 0 };
    if (data.toDevice) dev.kernel.memory.ramWrite(virtToPhys(bounce.virt), data.buf);
    cmd.prp1 = bounce.dmaHandle;
    cmd.prp2 = data.buf.length > PAGE_SIZE ? bounce.dmaHandle + PAGE_SIZE : 0;
  }
  cmd.commandId = cid;
  const waiter = { done: false, status: 0 as NvmeStatus, result: 0 };
  q.adminWaiters.set(cid, waiter);
  nvmeSubmitCmd(q, cmd);
  nvmeProcessCq(q);
  let out: NvmeSyncResult;
  if (!waiter.done) {
    q.adminWaiters.delete(cid);
    dev.kernel.log.devWarn(dev.ctrl.device, `I/O ${cid} QID 0 timeout, disable controller`);
    out = { ret: err('EINTR'), result: 0 };
  } else {
    if (data !== null && !data.toDevice) dev.kernel.memory.ramRead(virtToPhys(bounce!.virt), data.buf.length, data.buf);
    out = { ret: waiter.status, result: waiter.result };
  }
  if (bounce !== null) dmaFreeCoherent(dev.pdev, len, bounce.virt, bounce.dmaHandle);
  return out;
}

function requestQueueIrq(q: NvmeQueue): KResult {
  return pciRequestIrq(q.dev.pdev, q.cqVector, q.irqName, () => nvmeIrq(q));
}

/**
 * Enables the function and reads CAP: queue depth, doorbell stride, the Apple workaround, and
 * (4.16: for NVMe 1.2+) the CMB.
 * @param dev the device.
 * @returns `0`, or `-ENODEV` when CSTS reads all ones (nothing answers on BAR 0).
 * @kernel nvme_pci_enable
 */
export function nvmePciEnable(dev: NvmeDev): KResult {
  if (readl(dev.kernel, dev.bar + NVME_REG_CSTS) === 0xffff_ffff) return err('ENODEV');
  const cap = loHiReadq(dev.kernel, dev.bar + NVME_REG_CAP);
  dev.ctrl.cap = cap;
  dev.qDepth = Math.min(NVME_CAP_MQES(cap) + 1, dev.params.ioQueueDepth);
  dev.dbStride = 1 << NVME_CAP_STRIDE(cap);
  if (dev.pdev.vendor === PCI_VENDOR_ID_APPLE && dev.pdev.device === 0x2001) {
    dev.qDepth = 2;
    dev.kernel.log.devWarn(dev.ctrl.device, `detected Apple NVMe controller, set queue depth=${dev.qDepth} to work around controller resets`);
  }
  if (nvmeShouldMapCmb(dev)) nvmeMapCmb(dev);
  return 0;
}

function dbBarSize(dev: NvmeDev, nrIoQueues: number): number {
  return NVME_REG_DBS + (nrIoQueues + 1) * 8 * dev.dbStride;
}

/**
 * Disables the controller, creates the admin queue pair in host memory, programs AQA/ASQ/ACQ,
 * enables the controller and hooks the admin interrupt (vector 0).
 * @param dev the device.
 * @returns `0` or the failing step's errno.
 * @kernel nvme_pci_configure_admin_queue
 */
export function nvmePciConfigureAdminQueue(dev: NvmeDev): KResult {
  const kernel = dev.kernel;
  if (dbBarSize(dev, 0) > pciResourceLen(dev.pdev, 0)) return err('ENOMEM');
  let r = nvmeDisableCtrl(dev.ctrl, dev.ctrl.cap);
  if (r !== 0) return r;
  const q = dev.queues[0] ?? nvmeAllocQueue(dev, 0, NVME_AQ_DEPTH);
  if (q === null) return err('ENOMEM');
  const aqa = ((q.qDepth - 1) | ((q.qDepth - 1) << 16)) >>> 0;
  writel(kernel, dev.bar + NVME_REG_AQA, aqa);
  loHiWriteq(kernel, dev.bar + NVME_REG_ASQ, BigInt(q.sqDmaAddr));
  loHiWriteq(kernel, dev.bar + NVME_REG_ACQ, BigInt(q.cq.dmaHandle));
  r = nvmeEnableCtrl(dev.ctrl, dev.ctrl.cap);
  if (r !== 0) return r;
  q.cqVector = 0;
  nvmeInitQueue(q);
  r = requestQueueIrq(q);
  if (r !== 0) {
    q.cqVector = -1;
    return r;
  }
  dev.onlineQueues = Math.max(dev.onlineQueues, 1);
  return 0;
}

function adapterAllocCq(dev: NvmeDev, qid: number, q: NvmeQueue): number {
  const c = nvmeCommand(nvme_admin_create_cq);
  c.prp1 = q.cq.dmaHandle;
  c.cdw10 = (qid | ((q.qDepth - 1) << 16)) >>> 0;
  c.cdw11 = ((NVME_QUEUE_PHYS_CONTIG | NVME_CQ_IRQ_ENABLED) | (q.cqVector << 16)) >>> 0;
  return nvmeSubmitSyncCmd(dev, c, null).ret;
}

function adapterAllocSq(dev: NvmeDev, qid: number, q: NvmeQueue): number {
  const c = nvmeCommand(nvme_admin_create_sq);
  c.prp1 = q.sqDmaAddr;
  c.cdw10 = (qid | ((q.qDepth - 1) << 16)) >>> 0;
  c.cdw11 = ((NVME_QUEUE_PHYS_CONTIG | NVME_SQ_PRIO_MEDIUM) | (qid << 16)) >>> 0;
  return nvmeSubmitSyncCmd(dev, c, null).ret;
}

function adapterDeleteQueue(dev: NvmeDev, opcode: number, qid: number): number {
  const c = nvmeCommand(opcode);
  c.cdw10 = qid;
  return nvmeSubmitSyncCmd(dev, c, null).ret;
}

/**
 * Creates an I/O queue pair on the controller (CQ on vector `qid - 1`, then SQ) and hooks its
 * interrupt.
 * @param q the allocated queue.
 * @param qid its id.
 * @returns `0`, an NVMe status (> 0) when the controller refused, or a negated errno.
 * @kernel nvme_create_queue
 */
export function nvmeCreateQueue(q: NvmeQueue, qid: number): number {
  const dev = q.dev;
  q.cqVector = qid - 1;
  let r = adapterAllocCq(dev, qid, q);
  if (r !== 0) return r;
  r = adapterAllocSq(dev, qid, q);
  if (r !== 0) {
    adapterDeleteQueue(dev, nvme_admin_delete_cq, qid);
    return r;
  }
  nvmeInitQueue(q);
  r = requestQueueIrq(q);
  if (r !== 0) {
    adapterDeleteQueue(dev, nvme_admin_delete_sq, qid);
    adapterDeleteQueue(dev, nvme_admin_delete_cq, qid);
    q.cqVector = -1;
    return r;
  }
  dev.onlineQueues++;
  return 0;
}

/**
 * Allocates and creates I/O queues 1..max_qid; controller refusals are tolerated (fewer
 * queues), errnos are not.
 * @param dev the device.
 * @returns `0` or a negated errno.
 * @kernel nvme_create_io_queues
 */
export function nvmeCreateIoQueues(dev: NvmeDev): KResult {
  for (let i = dev.queues.length; i <= dev.maxQid; i++) {
    if (nvmeAllocQueue(dev, i, dev.qDepth) === null) break;
  }
  const max = Math.min(dev.maxQid, dev.queues.length - 1);
  let ret = 0;
  for (let i = dev.onlineQueues; i <= max; i++) {
    ret = nvmeCreateQueue(dev.queues[i]!, i);
    if (ret !== 0) break;
  }
  return ret >= 0 ? 0 : (ret as KResult);
}

/**
 * Sets up the I/O queues: asks for one per CPU, shrinks their depth to fit the CMB when SQs go
 * there (or keeps them in host memory when they would be too shallow), reduces the count until
 * the doorbells fit BAR 0, then creates them.
 * @param dev the device.
 * @returns `0` or a negated errno.
 * @kernel nvme_setup_io_queues (seed patch 07)
 */
export function nvmeSetupIoQueues(dev: NvmeDev): KResult {
  const sq = nvmeSetQueueCount(dev.ctrl, dev.params.nrCpus);
  if (sq.ret < 0) return sq.ret;
  let nr = sq.count;
  if (nr === 0) return 0;
  if (dev.cmbUseSqes) {
    const depth = nvmeCmbQdepth(dev, nr, NVME_SQE_SIZE);
    if (depth > 0) dev.qDepth = depth;
    else dev.cmbUseSqes = false;
  }
  while (dbBarSize(dev, nr) > pciResourceLen(dev.pdev, 0)) {
    if (--nr === 0) return err('ENOMEM');
  }
  dev.maxQid = nr;
  return nvmeCreateIoQueues(dev);
}

/**
 * Creates the I/O tag set: one hardware queue per I/O queue, depth `q_depth - 1`.
 * @param dev the device.
 * @returns `0` or the tag set's errno (logged `IO queues tagset allocation failed <err>`).
 * @kernel nvme_dev_add
 */
export function nvmeDevAdd(dev: NvmeDev): KResult {
  if (dev.tagset !== null) return 0;
  const set = new BlkMqTagSet(dev.kernel, {
    ops: {
      queueRq: (hctx, bd) => nvmeQueueRq(dev, hctx, bd),
      complete: (rq) => nvmePciCompleteRq(dev, rq),
      timeout: (rq) => nvmeTimeout(dev, rq),
    },
    nrHwQueues: dev.onlineQueues - 1,
    queueDepth: Math.min(dev.qDepth, BLK_MQ_MAX_DEPTH) - 1,
    flags: BLK_MQ_F_SHOULD_MERGE,
    driverData: dev,
    timeoutNs: NVME_IO_TIMEOUT_NS,
  });
  const r = blkMqAllocTagSet(set);
  if (r !== 0) {
    dev.kernel.log.devWarn(dev.ctrl.device, `IO queues tagset allocation failed ${r}`);
    return r;
  }
  dev.tagset = set;
  dev.ctrl.tagset = set;
  return 0;
}

/**
 * Brings the controller up: enable, admin queue, Identify, I/O queues, tag set, namespaces.
 * @param dev the device.
 * @returns `0`, or the first failure (the caller removes the controller).
 * @kernel nvme_reset_work
 */
export function nvmeResetWork(dev: NvmeDev): KResult {
  const ctrl = dev.ctrl;
  ctrl.state = 'resetting';
  let r = nvmePciEnable(dev);
  if (r === 0) r = nvmePciConfigureAdminQueue(dev);
  if (r === 0) r = nvmeInitIdentify(ctrl);
  if (r === 0) r = nvmeSetupIoQueues(dev);
  if (r !== 0) return r;
  if (dev.onlineQueues < 2) {
    dev.kernel.log.devWarn(ctrl.device, 'IO queues not created');
    ctrl.state = 'admin-only';
    return 0;
  }
  r = nvmeDevAdd(dev);
  if (r !== 0) return r;
  ctrl.state = 'live';
  nvmeScanNamespaces(ctrl);
  return 0;
}

/**
 * `queue_rq`: builds the command, maps the data (P2P or not, per policy), starts the request,
 * submits it and reaps completions.
 * @param dev the device.
 * @param hctx the hardware context (its index + 1 is the queue id).
 * @param bd the request.
 * @returns `BLK_STS_OK`, or the status of a step that failed (nothing started).
 * @kernel nvme_queue_rq (4.16 + seed patch 08)
 */
export function nvmeQueueRq(dev: NvmeDev, hctx: BlkMqHwCtx, bd: BlkMqQueueData): BlkStatus {
  const rq = bd.rq;
  const ns = rq.q.queuedata as NvmeNs;
  const q = dev.queues[hctx.queueNum + 1];
  const iod = nvmeIod(rq);
  const cmd = nvmeSetupCmd(ns, rq);
  if (typeof cmd === 'number') return cmd;
  iod.cmd = cmd;
  iod.nvmeq = q ?? null;
  if (q === undefined || q.cqVector < 0) return BLK_STS_IOERR;
  if (rq.nrPhysSegments > 0) {
    const st = nvmeMapData(dev, rq, cmd);
    if (st !== BLK_STS_OK) return st;
  }
  blkMqStartRequest(rq);
  nvmeSubmitCmd(q, cmd);
  nvmeProcessCq(q);
  return BLK_STS_OK;
}

/**
 * `complete`: unmaps the data, then lets the core retry or end the request.
 * @param dev the device.
 * @param rq the request.
 * @kernel nvme_pci_complete_rq
 */
export function nvmePciCompleteRq(dev: NvmeDev, rq: Request): void {
  nvmeUnmapData(dev, rq);
  nvmeCompleteRq(rq);
}

/**
 * `timeout`: on a controller that is down (CSTS.CFS, or CSTS all-ones) the controller is reset
 * and every request in flight requeued (nvme-reset.ts); otherwise the request the controller
 * never completed is cancelled: logged `I/O <tag> QID <qid> timeout, aborting`, ended as aborted.
 * @param dev the device.
 * @param rq the request.
 * @returns `BLK_EH_HANDLED`.
 * @kernel nvme_timeout (abridged)
 */
export function nvmeTimeout(dev: NvmeDev, rq: Request): typeof BLK_EH_HANDLED {
  const csts = nvmeReadCsts(dev);
  if (nvmeShouldReset(csts)) return nvmeTimeoutReset(dev, rq, csts);
  const iod = rq.pdu as NvmeIod;
  dev.kernel.log.devWarn(dev.ctrl.device, `I/O ${rq.tag} QID ${iod.nvmeq?.qid ?? 0} timeout, aborting`);
  iod.status = (NVME_SC_ABORT_REQ | NVME_SC_DNR) as NvmeStatus;
  iod.flags |= NVME_REQ_CANCELLED;
  return BLK_EH_HANDLED;
}

/**
 * Takes the controller down: deletes the I/O queues on the controller, shuts it down (normal
 * shutdown) or disables it, releases the CMB's driver side, frees interrupts.
 * @param dev the device.
 * @param shutdown `true` for a shutdown notification, `false` for a disable.
 * @kernel nvme_dev_disable
 */
export function nvmeDevDisable(dev: NvmeDev, shutdown: boolean): void {
  const ctrl = dev.ctrl;
  const live = !nvmePciCtrlIsDead(nvmeReadCsts(dev));
  if (live) {
    for (let i = dev.onlineQueues - 1; i > 0; i--) {
      adapterDeleteQueue(dev, nvme_admin_delete_sq, i);
      adapterDeleteQueue(dev, nvme_admin_delete_cq, i);
    }
  }
  for (const q of dev.queues) {
    if (q === undefined || q.cqVector < 0) continue;
    pciFreeIrq(dev.pdev, q.cqVector, q.irqName);
    q.cqVector = -1;
  }
  if (live) {
    if (shutdown) nvmeShutdownCtrl(ctrl);
    else nvmeDisableCtrl(ctrl, ctrl.cap);
  }
  dev.onlineQueues = 0;
  // 4.16 releases the CMB on every disable (and re-adds it on reset); 6.6 keeps it until remove.
  if (shutdown || !dev.policy.cmbMapOnce) nvmeReleaseCmb(dev);
}

function nvmeFreeQueues(dev: NvmeDev): void {
  for (const q of dev.queues.splice(0)) if (q !== undefined) nvmeFreeQueue(q);
}

function nvmeRemoveAll(dev: NvmeDev): void {
  const ctrl = dev.ctrl;
  ctrl.state = 'deleting';
  nvmeRemoveNamespaces(ctrl);
  nvmeDevDisable(dev, true);
  if (dev.tagset !== null) {
    blkMqFreeTagSet(dev.tagset);
    dev.tagset = null;
    ctrl.tagset = null;
  }
  nvmeFreeQueues(dev);
  ctrl.state = 'dead';
  deviceDel(ctrl.device);
  instances.get(dev.kernel)?.delete(ctrl.instance);
}

/**
 * Binds a function: maps BAR 0, creates the controller `nvme<N>` (logged `pci function
 * <bdf>`), and runs the reset work.
 * @param pdev the function.
 * @param id the matching ID-table entry (its quirks).
 * @param params the module parameters.
 * @returns `0` (a failed reset unbinds later), `-ENODEV` without a memory BAR 0, or the class
 *   device's errno.
 * @kernel nvme_probe
 */
export function nvmeProbe(pdev: PciDev, id: NvmeIdEntry, params: ResolvedNvmePciParams): KResult {
  const kernel = pdev.kernel;
  if ((pciResourceFlags(pdev, 0) & IORESOURCE_MEM) === 0) return err('ENODEV');
  const dev = new NvmeDev(pdev, params, pciResourceStart(pdev, 0));
  const instance = allocInstance(kernel);
  const cdev = new KDevice(kernel, `nvme${instance}`, { parent: pdev, className: 'nvme' });
  const added = deviceAdd(cdev);
  if (added !== 0) {
    instances.get(kernel)?.delete(instance);
    return added;
  }
  cdev.driverData = dev;
  dev.ctrl = new NvmeCtrl(kernel, cdev, instance, params.ctrlOps, id.driverData, (cmd, data) => nvmeSubmitSyncCmd(dev, cmd, data));
  dev.ctrl.maxHwSectors = NVME_MAX_KB_SZ << 1;
  dev.ctrl.maxSegments = NVME_MAX_SEGS;
  pdev.driverData = dev;
  devices.set(pdev, dev);
  kernel.log.devInfo(cdev, `pci function ${pdev.name}`);
  const r = nvmeResetWork(dev);
  if (r !== 0) {
    kernel.log.devWarn(cdev, `Removing after probe failure status: ${r}`);
    dev.ctrl.state = 'dead';
    kernel.clock.schedule(0, () => {
      if (pdev.driver !== null && devices.get(pdev) === dev) deviceReleaseDriver(pdev);
    });
  }
  return 0;
}

/**
 * Unbinds: removes the namespaces (their queues must be idle), shuts the controller down,
 * frees queues (SQs back to p2pmem or host memory) and the controller device.
 * @param pdev the function.
 * @kernel nvme_remove
 */
export function nvmeRemove(pdev: PciDev): void {
  const dev = devices.get(pdev);
  if (dev === undefined) return;
  nvmeRemoveAll(dev);
  devices.delete(pdev);
}

/** A registered nvme driver. */
export interface NvmePciDriver {
  /** The PCI driver object. */
  readonly driver: PciDriver;
  /** The module parameters in force. */
  readonly params: ResolvedNvmePciParams;
  /** Devices bound to it, in bind order. */
  devices(): NvmeDev[];
  /**
   * Unregisters the driver, unbinding (removing) every device.
   * @kernel nvme_exit / pci_unregister_driver
   */
  exit(): void;
}

/**
 * Registers the nvme driver (binding every NVMe function already present). Attach controller
 * models to the functions first (`attachNvmeControllers`).
 * @param kernel the kernel.
 * @param params module parameters.
 * @returns the driver, or the registration's errno (`-EBUSY`: a driver named `nvme` exists).
 * @throws RangeError for bad parameters.
 * @kernel nvme_init / pci_register_driver(&nvme_driver)
 */
export function nvmeInit(kernel: Kernel, params: NvmePciParams = {}): NvmePciDriver | KResult {
  const p = resolveParams(params);
  const bound: NvmeDev[] = [];
  const driver: PciDriver = {
    name: 'nvme',
    bus: pciBusType,
    idTable: NVME_ID_TABLE,
    probe(d: Device): KResult {
      const pdev = d as PciDev;
      const id = pciMatchId(NVME_ID_TABLE, pdev) as NvmeIdEntry | null;
      if (id === null) return err('ENODEV');
      const r = nvmeProbe(pdev, id, p);
      const dev = devices.get(pdev);
      if (r === 0 && dev !== undefined) bound.push(dev);
      return r;
    },
    remove(d: Device): void {
      const pdev = d as PciDev;
      const dev = devices.get(pdev);
      nvmeRemove(pdev);
      if (dev !== undefined) bound.splice(bound.indexOf(dev), 1);
    },
  };
  const r = pciRegisterDriver(kernel, driver);
  if (r !== 0) return r;
  return { driver, params: p, devices: () => bound.slice(), exit: () => driverUnregister(kernel, driver) };
}
