/**
 * Controllers: what a host's admin-queue Connect creates on a subsystem (controller ID, keep-
 * alive timer, properties CC/CSTS/CAP, queues, asynchronous events, and the P2P state of the
 * policy), found again by the I/O-queue Connects, and freed when its last queue is gone.
 *
 * Keep-alive runs on the kernel's virtual clock: without a Keep Alive command (6.6: without any
 * command) for `kato` seconds the controller fails (`CSTS.CFS`) and the transport deletes it.
 *
 * @kernel drivers/nvme/target/nvmet.h (struct nvmet_ctrl), core.c (nvmet_alloc_ctrl,
 *   nvmet_ctrl_find_get, nvmet_ctrl_put, nvmet_ctrl_free, nvmet_update_cc,
 *   nvmet_start_keep_alive_timer, nvmet_keep_alive_timer, nvmet_ctrl_fatal_error,
 *   nvmet_init_cap)
 */
import type { Device, TimerId } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { P2pdmaClientList } from '@p2pdma/p2pdma';
import type { NvmetAsyncEvent } from './async-event';
import { NVME_CNTLID_MAX, NVME_CNTLID_MIN, ipoIattrConnectData, NVME_CC_ENABLE, NVME_CC_SHN_SHIFT, NVME_CSTS_CFS, NVME_CSTS_RDY, NVME_CSTS_SHST_CMPLT } from './nvme-fabrics';
import { NVME_NVM_IOCQES, NVME_NVM_IOSQES, NVME_CC_AMS_SHIFT, NVME_CC_CSS_SHIFT, NVME_CC_IOCQES_SHIFT, NVME_CC_IOSQES_SHIFT, NVME_CC_MPS_SHIFT } from './nvme-fabrics';
import { NVME_AEN_CFG_NS_ATTR } from './nvme-identify';
import type { NvmeStatus } from './nvme-status';
import { NVME_SC_CONNECT_CTRL_BUSY, NVME_SC_CONNECT_INVALID_HOST, NVME_SC_CONNECT_INVALID_PARAM, NVME_SC_DNR } from './nvme-status';
import { NVMET_P2P_POLICY } from './p2pmem';
import type { NvmetPort } from './port';
import type { NvmetCq, NvmetReq, NvmetSq } from './req';
import type { NvmetSubsys } from './subsys';
import { nvmetFindGetSubsys, nvmetHostAllowed } from './subsys';
import type { NvmetTarget } from './target';
import type { NvmetFabricsOps } from './transport';

/** Queue entries the target supports (CAP.MQES + 1). @kernel NVMET_QUEUE_SIZE */
export const NVMET_QUEUE_SIZE = 1024;
/** Keep Alive Support granularity in 100 ms units (Identify `kas`). @kernel NVMET_KAS */
export const NVMET_KAS = 10;
const NS_PER_SEC = 1_000_000_000;

/** Counters of one controller's data buffers. */
export interface NvmetCtrlStats {
  /** I/O commands whose buffer came from p2pmem. */
  p2pBuffers: number;
  /** Data commands whose buffer came from System RAM. */
  systemBuffers: number;
  /** I/O commands that wanted p2pmem but got System RAM because the allocation failed. */
  p2pAllocFallbacks: number;
}

/**
 * A controller.
 * @kernel struct nvmet_ctrl
 */
export class NvmetCtrl {
  /** The target. */
  readonly target: NvmetTarget;
  /** The subsystem. */
  readonly subsys: NvmetSubsys;
  /** Controller ID. */
  readonly cntlid: number;
  /** The subsystem NQN the host connected to. */
  readonly subsysnqn: string;
  /** The host NQN. */
  readonly hostnqn: string;
  /** The port of the admin connect. @kernel ctrl->port */
  readonly port: NvmetPort | null;
  /** The transport. @kernel ctrl->ops */
  readonly ops: NvmetFabricsOps;
  /** Controller Capabilities. @kernel ctrl->cap */
  readonly cap: number;
  /** Controller Configuration. */
  cc = 0;
  /** Controller Status. */
  csts = 0;
  /** Keep-alive timeout in seconds. */
  kato = 0;
  /** The keep-alive timer, if armed. */
  kaTimer: TimerId | null = null;
  /** 6.6: a command arrived since the timer was armed. @kernel reset_tbkas */
  resetTbkas = false;
  /** Submission queues by QID. */
  readonly sqs: (NvmetSq | null)[];
  /** Completion queues by QID. */
  readonly cqs: (NvmetCq | null)[];
  /** References (the queues hold them). @kernel ctrl->ref (kref) */
  refs = 1;
  /** Parked Asynchronous Event Requests (completed newest first). */
  readonly asyncEventCmds: NvmetReq[] = [];
  /** Pending events (delivered oldest first). */
  readonly asyncEvents: NvmetAsyncEvent[] = [];
  /** @internal a zero-delay event work item is scheduled. */
  aenWorkPending = false;
  /** 6.6: NSIDs for the Changed Namespace List log page. */
  readonly changedNsList: number[] = [];
  /** 6.6: the list overflowed (it reads as `0xffffffff`). */
  changedNsOverflow = false;
  /** 6.6: enabled asynchronous event notices. @kernel aen_enabled */
  aenEnabled = NVME_AEN_CFG_NS_ATTR;
  /** 6.6: namespace notices are masked until the log page is read. @kernel aen_masked */
  aenMaskedNsAttr = false;
  /** Seed: the p2pmem device all I/O queues use, or `null`. @kernel ctrl->p2p_dev */
  p2pDev: PciDev | null = null;
  /** Seed: the devices that must reach `p2pDev`. @kernel ctrl->p2p_clients */
  readonly p2pClients: P2pdmaClientList;
  /** 6.6: the transport's DMA device, recorded at connect. @kernel ctrl->p2p_client */
  p2pClient: Device | null = null;
  /** 6.6: the P2P device per NSID. @kernel ctrl->p2p_ns_map */
  readonly p2pNsMap = new Map<number, PciDev>();
  /** The controller was freed. */
  freed = false;
  /** Buffer counters. */
  readonly stats: NvmetCtrlStats = { p2pBuffers: 0, systemBuffers: 0, p2pAllocFallbacks: 0 };
  /** @internal fatal error handling is scheduled. */
  fatalScheduled = false;

  /** @internal use `nvmetAllocCtrl`. */
  constructor(target: NvmetTarget, subsys: NvmetSubsys, cntlid: number, hostnqn: string, port: NvmetPort | null, ops: NvmetFabricsOps) {
    this.target = target;
    this.subsys = subsys;
    this.cntlid = cntlid;
    this.subsysnqn = subsys.subsysnqn;
    this.hostnqn = hostnqn;
    this.port = port;
    this.ops = ops;
    this.cap = 2 ** 37 + 15 * 2 ** 24 + (NVMET_QUEUE_SIZE - 1);
    this.sqs = new Array<NvmetSq | null>(subsys.maxQid + 1).fill(null);
    this.cqs = new Array<NvmetCq | null>(subsys.maxQid + 1).fill(null);
    this.p2pClients = new P2pdmaClientList(target.kernel);
  }
}

/** The outcome of `nvmetAllocCtrl`: a controller or an NVMe status (and the Connect result). */
export type NvmetAllocCtrlResult = { readonly ctrl: NvmetCtrl } | { readonly status: NvmeStatus; readonly result: number };

function kaArm(ctrl: NvmetCtrl): void {
  const clock = ctrl.target.kernel.clock;
  if (ctrl.kaTimer !== null) clock.cancel(ctrl.kaTimer);
  ctrl.kaTimer = clock.schedule(ctrl.kato * NS_PER_SEC, () => {
    ctrl.kaTimer = null;
    nvmetKeepAliveTimer(ctrl);
  });
}

/**
 * Arms the keep-alive timer (6.6: not with a timeout of 0).
 * @param ctrl the controller.
 * @kernel nvmet_start_keep_alive_timer
 */
export function nvmetStartKeepAliveTimer(ctrl: NvmetCtrl): void {
  if (ctrl.kato === 0 && ctrl.target.rules.katoZeroDisablesTimer) return;
  ctrl.target.kernel.log.prDebug(`nvmet: ctrl ${ctrl.cntlid} start keep-alive timer for ${ctrl.kato} secs`);
  kaArm(ctrl);
}

/**
 * Re-arms the keep-alive timer (a Keep Alive command arrived).
 * @param ctrl the controller.
 * @kernel mod_delayed_work(&ctrl->ka_work) in nvmet_execute_keep_alive
 */
export function nvmetKeepAliveUpdate(ctrl: NvmetCtrl): void {
  if (ctrl.kato === 0 && ctrl.target.rules.katoZeroDisablesTimer) return;
  ctrl.target.kernel.log.prDebug(`nvmet: ctrl ${ctrl.cntlid} update keep-alive timer for ${ctrl.kato} secs`);
  kaArm(ctrl);
}

/**
 * The keep-alive timer fired: 6.6 re-arms it once if commands arrived meanwhile; otherwise
 * `ctrl %d keep-alive timer (%d seconds) expired!` and the controller fails.
 * @param ctrl the controller.
 * @kernel nvmet_keep_alive_timer
 */
export function nvmetKeepAliveTimer(ctrl: NvmetCtrl): void {
  if (ctrl.freed) return;
  const log = ctrl.target.kernel.log;
  if (ctrl.resetTbkas) {
    ctrl.resetTbkas = false;
    log.prDebug(`nvmet: ctrl ${ctrl.cntlid} reschedule traffic based keep-alive timer`);
    kaArm(ctrl);
    return;
  }
  log.prErr(`nvmet: ctrl ${ctrl.cntlid} keep-alive timer (${ctrl.kato} seconds) expired!`);
  nvmetCtrlFatalError(ctrl);
}

/**
 * Marks a controller failed (`CSTS.CFS`) and schedules its deletion by the transport
 * (`ctrl %d fatal error occurred!`).
 * @param ctrl the controller.
 * @kernel nvmet_ctrl_fatal_error / nvmet_fatal_error_handler
 */
export function nvmetCtrlFatalError(ctrl: NvmetCtrl): void {
  if ((ctrl.csts & NVME_CSTS_CFS) !== 0 || ctrl.fatalScheduled) return;
  ctrl.csts |= NVME_CSTS_CFS;
  ctrl.fatalScheduled = true;
  ctrl.target.kernel.clock.schedule(0, () => {
    if (ctrl.freed) return;
    ctrl.target.kernel.log.prErr(`nvmet: ctrl ${ctrl.cntlid} fatal error occurred!`);
    ctrl.ops.deleteCtrl(ctrl);
  });
}

/**
 * Creates a controller for an admin-queue Connect: the subsystem must be linked to the port
 * and the host allowed; a controller ID is allocated, keep-alive armed, and the policy's P2P
 * setup runs (seed patch 10 `nvmet_setup_p2pmem`, 6.6 `nvmet_setup_p2p_ns_map`).
 * @param target the target.
 * @param subsysnqn the NQN from the Connect data.
 * @param hostnqn the host NQN from the Connect data.
 * @param req the Connect request (its port, transport and `p2pClient`).
 * @param kato keep-alive timeout in milliseconds.
 * @returns the controller (one reference, held by the admin queue), or the Connect status and
 *   result: `CONNECT_INVALID_PARAM|DNR` with the `subsysnqn` offset (`connect request for
 *   invalid subsystem %s!`), `CONNECT_INVALID_HOST|DNR` with the `hostnqn` offset (`connect by
 *   host %s for subsystem %s not allowed`), `CONNECT_CTRL_BUSY|DNR` when no controller ID is
 *   free.
 * @kernel nvmet_alloc_ctrl
 */
export function nvmetAllocCtrl(target: NvmetTarget, subsysnqn: string, hostnqn: string, req: NvmetReq, kato: number): NvmetAllocCtrlResult {
  const log = target.kernel.log;
  const subsys = nvmetFindGetSubsys(req.port, subsysnqn);
  if (subsys === null) {
    log.prWarn(`nvmet: connect request for invalid subsystem ${subsysnqn}!`);
    return { status: NVME_SC_CONNECT_INVALID_PARAM | NVME_SC_DNR, result: ipoIattrConnectData('subsysnqn') };
  }
  if (!nvmetHostAllowed(subsys, hostnqn)) {
    log.prInfo(`nvmet: connect by host ${hostnqn} for subsystem ${subsysnqn} not allowed`);
    return { status: NVME_SC_CONNECT_INVALID_HOST | NVME_SC_DNR, result: ipoIattrConnectData('hostnqn') };
  }
  const cntlid = target.cntlidIda.get(NVME_CNTLID_MIN, NVME_CNTLID_MAX);
  if (cntlid < 0) return { status: NVME_SC_CONNECT_CTRL_BUSY | NVME_SC_DNR, result: 0 };
  const ctrl = new NvmetCtrl(target, subsys, cntlid, hostnqn, req.port, req.ops);
  ctrl.kato = Math.ceil(kato / 1000);
  nvmetStartKeepAliveTimer(ctrl);
  NVMET_P2P_POLICY[target.policy].ctrlSetup(ctrl, req);
  subsys.ctrls.push(ctrl);
  return { ctrl };
}

/**
 * Finds the controller an I/O-queue Connect names and takes a reference.
 * @param target the target.
 * @param subsysnqn the NQN from the Connect data.
 * @param hostnqn the host NQN from the Connect data.
 * @param cntlid the controller ID from the Connect data.
 * @param req the Connect request.
 * @returns the controller, or the Connect status and result (`CONNECT_INVALID_PARAM|DNR` with
 *   the `subsysnqn` or `cntlid` offset; `hostnqn mismatch.` is warned for a controller of
 *   another host).
 * @kernel nvmet_ctrl_find_get
 */
export function nvmetCtrlFindGet(target: NvmetTarget, subsysnqn: string, hostnqn: string, cntlid: number, req: NvmetReq): NvmetAllocCtrlResult {
  const log = target.kernel.log;
  const subsys = nvmetFindGetSubsys(req.port, subsysnqn);
  if (subsys === null) {
    log.prWarn(`nvmet: connect request for invalid subsystem ${subsysnqn}!`);
    return { status: NVME_SC_CONNECT_INVALID_PARAM | NVME_SC_DNR, result: ipoIattrConnectData('subsysnqn') };
  }
  for (const ctrl of subsys.ctrls) {
    if (ctrl.cntlid !== cntlid) continue;
    if (ctrl.hostnqn !== hostnqn) {
      log.prWarn('nvmet: hostnqn mismatch.');
      continue;
    }
    if (ctrl.refs === 0 || ctrl.freed) continue;
    ctrl.refs++;
    return { ctrl };
  }
  log.prWarn(`nvmet: could not find controller ${cntlid} for subsys ${subsysnqn} / host ${hostnqn}`);
  return { status: NVME_SC_CONNECT_INVALID_PARAM | NVME_SC_DNR, result: ipoIattrConnectData('cntlid') };
}

/**
 * Drops a controller reference; the last one frees it: off the subsystem, keep-alive stopped,
 * the policy's P2P state released (seed `nvmet_release_p2pmem`, 6.6 `nvmet_release_p2p_ns_map`),
 * controller ID freed.
 * @param ctrl the controller.
 * @kernel nvmet_ctrl_put / nvmet_ctrl_free
 */
export function nvmetCtrlPut(ctrl: NvmetCtrl): void {
  if (ctrl.refs <= 0) return;
  if (--ctrl.refs > 0) return;
  const t = ctrl.target;
  const i = ctrl.subsys.ctrls.indexOf(ctrl);
  if (i >= 0) ctrl.subsys.ctrls.splice(i, 1);
  if (ctrl.kaTimer !== null) {
    t.kernel.clock.cancel(ctrl.kaTimer);
    ctrl.kaTimer = null;
  }
  NVMET_P2P_POLICY[t.policy].ctrlRelease(ctrl);
  t.cntlidIda.remove(ctrl.cntlid);
  ctrl.freed = true;
}

const ccField = (cc: number, shift: number, mask: number): number => (cc >>> shift) & mask;

/**
 * Starts the controller after CC.EN went to 1: entry sizes must be 64/16 bytes, memory page
 * size 4 KiB, arbitration and command set 0; otherwise `CSTS.CFS`, else `CSTS.RDY`.
 * @param ctrl the controller.
 * @kernel nvmet_start_ctrl
 */
function nvmetStartCtrl(ctrl: NvmetCtrl): void {
  const cc = ctrl.cc;
  if (
    ccField(cc, NVME_CC_IOSQES_SHIFT, 0xf) !== NVME_NVM_IOSQES ||
    ccField(cc, NVME_CC_IOCQES_SHIFT, 0xf) !== NVME_NVM_IOCQES ||
    ccField(cc, NVME_CC_MPS_SHIFT, 0xf) !== 0 ||
    ccField(cc, NVME_CC_AMS_SHIFT, 0x7) !== 0 ||
    ccField(cc, NVME_CC_CSS_SHIFT, 0x7) !== 0
  ) {
    ctrl.csts = NVME_CSTS_CFS;
    return;
  }
  ctrl.csts = NVME_CSTS_RDY;
}

/**
 * A Property Set of CC: enable, disable, shutdown.
 * @param ctrl the controller.
 * @param cc the new value.
 * @kernel nvmet_update_cc
 */
export function nvmetUpdateCc(ctrl: NvmetCtrl, cc: number): void {
  const old = ctrl.cc;
  ctrl.cc = cc >>> 0;
  const en = (v: number) => (v & NVME_CC_ENABLE) !== 0;
  const shn = (v: number) => ccField(v, NVME_CC_SHN_SHIFT, 0x3) !== 0;
  if (en(cc) && !en(old)) nvmetStartCtrl(ctrl);
  if (!en(cc) && en(old)) {
    ctrl.csts &= ~NVME_CSTS_RDY;
    ctrl.cc = 0;
  }
  if (shn(cc) && !shn(old)) {
    ctrl.csts &= ~NVME_CSTS_RDY;
    ctrl.cc = 0;
    ctrl.csts |= NVME_CSTS_SHST_CMPLT;
  }
  if (!shn(cc) && shn(old)) ctrl.csts &= ~NVME_CSTS_SHST_CMPLT;
}
