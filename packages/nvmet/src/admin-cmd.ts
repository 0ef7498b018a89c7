/**
 * Admin commands of an NVM subsystem's controller: Identify (controller, namespace, active
 * namespace list), Get Log Page (error, SMART, firmware slot, and under 6.6 the Changed
 * Namespace List), Set/Get Features (number of queues, keep-alive timeout, asynchronous event
 * configuration under 6.6), Asynchronous Event Request, Keep Alive and Abort.
 *
 * Response data goes to the request's buffer (System RAM: the admin queue never uses p2pmem)
 * with `nvmetCopyToSgl`.
 *
 * @kernel drivers/nvme/target/admin-cmd.c (nvmet_parse_admin_cmd, nvmet_execute_identify_ctrl,
 *   nvmet_execute_identify_ns, nvmet_execute_identify_nslist, nvmet_execute_get_log_page_*,
 *   nvmet_execute_set_features, nvmet_execute_get_features, nvmet_execute_keep_alive,
 *   nvmet_execute_abort)
 */
import { nvmetExecuteAsyncEvent, NVMET_ASYNC_EVENTS } from './async-event';
import { NVMET_KAS, NVMET_QUEUE_SIZE, nvmetKeepAliveUpdate, nvmetStartKeepAliveTimer } from './ctrl';
import { nvmetCheckCtrlStatus } from './io-cmd-bdev';
import {
  nvme_admin_abort_cmd,
  nvme_admin_async_event,
  nvme_admin_get_features,
  nvme_admin_get_log_page,
  nvme_admin_identify,
  nvme_admin_keep_alive,
  nvme_admin_set_features,
  NVME_COMMAND_SIZE,
  NVME_COMPLETION_SIZE,
} from './nvme-command';
import {
  NVME_AEN_CFG_NS_ATTR,
  NVME_CTRL_SGLS,
  NVME_FEAT_ASYNC_EVENT,
  NVME_FEAT_HOST_ID,
  NVME_FEAT_KATO,
  NVME_FEAT_NUM_QUEUES,
  NVME_ID_CNS_CTRL,
  NVME_ID_CNS_NS,
  NVME_ID_CNS_NS_ACTIVE_LIST,
  NVME_ID_CTRL_OFFSETS,
  NVME_ID_CTRL_STRING_LENGTHS,
  NVME_ID_NS_OFFSETS,
  NVME_IDENTIFY_DATA_SIZE,
  NVME_LOG_CHANGED_NS,
  NVME_LOG_ERROR,
  NVME_LOG_FW_SLOT,
  NVME_LOG_SMART,
  NVME_MAX_CHANGED_NAMESPACES,
  NVME_NS_LIST_ENTRIES,
} from './nvme-identify';
import type { NvmeStatus } from './nvme-status';
import { NVME_SC_CMD_SEQ_ERROR, NVME_SC_DNR, NVME_SC_INTERNAL, NVME_SC_INVALID_FIELD, NVME_SC_INVALID_NS, NVME_SC_INVALID_OPCODE } from './nvme-status';
import { NVME_NSID_ALL, nvmetFindNamespace, nvmetPutNamespace } from './ns';
import type { NvmetReq } from './req';
import { nvmetCopyToSgl, nvmetReqComplete } from './req';
import { leHex } from './subsys';

/** The model number every nvmet controller reports. @kernel "Linux" in nvmet_execute_identify_ctrl */
export const NVMET_MODEL_NUMBER = 'Linux';
/** Error log entries (Identify `elpe` + 1). @kernel NVMET_ERROR_LOG_SLOTS */
export const NVMET_ERROR_LOG_SLOTS = 128;
/** Bytes of the SMART / Health log page. @kernel sizeof(struct nvme_smart_log) */
export const NVME_SMART_LOG_SIZE = 512;

function putString(b: Uint8Array, off: number, len: number, s: string): void {
  b.fill(0x20, off, off + len);
  const enc = new TextEncoder().encode(s).subarray(0, len);
  b.set(enc, off);
}

function logPageLen(req: NvmetReq): number {
  const numdl = req.cmd.u16(42);
  const numdu = req.cmd.u16(44);
  return ((numdu * 65536 + numdl) + 1) * 4;
}

/** Admin commands that move no data, and their handlers (the rest of nvmet_parse_admin_cmd's switch). */
const NO_DATA_ADMIN_CMDS: ReadonlyMap<number, (req: NvmetReq) => void> = new Map([
  [nvme_admin_abort_cmd, nvmetExecuteAbort],
  [nvme_admin_set_features, nvmetExecuteSetFeatures],
  [nvme_admin_get_features, nvmetExecuteGetFeatures],
  [nvme_admin_async_event, nvmetExecuteAsyncEvent],
  [nvme_admin_keep_alive, nvmetExecuteKeepAlive],
]);

/**
 * Parses an admin command.
 * @param req the request (admin queue, connected controller).
 * @returns `0`; `CMD_SEQ_ERROR|DNR` before the controller is ready; `INVALID_OPCODE|DNR`
 *   (`unhandled cmd %d on qid %d`) for opcodes and (4.16) log pages the target does not serve;
 *   6.6: `INVALID_FIELD|DNR` for an unknown log page or Identify CNS.
 * @kernel nvmet_parse_admin_cmd
 */
export function nvmetParseAdminCmd(req: NvmetReq): NvmeStatus {
  const cmd = req.cmd;
  const t = req.sq.ctrl!.target;
  req.ns = null;
  const st = nvmetCheckCtrlStatus(req);
  if (st !== 0) return st;
  const log = t.kernel.log;
  const noData = NO_DATA_ADMIN_CMDS.get(cmd.opcode);
  if (noData !== undefined) {
    req.execute = noData;
    req.dataLen = 0;
    return 0;
  }
  switch (cmd.opcode) {
    case nvme_admin_get_log_page: {
      req.dataLen = logPageLen(req);
      const lid = cmd.u8(40);
      const exec = LOG_PAGES.get(lid);
      if (exec !== undefined && (lid !== NVME_LOG_CHANGED_NS || t.rules.changedNsLog)) {
        req.execute = exec;
        return 0;
      }
      if (t.rules.unknownAdminSelector === 'invalid-field') {
        log.prDebug(`nvmet: unhandled lid ${lid} on qid ${req.sq.qid}`);
        return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
      }
      break;
    }
    case nvme_admin_identify: {
      req.dataLen = NVME_IDENTIFY_DATA_SIZE;
      const exec = IDENTIFY.get(cmd.u8(40));
      if (exec !== undefined) {
        req.execute = exec;
        return 0;
      }
      if (t.rules.unknownAdminSelector === 'invalid-field') return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
      break;
    }
  }
  log.prErr(`nvmet: unhandled cmd ${cmd.opcode} on qid ${req.sq.qid}`);
  return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
}

/**
 * Identify Controller.
 * @param req the request.
 * @kernel nvmet_execute_identify_ctrl
 */
export function nvmetExecuteIdentifyCtrl(req: NvmetReq): void {
  const ctrl = req.sq.ctrl!;
  const subsys = ctrl.subsys;
  const t = ctrl.target;
  const o = NVME_ID_CTRL_OFFSETS;
  const l = NVME_ID_CTRL_STRING_LENGTHS;
  if (t.rules.identifyLocksIdentity) subsys.discovered = true;
  const id = new Uint8Array(NVME_IDENTIFY_DATA_SIZE);
  const dv = new DataView(id.buffer);
  putString(id, o.sn, l.sn, t.rules.serial === 'u64' ? leHex(subsys.serialU64) : subsys.serial);
  putString(id, o.mn, l.mn, NVMET_MODEL_NUMBER);
  putString(id, o.fr, l.fr, t.rules.firmwareRevision);
  id[o.rab] = 6;
  id[o.cmic] = (1 << 0) | (1 << 1);
  id[o.mdts] = 0;
  dv.setUint16(o.cntlid, ctrl.cntlid, true);
  dv.setUint32(o.ver, subsys.ver, true);
  dv.setUint32(o.ctratt, 1 << 0, true);
  if (t.rules.changedNsLog) dv.setUint32(o.oaes, NVME_AEN_CFG_NS_ATTR, true);
  id[o.acl] = 3;
  id[o.aerl] = NVMET_ASYNC_EVENTS - 1;
  id[o.frmw] = (1 << 0) | (1 << 1);
  id[o.lpa] = (1 << 0) | (1 << 2);
  id[o.elpe] = NVMET_ERROR_LOG_SLOTS - 1;
  dv.setUint16(o.kas, NVMET_KAS, true);
  id[o.sqes] = (0x6 << 4) | 0x6;
  id[o.cqes] = (0x4 << 4) | 0x4;
  dv.setUint16(o.maxcmd, NVMET_QUEUE_SIZE, true);
  dv.setUint32(o.nn, subsys.maxNsid, true);
  dv.setUint16(o.oncs, 0, true);
  id[o.vwc] = 1;
  const inline = Math.max(0, req.port?.inlineDataSize ?? 0);
  let sgls = NVME_CTRL_SGLS.supported;
  if (ctrl.ops.hasKeyedSgls) sgls |= NVME_CTRL_SGLS.keyed;
  if (inline > 0) sgls |= NVME_CTRL_SGLS.inCapsuleOffset;
  dv.setUint32(o.sgls, sgls, true);
  const nqn = new TextEncoder().encode(subsys.subsysnqn);
  id.set(nqn.subarray(0, l.subnqn - 1), o.subnqn);
  dv.setUint32(o.ioccsz, (NVME_COMMAND_SIZE + inline) / 16, true);
  dv.setUint32(o.iorcsz, NVME_COMPLETION_SIZE / 16, true);
  id[o.msdbd] = ctrl.ops.msdbd;
  nvmetReqComplete(req, nvmetCopyToSgl(req, 0, id));
}

/**
 * Identify Namespace: size = capacity = utilization in logical blocks, one LBA format with the
 * device's block size, shared (NMIC bit 0), the NGUID.
 * @param req the request.
 * @kernel nvmet_execute_identify_ns
 */
export function nvmetExecuteIdentifyNs(req: NvmetReq): void {
  const ctrl = req.sq.ctrl!;
  const nsid = req.cmd.nsid;
  const id = new Uint8Array(NVME_IDENTIFY_DATA_SIZE);
  if (nsid === NVME_NSID_ALL && ctrl.target.rules.identifyInactiveNs === 'zeroed') {
    nvmetReqComplete(req, NVME_SC_INVALID_NS | NVME_SC_DNR);
    return;
  }
  const ns = nvmetFindNamespace(ctrl, nsid);
  if (ns === null) {
    if (ctrl.target.rules.identifyInactiveNs === 'invalid-ns') nvmetReqComplete(req, NVME_SC_INVALID_NS | NVME_SC_DNR);
    else nvmetReqComplete(req, nvmetCopyToSgl(req, 0, id));
    return;
  }
  const dv = new DataView(id.buffer);
  const o = NVME_ID_NS_OFFSETS;
  const blocks = BigInt(Math.floor(ns.size / 2 ** ns.blksizeShift));
  dv.setBigUint64(o.nsze, blocks, true);
  dv.setBigUint64(o.ncap, blocks, true);
  dv.setBigUint64(o.nuse, blocks, true);
  id[o.nlbaf] = 0;
  id[o.flbas] = 0;
  id[o.nmic] = 1 << 0;
  id.set(ns.nguid, o.nguid);
  id[o.lbaf0Ds] = ns.blksizeShift;
  nvmetPutNamespace(ns);
  nvmetReqComplete(req, nvmetCopyToSgl(req, 0, id));
}

/**
 * Identify active namespace list: the enabled NSIDs above the command's NSID, ascending, at
 * most 1024.
 * @param req the request.
 * @kernel nvmet_execute_identify_nslist
 */
export function nvmetExecuteIdentifyNslist(req: NvmetReq): void {
  const ctrl = req.sq.ctrl!;
  const min = req.cmd.nsid;
  const list = new Uint8Array(NVME_IDENTIFY_DATA_SIZE);
  const dv = new DataView(list.buffer);
  let i = 0;
  for (const ns of ctrl.subsys.namespaces) {
    if (ns.nsid <= min) continue;
    dv.setUint32(i * 4, ns.nsid, true);
    if (++i === NVME_NS_LIST_ENTRIES) break;
  }
  nvmetReqComplete(req, nvmetCopyToSgl(req, 0, list));
}

/**
 * A log page the target keeps empty (error, firmware slot; SMART, which the model does not
 * account): the requested length of zeroes.
 * @param req the request.
 * @kernel nvmet_execute_get_log_page_noop
 */
export function nvmetExecuteGetLogPageNoop(req: NvmetReq): void {
  nvmetReqComplete(req, nvmetCopyToSgl(req, 0, new Uint8Array(req.dataLen)));
}

/**
 * SMART / Health log: the length must be the page's 512 bytes (`INTERNAL` otherwise); the
 * counters are not modelled and read as zero.
 * @param req the request.
 * @kernel nvmet_execute_get_log_page_smart
 */
export function nvmetExecuteGetLogPageSmart(req: NvmetReq): void {
  if (req.dataLen !== NVME_SMART_LOG_SIZE) {
    nvmetReqComplete(req, NVME_SC_INTERNAL);
    return;
  }
  nvmetReqComplete(req, nvmetCopyToSgl(req, 0, new Uint8Array(NVME_SMART_LOG_SIZE)));
}

/**
 * Changed Namespace List (6.6): the NSIDs changed since the last read (or `0xffffffff` after an
 * overflow), then zeroes; reading clears the list and unmasks namespace notices.
 * @param req the request (4096 bytes, else `INTERNAL`).
 * @kernel nvmet_execute_get_log_changed_ns
 */
export function nvmetExecuteGetLogChangedNs(req: NvmetReq): void {
  const ctrl = req.sq.ctrl!;
  if (req.dataLen !== NVME_MAX_CHANGED_NAMESPACES * 4) {
    nvmetReqComplete(req, NVME_SC_INTERNAL);
    return;
  }
  const buf = new Uint8Array(req.dataLen);
  const dv = new DataView(buf.buffer);
  ctrl.changedNsList.forEach((nsid, i) => {
    dv.setUint32(i * 4, nsid >>> 0, true);
  });
  const st = nvmetCopyToSgl(req, 0, buf);
  ctrl.changedNsList.length = 0;
  ctrl.changedNsOverflow = false;
  ctrl.aenMaskedNsAttr = false;
  nvmetReqComplete(req, st);
}

/**
 * Set Features: number of queues (answers the subsystem's limit), keep-alive timeout (6.6
 * re-arms the timer), asynchronous event configuration (6.6); Host Identifier is refused with
 * `CMD_SEQ_ERROR|DNR`, anything else with `INVALID_FIELD|DNR`.
 * @param req the request.
 * @kernel nvmet_execute_set_features
 */
export function nvmetExecuteSetFeatures(req: NvmetReq): void {
  const ctrl = req.sq.ctrl!;
  const t = ctrl.target;
  const fid = req.cmd.cdw(10) & 0xff;
  const val = req.cmd.cdw(11);
  let status: NvmeStatus = 0;
  switch (fid) {
    case NVME_FEAT_NUM_QUEUES: {
      const n = ctrl.subsys.maxQid - 1;
      req.cqe.result = (n | (n << 16)) >>> 0;
      break;
    }
    case NVME_FEAT_KATO:
      ctrl.kato = Math.ceil(val / 1000);
      if (t.rules.setKatoRearmsTimer) nvmetStartKeepAliveTimer(ctrl);
      req.cqe.result = ctrl.kato;
      break;
    case NVME_FEAT_ASYNC_EVENT:
      if (t.rules.asyncEventConfig && (val & ~NVME_AEN_CFG_NS_ATTR) === 0) {
        ctrl.aenEnabled = val;
        req.cqe.result = val;
      } else status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
      break;
    case NVME_FEAT_HOST_ID:
      status = NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
      break;
    default:
      status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
  }
  nvmetReqComplete(req, status);
}

/**
 * Get Features: number of queues, keep-alive timeout in ms, asynchronous event configuration.
 * @param req the request.
 * @kernel nvmet_execute_get_features
 */
export function nvmetExecuteGetFeatures(req: NvmetReq): void {
  const ctrl = req.sq.ctrl!;
  const fid = req.cmd.cdw(10) & 0xff;
  let status: NvmeStatus = 0;
  switch (fid) {
    case NVME_FEAT_NUM_QUEUES: {
      const n = ctrl.subsys.maxQid - 1;
      req.cqe.result = (n | (n << 16)) >>> 0;
      break;
    }
    case NVME_FEAT_KATO:
      req.cqe.result = ctrl.kato * 1000;
      break;
    case NVME_FEAT_ASYNC_EVENT:
      req.cqe.result = ctrl.target.rules.asyncEventConfig ? ctrl.aenEnabled : 0;
      break;
    default:
      status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
  }
  nvmetReqComplete(req, status);
}

/**
 * Keep Alive: re-arms the controller's keep-alive timer.
 * @param req the request.
 * @kernel nvmet_execute_keep_alive
 */
export function nvmetExecuteKeepAlive(req: NvmetReq): void {
  nvmetKeepAliveUpdate(req.sq.ctrl!);
  nvmetReqComplete(req, 0);
}

/**
 * Abort: never aborts anything (result bit 0 set: "command not aborted").
 * @param req the request.
 * @kernel nvmet_execute_abort
 */
export function nvmetExecuteAbort(req: NvmetReq): void {
  req.cqe.result = 1;
  nvmetReqComplete(req, 0);
}

/** Log page → handler. */
const LOG_PAGES: ReadonlyMap<number, (req: NvmetReq) => void> = new Map([
  [NVME_LOG_ERROR, nvmetExecuteGetLogPageNoop],
  [NVME_LOG_SMART, nvmetExecuteGetLogPageSmart],
  [NVME_LOG_FW_SLOT, nvmetExecuteGetLogPageNoop],
  [NVME_LOG_CHANGED_NS, nvmetExecuteGetLogChangedNs],
]);

/** Identify CNS → handler. */
const IDENTIFY: ReadonlyMap<number, (req: NvmetReq) => void> = new Map([
  [NVME_ID_CNS_NS, nvmetExecuteIdentifyNs],
  [NVME_ID_CNS_CTRL, nvmetExecuteIdentifyCtrl],
  [NVME_ID_CNS_NS_ACTIVE_LIST, nvmetExecuteIdentifyNslist],
]);
