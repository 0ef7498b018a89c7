/**
 * Work completions: what a completion queue hands back for each finished work request, with
 * the kernel's status and opcode numbering and its status messages.
 *
 * @kernel include/rdma/ib_verbs.h (enum ib_wc_status, enum ib_wc_opcode, struct ib_wc,
 *   struct ib_cqe), drivers/infiniband/core/verbs.c (ib_wc_status_msg)
 */
import type { IbCq } from './ib-cq';
import type { IbQp } from './ib-qp';

/** The work request completed. @kernel IB_WC_SUCCESS */
export const IB_WC_SUCCESS = 0;
/** A local length error (a message longer than the receive buffer). @kernel IB_WC_LOC_LEN_ERR */
export const IB_WC_LOC_LEN_ERR = 1;
/** A local QP operation error (an inconsistent work request). @kernel IB_WC_LOC_QP_OP_ERR */
export const IB_WC_LOC_QP_OP_ERR = 2;
/** A local EE context operation error (RD only; never produced by the model). @kernel IB_WC_LOC_EEC_OP_ERR */
export const IB_WC_LOC_EEC_OP_ERR = 3;
/**
 * A local protection error: an SGE whose lkey is invalid or does not cover it, or (model) a
 * local DMA read the fabric failed. @kernel IB_WC_LOC_PROT_ERR
 */
export const IB_WC_LOC_PROT_ERR = 4;
/** The work request was flushed because the QP is in the error state. @kernel IB_WC_WR_FLUSH_ERR */
export const IB_WC_WR_FLUSH_ERR = 5;
/** A memory window bind error (not modelled). @kernel IB_WC_MW_BIND_ERR */
export const IB_WC_MW_BIND_ERR = 6;
/** A bad response from the responder (not modelled). @kernel IB_WC_BAD_RESP_ERR */
export const IB_WC_BAD_RESP_ERR = 7;
/** A local access error (not modelled). @kernel IB_WC_LOC_ACCESS_ERR */
export const IB_WC_LOC_ACCESS_ERR = 8;
/** The responder found the request invalid (not modelled). @kernel IB_WC_REM_INV_REQ_ERR */
export const IB_WC_REM_INV_REQ_ERR = 9;
/**
 * The responder refused the access: unknown rkey, range outside the MR, or missing remote
 * read/write permission. Nothing was transferred. @kernel IB_WC_REM_ACCESS_ERR
 */
export const IB_WC_REM_ACCESS_ERR = 10;
/** The responder could not complete the operation (not modelled). @kernel IB_WC_REM_OP_ERR */
export const IB_WC_REM_OP_ERR = 11;
/** Transport retries exhausted (not modelled: the wire never loses packets). @kernel IB_WC_RETRY_EXC_ERR */
export const IB_WC_RETRY_EXC_ERR = 12;
/** RNR retries exhausted (not modelled: RNR retry is infinite). @kernel IB_WC_RNR_RETRY_EXC_ERR */
export const IB_WC_RNR_RETRY_EXC_ERR = 13;
/** RD only (not modelled). @kernel IB_WC_LOC_RDD_VIOL_ERR */
export const IB_WC_LOC_RDD_VIOL_ERR = 14;
/** RD only (not modelled). @kernel IB_WC_REM_INV_RD_REQ_ERR */
export const IB_WC_REM_INV_RD_REQ_ERR = 15;
/** The responder aborted (not modelled). @kernel IB_WC_REM_ABORT_ERR */
export const IB_WC_REM_ABORT_ERR = 16;
/** RD only (not modelled). @kernel IB_WC_INV_EECN_ERR */
export const IB_WC_INV_EECN_ERR = 17;
/** RD only (not modelled). @kernel IB_WC_INV_EEC_STATE_ERR */
export const IB_WC_INV_EEC_STATE_ERR = 18;
/** A fatal device error (not modelled). @kernel IB_WC_FATAL_ERR */
export const IB_WC_FATAL_ERR = 19;
/** A response timeout (not modelled). @kernel IB_WC_RESP_TIMEOUT_ERR */
export const IB_WC_RESP_TIMEOUT_ERR = 20;
/** A general error (not modelled). @kernel IB_WC_GENERAL_ERR */
export const IB_WC_GENERAL_ERR = 21;

/** A work completion status (`IB_WC_*`). @kernel enum ib_wc_status */
export type IbWcStatus =
  | typeof IB_WC_SUCCESS
  | typeof IB_WC_LOC_LEN_ERR
  | typeof IB_WC_LOC_QP_OP_ERR
  | typeof IB_WC_LOC_EEC_OP_ERR
  | typeof IB_WC_LOC_PROT_ERR
  | typeof IB_WC_WR_FLUSH_ERR
  | typeof IB_WC_MW_BIND_ERR
  | typeof IB_WC_BAD_RESP_ERR
  | typeof IB_WC_LOC_ACCESS_ERR
  | typeof IB_WC_REM_INV_REQ_ERR
  | typeof IB_WC_REM_ACCESS_ERR
  | typeof IB_WC_REM_OP_ERR
  | typeof IB_WC_RETRY_EXC_ERR
  | typeof IB_WC_RNR_RETRY_EXC_ERR
  | typeof IB_WC_LOC_RDD_VIOL_ERR
  | typeof IB_WC_REM_INV_RD_REQ_ERR
  | typeof IB_WC_REM_ABORT_ERR
  | typeof IB_WC_INV_EECN_ERR
  | typeof IB_WC_INV_EEC_STATE_ERR
  | typeof IB_WC_FATAL_ERR
  | typeof IB_WC_RESP_TIMEOUT_ERR
  | typeof IB_WC_GENERAL_ERR;

/** Status → the kernel's message, indexed by status. @kernel wc_statuses (verbs.c) */
const WC_STATUS_MSGS: readonly string[] = [
  'success',
  'local length error',
  'local QP operation error',
  'local EE context operation error',
  'local protection error',
  'WR flushed',
  'memory bind operation error',
  'bad response error',
  'local access error',
  'remote invalid request error',
  'remote access error',
  'remote operation error',
  'transport retry counter exceeded',
  'RNR retry counter exceeded',
  'local RDD violation error',
  'remote invalid RD request',
  'operation aborted',
  'invalid EE context number',
  'invalid EE context state',
  'fatal error',
  'response timeout error',
  'general error',
];

/**
 * The kernel's text for a completion status, as ULPs print it.
 * @param status an `IB_WC_*` value.
 * @returns the message (`'remote access error'`), or `'unrecognized status'` for a value
 *   outside the table.
 * @kernel ib_wc_status_msg
 */
export function ibWcStatusMsg(status: number): string {
  return (Number.isInteger(status) && status >= 0 ? WC_STATUS_MSGS[status] : undefined) ?? 'unrecognized status';
}

/** A SEND completed. @kernel IB_WC_SEND */
export const IB_WC_SEND = 0;
/** An RDMA WRITE completed. @kernel IB_WC_RDMA_WRITE */
export const IB_WC_RDMA_WRITE = 1;
/** An RDMA READ completed. @kernel IB_WC_RDMA_READ */
export const IB_WC_RDMA_READ = 2;
/** A receive completed (an incoming SEND landed). @kernel IB_WC_RECV */
export const IB_WC_RECV = 1 << 7;

/** A completion opcode (`IB_WC_*` opcode values). @kernel enum ib_wc_opcode */
export type IbWcOpcode = typeof IB_WC_SEND | typeof IB_WC_RDMA_WRITE | typeof IB_WC_RDMA_READ | typeof IB_WC_RECV;

/**
 * The completion entry a work request points at; its `done` runs when the completion is
 * processed (by `ibPollCq` callers or, for interrupt-driven CQs, by the CQ itself).
 * @kernel struct ib_cqe
 */
export interface IbCqe {
  /**
   * Called with the CQ and the completion.
   * @param cq the completion queue.
   * @param wc the completion (owned by the callee).
   */
  done(cq: IbCq, wc: IbWc): void;
}

/**
 * One work completion.
 * @kernel struct ib_wc
 */
export interface IbWc {
  /** The completion entry of the work request (`null` when it had none). @kernel ib_wc.wr_cqe */
  readonly wrCqe: IbCqe | null;
  /** `IB_WC_*` status. */
  readonly status: IbWcStatus;
  /**
   * What completed. Only meaningful on success, as in the kernel: flushed and failed
   * completions still carry the work request's opcode here (the model fills it in).
   */
  readonly opcode: IbWcOpcode;
  /** Device-specific error detail: 0 on success; see the hardware model's README table. */
  readonly vendorErr: number;
  /** Bytes received (receives) or transferred (sends, RDMA) on success; 0 otherwise. */
  readonly byteLen: number;
  /** The QP the work request was posted on. */
  readonly qp: IbQp;
}

/**
 * The model's vendor error codes (`IbWc.vendorErr`): which check failed. Real devices put a
 * syndrome here; these values are the model's own.
 */
export const IB_VENDOR_ERR = {
  /** An SGE's lkey is not the PD's local DMA lkey. */
  BAD_LKEY: 0x01,
  /** A local DMA read failed in the fabric (UR, CA, IOMMU fault), or a software device's copy faulted. */
  LOCAL_DMA_FAILED: 0x02,
  /** The message is longer than the port's `maxMsgSz`, or than the receive buffer. */
  MESSAGE_TOO_LONG: 0x03,
  /** The QP has no connected peer. */
  NOT_CONNECTED: 0x04,
  /** The responder does not know the rkey. */
  REMOTE_UNKNOWN_RKEY: 0x11,
  /** The access falls outside the remote region. */
  REMOTE_OUT_OF_BOUNDS: 0x12,
  /** The remote region does not allow the access. */
  REMOTE_NOT_PERMITTED: 0x13,
} as const;
