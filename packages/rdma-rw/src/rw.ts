/**
 * The RDMA read/write API ULPs (nvmet-rdma, isert, srpt, svcrdma) use to move a scatterlist to or
 * from a remote buffer: map the list for the device, split it into RDMA READ or WRITE work
 * requests of at most `max_sge` SGEs each, post them, and unmap on destroy.
 *
 * How the list is mapped depends on the kernel's P2PDMA policy (`RDMA_RW_POLICY`, a table):
 * - `v2` (seed patch 06): the caller's `RDMA_RW_CTX_FLAG_PCI_P2PDMA` picks `pci_p2pdma_map_sg`
 *   on the device's DMA device over `ib_dma_map_sg`; 0 mapped entries is `-ENOMEM`. Destroy must
 *   be given the same flag: with it the list goes to `pci_p2pdma_unmap_sg` (a no-op), without it
 *   to `ib_dma_unmap_sg`. A mismatch is caught by DMA-API debug (P2P bus addresses unmapped as
 *   if DMA-mapped: `device driver tries to free DMA memory it has not allocated`) or leaks a live
 *   DMA mapping (an IOVA when the IOMMU is on). The seed left init's error path on
 *   `ib_dma_unmap_sg` even for P2P lists (and, as 4.16 does, it unmaps from the entry the
 *   `sg_offset` skip stopped at, with the mapped count): reproduced.
 * - `upstream` (Linux 6.6): the flag is gone; the decision comes from the pages, as Sagi asked
 *   in review and the author accepted for v3 (`is_pci_p2pdma_page(sg_page(sg))`, in rw.c from
 *   4.20 to 5.19; since 6.0 rw.c calls `ib_dma_map_sgtable_attrs` and `dma_map_sgtable` makes
 *   the same decision per page). A P2P list goes to p2pdma's upstream mapping (bus address /
 *   through the host bridge / `-EREMOTEIO` when not supported), anything else to
 *   `dma_map_sgtable`. A device with virtual DMA ops (rxe) maps every page, P2P or not, to its
 *   kernel virtual address (`ib_dma_virt_map_sg`) and copies with the CPU. Errors unmap the
 *   whole table.
 *
 * Only the map-WR paths are modelled (`RDMA_RW_SINGLE_WR`, `RDMA_RW_MULTI_WR`): no memory
 * registration (iWARP, `force_mr`, `max_sgl_rd`) and no signature offload.
 *
 * @kernel drivers/infiniband/core/rw.c (rdma_rw_ctx_init, rdma_rw_init_map_wrs,
 *   rdma_rw_init_single_wr, rdma_rw_ctx_wrs, rdma_rw_ctx_post, rdma_rw_ctx_destroy),
 *   include/rdma/rw.h (RDMA_RW_CTX_FLAG_PCI_P2PDMA), include/rdma/ib_verbs.h (ib_dma_map_sg,
 *   ib_dma_map_sgtable_attrs, ib_dma_virt_map_sg)
 */
import type { DmaDirection, KResult, NegErrno, P2pdmaPolicy, Scatterlist } from '@p2pdma/kernel';
import { DMA_TO_DEVICE, dmaMapSg, dmaMapSgtable, dmaUnmapSg, err, forEachSg, KernelBug, SgTable, sgDmaAddress, sgDmaLen, sgNext, sgPage, sgVirt } from '@p2pdma/kernel';
import { isPciP2pdmaPage, pciP2pdmaMapSg, pciP2pdmaMapSgtable, pciP2pdmaUnmapSg } from '@p2pdma/p2pdma';
import type { IbDevice } from './ib-device';
import { ibUsesVirtDma } from './ib-device';
import type { IbQp, IbSendWr, IbSge } from './ib-qp';
import { IB_SEND_SIGNALED, IB_WR_RDMA_READ, IB_WR_RDMA_WRITE, ibPostSend } from './ib-qp';
import type { IbCqe } from './ib-wc';

/**
 * `flags` bit of `rdmaRwCtxInit`/`rdmaRwCtxDestroy` under the `v2` policy: the scatterlist is
 * p2pmem; map it with `pciP2pdmaMapSg`. Ignored under `upstream`.
 * @kernel RDMA_RW_CTX_FLAG_PCI_P2PDMA (seed patch 06)
 */
export const RDMA_RW_CTX_FLAG_PCI_P2PDMA = 1 << 0;

/**
 * Fault site: the SGE/WR array allocation of a multi-WR context fails (`-ENOMEM`).
 * @kernel kcalloc in rdma_rw_init_map_wrs
 */
export const FAULT_RDMA_RW_ALLOC = 'rdma_rw_alloc';

/** One work request, posted alone. @kernel RDMA_RW_SINGLE_WR */
export const RDMA_RW_SINGLE_WR = 0;
/** A chain of work requests over an SGE array. @kernel RDMA_RW_MULTI_WR */
export const RDMA_RW_MULTI_WR = 1;
/** A context type. */
export type RdmaRwType = typeof RDMA_RW_SINGLE_WR | typeof RDMA_RW_MULTI_WR;

/**
 * An RDMA read/write context: the work requests `rdmaRwCtxInit` built.
 * @kernel struct rdma_rw_ctx
 */
export class RdmaRwCtx {
  /** How the work requests are held, or `null` before init and after destroy. */
  type: RdmaRwType | null = null;
  /** Number of RDMA work requests. @kernel rdma_rw_ctx.nr_ops */
  nrOps = 0;
  /** The work requests, chained in order (`wrs[i].next === wrs[i + 1]`). */
  wrs: IbSendWr[] = [];
  /** Every SGE, in order (the work requests' `sgList`s are slices of it). */
  sges: IbSge[] = [];
}

/** How `rdma_rw` maps and unmaps under one policy. */
export interface RdmaRwMapping {
  /** What decides that a list is p2pmem: the caller's flag, or the first page. */
  readonly p2pFrom: 'flag' | 'page';
  /**
   * Maps `sgCnt` entries for the device.
   * @returns the number of DMA segments (> 0), or a negated errno.
   */
  map(dev: IbDevice, sg: Scatterlist, sgCnt: number, dir: DmaDirection, p2p: boolean): number | NegErrno;
  /** Undoes `map` (destroy, and the error path under `upstream`). */
  unmap(dev: IbDevice, sg: Scatterlist, sgCnt: number, dir: DmaDirection, p2p: boolean): void;
  /**
   * Init's error path: `'dma-api-from-skip'` = 4.16/seed (`ib_dma_unmap_sg` from the entry the
   * offset skip stopped at, with the remaining mapped count, whatever the flag);
   * `'unmap-table'` = 6.6 (`ib_dma_unmap_sgtable_attrs` on the whole table).
   */
  readonly errorUnmap: 'dma-api-from-skip' | 'unmap-table';
}

/** `ib_dma_map_sg` of 4.16: the DMA API on the DMA device (whose ops may be `dma_virt_ops`). */
function ibDmaMapSg(dev: IbDevice, sg: Scatterlist, sgCnt: number, dir: DmaDirection): number {
  return dmaMapSg(dev.dmaDevice, sg, sgCnt, dir);
}

/** `ib_dma_virt_map_sg` of 6.6: kernel virtual addresses, no DMA API involved. */
function ibDmaVirtMapSg(sg: Scatterlist, sgCnt: number): number {
  forEachSg(sg, sgCnt, (s) => {
    s.dmaAddress = sgVirt(s);
    s.dmaLength = s.length;
  });
  return sgCnt;
}

/**
 * The mapping rules per policy.
 * @kernel rw.c of the seed (4.16 + patch 06) and of Linux 6.6
 */
export const RDMA_RW_POLICY: Readonly<Record<P2pdmaPolicy, RdmaRwMapping>> = {
  v2: {
    p2pFrom: 'flag',
    map(dev, sg, sgCnt, dir, p2p) {
      const n = p2p ? pciP2pdmaMapSg(dev.dmaDevice, sg, sgCnt, dir) : ibDmaMapSg(dev, sg, sgCnt, dir);
      return n === 0 ? err('ENOMEM') : n;
    },
    unmap(dev, sg, sgCnt, dir, p2p) {
      if (p2p) pciP2pdmaUnmapSg(dev.dmaDevice, sg, sgCnt, dir);
      else dmaUnmapSg(dev.dmaDevice, sg, sgCnt, dir);
    },
    errorUnmap: 'dma-api-from-skip',
  },
  upstream: {
    p2pFrom: 'page',
    map(dev, sg, sgCnt, dir, p2p) {
      if (ibUsesVirtDma(dev)) return ibDmaVirtMapSg(sg, sgCnt);
      const sgt = new SgTable(sg, sgCnt);
      const rc: KResult = p2p ? pciP2pdmaMapSgtable(dev.dmaDevice, sgt, dir) : dmaMapSgtable(dev.dmaDevice, sgt, dir);
      return rc === 0 ? sgt.nents : rc;
    },
    unmap(dev, sg, sgCnt, dir, p2p) {
      if (ibUsesVirtDma(dev)) return;
      if (p2p) pciP2pdmaUnmapSg(dev.dmaDevice, sg, sgCnt, dir);
      else dmaUnmapSg(dev.dmaDevice, sg, sgCnt, dir);
    },
    errorUnmap: 'unmap-table',
  },
};

function isP2p(m: RdmaRwMapping, sg: Scatterlist, flags: number): boolean {
  if (m.p2pFrom === 'flag') return (flags & RDMA_RW_CTX_FLAG_PCI_P2PDMA) !== 0;
  const page = sgPage(sg);
  return page !== null && isPciP2pdmaPage(page);
}

function opcodeFor(dir: DmaDirection): IbSendWr['opcode'] {
  return dir === DMA_TO_DEVICE ? IB_WR_RDMA_WRITE : IB_WR_RDMA_READ;
}

function initSingleWr(ctx: RdmaRwCtx, qp: IbQp, sg: Scatterlist, offset: number, remoteAddr: number, rkey: number, dir: DmaDirection): number {
  const sge: IbSge = { addr: sgDmaAddress(sg) + offset, length: sgDmaLen(sg) - offset, lkey: qp.pd.localDmaLkey };
  ctx.sges = [sge];
  ctx.wrs = [{ next: null, wrCqe: null, sgList: ctx.sges, numSge: 1, opcode: opcodeFor(dir), sendFlags: 0, remoteAddr, rkey }];
  ctx.nrOps = 1;
  ctx.type = RDMA_RW_SINGLE_WR;
  return 1;
}

function initMapWrs(ctx: RdmaRwCtx, qp: IbQp, sg: Scatterlist, sgCnt: number, offset: number, remoteAddr: number, rkey: number, dir: DmaDirection): number | NegErrno {
  const maxSge = dir === DMA_TO_DEVICE ? qp.maxWriteSge : qp.maxReadSge;
  const nrOps = Math.ceil(sgCnt / maxSge);
  if (qp.device.kernel.faults.shouldFail(FAULT_RDMA_RW_ALLOC) !== 0) return err('ENOMEM');
  const sges: IbSge[] = [];
  const wrs: IbSendWr[] = [];
  let s: Scatterlist | null = sg;
  let left = sgCnt;
  let total = 0;
  let off = offset;
  for (let i = 0; i < nrOps; i++) {
    const nr = Math.min(left, maxSge);
    const first = sges.length;
    const wrRemote = remoteAddr + total;
    for (let j = 0; j < nr; j++) {
      if (s === null) throw new KernelBug(`rdma_rw_init_map_wrs: scatterlist ends before ${sgCnt} mapped segments`);
      const sge: IbSge = { addr: sgDmaAddress(s) + off, length: sgDmaLen(s) - off, lkey: qp.pd.localDmaLkey };
      sges.push(sge);
      total += sge.length;
      off = 0;
      left--;
      s = sgNext(s);
    }
    const wr: IbSendWr = { next: null, wrCqe: null, sgList: sges.slice(first), numSge: nr, opcode: opcodeFor(dir), sendFlags: 0, remoteAddr: wrRemote, rkey };
    if (i > 0) wrs[i - 1]!.next = wr;
    wrs.push(wr);
  }
  ctx.sges = sges;
  ctx.wrs = wrs;
  ctx.nrOps = nrOps;
  ctx.type = RDMA_RW_MULTI_WR;
  return nrOps;
}

/**
 * Initializes an RDMA READ (`DMA_FROM_DEVICE`) or WRITE (`DMA_TO_DEVICE`) context: maps the
 * list (see `RDMA_RW_POLICY`), skips `sgOffset` bytes into it, and builds one work request per
 * `max_sge` mapped segments (`qp.maxReadSge` for READ, `qp.maxWriteSge` for WRITE), each at
 * `remoteAddr` plus the bytes before it.
 * @param ctx the context to fill (owned by the caller; destroy it with the same list).
 * @param qp the QP the work requests will be posted on.
 * @param _portNum the port the connection uses (unused, as in rw.c's map-WR paths).
 * @param sg the first entry of the list.
 * @param sgCnt entries in the list.
 * @param sgOffset bytes of the mapped list to skip.
 * @param remoteAddr the remote address (relative to `rkey`).
 * @param rkey the remote key.
 * @param dir `DMA_TO_DEVICE` for RDMA WRITE, `DMA_FROM_DEVICE` for RDMA READ.
 * @param flags `RDMA_RW_CTX_FLAG_*` (`v2` only).
 * @returns the number of work requests the context needs on the send queue, or: `v2`:
 *   `-ENOMEM` when the mapping returned 0 entries (a virtual-DMA device given the P2P flag, a
 *   failed DMA mapping); `upstream`: the errno of `dma_map_sgtable` (`-EREMOTEIO` for a P2P pair
 *   whose map type is not supported, `-EINVAL`/`-EIO`/`-ENOMEM` for failed mappings); both:
 *   `-ENOMEM` when the work request arrays cannot be allocated (fault site
 *   `FAULT_RDMA_RW_ALLOC`), after unmapping as the policy's error path does.
 * @throws KernelBug when `sgOffset` is at or beyond the mapped length (the kernel walks off the
 *   end of the list), or from the DMA API for invalid lists.
 * @kernel rdma_rw_ctx_init
 */
export function rdmaRwCtxInit(
  ctx: RdmaRwCtx,
  qp: IbQp,
  _portNum: number,
  sg: Scatterlist,
  sgCnt: number,
  sgOffset: number,
  remoteAddr: number,
  rkey: number,
  dir: DmaDirection,
  flags: number,
): number | NegErrno {
  const dev = qp.device;
  const m = RDMA_RW_POLICY[dev.kernel.policy];
  const p2p = isP2p(m, sg, flags);
  const mapped = m.map(dev, sg, sgCnt, dir, p2p);
  if (mapped < 0) return mapped as NegErrno;
  let cnt = mapped;
  let s: Scatterlist | null = sg;
  let offset = sgOffset;
  for (;;) {
    if (s === null) throw new KernelBug(`rdma_rw_ctx_init(${dev.name}): sg_offset ${sgOffset} is beyond the mapped length (NULL scatterlist dereference)`);
    const len = sgDmaLen(s);
    if (offset < len) break;
    s = sgNext(s);
    offset -= len;
    cnt--;
  }
  const ret = cnt > 1 ? initMapWrs(ctx, qp, s, cnt, offset, remoteAddr, rkey, dir) : initSingleWr(ctx, qp, s, offset, remoteAddr, rkey, dir);
  if (ret >= 0) return ret;
  if (m.errorUnmap === 'dma-api-from-skip') dmaUnmapSg(dev.dmaDevice, s, cnt, dir);
  else m.unmap(dev, sg, sgCnt, dir, p2p);
  return ret;
}

/**
 * The work request chain of a context: the last one gets `cqe` and `IB_SEND_SIGNALED`, or, with
 * `chainWr`, points at it instead.
 * @param ctx an initialized context.
 * @param _qp the QP (unused).
 * @param _portNum the port (unused).
 * @param cqe the completion entry of the last work request (when `chainWr` is `null`).
 * @param chainWr a work request to append, or `null`.
 * @returns the first work request.
 * @throws KernelBug for a context that is not initialized (the kernel's `BUG()`).
 * @kernel rdma_rw_ctx_wrs
 */
export function rdmaRwCtxWrs(ctx: RdmaRwCtx, _qp: IbQp, _portNum: number, cqe: IbCqe | null, chainWr: IbSendWr | null): IbSendWr {
  const first = ctx.wrs[0];
  const last = ctx.wrs[ctx.wrs.length - 1];
  if (ctx.type === null || first === undefined || last === undefined) throw new KernelBug('rdma_rw_ctx_wrs: context not initialized');
  if (chainWr !== null) last.next = chainWr;
  else {
    last.wrCqe = cqe;
    last.sendFlags |= IB_SEND_SIGNALED;
  }
  return first;
}

/**
 * Posts a context's work requests (see `rdmaRwCtxWrs`).
 * @param ctx an initialized context.
 * @param qp the QP.
 * @param portNum the port.
 * @param cqe the completion entry of the last work request.
 * @param chainWr a work request to append, or `null`.
 * @returns what `ibPostSend` returns (`-ENOMEM` when the send queue is full, …).
 * @throws KernelBug for a context that is not initialized.
 * @kernel rdma_rw_ctx_post
 */
export function rdmaRwCtxPost(ctx: RdmaRwCtx, qp: IbQp, portNum: number, cqe: IbCqe | null, chainWr: IbSendWr | null): KResult {
  return ibPostSend(qp, rdmaRwCtxWrs(ctx, qp, portNum, cqe, chainWr));
}

/**
 * Releases a context and unmaps its list. Under `v2` the flag must be the one given to init:
 * with it the list goes to `pciP2pdmaUnmapSg`, without it to the DMA API (see the module notes
 * for what a mismatch does). Under `upstream` the pages decide and `flags` is ignored.
 * @param ctx the context.
 * @param qp the QP.
 * @param _portNum the port (unused).
 * @param sg the list given to init.
 * @param sgCnt the entry count given to init.
 * @param dir the direction given to init.
 * @param flags `RDMA_RW_CTX_FLAG_*` as given to init (`v2`).
 * @throws KernelBug for a context that is not initialized (or destroyed twice).
 * @kernel rdma_rw_ctx_destroy
 */
export function rdmaRwCtxDestroy(ctx: RdmaRwCtx, qp: IbQp, _portNum: number, sg: Scatterlist, sgCnt: number, dir: DmaDirection, flags: number): void {
  if (ctx.type === null) throw new KernelBug('rdma_rw_ctx_destroy: context not initialized (BUG())');
  ctx.type = null;
  ctx.wrs = [];
  ctx.sges = [];
  ctx.nrOps = 0;
  const dev = qp.device;
  const m = RDMA_RW_POLICY[dev.kernel.policy];
  m.unmap(dev, sg, sgCnt, dir, isP2p(m, sg, flags));
}
