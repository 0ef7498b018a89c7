/**
 * RNIC completion errors on demand: a chosen work request of a QP completes with an `IB_WC_*`
 * error status instead of executing, as when the wire, the responder or the local HCA fails.
 *
 * Armed per QP with `qp.injectCompletionError({ status, opcode, nth, times })`; the engine
 * asks the QP's `completionFaults` for every send WQE it executes and every incoming SEND it
 * lands. A WR hit by a fault moves no byte (local or remote), completes with the status (errors
 * always complete, signaled or not) and moves the QP to the error state, so every WR after it is
 * flushed (`IB_WC_WR_FLUSH_ERR`), as RC hardware does. Counted per QP (`fired`) and cleared with
 * `qp.clearCompletionErrors()`.
 *
 * @kernel include/rdma/ib_verbs.h (enum ib_wc_status); the RC error semantics of the IB spec
 *   (a completion error moves the QP to the error state)
 */
import type { IbWrOpcode } from './ib-qp';
import type { IbWcStatus } from './ib-wc';
import {
  IB_WC_FATAL_ERR,
  IB_WC_GENERAL_ERR,
  IB_WC_LOC_ACCESS_ERR,
  IB_WC_LOC_LEN_ERR,
  IB_WC_LOC_PROT_ERR,
  IB_WC_LOC_QP_OP_ERR,
  IB_WC_REM_ACCESS_ERR,
  IB_WC_REM_INV_REQ_ERR,
  IB_WC_REM_OP_ERR,
  IB_WC_RETRY_EXC_ERR,
  IB_WC_RNR_RETRY_EXC_ERR,
} from './ib-wc';

/** The vendor error an injected completion error carries (so it is told apart from real ones). */
export const IB_VENDOR_ERR_INJECTED = 0xfe;

/** Which work requests a completion error applies to: a send opcode, or incoming SENDs (`'recv'`). */
export type IbCompletionErrorTarget = IbWrOpcode | 'recv';

/** One row of `IB_COMPLETION_ERRORS`: a status that may be injected and what it models. */
export interface IbCompletionErrorInfo {
  /** The status. */
  readonly status: IbWcStatus;
  /** The failure it models. */
  readonly models: string;
}

/** The statuses `qp.injectCompletionError` accepts, as data. */
export const IB_COMPLETION_ERRORS: readonly IbCompletionErrorInfo[] = [
  { status: IB_WC_LOC_LEN_ERR, models: 'local length error (message longer than the buffer)' },
  { status: IB_WC_LOC_QP_OP_ERR, models: 'local QP operation error (inconsistent WR)' },
  { status: IB_WC_LOC_PROT_ERR, models: 'local protection error (bad lkey, or a local DMA the fabric failed)' },
  { status: IB_WC_LOC_ACCESS_ERR, models: 'local access error' },
  { status: IB_WC_REM_INV_REQ_ERR, models: 'the responder found the request invalid' },
  { status: IB_WC_REM_ACCESS_ERR, models: 'the responder refused the access (rkey, bounds, permission)' },
  { status: IB_WC_REM_OP_ERR, models: 'the responder could not complete the operation' },
  { status: IB_WC_RETRY_EXC_ERR, models: 'transport retries exhausted (the peer stopped answering)' },
  { status: IB_WC_RNR_RETRY_EXC_ERR, models: 'receiver-not-ready retries exhausted' },
  { status: IB_WC_FATAL_ERR, models: 'fatal HCA error' },
  { status: IB_WC_GENERAL_ERR, models: 'general error' },
];

const ALLOWED: ReadonlySet<number> = new Set(IB_COMPLETION_ERRORS.map((e) => e.status));

/** What `qp.injectCompletionError` arms. */
export interface IbCompletionErrorSpec {
  /** The completion status (one of `IB_COMPLETION_ERRORS`). */
  readonly status: IbWcStatus;
  /** Only this send opcode, or `'recv'` for incoming SENDs (default: every send WR). */
  readonly opcode?: IbCompletionErrorTarget;
  /** Which matching WR after arming fails first (default 1: the next). */
  readonly nth?: number;
  /** How many consecutive matching WRs fail (default 1). */
  readonly times?: number;
}

interface Arm {
  readonly status: IbWcStatus;
  readonly opcode: IbCompletionErrorTarget | null;
  countdown: number;
  remaining: number;
}

/**
 * A QP's armed completion errors (`qp.completionFaults`).
 * @kernel — (the HCA's error completions)
 */
export class IbQpCompletionFaults {
  private readonly arms: Arm[] = [];
  /** How many WRs an injected error completed. */
  fired = 0;

  /**
   * @param spec the error.
   * @throws RangeError naming the field for a status that is not injectable, an unknown opcode,
   *   `nth`/`times` not positive integers (`times` may be `Infinity`); nothing is armed.
   */
  arm(spec: IbCompletionErrorSpec): void {
    const nth = spec.nth ?? 1;
    const times = spec.times ?? 1;
    if (!ALLOWED.has(spec.status)) throw new RangeError(`injectCompletionError: status ${String(spec.status)} is not an injectable IB_WC_* error status`);
    if (spec.opcode !== undefined && spec.opcode !== 'recv' && ![0, 2, 4].includes(spec.opcode)) {
      throw new RangeError(`injectCompletionError: opcode ${String(spec.opcode)} is not IB_WR_RDMA_WRITE, IB_WR_SEND, IB_WR_RDMA_READ or 'recv'`);
    }
    if (!Number.isSafeInteger(nth) || nth < 1) throw new RangeError(`injectCompletionError: nth ${nth} must be a positive integer`);
    if (times !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(times) || times < 1)) {
      throw new RangeError(`injectCompletionError: times ${times} must be a positive integer or Infinity`);
    }
    this.arms.push({ status: spec.status, opcode: spec.opcode ?? null, countdown: nth, remaining: times });
  }

  /** Disarms every pending error (`fired` is kept). */
  clear(): void {
    this.arms.length = 0;
  }

  /** Armed errors still pending. */
  get armed(): number {
    return this.arms.length;
  }

  /**
   * Asked by the engine for each WR it is about to execute (or incoming SEND it lands).
   * @param target the WR's opcode, or `'recv'`.
   * @returns the status to complete it with, or `null` to run it.
   * @internal called by the engine.
   */
  take(target: IbCompletionErrorTarget): IbWcStatus | null {
    for (let i = 0; i < this.arms.length; i++) {
      const a = this.arms[i]!;
      const matches = a.opcode === null ? target !== 'recv' : a.opcode === target;
      if (!matches) continue;
      if (a.countdown > 1) {
        a.countdown--;
        continue;
      }
      if (--a.remaining <= 0) this.arms.splice(i, 1);
      this.fired++;
      return a.status;
    }
    return null;
  }
}
