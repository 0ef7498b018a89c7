/**
 * The RC transport engine shared by the hardware RNIC model and the software (rxe) model: it
 * executes fetched send WQEs on the kernel's virtual clock, lands incoming SENDs in receive
 * WQEs, moves the bytes (local side through the provider's `localRead`/`localWrite`, remote side
 * in the remote host's memory), counts wire bytes and writes completions.
 *
 * Timing per QP: WQEs run one after another; each occupies the send engine for
 * `wrOverheadNs + length / rate` (rate: the port's, or the provider's copy rate when slower)
 * and completes one round trip (`2 × wireLatencyNs`) after that. Data moves at the completion
 * time. Incoming SENDs arrive `wireLatencyNs + length / rate` after the remote posted them.
 *
 * The responder's checks (rkey, bounds, permission) are made before any byte moves, so a
 * refused RDMA READ or WRITE moves nothing, on the wire or through the fabric.
 */
import type { IbCq } from '../ib-cq';
import type { IbPort } from '../ib-device';
import { IB_ACCESS_REMOTE_READ, IB_ACCESS_REMOTE_WRITE } from '../ib-mr';
import type { IbQp, IbWrOpcode, RecvWqe, SendWqe } from '../ib-qp';
import { IB_VENDOR_ERR_INJECTED } from '../ib-qp-fault';
import { IB_QPS_ERR, IB_QPS_RTR, IB_QPS_RTS, IB_WR_RDMA_READ, IB_WR_RDMA_WRITE, IB_WR_SEND } from '../ib-qp';
import type { IbWcOpcode, IbWcStatus } from '../ib-wc';
import {
  IB_VENDOR_ERR,
  IB_WC_LOC_LEN_ERR,
  IB_WC_LOC_PROT_ERR,
  IB_WC_LOC_QP_OP_ERR,
  IB_WC_RDMA_READ,
  IB_WC_RDMA_WRITE,
  IB_WC_RECV,
  IB_WC_REM_ACCESS_ERR,
  IB_WC_SEND,
  IB_WC_SUCCESS,
  IB_WC_WR_FLUSH_ERR,
} from '../ib-wc';
import type { RemoteAccessError } from '../remote-host';

/** What one work request opcode completes as, and the remote permission it needs (0: none). */
interface OpcodeInfo {
  readonly wc: IbWcOpcode;
  readonly access: number;
}

let opcodeTable: Readonly<Record<IbWrOpcode, OpcodeInfo>> | null = null;

/**
 * Work request opcode → completion opcode and permission. Built on first use: `ib-qp.ts`
 * imports this module, so its constants are not initialized yet when this module loads.
 */
function opcodes(): Readonly<Record<IbWrOpcode, OpcodeInfo>> {
  opcodeTable ??= {
    [IB_WR_RDMA_WRITE]: { wc: IB_WC_RDMA_WRITE, access: IB_ACCESS_REMOTE_WRITE },
    [IB_WR_RDMA_READ]: { wc: IB_WC_RDMA_READ, access: IB_ACCESS_REMOTE_READ },
    [IB_WR_SEND]: { wc: IB_WC_SEND, access: 0 },
  };
  return opcodeTable;
}

/** Responder refusal → vendor error detail. */
const REMOTE_VENDOR_ERR: Readonly<Record<RemoteAccessError, number>> = {
  'unknown rkey': IB_VENDOR_ERR.REMOTE_UNKNOWN_RKEY,
  'out of bounds': IB_VENDOR_ERR.REMOTE_OUT_OF_BOUNDS,
  'access not permitted': IB_VENDOR_ERR.REMOTE_NOT_PERMITTED,
};

interface Outcome {
  readonly status: IbWcStatus;
  readonly vendorErr: number;
  readonly byteLen: number;
}

const ok = (byteLen: number): Outcome => ({ status: IB_WC_SUCCESS, vendorErr: 0, byteLen });
const fail = (status: IbWcStatus, vendorErr: number): Outcome => ({ status, vendorErr, byteLen: 0 });

function portOf(qp: IbQp): IbPort {
  return qp.device.port(qp.portNum)!;
}

function rate(qp: IbQp): number {
  const port = portOf(qp).bytesPerNs;
  const copy = qp.device.ops.timing.copyBytesPerNs;
  return copy === null ? port : Math.min(port, copy);
}

function schedule(qp: IbQp, delayNs: number, fn: () => void): void {
  const clock = qp.device.kernel.clock;
  const id = clock.schedule(delayNs, () => {
    qp.timers.delete(id);
    fn();
  });
  qp.timers.add(id);
}

function deliver(cq: IbCq, qp: IbQp, wqe: { readonly wrCqe: SendWqe['wrCqe'] }, opcode: IbWcOpcode, o: Outcome): void {
  cq.deliver({ wrCqe: wqe.wrCqe, status: o.status, opcode, vendorErr: o.vendorErr, byteLen: o.byteLen, qp });
}

/**
 * Hands `count` posted send WQEs to the engine (the hardware fetched them after a doorbell).
 * @param qp the QP.
 * @param count WQEs to fetch, 1 … `qp.sq.length`.
 */
export function sendFetch(qp: IbQp, count: number): void {
  const k = qp.device.kernel;
  const r = rate(qp);
  const t = qp.device.ops.timing;
  for (let i = 0; i < count; i++) {
    const w = qp.sq.shift();
    if (w === undefined) return;
    qp.sqFetched++;
    const now = k.clock.now();
    const start = Math.max(now, qp.busyUntil);
    qp.busyUntil = start + t.wrOverheadNs + Math.ceil(w.length / r);
    schedule(qp, qp.busyUntil + 2 * t.wireLatencyNs - now, () => execute(qp, w));
  }
}

function execute(qp: IbQp, w: SendWqe): void {
  qp.sqOutstanding--;
  const wc = opcodes()[w.opcode].wc;
  if (qp.state === IB_QPS_ERR) {
    deliver(qp.sendCq, qp, w, wc, fail(IB_WC_WR_FLUSH_ERR, 0));
    return;
  }
  const injected = qp.completionFaults === null ? null : qp.completionFaults.take(w.opcode);
  const o = injected === null ? run(qp, w) : fail(injected, IB_VENDOR_ERR_INJECTED);
  if (o.status !== IB_WC_SUCCESS) {
    deliver(qp.sendCq, qp, w, wc, o);
    qpToError(qp);
    return;
  }
  if (w.signaled) deliver(qp.sendCq, qp, w, wc, o);
}

/** Checks lengths and lkeys of a WQE's SGEs. */
function checkLocal(qp: IbQp, sges: readonly { readonly lkey: number }[], length: number): Outcome | null {
  if (length > portOf(qp).attr.maxMsgSz) return fail(IB_WC_LOC_LEN_ERR, IB_VENDOR_ERR.MESSAGE_TOO_LONG);
  for (const s of sges) if (s.lkey !== qp.pd.localDmaLkey) return fail(IB_WC_LOC_PROT_ERR, IB_VENDOR_ERR.BAD_LKEY);
  return null;
}

/** Reads the SGEs' bytes from local memory into one buffer, or `null` when a read fails. */
function gather(qp: IbQp, w: SendWqe): Uint8Array | null {
  const buf = new Uint8Array(w.length);
  let off = 0;
  for (const s of w.sges) {
    if (s.length > 0 && !qp.device.ops.localRead(s.addr, buf.subarray(off, off + s.length))) return null;
    off += s.length;
  }
  return buf;
}

/** Writes `data` across the SGEs; `false` when a (checked) write fails. */
function scatter(qp: IbQp, sges: readonly { readonly addr: number; readonly length: number }[], data: Uint8Array): boolean {
  let off = 0;
  for (const s of sges) {
    if (off >= data.length) break;
    const n = Math.min(s.length, data.length - off);
    if (n > 0 && !qp.device.ops.localWrite(s.addr, data.subarray(off, off + n)) && !qp.device.ops.postedWrites) return false;
    off += n;
  }
  return true;
}

function run(qp: IbQp, w: SendWqe): Outcome {
  const peer = qp.peer;
  if (peer === null) return fail(IB_WC_LOC_QP_OP_ERR, IB_VENDOR_ERR.NOT_CONNECTED);
  const local = checkLocal(qp, w.sges, w.length);
  if (local !== null) return local;
  const host = peer.host;
  const port = portOf(qp);
  const access = opcodes()[w.opcode].access;
  if (access !== 0) {
    const why = host.checkAccess(w.rkey, w.remoteAddr, w.length, access);
    if (why !== null) return fail(IB_WC_REM_ACCESS_ERR, REMOTE_VENDOR_ERR[why]);
  }
  if (w.opcode === IB_WR_RDMA_READ) {
    const data = host.memory.subarray(w.remoteAddr, w.remoteAddr + w.length);
    host.counters.txBytes += w.length;
    port.counters.rcvBytes += w.length;
    if (!scatter(qp, w.sges, data)) return fail(IB_WC_LOC_PROT_ERR, IB_VENDOR_ERR.LOCAL_DMA_FAILED);
    return ok(w.length);
  }
  const data = gather(qp, w);
  if (data === null) return fail(IB_WC_LOC_PROT_ERR, IB_VENDOR_ERR.LOCAL_DMA_FAILED);
  port.counters.xmitBytes += w.length;
  host.counters.rxBytes += w.length;
  if (w.opcode === IB_WR_RDMA_WRITE) host.memory.set(data, w.remoteAddr);
  else peer.receive(data);
  return ok(0);
}

/**
 * Moves a QP to the error state: posted receive WQEs complete with `IB_WC_WR_FLUSH_ERR` now,
 * send WQEs when the engine reaches them; SENDs waiting for a buffer are dropped.
 * @param qp the QP.
 */
export function qpToError(qp: IbQp): void {
  qp.state = IB_QPS_ERR;
  qp.rnrQueue.clear();
  flushRecv(qp);
}

function flushRecv(qp: IbQp): void {
  for (let w = qp.rq.shift(); w !== undefined; w = qp.rq.shift()) {
    deliver(qp.recvCq, qp, w, IB_WC_RECV, fail(IB_WC_WR_FLUSH_ERR, 0));
  }
}

/**
 * Called after receive WQEs were posted or the QP became ready: flushes them in the error
 * state, else lands SENDs that were waiting for a buffer.
 * @param qp the QP.
 */
export function recvPosted(qp: IbQp): void {
  if (qp.isDestroyed) return;
  if (qp.state === IB_QPS_ERR) {
    flushRecv(qp);
    return;
  }
  while (ready(qp) && qp.rnrQueue.length > 0 && qp.rq.length > 0) land(qp, qp.rq.shift()!, qp.rnrQueue.shift()!);
}

/** Whether the QP accepts incoming SENDs (RTR or RTS). */
function ready(qp: IbQp): boolean {
  return qp.state === IB_QPS_RTR || qp.state === IB_QPS_RTS;
}

function land(qp: IbQp, w: RecvWqe, data: Uint8Array): void {
  let o: Outcome;
  const injected = qp.completionFaults === null ? null : qp.completionFaults.take('recv');
  if (injected !== null) o = fail(injected, IB_VENDOR_ERR_INJECTED);
  else if (data.length > w.length) o = fail(IB_WC_LOC_LEN_ERR, IB_VENDOR_ERR.MESSAGE_TOO_LONG);
  else o = checkLocal(qp, w.sges, 0) ?? (scatter(qp, w.sges, data) ? ok(data.length) : fail(IB_WC_LOC_PROT_ERR, IB_VENDOR_ERR.LOCAL_DMA_FAILED));
  deliver(qp.recvCq, qp, w, IB_WC_RECV, o);
  if (o.status !== IB_WC_SUCCESS) qpToError(qp);
}

/**
 * A SEND from the remote peer: it arrives after the wire latency and its serialization time,
 * then lands in the first posted receive WQE (or waits for one).
 * @param qp the local QP.
 * @param data the message (owned by the engine).
 */
export function remoteSend(qp: IbQp, data: Uint8Array): void {
  const t = qp.device.ops.timing;
  schedule(qp, t.wireLatencyNs + Math.ceil(data.length / portOf(qp).bytesPerNs), () => {
    if (qp.peer !== null) qp.peer.host.counters.txBytes += data.length;
    portOf(qp).counters.rcvBytes += data.length;
    if (!ready(qp)) return;
    qp.rnrQueue.push(data);
    recvPosted(qp);
  });
}
