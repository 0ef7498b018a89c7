/**
 * The admin command set the controller model implements, as a table by opcode: Create and
 * Delete I/O SQ/CQ, Identify (controller, namespace, active namespace list), Set and Get
 * Features (Number of Queues, Volatile Write Cache). Anything else completes with Invalid
 * Command Opcode.
 *
 * @kernel (hardware) NVMe 1.3 section 5 (admin command set)
 */
import type { NvmeCommand } from '../nvme-command';
import {
  NVME_CQ_IRQ_ENABLED,
  NVME_FEAT_NUM_QUEUES,
  NVME_FEAT_VOLATILE_WC,
  NVME_ID_CNS_CTRL,
  NVME_ID_CNS_NS,
  NVME_ID_CNS_NS_ACTIVE_LIST,
  NVME_ID_CTRL,
  NVME_ID_NS,
  NVME_IDENTIFY_DATA_SIZE,
  NVME_QUEUE_PHYS_CONTIG,
  nvme_admin_create_cq,
  nvme_admin_create_sq,
  nvme_admin_delete_cq,
  nvme_admin_delete_sq,
  nvme_admin_get_features,
  nvme_admin_identify,
  nvme_admin_set_features,
} from '../nvme-command';
import { NVME_CMBSZ_CQS, NVME_CMBSZ_SQS, NVME_CAP_MQES } from '../nvme-regs';
import type { NvmeStatus } from '../nvme-status';
import {
  NVME_SC_CMB_INVALID_USE,
  NVME_SC_CQ_INVALID,
  NVME_SC_DATA_XFER_ERROR,
  NVME_SC_INVALID_FIELD,
  NVME_SC_INVALID_NS,
  NVME_SC_INVALID_QUEUE_DELETION,
  NVME_SC_INVALID_VECTOR,
  NVME_SC_QID_INVALID,
  NVME_SC_QUEUE_SIZE,
  NVME_SC_SUCCESS,
  nvmeStatusDnr,
} from '../nvme-status';
import type { NvmeController } from './nvme-controller';
import { NvmeCompletionQueue, NvmeSubmissionQueue } from './queues';

/** What executing a command produced. */
export interface CommandOutcome {
  /** Completion status. */
  readonly status: NvmeStatus;
  /** Completion DW0 (default 0). */
  readonly result?: number;
}

/** One command of a command set. */
export interface NvmeCommandHandler {
  /** The command's name. */
  readonly name: string;
  /**
   * Executes it.
   * @param ctrl the controller.
   * @param cmd the command.
   * @param qid the submission queue it came from.
   * @returns the completion status and result.
   */
  exec(ctrl: NvmeController, cmd: NvmeCommand, qid: number): CommandOutcome;
}

const ok: CommandOutcome = { status: NVME_SC_SUCCESS };
const fail = (s: NvmeStatus): CommandOutcome => ({ status: nvmeStatusDnr(s) });

function putAscii(buf: Uint8Array, at: number, len: number, s: string): void {
  buf.fill(0x20, at, at + len);
  for (let i = 0; i < s.length && i < len; i++) buf[at + i] = s.charCodeAt(i);
}

/**
 * The Identify Controller data structure the model reports.
 * @param ctrl the controller.
 * @returns 4096 bytes.
 */
export function nvmeIdentifyControllerData(ctrl: NvmeController): Uint8Array {
  const c = ctrl.config;
  const buf = new Uint8Array(NVME_IDENTIFY_DATA_SIZE);
  const v = new DataView(buf.buffer);
  v.setUint16(NVME_ID_CTRL.vid, ctrl.pdev.vendor ?? 0, true);
  v.setUint16(NVME_ID_CTRL.ssvid, ctrl.pdev.subsystemVendor ?? 0, true);
  putAscii(buf, NVME_ID_CTRL.sn, 20, c.serial);
  putAscii(buf, NVME_ID_CTRL.mn, 40, c.model);
  putAscii(buf, NVME_ID_CTRL.fr, 8, c.firmware);
  v.setUint8(NVME_ID_CTRL.mdts, c.mdts);
  v.setUint16(NVME_ID_CTRL.cntlid, 1, true);
  v.setUint32(NVME_ID_CTRL.ver, c.vs, true);
  v.setUint8(NVME_ID_CTRL.sqes, 0x66);
  v.setUint8(NVME_ID_CTRL.cqes, 0x44);
  v.setUint16(NVME_ID_CTRL.maxcmd, 0, true);
  v.setUint32(NVME_ID_CTRL.nn, ctrl.namespaceIds().reduce((m, n) => Math.max(m, n), 0), true);
  v.setUint16(NVME_ID_CTRL.oncs, 0, true);
  v.setUint8(NVME_ID_CTRL.vwc, c.volatileWriteCache ? 1 : 0);
  v.setUint32(NVME_ID_CTRL.sgls, 0, true);
  return buf;
}

/**
 * The Identify Namespace data structure for a namespace: one LBA format (the namespace's), no
 * metadata. A namespace of size 0 reports NSZE = NCAP = NUSE = 0.
 * @param ctrl the controller.
 * @param nsid the namespace.
 * @returns 4096 bytes, or `null` when the controller has no such namespace.
 */
export function nvmeIdentifyNamespaceData(ctrl: NvmeController, nsid: number): Uint8Array | null {
  const ns = ctrl.media(nsid);
  if (ns === null) return null;
  const buf = new Uint8Array(NVME_IDENTIFY_DATA_SIZE);
  const v = new DataView(buf.buffer);
  const blocks = BigInt(ns.blocks);
  v.setBigUint64(NVME_ID_NS.nsze, blocks, true);
  v.setBigUint64(NVME_ID_NS.ncap, blocks, true);
  v.setBigUint64(NVME_ID_NS.nuse, blocks, true);
  v.setUint8(NVME_ID_NS.nlbaf, 0);
  v.setUint8(NVME_ID_NS.flbas, 0);
  v.setUint32(NVME_ID_NS.lbaf, ns.lbaShift << 16, true);
  return buf;
}

function sendData(ctrl: NvmeController, cmd: NvmeCommand, data: Uint8Array): CommandOutcome {
  const walk = ctrl.dma.walkPrps(cmd.prp1, cmd.prp2, data.length, ctrl.pageSize, ctrl.cmbListsAllowed);
  if (!walk.ok) return { status: walk.status };
  return ctrl.dma.scatter(walk.segs, data) ? ok : fail(NVME_SC_DATA_XFER_ERROR);
}

function queueIdInvalid(ctrl: NvmeController, qid: number): boolean {
  return qid === 0 || qid > ctrl.config.maxQueuePairs;
}

function queueBaseCheck(ctrl: NvmeController, base: number, bytes: number, cmbFlag: number): NvmeStatus | null {
  if (base % ctrl.pageSize !== 0) return nvmeStatusDnr(NVME_SC_INVALID_FIELD);
  if (ctrl.dma.inCmb(base, bytes) && (ctrl.cmbCaps & cmbFlag) === 0) return nvmeStatusDnr(NVME_SC_CMB_INVALID_USE);
  return null;
}

/** Create I/O Completion Queue. */
const createCq: NvmeCommandHandler = {
  name: 'Create I/O Completion Queue',
  exec(ctrl, cmd) {
    const qid = cmd.cdw10 & 0xffff;
    const size = (cmd.cdw10 >>> 16) + 1;
    const flags = cmd.cdw11 & 0xffff;
    const iv = cmd.cdw11 >>> 16;
    if (queueIdInvalid(ctrl, qid) || ctrl.cqs.has(qid)) return fail(NVME_SC_QID_INVALID);
    if (size < 2 || size > NVME_CAP_MQES(ctrl.cap) + 1) return fail(NVME_SC_QUEUE_SIZE);
    if ((flags & NVME_QUEUE_PHYS_CONTIG) === 0) return fail(NVME_SC_INVALID_FIELD);
    if (iv >= ctrl.config.msixVectors) return fail(NVME_SC_INVALID_VECTOR);
    const bad = queueBaseCheck(ctrl, cmd.prp1, size * 16, NVME_CMBSZ_CQS);
    if (bad !== null) return { status: bad };
    ctrl.cqs.set(qid, new NvmeCompletionQueue(qid, cmd.prp1, size, iv, (flags & NVME_CQ_IRQ_ENABLED) !== 0));
    return ok;
  },
};

/** Create I/O Submission Queue. */
const createSq: NvmeCommandHandler = {
  name: 'Create I/O Submission Queue',
  exec(ctrl, cmd) {
    const qid = cmd.cdw10 & 0xffff;
    const size = (cmd.cdw10 >>> 16) + 1;
    const flags = cmd.cdw11 & 0xffff;
    const cqid = cmd.cdw11 >>> 16;
    if (queueIdInvalid(ctrl, qid) || ctrl.sqs.has(qid)) return fail(NVME_SC_QID_INVALID);
    const cq = ctrl.cqs.get(cqid);
    if (cqid === 0 || cq === undefined) return fail(NVME_SC_CQ_INVALID);
    if (size < 2 || size > NVME_CAP_MQES(ctrl.cap) + 1) return fail(NVME_SC_QUEUE_SIZE);
    if ((flags & NVME_QUEUE_PHYS_CONTIG) === 0) return fail(NVME_SC_INVALID_FIELD);
    const bad = queueBaseCheck(ctrl, cmd.prp1, size * 64, NVME_CMBSZ_SQS);
    if (bad !== null) return { status: bad };
    ctrl.sqs.set(qid, new NvmeSubmissionQueue(qid, cmd.prp1, size, cqid, (flags >>> 1) & 3));
    cq.sqs.add(qid);
    return ok;
  },
};

/** Delete I/O Submission Queue: commands not yet fetched complete as aborted. */
const deleteSq: NvmeCommandHandler = {
  name: 'Delete I/O Submission Queue',
  exec(ctrl, cmd) {
    const qid = cmd.cdw10 & 0xffff;
    if (qid === 0 || !ctrl.sqs.has(qid)) return fail(NVME_SC_QID_INVALID);
    ctrl.deleteSq(qid);
    return ok;
  },
};

/** Delete I/O Completion Queue: refused while a submission queue still posts to it. */
const deleteCq: NvmeCommandHandler = {
  name: 'Delete I/O Completion Queue',
  exec(ctrl, cmd) {
    const qid = cmd.cdw10 & 0xffff;
    const cq = ctrl.cqs.get(qid);
    if (qid === 0 || cq === undefined) return fail(NVME_SC_QID_INVALID);
    if (cq.sqs.size !== 0) return fail(NVME_SC_INVALID_QUEUE_DELETION);
    ctrl.cqs.delete(qid);
    return ok;
  },
};

/** Identify: controller, namespace, active namespace list. */
const identify: NvmeCommandHandler = {
  name: 'Identify',
  exec(ctrl, cmd) {
    const cns = cmd.cdw10 & 0xff;
    if (cns === NVME_ID_CNS_CTRL) return sendData(ctrl, cmd, nvmeIdentifyControllerData(ctrl));
    if (cns === NVME_ID_CNS_NS) {
      const data = nvmeIdentifyNamespaceData(ctrl, cmd.nsid);
      return data === null ? fail(NVME_SC_INVALID_NS) : sendData(ctrl, cmd, data);
    }
    if (cns === NVME_ID_CNS_NS_ACTIVE_LIST) {
      if (cmd.nsid >= 0xffff_fffe) return fail(NVME_SC_INVALID_NS);
      const buf = new Uint8Array(NVME_IDENTIFY_DATA_SIZE);
      const v = new DataView(buf.buffer);
      const ids = ctrl
        .namespaceIds()
        .filter((n) => n > cmd.nsid)
        .slice(0, NVME_IDENTIFY_DATA_SIZE / 4);
      ids.forEach((n, i) => {
        v.setUint32(i * 4, n, true);
      });
      return sendData(ctrl, cmd, buf);
    }
    return fail(NVME_SC_INVALID_FIELD);
  },
};

/** Set Features: Number of Queues (granted up to the controller's limit), Volatile Write Cache. */
const setFeatures: NvmeCommandHandler = {
  name: 'Set Features',
  exec(ctrl, cmd) {
    const fid = cmd.cdw10 & 0xff;
    if (fid === NVME_FEAT_NUM_QUEUES) {
      const nsqr = cmd.cdw11 & 0xffff;
      const ncqr = cmd.cdw11 >>> 16;
      if (nsqr === 0xffff || ncqr === 0xffff) return fail(NVME_SC_INVALID_FIELD);
      const max = ctrl.config.maxQueuePairs - 1;
      ctrl.queuesGranted = { nsqa: Math.min(nsqr, max), ncqa: Math.min(ncqr, max) };
      return { status: NVME_SC_SUCCESS, result: (ctrl.queuesGranted.nsqa | (ctrl.queuesGranted.ncqa << 16)) >>> 0 };
    }
    if (fid === NVME_FEAT_VOLATILE_WC) {
      if (!ctrl.config.volatileWriteCache) return fail(NVME_SC_INVALID_FIELD);
      ctrl.writeCacheEnabled = (cmd.cdw11 & 1) !== 0;
      return ok;
    }
    return fail(NVME_SC_INVALID_FIELD);
  },
};

/** Get Features: the current Number of Queues or Volatile Write Cache setting. */
const getFeatures: NvmeCommandHandler = {
  name: 'Get Features',
  exec(ctrl, cmd) {
    const fid = cmd.cdw10 & 0xff;
    if (fid === NVME_FEAT_NUM_QUEUES) {
      const g = ctrl.queuesGranted ?? { nsqa: ctrl.config.maxQueuePairs - 1, ncqa: ctrl.config.maxQueuePairs - 1 };
      return { status: NVME_SC_SUCCESS, result: (g.nsqa | (g.ncqa << 16)) >>> 0 };
    }
    if (fid === NVME_FEAT_VOLATILE_WC && ctrl.config.volatileWriteCache) return { status: NVME_SC_SUCCESS, result: ctrl.writeCacheEnabled ? 1 : 0 };
    return fail(NVME_SC_INVALID_FIELD);
  },
};

/** The admin command set by opcode. */
export const NVME_ADMIN_COMMANDS: ReadonlyMap<number, NvmeCommandHandler> = new Map([
  [nvme_admin_delete_sq, deleteSq],
  [nvme_admin_create_sq, createSq],
  [nvme_admin_delete_cq, deleteCq],
  [nvme_admin_create_cq, createCq],
  [nvme_admin_identify, identify],
  [nvme_admin_set_features, setFeatures],
  [nvme_admin_get_features, getFeatures],
]);
