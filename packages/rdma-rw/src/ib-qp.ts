/**
 * Queue pairs and work requests: creating a reliable-connected QP with its send queue depth and
 * SGE limits, moving it through its states, and posting send and receive work requests.
 *
 * Posting validates each work request of the chain as the mlx5 driver does (too many SGEs:
 * `-EINVAL`; send queue full: `-ENOMEM`; an opcode the model does not implement: `-EINVAL`);
 * the ones before the bad one are posted (their doorbell is rung), the bad one is reported
 * through `badWr`. The hardware copies each WQE when it is posted: changing a work request
 * afterwards changes nothing. Execution then happens on the kernel's virtual clock (see
 * `internal/engine.ts` and the README): run the clock to get completions.
 *
 * Posting on a QP in RESET, INIT or RTR is refused with `-EINVAL` (rxe's rule; mlx5 would queue
 * the WQEs until RTS); posting on a QP in the error state is accepted and every WQE completes
 * with `IB_WC_WR_FLUSH_ERR`, as hardware does.
 *
 * @kernel include/rdma/ib_verbs.h (struct ib_qp, ib_send_wr, ib_rdma_wr, ib_recv_wr, ib_sge,
 *   enum ib_qp_state, enum ib_wr_opcode), drivers/infiniband/core/verbs.c (ib_create_qp,
 *   ib_modify_qp, ib_destroy_qp), drivers/infiniband/hw/mlx5/qp.c (mlx5_ib_post_send/recv)
 */
import type { KResult, NegErrno, TimerId } from '@p2pdma/kernel';
import { err, KernelBug } from '@p2pdma/kernel';
import type { IbCq } from './ib-cq';
import type { IbPd } from './ib-pd';
import type { IbCompletionErrorSpec } from './ib-qp-fault';
import { IbQpCompletionFaults } from './ib-qp-fault';
import type { IbCqe } from './ib-wc';
import { qpToError, recvPosted } from './internal/engine';
import { Fifo } from './internal/fifo';
import type { RemoteQp } from './remote-host';

/** Reliable connected QP, the only type the model implements. @kernel IB_QPT_RC */
export const IB_QPT_RC = 2;
/** Unreliable datagram QP (not implemented: `ibCreateQp` refuses it). @kernel IB_QPT_UD */
export const IB_QPT_UD = 4;
/** A QP type. @kernel enum ib_qp_type */
export type IbQpType = typeof IB_QPT_RC | typeof IB_QPT_UD;

/** Reset: just created, or reset; nothing can be posted. @kernel IB_QPS_RESET */
export const IB_QPS_RESET = 0;
/** Initialized: receives may be posted, nothing is processed. @kernel IB_QPS_INIT */
export const IB_QPS_INIT = 1;
/** Ready to receive. @kernel IB_QPS_RTR */
export const IB_QPS_RTR = 2;
/** Ready to send. @kernel IB_QPS_RTS */
export const IB_QPS_RTS = 3;
/** Error: outstanding and new work requests are flushed. @kernel IB_QPS_ERR */
export const IB_QPS_ERR = 6;
/** A QP state (the model has no SQD/SQE). @kernel enum ib_qp_state */
export type IbQpState = typeof IB_QPS_RESET | typeof IB_QPS_INIT | typeof IB_QPS_RTR | typeof IB_QPS_RTS | typeof IB_QPS_ERR;

/** RDMA WRITE: local SGEs → remote memory. @kernel IB_WR_RDMA_WRITE */
export const IB_WR_RDMA_WRITE = 0;
/** SEND: local SGEs → the peer's next receive buffer. @kernel IB_WR_SEND */
export const IB_WR_SEND = 2;
/** RDMA READ: remote memory → local SGEs. @kernel IB_WR_RDMA_READ */
export const IB_WR_RDMA_READ = 4;
/** A work request opcode the model implements. @kernel enum ib_wr_opcode */
export type IbWrOpcode = typeof IB_WR_RDMA_WRITE | typeof IB_WR_SEND | typeof IB_WR_RDMA_READ;

/** `sendFlags` bit: generate a completion on success. @kernel IB_SEND_SIGNALED */
export const IB_SEND_SIGNALED = 1 << 1;
/** Every send work request completes (`sqSigType`). @kernel IB_SIGNAL_ALL_WR */
export const IB_SIGNAL_ALL_WR = 0;
/** Only work requests with `IB_SEND_SIGNALED` complete on success. @kernel IB_SIGNAL_REQ_WR */
export const IB_SIGNAL_REQ_WR = 1;

/**
 * One scatter/gather element: a DMA address range of the QP's device and the lkey covering it.
 * @kernel struct ib_sge
 */
export interface IbSge {
  /** DMA address (what the device's DMA mapping returned). */
  addr: number;
  /** Bytes. */
  length: number;
  /** Local key; kernel ULPs use the PD's `localDmaLkey`. */
  lkey: number;
}

/**
 * A send work request (`ib_send_wr`, with `ib_rdma_wr`'s `remoteAddr`/`rkey` for RDMA opcodes).
 * @kernel struct ib_send_wr, struct ib_rdma_wr
 */
export interface IbSendWr {
  /** The next work request of the chain, or `null`. */
  next: IbSendWr | null;
  /** Completion entry (`null`: none; completions then are dropped). */
  wrCqe: IbCqe | null;
  /** The SGEs; the first `numSge` are used. */
  sgList: readonly IbSge[];
  /** SGEs used. */
  numSge: number;
  /** What to do. */
  opcode: IbWrOpcode;
  /** `IB_SEND_*` flags. */
  sendFlags: number;
  /** Remote address (RDMA opcodes). @kernel ib_rdma_wr.remote_addr */
  remoteAddr?: number;
  /** Remote key (RDMA opcodes). @kernel ib_rdma_wr.rkey */
  rkey?: number;
}

/**
 * A receive work request.
 * @kernel struct ib_recv_wr
 */
export interface IbRecvWr {
  /** The next work request of the chain, or `null`. */
  next: IbRecvWr | null;
  /** Completion entry. */
  wrCqe: IbCqe | null;
  /** The SGEs; the first `numSge` are used. */
  sgList: readonly IbSge[];
  /** SGEs used. */
  numSge: number;
}

/**
 * Queue sizes asked for at creation.
 * @kernel struct ib_qp_cap
 */
export interface IbQpCap {
  /** Send queue depth. */
  maxSendWr: number;
  /** Receive queue depth. */
  maxRecvWr: number;
  /** SGEs per send work request. */
  maxSendSge: number;
  /** SGEs per receive work request. */
  maxRecvSge: number;
  /** RDMA read/write contexts the ULP will use: the send queue grows by one WR each (`rdma_rw_init_qp`). */
  maxRdmaCtxs?: number;
}

/**
 * QP creation attributes.
 * @kernel struct ib_qp_init_attr
 */
export interface IbQpInitAttr {
  /** Send completion queue. */
  sendCq: IbCq;
  /** Receive completion queue. */
  recvCq: IbCq;
  /** Queue sizes. */
  cap: IbQpCap;
  /** `IB_SIGNAL_ALL_WR` or `IB_SIGNAL_REQ_WR`. */
  sqSigType: typeof IB_SIGNAL_ALL_WR | typeof IB_SIGNAL_REQ_WR;
  /** QP type (`IB_QPT_RC`). */
  qpType: IbQpType;
  /** Port the QP will use (1-based). */
  portNum: number;
}

/** @internal A send WQE as the hardware copied it at post time. */
export interface SendWqe {
  readonly wrCqe: IbCqe | null;
  readonly opcode: IbWrOpcode;
  readonly sges: readonly IbSge[];
  readonly remoteAddr: number;
  readonly rkey: number;
  readonly signaled: boolean;
  readonly length: number;
}

/** @internal A receive WQE as copied at post time. */
export interface RecvWqe {
  readonly wrCqe: IbCqe | null;
  readonly sges: readonly IbSge[];
  readonly length: number;
}

/**
 * A queue pair.
 * @kernel struct ib_qp
 */
export class IbQp {
  /** QP number. @kernel ib_qp.qp_num */
  readonly qpNum: number;
  /** Current state. */
  state: IbQpState = IB_QPS_RESET;
  /** The connected peer (set by `rdmaConnect`), or `null`. */
  peer: RemoteQp | null = null;
  /** SGEs an RDMA WRITE may use. @kernel ib_qp.max_write_sge */
  readonly maxWriteSge: number;
  /** SGEs an RDMA READ may use (`min(maxSendSge, attrs.maxSgeRd)`). @kernel ib_qp.max_read_sge */
  readonly maxReadSge: number;
  /** The effective queue sizes (send depth after `rdma_rw_init_qp`). */
  readonly cap: Readonly<Required<IbQpCap>>;
  /** @internal WQEs posted and not yet fetched by the hardware; owned by the engine. */
  readonly sq = new Fifo<SendWqe>();
  /** @internal send WQEs posted since creation (the producer counter). */
  sqProducer = 0;
  /** @internal send WQEs the hardware fetched. */
  sqFetched = 0;
  /** @internal send WQEs posted and not completed (queue occupancy). */
  sqOutstanding = 0;
  /** @internal posted receive WQEs, oldest first. */
  readonly rq = new Fifo<RecvWqe>();
  /** @internal incoming SENDs waiting for a receive WQE (RNR). */
  readonly rnrQueue = new Fifo<Uint8Array>();
  /** @internal time the send engine is busy until. */
  busyUntil = 0;
  /** @internal scheduled transport events. */
  readonly timers = new Set<TimerId>();
  /** Injected completion errors (`injectCompletionError`), or `null` when none was ever armed. */
  completionFaults: IbQpCompletionFaults | null = null;
  private destroyed = false;

  /**
   * @param pd the protection domain.
   * @param init the creation attributes.
   * @param qpNum the number the device assigned.
   * @param cap the effective sizes.
   * @internal use `ibCreateQp`.
   */
  constructor(
    readonly pd: IbPd,
    readonly init: Readonly<IbQpInitAttr>,
    qpNum: number,
    cap: Required<IbQpCap>,
  ) {
    this.qpNum = qpNum;
    this.cap = cap;
    this.maxWriteSge = cap.maxSendSge;
    this.maxReadSge = Math.min(cap.maxSendSge, pd.device.attrs.maxSgeRd);
  }

  /** The device. @kernel ib_qp.device */
  get device(): IbPd['device'] {
    return this.pd.device;
  }

  /** The send CQ. */
  get sendCq(): IbCq {
    return this.init.sendCq;
  }

  /** The receive CQ. */
  get recvCq(): IbCq {
    return this.init.recvCq;
  }

  /** The port the QP uses. */
  get portNum(): number {
    return this.init.portNum;
  }

  /** Whether `ibDestroyQp` ran. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /**
   * Makes a chosen work request complete with an `IB_WC_*` error instead of executing (nothing
   * moves; the QP goes to the error state, as RC hardware does on a completion error).
   * @param spec the status, the opcode (or `'recv'`), `nth` and `times` (see ib-qp-fault.ts).
   * @throws RangeError naming the field for a bad spec; nothing is armed.
   */
  injectCompletionError(spec: IbCompletionErrorSpec): void {
    const f = this.completionFaults ?? new IbQpCompletionFaults();
    f.arm(spec);
    this.completionFaults = f;
  }

  /** Disarms every pending injected completion error (the count of fired ones stays). */
  clearCompletionErrors(): void {
    this.completionFaults?.clear();
  }

  /** @internal used by `ibDestroyQp`. */
  markDestroyed(): void {
    this.destroyed = true;
  }
}

/**
 * Creates a reliable-connected QP in the RESET state.
 * @param pd the protection domain.
 * @param init the attributes; `cap.maxRdmaCtxs` grows the send queue by one WR per context and
 *   the result is clamped to `attrs.maxQpWr`, as `rdma_rw_init_qp` does.
 * @returns the QP (the caller owns it until `ibDestroyQp`), or `-EINVAL` for a QP type other
 *   than RC, CQs of another device, a port the device does not have, queue sizes below 1 or
 *   above `attrs.maxQpWr`, SGE counts below 1 or above `attrs.maxSge`; `-ENODEV` for an
 *   unregistered device; `-ENOMEM` when the device has `attrs.maxQp` QPs already.
 * @kernel ib_create_qp (+ rdma_rw_init_qp)
 */
export function ibCreateQp(pd: IbPd, init: IbQpInitAttr): IbQp | NegErrno {
  const dev = pd.device;
  if (!dev.registered || pd.deallocated) return err('ENODEV');
  const a = dev.attrs;
  const c = init.cap;
  const okCount = (n: number, max: number) => Number.isSafeInteger(n) && n >= 1 && n <= max;
  if (init.qpType !== IB_QPT_RC) return err('EINVAL');
  if (init.sendCq.device !== dev || init.recvCq.device !== dev || init.sendCq.freed || init.recvCq.freed) return err('EINVAL');
  if (dev.port(init.portNum) === null) return err('EINVAL');
  if (!okCount(c.maxSendWr, a.maxQpWr) || !okCount(c.maxRecvWr, a.maxQpWr)) return err('EINVAL');
  if (!okCount(c.maxSendSge, a.maxSge) || !okCount(c.maxRecvSge, a.maxSge)) return err('EINVAL');
  const ctxs = c.maxRdmaCtxs ?? 0;
  if (!Number.isSafeInteger(ctxs) || ctxs < 0) return err('EINVAL');
  if (dev.qps.size >= a.maxQp) return err('ENOMEM');
  const cap: Required<IbQpCap> = { ...c, maxRdmaCtxs: ctxs, maxSendWr: Math.min(c.maxSendWr + ctxs, a.maxQpWr) };
  const qp = new IbQp(pd, { ...init, cap: { ...c } }, dev.nextQpn++, cap);
  dev.qps.set(qp.qpNum, qp);
  pd.usecnt++;
  init.sendCq.usecnt++;
  if (init.recvCq !== init.sendCq) init.recvCq.usecnt++;
  return qp;
}

/**
 * Destroys a QP. Work requests still outstanding are dropped without completions (the kernel
 * expects ULPs to drain first).
 * @param qp the QP.
 * @returns `0`.
 * @throws KernelBug when the QP was destroyed already.
 * @kernel ib_destroy_qp
 */
export function ibDestroyQp(qp: IbQp): KResult {
  if (qp.isDestroyed) throw new KernelBug(`ib_destroy_qp: QP 0x${qp.qpNum.toString(16)} destroyed twice`);
  const k = qp.device.kernel;
  for (const t of qp.timers) k.clock.cancel(t);
  qp.timers.clear();
  qp.markDestroyed();
  qp.device.qps.delete(qp.qpNum);
  if (qp.peer !== null) qp.peer.disconnect();
  qp.pd.usecnt--;
  qp.sendCq.usecnt--;
  if (qp.recvCq !== qp.sendCq) qp.recvCq.usecnt--;
  return 0;
}

/** Allowed transitions: from → states it may move to (any state may move to RESET or ERR). */
const QP_TRANSITIONS: Readonly<Record<IbQpState, readonly IbQpState[]>> = {
  [IB_QPS_RESET]: [IB_QPS_INIT],
  [IB_QPS_INIT]: [IB_QPS_INIT, IB_QPS_RTR],
  [IB_QPS_RTR]: [IB_QPS_RTS],
  [IB_QPS_RTS]: [IB_QPS_RTS],
  [IB_QPS_ERR]: [],
};

/**
 * Moves a QP to another state. Moving to RTR or RTS needs a connected peer (`rdmaConnect`
 * does the whole RESET → RTS walk). Moving to ERR flushes the receive queue at once and the send
 * queue as its work requests come up; moving to RESET discards everything without completions.
 * @param qp the QP.
 * @param state the new state.
 * @returns `0`, or `-EINVAL` for a transition the IB state machine does not allow, or RTR/RTS
 *   without a peer.
 * @kernel ib_modify_qp (IB_QP_STATE)
 */
export function ibModifyQp(qp: IbQp, state: IbQpState): KResult {
  if (qp.isDestroyed) return err('EINVAL');
  if (state === IB_QPS_ERR) {
    if (qp.state !== IB_QPS_ERR) qpToError(qp);
    return 0;
  }
  if (state === IB_QPS_RESET) {
    const k = qp.device.kernel;
    for (const t of qp.timers) k.clock.cancel(t);
    qp.timers.clear();
    qp.sq.clear();
    qp.rq.clear();
    qp.rnrQueue.clear();
    qp.sqFetched = qp.sqProducer;
    qp.sqOutstanding = 0;
    qp.state = IB_QPS_RESET;
    return 0;
  }
  if (!QP_TRANSITIONS[qp.state].includes(state)) return err('EINVAL');
  if ((state === IB_QPS_RTR || state === IB_QPS_RTS) && qp.peer === null) return err('EINVAL');
  qp.state = state;
  if (state === IB_QPS_RTR || state === IB_QPS_RTS) recvPosted(qp);
  return 0;
}

/** Work request opcodes the model executes, with whether they need `remoteAddr`/`rkey`. */
const WR_OPCODES: ReadonlyMap<number, { readonly rdma: boolean }> = new Map([
  [IB_WR_RDMA_WRITE, { rdma: true }],
  [IB_WR_RDMA_READ, { rdma: true }],
  [IB_WR_SEND, { rdma: false }],
]);

/** The SGEs of a work request, validated and copied; `verb` and the QP name a bad one (the name is only formatted then). */
function copySges(list: readonly IbSge[], n: number, verb: string, qp: IbQp): IbSge[] {
  if (!Number.isSafeInteger(n) || n < 0 || n > list.length) {
    throw new KernelBug(`${verb}(QP 0x${qp.qpNum.toString(16)}): numSge ${n} but the SGE list has ${list.length} entries`);
  }
  const out: IbSge[] = [];
  for (let i = 0; i < n; i++) {
    const s = list[i]!;
    if (!Number.isSafeInteger(s.addr) || s.addr < 0 || !Number.isSafeInteger(s.length) || s.length < 0) {
      throw new KernelBug(`${verb}(QP 0x${qp.qpNum.toString(16)}): SGE ${i} has address ${s.addr} and length ${s.length}`);
    }
    out.push({ addr: s.addr, length: s.length, lkey: s.lkey });
  }
  return out;
}

/** Where `ibPostSend`/`ibPostRecv` report the first work request they did not post. */
export interface BadWrRef<T> {
  /** The first work request not posted, or `null` when all were. */
  wr: T | null;
}

/**
 * Posts a chain of send work requests and rings the doorbell for the ones accepted.
 * @param qp the QP.
 * @param wr the first work request.
 * @param badWr optional: receives the first work request not posted.
 * @returns `0` when all were posted; `-EINVAL` (QP not yet RTS, destroyed, more SGEs than
 *   `cap.maxSendSge`, an opcode the model does not implement, an RDMA opcode without
 *   `remoteAddr`/`rkey`), `-ENOMEM` (send queue full: posted and not completed reach
 *   `cap.maxSendWr`); the work requests before `badWr` are posted.
 * @throws KernelBug for an SGE list shorter than `numSge` or an SGE with a bad address/length.
 * @kernel ib_post_send (mlx5_ib_post_send)
 */
export function ibPostSend(qp: IbQp, wr: IbSendWr, badWr?: BadWrRef<IbSendWr>): KResult {
  let ret: KResult = 0;
  let bad: IbSendWr | null = null;
  let posted = 0;
  const sendable = qp.state === IB_QPS_RTS || qp.state === IB_QPS_ERR;
  for (let w: IbSendWr | null = wr; w !== null; w = w.next) {
    const op = WR_OPCODES.get(w.opcode);
    if (qp.isDestroyed || !sendable || op === undefined || w.numSge > qp.cap.maxSendSge) ret = err('EINVAL');
    else if (op.rdma && (w.remoteAddr === undefined || w.rkey === undefined)) ret = err('EINVAL');
    else if (qp.sqOutstanding >= qp.cap.maxSendWr) ret = err('ENOMEM');
    if (ret !== 0) {
      bad = w;
      break;
    }
    const sges = copySges(w.sgList, w.numSge, 'ib_post_send', qp);
    let length = 0;
    for (const s of sges) length += s.length;
    qp.sq.push({
      wrCqe: w.wrCqe,
      opcode: w.opcode,
      sges,
      remoteAddr: w.remoteAddr ?? 0,
      rkey: w.rkey ?? 0,
      signaled: qp.init.sqSigType === IB_SIGNAL_ALL_WR || (w.sendFlags & IB_SEND_SIGNALED) !== 0,
      length,
    });
    qp.sqProducer++;
    qp.sqOutstanding++;
    posted++;
  }
  if (badWr !== undefined) badWr.wr = bad;
  if (posted > 0) qp.device.ops.ringSendDoorbell(qp, qp.sqProducer);
  return ret;
}

/**
 * Posts a chain of receive work requests (buffers for incoming SENDs). An incoming SEND that
 * was waiting for a buffer (RNR) lands in the first one posted.
 * @param qp the QP.
 * @param wr the first work request.
 * @param badWr optional: receives the first work request not posted.
 * @returns `0`; `-EINVAL` (QP in RESET or destroyed, more SGEs than `cap.maxRecvSge`),
 *   `-ENOMEM` (receive queue full); the work requests before `badWr` are posted.
 * @throws KernelBug for an SGE list shorter than `numSge` or an SGE with a bad address/length.
 * @kernel ib_post_recv (mlx5_ib_post_recv)
 */
export function ibPostRecv(qp: IbQp, wr: IbRecvWr, badWr?: BadWrRef<IbRecvWr>): KResult {
  let ret: KResult = 0;
  let bad: IbRecvWr | null = null;
  for (let w: IbRecvWr | null = wr; w !== null; w = w.next) {
    if (qp.isDestroyed || qp.state === IB_QPS_RESET || w.numSge > qp.cap.maxRecvSge) ret = err('EINVAL');
    else if (qp.rq.length >= qp.cap.maxRecvWr) ret = err('ENOMEM');
    if (ret !== 0) {
      bad = w;
      break;
    }
    const sges = copySges(w.sgList, w.numSge, 'ib_post_recv', qp);
    let length = 0;
    for (const s of sges) length += s.length;
    qp.rq.push({ wrCqe: w.wrCqe, sges, length });
  }
  if (badWr !== undefined) badWr.wr = bad;
  recvPosted(qp);
  return ret;
}
