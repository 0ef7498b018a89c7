/**
 * Fabrics commands: Connect (the first command on every queue: it creates the controller on the
 * admin queue and binds I/O queues to it) and Property Get/Set (the fabrics way to read CAP,
 * VS, CSTS and to write CC).
 *
 * @kernel drivers/nvme/target/fabrics-cmd.c (nvmet_parse_connect_cmd, nvmet_parse_fabrics_cmd,
 *   nvmet_execute_admin_connect, nvmet_execute_io_connect, nvmet_install_queue,
 *   nvmet_execute_prop_set, nvmet_execute_prop_get)
 */
import type { NvmetCtrl } from './ctrl';
import { nvmetAllocCtrl, nvmetCtrlFindGet, nvmetCtrlPut, nvmetUpdateCc } from './ctrl';
import { nvme_fabrics_command } from './nvme-command';
import {
  ipoIattrConnectData,
  ipoIattrConnectSqe,
  NVME_CNTLID_DYNAMIC,
  nvme_fabrics_type_connect,
  nvme_fabrics_type_property_get,
  nvme_fabrics_type_property_set,
  NVME_REG_CAP,
  NVME_REG_CC,
  NVME_REG_CSTS,
  NVME_REG_VS,
  NVMF_CONNECT_CMD_OFFSETS,
  NVMF_CONNECT_DATA_SIZE,
  NVMF_PROPERTY_OFFSETS,
  nvmfDecodeConnectData,
} from './nvme-fabrics';
import type { NvmeStatus } from './nvme-status';
import { NVME_SC_CONNECT_CTRL_BUSY, NVME_SC_CONNECT_FORMAT, NVME_SC_CONNECT_INVALID_PARAM, NVME_SC_DNR, NVME_SC_INVALID_FIELD, NVME_SC_INVALID_OPCODE } from './nvme-status';
import type { NvmetReq } from './req';
import { nvmetCopyFromSgl, nvmetCqSetup, nvmetReqComplete, nvmetSqSetup } from './req';

function logOf(req: NvmetReq) {
  return req.port?.target.kernel.log ?? req.sq.ctrl?.target.kernel.log ?? null;
}

/**
 * Parses the first command of a queue: only a Connect is accepted.
 * @param req the request.
 * @returns `0`, or `INVALID_OPCODE|DNR` (`invalid command 0x%x on unconnected queue.` /
 *   `invalid capsule type 0x%x on unconnected queue.`).
 * @kernel nvmet_parse_connect_cmd
 */
export function nvmetParseConnectCmd(req: NvmetReq): NvmeStatus {
  const cmd = req.cmd;
  const log = logOf(req);
  req.ns = null;
  if (cmd.opcode !== nvme_fabrics_command) {
    log?.prErr(`nvmet: invalid command 0x${cmd.opcode.toString(16)} on unconnected queue.`);
    return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
  }
  if (cmd.fctype !== nvme_fabrics_type_connect) {
    log?.prErr(`nvmet: invalid capsule type 0x${cmd.fctype.toString(16)} on unconnected queue.`);
    return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
  }
  req.dataLen = NVMF_CONNECT_DATA_SIZE;
  req.execute = cmd.u16(NVMF_CONNECT_CMD_OFFSETS.qid) === 0 ? nvmetExecuteAdminConnect : nvmetExecuteIoConnect;
  return 0;
}

/**
 * Parses a fabrics command on a connected admin queue (Property Get/Set).
 * @param req the request.
 * @returns `0`, or `INVALID_OPCODE|DNR` (`received unknown capsule type 0x%x`).
 * @kernel nvmet_parse_fabrics_cmd
 */
export function nvmetParseFabricsCmd(req: NvmetReq): NvmeStatus {
  req.ns = null;
  switch (req.cmd.fctype) {
    case nvme_fabrics_type_property_set:
      req.dataLen = 0;
      req.execute = nvmetExecutePropSet;
      return 0;
    case nvme_fabrics_type_property_get:
      req.dataLen = 0;
      req.execute = nvmetExecutePropGet;
      return 0;
    default:
      logOf(req)?.prErr(`nvmet: received unknown capsule type 0x${req.cmd.fctype.toString(16)}`);
      return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
  }
}

/** Binds the request's queue to the controller (`queue already connected!` if bound). */
function nvmetInstallQueue(ctrl: NvmetCtrl, req: NvmetReq): NvmeStatus {
  const qid = req.cmd.u16(NVMF_CONNECT_CMD_OFFSETS.qid);
  const sqsize = req.cmd.u16(NVMF_CONNECT_CMD_OFFSETS.sqsize);
  if (req.sq.ctrl !== null) {
    ctrl.target.kernel.log.prWarn('nvmet: queue already connected!');
    return NVME_SC_CONNECT_CTRL_BUSY | NVME_SC_DNR;
  }
  req.sq.ctrl = ctrl;
  nvmetCqSetup(ctrl, req.cq, qid, sqsize);
  nvmetSqSetup(ctrl, req.sq, qid, sqsize);
  return 0;
}

/** Reads and checks the Connect data; on failure completes the request. */
function connectData(req: NvmetReq) {
  const d = nvmetCopyFromSgl(req, 0, NVMF_CONNECT_DATA_SIZE);
  if (typeof d === 'number') {
    nvmetReqComplete(req, d);
    return null;
  }
  req.cqe.result = 0;
  const recfmt = req.cmd.u16(NVMF_CONNECT_CMD_OFFSETS.recfmt);
  if (recfmt !== 0) {
    logOf(req)?.prWarn(`nvmet: invalid connect version (${recfmt}).`);
    nvmetReqComplete(req, NVME_SC_CONNECT_FORMAT | NVME_SC_DNR);
    return null;
  }
  return nvmfDecodeConnectData(d);
}

/**
 * Connect on an admin queue: creates the controller and binds the queue; the result carries
 * the controller ID (`creating controller %d for subsystem %s for NQN %s.`).
 * @param req the request.
 * @kernel nvmet_execute_admin_connect
 */
export function nvmetExecuteAdminConnect(req: NvmetReq): void {
  const d = connectData(req);
  if (d === null) return;
  const target = req.port?.target;
  if (d.cntlid !== NVME_CNTLID_DYNAMIC) {
    target?.kernel.log.prWarn(`nvmet: connect attempt for invalid controller ID 0x${d.cntlid.toString(16)}`);
    req.cqe.result = ipoIattrConnectData('cntlid');
    nvmetReqComplete(req, NVME_SC_CONNECT_INVALID_PARAM | NVME_SC_DNR);
    return;
  }
  if (target === undefined) {
    req.cqe.result = ipoIattrConnectData('subsysnqn');
    nvmetReqComplete(req, NVME_SC_CONNECT_INVALID_PARAM | NVME_SC_DNR);
    return;
  }
  const r = nvmetAllocCtrl(target, d.subsysnqn, d.hostnqn, req, req.cmd.u32(NVMF_CONNECT_CMD_OFFSETS.kato));
  if ('status' in r) {
    req.cqe.result = r.result;
    nvmetReqComplete(req, r.status);
    return;
  }
  const ctrl = r.ctrl;
  const st = nvmetInstallQueue(ctrl, req);
  if (st !== 0) {
    nvmetCtrlPut(ctrl);
    nvmetReqComplete(req, st);
    return;
  }
  target.kernel.log.prInfo(target.rules.creatingCtrlMessage(ctrl.cntlid, ctrl.subsysnqn, ctrl.hostnqn));
  req.cqe.result = ctrl.cntlid;
  nvmetReqComplete(req, 0);
}

/**
 * Connect on an I/O queue: finds the controller by ID and binds the queue
 * (`adding queue %d to ctrl %d.`).
 * @param req the request.
 * @kernel nvmet_execute_io_connect
 */
export function nvmetExecuteIoConnect(req: NvmetReq): void {
  const d = connectData(req);
  if (d === null) return;
  const target = req.port?.target;
  const qid = req.cmd.u16(NVMF_CONNECT_CMD_OFFSETS.qid);
  if (target === undefined) {
    req.cqe.result = ipoIattrConnectData('subsysnqn');
    nvmetReqComplete(req, NVME_SC_CONNECT_INVALID_PARAM | NVME_SC_DNR);
    return;
  }
  const r = nvmetCtrlFindGet(target, d.subsysnqn, d.hostnqn, d.cntlid, req);
  if ('status' in r) {
    req.cqe.result = r.result;
    nvmetReqComplete(req, r.status);
    return;
  }
  const ctrl = r.ctrl;
  if (qid > ctrl.subsys.maxQid) {
    target.kernel.log.prWarn(`nvmet: invalid queue id (${qid})`);
    req.cqe.result = ipoIattrConnectSqe('qid');
    nvmetCtrlPut(ctrl);
    nvmetReqComplete(req, NVME_SC_CONNECT_INVALID_PARAM | NVME_SC_DNR);
    return;
  }
  const st = nvmetInstallQueue(ctrl, req);
  if (st !== 0) {
    req.cqe.result = ctrl.cntlid;
    nvmetCtrlPut(ctrl);
    nvmetReqComplete(req, st);
    return;
  }
  target.kernel.log.printk(target.rules.addingQueueLevel, `nvmet: adding queue ${qid} to ctrl ${ctrl.cntlid}.`);
  nvmetReqComplete(req, 0);
}

/**
 * Property Set: only the 4-byte CC is writable.
 * @param req the request.
 * @kernel nvmet_execute_prop_set
 */
export function nvmetExecutePropSet(req: NvmetReq): void {
  const c = req.cmd;
  let status: NvmeStatus = 0;
  if ((c.u8(NVMF_PROPERTY_OFFSETS.attrib) & 1) === 0 && c.u32(NVMF_PROPERTY_OFFSETS.offset) === NVME_REG_CC) {
    nvmetUpdateCc(req.sq.ctrl!, c.u32(NVMF_PROPERTY_OFFSETS.value));
  } else {
    status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
  }
  nvmetReqComplete(req, status);
}

/**
 * Property Get: CAP (8 bytes), VS, CC, CSTS (4 bytes).
 * @param req the request.
 * @kernel nvmet_execute_prop_get
 */
export function nvmetExecutePropGet(req: NvmetReq): void {
  const ctrl = req.sq.ctrl!;
  const c = req.cmd;
  const size8 = (c.u8(NVMF_PROPERTY_OFFSETS.attrib) & 1) !== 0;
  const off = c.u32(NVMF_PROPERTY_OFFSETS.offset);
  const props4: Readonly<Record<number, number>> = { [NVME_REG_VS]: ctrl.subsys.ver, [NVME_REG_CC]: ctrl.cc, [NVME_REG_CSTS]: ctrl.csts };
  let val: number | undefined;
  if (size8) val = off === NVME_REG_CAP ? ctrl.cap : undefined;
  else val = props4[off];
  req.cqe.result = val ?? 0;
  nvmetReqComplete(req, val === undefined ? NVME_SC_INVALID_FIELD | NVME_SC_DNR : 0);
}
