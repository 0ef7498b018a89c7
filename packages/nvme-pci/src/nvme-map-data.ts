/**
 * Mapping a request's data for the controller and describing it with PRPs.
 *
 * Seed patch 08 (`v2`): a request flagged `REQ_PCI_P2PDMA` is mapped with
 * `pci_p2pdma_map_sg`, any other with the device's DMA mapping (`dma_map_sg`); a mapping that
 * returns 0 segments is `BLK_STS_RESOURCE` (blk-mq retries it later: forever, for a request
 * that can never be mapped). Unmapping uses the same choice.
 *
 * Linux 6.6 (`upstream`): every request goes through `dma_map_sgtable`, which recognises P2P
 * pages itself (here: p2pdma's `pciP2pdmaMapSgtable`); `-EREMOTEIO` (the pair cannot do P2P)
 * is `BLK_STS_TARGET`, any other failure `BLK_STS_RESOURCE`.
 *
 * PRPs as 4.16 builds them: PRP1 is the first segment's address (with its offset); if the data
 * runs past that page, PRP2 is either the second page or a PRP list; list pages (4 KiB
 * coherent allocations standing in for the "prp list page" and "prp list 256" DMA pools) hold
 * `page_size / 8` entries, the last one chaining to the next page when more are needed.
 *
 * @kernel drivers/nvme/host/pci.c (struct nvme_iod, nvme_map_data, nvme_unmap_data,
 *   nvme_pci_setup_prps, nvme_free_iod) — 4.16 + seed patch 08; 6.6 for `upstream`
 */
import type { DmaCoherent, Scatterlist } from '@p2pdma/kernel';
import {
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapSg,
  dmaMapSgtable,
  dmaUnmapSg,
  Errno,
  KERN_WARNING,
  sgAllocTable,
  sgDmaAddress,
  sgDmaLen,
  SgTable,
  sgFreeTable,
  virtToPhys,
} from '@p2pdma/kernel';
import type { BlkStatus, Request } from '@p2pdma/blk';
import { BLK_STS_IOERR, BLK_STS_OK, BLK_STS_RESOURCE, BLK_STS_TARGET, blkRqBytes, blkRqMapSg, reqIsPciP2pdma, rqDataDir, WRITE } from '@p2pdma/blk';
import { isPciP2pdmaPage, pciP2pdmaMapSg, pciP2pdmaMapSgtable, pciP2pdmaUnmapSg } from '@p2pdma/p2pdma';
import { setLe64 } from './internal/le64';
import type { NvmeCommand } from './nvme-command';
import type { NvmeRequest } from './nvme-core';
import type { NvmeDev } from './nvme-dev';
import type { NvmeQueue } from './nvme-queue';

/** Bytes of a PRP list page (the DMA pool's element). */
export const NVME_PRP_LIST_PAGE = 4096;

/**
 * The PCIe driver's per-request state: the core's part plus the mapping.
 * @kernel struct nvme_iod
 */
export interface NvmeIod extends NvmeRequest {
  /** The queue it was submitted on. */
  nvmeq: NvmeQueue | null;
  /** The scatterlist table. */
  sgt: SgTable | null;
  /** CPU entries (`blk_rq_map_sg`'s count). */
  nents: number;
  /** DMA segments after mapping. */
  nrMapped: number;
  /** Which mapping was used (`null`: none yet). */
  mapping: 'p2p' | 'dma' | null;
  /** PRP list pages, in chain order. */
  prpPages: DmaCoherent[];
}

/**
 * The iod of a request, created on first use (retries survive requeues, as `RQF_DONTPREP`
 * keeps them).
 * @param rq the request.
 * @returns its iod.
 * @kernel blk_mq_rq_to_pdu / nvme_init_iod
 */
export function nvmeIod(rq: Request): NvmeIod {
  let iod = rq.pdu as NvmeIod | null;
  if (iod === null) {
    iod = { cmd: null, status: 0 as NvmeIod['status'], result: 0, retries: 0, flags: 0, nvmeq: null, sgt: null, nents: 0, nrMapped: 0, mapping: null, prpPages: [] };
    rq.pdu = iod;
  }
  iod.status = 0 as NvmeIod['status'];
  iod.result = 0;
  iod.sgt = null;
  iod.nents = 0;
  iod.nrMapped = 0;
  iod.mapping = null;
  iod.prpPages = [];
  return iod;
}

function dmaDir(rq: Request): typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE {
  return rqDataDir(rq) === WRITE ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
}

/**
 * The contents of the PRP list pages being built, by position in the chain: reused from request
 * to request (cleared before use; `ramWrite` copies them into the list pages), instead of a fresh
 * 4 KiB buffer per list page.
 */
const prpScratch: DataView[] = [];

function prpListBuffer(index: number): DataView {
  let view = prpScratch[index];
  if (view === undefined) {
    view = new DataView(new ArrayBuffer(NVME_PRP_LIST_PAGE));
    prpScratch[index] = view;
  } else new Uint8Array(view.buffer).fill(0);
  return view;
}

function putLe64(buf: DataView, i: number, v: number): void {
  setLe64(buf, i * 8, v);
}

/**
 * Builds PRP1/PRP2 (and PRP list pages) for a mapped request.
 * @param dev the device.
 * @param rq the request.
 * @param iod its iod (mapped).
 * @param cmd the command to fill.
 * @returns `BLK_STS_OK`; `BLK_STS_RESOURCE` when a list page cannot be allocated (the pages
 *   allocated so far stay in `iod.prpPages` for `nvmeUnmapData`); `BLK_STS_IOERR` for a
 *   scatterlist that cannot be described by PRPs (logged `Invalid SGL for payload:<n>
 *   nents:<n>`).
 * @kernel nvme_pci_setup_prps
 */
export function nvmeSetupPrps(dev: NvmeDev, rq: Request, iod: NvmeIod, cmd: NvmeCommand): BlkStatus {
  const pageSize = dev.ctrl.pageSize;
  let sg: Scatterlist | null = iod.sgt!.sgl;
  let length = blkRqBytes(rq);
  let dmaLen = sgDmaLen(sg);
  let dmaAddr = sgDmaAddress(sg);
  const offset = dmaAddr % pageSize;
  const prp1 = dmaAddr;
  let prp2 = 0;
  const slots = pageSize / 8;

  length -= pageSize - offset;
  if (length > 0) {
    dmaLen -= pageSize - offset;
    if (dmaLen > 0) dmaAddr += pageSize - offset;
    else {
      sg = sg.next;
      if (sg === null) return badSgl(dev, rq, iod);
      dmaAddr = sgDmaAddress(sg);
      dmaLen = sgDmaLen(sg);
    }
    if (length <= pageSize) prp2 = dmaAddr;
    else {
      const alloc = (): { page: DmaCoherent; view: DataView } | null => {
        const page = dmaAllocCoherent(dev.pdev, NVME_PRP_LIST_PAGE);
        if (page === null) return null;
        iod.prpPages.push(page);
        dev.stats.prpListPages++;
        return { page, view: prpListBuffer(lists.length) };
      };
      const lists: Array<{ page: DmaCoherent; view: DataView }> = [];
      let cur = alloc();
      if (cur === null) return BLK_STS_RESOURCE;
      lists.push(cur);
      prp2 = cur.page.dmaHandle;
      let i = 0;
      for (;;) {
        if (i === slots) {
          const next = alloc();
          if (next === null) return BLK_STS_RESOURCE;
          const moved = cur.view.getBigUint64((i - 1) * 8, true);
          next.view.setBigUint64(0, moved, true);
          putLe64(cur.view, i - 1, next.page.dmaHandle);
          lists.push(next);
          cur = next;
          i = 1;
        }
        putLe64(cur.view, i++, dmaAddr);
        dmaLen -= pageSize;
        dmaAddr += pageSize;
        length -= pageSize;
        if (length <= 0) break;
        if (dmaLen > 0) continue;
        if (dmaLen < 0) return badSgl(dev, rq, iod);
        sg = sg!.next;
        if (sg === null) return badSgl(dev, rq, iod);
        dmaAddr = sgDmaAddress(sg);
        dmaLen = sgDmaLen(sg);
      }
      for (const l of lists) dev.kernel.memory.ramWrite(virtToPhys(l.page.virt), new Uint8Array(l.view.buffer));
    }
  }
  cmd.prp1 = prp1;
  cmd.prp2 = prp2;
  return BLK_STS_OK;
}

function badSgl(dev: NvmeDev, rq: Request, iod: NvmeIod): BlkStatus {
  dev.kernel.log.printk(KERN_WARNING, `Invalid SGL for payload:${blkRqBytes(rq)} nents:${iod.nents}`);
  return BLK_STS_IOERR;
}

/**
 * Maps a request's data and fills in its PRPs.
 * @param dev the device.
 * @param rq the request (with data).
 * @param cmd the command to fill.
 * @returns `BLK_STS_OK`, or the status to return from `queue_rq` (everything undone):
 *   `BLK_STS_IOERR` (nothing to map, bad scatterlist), `BLK_STS_RESOURCE` (no table, mapping
 *   returned 0 segments, no PRP page), `BLK_STS_TARGET` (6.6: the pair cannot do P2P).
 * @kernel nvme_map_data (seed patch 08 / 6.6)
 */
export function nvmeMapData(dev: NvmeDev, rq: Request, cmd: NvmeCommand): BlkStatus {
  const iod = rq.pdu as NvmeIod;
  const dir = dmaDir(rq);
  const sgt = sgAllocTable(dev.kernel, rq.nrPhysSegments);
  if (sgt === null) return BLK_STS_RESOURCE;
  iod.sgt = sgt;
  iod.nents = blkRqMapSg(rq.q, rq, sgt.sgl);
  if (iod.nents === 0) {
    freeTable(iod);
    return BLK_STS_IOERR;
  }
  if (dev.policy.mapData === 'req-flag') {
    const p2p = reqIsPciP2pdma(rq);
    iod.mapping = p2p ? 'p2p' : 'dma';
    iod.nrMapped = p2p ? pciP2pdmaMapSg(dev.pdev, sgt.sgl, iod.nents, dir) : dmaMapSg(dev.pdev, sgt.sgl, iod.nents, dir);
    if (iod.nrMapped === 0) return mapFailed(dev, iod, BLK_STS_RESOURCE);
  } else {
    const table = new SgTable(sgt.sgl, iod.nents);
    const p2pOn = dev.kernel.config.CONFIG_PCI_P2PDMA;
    iod.mapping = p2pOn ? 'p2p' : 'dma';
    const r = p2pOn ? pciP2pdmaMapSgtable(dev.pdev, table, dir) : dmaMapSgtable(dev.pdev, table, dir);
    if (r !== 0) return mapFailed(dev, iod, r === -Errno.EREMOTEIO ? BLK_STS_TARGET : BLK_STS_RESOURCE);
    iod.nrMapped = table.nents;
  }
  const first = sgt.sgl.page;
  if (first !== null && isPciP2pdmaPage(first)) dev.stats.p2pRequests++;
  else dev.stats.dmaRequests++;
  const st = nvmeSetupPrps(dev, rq, iod, cmd);
  if (st !== BLK_STS_OK) {
    nvmeUnmapData(dev, rq);
    return st;
  }
  return BLK_STS_OK;
}

function freeTable(iod: NvmeIod): void {
  if (iod.sgt !== null) sgFreeTable(iod.sgt);
  iod.sgt = null;
  iod.nents = 0;
}

function mapFailed(dev: NvmeDev, iod: NvmeIod, st: BlkStatus): BlkStatus {
  dev.stats.mapFailures++;
  iod.mapping = null;
  freeTable(iod);
  return st;
}

/**
 * Undoes `nvmeMapData`: frees the PRP list pages and unmaps with the mapping that was used.
 * @param dev the device.
 * @param rq the request.
 * @kernel nvme_unmap_data (seed patch 08) / nvme_free_iod
 */
export function nvmeUnmapData(dev: NvmeDev, rq: Request): void {
  const iod = rq.pdu as NvmeIod | null;
  if (iod === null) return;
  for (const p of iod.prpPages) dmaFreeCoherent(dev.pdev, NVME_PRP_LIST_PAGE, p.virt, p.dmaHandle);
  iod.prpPages = [];
  if (iod.sgt !== null && iod.nents > 0 && iod.mapping !== null) {
    const dir = dmaDir(rq);
    if (iod.mapping === 'p2p') pciP2pdmaUnmapSg(dev.pdev, iod.sgt.sgl, iod.nents, dir);
    else dmaUnmapSg(dev.pdev, iod.sgt.sgl, iod.nents, dir);
  }
  iod.mapping = null;
  freeTable(iod);
}
