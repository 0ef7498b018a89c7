/**
 * An NVMe over Fabrics initiator on a remote host, speaking the RDMA transport the way the Linux
 * host driver (`nvme-rdma` + `nvme-fabrics` + `nvme-core`) does: RDMA CM connect with the
 * queue sizes in the private data, Fabrics Connect on the admin queue (controller ID allocated)
 * and then on each I/O queue, Property Get/Set to enable the controller, Identify, Set Features
 * (number of queues), keep-alive at half the timeout, one Asynchronous Event Request kept
 * outstanding (a namespace notice rescans the namespaces), and Read/Write/Flush.
 *
 * Data lives in the host's own memory (`RemoteHost.memory`), registered as one memory region;
 * commands carry keyed SGL data descriptors naming it, so the target's RNIC RDMA-READs write
 * data from it and RDMA-WRITEs read data into it. Writes that fit the controller's in-capsule
 * data size (`ioccsz`, when it offers offset descriptors) travel in the command capsule on I/O
 * queues, as `nvme_rdma_map_sg_inline` does.
 *
 * Everything runs on the target kernel's virtual clock (one timeline for both machines); the
 * synchronous helpers (`read`, `write`, `identify…`) run the clock until their completion
 * arrives.
 *
 * Request timeout and error recovery, as blk-mq and nvme-rdma have them: each host queue keeps
 * ONE timer (blk-mq's `q->timeout` / `blk_mq_timeout_work`), armed when a command goes in
 * flight on an idle queue and, when it fires, re-armed for the oldest command still in flight
 * (submit only stamps a deadline, `timeoutNs` after it). A command past its deadline logs
 * `nvme nvme0: I/O tag <tag> (<cid>) opcode <op> (<kind>) QID <qid> timeout` on the host log
 * (`NvmfInitiator.log`); on a live controller the first one starts error recovery (`starting
 * error recovery`, the controller goes `resetting`), whose work item disconnects every host QP
 * (`rdma_disconnect`: the target gets its CM disconnect and frees its queues) and then cancels
 * every command still in flight: each completes `lost` (`cqe: null`), the model's form of the
 * host-side `NVME_SC_HOST_ABORTED_CMD` that `nvme_cancel_request` sets. The controller is then
 * `failed`. There is no reconnect in the model (the kernel's `nvme_rdma_reconnect_ctrl_work`
 * after `reconnect_delay`, and the requeue of the cancelled requests): the caller reconnects with
 * a new `connect`. The Asynchronous Event Request has no timeout (the kernel posts it outside
 * blk-mq).
 *
 * @kernel drivers/nvme/host/rdma.c, fabrics.c, core.c (host side; the model's own simplified
 *   request handling, no blk-mq)
 */
import type { NegErrno, TimerId, VirtualClock } from '@p2pdma/kernel';
import { err, isErr, KernelBug, KernelLog } from '@p2pdma/kernel';
import type { RemoteHost, RemoteMr, RemoteQp } from '@p2pdma/rdma-rw';
import { IB_ACCESS_LOCAL_WRITE, IB_ACCESS_REMOTE_READ, IB_ACCESS_REMOTE_WRITE } from '@p2pdma/rdma-rw';
import type { NvmeCommand } from './nvme-command';
import {
  NVME_COMMAND_SIZE,
  NVME_COMPLETION_SIZE,
  NVME_KEY_SGL_FMT_DATA_DESC,
  NVME_SGL_FMT_ADDRESS,
  NVME_SGL_FMT_DATA_DESC,
  NVME_SGL_FMT_OFFSET,
  NvmeCompletion,
  nvme_admin_async_event,
  nvme_admin_keep_alive,
  nvme_cmd_flush,
  nvme_fabrics_command,
  nvmeIsWrite,
  nvmeRwCommand,
  nvmeSimpleCommand,
} from './nvme-command';
import {
  NVME_CC_ENABLE_NVM,
  NVME_CNTLID_DYNAMIC,
  NVME_CSTS_RDY,
  NVME_REG_CAP,
  NVME_REG_CC,
  NVME_REG_CSTS,
  NVMF_CONNECT_DATA_SIZE,
  nvmfConnectCommand,
  nvmfEncodeConnectData,
  nvmfPropertyGetCommand,
  nvmfPropertySetCommand,
} from './nvme-fabrics';
import { newCapsule } from './internal/capsule-slab';
import type { NvmeIdCtrl } from './nvme-identify';
import {
  NVME_AER_NOTICE_NS_CHANGED,
  NVME_AER_TYPE_NOTICE,
  NVME_CTRL_SGLS,
  NVME_FEAT_NUM_QUEUES,
  NVME_ID_CNS_CTRL,
  NVME_ID_CNS_NS,
  NVME_ID_CNS_NS_ACTIVE_LIST,
  NVME_IDENTIFY_DATA_SIZE,
  NVME_LOG_CHANGED_NS,
  NVME_MAX_CHANGED_NAMESPACES,
  nvmeDecodeIdCtrl,
  nvmeDecodeIdNs,
  nvmeDecodeNsList,
  nvmeGetLogPageCommand,
  nvmeIdentifyCommand,
  nvmeSetFeaturesCommand,
} from './nvme-identify';
import type { NvmeStatus } from './nvme-status';
import type { RdmaCmNetwork } from './rdma-cm';
import { NVME_RDMA_CM_FMT_1_0, NVME_RDMA_IP_PORT, nvmeRdmaEncodeCmReq } from './rdma-cm';
import { NVME_AQ_DEPTH } from '@p2pdma/nvme-pci';

/** Default I/O queue depth of `nvme connect`. @kernel NVMF_DEF_QUEUE_SIZE */
export const NVMF_DEF_QUEUE_SIZE = 128;
/** Default keep-alive timeout in seconds. @kernel NVME_DEFAULT_KATO */
export const NVME_DEFAULT_KATO = 5;
/**
 * Default request timeout of the host (virtual ns): a command still in flight this long after it
 * was submitted times out and starts error recovery. 30 s, as `nvme_core.io_timeout`
 * (`NVME_IO_TIMEOUT`); the model uses it for the admin queue too (the kernel's admin timeout is
 * 60 s).
 * @kernel NVME_IO_TIMEOUT
 */
export const NVMF_DEFAULT_TIMEOUT_NS = 30_000_000_000;

/**
 * A host controller's state.
 * - `connecting`: `connect` is setting it up (`NVME_CTRL_CONNECTING`); a timeout fails only the
 *   command (`nvme_rdma_complete_timed_out`) and the connect fails.
 * - `live`: `NVME_CTRL_LIVE`.
 * - `resetting`: a command timed out, error recovery is queued (`NVME_CTRL_RESETTING`); new
 *   commands are refused (`lost` at once).
 * - `failed`: error recovery tore the queues down and cancelled every command; the kernel would
 *   go `NVME_CTRL_CONNECTING` and reconnect after `reconnect_delay`: the model does not, the
 *   caller connects again.
 * - `deleted`: `disconnect` ran (`NVME_CTRL_DELETING` → `NVME_CTRL_DEAD`).
 * @kernel enum nvme_ctrl_state
 */
export type NvmfCtrlState = 'connecting' | 'live' | 'resetting' | 'failed' | 'deleted';

/** Options of an initiator. */
export interface NvmfInitiatorOptions {
  /** The host machine (its memory holds the data buffers). */
  readonly host: RemoteHost;
  /** The IP network the target listens on. */
  readonly network: RdmaCmNetwork;
  /** The shared virtual clock (the target kernel's). */
  readonly clock: VirtualClock;
  /** Host NQN (default `nqn.2014-08.org.nvmexpress:uuid:<host name>`). */
  readonly hostnqn?: string;
  /** Keep-alive timeout in seconds (default 5, as `NVME_DEFAULT_KATO`; 0: no keep-alive). */
  readonly kato?: number;
  /** Request timeout in virtual ns (default `NVMF_DEFAULT_TIMEOUT_NS`, 30 s); a positive number. */
  readonly timeoutNs?: number;
  /** The host's kernel log (default: a new one stamped by `clock`). */
  readonly log?: KernelLog;
}

/** Where to connect. */
export interface NvmfConnectOptions {
  /** Target address (`192.168.0.1`). */
  readonly traddr: string;
  /** Target port (default `4420`). */
  readonly trsvcid?: string;
  /** Subsystem NQN. */
  readonly subsysnqn: string;
  /** I/O queues (default 1). */
  readonly nrIoQueues?: number;
  /** I/O queue depth (default 128). */
  readonly queueSize?: number;
  /** Keep one Asynchronous Event Request outstanding (default true). */
  readonly aen?: boolean;
}

/** Why a connect failed. */
export interface NvmfConnectError {
  /** What failed, for messages (`rdma_connect to 10.0.0.1:4420 failed`). */
  readonly error: string;
  /** The NVMe status of a failed command, if that was the failure. */
  readonly status?: NvmeStatus;
  /** The errno of a failed RDMA CM step, if that was the failure. */
  readonly errno?: NegErrno;
}

/** One command's outcome. */
export interface NvmfCompletionResult {
  /** The completion (status in the kernel encoding, result); `null` when lost. */
  readonly cqe: NvmeCompletion | null;
  /**
   * The target never answered and the host gave up on the command: the queue was gone or full at
   * submit, the controller was disconnected, or error recovery cancelled it (after a request
   * timeout; the kernel completes such requests with the host-side `NVME_SC_HOST_ABORTED_CMD`).
   * Each command is reported once. A lost write may or may not have reached the media.
   */
  readonly lost: boolean;
  /** Read data (Read, Identify, Get Log Page). */
  readonly data: Uint8Array | null;
}

/** A command in flight. */
export interface NvmfIo {
  /** Whether it completed (or was lost). */
  readonly done: boolean;
  /** The outcome once done. */
  readonly result: NvmfCompletionResult | null;
}

/** A namespace as Identify described it. */
export interface NvmfNamespace {
  /** NSID. */
  readonly nsid: number;
  /** Size in logical blocks. */
  readonly nsze: number;
  /** Logical block size in bytes. */
  readonly lbaSize: number;
}

/** A first-fit allocator over the host's memory. */
class HostMemory {
  private readonly free: { addr: number; len: number }[];
  constructor(private readonly size: number) {
    this.free = [{ addr: 0, len: size }];
  }
  inUse(): number {
    let free = 0;
    for (const f of this.free) free += f.len;
    return this.size - free;
  }
  alloc(len: number): number | null {
    const n = Math.ceil(len / 64) * 64;
    const i = this.free.findIndex((f) => f.len >= n);
    if (i < 0) return null;
    const f = this.free[i]!;
    const addr = f.addr;
    if (f.len === n) this.free.splice(i, 1);
    else {
      // The free ranges are private to this allocator: shrunk in place.
      f.addr += n;
      f.len -= n;
    }
    return addr;
  }
  /**
   * Returns a range. The free list stays sorted by address and coalesced (no two ranges touch),
   * so the returned range can only merge with its two neighbours, found by binary search.
   */
  release(addr: number, len: number): void {
    const n = Math.ceil(len / 64) * 64;
    const free = this.free;
    let lo = 0;
    let hi = free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (free[mid]!.addr <= addr) lo = mid + 1;
      else hi = mid;
    }
    const prev = lo > 0 ? free[lo - 1]! : undefined;
    const next = free[lo];
    const joinsPrev = prev !== undefined && prev.addr + prev.len === addr;
    const joinsNext = next !== undefined && addr + n === next.addr;
    if (joinsPrev && joinsNext) {
      prev.len += n + next.len;
      free.splice(lo, 1);
    } else if (joinsPrev) prev.len += n;
    else if (joinsNext) {
      next.addr = addr;
      next.len += n;
    } else free.splice(lo, 0, { addr, len: n });
  }
}

interface Pending {
  readonly io: { done: boolean; result: NvmfCompletionResult | null };
  readonly buf: { addr: number; len: number } | null;
  readonly readBack: boolean;
  readonly onDone: ((r: NvmfCompletionResult) => void) | null;
  /** Virtual time it times out (`Infinity`: never, the AER). */
  readonly deadline: number;
  /** Its opcode, for the timeout line. */
  readonly opcode: number;
}

/** Low 12 bits of a command ID: the blk-mq tag. @kernel nvme_tag_from_cid */
const NVME_CID_TAG_MASK = 0xfff;

/**
 * The `%s` of the timeout line by command class, as the kernel prints it without
 * `CONFIG_NVME_VERBOSE_ERRORS` (the distributions' default).
 * @kernel nvme_fabrics_opcode_str / nvme_opcode_str (drivers/nvme/host/nvme.h)
 */
const NVME_OPCODE_CLASS_STR = { fabrics: 'Fabrics Cmd', admin: 'Admin Cmd', io: 'I/O Cmd' } as const;

/** C's `%#x`: `0` for zero, else `0x` and lowercase hex. */
function hexAlt(v: number): string {
  return v === 0 ? '0' : `0x${v.toString(16)}`;
}

/**
 * One host queue (admin or I/O): its QP to the target and the commands in flight on it.
 * @kernel struct nvme_rdma_queue (host)
 */
export class NvmfHostQueue {
  /** @internal commands in flight by command ID. */
  readonly pending = new Map<number, Pending>();
  private nextCid = 0;
  /** The queue's request timer (one per queue, never one per command), or `null` when idle. */
  private timer: TimerId | null = null;
  /** Times the request timer was armed (at a submit on an idle queue, or re-armed when it fired early). */
  timerArms = 0;
  /** In-capsule data this queue may send (0 on the admin queue). */
  inlineSize = 0;

  /**
   * @param ctrl the controller.
   * @param qid the queue ID.
   * @param qp the host's QP, connected to the target.
   * @param depth commands it may have in flight.
   * @internal made by `NvmfInitiator.connect`.
   */
  constructor(
    readonly ctrl: NvmfController,
    readonly qid: number,
    readonly qp: RemoteQp,
    readonly depth: number,
  ) {
    qp.onReceive = (data) => this.receive(data);
  }

  /**
   * Whether the queue takes commands: the connection is up (the target has not torn its QP down)
   * and the controller is `connecting` or `live` (not in error recovery, failed or disconnected).
   */
  get alive(): boolean {
    const st = this.ctrl.state;
    return this.qp.peer !== null && (st === 'live' || st === 'connecting');
  }

  /** Whether the queue's request timer is armed (one timer per queue at most). */
  get timerArmed(): boolean {
    return this.timer !== null;
  }

  /**
   * Sends a command capsule (the data pointer is filled in: in-capsule, keyed, or empty).
   * @param cmd the command (its command ID is assigned here).
   * @param data write data or read length.
   * @param onDone called with the result.
   * @param timed whether the request timeout covers it (default true; false for the AER).
   * @returns the handle (lost at once when the queue is gone or full).
   * @kernel nvme_rdma_queue_rq (+ blk_add_timer at nvme_start_request)
   */
  submit(cmd: NvmeCommand, data: { write?: Uint8Array; readLen?: number } | null, onDone: ((r: NvmfCompletionResult) => void) | null = null, timed = true): NvmfIo {
    const io = { done: false, result: null as NvmfCompletionResult | null };
    const c = this.ctrl;
    if (!this.alive || this.pending.size >= this.depth) {
      io.done = true;
      io.result = { cqe: null, lost: true, data: null };
      onDone?.(io.result);
      return io;
    }
    let cid = this.nextCid;
    while (this.pending.has(cid)) cid = (cid + 1) & 0xffff;
    this.nextCid = (cid + 1) & 0xffff;
    cmd.commandId = cid;
    const write = data?.write;
    const len = write !== undefined ? write.length : (data?.readLen ?? 0);
    let buf: { addr: number; len: number } | null = null;
    let inline: Uint8Array | null = null;
    if (len > 0 && write !== undefined && nvmeIsWrite(cmd) && this.qid !== 0 && len <= this.inlineSize) {
      cmd.sglType = (NVME_SGL_FMT_DATA_DESC << 4) | NVME_SGL_FMT_OFFSET;
      cmd.sglAddr = 0;
      cmd.sglLength = len;
      inline = write;
    } else {
      cmd.sglType = (NVME_KEY_SGL_FMT_DATA_DESC << 4) | NVME_SGL_FMT_ADDRESS;
      if (len > 0) {
        const addr = c.memory.alloc(len);
        if (addr === null) throw new RangeError(`initiator ${c.initiator.host.name}: host memory exhausted (no ${len} free bytes for a command's data)`);
        buf = { addr, len };
        if (write !== undefined) c.initiator.host.write(addr, write);
        cmd.sglAddr = addr;
        cmd.keyedSglLength = len;
        cmd.sglKey = c.mr.rkey;
      } else {
        cmd.sglAddr = 0;
        cmd.keyedSglLength = 0;
        cmd.sglKey = 0;
      }
    }
    const capsule = newCapsule(NVME_COMMAND_SIZE + (inline?.length ?? 0));
    capsule.set(cmd.bytes, 0);
    if (inline !== null) capsule.set(inline, NVME_COMMAND_SIZE);
    const clock = c.initiator.clock;
    const timeout = c.initiator.timeoutNs;
    this.pending.set(cid, { io, buf, readBack: buf !== null && write === undefined, onDone, deadline: timed ? clock.now() + timeout : Number.POSITIVE_INFINITY, opcode: cmd.opcode });
    // blk_add_timer: the queue's one timer is armed when the first command goes in flight; a
    // later command's deadline is never earlier (same timeout), so an armed timer stays as is.
    if (timed && this.timer === null) this.armTimer(timeout);
    // The capsule is fresh and never used again here: handed over without another copy.
    if (this.qp.postSendOwned(capsule) !== 0) this.fail(cid);
    return io;
  }

  /**
   * The queue's timer fired: every command past its deadline times out (in submission order);
   * otherwise the timer is re-armed for the oldest command still in flight. Nothing in flight
   * with a deadline: the timer stays off until the next submit.
   * @kernel blk_mq_timeout_work / blk_mq_check_expired
   */
  private timeoutWork(): void {
    this.timer = null;
    const clock = this.ctrl.initiator.clock;
    const now = clock.now();
    const expired: number[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [cid, p] of this.pending) {
      if (p.deadline <= now) expired.push(cid);
      else if (p.deadline < next) next = p.deadline;
    }
    for (const cid of expired) this.ctrl.timeout(this, cid);
    if (this.timer === null && next !== Number.POSITIVE_INFINITY && this.pending.size > 0 && this.ctrl.state !== 'failed' && this.ctrl.state !== 'deleted') {
      this.armTimer(next - now);
    }
  }

  private armTimer(delayNs: number): void {
    this.timerArms++;
    this.timer = this.ctrl.initiator.clock.schedule(delayNs, () => this.timeoutWork());
  }

  /** @internal disarms the queue's timer (teardown). @kernel del_timer_sync(&q->timeout) */
  stopTimer(): void {
    if (this.timer !== null) this.ctrl.initiator.clock.cancel(this.timer);
    this.timer = null;
  }

  /** @internal @param cid a command ID. @returns its opcode while it is in flight, else `null`. */
  opcodeOf(cid: number): number | null {
    return this.pending.get(cid)?.opcode ?? null;
  }

  private receive(data: Uint8Array): void {
    if (data.length < NVME_COMPLETION_SIZE) return;
    const cqe = NvmeCompletion.decode(data);
    const p = this.pending.get(cqe.commandId);
    if (p === undefined) return;
    this.pending.delete(cqe.commandId);
    let out: Uint8Array | null = null;
    const c = this.ctrl;
    if (p.buf !== null) {
      if (p.readBack) out = c.initiator.host.read(p.buf.addr, p.buf.len);
      c.memory.release(p.buf.addr, p.buf.len);
    }
    p.io.done = true;
    p.io.result = { cqe, lost: false, data: out };
    p.onDone?.(p.io.result);
  }

  /** @internal reports one command lost. @param cid its command ID. */
  fail(cid: number): void {
    const p = this.pending.get(cid);
    if (p === undefined) return;
    this.pending.delete(cid);
    if (p.buf !== null) this.ctrl.memory.release(p.buf.addr, p.buf.len);
    p.io.done = true;
    p.io.result = { cqe: null, lost: true, data: null };
    p.onDone?.(p.io.result);
  }

  /** @internal reports every command in flight lost. */
  failAll(): void {
    for (const cid of [...this.pending.keys()]) this.fail(cid);
  }

  /** @internal reports the commands of these handles lost. @param ios the handles. */
  failIos(ios: readonly NvmfIo[]): void {
    for (const [cid, p] of [...this.pending]) if (ios.includes(p.io)) this.fail(cid);
  }
}

/**
 * A connected controller, as the host sees it.
 * @kernel struct nvme_rdma_ctrl / struct nvme_ctrl (host)
 */
export class NvmfController {
  /** The initiator. */
  readonly initiator: NvmfInitiator;
  /** The connect options. */
  readonly opts: NvmfConnectOptions;
  /** Controller ID. */
  cntlid = 0;
  /** Identify Controller. */
  idCtrl: NvmeIdCtrl | null = null;
  /** Namespaces by NSID (rescanned on namespace notices). */
  readonly namespaces = new Map<number, NvmfNamespace>();
  /** Asynchronous event results received, oldest first. */
  readonly asyncEvents: number[] = [];
  /** I/O queues, index 0 = QID 1. */
  readonly ioQueues: NvmfHostQueue[] = [];
  /** The admin queue. */
  admin: NvmfHostQueue | null = null;
  /** Its state (see `NvmfCtrlState`). */
  state: NvmfCtrlState = 'connecting';
  /** The host's controller instance (`nvme<instance>` in the host log), lowest free at connect. */
  readonly instance: number;
  /** @internal host memory allocator (shared with the initiator). */
  readonly memory: HostMemory;
  /** @internal the memory region covering the host's memory. */
  readonly mr: RemoteMr;
  private kaTimer: ReturnType<VirtualClock['schedule']> | null = null;
  private aen = false;

  private recoveryWork: TimerId | null = null;

  /** @internal use `NvmfInitiator.connect`. */
  constructor(initiator: NvmfInitiator, opts: NvmfConnectOptions, memory: HostMemory, mr: RemoteMr, instance: number) {
    this.initiator = initiator;
    this.opts = opts;
    this.memory = memory;
    this.mr = mr;
    this.instance = instance;
  }

  /** Whether `disconnect` ran (state `deleted`). */
  get closed(): boolean {
    return this.state === 'deleted';
  }

  /** The host controller device's name (`nvme0`). */
  get name(): string {
    return `nvme${this.instance}`;
  }

  /** `dev_warn(ctrl->device, ...)` on the host log: `nvme nvme0: <text>`. */
  private warn(text: string): void {
    this.initiator.log.prWarn(`nvme ${this.name}: ${text}`);
  }

  /**
   * @internal a command on `q` passed its deadline: logs the timeout line; on a live controller
   * starts error recovery, otherwise (connecting, or recovery already started) stops that queue
   * and fails the command at once.
   * @param q the queue.
   * @param cid the command ID.
   * @kernel nvme_rdma_timeout / nvme_rdma_complete_timed_out
   */
  timeout(q: NvmfHostQueue, cid: number): void {
    const opcode = q.opcodeOf(cid);
    if (opcode === null) return;
    const kind = opcode === nvme_fabrics_command ? 'fabrics' : q.qid === 0 ? 'admin' : 'io';
    this.warn(`I/O tag ${cid & NVME_CID_TAG_MASK} (${cid.toString(16).padStart(4, '0')}) opcode ${hexAlt(opcode)} (${NVME_OPCODE_CLASS_STR[kind]}) QID ${q.qid} timeout`);
    if (this.state === 'live') {
      this.errorRecovery();
      return;
    }
    this.initiator.network.disconnect(q.qp);
    q.fail(cid);
  }

  /**
   * Starts error recovery: the controller goes `resetting` and the recovery work is queued
   * (a zero-delay timer, as the model runs work items).
   * @kernel nvme_rdma_error_recovery
   */
  private errorRecovery(): void {
    if (this.state !== 'live') return;
    this.state = 'resetting';
    this.warn('starting error recovery');
    this.recoveryWork = this.initiator.clock.schedule(0, () => this.errorRecoveryWork());
  }

  /**
   * The recovery work: stops keep-alive, disconnects every queue (I/O queues, then admin; the
   * target frees its queues on the CM disconnect), cancels every command still in flight
   * (`lost`) and leaves the controller `failed` (no reconnect in the model).
   * @kernel nvme_rdma_error_recovery_work / nvme_rdma_teardown_io_queues /
   *   nvme_rdma_teardown_admin_queue / nvme_cancel_request
   */
  private errorRecoveryWork(): void {
    this.recoveryWork = null;
    if (this.state !== 'resetting') return;
    this.teardown();
    this.state = 'failed';
  }

  /** Stops keep-alive and the queue timers, disconnects every QP, then fails what is in flight. */
  private teardown(): void {
    const clock = this.initiator.clock;
    if (this.kaTimer !== null) clock.cancel(this.kaTimer);
    this.kaTimer = null;
    if (this.recoveryWork !== null) clock.cancel(this.recoveryWork);
    this.recoveryWork = null;
    const queues = [...this.ioQueues, this.admin].filter((q): q is NvmfHostQueue => q !== null);
    // rdma_disconnect (and the drain) before the cancel: the target can no longer touch a
    // buffer once the host reuses it.
    for (const q of queues) {
      q.stopTimer();
      this.initiator.network.disconnect(q.qp);
    }
    for (const q of queues) q.failAll();
  }

  /**
   * Submits a command on a queue without waiting.
   * @param qid 0 for admin, 1.. for I/O queues.
   * @param cmd the command.
   * @param data write data or the read length.
   * @returns the handle (lost at once when the queue is gone or full).
   * @throws RangeError for a queue that does not exist, or when the host's memory cannot hold the data.
   */
  submit(qid: number, cmd: NvmeCommand, data: { write?: Uint8Array; readLen?: number } | null = null): NvmfIo {
    const q = qid === 0 ? this.admin : this.ioQueues[qid - 1];
    if (q === undefined || q === null) throw new RangeError(`initiator: no queue ${qid} (admin 0, I/O 1..${this.ioQueues.length})`);
    return q.submit(cmd, data);
  }

  /**
   * Runs the clock until every handle is done. A command the target does not answer times out
   * on its queue's timer (at most `timeoutNs` after its submit) and error recovery reports it
   * `lost`, so a wait ends within `timeoutNs` of virtual time. Handles the request timeout does
   * not cover (the Asynchronous Event Request) and still in flight by then are reported lost
   * here, once, without touching the connection.
   * @param ios the handles.
   * @returns their results, in order.
   */
  wait(ios: readonly NvmfIo[]): NvmfCompletionResult[] {
    const clock = this.initiator.clock;
    const limit = clock.now() + this.initiator.timeoutNs;
    let i = 0;
    while (clock.now() <= limit) {
      while (i < ios.length && ios[i]!.done) i++;
      if (i === ios.length || !clock.runNext()) break;
    }
    while (i < ios.length && ios[i]!.done) i++;
    if (i < ios.length) for (const q of [this.admin, ...this.ioQueues]) q?.failIos(ios);
    return ios.map((io) => io.result ?? { cqe: null, lost: true, data: null });
  }

  /**
   * Submits and waits.
   * @param qid queue.
   * @param cmd command.
   * @param data write data or read length.
   * @returns the result.
   */
  run(qid: number, cmd: NvmeCommand, data: { write?: Uint8Array; readLen?: number } | null = null): NvmfCompletionResult {
    return this.wait([this.submit(qid, cmd, data)])[0]!;
  }

  /**
   * Reads logical blocks.
   * @param nsid namespace.
   * @param slba first LBA.
   * @param nlb number of LBAs.
   * @param qid I/O queue (default 1).
   * @returns the result (data on success).
   * @throws RangeError for an unknown namespace or queue.
   */
  read(nsid: number, slba: number, nlb: number, qid = 1): NvmfCompletionResult {
    return this.run(qid, nvmeRwCommand({ write: false, nsid, slba, nlb }), { readLen: nlb * this.lbaSize(nsid) });
  }

  /**
   * Writes logical blocks.
   * @param nsid namespace.
   * @param slba first LBA.
   * @param data whole blocks.
   * @param qid I/O queue (default 1).
   * @returns the result.
   * @throws RangeError for an unknown namespace or queue, or data that is not whole blocks.
   */
  write(nsid: number, slba: number, data: Uint8Array, qid = 1): NvmfCompletionResult {
    const lba = this.lbaSize(nsid);
    if (data.length === 0 || data.length % lba !== 0) throw new RangeError(`initiator: write of ${data.length} bytes to namespace ${nsid} is not whole ${lba}-byte blocks`);
    return this.run(qid, nvmeRwCommand({ write: true, nsid, slba, nlb: data.length / lba }), { write: data });
  }

  /**
   * Flushes a namespace.
   * @param nsid namespace.
   * @param qid I/O queue (default 1).
   * @returns the result.
   */
  flush(nsid: number, qid = 1): NvmfCompletionResult {
    return this.run(qid, nvmeSimpleCommand(nvme_cmd_flush, nsid));
  }

  /**
   * Rescans the namespaces (active list + Identify Namespace each).
   * @returns the NSIDs found.
   */
  scanNamespaces(): number[] {
    const list = this.run(0, nvmeIdentifyCommand(NVME_ID_CNS_NS_ACTIVE_LIST, 0), { readLen: NVME_IDENTIFY_DATA_SIZE });
    if (list.cqe === null || list.cqe.status !== 0 || list.data === null) return [];
    const nsids = nvmeDecodeNsList(list.data);
    this.namespaces.clear();
    for (const nsid of nsids) {
      const id = this.run(0, nvmeIdentifyCommand(NVME_ID_CNS_NS, nsid), { readLen: NVME_IDENTIFY_DATA_SIZE });
      if (id.cqe === null || id.cqe.status !== 0 || id.data === null) continue;
      const ns = nvmeDecodeIdNs(id.data);
      this.namespaces.set(nsid, { nsid, nsze: ns.nsze, lbaSize: 2 ** ns.lbaDs });
    }
    return nsids;
  }

  /**
   * Disconnects every queue (`nvme disconnect`): the target is told through RDMA CM.
   * @kernel nvme_rdma_delete_ctrl (host)
   */
  disconnect(): void {
    if (this.state === 'deleted') return;
    this.state = 'deleted';
    this.teardown();
    this.initiator.releaseInstance(this.instance);
  }

  private lbaSize(nsid: number): number {
    const ns = this.namespaces.get(nsid);
    if (ns === undefined) throw new RangeError(`initiator: namespace ${nsid} is not known (known: ${[...this.namespaces.keys()].join(', ') || 'none'})`);
    return ns.lbaSize;
  }

  /** @internal keep-alive every kato / 2. @kernel nvme_keep_alive_work */
  startKeepAlive(katoSec: number): void {
    if (katoSec === 0) return;
    const period = (katoSec * 1e9) / 2;
    const tick = () => {
      this.kaTimer = null;
      if (this.state !== 'live' || this.admin === null || !this.admin.alive) return;
      this.admin.submit(nvmeSimpleCommand(nvme_admin_keep_alive), null);
      this.kaTimer = this.initiator.clock.schedule(period, tick);
    };
    this.kaTimer = this.initiator.clock.schedule(period, tick);
  }

  /** @internal one AER outstanding; a namespace notice reads the log and rescans. @kernel nvme_async_event_work */
  startAen(): void {
    this.aen = true;
    this.postAer();
  }

  private postAer(): void {
    if (!this.aen || this.state !== 'live' || this.admin === null) return;
    // No request timeout: the kernel posts the AER outside blk-mq (nvme_rdma_submit_async_event).
    this.admin.submit(nvmeSimpleCommand(nvme_admin_async_event), null, (r) => {
      if (r.cqe === null || r.cqe.status !== 0) return;
      this.asyncEvents.push(r.cqe.result);
      const type = r.cqe.result & 0x7;
      const info = (r.cqe.result >>> 8) & 0xff;
      const lid = (r.cqe.result >>> 16) & 0xff;
      if (type === NVME_AER_TYPE_NOTICE && info === NVME_AER_NOTICE_NS_CHANGED) {
        const after = () => {
          this.scanNamespacesAsync();
          this.postAer();
        };
        if (lid === NVME_LOG_CHANGED_NS) {
          this.admin!.submit(nvmeGetLogPageCommand(NVME_LOG_CHANGED_NS, NVME_MAX_CHANGED_NAMESPACES * 4), { readLen: NVME_MAX_CHANGED_NAMESPACES * 4 }, after);
        } else after();
      } else this.postAer();
    }, false);
  }

  private scanNamespacesAsync(): void {
    this.admin?.submit(nvmeIdentifyCommand(NVME_ID_CNS_NS_ACTIVE_LIST, 0), { readLen: NVME_IDENTIFY_DATA_SIZE }, (r) => {
      if (r.cqe === null || r.cqe.status !== 0 || r.data === null) return;
      const nsids = nvmeDecodeNsList(r.data);
      for (const nsid of [...this.namespaces.keys()]) if (!nsids.includes(nsid)) this.namespaces.delete(nsid);
      for (const nsid of nsids) {
        this.admin?.submit(nvmeIdentifyCommand(NVME_ID_CNS_NS, nsid), { readLen: NVME_IDENTIFY_DATA_SIZE }, (id) => {
          if (id.cqe === null || id.cqe.status !== 0 || id.data === null) return;
          const ns = nvmeDecodeIdNs(id.data);
          this.namespaces.set(nsid, { nsid, nsze: ns.nsze, lbaSize: 2 ** ns.lbaDs });
        });
      }
    });
  }
}

/**
 * The host side: connects controllers over RDMA.
 * @kernel nvme-rdma / nvme-fabrics (host)
 */
export class NvmfInitiator {
  /** The host machine. */
  readonly host: RemoteHost;
  /** The network. */
  readonly network: RdmaCmNetwork;
  /** The shared clock. */
  readonly clock: VirtualClock;
  /** Host NQN. */
  readonly hostnqn: string;
  /** Keep-alive timeout in seconds. */
  readonly kato: number;
  /** The request timeout in virtual ns (see `NVMF_DEFAULT_TIMEOUT_NS`). */
  readonly timeoutNs: number;
  /** The host's kernel log: timeouts and error recovery (`nvme nvme0: ...`). */
  readonly log: KernelLog;
  private readonly memory: HostMemory;
  private readonly mr: RemoteMr;
  private readonly instances = new Set<number>();

  /**
   * @param opts the host, network, clock, identity, timeout and log.
   * @throws RangeError naming `timeoutNs` when it is not a positive finite number.
   * @throws KernelBug when the host's memory cannot be registered.
   */
  constructor(opts: NvmfInitiatorOptions) {
    const timeoutNs = opts.timeoutNs ?? NVMF_DEFAULT_TIMEOUT_NS;
    if (!(Number.isFinite(timeoutNs) && timeoutNs > 0)) throw new RangeError(`initiator ${opts.host.name}: timeoutNs ${timeoutNs}: expected a positive number of nanoseconds`);
    this.host = opts.host;
    this.network = opts.network;
    this.clock = opts.clock;
    this.hostnqn = opts.hostnqn ?? `nqn.2014-08.org.nvmexpress:uuid:${opts.host.name}`;
    this.kato = opts.kato ?? NVME_DEFAULT_KATO;
    this.timeoutNs = timeoutNs;
    this.log = opts.log ?? new KernelLog(opts.clock);
    this.memory = new HostMemory(opts.host.memory.length);
    const mr = opts.host.regMr(0, opts.host.memory.length, IB_ACCESS_LOCAL_WRITE | IB_ACCESS_REMOTE_READ | IB_ACCESS_REMOTE_WRITE);
    if (isErr(mr)) throw new KernelBug(`initiator ${opts.host.name}: cannot register its memory (${mr})`);
    this.mr = mr;
  }

  /**
   * Bytes of the host's memory held by commands in flight (data buffers), for leak checks.
   * @returns the count (0 once every command completed or was reported lost).
   */
  hostMemoryInUse(): number {
    return this.memory.inUse();
  }

  /**
   * Connects a controller: admin queue, enable, Identify, I/O queues, namespaces, keep-alive.
   * @param opts address, subsystem, queues.
   * @returns the controller, or why it failed (the queues made so far are disconnected).
   * @kernel nvme_rdma_create_ctrl / nvme_rdma_setup_ctrl (host)
   */
  connect(opts: NvmfConnectOptions): NvmfController | NvmfConnectError {
    let instance = 0;
    while (this.instances.has(instance)) instance++;
    this.instances.add(instance);
    const ctrl = new NvmfController(this, opts, this.memory, this.mr, instance);
    const svcid = opts.trsvcid ?? NVME_RDMA_IP_PORT;
    const fail = (e: NvmfConnectError): NvmfConnectError => {
      ctrl.disconnect();
      return e;
    };
    const admin = this.connectQueue(ctrl, 0, NVME_AQ_DEPTH, opts.traddr, svcid);
    if ('error' in admin) return fail(admin);
    ctrl.admin = admin;
    const c = ctrl.run(0, nvmfConnectCommand({ qid: 0, sqsize: NVME_AQ_DEPTH - 1, kato: this.kato * 1000 }), { write: this.connectData(opts.subsysnqn, NVME_CNTLID_DYNAMIC) });
    if (c.cqe === null || c.cqe.status !== 0) return fail({ error: `admin Connect to ${opts.subsysnqn} failed`, ...(c.cqe ? { status: c.cqe.status } : {}) });
    ctrl.cntlid = c.cqe.result & 0xffff;
    const steps: [string, NvmeCommand][] = [
      ['Property Get CAP', nvmfPropertyGetCommand(NVME_REG_CAP, true)],
      ['Property Set CC', nvmfPropertySetCommand(NVME_REG_CC, NVME_CC_ENABLE_NVM)],
    ];
    for (const [what, cmd] of steps) {
      const r = ctrl.run(0, cmd);
      if (r.cqe === null || r.cqe.status !== 0) return fail({ error: `${what} failed`, ...(r.cqe ? { status: r.cqe.status } : {}) });
    }
    const csts = ctrl.run(0, nvmfPropertyGetCommand(NVME_REG_CSTS, false));
    if (csts.cqe === null || (csts.cqe.result & NVME_CSTS_RDY) === 0) return fail({ error: 'controller did not become ready (CSTS.RDY = 0)' });
    const id = ctrl.run(0, nvmeIdentifyCommand(NVME_ID_CNS_CTRL, 0), { readLen: NVME_IDENTIFY_DATA_SIZE });
    if (id.cqe === null || id.cqe.status !== 0 || id.data === null) return fail({ error: 'Identify Controller failed' });
    ctrl.idCtrl = nvmeDecodeIdCtrl(id.data);
    const nrIo = opts.nrIoQueues ?? 1;
    const nq = ctrl.run(0, nvmeSetFeaturesCommand(NVME_FEAT_NUM_QUEUES, ((nrIo - 1) << 16) | (nrIo - 1)));
    if (nq.cqe === null || nq.cqe.status !== 0) return fail({ error: 'Set Features (Number of Queues) failed' });
    const granted = Math.min(nrIo, (nq.cqe.result & 0xffff) + 1);
    const icd = (ctrl.idCtrl.sgls & NVME_CTRL_SGLS.inCapsuleOffset) !== 0 ? Math.max(0, ctrl.idCtrl.ioccsz * 16 - NVME_COMMAND_SIZE) : 0;
    const depth = opts.queueSize ?? NVMF_DEF_QUEUE_SIZE;
    for (let qid = 1; qid <= granted; qid++) {
      const q = this.connectQueue(ctrl, qid, depth, opts.traddr, svcid);
      if ('error' in q) return fail(q);
      q.inlineSize = icd;
      ctrl.ioQueues.push(q);
      const r = ctrl.run(qid, nvmfConnectCommand({ qid, sqsize: depth - 1, kato: 0 }), { write: this.connectData(opts.subsysnqn, ctrl.cntlid) });
      if (r.cqe === null || r.cqe.status !== 0) return fail({ error: `I/O queue ${qid} Connect failed`, ...(r.cqe ? { status: r.cqe.status } : {}) });
    }
    ctrl.state = 'live';
    ctrl.scanNamespaces();
    if (ctrl.state !== 'live') return fail({ error: 'namespace scan failed: the controller entered error recovery' });
    ctrl.startKeepAlive(this.kato);
    if (opts.aen !== false) ctrl.startAen();
    return ctrl;
  }

  /** @internal frees a controller instance number (`nvme<N>`). @param n the instance. */
  releaseInstance(n: number): void {
    this.instances.delete(n);
  }

  private connectData(subsysnqn: string, cntlid: number): Uint8Array {
    const d = nvmfEncodeConnectData({ hostid: new Uint8Array(16), cntlid, subsysnqn, hostnqn: this.hostnqn });
    if (d.length !== NVMF_CONNECT_DATA_SIZE) throw new KernelBug('connect data size');
    return d;
  }

  private connectQueue(ctrl: NvmfController, qid: number, depth: number, traddr: string, svcid: string): NvmfHostQueue | NvmfConnectError {
    const priv = nvmeRdmaEncodeCmReq({ recfmt: NVME_RDMA_CM_FMT_1_0, qid, hrqsize: depth, hsqsize: depth - 1 });
    const r = this.network.connect(this.host, traddr, svcid, priv);
    if (isErr(r)) return { error: `rdma_connect to ${traddr}:${svcid} failed (${r})`, errno: r };
    if ('reject' in r) {
      const sts = r.reject.length >= 4 ? new DataView(r.reject.buffer, r.reject.byteOffset).getUint16(2, true) : 0;
      return { error: `rdma_connect to ${traddr}:${svcid} rejected (NVMe/RDMA status ${sts})`, errno: err('ECONNRESET') };
    }
    return new NvmfHostQueue(ctrl, qid, r.qp, depth);
  }
}


/** NVMe definitions shared with the host driver (include/linux/nvme.h), re-exported. */
export { NVME_AQ_DEPTH };