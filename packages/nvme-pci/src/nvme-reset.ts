/**
 * Controller recovery: what the NVMe PCIe driver does when an I/O times out on a controller
 * that is down (CSTS.CFS set, or CSTS reading all-ones because nothing answers on BAR 0).
 *
 * 1. The timeout handler reads CSTS; a dead controller is reported
 *    (`controller is down; will reset: CSTS=0x3, PCI_STATUS=0x10`, or `... PCI_STATUS read
 *    failed (134)` when config space does not answer either).
 * 2. The I/O queues of every namespace are quiesced, completions already posted are reaped,
 *    the controller is disabled (a dead one gets no Delete SQ/CQ commands), and every request
 *    still in flight is cancelled with `NVME_SC_ABORT_REQ`: without DNR, the core requeues it.
 * 3. The reset work (from a zero-delay timer) enables the function again, rebuilds the admin
 *    and I/O queues on the controller (a controller reset clears CSTS.CFS) and unquiesces the
 *    queues: the requeued requests are issued again and complete.
 * 4. If the reset fails (`-ENODEV` for a function that reads all-ones), the controller is dead:
 *    logged (`Removing after probe failure status: -19` with v2 / 4.16, `Disabling device after
 *    reset failure: -19` with 6.6), the queues are unquiesced and the requeued requests fail
 *    with `BLK_STS_IOERR`.
 *
 * @kernel drivers/nvme/host/pci.c (nvme_timeout, nvme_should_reset, nvme_warn_reset,
 *   nvme_dev_disable, nvme_reset_work, nvme_remove_dead_ctrl), drivers/nvme/host/core.c
 *   (nvme_cancel_request)
 */
import type { KResult, P2pdmaPolicy } from '@p2pdma/kernel';
import type { Request } from '@p2pdma/blk';
import { BLK_EH_HANDLED, blkMqCompleteRequest, blkMqQuiesceQueue, blkMqUnquiesceQueue, MQ_RQ_IN_FLIGHT } from '@p2pdma/blk';
import { PCI_STATUS, PCIBIOS_DEVICE_NOT_FOUND, pciReadConfigWord } from '@p2pdma/pci-core';
import { readl } from './internal/io-accessors';
import type { NvmeRequest } from './nvme-core';
import { nvmeInitIdentify } from './nvme-core';
import type { NvmeDev } from './nvme-dev';
import { nvmeDevDisable, nvmePciConfigureAdminQueue, nvmePciEnable, nvmeSetupIoQueues } from './nvme-pci';
import { nvmeProcessCq } from './nvme-queue';
import { NVME_CSTS_CFS, NVME_CSTS_RDY, NVME_REG_CSTS } from './nvme-regs';
import type { NvmeStatus } from './nvme-status';
import { NVME_SC_ABORT_REQ } from './nvme-status';

/** CSTS as read from a function that does not answer. */
const CSTS_ALL_ONES = 0xffff_ffff;
/** PCI_STATUS as read from a function that does not answer (the read failed with `PCIBIOS_DEVICE_NOT_FOUND`). */
const PCI_STATUS_ALL_ONES = 0xffff;

/** The line a failed reset prints, per policy. @kernel nvme_remove_dead_ctrl (4.16) / nvme_reset_work (6.6) */
export const NVME_RESET_FAILURE_LINE: Readonly<Record<P2pdmaPolicy, (status: number) => string>> = {
  v2: (s) => `Removing after probe failure status: ${s}`,
  upstream: (s) => `Disabling device after reset failure: ${s}`,
};

/**
 * Whether a controller status says the controller needs a reset.
 * @param csts CSTS as read.
 * @returns `true` for CSTS.CFS set or a CSTS of all-ones (the function is gone).
 * @kernel nvme_should_reset
 */
export function nvmeShouldReset(csts: number): boolean {
  return csts === CSTS_ALL_ONES || (csts & NVME_CSTS_CFS) !== 0;
}

/**
 * Whether a controller is dead for `nvme_dev_disable`: no Delete SQ/CQ commands, no disable.
 * @param csts CSTS as read.
 * @returns `true` for all-ones, CSTS.CFS set or CSTS.RDY clear.
 * @kernel nvme_pci_ctrl_is_dead (6.6)
 */
export function nvmePciCtrlIsDead(csts: number): boolean {
  return csts === CSTS_ALL_ONES || (csts & NVME_CSTS_CFS) !== 0 || (csts & NVME_CSTS_RDY) === 0;
}

/**
 * Logs why the controller is being reset, with PCI_STATUS to help see what died.
 * @param dev the device.
 * @param csts CSTS as read.
 * @kernel nvme_warn_reset
 */
export function nvmeWarnReset(dev: NvmeDev, csts: number): void {
  const st = pciReadConfigWord(dev.pdev, PCI_STATUS);
  const hex = (csts >>> 0).toString(16);
  const status = st === PCI_STATUS_ALL_ONES ? `PCI_STATUS read failed (${PCIBIOS_DEVICE_NOT_FOUND})` : `PCI_STATUS=0x${st.toString(16)}`;
  dev.kernel.log.devWarn(dev.ctrl.device, `controller is down; will reset: CSTS=0x${hex}, ${status}`);
}

/**
 * The timeout handler's reset path: quiesce, reap, disable, cancel everything in flight (the
 * core requeues it), and queue the reset work.
 * @param dev the device.
 * @param rq the request that timed out (cancelled like the others; blk-mq completes it).
 * @param csts CSTS as read by the timeout handler.
 * @returns `BLK_EH_HANDLED`.
 * @kernel nvme_timeout (the `nvme_should_reset` branch) → nvme_dev_disable + nvme_reset_ctrl
 */
export function nvmeTimeoutReset(dev: NvmeDev, rq: Request, csts: number): typeof BLK_EH_HANDLED {
  nvmeWarnReset(dev, csts);
  if (dev.ctrl.state !== 'resetting') {
    dev.ctrl.state = 'resetting';
    for (const ns of dev.ctrl.namespaces) blkMqQuiesceQueue(ns.queue);
    for (const q of dev.queues.slice(1)) if (q !== undefined && q.cqVector >= 0) nvmeProcessCq(q);
    nvmeDevDisable(dev, false);
    for (const tags of dev.tagset?.tags ?? []) {
      for (const r of tags.rqs) {
        if (r === null || r === rq || r.freed || r.state !== MQ_RQ_IN_FLIGHT) continue;
        (r.pdu as NvmeRequest).status = NVME_SC_ABORT_REQ as NvmeStatus;
        blkMqCompleteRequest(r);
      }
    }
    dev.kernel.clock.schedule(0, () => nvmeResetCtrlWork(dev));
  }
  (rq.pdu as NvmeRequest).status = NVME_SC_ABORT_REQ as NvmeStatus;
  return BLK_EH_HANDLED;
}

/**
 * The reset work after a controller went down: bring it up again on the existing queues and
 * tag set, then let the requeued requests go; or declare it dead.
 * @param dev the device.
 * @returns `0`, or the step's errno (the controller is then dead).
 * @kernel nvme_reset_work
 */
export function nvmeResetCtrlWork(dev: NvmeDev): KResult {
  const ctrl = dev.ctrl;
  if (ctrl.state !== 'resetting') return 0;
  let r: KResult = nvmePciEnable(dev);
  if (r === 0) r = nvmePciConfigureAdminQueue(dev);
  if (r === 0) r = nvmeInitIdentify(ctrl);
  if (r === 0) r = nvmeSetupIoQueues(dev);
  if (r !== 0) {
    dev.kernel.log.devWarn(ctrl.device, NVME_RESET_FAILURE_LINE[dev.kernel.policy](r));
    ctrl.state = 'dead';
    nvmeDevDisable(dev, false);
  } else {
    ctrl.state = 'live';
  }
  for (const ns of ctrl.namespaces) blkMqUnquiesceQueue(ns.queue);
  return r;
}

/**
 * The controller status the timeout handler reads.
 * @param dev the device.
 * @returns CSTS (all-ones when nothing answers).
 */
export function nvmeReadCsts(dev: NvmeDev): number {
  return readl(dev.kernel, dev.bar + NVME_REG_CSTS) >>> 0;
}
