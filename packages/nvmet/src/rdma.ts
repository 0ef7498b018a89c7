/**
 * The NVMe over Fabrics RDMA transport of the target (`nvmet-rdma`): listening on a port's
 * address, one RC queue pair per host queue, command capsules received into System RAM
 * buffers (64-byte SQE plus the in-capsule data pages on I/O queues), data moved by RDMA READ
 * (host writes) and RDMA WRITE (host reads) through the RDMA read/write API, responses sent back
 * as 16-byte completions.
 *
 * Data buffers (`nvmet_rdma_map_sgl_keyed`): keyed SGL data descriptors get a buffer from
 * `nvmetReqAllocSgls`: on I/O queues (QID ≠ 0) from the P2P device the policy picked (seed:
 * the controller's p2pmem; 6.6: the namespace's), else, or when p2pmem is exhausted, from
 * System RAM. With p2pmem the RDMA device DMAs straight into the provider's BAR; the seed passes
 * `RDMA_RW_CTX_FLAG_PCI_P2PDMA` to `rdma_rw_ctx_init` and to the release path's
 * `rdma_rw_ctx_destroy` (6.6 decides from the pages). Small writes come in-capsule (offset
 * descriptors, up to the port's inline size; always System RAM).
 *
 * Seed finding, reproduced: patch 10 changed the `rdma_rw_ctx_destroy` of the release path but
 * not the one in `nvmet_rdma_read_data_done`, which patch 06 had given flags 0. Every host write
 * into p2pmem therefore has its RDMA READ context destroyed through the DMA API: with DMA-API
 * debugging that is `device driver tries to free DMA memory it has not allocated` per command
 * (harmless with direct DMA; with an IOMMU the kernel would unmap IOVAs it never mapped).
 *
 * Queues are processed on the kernel's virtual clock (the CQ runs its callbacks as completions
 * arrive). Not modelled: SRQs, `SEND_WITH_INV` (a descriptor asking for invalidation is
 * answered with a plain SEND), T10-PI, the 6.6 port repair work.
 *
 * @kernel drivers/nvme/target/rdma.c (4.16 + seed patch 10; 6.6)
 */
import type { DmaDirection, Kernel, KResult, NegErrno, P2pdmaPolicy, Scatterlist } from '@p2pdma/kernel';
import {
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaMapSingle,
  dmaMappingError,
  dmaUnmapSingle,
  err,
  isErr,
  kstrtouint,
  PAGE_SIZE,
  physToPage,
  physToVirt,
  sgAllocTable,
  sgSetPage,
} from '@p2pdma/kernel';
import type { IbCq, IbDevice, IbPd, IbQp, IbRecvWr, IbSendWr, IbWc } from '@p2pdma/rdma-rw';
import {
  IB_POLL_WORKQUEUE,
  IB_QPS_ERR,
  IB_QPS_INIT,
  IB_QPT_RC,
  IB_SEND_SIGNALED,
  IB_SIGNAL_REQ_WR,
  IB_WC_SUCCESS,
  IB_WC_WR_FLUSH_ERR,
  IB_WR_SEND,
  ibAllocCq,
  ibAllocPd,
  ibCreateQp,
  ibDestroyQp,
  ibFreeCq,
  ibModifyQp,
  ibPostRecv,
  ibPostSend,
  ibWcStatusMsg,
  RDMA_RW_CTX_FLAG_PCI_P2PDMA,
  RdmaRwCtx,
  rdmaRwCtxDestroy,
  rdmaRwCtxInit,
  rdmaRwCtxPost,
  rdmaRwCtxWrs,
} from '@p2pdma/rdma-rw';
import type { NvmetCtrl } from './ctrl';
import { nvmetCtrlFatalError } from './ctrl';
import {
  NVME_COMMAND_SIZE,
  NVME_COMPLETION_SIZE,
  NVME_KEY_SGL_FMT_DATA_DESC,
  NVME_SGL_FMT_ADDRESS,
  NVME_SGL_FMT_DATA_DESC,
  NVME_SGL_FMT_INVALIDATE,
  NVME_SGL_FMT_OFFSET,
  NvmeCommand,
  nvmeIsWrite,
} from './nvme-command';
import { NVMF_ADDR_FAMILY_IP4, NVMF_ADDR_FAMILY_IP6, NVMF_TRTYPE_RDMA } from './nvme-fabrics';
import type { NvmeStatus } from './nvme-status';
import {
  NVME_SC_DATA_XFER_ERROR,
  NVME_SC_DNR,
  NVME_SC_INTERNAL,
  NVME_SC_INVALID_FIELD,
  NVME_SC_SGL_INVALID_OFFSET,
  NVME_SC_SGL_INVALID_TYPE,
} from './nvme-status';
import type { NvmetPort } from './port';
import type { RdmaCmAnswer, RdmaCmConnectRequest, RdmaCmListener, RdmaCmNetwork } from './rdma-cm';
import { NVME_RDMA_CM_FMT_1_0, NVME_RDMA_CM_INVALID_LEN, NVME_RDMA_CM_INVALID_RECFMT, NVME_RDMA_CM_NO_RSC, nvmeRdmaDecodeCmReq } from './rdma-cm';
import { NvmetCq, NvmetReq, NvmetSq, nvmetReqAllocSgls, nvmetReqComplete, nvmetReqExecute, nvmetReqFreeSgls, nvmetReqInit, nvmetReqUninit, nvmetSqDestroy, nvmetSqInit } from './req';
import type { NvmetTarget } from './target';
import type { NvmetFabricsOps } from './transport';
import { nvmetRegisterTransport } from './transport';

/** In-capsule data a port takes by default. @kernel NVMET_RDMA_DEFAULT_INLINE_DATA_SIZE */
export const NVMET_RDMA_DEFAULT_INLINE_DATA_SIZE = PAGE_SIZE;
/** Largest in-capsule data size (6.6 clamps to it). @kernel NVMET_RDMA_MAX_INLINE_DATA_SIZE */
export const NVMET_RDMA_MAX_INLINE_DATA_SIZE = Math.max(16384, PAGE_SIZE);
/** Response flag: the data came in the capsule. @kernel NVMET_RDMA_REQ_INLINE */
export const NVMET_RDMA_REQ_INLINE = 1 << 0;
/** Response flag: the host asked to invalidate its key. @kernel NVMET_RDMA_REQ_INVALIDATE_RKEY */
export const NVMET_RDMA_REQ_INVALIDATE_RKEY = 1 << 1;

/** What the two generations of nvmet-rdma do differently. */
export interface NvmetRdmaRules {
  /** The kernel. */
  readonly kernel: string;
  /** `rdma_rw_ctx_init` / release-path destroy flags for a buffer from `p2pDev` (or not). */
  readonly rwFlags: (p2p: boolean) => number;
  /** The destroy flags of `nvmet_rdma_read_data_done`. */
  readonly readDoneFlags: (p2p: boolean) => number;
  /** In-capsule data size of an I/O queue on a port. */
  readonly inlineSize: (port: NvmetPort) => number;
  /** Whether the port's `inline_data_size` is resolved (and clamped) when the port is enabled. */
  readonly resolvesPortInlineSize: boolean;
}

/**
 * nvmet-rdma per policy.
 * @kernel drivers/nvme/target/rdma.c of 4.16 + seed patches 06 and 10, and of Linux 6.6
 */
export const NVMET_RDMA_RULES: Readonly<Record<P2pdmaPolicy, NvmetRdmaRules>> = {
  v2: {
    kernel: '4.16 + seed patches 06 and 10',
    rwFlags: (p2p) => (p2p ? RDMA_RW_CTX_FLAG_PCI_P2PDMA : 0),
    readDoneFlags: () => 0,
    inlineSize: () => NVMET_RDMA_DEFAULT_INLINE_DATA_SIZE,
    resolvesPortInlineSize: false,
  },
  upstream: {
    kernel: 'Linux 6.6',
    rwFlags: () => 0,
    readDoneFlags: () => 0,
    inlineSize: (port) => Math.max(0, port.inlineDataSize),
    resolvesPortInlineSize: true,
  },
};

/** A buffer in System RAM mapped for the RDMA device. */
interface MappedBuf {
  readonly phys: number;
  readonly dma: number;
  readonly len: number;
}

/**
 * A receive buffer: the command capsule and, on I/O queues, the in-capsule data pages.
 * @kernel struct nvmet_rdma_cmd
 */
class NvmetRdmaCmd {
  readonly wr: IbRecvWr;
  constructor(
    readonly queue: NvmetRdmaQueue,
    readonly capsule: MappedBuf,
    readonly inline: readonly MappedBuf[],
  ) {
    const lkey = queue.pd.localDmaLkey;
    const sgList = [{ addr: capsule.dma, length: NVME_COMMAND_SIZE, lkey }, ...inline.map((b) => ({ addr: b.dma, length: b.len, lkey }))];
    this.wr = { next: null, wrCqe: { done: (cq, wc) => recvDone(this, cq, wc) }, sgList, numSge: sgList.length };
  }
}

/**
 * A response: the request, its completion buffer, its RDMA context.
 * @kernel struct nvmet_rdma_rsp
 */
class NvmetRdmaRsp {
  cmd: NvmetRdmaCmd | null = null;
  req: NvmetReq | null = null;
  nRdma = 0;
  flags = 0;
  invalidateRkey = 0;
  readonly rw = new RdmaRwCtx();
  /**
   * The response's SEND work request, built at its first response and reused after (it is
   * copied into the send queue at post time; the response is reused only after its SEND
   * completed). @kernel rsp->send_wr / rsp->send_sge / rsp->send_cqe
   */
  sendWr: IbSendWr | null = null;
  constructor(
    readonly queue: NvmetRdmaQueue,
    readonly resp: MappedBuf,
    readonly allocated: boolean,
  ) {}
}

/** Connection state. @kernel enum nvmet_rdma_queue_state */
export type NvmetRdmaQueueState = 'connecting' | 'live' | 'disconnecting';

/**
 * One host queue on the target.
 * @kernel struct nvmet_rdma_queue
 */
export class NvmetRdmaQueue {
  /** The transport. */
  readonly transport: NvmetRdmaTransport;
  /** The port the host connected through. */
  readonly port: NvmetPort;
  /** The RDMA device. */
  readonly ibdev: IbDevice;
  /** Its protection domain. */
  readonly pd: IbPd;
  /** The RDMA port. */
  readonly portNum: number;
  /** Queue index (unique per transport). @kernel queue->idx */
  readonly idx: number;
  /** The host's queue ID (from the CM private data). @kernel host_qid */
  readonly hostQid: number;
  /** Commands the host may have outstanding. @kernel recv_queue_size */
  readonly recvQueueSize: number;
  /** Responses the host can take. @kernel send_queue_size */
  readonly sendQueueSize: number;
  /** The core's submission queue. */
  readonly nvmeSq = new NvmetSq();
  /** The core's completion queue. */
  readonly nvmeCq = new NvmetCq();
  /** Connection state. */
  state: NvmetRdmaQueueState = 'connecting';
  /** The QP (set once created). */
  qp!: IbQp;
  /** The CQ (set once created). */
  cq!: IbCq;
  /** Send queue slots left. @kernel sq_wr_avail */
  sqWrAvail = 0;
  /** @internal */
  readonly cmds: NvmetRdmaCmd[] = [];
  /** @internal */
  readonly freeRsps: NvmetRdmaRsp[] = [];
  /** @internal responses in use. */
  rspsInUse = 0;
  /** @internal commands received before the connection was established. */
  readonly rspWaitList: NvmetRdmaRsp[] = [];
  /** @internal commands waiting for send queue slots. */
  readonly rspWrWaitList: NvmetRdmaRsp[] = [];
  /** @internal System RAM pages owned by the queue (freed with it). */
  readonly pages: { phys: number; count: number }[] = [];
  /** @internal streaming mappings owned by the queue. */
  readonly mappings: { dma: number; len: number; dir: DmaDirection }[] = [];
  /** Whether every resource is released. */
  released = false;

  /** @internal use the transport's connect handling. */
  constructor(transport: NvmetRdmaTransport, port: NvmetPort, req: RdmaCmConnectRequest, pd: IbPd, qid: number, hrqsize: number, hsqsize: number, idx: number) {
    this.transport = transport;
    this.port = port;
    this.ibdev = req.ibdev;
    this.pd = pd;
    this.portNum = req.portNum;
    this.idx = idx;
    this.hostQid = qid;
    this.recvQueueSize = hsqsize + 1;
    this.sendQueueSize = hrqsize;
  }
}

function log(t: NvmetRdmaTransport) {
  return t.target.kernel.log;
}

function formatAddr(port: NvmetPort): string {
  return port.adrfam === NVMF_ADDR_FAMILY_IP6 ? `[${port.traddr}]:${port.trsvcid}` : `${port.traddr}:${port.trsvcid}`;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$/;

/** `inet_pton_with_scope`: a literal address of the family and a numeric port. */
function addrValid(port: NvmetPort): boolean {
  const okAddr = port.adrfam === NVMF_ADDR_FAMILY_IP4 ? IPV4.test(port.traddr) : IPV6.test(port.traddr);
  const p = kstrtouint(port.trsvcid, 10);
  return okAddr && !isErr(p) && p <= 0xffff;
}

function dataDir(req: NvmetReq): DmaDirection {
  return nvmeIsWrite(req.cmd) ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
}

function allocMapped(queue: NvmetRdmaQueue, kernel: Kernel, count: number, chunk: number, dir: DmaDirection): MappedBuf[] | null {
  if (count === 0) return [];
  const perPage = Math.floor(PAGE_SIZE / chunk);
  const npages = Math.ceil(count / perPage);
  const base = kernel.memory.allocPages(npages);
  if (base === null) return null;
  queue.pages.push({ phys: base, count: npages });
  const out: MappedBuf[] = [];
  for (let i = 0; i < count; i++) {
    const phys = base + Math.floor(i / perPage) * PAGE_SIZE + (i % perPage) * chunk;
    const dma = dmaMapSingle(queue.ibdev.dmaDevice, physToVirt(phys), chunk, dir);
    if (dmaMappingError(queue.ibdev.dmaDevice, dma)) return null;
    queue.mappings.push({ dma, len: chunk, dir });
    out.push({ phys, dma, len: chunk });
  }
  return out;
}

/**
 * The target's RDMA transport.
 * @kernel nvmet_rdma_ops and the module state of rdma.c
 */
export class NvmetRdmaTransport implements NvmetFabricsOps {
  /** @inheritdoc */
  readonly name = 'rdma';
  /** @inheritdoc */
  readonly type = NVMF_TRTYPE_RDMA;
  /** @inheritdoc */
  readonly msdbd = 1;
  /** @inheritdoc */
  readonly hasKeyedSgls = true;
  /** @inheritdoc */
  readonly defaultInlineDataSize = NVMET_RDMA_DEFAULT_INLINE_DATA_SIZE;
  /** The target. */
  readonly target: NvmetTarget;
  /** The IP network it listens on. */
  readonly network: RdmaCmNetwork;
  /** The generation's behaviour. */
  readonly rules: NvmetRdmaRules;
  /** Live queues (connecting, live or disconnecting). @kernel nvmet_rdma_queue_list */
  readonly queues = new Set<NvmetRdmaQueue>();
  private readonly pds = new Map<IbDevice, IbPd>();
  private nextIdx = 0;

  /**
   * @param target the target.
   * @param network the IP network.
   * @internal use `nvmetRdmaInit`.
   */
  constructor(target: NvmetTarget, network: RdmaCmNetwork) {
    this.target = target;
    this.network = network;
    this.rules = NVMET_RDMA_RULES[target.policy];
  }

  /**
   * Listens on the port's address.
   * @param port the port.
   * @returns `0`; `-EINVAL` for an address family other than IPv4/IPv6 (`address family %d not
   *   supported`) or a malformed address or port (`malformed ip/port passed: %s:%s`); the bind
   *   errno (`-EADDRNOTAVAIL`, `-EADDRINUSE`: `binding CM ID to <addr> failed (<errno>)`).
   * @kernel nvmet_rdma_add_port
   */
  addPort(port: NvmetPort): KResult {
    const l = log(this);
    if (port.adrfam !== NVMF_ADDR_FAMILY_IP4 && port.adrfam !== NVMF_ADDR_FAMILY_IP6) {
      l.prErr(`nvmet_rdma: address family ${port.adrfam} not supported`);
      return err('EINVAL');
    }
    if (this.rules.resolvesPortInlineSize) {
      if (port.inlineDataSize < 0) port.inlineDataSize = NVMET_RDMA_DEFAULT_INLINE_DATA_SIZE;
      else if (port.inlineDataSize > NVMET_RDMA_MAX_INLINE_DATA_SIZE) {
        l.prWarn(`nvmet_rdma: inline_data_size ${port.inlineDataSize} is too large, reducing to ${NVMET_RDMA_MAX_INLINE_DATA_SIZE}`);
        port.inlineDataSize = NVMET_RDMA_MAX_INLINE_DATA_SIZE;
      }
    } else {
      port.inlineDataSize = NVMET_RDMA_DEFAULT_INLINE_DATA_SIZE;
    }
    if (!addrValid(port)) {
      l.prErr(`nvmet_rdma: malformed ip/port passed: ${port.traddr}:${port.trsvcid}`);
      return err('EINVAL');
    }
    const listener: RdmaCmListener = {
      connectRequest: (req) => this.queueConnect(port, req),
      disconnected: (qp) => {
        for (const q of this.queues) if (q.qp === qp) this.queueDisconnect(q);
      },
    };
    const rc = this.network.listen(port.traddr, port.trsvcid, listener);
    if (rc !== 0) {
      l.prErr(`nvmet_rdma: binding CM ID to ${formatAddr(port)} failed (${rc})`);
      return rc;
    }
    port.priv = { addr: port.traddr, svcid: port.trsvcid };
    l.prInfo(`nvmet_rdma: enabling port ${port.portid} (${formatAddr(port)})`);
    return 0;
  }

  /**
   * Stops listening (connected queues stay).
   * @param port the port.
   * @kernel nvmet_rdma_remove_port
   */
  removePort(port: NvmetPort): void {
    const p = port.priv as { addr: string; svcid: string } | null;
    if (p !== null) this.network.unlisten(p.addr, p.svcid);
    port.priv = null;
  }

  /**
   * Sends a request's completion: for reads the RDMA WRITE of the data is chained before the
   * SEND; the receive buffer is reposted first.
   * @param req the request.
   * @kernel nvmet_rdma_queue_response
   */
  queueResponse(req: NvmetReq): void {
    const rsp = req.transportData as NvmetRdmaRsp;
    const queue = rsp.queue;
    const k = this.target.kernel;
    k.memory.cpuWrite(rsp.resp.phys, req.cqe.encode());
    let sendWr = rsp.sendWr;
    if (sendWr === null) {
      sendWr = {
        next: null,
        wrCqe: { done: (_cq, wc) => this.sendDone(rsp, wc) },
        sgList: [{ addr: rsp.resp.dma, length: NVME_COMPLETION_SIZE, lkey: queue.pd.localDmaLkey }],
        numSge: 1,
        opcode: IB_WR_SEND,
        sendFlags: IB_SEND_SIGNALED,
      };
      rsp.sendWr = sendWr;
    }
    const dataOut = !nvmeIsWrite(req.cmd) && req.transferLen > 0 && req.cqe.status === 0 && (rsp.flags & NVMET_RDMA_REQ_INLINE) === 0;
    const first = dataOut ? rdmaRwCtxWrs(rsp.rw, queue.qp, queue.portNum, null, sendWr) : sendWr;
    if (rsp.cmd !== null) this.postRecv(rsp.cmd);
    if (ibPostSend(queue.qp, first) !== 0) {
      log(this).prErr('nvmet_rdma: sending cmd response failed');
      this.releaseRsp(rsp);
    }
  }

  /**
   * Disconnects every queue of a controller.
   * @param ctrl the controller.
   * @kernel nvmet_rdma_delete_ctrl
   */
  deleteCtrl(ctrl: NvmetCtrl): void {
    for (const q of [...this.queues]) if (q.nvmeSq.ctrl === ctrl) this.queueDisconnect(q);
  }

  /**
   * Tears a queue down: the QP goes to the error state (outstanding work flushes), the core's
   * submission queue is destroyed (waiting for requests in flight), then every buffer, mapping,
   * the QP and the CQ are released.
   * @param queue the queue.
   * @kernel __nvmet_rdma_queue_disconnect / nvmet_rdma_release_queue_work / nvmet_rdma_free_queue
   */
  queueDisconnect(queue: NvmetRdmaQueue): void {
    if (queue.state === 'disconnecting') return;
    queue.state = 'disconnecting';
    ibModifyQp(queue.qp, IB_QPS_ERR);
    for (const rsp of queue.rspWaitList.splice(0)) this.putRsp(rsp);
    for (const rsp of queue.rspWrWaitList.splice(0)) {
      nvmetReqComplete(rsp.req!, NVME_SC_INTERNAL | NVME_SC_DNR);
    }
    queue.nvmeSq.freeDone.onDone(() => this.tryFree(queue));
    nvmetSqDestroy(queue.nvmeSq);
  }

  private tryFree(queue: NvmetRdmaQueue): void {
    if (queue.released || !queue.nvmeSq.freeDone.done || queue.rspsInUse > 0) return;
    queue.released = true;
    this.queues.delete(queue);
    this.network.forget(queue.qp);
    if (!queue.qp.isDestroyed) ibDestroyQp(queue.qp);
    ibFreeCq(queue.cq);
    const dev = queue.ibdev.dmaDevice;
    for (const m of queue.mappings) dmaUnmapSingle(dev, m.dma, m.len, m.dir);
    for (const p of queue.pages) this.target.kernel.memory.freePages(p.phys, p.count);
    queue.mappings.length = 0;
    queue.pages.length = 0;
  }

  private pdFor(ibdev: IbDevice): IbPd | null {
    let pd = this.pds.get(ibdev);
    if (pd === undefined) {
      const r = ibAllocPd(ibdev);
      if (isErr(r)) return null;
      pd = r;
      this.pds.set(ibdev, pd);
    }
    return pd;
  }

  /** RDMA_CM_EVENT_CONNECT_REQUEST on a port's listener. @kernel nvmet_rdma_queue_connect */
  private queueConnect(port: NvmetPort, req: RdmaCmConnectRequest): RdmaCmAnswer {
    const l = log(this);
    const rej = (sts: number): RdmaCmAnswer => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint16(0, NVME_RDMA_CM_FMT_1_0, true);
      new DataView(b.buffer).setUint16(2, sts, true);
      return { reject: b };
    };
    const cm = nvmeRdmaDecodeCmReq(req.privateData);
    if (cm === null) return rej(NVME_RDMA_CM_INVALID_LEN);
    if (cm.recfmt !== NVME_RDMA_CM_FMT_1_0) {
      l.prErr(`nvmet_rdma: invalid recfmt ${cm.recfmt}`);
      return rej(NVME_RDMA_CM_INVALID_RECFMT);
    }
    const pd = this.pdFor(req.ibdev);
    if (pd === null) return rej(NVME_RDMA_CM_NO_RSC);
    const queue = new NvmetRdmaQueue(this, port, req, pd, cm.qid, cm.hrqsize, cm.hsqsize, this.nextIdx++);
    if (!this.createQueue(queue)) {
      this.tryFreeFailed(queue);
      return rej(NVME_RDMA_CM_NO_RSC);
    }
    this.queues.add(queue);
    const rep = new Uint8Array(32);
    new DataView(rep.buffer).setUint16(0, NVME_RDMA_CM_FMT_1_0, true);
    new DataView(rep.buffer).setUint16(2, queue.recvQueueSize, true);
    return {
      accept: queue.qp,
      privateData: rep,
      established: () => {
        if (queue.state !== 'connecting') return;
        queue.state = 'live';
        for (const rsp of queue.rspWaitList.splice(0)) this.handleCommand(queue, rsp);
      },
    };
  }

  private tryFreeFailed(queue: NvmetRdmaQueue): void {
    const dev = queue.ibdev.dmaDevice;
    for (const m of queue.mappings) dmaUnmapSingle(dev, m.dma, m.len, m.dir);
    for (const p of queue.pages) this.target.kernel.memory.freePages(p.phys, p.count);
  }

  /** Buffers, CQ and QP of a new queue, receives posted. @kernel nvmet_rdma_alloc_queue / nvmet_rdma_create_queue_ib */
  private createQueue(queue: NvmetRdmaQueue): boolean {
    const k = this.target.kernel;
    nvmetSqInit(queue.nvmeSq);
    const inlineSize = queue.hostQid === 0 ? 0 : this.rules.inlineSize(queue.port);
    const inlinePages = Math.ceil(inlineSize / PAGE_SIZE);
    const capsules = allocMapped(queue, k, queue.recvQueueSize, NVME_COMMAND_SIZE, DMA_FROM_DEVICE);
    const inline = allocMapped(queue, k, queue.recvQueueSize * inlinePages, PAGE_SIZE, DMA_FROM_DEVICE);
    const resps = allocMapped(queue, k, queue.recvQueueSize * 2, NVME_COMPLETION_SIZE, DMA_TO_DEVICE);
    if (capsules === null || inline === null || resps === null) return false;
    const cq = ibAllocCq(queue.ibdev, queue.recvQueueSize + 2 * queue.sendQueueSize, IB_POLL_WORKQUEUE);
    if (isErr(cq)) return false;
    queue.cq = cq;
    const attrs = queue.ibdev.attrs;
    const qp = ibCreateQp(queue.pd, {
      sendCq: cq,
      recvCq: cq,
      qpType: IB_QPT_RC,
      sqSigType: IB_SIGNAL_REQ_WR,
      portNum: queue.portNum,
      cap: { maxSendWr: queue.sendQueueSize, maxRdmaCtxs: queue.sendQueueSize, maxSendSge: attrs.maxSge, maxRecvWr: queue.recvQueueSize, maxRecvSge: 1 + inlinePages },
    });
    if (isErr(qp)) {
      ibFreeCq(cq);
      return false;
    }
    queue.qp = qp;
    ibModifyQp(qp, IB_QPS_INIT);
    queue.sqWrAvail = qp.cap.maxSendWr;
    for (let i = 0; i < queue.recvQueueSize; i++) {
      const lastBytes = inlineSize - (inlinePages - 1) * PAGE_SIZE;
      const pages = inline.slice(i * inlinePages, (i + 1) * inlinePages).map((b, j) => (j === inlinePages - 1 ? { ...b, len: lastBytes } : b));
      queue.cmds.push(new NvmetRdmaCmd(queue, capsules[i]!, pages));
    }
    for (const [i, r] of resps.entries()) if (i < queue.recvQueueSize * 2) queue.freeRsps.push(new NvmetRdmaRsp(queue, r, false));
    for (const c of queue.cmds) this.postRecv(c);
    return true;
  }

  private postRecv(cmd: NvmetRdmaCmd): void {
    if (cmd.queue.qp.isDestroyed) return;
    ibPostRecv(cmd.queue.qp, cmd.wr);
  }

  private getRsp(queue: NvmetRdmaQueue): NvmetRdmaRsp | null {
    let rsp = queue.freeRsps.pop();
    if (rsp === undefined) {
      const b = allocMapped(queue, this.target.kernel, 1, NVME_COMPLETION_SIZE, DMA_TO_DEVICE);
      if (b === null) return null;
      rsp = new NvmetRdmaRsp(queue, b[0]!, true);
    }
    queue.rspsInUse++;
    return rsp;
  }

  private putRsp(rsp: NvmetRdmaRsp): void {
    const queue = rsp.queue;
    rsp.req = null;
    rsp.cmd = null;
    queue.rspsInUse--;
    queue.freeRsps.push(rsp);
    if (queue.state === 'disconnecting') this.tryFree(queue);
  }

  /** A capsule arrived (or the receive was flushed). @kernel nvmet_rdma_recv_done */
  recvCompletion(cmd: NvmetRdmaCmd, wc: IbWc): void {
    const queue = cmd.queue;
    const l = log(this);
    if (wc.status !== IB_WC_SUCCESS) {
      if (wc.status !== IB_WC_WR_FLUSH_ERR) {
        l.prWarn(`nvmet_rdma: RECV for CQE 0x${queue.idx.toString(16)} failed with status ${ibWcStatusMsg(wc.status)} (${wc.status})`);
        this.errorComp(queue);
      }
      return;
    }
    if (wc.byteLen < NVME_COMMAND_SIZE) {
      l.prErr('nvmet_rdma: Ctrl Fatal Error: capsule size less than 64 bytes');
      this.errorComp(queue);
      return;
    }
    const rsp = this.getRsp(queue);
    if (rsp === null) {
      this.errorComp(queue);
      return;
    }
    // Read the capsule's command straight into a fresh command's own bytes (no second copy).
    const command = new NvmeCommand();
    const bytes = this.target.kernel.memory.cpuRead(cmd.capsule.phys, NVME_COMMAND_SIZE, command.bytes);
    if (isErr(bytes)) {
      this.putRsp(rsp);
      return;
    }
    rsp.cmd = cmd;
    rsp.req = new NvmetReq(command);
    rsp.req.transportData = rsp;
    if (queue.state !== 'live') {
      queue.rspWaitList.push(rsp);
      return;
    }
    this.handleCommand(queue, rsp);
  }

  /** @kernel nvmet_rdma_handle_command */
  private handleCommand(queue: NvmetRdmaQueue, rsp: NvmetRdmaRsp): void {
    const req = rsp.req!;
    req.port = queue.port;
    req.p2pClient = queue.ibdev.dev;
    rsp.nRdma = 0;
    rsp.flags = 0;
    if (!nvmetReqInit(req, queue.nvmeCq, queue.nvmeSq, this)) return;
    const status = this.mapSgl(rsp);
    if (status !== 0) {
      nvmetReqComplete(req, status);
      return;
    }
    if (!this.executeCommand(rsp)) queue.rspWrWaitList.push(rsp);
  }

  /** @kernel nvmet_rdma_map_sgl */
  private mapSgl(rsp: NvmetRdmaRsp): NvmeStatus {
    const c = rsp.req!.cmd;
    const type = c.sglType;
    const l = log(this);
    const sub = type & 0xf;
    switch (type >> 4) {
      case NVME_SGL_FMT_DATA_DESC:
        if (sub === NVME_SGL_FMT_OFFSET) return this.mapSglInline(rsp);
        l.prErr(`nvmet_rdma: invalid SGL subtype: 0x${type.toString(16)}`);
        return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
      case NVME_KEY_SGL_FMT_DATA_DESC:
        if (sub === (NVME_SGL_FMT_ADDRESS | NVME_SGL_FMT_INVALIDATE)) return this.mapSglKeyed(rsp, true);
        if (sub === NVME_SGL_FMT_ADDRESS) return this.mapSglKeyed(rsp, false);
        l.prErr(`nvmet_rdma: invalid SGL subtype: 0x${type.toString(16)}`);
        return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
      default:
        l.prErr(`nvmet_rdma: invalid SGL type: 0x${type.toString(16)}`);
        return NVME_SC_SGL_INVALID_TYPE | NVME_SC_DNR;
    }
  }

  /** In-capsule data. @kernel nvmet_rdma_map_sgl_inline */
  private mapSglInline(rsp: NvmetRdmaRsp): NvmeStatus {
    const req = rsp.req!;
    const queue = rsp.queue;
    const off = req.cmd.sglAddr;
    const len = req.cmd.sglLength;
    if (!nvmeIsWrite(req.cmd)) return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
    const inlineSize = queue.hostQid === 0 ? 0 : this.rules.inlineSize(queue.port);
    if (off < 0 || off + len > inlineSize) {
      log(this).prErr('nvmet_rdma: invalid inline data offset!');
      return NVME_SC_SGL_INVALID_OFFSET | NVME_SC_DNR;
    }
    if (len === 0) return 0;
    const pages = rsp.cmd!.inline;
    const first = Math.floor(off / PAGE_SIZE);
    const last = Math.floor((off + len - 1) / PAGE_SIZE);
    const sgt = sgAllocTable(this.target.kernel, last - first + 1);
    if (sgt === null) return NVME_SC_INTERNAL;
    let sg: Scatterlist | null = sgt.sgl;
    let pos = off;
    for (let i = first; i <= last && sg !== null; i++, sg = sg.next) {
      const inPage = pos % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, off + len - pos);
      sgSetPage(sg, physToPage(this.target.kernel, pages[i]!.phys)!, n, inPage);
      pos += n;
    }
    req.sg = sgt.sgl;
    req.sgCnt = last - first + 1;
    rsp.flags |= NVMET_RDMA_REQ_INLINE;
    req.transferLen += len;
    return 0;
  }

  /** A keyed SGL data block: allocate the buffer, build the RDMA context. @kernel nvmet_rdma_map_sgl_keyed */
  private mapSglKeyed(rsp: NvmetRdmaRsp, invalidate: boolean): NvmeStatus {
    const req = rsp.req!;
    const queue = rsp.queue;
    const addr = req.cmd.sglAddr;
    const len = req.cmd.keyedSglLength;
    const key = req.cmd.sglKey;
    if (len === 0) return 0;
    if (this.rules.resolvesPortInlineSize) req.transferLen = len;
    if (nvmetReqAllocSgls(req, len) !== 0) {
      req.transferLen = 0;
      return NVME_SC_INTERNAL;
    }
    const ret = rdmaRwCtxInit(rsp.rw, queue.qp, queue.portNum, req.sg!, req.sgCnt, 0, addr, key, dataDir(req), this.rules.rwFlags(req.p2pDev !== null));
    if (ret < 0) {
      if (this.rules.resolvesPortInlineSize) req.transferLen = 0;
      return NVME_SC_INTERNAL;
    }
    rsp.nRdma += ret;
    if (!this.rules.resolvesPortInlineSize) req.transferLen += len;
    if (invalidate) {
      rsp.invalidateRkey = key;
      rsp.flags |= NVMET_RDMA_REQ_INVALIDATE_RKEY;
    }
    return 0;
  }

  /** Reserves send queue slots, then reads the data in or executes. @kernel nvmet_rdma_execute_command */
  private executeCommand(rsp: NvmetRdmaRsp): boolean {
    const queue = rsp.queue;
    const req = rsp.req!;
    if (queue.sqWrAvail - (1 + rsp.nRdma) < 0) {
      log(this).prDebug(`nvmet_rdma: IB send queue full (needed ${1 + rsp.nRdma}): queue ${queue.idx} cntlid ${queue.nvmeSq.ctrl?.cntlid ?? 0}`);
      return false;
    }
    queue.sqWrAvail -= 1 + rsp.nRdma;
    const dataIn = nvmeIsWrite(req.cmd) && req.transferLen > 0 && (rsp.flags & NVMET_RDMA_REQ_INLINE) === 0;
    if (dataIn) {
      if (rdmaRwCtxPost(rsp.rw, queue.qp, queue.portNum, { done: (_cq, wc) => this.readDone(rsp, wc) }, null) !== 0) {
        nvmetReqComplete(req, NVME_SC_DATA_XFER_ERROR);
      }
    } else {
      nvmetReqExecute(req);
    }
    return true;
  }

  /** The RDMA READ of a host write finished. @kernel nvmet_rdma_read_data_done */
  private readDone(rsp: NvmetRdmaRsp, wc: IbWc): void {
    const queue = rsp.queue;
    const req = rsp.req!;
    queue.sqWrAvail += rsp.nRdma;
    rdmaRwCtxDestroy(rsp.rw, queue.qp, queue.portNum, req.sg!, req.sgCnt, dataDir(req), this.rules.readDoneFlags(req.p2pDev !== null));
    rsp.nRdma = 0;
    if (wc.status !== IB_WC_SUCCESS) {
      nvmetReqUninit(req);
      this.releaseRsp(rsp);
      if (wc.status !== IB_WC_WR_FLUSH_ERR) {
        log(this).prInfo(`nvmet_rdma: RDMA READ for CQE 0x${queue.idx.toString(16)} failed with status ${ibWcStatusMsg(wc.status)} (${wc.status}).`);
        this.errorComp(queue);
      }
      return;
    }
    nvmetReqExecute(req);
  }

  /** The response SEND finished. @kernel nvmet_rdma_send_done */
  private sendDone(rsp: NvmetRdmaRsp, wc: IbWc): void {
    const queue = rsp.queue;
    this.releaseRsp(rsp);
    if (wc.status !== IB_WC_SUCCESS && wc.status !== IB_WC_WR_FLUSH_ERR) {
      log(this).prErr(`nvmet_rdma: SEND for CQE 0x${queue.idx.toString(16)} failed with status ${ibWcStatusMsg(wc.status)} (${wc.status}).`);
      this.errorComp(queue);
    }
  }

  /** @kernel nvmet_rdma_release_rsp */
  private releaseRsp(rsp: NvmetRdmaRsp): void {
    const queue = rsp.queue;
    const req = rsp.req!;
    queue.sqWrAvail += 1 + rsp.nRdma;
    if (rsp.nRdma > 0) rdmaRwCtxDestroy(rsp.rw, queue.qp, queue.portNum, req.sg!, req.sgCnt, dataDir(req), this.rules.rwFlags(req.p2pDev !== null));
    rsp.nRdma = 0;
    if ((rsp.flags & NVMET_RDMA_REQ_INLINE) === 0) nvmetReqFreeSgls(req);
    this.putRsp(rsp);
    this.processWrWaitList(queue);
  }

  private processWrWaitList(queue: NvmetRdmaQueue): void {
    while (queue.rspWrWaitList.length > 0) {
      const rsp = queue.rspWrWaitList[0]!;
      if (!this.executeCommand(rsp)) break;
      queue.rspWrWaitList.shift();
    }
  }

  /** A fatal queue error: the controller fails, or (no controller yet) the queue goes. @kernel nvmet_rdma_error_comp */
  private errorComp(queue: NvmetRdmaQueue): void {
    const ctrl = queue.nvmeSq.ctrl;
    if (ctrl !== null) nvmetCtrlFatalError(ctrl);
    else this.queueDisconnect(queue);
  }
}

function recvDone(cmd: NvmetRdmaCmd, _cq: IbCq, wc: IbWc): void {
  cmd.queue.transport.recvCompletion(cmd, wc);
}

const transports = new WeakMap<NvmetTarget, NvmetRdmaTransport>();

/**
 * Loads the RDMA transport into a target (`modprobe nvmet-rdma`).
 * @param target the target.
 * @param network the IP network the target's RDMA ports are on.
 * @returns the transport, or `-ENODEV` without `CONFIG_NVME_TARGET_RDMA`, `-EBUSY` when an RDMA
 *   transport is registered already.
 * @kernel nvmet_rdma_init
 */
export function nvmetRdmaInit(target: NvmetTarget, network: RdmaCmNetwork): NvmetRdmaTransport | NegErrno {
  if (!target.kernel.config.CONFIG_NVME_TARGET_RDMA) return err('ENODEV');
  const t = new NvmetRdmaTransport(target, network);
  const rc = nvmetRegisterTransport(target, t);
  if (rc !== 0) return rc;
  transports.set(target, t);
  return t;
}

/**
 * The RDMA transport loaded into a target.
 * @param target the target.
 * @returns the transport, or `null`.
 */
export function nvmetRdmaTransport(target: NvmetTarget): NvmetRdmaTransport | null {
  return transports.get(target) ?? null;
}
