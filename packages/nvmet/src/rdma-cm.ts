/**
 * The address side of the RDMA connection manager, which the RDMA package reduces to its outcome
 * (`rdmaConnect`): IP addresses configured on RDMA ports, listening IDs bound to an address and
 * port number, and connection requests carrying private data that the listener accepts (with a
 * QP and its own private data) or rejects.
 *
 * One `RdmaCmNetwork` is one IP network: the target's RDMA ports have addresses on it and remote
 * hosts connect to them. A listener on `0.0.0.0` (or `::`) takes connections to any address of
 * the network with its port number; a specific address must be configured on an RDMA port
 * (`rdma_bind_addr`: `-EADDRNOTAVAIL`).
 *
 * @kernel drivers/infiniband/core/cma.c (rdma_bind_addr, rdma_listen, rdma_connect,
 *   rdma_accept, rdma_reject, rdma_disconnect), include/linux/nvme-rdma.h (struct
 *   nvme_rdma_cm_req, nvme_rdma_cm_rep, nvme_rdma_cm_rej)
 */
import type { KResult, NegErrno } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import type { IbDevice, IbQp, RemoteHost, RemoteQp } from '@p2pdma/rdma-rw';
import { rdmaConnect } from '@p2pdma/rdma-rw';

/** NVMe/RDMA CM record format 1.0. @kernel NVME_RDMA_CM_FMT_1_0 */
export const NVME_RDMA_CM_FMT_1_0 = 0x0;
/** Reject: invalid private data length. @kernel NVME_RDMA_CM_INVALID_LEN */
export const NVME_RDMA_CM_INVALID_LEN = 0x01;
/** Reject: invalid record format. @kernel NVME_RDMA_CM_INVALID_RECFMT */
export const NVME_RDMA_CM_INVALID_RECFMT = 0x02;
/** Reject: invalid host receive queue size. @kernel NVME_RDMA_CM_INVALID_HRQSIZE */
export const NVME_RDMA_CM_INVALID_HRQSIZE = 0x05;
/** Reject: no resources. @kernel NVME_RDMA_CM_NO_RSC */
export const NVME_RDMA_CM_NO_RSC = 0x06;
/** Bytes of the connect request private data. @kernel sizeof(struct nvme_rdma_cm_req) */
export const NVME_RDMA_CM_REQ_SIZE = 32;
/** The RDMA/NVMe well-known port number. */
export const NVME_RDMA_IP_PORT = '4420';

/**
 * The private data of an NVMe/RDMA connect request.
 * @kernel struct nvme_rdma_cm_req
 */
export interface NvmeRdmaCmReq {
  /** Record format (`NVME_RDMA_CM_FMT_1_0`). */
  readonly recfmt: number;
  /** Queue ID (0: admin). */
  readonly qid: number;
  /** Host receive queue size (the responses the host can take). */
  readonly hrqsize: number;
  /** Host send queue size, 0 based (the commands the host may have outstanding). */
  readonly hsqsize: number;
}

/**
 * Encodes a connect request's private data.
 * @param r the fields.
 * @returns 32 bytes.
 */
export function nvmeRdmaEncodeCmReq(r: NvmeRdmaCmReq): Uint8Array {
  const b = new Uint8Array(NVME_RDMA_CM_REQ_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, r.recfmt, true);
  dv.setUint16(2, r.qid, true);
  dv.setUint16(4, r.hrqsize, true);
  dv.setUint16(6, r.hsqsize, true);
  return b;
}

/**
 * Decodes a connect request's private data.
 * @param b the private data.
 * @returns the fields, or `null` when it is shorter than the structure.
 */
export function nvmeRdmaDecodeCmReq(b: Uint8Array): NvmeRdmaCmReq | null {
  if (b.length < NVME_RDMA_CM_REQ_SIZE) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  return { recfmt: dv.getUint16(0, true), qid: dv.getUint16(2, true), hrqsize: dv.getUint16(4, true), hsqsize: dv.getUint16(6, true) };
}

/** A connect request as a listener sees it. @kernel RDMA_CM_EVENT_CONNECT_REQUEST */
export interface RdmaCmConnectRequest {
  /** The RDMA device owning the address connected to. @kernel cm_id->device */
  readonly ibdev: IbDevice;
  /** Its port. @kernel cm_id->port_num */
  readonly portNum: number;
  /** The connecting host. */
  readonly host: RemoteHost;
  /** The request's private data. */
  readonly privateData: Uint8Array;
}

/** A listener's answer. */
export type RdmaCmAnswer =
  | {
      /** The local QP to connect (RESET or INIT), for `rdma_accept`. */
      readonly accept: IbQp;
      /** Private data of the reply. */
      readonly privateData: Uint8Array;
      /** Called once the connection is up. @kernel RDMA_CM_EVENT_ESTABLISHED */
      readonly established: () => void;
    }
  | {
      /** Private data of the reject (`rdma_reject`). */
      readonly reject: Uint8Array;
    };

/** A listening ID's callbacks. */
export interface RdmaCmListener {
  /**
   * A host asks to connect.
   * @param req the request.
   * @returns accept or reject.
   * @kernel RDMA_CM_EVENT_CONNECT_REQUEST
   */
  connectRequest(req: RdmaCmConnectRequest): RdmaCmAnswer;
  /**
   * The host disconnected a connection this listener accepted.
   * @param qp the local QP of that connection.
   * @kernel RDMA_CM_EVENT_DISCONNECTED
   */
  disconnected(qp: IbQp): void;
}

/** What `connect` returns on success. */
export interface RdmaCmConnection {
  /** The host's QP, connected to the target's. */
  readonly qp: RemoteQp;
  /** The reply's private data. */
  readonly privateData: Uint8Array;
}

interface Connection {
  readonly local: IbQp;
  readonly listener: RdmaCmListener;
}

/** The wildcard addresses a listener may bind. */
const WILDCARDS: ReadonlySet<string> = new Set(['0.0.0.0', '::']);

/**
 * One IP network with RDMA ports on it.
 */
export class RdmaCmNetwork {
  private readonly addrs = new Map<string, { ibdev: IbDevice; portNum: number }>();
  private readonly listeners = new Map<string, RdmaCmListener>();
  private readonly conns = new Map<RemoteQp, Connection>();

  /**
   * Configures an address on an RDMA port (`ip addr add` on its network interface).
   * @param ibdev the device.
   * @param addr the IP address.
   * @param portNum the port (default 1).
   * @returns `0`, or `-EADDRINUSE` when the address is configured already, `-EINVAL` for a
   *   wildcard address or a port the device does not have.
   */
  addAddress(ibdev: IbDevice, addr: string, portNum = 1): KResult {
    if (WILDCARDS.has(addr) || ibdev.port(portNum) === null) return err('EINVAL');
    if (this.addrs.has(addr)) return err('EADDRINUSE');
    this.addrs.set(addr, { ibdev, portNum });
    return 0;
  }

  /**
   * The RDMA port an address is configured on.
   * @param addr the IP address.
   * @returns the device and port, or `null`.
   */
  lookup(addr: string): { readonly ibdev: IbDevice; readonly portNum: number } | null {
    return this.addrs.get(addr) ?? null;
  }

  /**
   * Binds and listens (`rdma_bind_addr` + `rdma_listen`).
   * @param addr an address configured on an RDMA port, or a wildcard.
   * @param svcid the port number (`4420`).
   * @param listener the callbacks.
   * @returns `0`; `-EADDRNOTAVAIL` for an address no RDMA port has; `-EADDRINUSE` when the
   *   address and port are bound already (a wildcard conflicts with every address).
   */
  listen(addr: string, svcid: string, listener: RdmaCmListener): KResult {
    if (!WILDCARDS.has(addr) && !this.addrs.has(addr)) return err('EADDRNOTAVAIL');
    for (const key of this.listeners.keys()) {
      const [a, s] = splitKey(key);
      if (s === svcid && (a === addr || WILDCARDS.has(a) || WILDCARDS.has(addr))) return err('EADDRINUSE');
    }
    this.listeners.set(`${addr}|${svcid}`, listener);
    return 0;
  }

  /**
   * Stops listening (`rdma_destroy_id` of the listening ID). Accepted connections stay.
   * @param addr the bound address.
   * @param svcid the port number.
   */
  unlisten(addr: string, svcid: string): void {
    this.listeners.delete(`${addr}|${svcid}`);
  }

  /**
   * Connects a host to `addr:svcid` (`rdma_resolve_addr`, `rdma_connect`).
   * @param host the connecting host.
   * @param addr the target address.
   * @param svcid the port number.
   * @param privateData the request's private data.
   * @returns the connection; `{ reject }` with the listener's private data; `-EHOSTUNREACH`
   *   for an address no RDMA port has; `-ECONNREFUSED` when nothing listens there; or the
   *   errno of `rdmaConnect`.
   */
  connect(host: RemoteHost, addr: string, svcid: string, privateData: Uint8Array): RdmaCmConnection | { readonly reject: Uint8Array } | NegErrno {
    const where = this.addrs.get(addr);
    if (where === undefined) return err('EHOSTUNREACH');
    const listener = this.listeners.get(`${addr}|${svcid}`) ?? [...WILDCARDS].map((w) => this.listeners.get(`${w}|${svcid}`)).find((l) => l !== undefined);
    if (listener === undefined) return err('ECONNREFUSED');
    const ans = listener.connectRequest({ ibdev: where.ibdev, portNum: where.portNum, host, privateData: privateData.slice() });
    if ('reject' in ans) return { reject: ans.reject };
    const remote = host.createQp();
    const rc = rdmaConnect(ans.accept, remote);
    if (rc !== 0) return rc;
    this.conns.set(remote, { local: ans.accept, listener });
    ans.established();
    return { qp: remote, privateData: ans.privateData };
  }

  /**
   * The host disconnects (`rdma_disconnect`): the target's listener is told.
   * @param qp the host's QP of the connection.
   * @returns `0`, or `-ENOTCONN` for a QP this network did not connect (or disconnected already).
   */
  disconnect(qp: RemoteQp): KResult {
    const c = this.conns.get(qp);
    if (c === undefined) return err('ENOTCONN');
    this.conns.delete(qp);
    c.listener.disconnected(c.local);
    return 0;
  }

  /**
   * Forgets a connection the target tore down itself (its QP was destroyed).
   * @param local the target's QP.
   */
  forget(local: IbQp): void {
    for (const [remote, c] of this.conns) if (c.local === local) this.conns.delete(remote);
  }
}

function splitKey(key: string): [string, string] {
  const i = key.lastIndexOf('|');
  return [key.slice(0, i), key.slice(i + 1)];
}
