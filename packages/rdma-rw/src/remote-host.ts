/**
 * The other end of the wire: a remote host with its own memory (plain bytes, not a modelled
 * kernel), memory regions it exposes by rkey, and queue pairs connected to local QPs.
 *
 * The remote side is the responder of the local RNIC's RDMA READ and WRITE: it checks every
 * access against its registered regions (rkey known, range inside the region, remote read or
 * write permitted) before any byte moves, and refuses with a remote access error otherwise. It
 * also sends and receives SENDs (an NVMe-oF initiator's commands and the target's responses).
 *
 * Counters count data bytes crossing the wire per direction: `rxBytes` into this host,
 * `txBytes` out of it (packet headers, ACKs and NAKs are not counted).
 *
 * @kernel — (the peer an RC connection reaches: another machine's HCA and memory)
 */
import type { KResult, NegErrno } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import type { IbQp } from './ib-qp';
import { IB_ACCESS_ALL } from './ib-mr';
import { remoteSend } from './internal/engine';

/** A memory region the remote host registered. */
export interface RemoteMr {
  /** First byte (an address in the remote host's memory). */
  readonly addr: number;
  /** Bytes. */
  readonly length: number;
  /** The key peers quote to access it. */
  readonly rkey: number;
  /** `IB_ACCESS_*` bits. */
  readonly access: number;
}

/** Why a remote access was refused, for logs and tests. */
export type RemoteAccessError = 'unknown rkey' | 'out of bounds' | 'access not permitted';

/** Data bytes that crossed the wire to and from one remote host. */
export interface RemoteHostCounters {
  /** Bytes the host received (RDMA WRITE data, SENDs to it). */
  rxBytes: number;
  /** Bytes the host sent (RDMA READ responses, its SENDs). */
  txBytes: number;
  /** Accesses it refused with a remote access error. */
  accessErrors: number;
}

/** Construction options of a `RemoteHost`. */
export interface RemoteHostOptions {
  /** Name for messages (`'initiator0'`). */
  readonly name: string;
  /** Size of its memory in bytes (positive integer; the bytes are allocated up front). */
  readonly memoryBytes: number;
}

/**
 * A remote host.
 */
export class RemoteHost {
  /** Its name. */
  readonly name: string;
  /** Its memory, addressed from 0. */
  readonly memory: Uint8Array;
  /** Wire counters; see `RemoteHostCounters`. */
  readonly counters: RemoteHostCounters = { rxBytes: 0, txBytes: 0, accessErrors: 0 };
  private readonly mrs = new Map<number, RemoteMr>();
  private nextMrIndex = 1;
  private nextQpn = 0x40;

  /**
   * @param opts name and memory size.
   * @throws RangeError naming the option for a size that is not a positive safe integer.
   */
  constructor(opts: RemoteHostOptions) {
    if (!Number.isSafeInteger(opts.memoryBytes) || opts.memoryBytes <= 0) {
      throw new RangeError(`RemoteHost ${opts.name}: memoryBytes ${opts.memoryBytes} must be a positive integer`);
    }
    this.name = opts.name;
    this.memory = new Uint8Array(opts.memoryBytes);
  }

  /**
   * Registers a region of the host's memory.
   * @param addr first byte.
   * @param length bytes (> 0).
   * @param access `IB_ACCESS_*` bits.
   * @returns the region with its rkey, or `-EINVAL` for a range outside the memory, a zero or
   *   non-integer length, or unknown access bits.
   * @kernel ib_reg_mr (on the remote machine)
   */
  regMr(addr: number, length: number, access: number): RemoteMr | NegErrno {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length) || addr < 0 || length <= 0 || addr + length > this.memory.length) return err('EINVAL');
    if (!Number.isInteger(access) || (access & ~IB_ACCESS_ALL) !== 0) return err('EINVAL');
    const rkey = ((this.nextMrIndex++ << 8) | 0x5a) >>> 0;
    const mr: RemoteMr = { addr, length, rkey, access };
    this.mrs.set(rkey, mr);
    return mr;
  }

  /**
   * Deregisters a region: its rkey stops working.
   * @param mr the region.
   * @returns `0`, or `-EINVAL` when it is not registered (twice, or another host's).
   * @kernel ib_dereg_mr
   */
  deregMr(mr: RemoteMr): KResult {
    if (this.mrs.get(mr.rkey) !== mr) return err('EINVAL');
    this.mrs.delete(mr.rkey);
    return 0;
  }

  /**
   * The responder's check of an incoming RDMA access. A zero-length access needs no valid key.
   * @param rkey the key in the request.
   * @param addr the remote address.
   * @param length bytes.
   * @param access the `IB_ACCESS_REMOTE_*` bit the operation needs.
   * @returns `null` when allowed, else the reason (the access is counted in `accessErrors`).
   */
  checkAccess(rkey: number, addr: number, length: number, access: number): RemoteAccessError | null {
    if (length === 0) return null;
    const mr = this.mrs.get(rkey);
    let why: RemoteAccessError | null = null;
    if (mr === undefined) why = 'unknown rkey';
    else if (addr < mr.addr || addr + length > mr.addr + mr.length) why = 'out of bounds';
    else if ((mr.access & access) === 0) why = 'access not permitted';
    if (why !== null) this.counters.accessErrors++;
    return why;
  }

  /**
   * Copies bytes out of the host's memory (the host's CPU, or the responder of an RDMA READ).
   * @param addr first byte.
   * @param length bytes.
   * @returns a copy.
   * @throws RangeError naming the range when it is outside the memory.
   */
  read(addr: number, length: number): Uint8Array {
    this.checkRange(addr, length);
    return this.memory.slice(addr, addr + length);
  }

  /**
   * Copies bytes into the host's memory.
   * @param addr first byte.
   * @param data the bytes.
   * @throws RangeError naming the range when it is outside the memory.
   */
  write(addr: number, data: Uint8Array): void {
    this.checkRange(addr, data.length);
    this.memory.set(data, addr);
  }

  /**
   * Creates a queue pair on the host, to be connected to a local QP with `rdmaConnect`.
   * @returns the remote QP.
   */
  createQp(): RemoteQp {
    return new RemoteQp(this, this.nextQpn++);
  }

  private checkRange(addr: number, length: number): void {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length) || addr < 0 || length < 0 || addr + length > this.memory.length) {
      throw new RangeError(`RemoteHost ${this.name}: range ${addr}+${length} is outside its ${this.memory.length}-byte memory`);
    }
  }
}

/**
 * A queue pair on a remote host. SENDs from the local QP land in `received` (and are handed to
 * `onReceive` if set); `postSend` sends to the local QP's receive queue.
 */
export class RemoteQp {
  /** The local QP it is connected to, or `null`. */
  peer: IbQp | null = null;
  /** Messages received, oldest first (copies; the owner may clear the array). */
  readonly received: Uint8Array[] = [];
  /** Called with each message received, after it is appended to `received`. */
  onReceive: ((data: Uint8Array) => void) | null = null;

  /**
   * @param host the host.
   * @param qpNum its QP number.
   * @internal use `RemoteHost.createQp`.
   */
  constructor(
    readonly host: RemoteHost,
    readonly qpNum: number,
  ) {}

  /**
   * Sends a message to the connected local QP. It arrives after the wire latency plus its
   * serialization time; if no receive buffer is posted then, it waits for one (RNR retry is
   * infinite, as NVMe-oF hosts configure it).
   * @param data the message (copied).
   * @returns `0`, or `-ENOTCONN` when not connected.
   */
  postSend(data: Uint8Array): KResult {
    if (this.peer === null) return err('ENOTCONN');
    remoteSend(this.peer, data.slice());
    return 0;
  }

  /**
   * `postSend` for a message the caller built for this send alone and hands over: it is not
   * copied again (the caller must not touch it afterwards).
   * @param data the message (owned by the QP from now on).
   * @returns `0`, or `-ENOTCONN` when not connected.
   * @internal used by the NVMe-oF initiator, whose capsules are fresh per command.
   */
  postSendOwned(data: Uint8Array): KResult {
    if (this.peer === null) return err('ENOTCONN');
    remoteSend(this.peer, data);
    return 0;
  }

  /** @internal a SEND from the local QP arrived. */
  receive(data: Uint8Array): void {
    this.received.push(data);
    this.onReceive?.(data);
  }

  /** @internal the connection is gone (local QP destroyed). */
  disconnect(): void {
    this.peer = null;
  }
}
