/**
 * Requests and queues of the target core: a request is one command capsule on a submission
 * queue, parsed (`nvmetReqInit`), given its data buffer by the transport, executed, and
 * completed back through the transport (`nvmetReqComplete` → `queueResponse`).
 *
 * Data buffers: admin and fabrics commands always use System RAM; I/O commands use the P2P
 * device the policy picks for the request (`nvmetReqFindP2pDev`) and fall back to System RAM
 * for that one command when the p2pmem allocation fails (`nvmetReqAllocSgls`).
 *
 * @kernel drivers/nvme/target/core.c (nvmet_req_init, nvmet_req_complete, nvmet_req_execute,
 *   nvmet_req_uninit, nvmet_sq_init, nvmet_sq_destroy, nvmet_sq_setup, nvmet_cq_setup,
 *   nvmet_copy_to_sgl, nvmet_copy_from_sgl, nvmet_req_alloc_sgls, nvmet_req_free_sgls)
 */
import type { Device, KResult, Scatterlist } from '@p2pdma/kernel';
import { Completion, err, PercpuRef, sgCopyFromBuffer, sgCopyToBuffer } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { pciP2pmemAllocSgl, pciP2pmemFreeSgl } from '@p2pdma/p2pdma';
import { nvmetParseAdminCmd } from './admin-cmd';
import { nvmetAsyncEventsFree } from './async-event';
import type { NvmetCtrl } from './ctrl';
import { nvmetCtrlPut } from './ctrl';
import { nvmetParseConnectCmd, nvmetParseFabricsCmd } from './fabrics-cmd';
import { sglAlloc, sglFree } from './internal/sgl';
import { nvmetParseIoCmd } from './io-cmd-bdev';
import type { NvmeCommand } from './nvme-command';
import { NVME_CMD_FUSE_FIRST, NVME_CMD_FUSE_SECOND, NVME_CMD_SGL_ALL, NvmeCompletion, nvme_fabrics_command } from './nvme-command';
import type { NvmeStatus } from './nvme-status';
import { NVME_SC_DNR, NVME_SC_INVALID_FIELD, NVME_SC_SGL_INVALID_DATA } from './nvme-status';
import type { NvmetNs } from './ns';
import { nvmetPutNamespace } from './ns';
import { nvmetReqFindP2pDev } from './p2pmem';
import type { NvmetPort } from './port';
import type { NvmetFabricsOps } from './transport';

/**
 * A completion queue.
 * @kernel struct nvmet_cq
 */
export class NvmetCq {
  /** Queue ID. */
  qid = 0;
  /** Size (as the Connect's `sqsize`). */
  size = 0;
}

/**
 * A submission queue. Its reference counts the requests in flight; destroying it waits for them.
 * @kernel struct nvmet_sq
 */
export class NvmetSq {
  /** The controller, once a Connect installed the queue. */
  ctrl: NvmetCtrl | null = null;
  /** Queue ID (0: admin). */
  qid = 0;
  /** Size. */
  size = 0;
  /** Head pointer reported in completions (6.6). */
  sqhd = 0;
  /** In-flight requests (`percpu_ref`). */
  readonly ref = new PercpuRef('nvmet_sq');
  /** Completes when the queue is destroyed and its requests are done. @kernel sq->free_done */
  readonly freeDone = new Completion();
}

/**
 * A request.
 * @kernel struct nvmet_req
 */
export class NvmetReq {
  /** The command (the capsule's SQE). */
  readonly cmd: NvmeCommand;
  /** The completion being built. @kernel req->rsp / req->cqe */
  readonly cqe = new NvmeCompletion();
  /** Submission queue (set by `nvmetReqInit`). */
  sq!: NvmetSq;
  /** Completion queue (set by `nvmetReqInit`). */
  cq!: NvmetCq;
  /** The transport (set by `nvmetReqInit`). */
  ops!: NvmetFabricsOps;
  /** The port the capsule arrived on (set by the transport). */
  port: NvmetPort | null = null;
  /** The namespace of an I/O command (holds a reference until completion). */
  ns: NvmetNs | null = null;
  /** Data buffer. */
  sg: Scatterlist | null = null;
  /** Entries in `sg`. */
  sgCnt = 0;
  /** Bytes the command's data pointer describes (set by the transport). @kernel transfer_len */
  transferLen = 0;
  /** Bytes the command needs (set by parsing). @kernel data_len */
  dataLen = 0;
  /** What to run once the data is in place (set by parsing). */
  execute: ((req: NvmetReq) => void) | null = null;
  /** Seed patch 10: the device that DMAs the data (the RDMA device's `struct device`). @kernel req->p2p_client */
  p2pClient: Device | null = null;
  /** The P2P device `sg` came from, or `null` for System RAM. @kernel req->p2p_dev (rsp->p2p_dev in the seed) */
  p2pDev: PciDev | null = null;
  /** Transport-private state (the RDMA response). */
  transportData: unknown = null;

  /** @param cmd the command (owned by the request). */
  constructor(cmd: NvmeCommand) {
    this.cmd = cmd;
  }
}

/**
 * Initialises a submission queue's reference.
 * @param sq the queue.
 * @returns `0`.
 * @kernel nvmet_sq_init
 */
export function nvmetSqInit(sq: NvmetSq): KResult {
  return sq.ref.init(() => sq.freeDone.complete());
}

/**
 * Destroys a submission queue: on the admin queue, outstanding Asynchronous Event Requests
 * complete with `INTERNAL|DNR`; new requests are refused; once the last request in flight is
 * done, the controller reference the queue held is dropped and `sq.freeDone` completes.
 * @param sq the queue.
 * @kernel nvmet_sq_destroy
 */
export function nvmetSqDestroy(sq: NvmetSq): void {
  const ctrl = sq.ctrl;
  if (ctrl !== null && ctrl.sqs[0] === sq) nvmetAsyncEventsFree(ctrl);
  sq.freeDone.onDone(() => {
    if (sq.ctrl !== null) {
      const c = sq.ctrl;
      if (c.sqs[sq.qid] === sq) c.sqs[sq.qid] = null;
      sq.ctrl = null;
      nvmetCtrlPut(c);
    }
  });
  sq.ref.kill();
}

/**
 * Binds a completion queue to its controller slot.
 * @param ctrl the controller.
 * @param cq the queue.
 * @param qid queue ID.
 * @param size queue size.
 * @kernel nvmet_cq_setup
 */
export function nvmetCqSetup(ctrl: NvmetCtrl, cq: NvmetCq, qid: number, size: number): void {
  cq.qid = qid;
  cq.size = size;
  ctrl.cqs[qid] = cq;
}

/**
 * Binds a submission queue to its controller slot.
 * @param ctrl the controller.
 * @param sq the queue.
 * @param qid queue ID.
 * @param size queue size.
 * @kernel nvmet_sq_setup
 */
export function nvmetSqSetup(ctrl: NvmetCtrl, sq: NvmetSq, qid: number, size: number): void {
  sq.sqhd = 0;
  sq.qid = qid;
  sq.size = size;
  ctrl.sqs[qid] = sq;
}

function completeInner(req: NvmetReq, status: NvmeStatus): void {
  const sq = req.sq;
  const ctrl = sq.ctrl;
  if (status !== 0) req.cqe.status = status;
  const track = ctrl?.target.rules.sqHeadTracking ?? false;
  if (track && sq.size > 0) sq.sqhd = (sq.sqhd + 1) % sq.size;
  req.cqe.sqHead = track ? sq.sqhd : 0;
  req.cqe.sqId = sq.qid;
  req.cqe.commandId = req.cmd.commandId;
  if (req.ns !== null) nvmetPutNamespace(req.ns);
  req.ops.queueResponse(req);
}

/**
 * Parses a received command. On failure the request is completed with the parse status at once
 * (the transport's `queueResponse` runs) and `false` is returned.
 * @param req the request (its `port`, `p2pClient` and transport data set by the transport).
 * @param cq its completion queue.
 * @param sq its submission queue.
 * @param ops the transport.
 * @returns whether the request was accepted (it then holds a reference on `sq`).
 * @kernel nvmet_req_init
 */
export function nvmetReqInit(req: NvmetReq, cq: NvmetCq, sq: NvmetSq, ops: NvmetFabricsOps): boolean {
  req.cq = cq;
  req.sq = sq;
  req.ops = ops;
  req.sg = null;
  req.sgCnt = 0;
  req.transferLen = 0;
  req.dataLen = 0;
  req.cqe.status = 0;
  req.cqe.sqHead = 0;
  req.cqe.result = 0;
  req.ns = null;
  req.p2pDev = null;
  req.execute = null;
  const flags = req.cmd.flags;
  const rules = req.port?.target.rules ?? sq.ctrl?.target.rules ?? null;
  let status: NvmeStatus;
  if ((flags & (NVME_CMD_FUSE_FIRST | NVME_CMD_FUSE_SECOND)) !== 0) {
    status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
  } else if (rules !== null && !rules.sglPsdt.includes(flags & NVME_CMD_SGL_ALL)) {
    status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
  } else if (sq.ctrl === null) {
    status = nvmetParseConnectCmd(req);
  } else if (sq.qid !== 0) {
    status = nvmetParseIoCmd(req);
  } else if (req.cmd.opcode === nvme_fabrics_command) {
    status = nvmetParseFabricsCmd(req);
  } else {
    status = nvmetParseAdminCmd(req);
  }
  if (status === 0 && !sq.ref.tryGetLive()) status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
  if (status !== 0) {
    completeInner(req, status);
    return false;
  }
  if (sq.ctrl?.target.rules.trafficBasedKeepAlive) sq.ctrl.resetTbkas = true;
  return true;
}

/**
 * Gives back what `nvmetReqInit` took, for a request the transport drops before executing it.
 * @param req the request.
 * @kernel nvmet_req_uninit
 */
export function nvmetReqUninit(req: NvmetReq): void {
  req.sq.ref.put();
  if (req.ns !== null) {
    nvmetPutNamespace(req.ns);
    req.ns = null;
  }
}

/**
 * Completes a request: fills the completion (status, SQ ID and head, command ID), drops the
 * namespace reference and hands it to the transport; then drops the queue reference.
 * @param req the request.
 * @param status the NVMe status (0: success).
 * @kernel nvmet_req_complete
 */
export function nvmetReqComplete(req: NvmetReq, status: NvmeStatus): void {
  const sq = req.sq;
  completeInner(req, status);
  sq.ref.put();
}

/**
 * Runs a request once its data is in place: a data length that differs from what the command
 * needs completes it with `SGL_INVALID_DATA|DNR`.
 * @param req the request.
 * @kernel nvmet_req_execute
 */
export function nvmetReqExecute(req: NvmetReq): void {
  if (req.dataLen !== req.transferLen || req.execute === null) {
    nvmetReqComplete(req, NVME_SC_SGL_INVALID_DATA | NVME_SC_DNR);
    return;
  }
  req.execute(req);
}

/**
 * Copies bytes into the request's data buffer (the response data of admin commands).
 * @param req the request.
 * @param off offset in the buffer.
 * @param buf the bytes.
 * @returns `0`, or `SGL_INVALID_DATA|DNR` when the buffer is too short.
 * @kernel nvmet_copy_to_sgl
 */
export function nvmetCopyToSgl(req: NvmetReq, off: number, buf: Uint8Array): NvmeStatus {
  if (buf.length === 0) return 0;
  if (req.sg === null || sgCopyFromBuffer(req.sg, req.sgCnt, buf, off) !== buf.length) return NVME_SC_SGL_INVALID_DATA | NVME_SC_DNR;
  return 0;
}

/**
 * Copies bytes out of the request's data buffer (the Connect data).
 * @param req the request.
 * @param off offset in the buffer.
 * @param len bytes.
 * @returns the bytes, or `SGL_INVALID_DATA|DNR` when the buffer is too short.
 * @kernel nvmet_copy_from_sgl
 */
export function nvmetCopyFromSgl(req: NvmetReq, off: number, len: number): Uint8Array | NvmeStatus {
  const out = new Uint8Array(len);
  if (len === 0) return out;
  if (req.sg === null || sgCopyToBuffer(req.sg, req.sgCnt, out, off) !== len) return NVME_SC_SGL_INVALID_DATA | NVME_SC_DNR;
  return out;
}

/**
 * Fault site asked once per `nvmetReqAllocSgls`: when it fires the request gets no buffer at
 * all (`-ENOMEM`, nothing allocated), as when both p2pmem and System RAM are exhausted; the
 * transport completes the command with `NVME_SC_INTERNAL`.
 * @kernel nvmet_req_alloc_sgls failing
 */
export const FAULT_NVMET_REQ_ALLOC_SGLS = 'nvmet_req_alloc_sgls';

/**
 * Gives a request its data buffer of `len` bytes: from the P2P device the policy picks for it
 * (I/O queues only), else (or when that allocation fails: the per-command fallback, silent as
 * in the kernel) from System RAM.
 * @param req the request (parsed).
 * @param len bytes (> 0).
 * @returns `0`, or `-ENOMEM` when System RAM is exhausted too or `FAULT_NVMET_REQ_ALLOC_SGLS` fires.
 * @kernel nvmet_req_alloc_sgls (6.6); nvmet_rdma_map_sgl_keyed's allocation (seed patch 10)
 */
export function nvmetReqAllocSgls(req: NvmetReq, len: number): KResult {
  const kern = req.sq.ctrl?.target.kernel ?? req.port?.target.kernel;
  if (kern !== undefined && kern.faults.shouldFail(FAULT_NVMET_REQ_ALLOC_SGLS) !== 0) return err('ENOMEM');
  const p2pDev = nvmetReqFindP2pDev(req);
  req.p2pDev = null;
  if (p2pDev !== null) {
    const r = pciP2pmemAllocSgl(p2pDev, len);
    if (typeof r !== 'number') {
      req.sg = r.sgl;
      req.sgCnt = r.nents;
      req.p2pDev = p2pDev;
      if (req.sq.ctrl !== null) req.sq.ctrl.stats.p2pBuffers++;
      return 0;
    }
    const ctrl = req.sq.ctrl;
    if (ctrl !== null) ctrl.stats.p2pAllocFallbacks++;
  }
  const kernel = req.sq.ctrl?.target.kernel ?? req.port?.target.kernel;
  const s = kernel === undefined ? null : sglAlloc(kernel, len);
  if (s === null) return err('ENOMEM');
  req.sg = s.sgl;
  req.sgCnt = s.nents;
  if (req.sq.ctrl !== null) req.sq.ctrl.stats.systemBuffers++;
  return 0;
}

/**
 * Frees a request's data buffer from `nvmetReqAllocSgls` (p2pmem back to its provider, pages
 * back to the page allocator).
 * @param req the request.
 * @kernel nvmet_req_free_sgls
 */
export function nvmetReqFreeSgls(req: NvmetReq): void {
  const sg = req.sg;
  if (sg === null) return;
  if (req.p2pDev !== null) {
    pciP2pmemFreeSgl(req.p2pDev, sg, req.sgCnt);
    req.p2pDev = null;
  } else {
    const kernel = req.sq.ctrl?.target.kernel ?? req.port?.target.kernel;
    if (kernel !== undefined) sglFree(kernel, sg, req.sgCnt);
  }
  req.sg = null;
  req.sgCnt = 0;
}
