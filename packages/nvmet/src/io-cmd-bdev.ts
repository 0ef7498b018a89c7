/**
 * I/O commands on a block-device namespace: Read and Write become bios built from the
 * request's scatterlist and submitted to the namespace's queue; Flush is an empty
 * `REQ_PREFLUSH` write. The bio's completion status becomes the NVMe status
 * (`BLK_TO_NVME_STATUS`).
 *
 * P2P: when the first page of the buffer is P2PDMA memory, the bios carry the policy's flag
 * (`P2P_BIO_FLAGS`): seed patch 10 sets `REQ_PCI_P2PDMA` (the block layer refuses it on a queue
 * without `QUEUE_FLAG_PCI_P2PDMA`, never merges it, and the NVMe driver maps it with
 * `pci_p2pdma_map_sg`); 6.6 sets `REQ_NOMERGE` (the NVMe driver recognises P2P pages itself).
 *
 * The block layer's `bio_add_page` in this model takes at most one page per call, so a
 * scatterlist entry spanning several pages (a p2pmem entry) is added page by page; the bio
 * vector and the request come out the same.
 *
 * @kernel drivers/nvme/target/io-cmd.c (4.16: nvmet_parse_io_cmd, nvmet_execute_rw,
 *   nvmet_execute_flush, nvmet_bio_done, nvmet_check_ctrl_status), io-cmd-bdev.c (6.6:
 *   blk_to_nvme_status, nvmet_bdev_execute_rw)
 */
import type { Kernel, P2pdmaPolicy } from '@p2pdma/kernel';
import { forEachSg, PAGE_SIZE, pfnToPage, sgPage } from '@p2pdma/kernel';
import type { BlkStatus } from '@p2pdma/blk';
import {
  BIO_MAX_PAGES,
  Bio,
  bioAddPage,
  bioChain,
  BLK_STS_MEDIUM,
  BLK_STS_NOSPC,
  BLK_STS_NOTSUPP,
  BLK_STS_OK,
  BLK_STS_TARGET,
  REQ_FUA,
  REQ_IDLE,
  REQ_NOMERGE,
  REQ_OP_READ,
  REQ_OP_WRITE,
  REQ_PREFLUSH,
  REQ_SYNC,
  reqFlags,
  submitBio,
} from '@p2pdma/blk';
import { isPciP2pdmaPage } from '@p2pdma/p2pdma';
import { nvmetFindNamespace } from './ns';
import { NVME_RW_FUA, nvme_cmd_dsm, nvme_cmd_flush, nvme_cmd_read, nvme_cmd_write, nvme_cmd_write_zeroes, NVME_U64_INVALID } from './nvme-command';
import { NVME_CC_ENABLE, NVME_CSTS_RDY } from './nvme-fabrics';
import type { NvmeStatus } from './nvme-status';
import {
  NVME_SC_ACCESS_DENIED,
  NVME_SC_CAP_EXCEEDED,
  NVME_SC_CMD_SEQ_ERROR,
  NVME_SC_DNR,
  NVME_SC_INTERNAL,
  NVME_SC_INVALID_NS,
  NVME_SC_INVALID_OPCODE,
  NVME_SC_LBA_RANGE,
  NVME_SC_ONCS_NOT_SUPPORTED,
} from './nvme-status';
import type { NvmetReq } from './req';
import { NVMET_RULES } from './target';
import { nvmetReqComplete } from './req';

/**
 * Block status → NVMe status, per policy: 4.16 turns every error into `INTERNAL|DNR`; 6.6's
 * `blk_to_nvme_status` keeps the meaning (space, range, unsupported, medium).
 * @param policy the policy.
 * @param sts the bio's status.
 * @param opcode the command's opcode (6.6 answers `NOTSUPP` for DSM/Write Zeroes with ONCS).
 * @returns the NVMe status.
 * @kernel nvmet_bio_done (4.16) / blk_to_nvme_status (6.6)
 */
export function blkToNvmeStatus(policy: P2pdmaPolicy, sts: BlkStatus, opcode: number): NvmeStatus {
  if (sts === BLK_STS_OK) return 0;
  if (NVMET_RULES[policy].blkStatusMap === 'all-internal') return NVME_SC_INTERNAL | NVME_SC_DNR;
  const table: ReadonlyMap<BlkStatus, NvmeStatus> = BLK_TO_NVME_STATUS;
  if (sts === BLK_STS_NOTSUPP) {
    return (opcode === nvme_cmd_dsm || opcode === nvme_cmd_write_zeroes ? NVME_SC_ONCS_NOT_SUPPORTED : NVME_SC_INVALID_OPCODE) | NVME_SC_DNR;
  }
  return table.get(sts) ?? NVME_SC_INTERNAL | NVME_SC_DNR;
}

/**
 * 6.6's mapping of block statuses with their own NVMe status (everything else, `IOERR`
 * included, is `INTERNAL|DNR`; `NOTSUPP` depends on the opcode).
 * @kernel blk_to_nvme_status
 */
export const BLK_TO_NVME_STATUS: ReadonlyMap<BlkStatus, NvmeStatus> = new Map<BlkStatus, NvmeStatus>([
  [BLK_STS_NOSPC, NVME_SC_CAP_EXCEEDED | NVME_SC_DNR],
  [BLK_STS_TARGET, NVME_SC_LBA_RANGE | NVME_SC_DNR],
  [BLK_STS_MEDIUM, NVME_SC_ACCESS_DENIED],
]);

/**
 * The bio flag marking a buffer of P2PDMA pages, per policy.
 * @param kernel the kernel.
 * @returns seed: `REQ_PCI_P2PDMA` (0 with `CONFIG_PCI_P2PDMA` off); 6.6: `REQ_NOMERGE`.
 * @kernel nvmet_execute_rw (seed patch 10) / nvmet_bdev_execute_rw (6.6)
 */
export function p2pBioFlags(kernel: Kernel): number {
  return P2P_BIO_FLAGS[kernel.policy](kernel);
}

/** `p2pBioFlags` as a table. */
export const P2P_BIO_FLAGS: Readonly<Record<P2pdmaPolicy, (kernel: Kernel) => number>> = {
  v2: (kernel) => reqFlags(kernel).REQ_PCI_P2PDMA,
  upstream: () => REQ_NOMERGE,
};

/**
 * Commands other than Connect and properties need an enabled, ready controller.
 * @param req the request (on a connected queue).
 * @returns `0`, or `CMD_SEQ_ERROR|DNR` with `got io cmd %d while CC.EN == 0 on qid = %d` /
 *   `... CSTS.RDY == 0 ...`.
 * @kernel nvmet_check_ctrl_status
 */
export function nvmetCheckCtrlStatus(req: NvmetReq): NvmeStatus {
  const ctrl = req.sq.ctrl!;
  const log = ctrl.target.kernel.log;
  if ((ctrl.cc & NVME_CC_ENABLE) === 0) {
    log.prErr(`nvmet: got io cmd ${req.cmd.opcode} while CC.EN == 0 on qid = ${req.sq.qid}`);
    return NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
  }
  if ((ctrl.csts & NVME_CSTS_RDY) === 0) {
    log.prErr(`nvmet: got io cmd ${req.cmd.opcode} while CSTS.RDY == 0 on qid = ${req.sq.qid}`);
    return NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
  }
  return 0;
}

/**
 * Parses a command on an I/O queue.
 * @param req the request.
 * @returns `0`; `CMD_SEQ_ERROR|DNR` before the controller is enabled and ready; `INVALID_NS|DNR`
 *   for an NSID with no enabled namespace; `INVALID_OPCODE|DNR` for anything but Read, Write
 *   and Flush (`unhandled cmd %d on qid %d`).
 * @kernel nvmet_parse_io_cmd
 */
export function nvmetParseIoCmd(req: NvmetReq): NvmeStatus {
  const st = nvmetCheckCtrlStatus(req);
  if (st !== 0) {
    req.ns = null;
    return st;
  }
  const ctrl = req.sq.ctrl!;
  req.ns = nvmetFindNamespace(ctrl, req.cmd.nsid);
  if (req.ns === null) return NVME_SC_INVALID_NS | NVME_SC_DNR;
  switch (req.cmd.opcode) {
    case nvme_cmd_read:
    case nvme_cmd_write:
      req.execute = nvmetExecuteRw;
      req.dataLen = (req.cmd.length + 1) << req.ns.blksizeShift;
      return 0;
    case nvme_cmd_flush:
      req.execute = nvmetExecuteFlush;
      req.dataLen = 0;
      return 0;
    default:
      ctrl.target.kernel.log.prErr(`nvmet: unhandled cmd ${req.cmd.opcode} on qid ${req.sq.qid}`);
      return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
  }
}

function bioDone(req: NvmetReq, bio: Bio): void {
  const t = req.sq.ctrl?.target ?? req.port!.target;
  nvmetReqComplete(req, blkToNvmeStatus(t.policy, bio.status, req.cmd.opcode));
}

/**
 * Read or Write: the data moves between the request's buffer and the namespace's block device
 * through bios (chained when one bio cannot hold the buffer), completing the request when the
 * last one ends. A request without data completes at once.
 * @param req the request (buffer in place).
 * @kernel nvmet_execute_rw
 */
export function nvmetExecuteRw(req: NvmetReq): void {
  const ns = req.ns!;
  const kernel = ns.subsys.target.kernel;
  if (req.sgCnt === 0 || req.sg === null) {
    nvmetReqComplete(req, 0);
    return;
  }
  const write = req.cmd.opcode === nvme_cmd_write;
  const op = write ? REQ_OP_WRITE : REQ_OP_READ;
  let flags = write ? REQ_SYNC | REQ_IDLE : 0;
  if (write && (req.cmd.control & NVME_RW_FUA) !== 0) flags |= REQ_FUA;
  const first = sgPage(req.sg);
  if (first !== null && isPciP2pdmaPage(first)) flags |= p2pBioFlags(kernel);
  const slba = req.cmd.slba;
  if (slba === NVME_U64_INVALID) {
    nvmetReqComplete(req, NVME_SC_LBA_RANGE | NVME_SC_DNR);
    return;
  }
  let sector = slba * 2 ** (ns.blksizeShift - 9);
  const disk = ns.bdev!.disk;
  const head = new Bio({ disk, op, flags, sector, endIo: (b) => bioDone(req, b), privateData: req });
  let bio = head;
  let pagesLeft = 0;
  forEachSg(req.sg, req.sgCnt, (sg) => {
    pagesLeft += Math.ceil((sg.offset % PAGE_SIZE + sg.length) / PAGE_SIZE);
  });
  const pending: Bio[] = [];
  forEachSg(req.sg, req.sgCnt, (sg) => {
    const page0 = sg.page!;
    let pos = 0;
    while (pos < sg.length) {
      const abs = sg.offset + pos;
      const page = pfnToPage(kernel, page0.pfn + Math.floor(abs / PAGE_SIZE))!;
      const off = abs % PAGE_SIZE;
      const len = Math.min(PAGE_SIZE - off, sg.length - pos);
      while (bioAddPage(bio, page, len, off) !== len) {
        const next = new Bio({ disk, op, flags, sector, nrVecs: Math.min(Math.max(pagesLeft, 1), BIO_MAX_PAGES) });
        bioChain(next, bio);
        pending.push(bio);
        bio = next;
      }
      pagesLeft--;
      pos += len;
      sector += len / 512;
    }
  });
  for (const b of pending) submitBio(b);
  submitBio(bio);
}

/**
 * Flush: an empty `REQ_OP_WRITE | REQ_PREFLUSH` bio.
 * @param req the request.
 * @kernel nvmet_execute_flush
 */
export function nvmetExecuteFlush(req: NvmetReq): void {
  const ns = req.ns!;
  const bio = new Bio({ disk: ns.bdev!.disk, op: REQ_OP_WRITE, flags: REQ_PREFLUSH, endIo: (b) => bioDone(req, b), privateData: req });
  submitBio(bio);
}
